"""The TI pipeline (core.pipeline): one scout, several slices, grouping by scout, random-effects combination,
the verdict on a null that is not bracketed by the frames, and the report text."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from TINullCorrectionLib.core import presentation
from TINullCorrectionLib.core.pipeline import (
    AnalysisCancelled,
    analyse_scout,
    analyse_study,
    combine_slices,
    group_slices,
    random_effects_mean,
)
from TINullCorrectionLib.core.recommendation import RecommendationSettings, null_is_bracketed
from TINullCorrectionLib.core.types import ScoutError, ScoutPrediction, TIScout
from TINullCorrectionLib.networks.architectures import OffsetBins

BINS = OffsetBins(range_ms=150, bin_width_ms=10)


class OracleModel:
    """Every frame's class distribution is a narrow Gaussian around its true offset from a known null
    (per scout: ``nulls`` maps slice labels to nulls)."""

    name = "oracle"

    def __init__(self, nulls: dict[str, float] | float):
        self.nulls = nulls

    def predict(self, scout: TIScout, progress=None) -> ScoutPrediction:
        null = self.nulls if isinstance(self.nulls, float) else self.nulls[scout.slice_label]
        centers = BINS.centers_ms
        offsets = np.clip(scout.ti_ms - null, centers[0], centers[-1])
        p = np.exp(-0.5 * ((centers[None, :] - offsets[:, None]) / 7.0) ** 2) + 1e-4
        p /= p.sum(1, keepdims=True)
        if progress is not None:
            progress(scout.n_frames, scout.n_frames)
        return ScoutPrediction(scout.ti_ms, centers[p.argmax(1)], p, centers, BINS.class_names, p.max(1), "oracle")


def _scout(label: str, key: str, ti=None) -> TIScout:
    ti = np.arange(100.0, 900.0, 40.0) if ti is None else np.asarray(ti, dtype=float)
    return TIScout(np.ones((ti.size, 8, 8), np.float32), ti, slice_label=label, scout_key=key)


def test_group_slices_keeps_scouts_apart_and_order():
    assert group_slices(["a", "b", "a", "", "", "b"]) == [[0, 2], [1, 5], [3], [4]]


def test_random_effects_mean_matches_statsmodels():
    """DerSimonian-Laird as statsmodels implements it (statsmodels.stats.meta_analysis.combine_effects)."""
    meta = pytest.importorskip("statsmodels.stats.meta_analysis")
    values = np.array([226.0, 371.0, 240.0])
    errors = np.array([4.0, 6.0, 5.0])
    mean, se, fixed_se, tau = random_effects_mean(values, errors)
    reference = meta.combine_effects(values, errors**2, method_re="dl")
    assert mean == pytest.approx(reference.mean_effect_re, rel=1e-9)
    assert se == pytest.approx(reference.sd_eff_w_re, rel=1e-9)
    assert fixed_se == pytest.approx(reference.sd_eff_w_fe, rel=1e-9)
    assert tau == pytest.approx(np.sqrt(reference.tau2), rel=1e-9)
    # consistent slices: tau 0, the fixed-effect answer
    same_mean, same_se, same_fixed, same_tau = random_effects_mean(np.array([300.0, 301.0]), np.array([5.0, 5.0]))
    assert same_tau == 0.0 and same_se == pytest.approx(same_fixed) and same_mean == pytest.approx(300.5)


def test_slices_of_different_scouts_are_never_combined():
    """Issue 12 A2: two series with true nulls 226 and 371 ms gave one answer of 250 ms."""
    scouts = [_scout("a0", "study1-series3"), _scout("b0", "study2-series7"), _scout("a1", "study1-series3")]
    study = analyse_study(scouts, OracleModel({"a0": 226.0, "a1": 230.0, "b0": 371.0}), chosen_ti_ms=300.0)
    assert [len(g.slices) for g in study.groups] == [2, 1]
    first, second = study.groups
    assert [s.slice_label for s in first.slices] == ["a0", "a1"]
    assert first.combined is not None and abs(first.combined.null_ti_ms - 228.0) < 5.0
    assert second.combined is None and abs(second.slices[0].null_ti_ms - 371.0) < 5.0
    assert any("2 different scouts" in w for w in study.warnings)
    data = study.to_dict()
    assert data["scouts"][0]["slices"] == [0, 1] and data["scouts"][1]["combined"] is None
    assert [(s["slice"], s["scout"]) for s in data["slices"]] == [("a0", 0), ("a1", 0), ("b0", 1)]
    text = presentation.study_report_text(study, frames=False)
    assert "scout 1 of 2" in text and "scout 2 of 2" in text and "all 2 slices of this scout" in text
    with pytest.raises(ScoutError, match="one scout"):
        combine_slices(study.slices, RecommendationSettings())


def test_combined_uncertainty_reflects_the_spread_between_slices():
    scouts = [_scout(f"s{k}", "one") for k in range(3)]
    agreeing = analyse_study(scouts, OracleModel({"s0": 300.0, "s1": 301.0, "s2": 299.0})).groups[0].combined
    spread = analyse_study(scouts, OracleModel({"s0": 260.0, "s1": 300.0, "s2": 340.0})).groups[0].combined
    assert agreeing.between_slice_sd_ms == pytest.approx(0.0, abs=1e-9)
    assert agreeing.uncertainty_ms == pytest.approx(agreeing.within_slice_uncertainty_ms)
    assert spread.slice_spread_ms == pytest.approx(80.0, abs=6.0)
    # the combined 1-sigma covers the scatter of the slice means (SD 40 / sqrt(3) = 23 ms), not only their own SDs
    assert spread.uncertainty_ms > 15.0 > spread.within_slice_uncertainty_ms
    assert any("differ by up to" in w for w in spread.warnings)
    assert not agreeing.warnings


def test_a_null_at_the_last_frame_gets_no_verdict():
    """Issue 12 A7: a null at the end of the scout gave 'your TI 380 ms: optimal ... keep it' (true 408.7)."""
    ti = np.arange(100.0, 401.0, 20.0)  # last frame 400 ms
    scout = _scout("s", "k", ti)
    result = analyse_scout(scout, OracleModel(395.0), chosen_ti_ms=395.0)
    chosen = result.recommendation.chosen
    assert not result.recommendation.null_bracketed and not null_is_bracketed(ti, result.null_ti_ms)
    assert chosen.verdict == "cannot judge" and not chosen.in_optimal_range and not chosen.judgeable
    line = presentation.chosen_ti_text(chosen)
    assert "cannot judge" in line and "keep it" not in line
    assert any("at the last frame" in w for w in result.recommendation.warnings)
    inside = analyse_scout(scout, OracleModel(300.0), chosen_ti_ms=305.0).recommendation
    assert inside.null_bracketed and inside.chosen.verdict == "optimal"


def test_frame_table_shows_the_offset_from_the_reported_null_and_labels_the_cnn_offset():
    """Issue 12 A6: the 'offset' column was the CNN's own offset while 'optimal' was judged on the final null."""
    ti = np.arange(100.0, 900.0, 40.0)
    scout = _scout("s", "k", ti)
    prediction = OracleModel(300.0).predict(scout)
    shifted = replace(prediction, offset_ms=prediction.offset_ms + 60.0)  # a CNN 60 ms off in its offsets
    recommendation = analyse_scout(scout, _Fixed(shifted)).recommendation
    lines = presentation.frame_table_lines(recommendation)
    assert "from null ms" in lines[0] and "CNN offset ms" in lines[0]
    for row, line in zip(recommendation.frames, lines[1:-1], strict=True):
        columns = line.split()
        assert float(columns[2]) == pytest.approx(row.ti_ms - recommendation.final.null_ti_ms, abs=0.05)
        assert (columns[3] == "optimal") == row.in_optimal_range
    assert "from null" in lines[-1] and "CNN offset" in lines[-1]


class _Fixed:
    name = "fixed"

    def __init__(self, prediction):
        self.prediction = prediction

    def predict(self, scout, progress=None):
        return self.prediction


def test_progress_counts_frames_over_all_slices_and_can_cancel():
    scouts = [_scout("a", "k"), _scout("b", "k")]
    calls = []
    analyse_study(scouts, OracleModel(300.0), progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (40, 40) and (20, 40) in calls

    def cancel(done, total):
        if done >= 20:
            raise AnalysisCancelled()

    with pytest.raises(AnalysisCancelled):
        analyse_study(scouts, OracleModel(300.0), progress=cancel)


def test_study_json_has_no_nan_and_names_units(tmp_path):
    study = analyse_study([_scout("a", "")], OracleModel(300.0), chosen_ti_ms=290.0)
    import json

    text = json.dumps(study.to_dict(), allow_nan=False)
    data = json.loads(text)
    entry = data["slices"][0]
    assert {"null_ti_ms", "null_uncertainty_ms", "recommended_lge_ti_ms", "optimal_range_ms", "frames", "chosen"} <= set(entry)
    assert data["skipped"] == [] and data["scouts"] == [{"slices": [0], "combined": None}]
