"""The torch side of both networks: .pt weights files and torch runners for TIModel / MyocardiumModel
(training, fine-tuning, ONNX export and the ONNX-vs-torch parity tests only; inference never imports this).

``TorchNetwork`` wraps an ``nn.Module`` in the call signature of the ONNX networks, so that
``TIModel.predict`` and ``MyocardiumModel.myocardium_probability`` run unchanged on either backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from TINullCorrectionLib.core.preprocessing import PreprocessConfig
from TINullCorrectionLib.networks.architectures import ARCHITECTURES, MyocardiumUNet, build_network
from TINullCorrectionLib.networks.model_files import MODELS_DIR, ModelLoadError
from TINullCorrectionLib.networks.myocardium_unet import (
    SEGMENTATION_PREPROCESS,
    MyocardiumModel,
    SegmentationModelError,
)
from TINullCorrectionLib.networks.offset_bins import OffsetBins
from TINullCorrectionLib.networks.ti_offset import TIModel
from TINullCorrectionLib.networks.weights_file import read_weights_file, write_weights_file

FILE_FORMAT = "cardiaclge-ti-offset-model"
FILE_VERSION = 2
SEGMENTATION_FILE_FORMAT = "cardiaclge-myocardium-unet"
SEGMENTATION_FILE_VERSION = 1
DEFAULT_TORCH_MODEL_PATH = MODELS_DIR / "ti_offset_sequence.pt"
DEFAULT_TORCH_SEGMENTATION_PATH = MODELS_DIR / "myocardium_unet.pt"


class TorchNetwork:
    """An nn.Module behind the ONNX call signature: TI networks (images [N,5,g,g], scalars [N,4]) -> logits
    [N, K] on one series (the batch forward with a full mask); the U-Net (features [B,7,g,g]) -> logits."""

    backend = "torch"

    def __init__(self, module: nn.Module, device: str = "cpu"):
        self.module = module
        self.device = device

    def _tensors(self, arrays) -> list:
        return [torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(self.device) for a in arrays]

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        self.module.eval()
        tensors = self._tensors(arrays)
        with torch.inference_mode():
            if len(tensors) == 2:  # a TI network: one series, every frame real
                images, scalars = tensors
                mask = torch.ones(1, images.shape[0], dtype=torch.bool, device=self.device)
                return self.module(images[None], scalars[None], mask)[0].float().cpu().numpy()
            return self.module(*tensors).float().cpu().numpy()


def torch_ti_model(module: nn.Module, architecture: str, bins: OffsetBins, preprocess: PreprocessConfig, card: dict | None = None,
                   name: str = "", device: str = "cpu") -> TIModel:
    return TIModel(TorchNetwork(module, device), architecture, bins, preprocess, dict(card or {}), name)


def module_of(model) -> nn.Module:
    """The nn.Module of a torch-backed TIModel / MyocardiumModel (ModelLoadError for an ONNX one)."""
    network = getattr(model, "network", None)
    if not isinstance(network, (TorchNetwork, TorchFeedForward)):
        raise ModelLoadError("This model runs on onnxruntime; training and export need the .pt (torch) model.")
    return network.module


# ------------------------------------------------------------------------------------- TI-offset .pt
def save_model(model: TIModel, path: str | Path) -> str:
    """Write a torch TI-offset model as a weights-only file; returns its sha256."""
    return write_weights_file(path, FILE_FORMAT, FILE_VERSION, module_of(model), model.card, architecture=model.architecture,
                              bins=model.bins.as_dict(), preprocess=model.preprocess.as_dict())


def load_torch_model(path: str | Path | None = None, device: str = "cpu") -> TIModel:
    """Load a .pt model file (default: the shipped weights) safely (weights only), or raise ModelLoadError."""
    path = Path(path) if path is not None else DEFAULT_TORCH_MODEL_PATH
    payload = read_weights_file(path, FILE_FORMAT, FILE_VERSION, "TI-offset model", device=device)
    architecture = payload.get("architecture")
    if architecture not in ARCHITECTURES:
        raise ModelLoadError(f"{path.name} names an unknown architecture '{architecture}'.")
    try:
        bins = OffsetBins(**payload["bins"])
        preprocess = PreprocessConfig(**payload["preprocess"])
        network = build_network(architecture, bins.n_classes)
        network.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ModelLoadError(f"{path.name} does not match the {architecture} architecture: {error}") from error
    network.to(device).eval()
    card = dict(payload.get("card", {}))
    return torch_ti_model(network, architecture, bins, preprocess, card, str(card.get("name", path.stem)), device)


# ----------------------------------------------------------------------------------- myocardium .pt
def torch_myocardium_model(module: nn.Module, preprocess: PreprocessConfig = SEGMENTATION_PREPROCESS, card: dict | None = None,
                           name: str = "", device: str = "cpu") -> MyocardiumModel:
    return MyocardiumModel(TorchNetwork(module, device), preprocess, dict(card or {}), name)


def save_segmentation_model(model: MyocardiumModel, path: str | Path) -> str:
    """Write a torch U-Net as a weights-only file; returns its sha256."""
    return write_weights_file(path, SEGMENTATION_FILE_FORMAT, SEGMENTATION_FILE_VERSION, module_of(model), model.card,
                              preprocess=model.preprocess.as_dict())


def load_torch_segmentation_model(path: str | Path | None = None, device: str = "cpu") -> MyocardiumModel:
    """Load a .pt U-Net safely (``weights_only=True``) or raise SegmentationModelError."""
    path = Path(path) if path is not None else DEFAULT_TORCH_SEGMENTATION_PATH
    payload = read_weights_file(path, SEGMENTATION_FILE_FORMAT, SEGMENTATION_FILE_VERSION, "myocardium model", SegmentationModelError, device)
    try:
        preprocess = PreprocessConfig(**payload["preprocess"])
        network = MyocardiumUNet()
        network.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise SegmentationModelError(f"{path.name} does not match the myocardium U-Net: {error}") from error
    network.to(device).eval()
    card = dict(payload.get("card", {}))
    return torch_myocardium_model(network, preprocess, card, str(card.get("name", path.stem)), device)


# ------------------------------------------------------------------------------ the single-frame network
SINGLE_FRAME_FILE_FORMAT = "cardiaclge-single-frame-model"
SINGLE_FRAME_FILE_VERSION = 1
DEFAULT_TORCH_SINGLE_FRAME_PATH = MODELS_DIR / "ti_offset_single_frame.pt"


class TorchFeedForward(TorchNetwork):
    """A feed-forward nn.Module (the single-frame network) behind the ONNX call signature: arrays -> logits
    (every input goes to the module as it is, also when there are two)."""

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        self.module.eval()
        with torch.inference_mode():
            return self.module(*self._tensors(arrays)).float().cpu().numpy()


def torch_single_frame_model(module: nn.Module, bins: OffsetBins, preprocess, card: dict | None = None, name: str = ""):
    from TINullCorrectionLib.networks.single_frame import SingleFrameModel

    return SingleFrameModel(TorchFeedForward(module), bins, preprocess, dict(card or {}), name)


def save_single_frame_model(model, path: str | Path) -> str:
    """Write a torch single-frame model as a weights-only .pt file; returns its sha256."""
    return write_weights_file(path, SINGLE_FRAME_FILE_FORMAT, SINGLE_FRAME_FILE_VERSION, module_of(model), model.card,
                              bins=model.bins.as_dict(), preprocess=model.preprocess.as_dict())


def load_torch_single_frame_model(path: str | Path | None = None, device: str = "cpu"):
    """Load a single-frame .pt file safely (weights only) for training or export, or raise ModelLoadError."""
    from TINullCorrectionLib.core.single_frame import SingleFramePreprocess
    from TINullCorrectionLib.networks.architectures import SingleFrameTINet

    path = Path(path) if path is not None else DEFAULT_TORCH_SINGLE_FRAME_PATH
    payload = read_weights_file(path, SINGLE_FRAME_FILE_FORMAT, SINGLE_FRAME_FILE_VERSION, "single-frame TI-offset model", device=device)
    try:
        bins = OffsetBins(**payload["bins"])
        preprocess = SingleFramePreprocess.from_dict(payload["preprocess"])
        module = SingleFrameTINet(bins.n_classes, in_channels=preprocess.n_channels)
        module.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ModelLoadError(f"{path.name} does not match the single-frame network: {error}") from error
    module.to(device).eval()
    card = dict(payload.get("card", {}))
    return torch_single_frame_model(module, bins, preprocess, card, str(card.get("name", path.stem)))
