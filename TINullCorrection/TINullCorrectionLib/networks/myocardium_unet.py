"""Myocardium finder for TI scouts at inference: a small U-Net that outlines the remote LV myocardium, so that
the inversion-recovery fit can run without a hand-drawn ROI; run by onnxruntime (no torch).

Why: the CNN's per-frame offsets are coarse (10 ms bins from 4 mm pixels); the physics of the scout
is exact once the myocardium is known. The signal of remote myocardium follows
``|A - B exp(-TI/T1*)|`` and its zero crossing *is* the label (docs/METHODS.md §1), so the
U-Net only has to say *where* the myocardium is, which simulated anatomy teaches well, and the fit
says *when* it nulls.

Input (our choice, documented in models/MODEL_CARD.md): the series on a ``grid`` x ``grid`` grid
covering the central ``fov_mm`` square (anti-aliased, like preprocessing.py), normalised by the
recovered signal, summarised per pixel over the frames in 7 channels that do not depend on the
number of frames: last frame, mean, minimum, maximum, standard deviation, TI of the minimum
(/1000 ms) and the phase-sensitive flag. Output: probability [grid, grid] that a pixel is pure
remote myocardium; :meth:`MyocardiumModel.myocardium_probability` maps it back onto the scout's own pixels.

ONNX contract of ``models/myocardium_unet.onnx`` (exported from ``myocardium_unet.pt`` by
``cardiac-lge export-onnx``; the network is networks.architectures.MyocardiumUNet): input ``features``
[batch, 7, 96, 96], output ``logits`` [batch, 1, 96, 96]; probability = sigmoid(logits).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from TINullCorrectionLib.core.preprocessing import (
    PreprocessConfig,
    normalise_series,
    resample_to_working_grid,
    separable_linear_resample,
)
from TINullCorrectionLib.core.types import TIScout
from TINullCorrectionLib.networks.model_files import MODELS_DIR, ModelLoadError
from TINullCorrectionLib.networks.onnx_runtime import OnnxContract, TensorSpec, load_onnx_network

DEFAULT_SEGMENTATION_PATH = MODELS_DIR / "myocardium_unet.onnx"
ONNX_FORMAT = "cardiaclge-myocardium-unet-onnx"
ONNX_VERSION = 1
N_FEATURES = 7
SEGMENTATION_PREPROCESS = PreprocessConfig(grid=96, fov_mm=200.0)


class SegmentationModelError(ModelLoadError):
    """The myocardium model file is missing, unreadable or not a CardiacLGE myocardium U-Net."""


# ----------------------------------------------------------------------------------------- features
def series_features(grid_frames: np.ndarray, ti_ms: np.ndarray, phase_sensitive: bool) -> np.ndarray:
    """[7, g, g] float32 per-pixel summaries of a normalised series on the working grid (see module doc)."""
    frames = np.asarray(grid_frames, dtype=np.float32)
    ti = np.asarray(ti_ms, dtype=np.float64)
    argmin = np.argmin(frames, axis=0)
    return np.stack([
        frames[-1],
        frames.mean(0),
        frames.min(0),
        frames.max(0),
        frames.std(0),
        (ti[argmin] / 1000.0).astype(np.float32),
        np.full(frames.shape[1:], float(phase_sensitive), np.float32),
    ]).astype(np.float32)


def scout_features(scout: TIScout, config: PreprocessConfig = SEGMENTATION_PREPROCESS) -> np.ndarray:
    grid_frames = normalise_series(resample_to_working_grid(scout.frames, scout.pixel_spacing_mm, config), config)
    return series_features(grid_frames, scout.ti_ms, scout.phase_sensitive)


def grid_axes(shape: tuple[int, int], pixel_spacing_mm: tuple[float, float], config: PreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    """Working-grid row and column coordinates of the rows and columns of an image of ``shape``.

    Inverse of preprocessing.resample_to_working_grid: grid index = (g-1)/2 + offset_mm / (fov/g).
    """
    height, width = shape
    out_mm = config.fov_mm / config.grid
    rows = (config.grid - 1) / 2.0 + (np.arange(height) - (height - 1) / 2.0) * float(pixel_spacing_mm[0]) / out_mm
    cols = (config.grid - 1) / 2.0 + (np.arange(width) - (width - 1) / 2.0) * float(pixel_spacing_mm[1]) / out_mm
    return rows, cols


def grid_coordinates(shape: tuple[int, int], pixel_spacing_mm: tuple[float, float], config: PreprocessConfig) -> np.ndarray:
    """Working-grid (row, column) coordinates of every pixel of an image of ``shape``: [2, H, W]."""
    return np.stack(np.meshgrid(*grid_axes(shape, pixel_spacing_mm, config), indexing="ij"))


def mask_on_grid(mask: np.ndarray, pixel_spacing_mm: tuple[float, float], config: PreprocessConfig = SEGMENTATION_PREPROCESS) -> np.ndarray:
    """Fraction [g, g] of each working-grid pixel covered by a native-resolution mask (training target)."""
    return np.clip(resample_to_working_grid(np.asarray(mask, np.float32)[None], pixel_spacing_mm, config)[0], 0.0, 1.0)


# ------------------------------------------------------------------------------------------- model
def onnx_contract(preprocess: PreprocessConfig = SEGMENTATION_PREPROCESS) -> OnnxContract:
    grid = preprocess.grid
    return OnnxContract(inputs=(TensorSpec("features", ("batch", N_FEATURES, grid, grid)),),
                        outputs=(TensorSpec("logits", ("batch", 1, grid, grid)),))


def contract_metadata(preprocess: PreprocessConfig) -> dict:
    """What the ONNX file stores about itself (metadata ``cardiaclge.contract``)."""
    return {"preprocess": preprocess.as_dict(), "features": ["last frame", "mean", "minimum", "maximum", "standard deviation",
                                                             "TI of the minimum / 1000 ms", "phase-sensitive flag"],
            "probabilities": "sigmoid(logits): pure remote LV myocardium", **onnx_contract(preprocess).as_dict()}


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


@dataclass
class MyocardiumModel:
    """The U-Net with its working grid, ready to segment a TIScout.

    network: callable (features [B, 7, g, g] float32) -> logits [B, 1, g, g]; an ONNX network
    (``load_segmentation_model``) for inference, a torch network in training (networks/torch_models.py).
    """

    network: Callable[[np.ndarray], np.ndarray]
    preprocess: PreprocessConfig = SEGMENTATION_PREPROCESS
    card: dict = field(default_factory=dict)
    name: str = ""

    @property
    def backend(self) -> str:
        return str(getattr(self.network, "backend", "unknown"))

    def probability_on_grid(self, scout: TIScout) -> np.ndarray:
        features = scout_features(scout, self.preprocess)[None]
        return sigmoid(self.network(features))[0, 0]

    def myocardium_probability(self, scout: TIScout) -> np.ndarray:
        """Probability [H, W] on the scout's own pixels (0 outside the working grid)."""
        grid = self.probability_on_grid(scout)
        rows, cols = grid_axes(scout.frames.shape[1:], scout.pixel_spacing_mm, self.preprocess)
        return separable_linear_resample(grid, rows, cols)  # = map_coordinates(grid, grid_coordinates(...), order=1)


def load_segmentation_model(path: str | Path | None = None, threads: int | None = None) -> MyocardiumModel:
    """Load a myocardium U-Net ONNX file (default: the shipped one) checked, or raise SegmentationModelError."""
    path = Path(path) if path is not None else DEFAULT_SEGMENTATION_PATH

    def contract_for(stated: dict) -> OnnxContract:
        try:
            return onnx_contract(PreprocessConfig(**stated["preprocess"]))
        except (KeyError, TypeError, ValueError) as error:
            raise SegmentationModelError(f"{path.name} does not state a usable preprocessing: {error}") from error

    network = load_onnx_network(path, ONNX_FORMAT, ONNX_VERSION, "myocardium model", contract_for, SegmentationModelError, threads)
    card = network.card
    return MyocardiumModel(network, PreprocessConfig(**network.metadata["preprocess"]), card, str(card.get("name", path.stem)))
