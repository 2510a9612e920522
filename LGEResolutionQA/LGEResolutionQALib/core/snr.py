"""Noise (σ) estimates, SNR and CNR (core: numpy/scipy only).

Every estimate names its method; a zero, negative or undefined σ is an error, never an infinite SNR.

Methods (docs/METHODS.md §2.2):

* ``nema-difference`` — two repeated acquisitions S1, S2 of the same object:
  σ = SD(S1 − S2)/√2 over an ROI (NEMA MS 1; within ~3% of the multiple-acquisition reference even
  with parallel imaging, Dietrich et al. JMRI 2007;26:375).
* ``background-rayleigh-<n>ch`` — an air ROI of a magnitude image. With no signal, the magnitude of
  an n-channel sum-of-squares reconstruction with σ per real/imaginary channel is σ·χ_2n
  (a chi distribution with 2n degrees of freedom; Rayleigh for n = 1), so

      mean_air = σ · √2 · Γ(n + ½)/Γ(n),     SD_air = σ · sqrt(2n − (mean_air/σ)²).

  This exact formula reproduces the Constantinides et al. (MRM 1997;38:852) factors
  SD: 0.655, 0.682, 0.695, 0.701, 0.704, 0.706 and mean: 1.253, 1.880, 2.742, 3.938, 5.613, 7.969
  for n = 1, 2, 4, 8, 16, 32 (see ``CONSTANTINIDES_SD_FACTORS``), and is used for any integer n ≥ 1.
  Background methods are off by ~35% with parallel imaging, PSIR or filtered reconstructions
  (Dietrich 2007): see ``warnings_for_acquisition``.
* ``tissue-sd`` — the sample SD of a uniform tissue ROI (remote myocardium, blood pool), common in
  CMR papers; it includes any true tissue inhomogeneity.
* ``smoothing-residual`` — single-image method of McCann et al. (Phys Med Biol 2013;58:3775) as in
  hazen: residual R = S − uniform_filter_k(S) (in-plane box of k × k pixels, k = 9 head coil, 25 body
  coil), σ = SD(R) over the ROI eroded by k//2 (so every box lies inside the ROI). For white noise
  Var(R) = σ²(1 − 1/k²); ``white_noise_correction=True`` (default) divides by sqrt(1 − 1/k²)
  (0.6% at k = 9; hazen does not apply it).

SNR_x = mean(ROI_x)/σ; CNR = (mean(LGE) − mean(remote))/σ.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np
from scipy import ndimage
from scipy.special import gammaln

from LGEResolutionQALib.core.roi_stats import ROIStatistics, validated_mask

CONSTANTINIDES_SD_FACTORS = {1: 0.655, 2: 0.682, 4: 0.695, 8: 0.701, 16: 0.704, 32: 0.706}
CONSTANTINIDES_MEAN_FACTORS = {1: 1.253, 2: 1.880, 4: 2.742, 8: 3.938, 16: 5.613, 32: 7.969}

DIETRICH_WARNING = (
    "background (air) noise methods are unreliable with {what} (about 35% off, Dietrich et al. "
    "JMRI 2007;26:375); prefer the NEMA difference of two acquisitions or a tissue SD"
)


@dataclass(frozen=True)
class NoiseEstimate:
    """A noise standard deviation σ (image intensity units) and how it was obtained."""

    sigma: float
    method: str
    n_samples: int
    warnings: tuple[str, ...] = ()
    formula: str = ""

    ROW_UNITS: ClassVar[dict] = {"sigma": "au", "method": "", "n_samples": "count", "warnings": "", "formula": ""}

    def as_row(self) -> dict:
        row = asdict(self)
        row["warnings"] = "; ".join(self.warnings)
        return row


@dataclass(frozen=True)
class SNRResult:
    """SNR = signal_mean / sigma of one ROI."""

    snr: float
    signal_name: str
    signal_mean: float
    sigma: float
    noise_method: str
    method: str = "snr = mean(ROI)/sigma"
    warnings: tuple[str, ...] = ()

    ROW_UNITS: ClassVar[dict] = {"snr": "ratio", "signal_name": "", "signal_mean": "au", "sigma": "au", "noise_method": "",
                                 "method": "", "warnings": ""}

    def as_row(self) -> dict:
        row = asdict(self)
        row["warnings"] = "; ".join(self.warnings)
        return row


@dataclass(frozen=True)
class CNRResult:
    """CNR = (lge_mean − remote_mean) / sigma."""

    cnr: float
    lge_name: str
    remote_name: str
    lge_mean: float
    remote_mean: float
    sigma: float
    noise_method: str
    method: str = "cnr = (mean(LGE) - mean(remote))/sigma"
    warnings: tuple[str, ...] = ()

    ROW_UNITS: ClassVar[dict] = {"cnr": "ratio", "lge_name": "", "remote_name": "", "lge_mean": "au", "remote_mean": "au",
                                 "sigma": "au", "noise_method": "", "method": "", "warnings": ""}

    def as_row(self) -> dict:
        row = asdict(self)
        row["warnings"] = "; ".join(self.warnings)
        return row


def chi_background_factors(n_channels: int) -> tuple[float, float]:
    """(mean factor, SD factor) of pure-noise magnitude for an n-channel sum-of-squares image.

    mean/σ = √2·Γ(n+½)/Γ(n); SD/σ = sqrt(2n − (mean/σ)²) (chi distribution with 2n degrees of freedom).
    """
    if isinstance(n_channels, bool) or int(n_channels) != n_channels or n_channels < 1:
        raise ValueError(f"Number of receive channels must be a positive integer; got {n_channels!r}.")
    n = int(n_channels)
    mean_factor = float(np.sqrt(2.0) * np.exp(gammaln(n + 0.5) - gammaln(n)))
    sd_factor = float(np.sqrt(max(2.0 * n - mean_factor**2, 0.0)))
    return mean_factor, sd_factor


def _checked_sigma(sigma: float, method: str) -> float:
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(
            f"Noise estimate by {method} is {sigma}: zero, negative or undefined σ (uniform or empty ROI?)."
        )
    return float(sigma)


def _finite_values(values, what: str, minimum: int = 2) -> np.ndarray:
    data = np.asarray(values, dtype=np.float64).ravel()
    if data.size < minimum:
        raise ValueError(f"{what} needs at least {minimum} voxels; got {data.size}.")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{what} contains NaN or infinite values.")
    return data


def noise_from_background(values, n_channels: int = 1, statistic: str = "sd") -> NoiseEstimate:
    """σ from air/background voxels of a magnitude image (Rayleigh for 1 channel, chi for n channels).

    statistic="sd": σ = SD_air / f_sd(n); statistic="mean": σ = mean_air / f_mean(n).
    """
    data = _finite_values(values, "Background ROI")
    if np.any(data < 0):
        raise ValueError(
            "Background ROI has negative values: not a magnitude image (PSIR/real?); background "
            "Rayleigh/chi corrections do not apply."
        )
    mean_factor, sd_factor = chi_background_factors(n_channels)
    method = f"background-rayleigh-{int(n_channels)}ch"
    if statistic == "sd":
        sigma = float(data.std(ddof=1)) / sd_factor
        formula = f"SD_air/{sd_factor:.4f}"
    elif statistic == "mean":
        sigma = float(data.mean()) / mean_factor
        formula = f"mean_air/{mean_factor:.4f}"
    else:
        raise ValueError(f"statistic must be 'sd' or 'mean'; got {statistic!r}.")
    warnings = ()
    if np.mean(data == 0) > 0.05:
        warnings = ("more than 5% of background voxels are exactly 0: the scanner may have masked or "
                    "clipped the background, so the Rayleigh correction underestimates σ",)
    return NoiseEstimate(_checked_sigma(sigma, method), method, int(data.size), warnings, formula)


def noise_from_tissue(values) -> NoiseEstimate:
    """σ = sample SD of a uniform tissue ROI (remote myocardium or blood pool)."""
    data = _finite_values(values, "Tissue ROI")
    sigma = float(data.std(ddof=1))
    return NoiseEstimate(_checked_sigma(sigma, "tissue-sd"), "tissue-sd", int(data.size), (), "SD(ROI)")


def noise_from_difference(image1, image2, mask) -> NoiseEstimate:
    """NEMA difference method: σ = SD(S1 − S2)/√2 over the ROI ``mask`` (same grid as both images)."""
    first = np.asarray(image1, dtype=np.float64)
    second = np.asarray(image2, dtype=np.float64)
    if first.shape != second.shape:
        raise ValueError(f"The two acquisitions have different shapes {first.shape} and {second.shape}.")
    roi = validated_mask(first, mask, "Noise ROI")
    difference = _finite_values(first[roi] - second[roi], "Difference image ROI")
    sigma = float(difference.std(ddof=1)) / np.sqrt(2.0)
    method = "nema-difference"
    warnings = ()
    mean_difference = float(difference.mean())
    if abs(mean_difference) > 0.1 * max(abs(float(first[roi].mean())), 1e-12):
        warnings = (f"the two acquisitions differ in mean signal by {mean_difference:.4g} (>10%): "
                    "not repeated acquisitions of the same object?",)
    return NoiseEstimate(_checked_sigma(sigma, method), method, int(difference.size), warnings,
                         "SD(S1-S2)/sqrt(2)")


def noise_from_smoothing_residual(
    image, mask, kernel: int = 9, white_noise_correction: bool = True
) -> NoiseEstimate:
    """McCann 2013 single-image σ: SD(S − uniform_filter_k(S)) over the ROI eroded by k//2.

    2D images [j, i] or volumes [k, j, i] (the box filter is in-plane: 1 × k × k). The ROI should lie
    in a uniform region (a phantom); structure inside the box inflates σ.
    """
    data = np.asarray(image, dtype=np.float64)
    if int(kernel) != kernel or kernel < 3 or kernel % 2 == 0:
        raise ValueError(f"Smoothing kernel must be an odd integer ≥ 3 pixels; got {kernel!r}.")
    kernel = int(kernel)
    roi = validated_mask(data, mask, "Noise ROI")
    if not np.all(np.isfinite(data[roi])):
        raise ValueError("Noise ROI contains NaN or infinite values.")
    size = (kernel,) * 2 if data.ndim == 2 else (1,) * (data.ndim - 2) + (kernel, kernel)
    residual = data - ndimage.uniform_filter(np.nan_to_num(data), size=size, mode="reflect")
    structure = np.zeros((3,) * data.ndim, dtype=bool)
    structure[(1,) * (data.ndim - 2) + (slice(None), slice(None))] = True  # in-plane erosion only
    inner = ndimage.binary_erosion(roi, structure=structure, iterations=kernel // 2)
    if inner.sum() < 2:
        raise ValueError(
            f"Noise ROI is too small for a {kernel}x{kernel} smoothing kernel (nothing left after "
            f"eroding it by {kernel // 2} pixels)."
        )
    values = residual[inner]
    sigma = float(values.std(ddof=1))
    formula = f"SD(S - uniform_{kernel}x{kernel}(S))"
    if white_noise_correction:
        sigma /= np.sqrt(1.0 - 1.0 / kernel**2)
        formula += f"/sqrt(1 - 1/{kernel}^2)"
    method = "smoothing-residual"
    return NoiseEstimate(_checked_sigma(sigma, method), method, int(values.size), (), formula)


def warnings_for_acquisition(parallel_imaging: bool, psir: bool, filtered: bool = False) -> tuple[str, ...]:
    """Warnings to attach to background-based σ for this acquisition (Dietrich 2007)."""
    reasons = [what for flag, what in ((parallel_imaging, "parallel imaging"), (psir, "PSIR / phase-sensitive "
               "reconstruction"), (filtered, "filtered reconstructions")) if flag]
    return tuple(DIETRICH_WARNING.format(what=what) for what in reasons)


def with_warnings(noise: NoiseEstimate, warnings: tuple[str, ...]) -> NoiseEstimate:
    """A copy of ``noise`` with extra warnings (e.g. from ``warnings_for_acquisition``)."""
    return NoiseEstimate(noise.sigma, noise.method, noise.n_samples, tuple(noise.warnings) + tuple(warnings),
                         noise.formula)


def _noise_sigma(noise: NoiseEstimate) -> float:
    if not isinstance(noise, NoiseEstimate):
        raise ValueError(f"noise must be a NoiseEstimate; got {type(noise).__name__}.")
    return _checked_sigma(noise.sigma, noise.method)


def _mean(stats: ROIStatistics, role: str) -> float:
    if not isinstance(stats, ROIStatistics):
        raise ValueError(f"{role} must be an ROIStatistics; got {type(stats).__name__}.")
    if stats.voxel_count < 1 or not np.isfinite(stats.mean):
        raise ValueError(f"{role} ROI '{stats.name}' is empty or has an undefined mean.")
    return float(stats.mean)


def snr(signal: ROIStatistics, noise: NoiseEstimate) -> SNRResult:
    """SNR = mean(signal ROI)/σ."""
    sigma = _noise_sigma(noise)
    mean = _mean(signal, "Signal")
    return SNRResult(mean / sigma, signal.name, mean, sigma, noise.method, warnings=tuple(noise.warnings))


def cnr(lge: ROIStatistics, remote: ROIStatistics, noise: NoiseEstimate) -> CNRResult:
    """CNR = (mean(LGE) − mean(remote))/σ (also usable as scar–blood CNR with the blood ROI as ``remote``)."""
    sigma = _noise_sigma(noise)
    lge_mean = _mean(lge, "LGE")
    remote_mean = _mean(remote, "Remote")
    return CNRResult((lge_mean - remote_mean) / sigma, lge.name, remote.name, lge_mean, remote_mean, sigma,
                     noise.method, warnings=tuple(noise.warnings))


def central_phantom_roi(image, area_fraction: float = 0.75, threshold_fraction: float = 0.5) -> np.ndarray:
    """A central disc ROI covering ``area_fraction`` of a uniform phantom in a 2D image [j, i].

    The phantom is the largest connected region above ``threshold_fraction`` × the 99th percentile
    of the image (holes filled); the ROI is the disc about its centroid with area = fraction × the
    phantom's area (radius sqrt(fraction·A/π)), intersected with the phantom (NEMA-style central ROI).
    """
    data = np.asarray(image, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"central_phantom_roi needs a 2D image; got shape {data.shape}.")
    if not 0 < area_fraction <= 1:
        raise ValueError(f"area_fraction must be in (0, 1]; got {area_fraction}.")
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        raise ValueError("Image has no finite values.")
    level = threshold_fraction * float(np.percentile(finite, 99))
    bright = ndimage.binary_fill_holes(np.nan_to_num(data) > level)
    labels, count = ndimage.label(bright)
    if count == 0 or level <= 0:
        raise ValueError("No phantom found: nothing above the threshold.")
    phantom = labels == int(np.argmax(np.bincount(labels.ravel())[1:])) + 1
    cj, ci = np.argwhere(phantom).mean(axis=0)
    radius = np.sqrt(area_fraction * phantom.sum() / np.pi)
    jj, ii = np.indices(data.shape)
    roi = (np.hypot(jj - cj, ii - ci) <= radius) & phantom
    if roi.sum() < 10:
        raise ValueError("The phantom found is too small for an SNR ROI.")
    return roi
