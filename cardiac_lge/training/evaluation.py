"""Accuracy of TI correction on labelled series, in the form of the published table.

Frame level (as Eur Radiol 2023;33:4688): for every frame whose TI lies within +/-``near_ms`` of the
true null, the corrected TI is  TI - predicted offset + target (middle of the optimal range); it is
"optimal" when corrected - true null lies in the optimal range, "above" (over-corrected, too late)
or "below" (under-corrected, too early) otherwise.
Series level: the same test on the series estimate (all frames combined) + target.
With a myocardium model the series estimate is the tool's final answer (CNN combined with the
inversion-recovery fit of the automatically found myocardium: core.pipeline.analyse_scout, what ti-correct runs) and every
frame's offset is its TI minus that estimate; the CNN-alone figures are reported beside it.
Operator TIs: chosen TIs before and after correction (a chosen TI judged optimal against the estimated
null is kept; otherwise it is replaced by the recommended TI).
Every figure names the optimal range it used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import numpy as np
from TINullCorrectionLib.core.pipeline import analyse_scout
from TINullCorrectionLib.core.recommendation import RecommendationSettings, assess_chosen_ti
from TINullCorrectionLib.core.types import TIScout
from TINullCorrectionLib.networks.ti_offset import TIModel


@dataclass(frozen=True)
class Breakdown:
    optimal_pct: float
    above_pct: float
    below_pct: float
    n: int


@dataclass(frozen=True)
class EvaluationResult:
    optimal_range_ms: tuple[float, float]
    target_offset_ms: float
    near_ms: float
    frames: Breakdown
    series: Breakdown
    null_mae_ms: float
    null_median_abs_error_ms: float
    null_p95_abs_error_ms: float
    chosen_before: Breakdown | None
    chosen_after: Breakdown | None
    n_series: int
    #: CNN alone (per-frame offsets and their combination), when the final answer also used the fit.
    frames_cnn: Breakdown | None = None
    series_cnn: Breakdown | None = None
    null_mae_cnn_ms: float | None = None
    #: How the final series estimates were made: {"cnn": n, "combined": n, "ir-fit": n}.
    methods: dict | None = None
    #: Estimated minus true null of every series, in the order given (ms).
    series_null_error_ms: tuple[float, ...] = ()
    #: The reported 1-sigma uncertainty of every series' final null estimate, in the same order (ms).
    series_null_uncertainty_ms: tuple[float, ...] = ()

    def uncertainty_coverage_pct(self, n_sigma: float = 1.0) -> float:
        """Share (%) of series whose null error lies within ``n_sigma`` reported uncertainties (68% / 95% are
        what a calibrated 1 / 2 sigma gives); nan when no uncertainty was recorded."""
        errors = np.asarray(self.series_null_error_ms, dtype=float)
        sds = np.asarray(self.series_null_uncertainty_ms, dtype=float)
        if sds.size == 0 or sds.shape != errors.shape:
            return float("nan")
        return 100.0 * float(np.mean(np.abs(errors) <= n_sigma * sds))

    def to_dict(self) -> dict:
        return asdict(self)


def _breakdown(errors_ms: np.ndarray, optimal_range_ms: tuple[float, float]) -> Breakdown:
    errors = np.asarray(errors_ms, dtype=float)
    if errors.size == 0:
        return Breakdown(float("nan"), float("nan"), float("nan"), 0)
    low, high = optimal_range_ms
    return Breakdown(
        100.0 * float(np.mean((errors >= low) & (errors <= high))),
        100.0 * float(np.mean(errors > high)),
        100.0 * float(np.mean(errors < low)),
        int(errors.size),
    )


def simulated_operator_choices(null_ti_ms: np.ndarray, seed: int, bias_ms: float = 8.0, spread_ms: float = 20.0) -> np.ndarray:
    """Operator-chosen LGE TIs around the true null: null + N(bias, spread) (our simulation, documented)."""
    return np.asarray(null_ti_ms) + np.random.default_rng(seed).normal(bias_ms, spread_ms, size=len(null_ti_ms))


def evaluate(
    model: TIModel,
    cases: Iterable[tuple[TIScout, float]],
    settings: RecommendationSettings = RecommendationSettings(),
    near_ms: float = 60.0,
    chosen_ti_ms: Iterable[float] | None = None,
    progress: Callable[[int], None] | None = None,
    myocardium_model=None,
) -> EvaluationResult:
    """Evaluate on (scout, true scout null TI in ms) pairs; chosen_ti_ms per series is optional.

    myocardium_model: evaluate the final answer with the automatic inversion-recovery cross-check.
    """
    target = settings.target_ms
    frame_errors, series_errors, nulls_true, nulls_estimated, uncertainties = [], [], [], [], []
    frame_errors_cnn, series_errors_cnn, nulls_cnn, methods = [], [], [], {}
    for count, (scout, null_true) in enumerate(cases, start=1):
        result = analyse_scout(scout, model, settings, myocardium_model=myocardium_model)  # the tool's answer
        prediction = result.prediction
        true_offsets = scout.ti_ms - null_true
        near = np.abs(true_offsets) <= near_ms
        cnn_estimate = result.recommendation.cnn.null_ti_ms
        frame_errors_cnn.append((true_offsets - prediction.offset_ms + target)[near])
        series_errors_cnn.append(cnn_estimate + target - null_true)
        nulls_cnn.append(cnn_estimate)
        if myocardium_model is not None:
            final = result.final
            estimate = final.null_ti_ms
            methods[final.method] = methods.get(final.method, 0) + 1
            frame_errors.append((true_offsets - (scout.ti_ms - estimate) + target)[near])
        else:
            final = result.recommendation.cnn
            estimate = cnn_estimate
            frame_errors.append(frame_errors_cnn[-1])
        uncertainties.append(float(final.uncertainty_ms))
        series_errors.append(estimate + target - null_true)
        nulls_true.append(null_true)
        nulls_estimated.append(estimate)
        if progress is not None:
            progress(count)
    if not nulls_true:
        raise ValueError("No labelled series to evaluate.")
    nulls_true, nulls_estimated = np.asarray(nulls_true), np.asarray(nulls_estimated)
    absolute = np.abs(nulls_estimated - nulls_true)
    before = after = None
    if chosen_ti_ms is not None:
        chosen = np.asarray(list(chosen_ti_ms), dtype=float)
        if chosen.shape != nulls_true.shape:
            raise ValueError(f"Got {chosen.size} chosen TIs for {nulls_true.size} series.")
        corrected = np.array([assess_chosen_ti(c, e, settings).change_to_ms for c, e in zip(chosen, nulls_estimated, strict=True)])
        # Chosen TIs are LGE TIs: compare with the true null shifted by the same LGE offset/drift.
        before = _breakdown(chosen - (nulls_true + settings.lge_shift_ms), settings.optimal_range_ms)
        after = _breakdown(corrected - (nulls_true + settings.lge_shift_ms), settings.optimal_range_ms)
    return EvaluationResult(
        optimal_range_ms=settings.optimal_range_ms,
        target_offset_ms=target,
        near_ms=near_ms,
        frames=_breakdown(np.concatenate(frame_errors), settings.optimal_range_ms),
        series=_breakdown(np.asarray(series_errors), settings.optimal_range_ms),
        null_mae_ms=float(absolute.mean()),
        null_median_abs_error_ms=float(np.median(absolute)),
        null_p95_abs_error_ms=float(np.percentile(absolute, 95)),
        chosen_before=before,
        chosen_after=after,
        n_series=int(nulls_true.size),
        frames_cnn=_breakdown(np.concatenate(frame_errors_cnn), settings.optimal_range_ms) if myocardium_model is not None else None,
        series_cnn=_breakdown(np.asarray(series_errors_cnn), settings.optimal_range_ms) if myocardium_model is not None else None,
        null_mae_cnn_ms=float(np.abs(np.asarray(nulls_cnn) - nulls_true).mean()) if myocardium_model is not None else None,
        methods=methods or None,
        series_null_error_ms=tuple(float(e) for e in nulls_estimated - nulls_true),
        series_null_uncertainty_ms=tuple(uncertainties),
    )


def series_breakdown(result: EvaluationResult, selected) -> Breakdown:
    """Series-level breakdown of a subset of the evaluated series (``selected``: booleans in input order),
    e.g. magnitude versus phase-sensitive scouts, on the same optimal range and target."""
    errors = np.asarray(result.series_null_error_ms, dtype=float)
    chosen = np.asarray(selected, dtype=bool)
    if chosen.shape != errors.shape:
        raise ValueError(f"selected has {chosen.size} entries for {errors.size} evaluated series.")
    return _breakdown(errors[chosen] + result.target_offset_ms, result.optimal_range_ms)


def format_table(result: EvaluationResult, title: str = "") -> str:
    """Plain-text table in the layout of the published results."""
    low, high = result.optimal_range_ms
    lines = [title] if title else []
    lines.append(f"optimal range: null {low:+g}..{high:+g} ms (target {result.target_offset_ms:+g} ms); {result.n_series} series")
    lines.append(f"{'':62s} {'optimal':>8s} {'above':>8s} {'below':>8s} {'n':>7s}")

    def row(label: str, b: Breakdown | None) -> None:
        if b is None:
            return
        if b.n == 0:  # nothing to score: say so instead of printing nan%
            lines.append(f"{label:62s} {'n/a':>8s} {'n/a':>8s} {'n/a':>8s} {0:7d}")
        else:
            lines.append(f"{label:62s} {b.optimal_pct:7.1f}% {b.above_pct:7.1f}% {b.below_pct:7.1f}% {b.n:7d}")

    final = " (CNN + automatic IR fit)" if result.frames_cnn is not None else ""
    row(f"frames within +/-{result.near_ms:g} ms of the null{final}", result.frames)
    row(f"series estimate{final}", result.series)
    row(f"frames within +/-{result.near_ms:g} ms, CNN alone", result.frames_cnn)
    row("series estimate, CNN alone", result.series_cnn)
    row("operator-chosen TI, before correction", result.chosen_before)
    row("operator-chosen TI, after correction", result.chosen_after)
    lines.append(
        f"series null TI error: MAE {result.null_mae_ms:.1f} ms, median {result.null_median_abs_error_ms:.1f} ms, "
        f"95th percentile {result.null_p95_abs_error_ms:.1f} ms"
    )
    if result.null_mae_cnn_ms is not None:
        lines.append(f"CNN alone: series null TI MAE {result.null_mae_cnn_ms:.1f} ms; final method used: {result.methods}")
    if result.series_null_uncertainty_ms:
        lines.append(f"reported null uncertainty: median {np.median(result.series_null_uncertainty_ms):.1f} ms; the error lies within "
                     f"1 sigma in {result.uncertainty_coverage_pct(1.0):.1f}% of series, within 2 sigma in "
                     f"{result.uncertainty_coverage_pct(2.0):.1f}% (calibrated: 68% / 95%)")
    return "\n".join(lines)
