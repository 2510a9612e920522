"""Turn a TI scout into network input: per-series normalisation, a fixed physical working grid, and
per-frame context channels.

Choices (ours, documented in the model card):
- Working grid: the central ``fov_mm`` x ``fov_mm`` square of the slice (the heart sits near the
  centre of a cardiac scout), resampled to ``grid`` x ``grid`` pixels with anti-aliasing
  (Gaussian pre-filter, sigma = 0.4 x the downsampling factor). Outside the image -> 0.
- Intensities divided by the 99th percentile of |signal| over the last 20% of frames (at least two),
  i.e. relative to the recovered signal of the series, not per frame (docs/METHODS.md "Hints").
- Channels of frame n: [frame n, frame n-1, frame n+1, first frame, last frame] (neighbours clamped
  at the ends), so the network sees whether each tissue is falling or recovering around frame n.
- Scalars of frame n: TI gaps to the previous / next frame (/100 ms; 0 at the ends), whether the
  series is phase-sensitive, and the frame's TI (/1000 ms): recovery S = A - B exp(-TI/T1*) depends
  on the time since the inversion, so the TI itself is physics, not only a prior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from TINullCorrectionLib.core.types import ScoutError, TIScout

N_CHANNELS = 5
N_SCALARS = 4


@dataclass(frozen=True)
class PreprocessConfig:
    grid: int = 48
    fov_mm: float = 180.0
    reference_percentile: float = 99.0

    def as_dict(self) -> dict:
        return {"grid": self.grid, "fov_mm": self.fov_mm, "reference_percentile": self.reference_percentile}


def _linear_weights(coordinates: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Indices and weights of linear interpolation along one axis of length ``size`` at ``coordinates``:
    (i0, i1, w0, w1); both weights 0 outside [0, size - 1] (scipy.ndimage.map_coordinates, order=1,
    mode="constant", cval=0)."""
    coordinates = np.asarray(coordinates, dtype=np.float64)
    inside = (coordinates >= 0.0) & (coordinates <= size - 1)
    i0 = np.clip(np.floor(coordinates), 0, size - 1).astype(np.intp)
    i1 = np.minimum(i0 + 1, size - 1)
    fraction = np.where(inside, coordinates - i0, 0.0)
    return i0, i1, np.where(inside, 1.0 - fraction, 0.0), fraction


def separable_linear_resample(images: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """images [..., H, W] sampled at the grid ``rows`` x ``cols`` (pixel coordinates) by bilinear
    interpolation, 0 outside the image: [..., len(rows), len(cols)] float64.

    The same values as ``scipy.ndimage.map_coordinates(image, meshgrid(rows, cols, indexing="ij"),
    order=1, mode="constant", cval=0)`` for every image (checked in Testing/ti/core/test_preprocessing.py),
    in two gathers per axis instead of one call per image: a grid whose rows and columns are separable
    needs no general coordinate map.
    """
    images = np.asarray(images)
    weights = _linear_weights(rows, images.shape[-2]), _linear_weights(cols, images.shape[-1])
    return _gather(images, *weights)


def _gather(images: np.ndarray, row_weights, col_weights, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Bilinear sampling by the weights of :func:`_linear_weights`; ``images`` may be a window of the image
    whose first pixel is ``origin`` (row, column), holding every pixel the weights index."""
    images = np.asarray(images)
    r0, r1, rw0, rw1 = row_weights
    c0, c1, cw0, cw1 = col_weights
    r0, r1, c0, c1 = r0 - origin[0], r1 - origin[0], c0 - origin[1], c1 - origin[1]

    def rows_of(index):  # gathered, then converted: the same float64 values as converting the whole window first
        return np.take(images, index, axis=-2).astype(np.float64, copy=False)

    along_rows = rows_of(r0) * rw0[:, None] + rows_of(r1) * rw1[:, None]
    return along_rows[..., c0] * cw0 + along_rows[..., c1] * cw1


#: scipy.ndimage.gaussian_filter's default ``truncate``: its kernel reaches int(truncate * sigma + 0.5) pixels.
_GAUSSIAN_TRUNCATE = 4.0


def _reach(sigma: float) -> int:
    """Pixels on each side that scipy's Gaussian kernel of ``sigma`` reaches (0: a kernel of one weight, 1.0)."""
    return int(_GAUSSIAN_TRUNCATE * sigma + 0.5) if sigma > 1e-15 else 0  # scipy skips sigma <= 1e-15


def _window(index_low: int, index_high: int, sigma: float, size: int) -> tuple[int, int]:
    """[start, stop) of the pixels along one axis whose Gaussian-filtered values at indices index_low..index_high
    depend on: the indices widened by the kernel's reach, within the image (at the image's edge the window's
    edge is the image's, so the filter's boundary handling is the same)."""
    reach = _reach(sigma)
    return max(0, index_low - reach), min(size, index_high + 1 + reach)


def resample_to_working_grid(frames: np.ndarray, pixel_spacing_mm: tuple[float, float], config: PreprocessConfig) -> np.ndarray:
    """Frames [N, H, W] -> [N, grid, grid] covering the central fov_mm square (mm-true, anti-aliased)."""
    frames = np.asarray(frames, dtype=np.float32)
    n_frames, height, width = frames.shape
    row_mm, col_mm = float(pixel_spacing_mm[0]), float(pixel_spacing_mm[1])
    out_mm = config.fov_mm / config.grid
    sigma = (max(0.0, 0.4 * (out_mm / row_mm - 1.0)), max(0.0, 0.4 * (out_mm / col_mm - 1.0)))
    offsets_mm = (np.arange(config.grid) - (config.grid - 1) / 2.0) * out_mm
    row_weights = _linear_weights((height - 1) / 2.0 + offsets_mm / row_mm, height)
    col_weights = _linear_weights((width - 1) / 2.0 + offsets_mm / col_mm, width)
    # The same per-frame Gaussian (no smoothing across frames) and bilinear sampling as frame-by-frame
    # ndimage.gaussian_filter + map_coordinates, for the whole stack at once, and only on the window of the
    # frames that the sampling reads (plus the kernel's reach): every sampled value is the same as when
    # the whole frames are filtered (each filtered pixel depends on its neighbours within the reach only).
    r_start, r_stop = _window(int(row_weights[0].min()), int(row_weights[1].max()), sigma[0], height)
    c_start, c_stop = _window(int(col_weights[0].min()), int(col_weights[1].max()), sigma[1], width)
    window = frames[:, r_start:r_stop, c_start:c_stop]
    # an axis whose kernel is one weight (1.0; reach 0, e.g. sigma 0.12 on the U-Net's grid) leaves every value as
    # it is: not filtered at all, the same values
    sigma = tuple(s if _reach(s) > 0 else 0.0 for s in sigma)
    filtered = ndimage.gaussian_filter(window, (0.0, *sigma)) if max(sigma) > 0 else window
    return _gather(filtered, row_weights, col_weights, (r_start, c_start)).astype(np.float32)


def normalise_series(frames: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """Divide by the high percentile of |signal| of the latest frames (the recovered signal)."""
    n_late = max(2, int(round(0.2 * frames.shape[0])))
    reference = float(np.percentile(np.abs(frames[-n_late:]), config.reference_percentile))
    if not np.isfinite(reference) or reference <= 0:
        raise ScoutError("The TI scout's latest frames are empty (no signal): cannot normalise the series.")
    return (frames / reference).astype(np.float32)


def prepare_series(scout: TIScout, config: PreprocessConfig = PreprocessConfig()) -> np.ndarray:
    """Normalised frames on the working grid, [N, grid, grid] float32."""
    return normalise_series(resample_to_working_grid(scout.frames, scout.pixel_spacing_mm, config), config)


def context_indices(n_frames: int) -> np.ndarray:
    """[N, 5] frame indices of each frame's channels: itself, previous, next, first, last (clamped)."""
    index = np.arange(n_frames)
    return np.stack(
        [index, np.clip(index - 1, 0, n_frames - 1), np.clip(index + 1, 0, n_frames - 1),
         np.zeros(n_frames, int), np.full(n_frames, n_frames - 1)],
        axis=1,
    )


def frame_scalars(ti_ms: np.ndarray, phase_sensitive: bool) -> np.ndarray:
    """[N, 4]: TI gap to the previous and next frame (/100 ms, 0 at the ends), the PSIR flag, TI/1000 ms."""
    ti = np.asarray(ti_ms, dtype=np.float64)
    gaps = np.diff(ti) / 100.0
    gap_previous = np.concatenate([[0.0], gaps])
    gap_next = np.concatenate([gaps, [0.0]])
    flag = np.full(ti.size, float(phase_sensitive))
    return np.stack([gap_previous, gap_next, flag, ti / 1000.0], axis=1).astype(np.float32)


def frame_inputs(series: np.ndarray, ti_ms: np.ndarray, phase_sensitive: bool) -> tuple[np.ndarray, np.ndarray]:
    """Channels [N, 5, g, g] and scalars [N, 4] for every frame of one prepared series."""
    return series[context_indices(series.shape[0])].astype(np.float32), frame_scalars(ti_ms, phase_sensitive)
