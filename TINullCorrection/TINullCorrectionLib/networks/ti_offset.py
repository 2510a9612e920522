"""Load TI-offset models safely and predict per-frame offsets from the myocardial null.

Model files are written by :func:`save_model` as a plain dict of tensors, numbers and strings and
read with ``torch.load(..., weights_only=True)`` (no arbitrary unpickling). A missing, corrupt or
mismatched file raises :class:`ModelLoadError` with a message for the user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from TINullCorrectionLib.core.preprocessing import PreprocessConfig, frame_inputs, prepare_series
from TINullCorrectionLib.core.types import ScoutPrediction, TIScout
from TINullCorrectionLib.networks.architectures import ARCHITECTURES, OffsetBins, build_network
from TINullCorrectionLib.networks.weights_file import (
    MODELS_DIR,
    ModelLoadError,
    read_weights_file,
    write_weights_file,
)

FILE_FORMAT = "cardiaclge-ti-offset-model"
FILE_VERSION = 2
DEFAULT_MODEL_PATH = MODELS_DIR / "ti_offset_sequence.pt"


@dataclass
class TIModel:
    """A network with its offset bins and preprocessing, ready to predict on a TIScout."""

    network: torch.nn.Module
    architecture: str
    bins: OffsetBins
    preprocess: PreprocessConfig
    card: dict = field(default_factory=dict)
    name: str = ""
    device: str = "cpu"

    def predict(self, scout: TIScout, progress: Callable[[int, int], None] | None = None) -> ScoutPrediction:
        """Class probabilities, offset (ms) and confidence for every frame of the scout.

        offset_ms: probability-weighted mean of the argmax class and its two neighbours (ms).
        confidence: probability mass of those three classes.
        """
        series = prepare_series(scout, self.preprocess)
        channels, scalars = frame_inputs(series, scout.ti_ms, scout.phase_sensitive)
        self.network.eval()
        with torch.inference_mode():
            logits = self.network(
                torch.from_numpy(channels)[None].to(self.device),
                torch.from_numpy(scalars)[None].to(self.device),
                torch.ones(1, scout.n_frames, dtype=torch.bool, device=self.device),
            )[0]
            probabilities = torch.softmax(logits.double(), dim=1).cpu().numpy()
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


def save_model(model: TIModel, path: str | Path) -> str:
    """Write the model as a weights-only file; returns its sha256."""
    return write_weights_file(path, FILE_FORMAT, FILE_VERSION, model.network, model.card, architecture=model.architecture,
                              bins=model.bins.as_dict(), preprocess=model.preprocess.as_dict())


def load_model(path: str | Path | None = None, device: str = "cpu") -> TIModel:
    """Load a model file (default: the shipped weights) safely, or raise ModelLoadError."""
    path = Path(path) if path is not None else DEFAULT_MODEL_PATH
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
    return TIModel(network=network, architecture=architecture, bins=bins, preprocess=preprocess, card=card,
                   name=str(card.get("name", path.stem)), device=device)
