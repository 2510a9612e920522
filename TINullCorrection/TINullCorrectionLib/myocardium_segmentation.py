"""Myocardium finder for TI scouts: a small U-Net that outlines the remote LV myocardium, so that the
inversion-recovery fit can run without a hand-drawn ROI.

Why: the CNN's per-frame offsets are coarse (10 ms bins from 4 mm pixels); the physics of the scout
is exact once the myocardium is known. The signal of remote myocardium follows
``|A - B exp(-TI/T1*)|`` and its zero crossing *is* the label (SCIENCE.md section 1), so the
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

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from .inference import ModelLoadError, read_weights_file, write_weights_file
from .preprocessing import PreprocessConfig, normalise_series, resample_to_working_grid
from .types import ScoutError, TIScout

FILE_FORMAT = "cardiaclge-myocardium-unet"
FILE_VERSION = 1
MODELS_DIR = Path(__file__).resolve().parent / "models"
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
        for up, merge in zip(self.up, self.merge, strict=True):
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


def myocardium_mask(probability: np.ndarray, threshold: float = 0.5, min_pixels: int = 8) -> np.ndarray:
    """Boolean mask of the confident myocardium; raises ScoutError when fewer than ``min_pixels`` remain."""
    mask = np.asarray(probability) >= threshold
    if int(mask.sum()) < min_pixels:
        raise ScoutError(
            f"No myocardium found automatically ({int(mask.sum())} pixels above p = {threshold:g}): "
            "draw a myocardium ROI for the inversion-recovery cross-check."
        )
    return mask


def _pixelwise_view(scout: TIScout, core: np.ndarray) -> TIScout:
    """The scout as the pixel-wise fit should see it: scanner data as they are; screen captures with the
    display level of zero signal subtracted (clipped at 0 for a magnitude display; signed for a
    phase-sensitive display, recognised as in irfit.fit_display_roi)."""
    from .irfit import display_zero_level, is_phase_sensitive_display, roi_signal

    if not scout.screen_capture:
        return scout
    zero = display_zero_level(scout.frames, near=core)
    signed = is_phase_sensitive_display(roi_signal(scout, core), zero)
    frames = scout.frames - np.float32(zero)
    return replace(scout, frames=frames if signed else np.clip(frames, 0.0, None), phase_sensitive=signed,
                   screen_capture=False)


def fit_automatic_myocardium(scout: TIScout, probability: np.ndarray, threshold: float = 0.5,
                             band_ms: tuple[float, ...] = (10.0, 20.0), reference_quantile: float = 0.7,
                             side_tolerance_ms: float = 10.0):
    """Inversion-recovery fit of the myocardium found by the U-Net; returns (IRFitResult, mask used).

    Our procedure (measured on held-out simulated scouts, see models/MODEL_CARD.md): the confident
    myocardium (p >= ``threshold``) is eroded by one pixel (its core: the border pixels mix in blood pool
    or epicardial fat, whose nulls are earlier); every pixel of it is fitted (irfit.fit_pixelwise; screen
    captures after subtracting the display level of zero signal, see _pixelwise_view), the core pixels
    whose own null lies within ``band_ms`` of the reference null are kept (the first band in the tuple
    that keeps at least 8 pixels), and the mean signal of those is fitted with the scout's own model
    (irfit.fit_scout_roi: display baseline for screen captures). IR spin-echo series (a TR per frame)
    fit the mean of the core directly. Raises ScoutError when too little is found.

    Which reference (our rule, measured on held-out simulated series, seeds 998003/998005, and the real
    native Philips Look-Locker; models/MODEL_CARD.md): post-contrast, blood pool, scar and epicardial fat
    all null earlier than remote myocardium, so partial volume moves the core's null distribution to the
    left and the pure myocardium is its upper part: the ``reference_quantile`` (not the maximum: single
    pixels are noisy; scanner data 95.7% of series in the optimal range with the median, 97.0% with
    0.7). When there is evidence that contamination pulls *late* (:func:`contamination_side`: the blood
    pool inside the ring nulls after the myocardium, or a long right tail; native T1, reverse kinetics)
    the most common pixel null is the reference instead (:func:`null_mode_ms`; reverse-kinetics series
    98.0% against 96.7% with the upper quantile).

    Why a narrow band (10 ms, 20 ms when that keeps fewer than 8 pixels): the mean curve of pixels whose
    nulls spread over the band nulls where most of them lie, and below the reference most do; a 10 ms
    band moved the median error of the final null from -2.3 to -1.8 ms on 4K photos and the series in
    the optimal range 90.3 -> 91.7% and 93.0 -> 94.0% (photos, seeds 998001/998003), 97.0 -> 97.7%
    (scanner data, seed 998003).
    """
    from .irfit import fit_pixelwise, fit_scout_roi

    mask = myocardium_mask(probability, threshold)
    core = ndimage.binary_erosion(mask)
    if np.count_nonzero(core) < 8:
        core = mask
    late = False
    if scout.tr_ms is None:
        cavity = blood_pool_of(mask)
        nulls = fit_pixelwise(_pixelwise_view(scout, core), mask | cavity)["null_ti_ms"]
        core_nulls = nulls[core]
        if np.count_nonzero(np.isfinite(core_nulls)) >= 8:
            late = contamination_side(core_nulls, nulls[cavity], tolerance_ms=side_tolerance_ms) == "late"
            if late:
                reference = null_mode_ms(core_nulls, kernel_ms=side_tolerance_ms)
            else:
                reference = float(np.nanquantile(core_nulls, reference_quantile))
            for band in band_ms:
                consistent = core & (np.abs(nulls - reference) <= band)
                if np.count_nonzero(consistent) >= 8:
                    core = consistent
                    break
    fit = fit_scout_roi(scout, core)
    if late:
        fit = replace(fit, warnings=(*fit.warnings, LATE_CONTAMINATION_WARNING))
    return fit, core


#: Shown when tissue around the automatic myocardium nulls after it (contamination_side == "late").
LATE_CONTAMINATION_WARNING = (
    "Blood (or other tissue) next to the myocardium nulls after it: a native (pre-contrast) scout, or "
    "reverse kinetics (e.g. cardiac amyloidosis). Both networks are trained on post-contrast scouts: "
    "check the frames by eye."
)


def null_mode_ms(nulls_ms: np.ndarray, kernel_ms: float = 10.0) -> float:
    """Most common value of pixel nulls: peak of their 1 ms histogram smoothed by a Gaussian (sigma ``kernel_ms``)."""
    values = np.asarray(nulls_ms, dtype=float)
    values = values[np.isfinite(values)]
    edges = np.arange(np.floor(values.min()) - 3 * kernel_ms, values.max() + 3 * kernel_ms + 1.0, 1.0)
    counts, _ = np.histogram(values, bins=edges)
    density = ndimage.gaussian_filter1d(counts.astype(float), kernel_ms, mode="constant")
    return float(edges[int(np.argmax(density))] + 0.5)


def contamination_side(core_nulls_ms: np.ndarray, blood_nulls_ms: np.ndarray, tolerance_ms: float = 10.0) -> str:
    """Which way partial volume pulls the pixel nulls of a myocardium core: "early", "late" or "unknown".

    Evidence, in order (our rule): the blood pool enclosed by the myocardium (at least 8 fitted pixels)
    nulls before ("early": post-contrast) or after ("late": native T1, reverse kinetics) the core's
    median; otherwise the tail of the core's own null distribution, (q90 - q50) - (q50 - q10): a long
    right tail ("late") or left tail ("early") beyond ``tolerance_ms``; otherwise "unknown".
    """
    core = np.asarray(core_nulls_ms, dtype=float)
    core = core[np.isfinite(core)]
    blood = np.asarray(blood_nulls_ms, dtype=float)
    blood = blood[np.isfinite(blood)]
    median = float(np.median(core))
    if blood.size >= 8:
        return "late" if float(np.median(blood)) > median else "early"
    q10, q90 = np.quantile(core, [0.1, 0.9])
    asymmetry = float((q90 - median) - (median - q10))
    if asymmetry > tolerance_ms:
        return "late"
    if asymmetry < -tolerance_ms:
        return "early"
    return "unknown"


def blood_pool_of(myocardium: np.ndarray, margin_px: int = 1) -> np.ndarray:
    """LV blood pool enclosed by a myocardium mask: the holes of the mask, shrunk by ``margin_px`` pixels
    (away from the endocardial partial volume); empty when the ring is open (e.g. a gap the U-Net left)."""
    mask = np.asarray(myocardium, dtype=bool)
    cavity = ndimage.binary_fill_holes(mask) & ~mask
    return ndimage.binary_erosion(cavity, iterations=margin_px) if margin_px > 0 else cavity


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
        network.load_state_dict(payload["state_dict"], strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise SegmentationModelError(f"{path.name} does not match the myocardium U-Net: {error}") from error
    network.to(device).eval()
    card = dict(payload.get("card", {}))
    return MyocardiumModel(network, preprocess, card, str(card.get("name", path.stem)), device)


# ----------------------------------------------------------------------------------------- training
@dataclass(frozen=True)
class SegmentationTrainingConfig:
    n_series: int = 4000
    epochs: int = 24
    batch_size: int = 16
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    photo_fraction: float = 0.3
    validation_fraction: float = 0.1
    seed: int = 20261130


def _simulate_one(seed: int, photo_fraction: float, config: PreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    from .photo import degrade_scout_as_photo
    from .simulator import simulate_scout

    rng = np.random.default_rng(seed)
    simulated = simulate_scout(rng)
    if rng.random() < photo_fraction:
        simulated = degrade_scout_as_photo(simulated, rng, monitor="4k" if rng.random() < 0.6 else "3mp")
    scout = simulated.scout
    return scout_features(scout, config), mask_on_grid(simulated.myocardium_mask, scout.pixel_spacing_mm, config)


def simulate_segmentation_set(n_series: int, seed: int, photo_fraction: float, config: PreprocessConfig = SEGMENTATION_PREPROCESS,
                              workers: int = 1, show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Features [S, 7, g, g] and target fractions [S, g, g] of ``n_series`` simulated scouts (series i uses seed+i)."""
    seeds = [seed + index for index in range(n_series)]
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor
        from functools import partial

        with ProcessPoolExecutor(workers) as pool:
            results = pool.map(partial(_simulate_one, photo_fraction=photo_fraction, config=config), seeds, chunksize=16)
            items = list(_progress(results, n_series, show_progress))
    else:
        items = [_simulate_one(s, photo_fraction, config) for s in _progress(seeds, n_series, show_progress)]
    return np.stack([f for f, _ in items]), np.stack([m for _, m in items])


def _progress(iterable, total: int, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc="simulating", unit="series")


def _augment(features: torch.Tensor, targets: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random flips / 90-degree turns (anatomy orientation differs between scanners) and intensity scale."""
    if torch.rand(1, generator=generator).item() < 0.5:
        features, targets = features.flip(-1), targets.flip(-1)
    turns = int(torch.randint(0, 4, (1,), generator=generator).item())
    features, targets = torch.rot90(features, turns, (-2, -1)), torch.rot90(targets, turns, (-2, -1))
    scale = 0.8 + 0.4 * torch.rand(features.shape[0], 1, 1, 1, generator=generator)
    features = features.clone()
    features[:, :5] *= scale  # intensity channels only; TI-of-minimum and the PSIR flag are physical
    return features, targets


def _loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Soft-target BCE + soft Dice (1 - 2|PT| / (|P| + |T|))."""
    bce = nn.functional.binary_cross_entropy_with_logits(logits, targets)
    p = torch.sigmoid(logits)
    dice = 1.0 - (2.0 * (p * targets).sum((1, 2, 3)) + 1.0) / (p.sum((1, 2, 3)) + targets.sum((1, 2, 3)) + 1.0)
    return bce + dice.mean()


def train_segmentation(
    config: SegmentationTrainingConfig = SegmentationTrainingConfig(),
    data: tuple[np.ndarray, np.ndarray] | None = None,
    workers: int = 1,
    show_progress: bool = True,
    log: Callable[[str], None] = print,
) -> tuple[MyocardiumModel, list[dict]]:
    """Train the U-Net on simulated scouts; keeps the epoch with the lowest validation loss."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if data is None:
        data = simulate_segmentation_set(config.n_series, config.seed, config.photo_fraction, workers=workers, show_progress=show_progress)
    features, targets = torch.from_numpy(data[0]), torch.from_numpy(data[1])[:, None]
    order = torch.from_numpy(np.random.default_rng(config.seed).permutation(len(features)))
    n_validation = max(1, int(round(config.validation_fraction * len(features))))
    validation, training = order[:n_validation], order[n_validation:]
    network = MyocardiumUNet().to(device)
    optimiser = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps = int(np.ceil(len(training) / config.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.learning_rate, total_steps=config.epochs * steps)
    log(f"training the myocardium U-Net on {len(training)} series (validation {len(validation)}), {config.epochs} epochs on {device}")
    best_state, best_loss, history = None, np.inf, []
    for epoch in range(config.epochs):
        network.train()
        started = time.perf_counter()
        permutation = training[torch.randperm(len(training), generator=generator)]
        running = 0.0
        iterator = range(steps)
        if show_progress:
            from tqdm import tqdm

            iterator = tqdm(iterator, total=steps, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch")
        for step in iterator:
            index = permutation[step * config.batch_size:(step + 1) * config.batch_size]
            x, y = _augment(features[index], targets[index], generator)
            loss = _loss(network(x.to(device)), y.to(device))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()
            running += loss.item() * len(index)
        network.eval()
        with torch.inference_mode():
            logits = torch.cat([network(features[validation[i:i + 64]].to(device)) for i in range(0, len(validation), 64)])
            truth = targets[validation].to(device)
            validation_loss = float(_loss(logits, truth))
            predicted, reference = torch.sigmoid(logits) >= 0.5, truth >= 0.5
            dice = float((2 * (predicted & reference).sum() / (predicted.sum() + reference.sum()).clamp(min=1)).cpu())
        record = {"epoch": epoch + 1, "train_loss": running / len(training), "validation_loss": validation_loss,
                  "validation_dice": dice, "seconds": time.perf_counter() - started}
        history.append(record)
        log(f"epoch {epoch + 1}: train {record['train_loss']:.4f}  validation {validation_loss:.4f}  Dice {dice:.3f}  ({record['seconds']:.0f} s)")
        if validation_loss < best_loss:
            best_loss = validation_loss
            best_state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
    network.load_state_dict(best_state)
    network.to("cpu").eval()
    best = min(history, key=lambda r: r["validation_loss"])
    card = {"name": "myocardium_unet", "n_series": config.n_series, "epochs": config.epochs, "seed": config.seed,
            "photo_fraction": config.photo_fraction, "best_epoch": best["epoch"], "validation_dice": best["validation_dice"]}
    return MyocardiumModel(network, SEGMENTATION_PREPROCESS, card, "myocardium_unet"), history
