"""The single-frame TI-offset network: one picture of one frame + its TI -> offset class (the published
per-image mode, Eur Radiol 2023;33:4688). Input preparation is core.single_frame.single_frame_channels.

The network is a plain feed-forward CNN (images [B, 2, g, g] + scalars [B, 2] -> logits [B, classes]:
no recurrent layers, no packed sequences), so it exports to ONNX like the other networks. Weights files
follow networks/weights_file.py (weights only, loaded with ``weights_only=True``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from TINullCorrectionLib.core.single_frame import (
    N_SINGLE_CHANNELS,
    N_SINGLE_SCALARS,
    SingleFrame,
    SingleFramePrediction,
    SingleFramePreprocess,
    single_frame_channels,
    single_frame_scalars,
)
from TINullCorrectionLib.networks.architectures import OffsetBins, _conv_block
from TINullCorrectionLib.networks.weights_file import (
    MODELS_DIR,
    ModelLoadError,
    read_weights_file,
    write_weights_file,
)

FILE_FORMAT = "cardiaclge-single-frame-model"
FILE_VERSION = 1
DEFAULT_SINGLE_FRAME_PATH = MODELS_DIR / "ti_offset_single_frame.pt"


class SingleFrameTINet(nn.Module):
    """5 conv blocks (24-32-48-64-96 channels) on the 2-channel picture, a 2x2 summary, and a head that also
    sees the TI; 0.3 M parameters."""

    def __init__(self, n_classes: int, widths: tuple[int, ...] = (24, 32, 48, 64, 96), convs: tuple[int, ...] = (1, 1, 2, 2, 1)):
        super().__init__()
        blocks, c_in = [], N_SINGLE_CHANNELS
        for width, n_convs in zip(widths, convs):
            blocks.append(_conv_block(c_in, width, n_convs))
            c_in = width
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.ti_embedding = nn.Sequential(nn.Linear(N_SINGLE_SCALARS, 32), nn.ReLU(inplace=True))
        self.head = nn.Sequential(
            nn.Linear(c_in * 4 + 32, 192), nn.ReLU(inplace=True), nn.Dropout(0.2), nn.Linear(192, n_classes)
        )

    def forward(self, images: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.features(images), self.ti_embedding(scalars)], dim=1))


@dataclass
class SingleFrameModel:
    """The network with its offset bins and input preparation, ready to predict on a SingleFrame."""

    network: nn.Module
    bins: OffsetBins = field(default_factory=OffsetBins)
    preprocess: SingleFramePreprocess = field(default_factory=SingleFramePreprocess)
    card: dict = field(default_factory=dict)
    name: str = ""
    device: str = "cpu"

    def probabilities(self, channels: np.ndarray, scalars: np.ndarray) -> np.ndarray:
        """Class probabilities [B, K] of prepared inputs [B, 2, g, g] and [B, 2]."""
        self.network.eval()
        with torch.inference_mode():
            logits = self.network(torch.from_numpy(np.ascontiguousarray(channels, np.float32)).to(self.device),
                                  torch.from_numpy(np.ascontiguousarray(scalars, np.float32)).to(self.device))
            return torch.softmax(logits.double(), dim=1).cpu().numpy()

    def predict_frame(self, frame: SingleFrame) -> SingleFramePrediction:
        from TINullCorrectionLib.networks.ti_offset import offsets_from_probabilities

        channels = single_frame_channels(frame.frame, self.preprocess)[None]
        scalars = single_frame_scalars(frame.ti_ms, frame.screen_capture)[None]
        probabilities = self.probabilities(channels, scalars)
        offset, confidence = offsets_from_probabilities(probabilities, self.bins)
        return SingleFramePrediction(
            ti_ms=frame.ti_ms, offset_ms=float(offset[0]), probabilities=probabilities[0],
            bin_centers_ms=self.bins.centers_ms, class_names=self.bins.class_names, confidence=float(confidence[0]),
            model_name=self.name,
        )


def save_single_frame_model(model: SingleFrameModel, path: str | Path) -> str:
    """Write the model as a weights-only file; returns its sha256."""
    return write_weights_file(path, FILE_FORMAT, FILE_VERSION, model.network, model.card, bins=model.bins.as_dict(),
                              preprocess=model.preprocess.as_dict())


def load_single_frame_model(path: str | Path | None = None, device: str = "cpu") -> SingleFrameModel:
    """Load a single-frame model file (default: the shipped weights) safely, or raise ModelLoadError."""
    path = Path(path) if path is not None else DEFAULT_SINGLE_FRAME_PATH
    payload = read_weights_file(path, FILE_FORMAT, FILE_VERSION, "single-frame TI-offset model", device=device)
    try:
        bins = OffsetBins(**payload["bins"])
        preprocess = SingleFramePreprocess(**payload["preprocess"])
        network = SingleFrameTINet(bins.n_classes)
        network.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ModelLoadError(f"{path.name} does not match the single-frame network: {error}") from error
    network.to(device).eval()
    card = dict(payload.get("card", {}))
    return SingleFrameModel(network, bins, preprocess, card, str(card.get("name", path.stem)), device)
