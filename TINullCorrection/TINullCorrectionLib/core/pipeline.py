"""The TI pipeline: the single entry points that every front end calls (CLI ``ti-correct`` and ``evaluate``,
the Slicer module's logic through ``mrml.analysis``, ``figure-ti``, the benchmarks, the web page).

* :func:`analyse_scout`  one TI scout slice: CNN prediction -> recommendation (with the inversion-recovery
  cross-check of the user's ROI or of the automatically found myocardium) -> :class:`ScoutResult`.
* :func:`analyse_study`  several slices: each analysed, grouped by scout (:func:`group_slices`: only slices
  of one acquisition are combined), each scout with 2+ slices combined (:func:`combine_slices`).
* :func:`analyse_single_frame`  one picture of one frame + its TI (the published per-image mode):
  single-frame network -> :class:`single_frame.SingleFrameResult`. (A photo of the whole mosaic is read into
  a TIScout by io/mosaic.py and analysed by :func:`analyse_scout`.)

Core only: the networks are passed in as objects with ``predict(scout, progress=None) -> ScoutPrediction``
and ``myocardium_probability(scout) -> [H, W]`` (networks.ti_offset.TIModel, networks.myocardium_unet.
MyocardiumModel, or anything with those methods), so this module imports no network runtime.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from TINullCorrectionLib.core.recommendation import (
    RecommendationSettings,
    assess_chosen_ti,
    null_is_bracketed,
    recommend,
)
from TINullCorrectionLib.core.results import (
    CombinedNull,
    ScoutGroupResult,
    ScoutResult,
    SkippedInput,
    StudyResult,
)
from TINullCorrectionLib.core.single_frame import SingleFrame, SingleFrameResult, assess_single_frame
from TINullCorrectionLib.core.types import ScoutError, TIScout

#: A slice's uncertainty is floored at this value when slices are combined (ms; the CNN's bins are 10 ms).
MIN_SLICE_UNCERTAINTY_MS = 1.0


class AnalysisCancelled(RuntimeError):
    """Raised from a progress callback when the user cancels; nothing is written."""


def analyse_scout(
    scout: TIScout,
    model,
    settings: RecommendationSettings = RecommendationSettings(),
    *,
    myocardium_mask: np.ndarray | None = None,
    myocardium_model=None,
    chosen_ti_ms: float | None = None,
    progress: Callable[[int, int], object] | None = None,
    warnings: Sequence[str] = (),
) -> ScoutResult:
    """Analyse one slice. ``myocardium_mask`` (the user's ROI, [H, W] bool) takes precedence over
    ``myocardium_model`` (the automatic myocardium); with neither, the CNN alone answers.

    progress(done, total) is passed to the model (frames); raise AnalysisCancelled from it to stop.
    ``warnings`` are added to the result (e.g. the front end's note on photos of the monitor).
    """
    if model is None:
        raise ValueError("No model loaded: select a model file or use the default model.")
    prediction = model.predict(scout, progress=progress) if progress is not None else model.predict(scout)
    recommendation = recommend(
        scout, prediction, settings, myocardium_mask=myocardium_mask, chosen_ti_ms=chosen_ti_ms,
        myocardium_model=myocardium_model if myocardium_mask is None else None,
    )
    return ScoutResult(
        slice_label=scout.slice_label,
        scout_key=scout.scout_key,
        ti_source=scout.ti_source,
        vendor=scout.vendor,
        n_frames=scout.n_frames,
        phase_sensitive=bool(scout.phase_sensitive),
        screen_capture=bool(scout.screen_capture),
        ti_ms=tuple(float(t) for t in scout.ti_ms),
        prediction=prediction,
        recommendation=recommendation,
        model_name=getattr(model, "name", "") or prediction.model_name,
        myocardium_model_name=getattr(myocardium_model, "name", "") if (myocardium_model is not None and myocardium_mask is None) else "",
        warnings=tuple(dict.fromkeys((*scout.warnings, *warnings))),
    )


def group_slices(keys: Sequence[str]) -> list[list[int]]:
    """Indices of the slices of each scout, in input order: slices with the same non-empty ``scout_key`` are
    one scout; a slice with an empty key (unknown acquisition) is a scout of its own."""
    groups: dict[str, list[int]] = {}
    order: list[str] = []
    for index, key in enumerate(keys):
        group_key = key if key else f"\0{index}"
        if group_key not in groups:
            groups[group_key] = []
            order.append(group_key)
        groups[group_key].append(index)
    return [groups[k] for k in order]


def random_effects_mean(values: np.ndarray, standard_errors: np.ndarray) -> tuple[float, float, float, float]:
    """DerSimonian-Laird random-effects mean of ``values`` with their ``standard_errors``.

    Returns (mean, its standard error, fixed-effect standard error, tau = between-value SD). With k values,
    w_i = 1/se_i^2, Q = sum w_i (y_i - y_fe)^2, tau^2 = max(0, (Q - (k-1)) / (sum w - sum w^2 / sum w)),
    and the mean is weighted by 1/(se_i^2 + tau^2) (DerSimonian & Laird, Control Clin Trials 1986;7:177).
    Checked against statsmodels' combine_effects in the tests.
    """
    y = np.asarray(values, dtype=float)
    variance = np.asarray(standard_errors, dtype=float) ** 2
    weights = 1.0 / variance
    fixed = float(np.sum(weights * y) / weights.sum())
    fixed_se = float(np.sqrt(1.0 / weights.sum()))
    if y.size < 2:
        return fixed, fixed_se, fixed_se, 0.0
    q = float(np.sum(weights * (y - fixed) ** 2))
    c = float(weights.sum() - np.sum(weights**2) / weights.sum())
    tau_squared = max(0.0, (q - (y.size - 1)) / c) if c > 0 else 0.0
    random_weights = 1.0 / (variance + tau_squared)
    mean = float(np.sum(random_weights * y) / random_weights.sum())
    return mean, float(np.sqrt(1.0 / random_weights.sum())), fixed_se, float(np.sqrt(tau_squared))


def combine_slices(results: Sequence[ScoutResult], settings: RecommendationSettings = RecommendationSettings(),
                   chosen_ti_ms: float | None = None) -> CombinedNull:
    """Combine the final nulls of the slices of ONE scout (the caller groups them: :func:`group_slices`).

    Random-effects inverse-variance weighting (:func:`random_effects_mean`): slices that disagree more than
    their own uncertainties allow widen the combined uncertainty instead of being averaged into a falsely
    precise value. A spread above ``settings.disagreement_warning_ms`` is warned about.
    """
    if len(results) < 2:
        raise ValueError("Combining needs at least two slices.")
    keys = {r.scout_key for r in results}
    if len(keys) != 1 or "" in keys:
        raise ScoutError("Only slices of one scout (same study, series and protocol) can be combined.")
    nulls = np.array([r.null_ti_ms for r in results], dtype=float)
    errors = np.maximum(np.array([r.final.uncertainty_ms for r in results], dtype=float), MIN_SLICE_UNCERTAINTY_MS)
    mean, uncertainty, fixed_se, tau = random_effects_mean(nulls, errors)
    spread = float(nulls.max() - nulls.min())
    warnings = []
    if spread > settings.disagreement_warning_ms:
        warnings.append(
            f"The slices' nulls differ by up to {spread:.0f} ms ({', '.join(f'{n:.0f}' for n in nulls)} ms): check each slice "
            "(myocardium found, artefacts); the combined uncertainty includes this spread."
        )
    bracketed = all(r.recommendation.null_bracketed for r in results) and null_is_bracketed(
        np.concatenate([np.asarray(r.ti_ms) for r in results]), mean)
    chosen = assess_chosen_ti(chosen_ti_ms, mean, settings, null_bracketed=bracketed) if chosen_ti_ms is not None else None
    return CombinedNull(
        null_ti_ms=mean,
        uncertainty_ms=uncertainty,
        within_slice_uncertainty_ms=fixed_se,
        between_slice_sd_ms=tau,
        slice_spread_ms=spread,
        n_slices=len(results),
        recommended_lge_ti_ms=mean + settings.target_ms + settings.lge_shift_ms,
        chosen=chosen,
        warnings=tuple(warnings),
    )


def analyse_study(
    scouts: Sequence[TIScout],
    model,
    settings: RecommendationSettings = RecommendationSettings(),
    *,
    myocardium_masks: Sequence[np.ndarray | None] | None = None,
    myocardium_model=None,
    chosen_ti_ms: float | None = None,
    progress: Callable[[int, int], object] | None = None,
    warnings: Sequence[str] = (),
    skipped: Sequence[SkippedInput] = (),
) -> StudyResult:
    """Analyse every slice, group the slices by scout and combine each scout's slices.

    myocardium_masks: one user ROI (or None) per scout, aligned with ``scouts``.
    progress(done, total) counts frames over all slices (passed on to the model, and called after each slice);
    raise AnalysisCancelled from it to stop.
    ``warnings`` go to every slice (e.g. the photo note); ``skipped`` inputs are reported with the result.
    """
    scouts = list(scouts)
    if not scouts:
        raise ScoutError("No TI scout to analyse.")
    masks = list(myocardium_masks) if myocardium_masks is not None else [None] * len(scouts)
    if len(masks) != len(scouts):
        raise ValueError(f"Got {len(masks)} myocardium masks for {len(scouts)} scouts.")
    total_frames = sum(s.n_frames for s in scouts)
    results, done_frames = [], 0
    for scout, mask in zip(scouts, masks):
        frame_progress = None
        if progress is not None:
            def frame_progress(done, _total, offset=done_frames):
                return progress(offset + done, total_frames)
        results.append(analyse_scout(scout, model, settings, myocardium_mask=mask, myocardium_model=myocardium_model,
                                     chosen_ti_ms=chosen_ti_ms, progress=frame_progress, warnings=warnings))
        done_frames += scout.n_frames
        if progress is not None:
            progress(done_frames, total_frames)
    groups = []
    for indices in group_slices([s.scout_key for s in scouts]):
        members = tuple(results[i] for i in indices)
        combined = combine_slices(members, settings, chosen_ti_ms) if len(members) > 1 else None
        groups.append(ScoutGroupResult(members, combined))
    study_warnings = []
    if len(groups) > 1:
        study_warnings.append(
            f"The inputs hold {len(groups)} different scouts (different studies, series or protocols): each is reported "
            "separately and slices of different scouts are not combined."
        )
    return StudyResult(
        groups=tuple(groups),
        model_name=getattr(model, "name", ""),
        myocardium_model_name=getattr(myocardium_model, "name", "") if myocardium_model is not None else "",
        skipped=tuple(skipped),
        warnings=tuple(study_warnings),
    )


def analyse_single_frame(
    frame: SingleFrame,
    model,
    settings: RecommendationSettings = RecommendationSettings(),
    *,
    chosen_ti_ms: float | None = None,
    warnings: Sequence[str] = (),
) -> SingleFrameResult:
    """One picture of one frame: the network's offset from the null, the TI to change to, the verdict.

    ``model`` has ``predict_frame(frame) -> SingleFramePrediction`` (networks.single_frame.SingleFrameModel).
    """
    if model is None:
        raise ValueError("No single-frame model loaded: select a model file or use the default model.")
    return assess_single_frame(model.predict_frame(frame), settings, chosen_ti_ms=chosen_ti_ms,
                               frame_warnings=(*frame.warnings, *warnings))
