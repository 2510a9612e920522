"""Simulator of synthetic TI scouts: exact labels (analytic null), reproducibility, masks, physics cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from TINullCorrectionLib.core.types import TIScout
from TINullCorrectionLib.sim.simulator import (
    SimulatedScout,
    SimulationRanges,
    apparent_null_ti_ms,
    recovery_curves,
    shift_frames,
    simulate_scout,
    t1_for_null_ms,
)

CLEAN = {"snr": math.inf, "blur_sigma_px": 0.0, "motion_mm": 0.0, "flow_artefact": 0.0, "matrix": 96}


def _mean(sim: SimulatedScout, mask: np.ndarray) -> np.ndarray:
    return sim.scout.frames[:, mask].mean(axis=1)


def test_null_formula_matches_textbook_and_inverse():
    # B/A = 2 (perfect inversion, no readout saturation): null = T1 ln 2.
    assert apparent_null_ti_ms(500.0, 2.0) == pytest.approx(500.0 * math.log(2.0))
    assert t1_for_null_ms(apparent_null_ti_ms(430.0, 1.8), 1.8) == pytest.approx(430.0)
    curves = recovery_curves(np.array([apparent_null_ti_ms(430.0, 1.8)]), np.array([430.0]), 1.8)
    assert abs(curves[0, 0]) < 1e-12
    with pytest.raises(ValueError):
        apparent_null_ti_ms(400.0, 1.0)


def test_label_is_exact_noise_free_myocardium_is_zero_at_null():
    null = 300.0
    ti = np.arange(100.0, 600.0, 10.0)
    sim = simulate_scout(np.random.default_rng(1), ti_ms=ti, null_ti_ms=null, phase_sensitive=True, **CLEAN)
    assert sim.null_ti_ms == pytest.approx(null)
    np.testing.assert_allclose(sim.offset_ms, sim.scout.ti_ms - sim.null_ti_ms)
    myo = _mean(sim, sim.myocardium_mask)
    recovered = myo[-1]
    assert recovered > 0
    at_null = int(np.argmin(np.abs(ti - null)))
    assert abs(myo[at_null]) < 1e-4 * recovered  # the frame at TI == null: zero signal
    # signed curve: negative before, positive after (phase-sensitive sign flip exactly at the null)
    assert np.all(myo[ti < null] < 0) and np.all(myo[ti > null] > 0)


def test_magnitude_curve_has_its_minimum_at_the_null():
    sim = simulate_scout(np.random.default_rng(2), ti_ms=np.arange(80.0, 700.0, 5.0), phase_sensitive=False,
                         scar=False, **CLEAN)
    myo = _mean(sim, sim.myocardium_mask)
    assert np.all(sim.scout.frames >= 0)
    assert abs(sim.scout.ti_ms[int(np.argmin(myo))] - sim.null_ti_ms) <= 2.5


def test_noisy_magnitude_minimum_near_null_and_snr_matches():
    sim = simulate_scout(np.random.default_rng(3), n_frames=30, ti_step_ms=20.0, first_ti_ms=100.0,
                         null_ti_ms=350.0, snr=20.0, phase_sensitive=False, blur_sigma_px=0.0,
                         motion_mm=0.0, coil_shading=0.0, matrix=128)
    myo = _mean(sim, sim.myocardium_mask)
    assert abs(sim.scout.ti_ms[int(np.argmin(myo))] - 350.0) <= 20.0
    # SNR: recovered myocardium mean / noise sigma (last frame is far from the null: Rician ~ Gaussian)
    sigma = sim.parameters["noise_sigma"]
    plateau = sim.parameters["intensity_scale"] * (1 - sim.parameters["b_over_a"] * math.exp(
        -sim.scout.ti_ms[-1] / sim.parameters["t1_star_myocardium_ms"]))
    assert myo[-1] == pytest.approx(plateau, rel=0.05)
    assert sim.parameters["intensity_scale"] / sigma == pytest.approx(20.0, rel=1e-3)


def test_reproducible_with_seed_and_different_without():
    a = simulate_scout(np.random.default_rng(42), matrix=64)
    b = simulate_scout(np.random.default_rng(42), matrix=64)
    c = simulate_scout(np.random.default_rng(43), matrix=64)
    np.testing.assert_array_equal(a.scout.frames, b.scout.frames)
    np.testing.assert_array_equal(a.scout.ti_ms, b.scout.ti_ms)
    assert a.null_ti_ms == b.null_ti_ms and a.parameters == b.parameters
    assert a.null_ti_ms != c.null_ti_ms


def test_masks_are_consistent():
    sim = simulate_scout(np.random.default_rng(5), scar=True, matrix=128, pixel_spacing_mm=1.5,
                         scar_transmurality=1.0, scar_sector_deg=90.0)
    shape = sim.scout.frames.shape[1:]
    for mask in (sim.myocardium_mask, sim.blood_mask, sim.scar_mask):
        assert mask.shape == shape and mask.dtype == bool and mask.any()
    assert not (sim.myocardium_mask & sim.blood_mask).any()
    assert not (sim.myocardium_mask & sim.scar_mask).any()
    assert not (sim.blood_mask & sim.scar_mask).any()
    # blood pool is enclosed by the myocardial ring: its centroid lies inside the ring's bounding box
    rows, cols = np.nonzero(sim.blood_mask)
    ring_rows, ring_cols = np.nonzero(sim.myocardium_mask | sim.scar_mask)
    assert ring_rows.min() < rows.mean() < ring_rows.max() and ring_cols.min() < cols.mean() < ring_cols.max()
    no_scar = simulate_scout(np.random.default_rng(5), scar=False, matrix=64)
    assert not no_scar.scar_mask.any()


def test_reverse_kinetics_myocardium_nulls_before_blood():
    normal = simulate_scout(np.random.default_rng(6), reverse_kinetics=False, **CLEAN)
    reverse = simulate_scout(np.random.default_rng(6), reverse_kinetics=True, **CLEAN)
    assert normal.tissue_t1_ms["blood"] < normal.tissue_t1_ms["myocardium"]
    assert reverse.tissue_t1_ms["blood"] > reverse.tissue_t1_ms["myocardium"]
    ti = np.arange(50.0, 900.0, 5.0)
    sim = simulate_scout(np.random.default_rng(6), reverse_kinetics=True, ti_ms=ti, phase_sensitive=True, **CLEAN)
    myo, blood = _mean(sim, sim.myocardium_mask), _mean(sim, sim.blood_mask)
    assert ti[np.argmax(myo > 0)] < ti[np.argmax(blood > 0)]


def test_native_scouts_are_opt_in_and_have_native_t1():
    """Native (pre-contrast) scouts: only when asked (the default stream and test sets stay post-contrast);
    myocardium T1 in the native range, blood nulling after it, the null within the sampled TIs."""
    default = simulate_scout(np.random.default_rng(6), **CLEAN)
    assert default.parameters["native"] is False
    ranges = SimulationRanges(p_native=1.0)
    rng = np.random.default_rng(8)
    for _ in range(6):
        sim = simulate_scout(rng, ranges, **CLEAN)
        t1 = sim.tissue_t1_ms
        high = sim.field_strength_t >= 2.25
        low_t1, high_t1 = ranges.native_myocardium_t1_ms_3t if high else ranges.native_myocardium_t1_ms_1p5t
        assert sim.parameters["native"] is True and low_t1 <= t1["myocardium"] <= high_t1
        assert t1["blood"] > 1.3 * t1["myocardium"] and t1["scar"] > t1["myocardium"]
        assert 450.0 < sim.null_ti_ms < 1000.0
    forced = simulate_scout(np.random.default_rng(6), native=True, **CLEAN)
    assert forced.parameters["native"] is True and forced.null_ti_ms > default.null_ti_ms + 200.0
    with pytest.raises(ValueError, match="p_native"):
        SimulationRanges(p_native=1.5)


def test_scar_nulls_earlier_than_remote_myocardium():
    ti = np.arange(50.0, 900.0, 5.0)
    sim = simulate_scout(np.random.default_rng(7), scar=True, ti_ms=ti, phase_sensitive=True,
                         scar_transmurality=1.0, scar_sector_deg=120.0, pixel_spacing_mm=1.2, **CLEAN)
    assert sim.tissue_t1_ms["scar"] < sim.tissue_t1_ms["myocardium"]
    scar, myo = _mean(sim, sim.scar_mask), _mean(sim, sim.myocardium_mask)
    assert ti[np.argmax(scar > 0)] < ti[np.argmax(myo > 0)]
    # at the remote null the scar is bright (that is what LGE relies on)
    at_null = int(np.argmin(np.abs(ti - sim.null_ti_ms)))
    assert scar[at_null] > 0.1 * myo[-1]


def test_most_series_contain_the_null_and_match_scanner_sampling():
    inside = 0
    for seed in range(60):
        sim = simulate_scout(np.random.default_rng(seed), matrix=32, snr=math.inf)
        ti = sim.scout.ti_ms
        inside += ti[0] <= sim.null_ti_ms <= ti[-1]
        assert 15 <= ti.size <= 30 and 50.0 <= ti[0] <= 150.0
        assert np.all(np.diff(ti) >= 20.0 * 0.97 - 0.01) and np.all(np.diff(ti) <= 160.0 * 1.03 + 0.01)
    assert inside >= 50


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_parameters_within_ranges(seed):
    r = SimulationRanges()
    sim = simulate_scout(np.random.default_rng(seed), r, matrix=32)
    p = sim.parameters
    assert isinstance(sim.scout, TIScout)
    assert sim.field_strength_t in r.field_strengths_t
    assert r.b_over_a[0] <= p["b_over_a"] <= r.b_over_a[1]
    myo_range = r.myocardium_t1_ms_3t if sim.field_strength_t > 2 else r.myocardium_t1_ms_1p5t
    assert myo_range[0] <= sim.tissue_t1_ms["myocardium"] <= myo_range[1]
    ratio = sim.tissue_t1_ms["blood"] / sim.tissue_t1_ms["myocardium"]
    blood_range = r.blood_to_myocardium_t1_reverse if p["reverse_kinetics"] else r.blood_to_myocardium_t1
    assert blood_range[0] - 1e-9 <= ratio <= blood_range[1] + 1e-9
    assert sim.tissue_t1_ms["scar"] < sim.tissue_t1_ms["myocardium"]
    for name in ("snr", "slice_thickness_mm", "pixel_spacing_mm", "wall_thickness_mm", "blur_sigma_px"):
        low, high = getattr(r, name)
        assert low <= p[name] <= high, name
    assert r.n_frames[0] <= sim.scout.n_frames <= r.n_frames[1]
    assert np.all(np.isfinite(sim.scout.frames)) and sim.scout.frames.dtype == np.float32
    assert sim.null_ti_ms == pytest.approx(apparent_null_ti_ms(sim.tissue_t1_ms["myocardium"], p["b_over_a"]))
    np.testing.assert_allclose(sim.offset_ms, sim.scout.ti_ms - sim.null_ti_ms)
    if not sim.scout.phase_sensitive:
        assert sim.scout.frames.min() >= 0


def test_geometry_is_an_oblique_orthonormal_plane():
    sim = simulate_scout(np.random.default_rng(8), matrix=(96, 112), pixel_spacing_mm=1.8, slice_thickness_mm=8.0)
    assert sim.scout.frames.shape[1:] == (96, 112)
    m = sim.scout.ijk_to_ras[:3, :3]
    np.testing.assert_allclose(np.linalg.norm(m, axis=0), [1.8, 1.8, 8.0])
    np.testing.assert_allclose(m.T @ m, np.diag([1.8**2, 1.8**2, 64.0]), atol=1e-9)
    assert sim.scout.pixel_spacing_mm == (1.8, 1.8) and sim.scout.slice_thickness_mm == 8.0
    assert np.count_nonzero(np.abs(m[:, 2]) > 0.1) >= 2  # oblique, not a cardinal plane


def test_bad_parameters_are_clear_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="Unknown simulate_scout override"):
        simulate_scout(rng, matirx=128)
    with pytest.raises(ValueError, match="n_frames"):
        simulate_scout(rng, n_frames=2)
    with pytest.raises(ValueError, match="b_over_a"):
        simulate_scout(rng, b_over_a=0.9)
    with pytest.raises(ValueError, match="snr"):
        simulate_scout(rng, snr=0.0, matrix=32)
    with pytest.raises(ValueError, match="ti_ms"):
        simulate_scout(rng, ti_ms=[100.0, 90.0, 200.0])
    with pytest.raises(ValueError, match="low <= high"):
        SimulationRanges(snr=(60.0, 10.0))
    with pytest.raises(ValueError, match="probability"):
        SimulationRanges(p_scar=1.5)
    with pytest.raises(ValueError, match="Generator"):
        simulate_scout(0)


def test_shift_frames_moves_content_bilinearly():
    frames = np.zeros((2, 9, 9), dtype=np.float32)
    frames[:, 4, 4] = 1.0
    moved = shift_frames(frames, np.array([[1.0, -2.0], [0.5, 0.0]]))
    assert moved[0, 5, 2] == pytest.approx(1.0) and moved[0].sum() == pytest.approx(1.0)
    assert moved[1, 4, 4] == pytest.approx(0.5) and moved[1, 5, 4] == pytest.approx(0.5)


def test_motion_changes_frames_but_not_labels():
    still = simulate_scout(np.random.default_rng(11), matrix=64, snr=math.inf, motion_mm=0.0)
    moving = simulate_scout(np.random.default_rng(11), matrix=64, snr=math.inf, motion_mm=1.5)
    assert still.null_ti_ms == moving.null_ti_ms
    np.testing.assert_array_equal(still.offset_ms, moving.offset_ms)
    assert not np.allclose(still.scout.frames, moving.scout.frames)
    assert np.abs(np.asarray(moving.parameters["motion_shift_px"])).max() <= 1.5 / moving.parameters["pixel_spacing_mm"] + 1e-9
