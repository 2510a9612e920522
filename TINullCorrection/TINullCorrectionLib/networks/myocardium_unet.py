"""Myocardium finder for TI scouts: a small U-Net that outlines the remote LV myocardium, so that the
inversion-recovery fit can run without a hand-drawn ROI.

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
remote myocardium; :func:`myocardium_probability` maps it back onto the scout's own pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from TINullCorrectionLib.core.preprocessing import (
    PreprocessConfig,
    normalise_series,
    resample_to_working_grid,
)
from TINullCorrectionLib.core.types import TIScout
from TINullCorrectionLib.networks.weights_file import (
    MODELS_DIR,
    ModelLoadError,
    read_weights_file,
    write_weights_file,
)

FILE_FORMAT = "cardiaclge-myocardium-unet"
FILE_VERSION = 1
DEFAULT_SEGMENTATION_PATH = MODELS_DIR / "myocardium_unet.pt"
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


def grid_coordinates(shape: tuple[int, int], pixel_spacing_mm: tuple[float, float], config: PreprocessConfig) -> np.ndarray:
    """Working-grid (row, column) coordinates of every pixel of an image of ``shape``: [2, H, W].

    Inverse of preprocessing.resample_to_working_grid: grid index = (g-1)/2 + offset_mm / (fov/g).
    """
    height, width = shape
    out_mm = config.fov_mm / config.grid
    rows = (config.grid - 1) / 2.0 + (np.arange(height) - (height - 1) / 2.0) * float(pixel_spacing_mm[0]) / out_mm
    cols = (config.grid - 1) / 2.0 + (np.arange(width) - (width - 1) / 2.0) * float(pixel_spacing_mm[1]) / out_mm
    return np.stack(np.meshgrid(rows, cols, indexing="ij"))


def mask_on_grid(mask: np.ndarray, pixel_spacing_mm: tuple[float, float], config: PreprocessConfig = SEGMENTATION_PREPROCESS) -> np.ndarray:
    """Fraction [g, g] of each working-grid pixel covered by a native-resolution mask (training target)."""
    return np.clip(resample_to_working_grid(np.asarray(mask, np.float32)[None], pixel_spacing_mm, config)[0], 0.0, 1.0)


# ------------------------------------------------------------------------------------------ network
def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    )


class MyocardiumUNet(nn.Module):
    """U-Net (Ronneberger 2015) with 3 poolings, widths 16-32-64-128; logits [B, 1, g, g]."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128)):
        super().__init__()
        self.down = nn.ModuleList()
        c_in = N_FEATURES
        for width in widths:
            self.down.append(_double_conv(c_in, width))
            c_in = width
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for width in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(c_in, width, 2, stride=2))
            self.merge.append(_double_conv(2 * width, width))
            c_in = width
        self.out = nn.Conv2d(c_in, 1, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        skips = []
        x = features
        for index, block in enumerate(self.down):
            x = block(x)
            if index < len(self.down) - 1:
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
        for up, merge in zip(self.up, self.merge):
            x = up(x)
            x = merge(torch.cat([x, skips.pop()], dim=1))
        return self.out(x)


@dataclass
class MyocardiumModel:
    """The U-Net with its working grid, ready to segment a TIScout."""

    network: nn.Module
    preprocess: PreprocessConfig = SEGMENTATION_PREPROCESS
    card: dict = field(default_factory=dict)
    name: str = ""
    device: str = "cpu"

    def probability_on_grid(self, scout: TIScout) -> np.ndarray:
        features = torch.from_numpy(scout_features(scout, self.preprocess))[None].to(self.device)
        self.network.eval()
        with torch.inference_mode():
            return torch.sigmoid(self.network(features))[0, 0].double().cpu().numpy()

    def myocardium_probability(self, scout: TIScout) -> np.ndarray:
        """Probability [H, W] on the scout's own pixels (0 outside the working grid)."""
        grid = self.probability_on_grid(scout)
        coordinates = grid_coordinates(scout.frames.shape[1:], scout.pixel_spacing_mm, self.preprocess)
        return ndimage.map_coordinates(grid, coordinates, order=1, mode="constant", cval=0.0)


# -------------------------------------------------------------------------------------- file format
def save_segmentation_model(model: MyocardiumModel, path: str | Path) -> str:
    """Write the U-Net as a weights-only file (inference.write_weights_file); returns its sha256."""
    return write_weights_file(path, FILE_FORMAT, FILE_VERSION, model.network, model.card, preprocess=model.preprocess.as_dict())


def load_segmentation_model(path: str | Path | None = None, device: str = "cpu") -> MyocardiumModel:
    """Load safely (``weights_only=True``) or raise SegmentationModelError."""
    path = Path(path) if path is not None else DEFAULT_SEGMENTATION_PATH
    payload = read_weights_file(path, FILE_FORMAT, FILE_VERSION, "myocardium model", SegmentationModelError, device)
    try:
        preprocess = PreprocessConfig(**payload["preprocess"])
        network = MyocardiumUNet()
        network.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise SegmentationModelError(f"{path.name} does not match the myocardium U-Net: {error}") from error
    network.to(device).eval()
    card = dict(payload.get("card", {}))
    return MyocardiumModel(network, preprocess, card, str(card.get("name", path.stem)), device)


