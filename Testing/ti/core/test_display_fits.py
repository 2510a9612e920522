"""Fits of screen-captured TI scouts (screenshots, phone photos of the monitor): magnitude on a display
baseline, the zero level of a phase-sensitive display, and the choice between the two."""

from __future__ import annotations

import numpy as np
import pytest
from TINullCorrectionLib.core.irfit import (
    MODEL_LL_BASELINE,
    MODEL_LL_PHASE,
    display_zero_level,
    fit_display_roi,
    fit_inversion_recovery,
    fit_magnitude_with_baseline,
    fit_scout_roi,
)
from TINullCorrectionLib.core.types import ScoutError, TIScout

TI = np.arange(90.0, 1000.0, 45.0)  # 21 frames


def signed(ti, a=1.0, b=2.2, t1_star=300.0):
    return a - b * np.exp(-np.asarray(ti) / t1_star)


TRUE_NULL = 300.0 * np.log(2.2)


def test_baseline_fit_recovers_the_null_that_a_plain_magnitude_fit_misplaces():
    display = 40.0 + 150.0 * np.abs(signed(TI))  # black level + glare lifts every level by 40
    baseline = fit_magnitude_with_baseline(TI, display)
    plain = fit_inversion_recovery(TI, display)
    assert baseline.model == MODEL_LL_BASELINE
    assert baseline.null_ti_ms == pytest.approx(TRUE_NULL, abs=0.5)
    assert baseline.baseline == pytest.approx(40.0, abs=0.5)
    assert abs(plain.null_ti_ms - TRUE_NULL) > 10.0  # the reason the baseline model exists


def test_baseline_fit_with_noise_stays_close_and_reports_uncertainty():
    rng = np.random.default_rng(3)
    errors = []
    for _ in range(20):
        display = 25.0 + 200.0 * np.abs(signed(TI)) + rng.normal(0, 2.0, TI.size)
        result = fit_magnitude_with_baseline(TI, display)
        errors.append(result.null_ti_ms - TRUE_NULL)
        assert np.isfinite(result.null_uncertainty_ms) and result.null_uncertainty_ms > 0
    assert np.max(np.abs(errors)) < 10.0


def test_baseline_fit_needs_five_frames():
    with pytest.raises(ScoutError, match="at least 5 frames"):
        fit_magnitude_with_baseline(TI[:4], np.abs(signed(TI[:4])))


def _psir_display_scout(zero_level=90.0, gain=60.0, size=64):
    """A phase-sensitive scout shown on a screen: air is mid-grey, tissue below it before its null."""
    frames = np.full((TI.size, size, size), zero_level, np.float32)
    frames += np.random.default_rng(0).normal(0, 0.5, frames.shape).astype(np.float32)
    rows, cols = np.mgrid[0:size, 0:size]
    body = (rows - size / 2) ** 2 + (cols - size / 2) ** 2 <= (0.3 * size) ** 2
    heart = (rows - size / 2) ** 2 + (cols - size / 2) ** 2 <= (0.1 * size) ** 2
    for index, ti in enumerate(TI):
        frames[index][body] = zero_level + gain * signed(ti, 1.0, 1.8, 600.0)  # other tissue
        frames[index][heart] = zero_level + gain * signed(ti)  # myocardium
    return TIScout(frames=frames, ti_ms=TI, screen_capture=True), heart


def test_zero_level_of_a_phase_sensitive_display_is_the_static_background():
    scout, heart = _psir_display_scout(zero_level=90.0)
    assert display_zero_level(scout.frames, near=heart) == pytest.approx(90.0, abs=1.0)


def test_phase_sensitive_display_is_recognised_and_fitted_around_its_zero_level():
    scout, heart = _psir_display_scout()
    result = fit_scout_roi(scout, heart)
    assert result.model == MODEL_LL_PHASE
    assert result.baseline == pytest.approx(90.0, abs=1.0)
    assert result.null_ti_ms == pytest.approx(TRUE_NULL, abs=2.0)
    assert any("phase-sensitive display" in w for w in result.warnings)


def test_magnitude_display_goes_to_the_baseline_model():
    frames = np.zeros((TI.size, 32, 32), np.float32) + 10.0
    heart = np.zeros((32, 32), bool)
    heart[12:20, 12:20] = True
    for index, ti in enumerate(TI):
        frames[index][heart] = 30.0 + 180.0 * abs(signed(ti))
    scout = TIScout(frames=frames, ti_ms=TI, screen_capture=True)
    result = fit_display_roi(scout, frames[:, heart].mean(axis=1), heart)
    assert result.model == MODEL_LL_BASELINE
    assert result.null_ti_ms == pytest.approx(TRUE_NULL, abs=1.0)


def test_scanner_data_keep_the_plain_model():
    frames = np.zeros((TI.size, 16, 16), np.float32)
    frames[:] = (200.0 * np.abs(signed(TI)))[:, None, None]
    result = fit_scout_roi(TIScout(frames=frames, ti_ms=TI), np.ones((16, 16), bool))
    assert result.baseline == 0.0 and "baseline" not in result.model
    assert result.null_ti_ms == pytest.approx(TRUE_NULL, abs=0.5)


def test_pixelwise_view_of_screen_captures_removes_the_display_zero_level():
    from TINullCorrectionLib.core.automatic_myocardium import _pixelwise_view

    scout, heart = _psir_display_scout(zero_level=90.0)
    view = _pixelwise_view(scout, heart)
    assert view.phase_sensitive and not view.screen_capture
    np.testing.assert_allclose(view.frames[:, heart].mean(axis=1), 60.0 * signed(TI), atol=1.5)

    frames = np.zeros((TI.size, 32, 32), np.float32) + 10.0
    square = np.zeros((32, 32), bool)
    square[12:20, 12:20] = True
    for index, ti in enumerate(TI):
        frames[index][square] = 30.0 + 180.0 * abs(signed(ti))
    magnitude = _pixelwise_view(TIScout(frames=frames, ti_ms=TI, screen_capture=True), square)
    assert not magnitude.phase_sensitive and magnitude.frames.min() >= 0.0
    plain = TIScout(frames=frames, ti_ms=TI)
    assert _pixelwise_view(plain, square) is plain  # scanner data are fitted as they are


def _glare_psir_scout(size=96, zero_level=90.0, glare=25.0, lung_gain=0.0):
    """A phase-sensitive display photographed with glare: a Gaussian blob of extra light centred on the
    heart (so the air around the body is darker than the zero level at the heart), optional lungs whose
    long T1 makes them recover slowly. Returns (scout, heart, zero level at the heart)."""
    rows, cols = np.mgrid[0:size, 0:size].astype(float)
    centre = size / 2.0
    glare_map = glare * np.exp(-((rows - centre) ** 2 + (cols - centre) ** 2) / (2 * (0.3 * size) ** 2))
    radius = np.hypot(rows - centre, cols - centre)
    body, heart = radius <= 0.3 * size, radius <= 0.08 * size
    lungs = body & ~heart & (np.abs(cols - centre) > 0.12 * size) & (np.abs(rows - centre) < 0.2 * size)
    frames = np.empty((TI.size, size, size), np.float32)
    rng = np.random.default_rng(1)
    for index, ti in enumerate(TI):
        signal = np.zeros((size, size))
        signal[body] = 60.0 * signed(ti, 1.0, 1.8, 600.0)
        signal[lungs] = lung_gain * signed(ti, 1.0, 2.0, 1200.0)
        signal[heart] = 60.0 * signed(ti)
        frames[index] = zero_level + glare_map + signal + rng.normal(0.0, 0.5, signal.shape)
    return TIScout(frames=frames, ti_ms=TI, screen_capture=True), heart, float((zero_level + glare_map)[heart].mean())


def test_zero_level_is_interpolated_to_the_roi_under_glare():
    scout, heart, truth = _glare_psir_scout()
    static_median = display_zero_level(scout.frames)  # no ROI: one level for the whole picture
    assert truth - static_median > 8.0  # glare makes the air darker than the heart's zero level
    # worst case: the blob peaks on the heart, the nearest static pixels lie outside the body
    assert display_zero_level(scout.frames, near=heart) == pytest.approx(truth, abs=2.0)


def test_slowly_recovering_lung_is_not_taken_for_static_background():
    from TINullCorrectionLib.core.irfit import static_pixels

    scout, heart, _ = _glare_psir_scout(glare=0.0, lung_gain=3.0)  # lung moves ~4 levels over the scout
    frames = scout.frames.astype(np.float64)
    size = frames.shape[1]
    rows, cols = np.mgrid[0:size, 0:size]
    centre = size / 2.0
    radius = np.hypot(rows - centre, cols - centre)
    lungs = (radius <= 0.3 * size) & (radius > 0.08 * size) & (np.abs(cols - centre) > 0.12 * size) & (np.abs(rows - centre) < 0.2 * size)
    quiet, static = static_pixels(frames, margin=0.08)
    assert np.mean(quiet[lungs]) > 0.3  # the lung is quiet (it moves by a few levels only) but not steady
    assert static.sum() > 100
    assert np.mean(static[lungs]) < 0.1
    assert display_zero_level(scout.frames, near=heart) == pytest.approx(90.0, abs=0.7)


def test_null_refined_near_the_crossing_undoes_a_display_tone_curve():
    from TINullCorrectionLib.core.irfit import refine_null_near_crossing

    zero = 100.0
    grey = zero + 80.0 * signed(TI)  # display levels of the signed curve (0..255 scale)
    display = 255.0 * (np.clip(grey, 0, 255) / 255.0) ** 1.5  # tone curve; zero level moves with it
    shown_zero = 255.0 * (zero / 255.0) ** 1.5
    curve = display - shown_zero
    full = fit_inversion_recovery(TI, curve, phase_sensitive=True)
    refined = refine_null_near_crossing(TI, curve, full)
    assert abs(full.null_ti_ms - TRUE_NULL) > 5.0  # the tone curve bends the global fit
    assert abs(refined.null_ti_ms - TRUE_NULL) < 0.65 * abs(full.null_ti_ms - TRUE_NULL)
    assert refined.t1_star_ms == full.t1_star_ms and refined.r_squared == full.r_squared
    assert any("refined" in w for w in refined.warnings)
    never = refine_null_near_crossing(TI, np.abs(curve) + 1.0, full)  # no zero crossing: unchanged
    assert never is full


def test_a_picture_cropped_to_the_heart_warns_that_the_zero_level_is_uncertain():
    scout, heart = _psir_display_scout()
    size = scout.frames.shape[1]
    crop = slice(int(0.25 * size), int(0.75 * size))
    cropped = TIScout(frames=np.ascontiguousarray(scout.frames[:, crop, crop]), ti_ms=TI, screen_capture=True)
    result = fit_scout_roi(cropped, heart[crop, crop])
    assert any("pixels of air or lung" in w for w in result.warnings)
    whole = fit_scout_roi(scout, heart)
    assert not any("pixels of air or lung" in w for w in whole.warnings)
