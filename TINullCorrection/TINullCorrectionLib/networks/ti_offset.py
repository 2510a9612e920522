"""The TI-offset CNN at inference: per-frame offsets from the myocardial null, run by onnxruntime (no torch).

The shipped ``models/ti_offset_sequence.onnx`` is exported from ``ti_offset_sequence.pt`` by
``cardiac-lge export-onnx`` (cardiac_lge/training/onnx_export.py). Contract of the file (also stored in its
metadata, with the offset bins and the preprocessing): inputs ``images`` [frames, 5, 48, 48] and
``scalars`` [frames, 4] of one series (core.preprocessing.frame_inputs), output ``logits`` [frames, 32];
the class probabilities are the softmax of the logits in float64. :class:`TIModel` runs any network with
that call signature, so training code runs the same ``predict`` on its torch network
(networks/torch_models.py) and the parity tests compare the two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from TINullCorrectionLib.core.preprocessing import (
    N_CHANNELS,
    N_SCALARS,
    PreprocessConfig,
    frame_inputs,
    prepare_series,
)
from TINullCorrectionLib.core.types import ScoutPrediction, TIScout
from TINullCorrectionLib.networks.model_files import MODELS_DIR, ModelLoadError
from TINullCorrectionLib.networks.offset_bins import OffsetBins
from TINullCorrectionLib.networks.onnx_runtime import OnnxContract, TensorSpec, load_onnx_network

ARCHITECTURES = ("sequence", "compact", "vgg16")
DEFAULT_MODEL_PATH = MODELS_DIR / "ti_offset_sequence.onnx"
ONNX_FORMAT = "cardiaclge-ti-offset-onnx"
ONNX_VERSION = 1


def onnx_contract(preprocess: PreprocessConfig = PreprocessConfig(), bins: OffsetBins = OffsetBins()) -> OnnxContract:
    grid = preprocess.grid
    return OnnxContract(
        inputs=(TensorSpec("images", ("frames", N_CHANNELS, grid, grid)), TensorSpec("scalars", ("frames", N_SCALARS))),
        outputs=(TensorSpec("logits", ("frames", bins.n_classes)),),
    )


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities [N, K] (float64) from logits [N, K]."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


@dataclass
class TIModel:
    """A TI-offset network with its offset bins and preprocessing, ready to predict on a TIScout.

    network: callable (images [N, 5, g, g] float32, scalars [N, 4] float32) -> logits [N, classes]; an
    :class:`~TINullCorrectionLib.networks.onnx_runtime.OnnxNetwork` for inference (``load_model``), a torch
    network in training (networks/torch_models.py).
    """

    network: Callable[[np.ndarray, np.ndarray], np.ndarray]
    architecture: str
    bins: OffsetBins
    preprocess: PreprocessConfig
    card: dict = field(default_factory=dict)
    name: str = ""

    @property
    def backend(self) -> str:
        return str(getattr(self.network, "backend", "unknown"))

    def predict(self, scout: TIScout, progress: Callable[[int, int], None] | None = None) -> ScoutPrediction:
        """Class probabilities, offset (ms) and confidence for every frame of the scout.

        offset_ms: probability-weighted mean of the argmax class and its two neighbours (ms).
        confidence: probability mass of those three classes.
        """
        series = prepare_series(scout, self.preprocess)
        channels, scalars = frame_inputs(series, scout.ti_ms, scout.phase_sensitive)
        probabilities = softmax(self.network(channels, scalars))
        if progress is not None:
            progress(scout.n_frames, scout.n_frames)
        offset_ms, confidence = offsets_from_probabilities(probabilities, self.bins)
        return ScoutPrediction(
            ti_ms=scout.ti_ms.copy(),
            offset_ms=offset_ms,
            probabilities=probabilities,
            bin_centers_ms=self.bins.centers_ms,
            class_names=self.bins.class_names,
            confidence=confidence,
            model_name=self.name,
        )


def offsets_from_probabilities(probabilities: np.ndarray, bins: OffsetBins) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame offset (ms) and confidence from class probabilities [N, K]."""
    centers = bins.centers_ms
    best = np.argmax(probabilities, axis=1)
    offsets, confidence = np.empty(len(best)), np.empty(len(best))
    for row, index in enumerate(best):
        window = slice(max(0, index - 1), min(len(centers), index + 2))
        mass = probabilities[row, window]
        confidence[row] = float(mass.sum())
        offsets[row] = float(np.dot(mass, centers[window]) / mass.sum())
    return offsets, confidence


def contract_metadata(architecture: str, bins: OffsetBins, preprocess: PreprocessConfig) -> dict:
    """What the ONNX file stores about itself (metadata ``cardiaclge.contract``)."""
    return {"architecture": architecture, "bins": bins.as_dict(), "preprocess": preprocess.as_dict(),
            "class_names": list(bins.class_names), "bin_centers_ms": [float(c) for c in bins.centers_ms],
            "probabilities": "softmax(logits) over the classes, in float64", **onnx_contract(preprocess, bins).as_dict()}


def load_model(path: str | Path | None = None, threads: int | None = None) -> TIModel:
    """Load a TI-offset ONNX file (default: the shipped one) checked, or raise ModelLoadError.

    threads: onnxruntime intra-op threads (None: its default; 1 in batch worker processes).
    """
    path = Path(path) if path is not None else DEFAULT_MODEL_PATH
    network = load_onnx_network(path, ONNX_FORMAT, ONNX_VERSION, "TI-offset model", lambda stated: _contract_for(stated, path.name),
                                threads=threads)
    stated = network.metadata
    card = network.card
    return TIModel(network, stated["architecture"], OffsetBins(**stated["bins"]), PreprocessConfig(**stated["preprocess"]), card,
                   name=str(card.get("name", path.stem)))


def _contract_for(stated: dict, name: str) -> OnnxContract:
    try:
        architecture = stated["architecture"]
        bins = OffsetBins(**stated["bins"])
        preprocess = PreprocessConfig(**stated["preprocess"])
    except (KeyError, TypeError, ValueError) as error:
        raise ModelLoadError(f"{name} does not state a usable TI-offset contract (architecture, bins, preprocessing): {error}") from error
    if architecture not in ARCHITECTURES:
        raise ModelLoadError(f"{name} names an unknown architecture '{architecture}'.")
    return onnx_contract(preprocess, bins)
