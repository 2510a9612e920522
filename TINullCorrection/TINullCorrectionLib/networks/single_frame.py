"""The single-frame TI-offset network (one picture of one frame + its TI -> offset class: the published per-image
mode, Eur Radiol 2023;33:4688), run by onnxruntime (no torch). Input preparation: core.single_frame.

ONNX contract of ``models/ti_offset_single_frame.onnx`` (exported from ``ti_offset_single_frame.pt`` by
``cardiac-lge train --single-frame`` / ``cardiac-lge export-onnx``; the network is
networks.architectures.SingleFrameTINet): inputs ``images`` [batch, C, g, g] (C = 2, or 3 with the context channel) and ``scalars`` [batch, 2], output
``logits`` [batch, classes]. The file states its offset bins and preprocessing (metadata ``cardiaclge.contract``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from TINullCorrectionLib.core.single_frame import (
    N_SINGLE_SCALARS,
    SingleFrame,
    SingleFramePrediction,
    SingleFramePreprocess,
    single_frame_channels,
    single_frame_scalars,
)
from TINullCorrectionLib.networks.model_files import MODELS_DIR, ModelLoadError
from TINullCorrectionLib.networks.offset_bins import OffsetBins
from TINullCorrectionLib.networks.onnx_runtime import OnnxContract, TensorSpec, load_onnx_network

DEFAULT_SINGLE_FRAME_PATH = MODELS_DIR / "ti_offset_single_frame.onnx"
ONNX_FORMAT = "cardiaclge-single-frame-onnx"
ONNX_VERSION = 1


def onnx_contract(preprocess: SingleFramePreprocess = SingleFramePreprocess(), bins: OffsetBins = OffsetBins()) -> OnnxContract:
    grid = preprocess.grid
    return OnnxContract(
        inputs=(TensorSpec("images", ("batch", preprocess.n_channels, grid, grid)), TensorSpec("scalars", ("batch", N_SINGLE_SCALARS))),
        outputs=(TensorSpec("logits", ("batch", bins.n_classes)),),
    )


def contract_metadata(bins: OffsetBins, preprocess: SingleFramePreprocess) -> dict:
    """What the ONNX file stores about itself (metadata ``cardiaclge.contract``)."""
    return {"architecture": "single-frame", "bins": bins.as_dict(), "preprocess": preprocess.as_dict(),
            **onnx_contract(preprocess, bins).as_dict()}


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.asarray(logits, dtype=np.float64) - np.max(logits, axis=1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=1, keepdims=True)


@dataclass
class SingleFrameModel:
    """The network (a callable: images [B, C, g, g], scalars [B, 2] -> logits [B, K]; an ONNX network, or the torch
    module behind the same call in training) with its offset bins and input preparation."""

    network: object
    bins: OffsetBins = field(default_factory=OffsetBins)
    preprocess: SingleFramePreprocess = field(default_factory=SingleFramePreprocess)
    card: dict = field(default_factory=dict)
    name: str = ""

    def probabilities(self, channels: np.ndarray, scalars: np.ndarray) -> np.ndarray:
        """Class probabilities [B, K] of prepared inputs [B, C, g, g] and [B, 2]."""
        return _softmax(self.network(np.ascontiguousarray(channels, np.float32), np.ascontiguousarray(scalars, np.float32)))

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


def load_single_frame_model(path: str | Path | None = None, threads: int | None = None) -> SingleFrameModel:
    """Load a single-frame ONNX file (default: the shipped one), checked (networks/onnx_runtime.py), or raise
    ModelLoadError."""
    path = Path(path) if path is not None else DEFAULT_SINGLE_FRAME_PATH
    stated_holder: dict = {}

    def contract_for(stated: dict) -> OnnxContract:
        try:
            bins = OffsetBins(**stated["bins"])
            preprocess = SingleFramePreprocess.from_dict(stated["preprocess"])
        except (KeyError, TypeError, ValueError) as error:
            raise ModelLoadError(f"{path.name} states no usable offset bins / preprocessing: {error}") from error
        stated_holder.update(bins=bins, preprocess=preprocess)
        return onnx_contract(preprocess, bins)

    network = load_onnx_network(path, ONNX_FORMAT, ONNX_VERSION, "single-frame TI-offset model", contract_for, ModelLoadError, threads)
    card = network.card
    return SingleFrameModel(network, stated_holder["bins"], stated_holder["preprocess"], card, str(card.get("name", path.stem)))
