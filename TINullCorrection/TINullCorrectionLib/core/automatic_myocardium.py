"""The automatic myocardium: from the U-Net's myocardium probability to the pixels whose mean signal the
inversion-recovery fit uses (core: numpy/scipy only; the network itself is in networks/myocardium_unet.py).

The U-Net says *where* the remote myocardium is; the fit of its signal says *when* it nulls. This module
chooses the pixels: the confident, eroded core, filtered by each pixel's own null (see
:func:`fit_automatic_myocardium`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage

from TINullCorrectionLib.core.types import ScoutError, TIScout


def myocardium_mask(probability: np.ndarray, threshold: float = 0.5, min_pixels: int = 8) -> np.ndarray:
    """Boolean mask of the confident myocardium; raises ScoutError when fewer than ``min_pixels`` remain."""
    mask = np.asarray(probability) >= threshold
    if int(mask.sum()) < min_pixels:
        raise ScoutError(
            f"No myocardium found automatically ({int(mask.sum())} pixels above p = {threshold:g}): "
            "draw a myocardium ROI for the inversion-recovery cross-check."
        )
    return mask


#: Smallest area (mm^2) of the confident automatic myocardium (p >= 0.5) that can be a left-ventricular short-axis
#: slice (our rule): 90 simulated scouts (seed 998031, a third of them photos) gave 650-2460 mm^2, the real
#: Look-Locker's mid slices 870 and 1240 mm^2; the IR phantoms 0-63 mm^2 and the real scout's apical slice 32 mm^2.
MIN_MYOCARDIUM_AREA_MM2 = 300.0


def check_looks_like_a_heart(mask: np.ndarray, pixel_spacing_mm, min_area_mm2: float = MIN_MYOCARDIUM_AREA_MM2) -> None:
    """ScoutError saying that the input does not look like a heart when the automatic myocardium covers less
    than ``min_area_mm2`` (a phantom, a non-cardiac series, or a slice where the U-Net found no myocardium)."""
    pixels = int(np.count_nonzero(mask))
    area = pixels * float(pixel_spacing_mm[0]) * float(pixel_spacing_mm[1])
    if area < min_area_mm2:
        raise ScoutError(
            f"No myocardium found automatically: what the U-Net marks covers only {area:.0f} mm^2 ({pixels} pixels; a left "
            f"ventricle shows at least {min_area_mm2:.0f} mm^2), so the input does not look like a cardiac short-axis scout "
            "(a phantom or another series?), or the U-Net missed the myocardium in this slice. No inversion-recovery "
            "cross-check was made and the CNN (trained on cardiac scouts only) answers alone: check the frames by eye, or "
            "draw a myocardium ROI."
        )


def _pixelwise_view(scout: TIScout, core: np.ndarray) -> TIScout:
    """The scout as the pixel-wise fit should see it: scanner data as they are; screen captures with the
    display level of zero signal subtracted (clipped at 0 for a magnitude display; signed for a
    phase-sensitive display, recognised as in irfit.fit_display_roi)."""
    from TINullCorrectionLib.core.irfit import display_zero_level, is_phase_sensitive_display, roi_signal

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
    fit the mean of the core directly. Raises ScoutError when too little is found, or when what is found is too
    small to be a heart (:func:`check_looks_like_a_heart`).

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
    from TINullCorrectionLib.core.irfit import fit_pixelwise, fit_scout_roi

    check_looks_like_a_heart(np.asarray(probability) >= threshold, scout.pixel_spacing_mm)
    mask = myocardium_mask(probability, threshold)
    core = ndimage.binary_erosion(mask)
    if np.count_nonzero(core) < 8:
        core = mask
    late = False
    if scout.tr_ms is None:
        cavity = blood_pool_of(mask)
        # only the pixels whose nulls are used: the core and the cavity (each pixel's fit is its own)
        nulls = fit_pixelwise(_pixelwise_view(scout, core), core | cavity)["null_ti_ms"]
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


#: Pixel nulls beyond this (ms) are fit failures, left out of the histogram (10 x the longest plausible TI).
MAX_PIXEL_NULL_MS = 40_000.0


def null_mode_ms(nulls_ms: np.ndarray, kernel_ms: float = 10.0) -> float:
    """Most common value of pixel nulls: peak of their 1 ms histogram smoothed by a Gaussian (sigma ``kernel_ms``)."""
    values = np.asarray(nulls_ms, dtype=float)
    # bounded histogram whatever a pixel fit returned (a 1 ms bin per ms of range)
    values = values[np.isfinite(values) & (np.abs(values) <= MAX_PIXEL_NULL_MS)]
    if values.size == 0:
        raise ScoutError("No pixel of the automatic myocardium has a usable null.")
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
