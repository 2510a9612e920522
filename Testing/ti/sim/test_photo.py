"""Monitor-photo degradation: deterministic, labels kept, masks follow the warp, 3 MP worse than 4K."""

from __future__ import annotations

import math

import numpy as np
import pytest
from TINullCorrectionLib.sim.photo import (
    degrade_as_monitor_photo,
    degrade_scout_as_photo,
    display_window,
    perspective_coefficients,
)
from TINullCorrectionLib.sim.simulator import simulate_scout

CLEAN = {"snr": math.inf, "blur_sigma_px": 0.0, "motion_mm": 0.0, "flow_artefact": 0.0}


@pytest.fixture(scope="module")
def sim():
    return simulate_scout(np.random.default_rng(4), matrix=96, n_frames=16, phase_sensitive=False, **CLEAN)


def test_deterministic_with_seed_and_shapes(sim):
    a = degrade_as_monitor_photo(sim.scout.frames, np.random.default_rng(1), "4k")
    b = degrade_as_monitor_photo(sim.scout.frames, np.random.default_rng(1), "4k")
    c = degrade_as_monitor_photo(sim.scout.frames, np.random.default_rng(2), "4k")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == sim.scout.frames.shape and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 255
    one = degrade_as_monitor_photo(sim.scout.frames[3], np.random.default_rng(1), "3mp", out_shape=(64, 80))
    assert one.shape == (64, 80)


def test_identity_homography_coefficients():
    coefficients = perspective_coefficients(np.array([[0, 0], [100, 0], [100, 50], [0, 50]]), (100, 50))
    np.testing.assert_allclose(coefficients, [1, 0, 0, 0, 1, 0, 0, 0], atol=1e-12)
    halved = perspective_coefficients(np.array([[0, 0], [50, 0], [50, 25], [0, 25]]), (100, 50))
    np.testing.assert_allclose(halved, [0.5, 0, 0, 0, 0.5, 0, 0, 0], atol=1e-12)


def test_display_window_is_8_bit():
    frames = np.linspace(0, 1000, 4 * 8 * 8, dtype=np.float32).reshape(4, 8, 8)
    window = display_window(frames, np.random.default_rng(0), (1.0, 1.0))
    np.testing.assert_allclose(window * 255, np.round(window * 255), atol=1e-6)
    assert window.min() == 0 and window.max() == 1


def _error_vs_ideal(sim, monitor: str, seeds) -> float:
    """1 - correlation between the photo and the ideal windowed frames, averaged over frames and seeds."""
    ideal = sim.scout.frames
    errors = []
    for seed in seeds:
        photo = degrade_as_monitor_photo(ideal, np.random.default_rng(seed), monitor)
        for frame, reference in zip(photo, ideal, strict=True):
            errors.append(1.0 - np.corrcoef(frame.ravel(), reference.ravel())[0, 1])
    return float(np.mean(errors))


def test_3mp_monitor_is_worse_than_4k(sim):
    seeds = range(4)
    error_4k, error_3mp = _error_vs_ideal(sim, "4k", seeds), _error_vs_ideal(sim, "3mp", seeds)
    assert 0.0 < error_4k < error_3mp
    assert error_4k < 0.2  # still the same picture


def test_scout_photo_keeps_labels_and_moves_masks(sim):
    ti = np.arange(80.0, 700.0, 20.0)
    clean = simulate_scout(np.random.default_rng(9), ti_ms=ti, matrix=96, phase_sensitive=True, scar=False, **CLEAN)
    photo = degrade_scout_as_photo(clean, np.random.default_rng(0), "4k")
    np.testing.assert_array_equal(photo.scout.ti_ms, clean.scout.ti_ms)
    np.testing.assert_array_equal(photo.offset_ms, clean.offset_ms)
    assert photo.null_ti_ms == clean.null_ti_ms and not photo.scout.phase_sensitive
    assert "4k" in photo.scout.warnings[-1] and photo.parameters["photo"]["monitor"] == "4k"
    overlap = (photo.blood_mask & clean.blood_mask).sum() / (photo.blood_mask | clean.blood_mask).sum()
    assert overlap > 0.5
    # the photographed phase-sensitive series: zero signal is mid-grey, so the myocardium crosses the
    # grey level of zero signal at the null (displayed levels rise monotonically through it)
    myo = photo.scout.frames[:, photo.blood_mask | photo.myocardium_mask].mean(axis=1)
    assert myo[-1] > myo[0]


def test_magnitude_photo_minimum_stays_at_the_null():
    ti = np.arange(80.0, 700.0, 20.0)
    clean = simulate_scout(np.random.default_rng(12), ti_ms=ti, matrix=128, pixel_spacing_mm=1.4,
                           wall_thickness_mm=12.0, phase_sensitive=False, scar=False, **CLEAN)
    photo = degrade_scout_as_photo(clean, np.random.default_rng(3), "3mp")
    myo = photo.scout.frames[:, photo.myocardium_mask].mean(axis=1)
    assert photo.myocardium_mask.sum() > 10
    assert abs(ti[int(np.argmin(myo))] - clean.null_ti_ms) <= 40.0


def test_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="monitor"):
        degrade_as_monitor_photo(np.zeros((3, 16, 16)), rng, "8k")
    with pytest.raises(ValueError, match="shape"):
        degrade_as_monitor_photo(np.zeros((16,)), rng)
    with pytest.raises(ValueError, match="NaN"):
        degrade_as_monitor_photo(np.full((2, 16, 16), np.nan), rng)


def test_photos_of_chosen_frames_are_those_of_the_series_photo():
    """Training photographs only the frames it uses: same display window (the whole series') and camera pose."""
    from TINullCorrectionLib.sim.photo import degrade_as_monitor_photo, photograph_frames

    frames = np.random.default_rng(1).random((6, 48, 48)).astype(np.float32) * np.linspace(0.1, 1.0, 6)[:, None, None]
    whole = degrade_as_monitor_photo(frames, np.random.default_rng(7), "4k")
    first = photograph_frames(frames, np.random.default_rng(7), "4k", [0])
    assert first.shape == (1, 48, 48)
    np.testing.assert_array_equal(first[0], whole[0])
