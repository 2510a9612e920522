"""Inversion-recovery fits: analytic curves (exact and noisy), polarity restoration, bad input, the real
NIST/Caliber IR spin-echo phantom on three vendors, and the real Philips native Look-Locker."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi
from TINullCorrectionLib.core.irfit import (
    MODEL_IR_SE,
    MODEL_LL_MAGNITUDE,
    MODEL_LL_PHASE,
    fit_inversion_recovery,
    fit_ir_spin_echo,
    fit_pixelwise,
    fit_scout_roi,
    roi_signal,
)
from TINullCorrectionLib.core.types import ScoutError, TIScout
from TINullCorrectionLib.io.dicom import load_ti_scouts

TI_LL = np.arange(100.0, 1700.0, 80.0)  # 20 frames, 80 ms apart (like a post-contrast Look-Locker)


def ll_signal(ti, a, b, t1_star):
    return a - b * np.exp(-np.asarray(ti, float) / t1_star)


# --------------------------------------------------------------------------------------- analytic cases
@pytest.mark.parametrize(
    "a, b, t1_star",
    [(1000.0, 1900.0, 350.0), (800.0, 2000.0, 250.0), (1200.0, 2300.0, 600.0), (500.0, 1000.0, 150.0)],
)
def test_noise_free_magnitude_recovers_parameters_exactly(a, b, t1_star):
    signal = ll_signal(TI_LL, a, b, t1_star)
    result = fit_inversion_recovery(TI_LL, np.abs(signal))
    assert result.model == MODEL_LL_MAGNITUDE
    assert result.null_ti_ms == pytest.approx(t1_star * math.log(b / a), abs=1e-3)
    assert result.t1_star_ms == pytest.approx(t1_star, rel=1e-5)
    assert result.a == pytest.approx(a, rel=1e-5) and result.b == pytest.approx(b, rel=1e-5)
    assert result.t1_ms == pytest.approx(t1_star * (b / a - 1), rel=1e-5)
    assert result.n_flipped == int(np.sum(signal < 0))  # polarity restoration picked the right k
    assert result.r_squared == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("phase_sensitive", [False, True])
def test_noisy_curves_recover_null_within_tolerance(phase_sensitive):
    """SNR 100 (noise SD 1% of A): the null within 3 ms over 20 noise draws, and the reported 1-sigma
    uncertainty agrees with the scatter of the estimates."""
    a, b, t1_star = 1000.0, 1950.0, 320.0
    true_null = t1_star * math.log(b / a)
    rng = np.random.default_rng(7)
    nulls, sds = [], []
    for _ in range(20):
        signal = ll_signal(TI_LL, a, b, t1_star) + rng.normal(0.0, 10.0, TI_LL.size)
        if not phase_sensitive:
            signal = np.abs(signal)
        result = fit_inversion_recovery(TI_LL, signal, phase_sensitive=phase_sensitive)
        nulls.append(result.null_ti_ms)
        sds.append(result.null_uncertainty_ms)
        assert result.model == (MODEL_LL_PHASE if phase_sensitive else MODEL_LL_MAGNITUDE)
    nulls = np.asarray(nulls)
    assert np.max(np.abs(nulls - true_null)) < 3.0
    assert 0.4 < np.std(nulls) / np.mean(sds) < 2.5


def test_uncertainty_equals_delta_method_on_curve_fit_covariance():
    """Our covariance s^2 (J^T J)^-1 is scipy's curve_fit pcov; the null SD is the delta method on it."""
    from scipy.optimize import curve_fit

    rng = np.random.default_rng(2)
    signal = ll_signal(TI_LL, 1000.0, 1950.0, 320.0) + rng.normal(0, 10.0, TI_LL.size)
    result = fit_inversion_recovery(TI_LL, signal, phase_sensitive=True)
    params, pcov = curve_fit(ll_signal, TI_LL, signal, p0=[1000.0, 2000.0, 300.0])
    a, b, t1_star = params
    gradient = np.array([-t1_star / a, t1_star / b, math.log(b / a)])
    assert result.null_ti_ms == pytest.approx(t1_star * math.log(b / a), abs=1e-4)
    assert result.null_uncertainty_ms == pytest.approx(math.sqrt(gradient @ pcov @ gradient), rel=1e-4)


@settings(max_examples=25, deadline=None)
@given(
    a=st.floats(200.0, 3000.0),
    ratio=st.floats(1.3, 2.6),
    t1_star=st.floats(80.0, 1200.0),
    phase_sensitive=st.booleans(),
)
def test_property_noise_free_null_is_exact(a, ratio, t1_star, phase_sensitive):
    signal = ll_signal(TI_LL, a, a * ratio, t1_star)
    result = fit_inversion_recovery(TI_LL, signal if phase_sensitive else np.abs(signal), phase_sensitive)
    assert result.null_ti_ms == pytest.approx(t1_star * math.log(ratio), rel=1e-4, abs=0.05)


def test_polarity_restoration_distinguishes_before_and_after_null():
    """Frames at the same distance before and after the null look alike in magnitude; the fit must still
    put the null between them: flipping 0 or 2 points instead of the right number gives another curve."""
    a, b, t1_star = 1000.0, 2000.0, 400.0
    null = t1_star * math.log(2.0)  # 277 ms
    ti = np.array([null - 120, null - 60, null + 60, null + 120, 600, 900, 1300, 1800])
    result = fit_inversion_recovery(ti, np.abs(ll_signal(ti, a, b, t1_star)))
    assert result.n_flipped == 2
    assert result.null_ti_ms == pytest.approx(null, abs=1e-3)


def test_all_points_before_null_are_flipped_and_extrapolation_warned():
    ti = np.array([100.0, 150, 200, 250, 300])
    signal = np.abs(ll_signal(ti, 1000.0, 2000.0, 600.0))  # null at 416 ms, after the last TI
    result = fit_inversion_recovery(ti, signal)
    assert result.n_flipped == ti.size
    assert result.null_ti_ms == pytest.approx(600 * math.log(2), rel=1e-4)
    assert any("after the last TI" in w for w in result.warnings)


def test_three_points_fit_exactly_without_uncertainty():
    ti = np.array([100.0, 400.0, 900.0])
    result = fit_inversion_recovery(ti, ll_signal(ti, 1000, 2000, 300), phase_sensitive=True)
    assert result.null_ti_ms == pytest.approx(300 * math.log(2), rel=1e-5)
    assert math.isinf(result.null_uncertainty_ms)
    assert any("Only 3 points" in w for w in result.warnings)


def test_no_zero_crossing_is_reported_not_hidden():
    ti = TI_LL
    result = fit_inversion_recovery(ti, ll_signal(ti, 1000.0, 700.0, 300.0), phase_sensitive=True)
    assert math.isnan(result.null_ti_ms)
    assert any("never crosses zero" in w for w in result.warnings)
    assert any("B/A" in w for w in result.warnings)


def test_unsorted_input_is_sorted_with_its_signal():
    signal = np.abs(ll_signal(TI_LL, 1000, 1900, 350))
    order = np.random.default_rng(3).permutation(TI_LL.size)
    result = fit_inversion_recovery(TI_LL[order], signal[order])
    assert result.null_ti_ms == pytest.approx(350 * math.log(1.9), abs=1e-3)


@pytest.mark.parametrize(
    "ti, signal, message",
    [
        ([100, 200], [1, 2], "at least 3 points"),
        ([100, 200, 300], [1, np.nan, 2], "finite"),
        ([100, 200, np.inf], [1, 2, 3], "finite"),
        ([100, 200, 300], [0, 0, 0], "zero at every TI"),
        ([100, 200, 300], [1, 2], "3 TI values for 2"),
        ([100, 100, 100, 200], [1, 2, 3, 4], "distinct"),
        ([100, 200, 300], [-1, 2, 3], "phase_sensitive=True"),
    ],
)
def test_bad_input_raises_clear_error(ti, signal, message):
    with pytest.raises(ScoutError, match=message):
        fit_inversion_recovery(ti, signal)


# ------------------------------------------------------------------------------------------ spin echo
def se_signal(ti, tr, m0, t1, eff):
    ti, tr = np.asarray(ti, float), np.asarray(tr, float)
    return m0 * (1 - (1 + eff) * np.exp(-ti / t1) + np.exp(-tr / t1))


@pytest.mark.parametrize("t1, eff", [(180.0, 1.0), (500.0, 0.95), (1400.0, 0.98)])
def test_spin_echo_scalar_tr_matches_analytic_null(t1, eff):
    ti = np.array([50.0, 100, 200, 400, 600, 800])
    tr = 1000.0
    result = fit_ir_spin_echo(ti, np.abs(se_signal(ti, tr, 900.0, t1, eff)), tr)
    assert result.model == MODEL_IR_SE
    assert result.t1_ms == pytest.approx(t1, rel=1e-5)
    assert result.inversion_efficiency == pytest.approx(eff, abs=1e-5)
    # null: (1 + eff) exp(-TI/T1) = 1 + exp(-TR/T1); for eff = 1 this is T1 ln(2 / (1 + exp(-TR/T1)))
    assert result.null_ti_ms == pytest.approx(t1 * math.log((1 + eff) / (1 + math.exp(-tr / t1))), rel=1e-5)


def test_spin_echo_with_tr_growing_with_ti():
    """Siemens phantom protocol: TR 1000 ms up to TI 200 ms, then 1260/1860/2460 ms."""
    ti = np.array([50.0, 100, 200, 400, 600, 800])
    tr = np.array([1000.0, 1000, 1000, 1260, 1860, 2460])
    signal = np.abs(se_signal(ti, tr, 1000.0, 1000.0, 0.97))
    rng = np.random.default_rng(0)
    result = fit_ir_spin_echo(ti, signal + rng.normal(0, 2.0, ti.size), tr)
    assert result.t1_ms == pytest.approx(1000.0, rel=0.02)
    assert result.t1_uncertainty_ms < 30
    wrong = fit_ir_spin_echo(ti, signal, 1000.0)  # ignoring the longer TRs biases T1
    assert abs(wrong.t1_ms - 1000.0) > 50


def test_spin_echo_bad_tr():
    ti = [50.0, 100.0, 200.0]
    with pytest.raises(ScoutError, match="longer than its TI"):
        fit_ir_spin_echo(ti, [1, 2, 3], [1000, 1000, 150])
    with pytest.raises(ScoutError, match="2 TR values"):
        fit_ir_spin_echo(ti, [1, 2, 3], [1000, 1000])


# -------------------------------------------------------------------------------------- scout level
def synthetic_scout(phase_sensitive=False) -> tuple[TIScout, np.ndarray]:
    """Left half T1* 300 ms (null 300 ln 2), right half T1* 500 ms, B = 2A."""
    t1_star = np.where(np.arange(16)[np.newaxis, :] < 8, 300.0, 500.0) * np.ones((12, 1))
    frames = 1000.0 - 2000.0 * np.exp(-TI_LL[:, None, None] / t1_star[None])
    if not phase_sensitive:
        frames = np.abs(frames)
    return TIScout(frames=frames, ti_ms=TI_LL, phase_sensitive=phase_sensitive), t1_star


def test_fit_scout_roi_uses_roi_mean():
    scout, _ = synthetic_scout()
    mask = np.zeros((12, 16), bool)
    mask[2:6, 1:5] = True
    np.testing.assert_allclose(roi_signal(scout, mask), scout.frames[:, 3, 2], rtol=1e-6)
    result = fit_scout_roi(scout, mask)
    assert result.null_ti_ms == pytest.approx(300 * math.log(2), abs=0.01)


@pytest.mark.parametrize(
    "mask, message",
    [
        (np.zeros((12, 16), bool), "empty"),
        (np.ones((10, 16), bool), "shape"),
        (np.full((12, 16), 2), "boolean"),
    ],
)
def test_fit_scout_roi_bad_mask(mask, message):
    scout, _ = synthetic_scout()
    with pytest.raises(ScoutError, match=message):
        fit_scout_roi(scout, mask)


def test_fit_scout_roi_spin_echo_needs_tr():
    scout, _ = synthetic_scout()
    with pytest.raises(ScoutError, match="needs the TR"):
        fit_scout_roi(scout, np.ones((12, 16), bool), model="spin-echo")


@pytest.mark.parametrize("phase_sensitive", [False, True])
def test_fit_pixelwise_maps(phase_sensitive):
    scout, t1_star = synthetic_scout(phase_sensitive)
    mask = np.ones((12, 16), bool)
    mask[0, 0] = False
    maps = fit_pixelwise(scout, mask)
    assert not maps["valid"][0, 0] and np.isnan(maps["null_ti_ms"][0, 0])
    valid = maps["valid"]
    assert valid.sum() == mask.sum()
    np.testing.assert_allclose(maps["null_ti_ms"][valid], (t1_star * math.log(2))[valid], rtol=2e-3)
    np.testing.assert_allclose(maps["t1_ms"][valid], t1_star[valid], rtol=5e-3)
    expected_k = 0 if phase_sensitive else np.sum(TI_LL[:, None] < (t1_star[valid] * math.log(2)), axis=0)
    np.testing.assert_array_equal(maps["n_flipped"][valid], expected_k)


# -------------------------------------------------------------------- real NIST/Caliber phantom (IR-SE)
VENDORS = [("siemens_1.5T_plate5", "plate5"), ("ge_1.5T_plate4", "plate4"), ("philips_1.5T_plate4", "plate4")]

#: Spheres whose fitted T1 misses the 1.5 T reference by more than 10% (reported, see the test docstring).
#: Value: hazen's own published fit for the same images (tests/test_relaxometry.py at GSTT-CSC/hazen,
#: SITE3_T1_P4_VALS for GE and SITE4_T1_P4 for Philips), which our independent fit must reproduce.
REFERENCE_OUTLIERS = {
    ("ge_1.5T_plate4", 9): 325.61,
    ("ge_1.5T_plate4", 10): 234.83,
    ("philips_1.5T_plate4", 9): 324.34,
    ("philips_1.5T_plate4", 10): 235.42,
}


def detect_spheres(scout: TIScout) -> tuple[np.ndarray, list[np.ndarray]]:
    """Centroids (row, col) and ROI masks of the bright discs (spheres) of the phantom plate.

    Each sphere is bright in at least one frame and enclosed by its dark plastic wall in every frame, so
    on the per-pixel maximum over frames (each frame normalised by its own maximum) the sphere interiors
    are islands separated from the background fluid by dark rings: threshold at half the phantom's median,
    erode once (cuts thin bridges), label, keep the components whose area is within 0.6-1.6x the median
    component area; the ROI is the component eroded once more (away from the wall's partial volume).
    """
    frames = scout.frames / scout.frames.max(axis=(1, 2), keepdims=True)
    mip = frames.max(axis=0)
    phantom = ndi.binary_fill_holes(ndi.binary_opening(mip > 0.05, iterations=2))
    bright = ndi.binary_erosion((mip > 0.5 * np.median(mip[phantom])) & phantom)
    labels, n = ndi.label(bright)
    index = np.arange(1, n + 1)
    areas = ndi.sum(bright, labels, index)
    typical = np.median(areas[(areas > 20) & (areas < 0.05 * phantom.sum())])
    keep = index[(areas > 0.6 * typical) & (areas < 1.6 * typical)]
    centres = np.array(ndi.center_of_mass(bright, labels, keep))
    return centres, [ndi.binary_erosion(labels == k) for k in keep]


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> tuple[float, float]:
    """Least-squares similarity transform src -> dst (Umeyama 1991): (RMS residual, rotation in degrees)."""
    a, b = src - src.mean(0), dst - dst.mean(0)
    u, s, vt = np.linalg.svd(b.T @ a)
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ d @ vt
    scale = (s * np.diag(d)).sum() / (a**2).sum()
    residual = np.sqrt((((scale * (rotation @ a.T)).T - b) ** 2).sum(1).mean())
    return float(residual), math.degrees(math.atan2(rotation[1, 0], rotation[0, 0]))


def ring_order(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the 10 outer and 4 inner spheres, each sorted by angle around the plate centre."""
    centre = points.mean(0)
    radius = np.linalg.norm(points - centre, axis=1)
    by_radius = np.argsort(-radius)

    def by_angle(ids):
        return ids[np.argsort(np.arctan2(points[ids, 1] - centre[1], -(points[ids, 0] - centre[0])))]

    return by_angle(by_radius[:10]), by_angle(by_radius[10:])


def assign_spheres(template: np.ndarray, detected: np.ndarray) -> tuple[np.ndarray, float, float]:
    """assignment[i] = detected index of template sphere i.

    hazen's template centres (reference_t1.json) form a ring of 10 and an inner ring of 4 in another image
    grid; we try every cyclic shift of both rings, fit a similarity transform template -> detected and
    keep the best residual among rotations within +-45 degrees (the plate is placed upright, as hazen's own
    registration also assumes; a 180-degree turn fits the near-symmetric rings almost as well, so the
    rotation limit is what decides). The T1 ranks are checked independently in the test.
    """
    t_outer, t_inner = ring_order(template)
    d_outer, d_inner = ring_order(detected)
    best = None
    for shift_outer in range(10):
        for shift_inner in range(4):
            assignment = np.empty(14, int)
            assignment[t_outer] = np.roll(d_outer, shift_outer)
            assignment[t_inner] = np.roll(d_inner, shift_inner)
            residual, angle = similarity_fit(template, detected[assignment])
            if abs(angle) < 45 and (best is None or residual < best[1]):
                best = (assignment, residual, angle)
    return best


@pytest.fixture(scope="module")
def phantom_fits(shared_data):
    reference = json.loads((shared_data / "ir_t1_phantom" / "reference_t1.json").read_text())
    out = {}
    for folder, plate in VENDORS:
        scout = load_ti_scouts(shared_data / "ir_t1_phantom" / folder)[0]
        centres, masks = detect_spheres(scout)
        assert len(centres) == 14, f"{folder}: found {len(centres)} spheres"
        template = np.asarray(reference[plate]["sphere_centres_row_col"][:14], float)
        assignment, residual, angle = assign_spheres(template, centres)
        fits = [fit_scout_roi(scout, masks[assignment[i]]) for i in range(14)]
        out[folder] = {
            "t1_ref": np.asarray(reference[plate]["t1_ms"]["1.5T"][:14]),
            "fits": fits,
            "residual_px": residual,
            "angle_deg": angle,
            "scout": scout,
        }
    return out


@pytest.mark.realdata
@pytest.mark.parametrize("folder", [v[0] for v in VENDORS])
def test_phantom_sphere_assignment_is_geometric_and_rank_consistent(phantom_fits, folder):
    data = phantom_fits[folder]
    assert data["residual_px"] < 1.5  # centres match the template to ~0.5 px after a similarity transform
    assert abs(data["angle_deg"]) < 10
    t1 = np.array([f.t1_ms for f in data["fits"]])
    # independent check: reference T1 decreases with the sphere index; so must the fitted T1 (spheres 1-13;
    # sphere 0 on GE/Philips plate 4 is the 2.4 s sphere, sampled only up to TI 800 ms)
    assert np.all(np.diff(t1[1:]) < 0)


@pytest.mark.realdata
@pytest.mark.parametrize("folder", [v[0] for v in VENDORS])
def test_phantom_t1_within_10_percent_of_reference(phantom_fits, folder):
    """Fitted T1 (finite-TR IR spin-echo model, per-image TR) of every sphere with reference T1 in
    150-1500 ms is within 10% of reference_t1.json (1.5 T) on all three vendors - except spheres 9 and 10 of
    plate 4 (reference 292.9 and 194.9 ms) on GE and Philips, which fit to +11% and +21%.

    Those two are reported, not hidden: both vendors give the same values, the curves fit with
    R^2 > 0.9999, hazen's own independent fit of the same images gives the same numbers (325.6/234.8 ms on
    GE, 324.3/235.4 ms on Philips), and the ratio between neighbouring spheres changes smoothly in the fits
    (1.22 ... 1.43 for spheres 4-12) while the reference list jumps 1.41, 1.50, 1.22, 1.51 around spheres
    8-12 (413 -> 293 -> 195 -> 160 -> 106 ms). The likely cause is the reference values (phantom
    batch/temperature), not the fit. We assert that our fit
    reproduces hazen's values within 2% for them.
    """
    data = phantom_fits[folder]
    lines = []
    for index, (fit, ref) in enumerate(zip(data["fits"], data["t1_ref"], strict=True)):
        error = fit.t1_ms / ref - 1
        lines.append(f"sphere {index:2d}: ref {ref:7.1f} fit {fit.t1_ms:7.1f} ms ({100 * error:+.1f}%)")
        if not 150 <= ref <= 1500:
            continue
        assert fit.r_squared > 0.999
        if (folder, index) in REFERENCE_OUTLIERS:
            assert fit.t1_ms == pytest.approx(REFERENCE_OUTLIERS[(folder, index)], rel=0.02)
            assert error > 0.10  # the discrepancy is still there: revisit the exclusion if this fails
        else:
            assert abs(error) < 0.10, "\n".join(lines)
    print(f"\n{folder}\n" + "\n".join(lines))


@pytest.mark.realdata
def test_phantom_null_matches_model_null(phantom_fits):
    """The fitted null of each sphere equals the analytic finite-TR null of its own fitted parameters and
    lies where the measured magnitude is smallest (between the neighbouring TIs)."""
    data = phantom_fits["ge_1.5T_plate4"]
    ti = data["scout"].ti_ms
    for fit in data["fits"][4:10]:  # T1 1237..293 ms: nulls inside the sampled 50-800 ms
        expected = fit.t1_ms * math.log((1 + fit.inversion_efficiency) / (1 + math.exp(-1000.0 / fit.t1_ms)))
        assert fit.null_ti_ms == pytest.approx(expected, rel=1e-6)
        assert ti[0] < fit.null_ti_ms < ti[-1]
        assert fit.n_flipped == int(np.sum(ti < fit.null_ti_ms))


# ------------------------------------------------------------------------ real Philips native Look-Locker
#: Septal ROI on the middle slice (z = -7.4 mm) of the native Look-Locker, found on the pixelwise null map
#: (the septum is the band of early nulls between the RV and LV blood pools): rows 118-133, columns 123-126.
SEPTUM_ROWS = slice(118, 134)
SEPTUM_COLS = slice(123, 127)


@pytest.mark.realdata
def test_real_look_locker_septal_null(shared_data):
    """Native (pre-contrast) myocardium: apparent null ~655 ms, LL-corrected T1 ~1000 ms (native 1.5 T
    myocardium ~950-1050 ms), far later than the post-contrast 180-210 ms of docs/METHODS.md. The LV blood pool
    (rows 122-133, columns 136-147) nulls later still (~1100 ms, T1 ~1550 ms)."""
    scout = load_ti_scouts(shared_data / "look_locker_native_philips")[1]
    assert scout.slice_label.startswith("series 4001 slice 1")
    septum = np.zeros(scout.frames.shape[1:], bool)
    septum[SEPTUM_ROWS, SEPTUM_COLS] = True
    result = fit_scout_roi(scout, septum)
    print(
        f"\nseptum: null {result.null_ti_ms:.0f} +- {result.null_uncertainty_ms:.0f} ms, T1* {result.t1_star_ms:.0f} ms, "
        f"T1 {result.t1_ms:.0f} ms, B/A {result.b / result.a:.2f}, R^2 {result.r_squared:.4f}, k {result.n_flipped}"
    )
    assert 600 < result.null_ti_ms < 720
    assert 900 < result.t1_ms < 1100
    assert result.null_uncertainty_ms < 20
    assert result.r_squared > 0.99
    assert result.n_flipped == int(np.sum(scout.ti_ms < result.null_ti_ms))
    assert not result.warnings
    blood = np.zeros_like(septum)
    blood[122:134, 136:148] = True
    blood_fit = fit_scout_roi(scout, blood)
    assert blood_fit.null_ti_ms > result.null_ti_ms + 300
    assert 1400 < blood_fit.t1_ms < 1700
    maps = fit_pixelwise(scout, septum)
    assert np.nanmedian(maps["null_ti_ms"]) == pytest.approx(result.null_ti_ms, abs=25)
