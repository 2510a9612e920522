"""From per-frame CNN offsets (and optionally a physics fit) to the TI to use for LGE.

Series null: every frame's class distribution p_n over offset bins says where the null may be
relative to that frame's TI. For a candidate null x the frame offset is TI_n - x; the series
log-likelihood is  L(x) = sum_n log dens_n(TI_n - x), with dens_n the class probabilities divided
by the class width (tails: 100 ms), linearly interpolated between class centres. The null is the
maximiser of L refined by the posterior mean within +/-20 ms; its uncertainty is the posterior SD
(at least bin_width/sqrt(12)). Frames far from the null still contribute ("earlier"/"later"), so a
coarse scout with one or two frames near the null still gives an estimate.

Physics cross-check: the inversion-recovery fit of the mean signal of the myocardium
(irfit.fit_scout_roi), on the user's ROI when one is given, else on the myocardium found by the U-Net
(networks/myocardium_unet.py) when a myocardium model is given ("automatic myocardium"). Within ``disagreement_warning_ms`` the two are combined by inverse-variance
weighting ("combined"); beyond it a warning is raised and the fit is reported when it is good
(R^2 >= min_fit_r_squared, null inside the scout's TI range: "ir-fit"), else the CNN ("cnn").
The CNN's weight uses its calibrated uncertainty (calibrated_cnn_uncertainty).

Recommended LGE TI (our documented choice, docs/METHODS.md):
    recommended = null + target_offset_ms + lge_offset_ms + drift_ms_per_min * minutes_since_scout
with target_offset_ms = middle of the optimal range (default range null-10..null+20 ms -> +5 ms).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from TINullCorrectionLib.core.presentation import DEFAULT_NEAR_MARGIN_MS, frame_rows
from TINullCorrectionLib.core.results import ChosenTIAssessment, Recommendation
from TINullCorrectionLib.core.types import (
    DEFAULT_OPTIMAL_RANGE_MS,
    PLAUSIBLE_TI_MS,
    NullEstimate,
    ScoutError,
    ScoutPrediction,
    TIScout,
    check_plausible_ti_ms,
)

TAIL_WIDTH_MS = 100.0
#: A null closer than this to the first/last frame (or beyond it) is extrapolated (null_is_bracketed).
BRACKET_MARGIN_MS = 10.0
#: Plausible operator-chosen LGE TI (docs/METHODS.md §1.7: 0-4000 ms).
PLAUSIBLE_CHOSEN_TI_MS = (0.0, 4000.0)


#: Bounds of the settings (docs/METHODS.md §1.3): absolute values in ms, ms/min and minutes.
PLAUSIBLE_SETTING_LIMITS = {"optimal_range_ms": 200.0, "target_offset_ms": 200.0, "lge_offset_ms": 300.0,
                            "drift_ms_per_min": 20.0, "minutes_since_scout": 240.0}


@dataclass(frozen=True)
class RecommendationSettings:
    """optimal_range_ms: (low, high) offsets from the null that count as optimal (default -10..+20 ms)."""

    optimal_range_ms: tuple[float, float] = DEFAULT_OPTIMAL_RANGE_MS
    target_offset_ms: float | None = None
    lge_offset_ms: float = 0.0
    drift_ms_per_min: float = 0.0
    minutes_since_scout: float = 0.0
    disagreement_warning_ms: float = 30.0
    low_confidence: float = 0.5
    min_fit_r_squared: float = 0.98
    #: Calibration of the CNN's uncertainty (its posterior SD times this factor), for scanner data and for
    #: screen captures: see :func:`calibrated_cnn_uncertainty`.
    cnn_uncertainty_scale: float = 1.8
    cnn_uncertainty_scale_screen_capture: float = 2.3
    #: Calibration of the user-ROI fit's uncertainty: sqrt((scale x covariance SD)^2 + floor^2), for scanner data
    #: and for screen captures: see :func:`calibrated_fit_uncertainty`.
    fit_uncertainty_scale: float = 1.7
    fit_uncertainty_floor_ms: float = 8.3
    fit_uncertainty_scale_screen_capture: float = 3.6
    fit_uncertainty_floor_screen_capture_ms: float = 10.7
    #: The same calibration for the fit of the automatic myocardium (the U-Net's mask, ti-correct without an ROI):
    #: its errors differ from a user ROI's (smaller bias, other partial volume), so it has its own k and floor.
    #: Maximum likelihood on seed 998021 (300 series; bench_roi_fit_uncertainty.py --automatic --fit-calibration):
    #: scanner data 1.59 / 2.44 ms (raw SD covered 38.4% of errors at 1 sigma), 4K photos 1.86 / 4.98 ms (29.4%).
    automatic_fit_uncertainty_scale: float = 1.59
    automatic_fit_uncertainty_floor_ms: float = 2.44
    automatic_fit_uncertainty_scale_screen_capture: float = 1.86
    automatic_fit_uncertainty_floor_screen_capture_ms: float = 4.98

    def __post_init__(self) -> None:
        low, high = (float(v) for v in self.optimal_range_ms)
        if not low < high:
            raise ValueError(f"Optimal range must be (low, high) with low < high; got {self.optimal_range_ms}.")
        object.__setattr__(self, "optimal_range_ms", (low, high))
        for name in ("lge_offset_ms", "drift_ms_per_min", "minutes_since_scout", "disagreement_warning_ms"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number.")
        # Plausible settings (docs/METHODS.md §1.3, our bounds): beyond them a typo, not a site's choice.
        limit = PLAUSIBLE_SETTING_LIMITS
        if not (-limit["optimal_range_ms"] <= low and high <= limit["optimal_range_ms"]):
            raise ValueError(f"The optimal range must lie within +/-{limit['optimal_range_ms']:g} ms of the null; got {self.optimal_range_ms}.")
        for name in ("lge_offset_ms", "drift_ms_per_min", "target_offset_ms"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and abs(value) <= limit[name]):
                raise ValueError(f"{name} must be a number within +/-{limit[name]:g}; got {value}.")
        if self.minutes_since_scout > limit["minutes_since_scout"]:
            raise ValueError(f"minutes_since_scout must be at most {limit['minutes_since_scout']:g}; got {self.minutes_since_scout}.")
        for name in ("cnn_uncertainty_scale", "cnn_uncertainty_scale_screen_capture", "fit_uncertainty_scale",
                     "fit_uncertainty_scale_screen_capture", "automatic_fit_uncertainty_scale",
                     "automatic_fit_uncertainty_scale_screen_capture"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"{name} must be a positive number.")
        for name in ("fit_uncertainty_floor_ms", "fit_uncertainty_floor_screen_capture_ms", "automatic_fit_uncertainty_floor_ms",
                     "automatic_fit_uncertainty_floor_screen_capture_ms"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be a number >= 0.")
        if self.minutes_since_scout < 0:
            raise ValueError("minutes_since_scout cannot be negative.")

    @property
    def target_ms(self) -> float:
        """Offset from the null that the recommendation aims at (middle of the optimal range by default)."""
        return float(np.mean(self.optimal_range_ms)) if self.target_offset_ms is None else float(self.target_offset_ms)

    @property
    def lge_shift_ms(self) -> float:
        """Shift from the scout null to the LGE null: sequence offset + gadolinium drift."""
        return float(self.lge_offset_ms + self.drift_ms_per_min * self.minutes_since_scout)


def series_null_likelihood(prediction: ScoutPrediction, candidates_ms: np.ndarray) -> np.ndarray:
    """Log-likelihood L(x) of candidate null TIs x (ms) given every frame's class probabilities."""
    centers = np.asarray(prediction.bin_centers_ms, dtype=float)
    widths = np.diff(centers[1:-1]).mean() if len(centers) > 3 else 1.0
    density = np.asarray(prediction.probabilities, dtype=float).copy()
    density[:, 1:-1] /= widths
    density[:, [0, -1]] /= TAIL_WIDTH_MS
    total = np.zeros(len(candidates_ms))
    for ti, frame_density in zip(prediction.ti_ms, density):
        total += np.log(np.interp(ti - candidates_ms, centers, frame_density) + 1e-9)
    return total


#: The null search grid (1 ms steps) never holds more points than this, whatever the input (docs/METHODS.md §1.7:
#: TIs 0-4000 ms plus the CNN's reach on either side fit with room to spare).
MAX_NULL_GRID_POINTS = 20_000


def null_search_grid_ms(ti_ms, reach_ms: float) -> np.ndarray:
    """Candidate null TIs (1 ms steps) from ``reach_ms`` before the first to ``reach_ms`` after the last frame,
    bounded by the physical range: ScoutError for TIs outside PLAUSIBLE_TI_MS or an unbounded reach, so that no
    input can build a grid that takes the memory down (a TI of 1e9 ms once asked for 24 GB)."""
    ti = check_plausible_ti_ms(ti_ms)
    reach = float(reach_ms)
    if not (np.isfinite(reach) and 0.0 < reach <= PLAUSIBLE_TI_MS[1]):
        raise ScoutError(f"The CNN's offset classes reach {reach_ms} ms: not a usable model output.")
    low = max(0.0, float(ti.min()) - reach)
    high = min(PLAUSIBLE_TI_MS[1] + reach, float(ti.max()) + reach)
    n_points = int(np.floor(high - low)) + 1
    if n_points > MAX_NULL_GRID_POINTS:  # cannot happen with the checks above; kept as the last guard
        raise ScoutError(f"The null search would need {n_points} grid points (at most {MAX_NULL_GRID_POINTS}).")
    return low + np.arange(n_points, dtype=float)


def combine_frame_offsets(prediction: ScoutPrediction) -> tuple[float, float]:
    """Series null TI (ms) and its uncertainty (ms) from all frames' class distributions."""
    centers = np.asarray(prediction.bin_centers_ms, dtype=float)
    if centers.size < 2 or not np.all(np.isfinite(centers)):
        raise ScoutError("The CNN's offset classes are not finite numbers: not a usable model output.")
    probabilities = np.asarray(prediction.probabilities, dtype=float)
    if not np.all(np.isfinite(probabilities)):
        raise ScoutError("The CNN returned non-finite class probabilities: the model file is damaged or not a TI-offset model.")
    reach = float(centers[-1])
    candidates = null_search_grid_ms(prediction.ti_ms, reach)
    log_likelihood = series_null_likelihood(prediction, candidates)
    best = int(np.argmax(log_likelihood))
    window = np.abs(candidates - candidates[best]) <= 20.0
    weights = np.exp(log_likelihood[window] - log_likelihood[best])
    null = float(np.sum(weights * candidates[window]) / weights.sum())
    posterior = np.exp(log_likelihood - log_likelihood.max())
    posterior /= posterior.sum()
    spread = float(np.sqrt(np.sum(posterior * (candidates - null) ** 2)))
    bin_width = float(np.diff(centers[1:-1]).mean()) if len(centers) > 3 else 1.0
    return null, max(spread, bin_width / np.sqrt(12.0))


def calibrated_cnn_uncertainty(posterior_sd_ms: float, screen_capture: bool, settings: RecommendationSettings) -> float:
    """The CNN's null uncertainty (ms): its posterior SD times a calibration factor.

    The posterior of independent frames is too narrow (neighbouring frames' errors are correlated). On
    held-out simulated series (not training or benchmark seeds) the robust SD (1.4826 x MAD) of
    error / posterior SD was 1.76 on scanner data (seed 998003, 300 series) and 2.31 / 2.26 on 4K monitor
    photos (seeds 998001 / 998003, 300 each); the defaults 1.8 and 2.3 make the reported uncertainty a
    1-sigma figure and give the CNN its due weight against the inversion-recovery fit.
    """
    scale = settings.cnn_uncertainty_scale_screen_capture if screen_capture else settings.cnn_uncertainty_scale
    return float(posterior_sd_ms * scale)


def calibrated_fit_uncertainty(covariance_sd_ms: float, screen_capture: bool, settings: RecommendationSettings,
                               automatic: bool = False) -> float:
    """The null uncertainty (ms) of an inversion-recovery fit: sqrt((k sd)^2 + floor^2).

    The covariance SD of the fit only counts the noise of the ROI's mean curve; partial volume with blood or fat
    as the heart moves, the Look-Locker readout and (on screen captures) the display are not in it, so it was
    far too small (+/-0.4-2 ms reported for errors of 2-13 ms). k and the floor were fitted by maximum likelihood
    on held-out simulated scouts (benchmarks/bench_roi_fit_uncertainty.py): for a user's ROI with the true
    remote-myocardium mask, for the automatic myocardium (``automatic``) with the U-Net's mask.
    """
    if automatic:
        k, floor = ((settings.automatic_fit_uncertainty_scale_screen_capture, settings.automatic_fit_uncertainty_floor_screen_capture_ms)
                    if screen_capture else (settings.automatic_fit_uncertainty_scale, settings.automatic_fit_uncertainty_floor_ms))
    elif screen_capture:
        k, floor = settings.fit_uncertainty_scale_screen_capture, settings.fit_uncertainty_floor_screen_capture_ms
    else:
        k, floor = settings.fit_uncertainty_scale, settings.fit_uncertainty_floor_ms
    return float(math.hypot(k * float(covariance_sd_ms), floor))


def _fit_sd(ir_fit, fallback_ms: float) -> float:
    value = float(ir_fit.null_uncertainty_ms)
    return value if np.isfinite(value) and value > 0 else fallback_ms


def assess_chosen_ti(chosen_ti_ms: float, null_ti_ms: float, settings: RecommendationSettings,
                     null_bracketed: bool = True) -> ChosenTIAssessment:
    """Is the operator's LGE TI in the optimal range around the (LGE-shifted) null, and what to use instead.

    With ``null_bracketed`` False (the null lies at or beyond the scout's first/last frame: extrapolated) no
    verdict is given ("cannot judge"); ``change_to_ms`` is the recommended TI to start from.
    """
    chosen_ti_ms = float(chosen_ti_ms)
    low_ti, high_ti = PLAUSIBLE_CHOSEN_TI_MS
    if not (np.isfinite(chosen_ti_ms) and low_ti < chosen_ti_ms <= high_ti):
        raise ScoutError(f"The chosen TI must be a number of milliseconds in ({low_ti:g}, {high_ti:g}]; got {chosen_ti_ms:g}.")
    lge_null = null_ti_ms + settings.lge_shift_ms
    offset = float(chosen_ti_ms - lge_null)
    low, high = settings.optimal_range_ms
    target = float(lge_null + settings.target_ms)
    if not null_bracketed:
        return ChosenTIAssessment(chosen_ti_ms, offset, "cannot judge", False, target, target - chosen_ti_ms, judgeable=False)
    verdict = "optimal" if low <= offset <= high else ("too early" if offset < low else "too late")
    change_to = chosen_ti_ms if verdict == "optimal" else target
    return ChosenTIAssessment(chosen_ti_ms, offset, verdict, verdict == "optimal", change_to, change_to - chosen_ti_ms)


def null_is_bracketed(ti_ms: np.ndarray, null_ti_ms: float, margin_ms: float = BRACKET_MARGIN_MS) -> bool:
    """True when frames were acquired both before and after the null by at least ``margin_ms``.

    Our rule: a null at (within ``margin_ms`` of) or beyond the first or last frame is extrapolated from one
    side of the recovery curve only; its verdicts are withheld.
    """
    ti = np.asarray(ti_ms, dtype=float)
    return bool(np.isfinite(null_ti_ms) and np.any(ti <= null_ti_ms - margin_ms) and np.any(ti >= null_ti_ms + margin_ms))


def recommend(
    scout: TIScout,
    prediction: ScoutPrediction,
    settings: RecommendationSettings = RecommendationSettings(),
    myocardium_mask: np.ndarray | None = None,
    chosen_ti_ms: float | None = None,
    myocardium_model=None,
) -> Recommendation:
    """Combine the CNN and the inversion-recovery fit of the myocardium into a recommendation.

    The fit uses ``myocardium_mask`` (the user's ROI) when given, else the myocardium found by
    ``myocardium_model`` (a networks.myocardium_unet.MyocardiumModel) when given, else it is skipped.
    """
    if prediction.offset_ms.shape != scout.ti_ms.shape or not np.allclose(prediction.ti_ms, scout.ti_ms):
        raise ValueError("The prediction does not belong to this TI scout (different frames or TIs).")
    warnings: list[str] = []
    shift = settings.lge_shift_ms + settings.target_ms
    cnn_null, posterior_sd = combine_frame_offsets(prediction)
    cnn_sd = calibrated_cnn_uncertainty(posterior_sd, bool(scout.screen_capture), settings)
    cnn = NullEstimate(cnn_null, cnn_sd, "cnn", cnn_null + shift)

    ir_fit = None
    covariance_sd = None
    final = cnn
    ti = scout.ti_ms
    source = "user ROI" if myocardium_mask is not None else ""
    if myocardium_mask is None and myocardium_model is not None:
        from TINullCorrectionLib.core.automatic_myocardium import fit_automatic_myocardium

        try:
            ir_fit, myocardium_mask = fit_automatic_myocardium(scout, myocardium_model.myocardium_probability(scout))
            source = "automatic myocardium"
        except ScoutError as error:
            warnings.append(f"{error} The CNN value is reported.")
    elif myocardium_mask is not None:
        from TINullCorrectionLib.core.irfit import fit_scout_roi

        myocardium_mask = np.asarray(myocardium_mask, dtype=bool)
        ir_fit = fit_scout_roi(scout, myocardium_mask)
    if ir_fit is not None:
        covariance_sd = float(ir_fit.null_uncertainty_ms)
        if np.isfinite(covariance_sd):
            # the covariance SD of a fit is far too small: calibrated (calibrated_fit_uncertainty)
            calibrated = calibrated_fit_uncertainty(covariance_sd, bool(scout.screen_capture), settings,
                                                    automatic=source == "automatic myocardium")
            ir_fit = replace(ir_fit, null_uncertainty_ms=calibrated)
        else:
            covariance_sd = None
    if ir_fit is not None:
        if np.isfinite(ir_fit.null_ti_ms):
            difference = float(ir_fit.null_ti_ms - cnn_null)
            fit_is_good = ir_fit.r_squared >= settings.min_fit_r_squared and ti[0] <= ir_fit.null_ti_ms <= ti[-1]
            if abs(difference) > settings.disagreement_warning_ms:
                if fit_is_good:
                    final = NullEstimate(float(ir_fit.null_ti_ms), _fit_sd(ir_fit, cnn_sd), "ir-fit", float(ir_fit.null_ti_ms) + shift)
                reported = "the inversion-recovery fit (good fit inside the scout's range)" if fit_is_good else "the CNN value"
                warnings.append(
                    f"CNN ({cnn_null:.0f} ms) and inversion-recovery fit of the {source} ({ir_fit.null_ti_ms:.0f} ms) "
                    f"disagree by {abs(difference):.0f} ms: check the myocardium ROI and the scout; {reported} is reported."
                )
            else:
                fit_sd = _fit_sd(ir_fit, cnn_sd)
                weights = np.array([1.0 / cnn_sd**2, 1.0 / fit_sd**2])
                combined = float(np.dot(weights, [cnn_null, ir_fit.null_ti_ms]) / weights.sum())
                final = NullEstimate(combined, float(1.0 / np.sqrt(weights.sum())), "combined", combined + shift)
        else:
            warnings.append("The inversion-recovery fit found no null in the myocardium ROI; the CNN value is reported.")
        warnings.extend(f"IR fit: {w}" for w in ir_fit.warnings)

    bracketed = null_is_bracketed(ti, final.null_ti_ms)
    if final.null_ti_ms < ti[0] or final.null_ti_ms > ti[-1]:
        side = "before the first" if final.null_ti_ms < ti[0] else "after the last"
        warnings.append(
            f"The estimated null ({final.null_ti_ms:.0f} ms) lies {side} frame of the scout "
            f"({ti[0]:.0f}-{ti[-1]:.0f} ms): it is extrapolated; repeat the scout with a wider TI range."
        )
    elif not bracketed:
        side = "first" if final.null_ti_ms - ti[0] < ti[-1] - final.null_ti_ms else "last"
        warnings.append(
            f"The estimated null ({final.null_ti_ms:.0f} ms) lies at the {side} frame of the scout "
            f"({ti[0]:.0f}-{ti[-1]:.0f} ms): the recovery is seen on one side only; repeat the scout with a wider TI range."
        )
    near = np.abs(ti - final.null_ti_ms) <= 60.0
    if near.any() and float(np.mean(prediction.confidence[near])) < settings.low_confidence:
        warnings.append("Low CNN confidence near the null: check the frames by eye.")

    chosen = None
    if chosen_ti_ms is not None:
        chosen = assess_chosen_ti(float(chosen_ti_ms), final.null_ti_ms, settings, null_bracketed=bracketed)
        if chosen.verdict == "too early":
            warnings.append(
                f"At the chosen TI {chosen.chosen_ti_ms:.0f} ms normal myocardium is not yet nulled: "
                "inverted contrast is likely (scar may look dark). Use a longer TI."
            )
        elif chosen.verdict == "cannot judge":
            warnings.append(
                f"The chosen TI {chosen.chosen_ti_ms:.0f} ms cannot be judged: the null is extrapolated beyond the scout's frames."
            )
    frames = tuple(frame_rows(prediction, settings.optimal_range_ms, DEFAULT_NEAR_MARGIN_MS, final.null_ti_ms))
    final = NullEstimate(final.null_ti_ms, final.uncertainty_ms, final.method, final.recommended_lge_ti_ms, tuple(warnings))
    return Recommendation(
        cnn=cnn, ir_fit=ir_fit, final=final, frames=frames, chosen=chosen, warnings=tuple(warnings),
        optimal_range_ms=settings.optimal_range_ms, target_offset_ms=settings.target_ms, lge_offset_ms=settings.lge_offset_ms,
        drift_ms_per_min=settings.drift_ms_per_min, minutes_since_scout=settings.minutes_since_scout,
        myocardium_source=source, myocardium_mask=myocardium_mask if ir_fit is not None else None, null_bracketed=bracketed,
        fit_covariance_uncertainty_ms=covariance_sd,
    )
