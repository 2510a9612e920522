"""Myocardium U-Net at inference (ONNX, no torch): grid geometry, features, and the shipped network finding the
myocardium of held-out simulated scouts well enough for the IR fit; the automatic-myocardium pixel filter.
(.pt files: test_torch_weights.py; training: Testing/training/test_training.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from TINullCorrectionLib.core.automatic_myocardium import (
    LATE_CONTAMINATION_WARNING,
    fit_automatic_myocardium,
    myocardium_mask,
)
from TINullCorrectionLib.core.preprocessing import PreprocessConfig
from TINullCorrectionLib.core.types import ScoutError, TIScout
from TINullCorrectionLib.networks.myocardium_unet import (
    DEFAULT_SEGMENTATION_PATH,
    grid_coordinates,
    load_segmentation_model,
    mask_on_grid,
    scout_features,
)
from TINullCorrectionLib.sim.simulator import simulate_scout


@pytest.fixture(scope="module")
def shipped():
    return load_segmentation_model()


def test_grid_coordinates_invert_the_working_grid_resampling():
    config = PreprocessConfig(grid=64, fov_mm=160.0)
    shape, spacing = (150, 120), (1.4, 1.9)
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    centre_mm = np.array([(rows - 80) * spacing[0], (cols - 50) * spacing[1]])
    disc = (centre_mm**2).sum(0) <= 30.0**2  # 30 mm radius, off centre
    on_grid = mask_on_grid(disc, spacing, config)
    from scipy import ndimage

    back = ndimage.map_coordinates(on_grid, grid_coordinates(shape, spacing, config), order=1) >= 0.5
    inside = disc & ~(np.abs(grid_coordinates(shape, spacing, config)) > config.grid - 1).any(0)
    dice = 2 * (back & inside).sum() / (back.sum() + inside.sum())
    assert dice > 0.95
    assert on_grid.sum() * (config.fov_mm / config.grid) ** 2 == pytest.approx(np.pi * 30.0**2, rel=0.05)


def test_features_are_independent_of_frame_count_and_scale():
    simulated = simulate_scout(np.random.default_rng(5))
    features = scout_features(simulated.scout)
    assert features.shape == (7, 96, 96) and np.isfinite(features).all()
    from dataclasses import replace

    scaled = scout_features(replace(simulated.scout, frames=simulated.scout.frames * 7.0))
    np.testing.assert_allclose(scaled, features, rtol=1e-4, atol=1e-5)


def test_empty_probability_is_a_clear_error():
    with pytest.raises(ScoutError, match="No myocardium found"):
        myocardium_mask(np.zeros((20, 20)))


def _dice(a, b):
    return 2 * np.count_nonzero(a & b) / max(1, np.count_nonzero(a) + np.count_nonzero(b))


def test_shipped_weights_find_the_myocardium_of_held_out_scouts(shipped):
    """Seeds 990000+ are not training seeds (training uses 20261130 + i)."""
    assert DEFAULT_SEGMENTATION_PATH.is_file()
    dices, errors = [], []
    for seed in range(990000, 990012):
        simulated = simulate_scout(np.random.default_rng(seed))
        probability = shipped.myocardium_probability(simulated.scout)
        assert probability.shape == simulated.scout.frames.shape[1:]
        dices.append(_dice(myocardium_mask(probability), simulated.myocardium_mask))
        fit, used = fit_automatic_myocardium(simulated.scout, probability)
        assert used.sum() >= 8 and not (used & ~myocardium_mask(probability)).any()
        errors.append(fit.null_ti_ms - simulated.null_ti_ms)
    assert np.median(dices) > 0.6
    assert np.mean(np.abs(errors) <= 15.0) >= 10 / 12, errors


def _ring_scout_with_blood(blood_t1_star_ms: float, amplitude: float = 0.6, mixed_to_radius: float = 12.5):
    """Magnitude scout of a myocardial ring (null 300 ln 2.2 = 236.5 ms) around a blood pool; the
    endocardial side of the wall mixes in blood (partial volume)."""
    ti = np.arange(100.0, 900.0, 40.0)
    size = 48
    rows, cols = np.mgrid[0:size, 0:size]
    radius = np.hypot(rows - size / 2, cols - size / 2)
    ring = (radius >= 8) & (radius <= 14)
    myocardium = 1.0 - 2.2 * np.exp(-ti / 300.0)
    blood = 1.3 * (1.0 - 2.2 * np.exp(-ti / blood_t1_star_ms))
    blood_fraction = np.where(ring, amplitude * np.clip((mixed_to_radius - radius) / (mixed_to_radius - 8.0), 0.0, 1.0), 0.0)
    blood_fraction[radius < 8] = 1.0
    signal = (1 - blood_fraction)[None] * myocardium[:, None, None] + blood_fraction[None] * blood[:, None, None]
    frames = np.abs(np.where((radius <= 14)[None], signal, 0.0)) * 1000.0
    frames += np.random.default_rng(2).normal(0, 2.0, frames.shape)
    scout = TIScout(frames=np.abs(frames).astype(np.float32), ti_ms=ti, pixel_spacing_mm=(1.5, 1.5))
    return scout, ring, radius, 300.0 * np.log(2.2)


def test_pixel_filter_leans_on_the_late_nulling_pixels_when_blood_contaminates_the_core():
    """Partial volume with blood (earlier null, post-contrast) drags a median reference early; the upper
    quantile less so."""
    scout, ring, radius, true_null = _ring_scout_with_blood(blood_t1_star_ms=200.0)  # blood null 158 ms
    probability = ring.astype(float)
    upper, used = fit_automatic_myocardium(scout, probability)
    median, used_median = fit_automatic_myocardium(scout, probability, reference_quantile=0.5)
    assert median.null_ti_ms < upper.null_ti_ms < true_null  # contamination only pulls the null early
    assert LATE_CONTAMINATION_WARNING not in upper.warnings
    assert upper.null_ti_ms - median.null_ti_ms > 5.0
    assert radius[used].mean() > radius[used_median].mean()  # the kept pixels sit further from the blood


def test_narrow_band_around_the_reference_keeps_the_fit_closer_to_the_pure_wall():
    """The mean curve of the kept pixels nulls where most of them lie; below the reference most do, so
    a wider band pulls the null early (default: 10 ms, 20 ms only when 10 ms keeps too few pixels)."""
    scout, ring, _, true_null = _ring_scout_with_blood(blood_t1_star_ms=200.0)
    probability = ring.astype(float)
    default, used = fit_automatic_myocardium(scout, probability)
    wide, used_wide = fit_automatic_myocardium(scout, probability, band_ms=(20.0,))
    assert wide.null_ti_ms < default.null_ti_ms < true_null
    assert default.null_ti_ms - wide.null_ti_ms > 3.0
    assert used.sum() < used_wide.sum() and not (used & ~used_wide).any()
    tiny, used_tiny = fit_automatic_myocardium(scout, probability, band_ms=(0.01, 20.0))
    assert np.array_equal(used_tiny, used_wide)  # a band that keeps < 8 pixels falls through to the next


def test_pixel_filter_leans_on_the_early_nulling_pixels_when_blood_nulls_later():
    """Native scans and reverse kinetics: blood nulls after the myocardium, contamination pulls late; the
    blood pool inside the ring tells the filter, and the most common pixel null (the pure wall) is used."""
    from TINullCorrectionLib.core.automatic_myocardium import blood_pool_of
    from TINullCorrectionLib.core.irfit import fit_pixelwise

    scout, ring, radius, true_null = _ring_scout_with_blood(blood_t1_star_ms=450.0, mixed_to_radius=10.5)  # blood null 355 ms
    pool = blood_pool_of(ring)
    assert pool.sum() > 100 and not (pool & ring).any()
    probability = ring.astype(float)
    chosen, used = fit_automatic_myocardium(scout, probability)
    assert chosen.null_ti_ms == pytest.approx(true_null, abs=3.0)
    assert LATE_CONTAMINATION_WARNING in chosen.warnings  # native scan or reverse kinetics: say so
    nulls = fit_pixelwise(scout, ring)["null_ti_ms"]
    assert np.nanquantile(nulls[ring], 0.7) - true_null > 10.0  # where the post-contrast rule would look
    rows, cols = np.mgrid[0:48, 0:48]
    open_ring = ring & ~((np.abs(cols - 24) <= 2) & (rows < 24))
    assert not blood_pool_of(open_ring).any()  # a gap in the ring: no blood pool is claimed


def test_contamination_side_and_mode_of_pixel_nulls():
    from TINullCorrectionLib.core.automatic_myocardium import contamination_side, null_mode_ms

    rng = np.random.default_rng(5)
    pure = rng.normal(400.0, 4.0, 200)
    early_tail = np.concatenate([pure, rng.uniform(300.0, 390.0, 80)])
    late_tail = np.concatenate([pure, rng.uniform(410.0, 520.0, 80)])
    assert contamination_side(early_tail, np.array([])) == "early"
    assert contamination_side(late_tail, np.array([])) == "late"
    assert contamination_side(pure, np.array([])) == "unknown"
    assert contamination_side(pure, np.full(20, 600.0)) == "late"  # the blood pool outranks the tail
    assert contamination_side(late_tail, np.full(20, 250.0)) == "early"
    assert contamination_side(pure, np.full(5, 600.0)) == "unknown"  # too few blood pixels to count
    assert null_mode_ms(late_tail) == pytest.approx(400.0, abs=3.0)
    assert null_mode_ms(np.array([np.nan, 380.0, 381.0, 382.0, 450.0])) == pytest.approx(381.0, abs=1.5)


@pytest.mark.realdata
def test_native_look_locker_automatic_myocardium_agrees_with_the_septal_fit(shipped, shared_data):
    """Real native (pre-contrast) Philips Look-Locker, middle slice: outside the U-Net's training range it
    also marks blood, which nulls *later* here; the filter must notice (right tail) and keep the wall. The
    hand-placed septal ROI fits to ~655 ms (test_irfit.test_real_look_locker_septal_null)."""
    from TINullCorrectionLib.core.automatic_myocardium import contamination_side
    from TINullCorrectionLib.core.irfit import fit_pixelwise, fit_scout_roi
    from TINullCorrectionLib.io.dicom import load_ti_scouts

    scout = load_ti_scouts(shared_data / "look_locker_native_philips")[1]
    septum = np.zeros(scout.frames.shape[1:], bool)
    septum[118:134, 123:127] = True
    septal = fit_scout_roi(scout, septum).null_ti_ms
    probability = shipped.myocardium_probability(scout)
    core = ndimage.binary_erosion(myocardium_mask(probability))
    nulls = fit_pixelwise(scout, core)["null_ti_ms"][core]
    assert contamination_side(nulls, np.array([])) == "late"
    fit, used = fit_automatic_myocardium(scout, probability)
    assert used.sum() >= 50 and fit.r_squared > 0.98
    assert LATE_CONTAMINATION_WARNING in fit.warnings
    assert abs(fit.null_ti_ms - septal) < 30.0
