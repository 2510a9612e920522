"""Recommendation logic on hand-built predictions: series null, chosen-TI verdicts, shifts, warnings."""

import numpy as np
import pytest
from TINullCorrectionLib.core.recommendation import (
    RecommendationSettings,
    assess_chosen_ti,
    combine_frame_offsets,
    recommend,
)
from TINullCorrectionLib.core.types import ScoutPrediction, TIScout
from TINullCorrectionLib.networks.offset_bins import OffsetBins

BINS = OffsetBins(range_ms=150, bin_width_ms=10)


def _prediction(ti_ms, true_null_ms, wrong_frames=(), spread_bins=0.7):
    """Each frame's distribution: a Gaussian over bins around its true offset (wrong frames: far off)."""
    ti = np.asarray(ti_ms, dtype=float)
    centers = BINS.centers_ms
    probabilities = []
    for index, t in enumerate(ti):
        offset = t - true_null_ms if index not in wrong_frames else t - true_null_ms + 120.0
        offset = np.clip(offset, centers[0], centers[-1])
        p = np.exp(-0.5 * ((centers - offset) / (spread_bins * BINS.bin_width_ms)) ** 2) + 1e-4
        probabilities.append(p / p.sum())
    probabilities = np.array(probabilities)
    best = probabilities.argmax(1)
    return ScoutPrediction(ti, centers[best], probabilities, centers, BINS.class_names, probabilities.max(1), "hand-built")


def _scout(ti_ms, null_ms=300.0, t1_star_ms=None):
    ti = np.asarray(ti_ms, dtype=float)
    t1_star = t1_star_ms or null_ms / np.log(1.9)
    curve = np.abs(1.0 - 1.9 * np.exp(-ti / t1_star))
    frames = curve[:, None, None] * np.ones((ti.size, 16, 16))
    return TIScout(frames=frames.astype(np.float32), ti_ms=ti, pixel_spacing_mm=(2.0, 2.0))


def test_series_null_from_all_frames():
    ti = np.arange(100.0, 900.0, 40.0)
    null, sd = combine_frame_offsets(_prediction(ti, 317.0))
    assert null == pytest.approx(317.0, abs=3.0)
    assert 2.0 < sd < 15.0


def test_series_null_is_robust_to_a_few_wrong_frames():
    ti = np.arange(100.0, 900.0, 40.0)
    null, _ = combine_frame_offsets(_prediction(ti, 317.0, wrong_frames=(2, 9, 15)))
    assert null == pytest.approx(317.0, abs=6.0)


def test_coarse_scout_with_one_frame_near_the_null():
    ti = 63.0 + 82.0 * np.arange(20)  # the real Philips post-contrast step
    null, _ = combine_frame_offsets(_prediction(ti, 190.0))
    assert null == pytest.approx(190.0, abs=8.0)


def test_recommended_ti_adds_target_offset_and_drift():
    ti = np.arange(100.0, 900.0, 40.0)
    settings = RecommendationSettings(lge_offset_ms=30.0, drift_ms_per_min=2.0, minutes_since_scout=5.0)
    assert settings.target_ms == 5.0  # middle of -10..+20
    result = recommend(_scout(ti), _prediction(ti, 300.0), settings)
    assert result.final.method == "cnn"
    assert result.final.recommended_lge_ti_ms == pytest.approx(result.final.null_ti_ms + 5.0 + 30.0 + 10.0)
    assert len(result.frames) == ti.size
    row = result.frames[5]
    assert row.corrected_ti_ms == pytest.approx(row.ti_ms - row.predicted_offset_ms)
    assert row.offset_beyond_range == "" and row.offset_bound_ms is None
    # TI 100 ms is 200 ms before the null: a tail class, reported as a bound, not a measurement.
    first, last = result.frames[0], result.frames[-1]
    assert first.offset_beyond_range == "earlier" and first.offset_bound_ms == pytest.approx(-150.0)
    assert last.offset_beyond_range == "later" and last.offset_bound_ms == pytest.approx(150.0)
    data = result.to_dict()
    assert {"null_ti_ms", "recommended_lge_ti_ms", "optimal_range_ms", "frames"} <= set(data)
    assert data["frames"][0]["offset_bound_ms"] == pytest.approx(-150.0) and "probabilities" not in data["frames"][0]


@pytest.mark.parametrize(
    ("chosen", "verdict", "change_to"),
    [(305.0, "optimal", 305.0), (289.0, "too early", 305.0), (321.0, "too late", 305.0), (290.0, "optimal", 290.0), (320.0, "optimal", 320.0)],
)
def test_chosen_ti_verdicts(chosen, verdict, change_to):
    result = assess_chosen_ti(chosen, 300.0, RecommendationSettings())
    assert result.verdict == verdict
    assert result.offset_from_null_ms == pytest.approx(chosen - 300.0)
    assert result.change_to_ms == pytest.approx(change_to)
    assert result.change_by_ms == pytest.approx(change_to - chosen)


def test_chosen_ti_is_judged_against_the_lge_shifted_null():
    settings = RecommendationSettings(lge_offset_ms=30.0)
    assert assess_chosen_ti(305.0, 300.0, settings).verdict == "too early"
    assert assess_chosen_ti(335.0, 300.0, settings).verdict == "optimal"
    with pytest.raises(ValueError):
        assess_chosen_ti(float("nan"), 300.0, settings)


def test_warnings_inverted_contrast_and_null_outside_range():
    ti = np.arange(100.0, 900.0, 40.0)
    early = recommend(_scout(ti), _prediction(ti, 300.0), chosen_ti_ms=250.0)
    assert early.chosen.verdict == "too early"
    assert any("inverted contrast" in w for w in early.warnings)
    late_ti = np.arange(400.0, 1200.0, 40.0)
    outside = recommend(_scout(late_ti), _prediction(late_ti, 300.0))
    assert any("before the first frame" in w for w in outside.warnings)


def test_physics_fit_cross_check_combines_or_warns():
    ti = np.arange(100.0, 900.0, 40.0)
    scout = _scout(ti, null_ms=300.0)
    mask = np.ones((16, 16), bool)
    agreeing = recommend(scout, _prediction(ti, 305.0), myocardium_mask=mask)
    assert agreeing.ir_fit is not None and agreeing.ir_fit.null_ti_ms == pytest.approx(300.0, abs=1.0)
    assert agreeing.final.method == "combined"
    assert 299.0 <= agreeing.final.null_ti_ms <= 306.0
    # Disagreement with a good fit (noise-free curve, null inside the scout): the fit is reported, with a warning.
    disagreeing = recommend(scout, _prediction(ti, 360.0), myocardium_mask=mask)
    assert disagreeing.final.method == "ir-fit"
    assert disagreeing.final.null_ti_ms == pytest.approx(300.0, abs=1.0)
    assert any("disagree" in w and "fit" in w for w in disagreeing.warnings)
    # Disagreement with a poor fit (the ROI holds noise, not a recovery curve): the CNN is reported.
    rng = np.random.default_rng(0)
    noisy_frames = scout.frames.copy()
    noisy_frames[:, :4, :4] = rng.uniform(0.2, 1.0, size=(ti.size, 4, 4))
    noisy = TIScout(frames=noisy_frames, ti_ms=ti, pixel_spacing_mm=(2.0, 2.0))
    roi = np.zeros((16, 16), bool)
    roi[:4, :4] = True
    poor = recommend(noisy, _prediction(ti, 360.0), myocardium_mask=roi)
    assert poor.ir_fit.r_squared < 0.98
    assert poor.final.method == "cnn"


def test_cnn_uncertainty_is_calibrated_and_sets_its_weight_against_the_fit():
    """The CNN's posterior SD is too narrow; its reported uncertainty is scaled (scanner data 1.8x,
    screen captures 2.3x by default) and that calibrated figure weighs it against the fit."""
    from dataclasses import replace

    ti = np.arange(100.0, 900.0, 40.0)
    prediction = _prediction(ti, 330.0)
    _, posterior_sd = combine_frame_offsets(prediction)
    scout = _scout(ti, null_ms=300.0)
    scanner = recommend(scout, prediction)
    assert scanner.cnn.uncertainty_ms == pytest.approx(1.8 * posterior_sd)
    photo = recommend(replace(scout, screen_capture=True), prediction)
    assert photo.cnn.uncertainty_ms == pytest.approx(2.3 * posterior_sd)
    raw = RecommendationSettings(cnn_uncertainty_scale=1.0)
    assert recommend(scout, prediction, raw).cnn.uncertainty_ms == pytest.approx(posterior_sd)
    # A noisy ROI gives the fit an uncertainty of a few ms: the calibrated (wider) CNN weighs less.
    frames = scout.frames + np.random.default_rng(3).normal(0.0, 0.03, scout.frames.shape).astype(np.float32)
    noisy = TIScout(frames=np.abs(frames), ti_ms=ti, pixel_spacing_mm=(2.0, 2.0))
    roi = np.zeros((16, 16), bool)
    roi[6:8, 6:8] = True
    calibrated = recommend(noisy, prediction, myocardium_mask=roi)
    uncalibrated = recommend(noisy, prediction, raw, myocardium_mask=roi)
    assert calibrated.final.method == uncalibrated.final.method == "combined"
    fit_null = calibrated.ir_fit.null_ti_ms
    assert abs(calibrated.final.null_ti_ms - fit_null) < abs(uncalibrated.final.null_ti_ms - fit_null)
    with pytest.raises(ValueError, match="positive"):
        RecommendationSettings(cnn_uncertainty_scale_screen_capture=0.0)


def test_prediction_of_another_scout_is_rejected():
    ti = np.arange(100.0, 900.0, 40.0)
    with pytest.raises(ValueError, match="does not belong"):
        recommend(_scout(ti + 5.0), _prediction(ti, 300.0))
    with pytest.raises(ValueError, match="low < high"):
        RecommendationSettings(optimal_range_ms=(20.0, -10.0))


def test_automatic_myocardium_that_finds_nothing_falls_back_to_the_cnn_with_a_warning():
    from TINullCorrectionLib.networks.myocardium_unet import MyocardiumModel

    def network(features):  # every pixel says "not myocardium" (logit -50)
        return np.full((features.shape[0], 1, *features.shape[2:]), -50.0, np.float32)

    ti = np.arange(100.0, 900.0, 40.0)
    result = recommend(_scout(ti), _prediction(ti, 300.0), myocardium_model=MyocardiumModel(network))
    assert result.ir_fit is None and result.myocardium_source == ""
    assert result.final.method == "cnn"
    assert any("No myocardium found automatically" in w for w in result.warnings)


def test_rows_give_every_frame_its_offset_from_the_final_null():
    ti = np.arange(100.0, 900.0, 40.0)
    scout = _scout(ti, null_ms=300.0)
    mask = np.ones((16, 16), bool)
    result = recommend(scout, _prediction(ti, 360.0), myocardium_mask=mask)  # CNN 60 ms late, fit right
    assert result.final.method == "ir-fit"
    offsets = np.array([row.offset_from_null_ms for row in result.frames])
    np.testing.assert_allclose(offsets, ti - result.final.null_ti_ms)
    np.testing.assert_allclose(result.offset_from_null_ms, offsets)
    in_range = [row.in_optimal_range for row in result.frames]
    assert in_range == [bool(-10.0 <= o <= 20.0) for o in offsets]
    assert result.myocardium_source == "user ROI"
