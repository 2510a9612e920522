"""Typed results of the TI pipeline (core: numpy only). Units are declared once per field
(``CardiacLGECommonLib.core.quantities.quantity``); ``to_dict()`` gives the JSON form (units in the key
names, no NaN: non-finite values become None).

* :class:`FrameResult`       one frame: its offset from the series null (the tool's answer) and the CNN's own
* :class:`ChosenTIAssessment` the verdict on the operator's TI
* :class:`Recommendation`    one slice: CNN null, the inversion-recovery cross-check, the final null, frames
* :class:`ScoutResult`       one analysed slice with what was analysed (no patient identifiers)
* :class:`CombinedNull`      the slices of one scout combined
* :class:`ScoutGroupResult`  the slices of one scout (one acquisition) and their combination
* :class:`StudyResult`       everything given to one run: one group per scout, plus skipped inputs
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from CardiacLGECommonLib.core.quantities import json_ready, quantity

from TINullCorrectionLib.core.irfit import IRFitResult
from TINullCorrectionLib.core.types import NullEstimate, ScoutPrediction


@dataclass(frozen=True)
class FrameResult:
    """One frame of an analysed scout (TI order).

    The verdict (``status``, ``in_optimal_range``) is judged on ``offset_from_null_ms`` = TI minus the series'
    final null (CNN and fit combined). ``predicted_offset_ms`` is the CNN's own offset for this frame alone;
    for a frame in a tail class ("earlier"/"later" than the trained range) it is only a bound
    (``offset_beyond_range``, ``offset_bound_ms``).
    """

    frame: int = quantity("", "Frame number (0 = shortest TI)")
    ti_ms: float = quantity("ms", "Inversion time of the frame")
    offset_from_null_ms: float = quantity("ms", "TI of the frame minus the series' final null TI (CNN and inversion-recovery fit combined)")
    in_optimal_range: bool = quantity("", "True when the frame's offset from the series null lies in the optimal range")
    status: str = quantity("", "optimal / near (within the near margin of the range) / far")
    predicted_offset_ms: float = quantity("ms", "CNN-predicted TI of the frame minus the myocardial null TI (negative = before the null)")
    corrected_ti_ms: float = quantity("ms", "Null TI estimated from this frame alone: TI - predicted offset")
    confidence: float = quantity("", "Probability mass of the predicted class and its two neighbours (0-1)")
    offset_beyond_range: str = quantity("", "'earlier'/'later' when the CNN put the frame in a tail class (its offset is a bound)", default="")
    offset_bound_ms: float | None = quantity("ms", "Inner edge of the tail class the CNN chose (None when not in a tail)", default=None)
    probabilities: tuple[float, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict:
        out = json_ready(self)
        out.pop("probabilities")
        return out


@dataclass(frozen=True)
class ChosenTIAssessment:
    """The operator's LGE TI against the (LGE-shifted) null.

    verdict: "optimal", "too early", "too late", or "cannot judge" when the null is not bracketed by the
    scout's frames (``judgeable`` False: the null is extrapolated beyond the first/last frame, so no
    verdict is given; ``change_to_ms`` is then the best estimate to start from, not a correction).
    """

    chosen_ti_ms: float = quantity("ms", "The TI the operator intends to use for LGE")
    offset_from_null_ms: float = quantity("ms", "Chosen TI minus the LGE-shifted null")
    verdict: str = quantity("", "optimal / too early / too late / cannot judge")
    in_optimal_range: bool = quantity("", "True when the chosen TI lies in the optimal range (never when it cannot be judged)")
    change_to_ms: float = quantity("ms", "TI to use instead (the chosen TI when optimal)")
    change_by_ms: float = quantity("ms", "change_to_ms - chosen_ti_ms")
    judgeable: bool = quantity("", "False when the null is extrapolated beyond the scout's frames", default=True)

    def to_dict(self) -> dict:
        return json_ready(self)


@dataclass(frozen=True)
class Recommendation:
    """The answer for one slice: the CNN's null, the inversion-recovery cross-check, the final null."""

    cnn: NullEstimate
    ir_fit: IRFitResult | None
    final: NullEstimate
    frames: tuple[FrameResult, ...]
    chosen: ChosenTIAssessment | None
    warnings: tuple[str, ...]
    optimal_range_ms: tuple[float, float]
    target_offset_ms: float
    lge_offset_ms: float
    drift_ms_per_min: float
    minutes_since_scout: float
    #: "user ROI", "automatic myocardium" or "" (no physics cross-check), and the mask the fit used [H, W].
    myocardium_source: str = ""
    myocardium_mask: np.ndarray | None = field(default=None, repr=False)
    #: False when the final null lies at or beyond the first/last frame (extrapolated).
    null_bracketed: bool = True
    #: The IR fit's own covariance SD (ms) before calibration, for a user ROI and for the automatic myocardium
    #: (ir_fit.null_uncertainty_ms is the calibrated one, recommendation.calibrated_fit_uncertainty); None without a fit.
    fit_covariance_uncertainty_ms: float | None = None

    @property
    def offset_from_null_ms(self) -> np.ndarray:
        """Every frame's TI minus the final null estimate (ms): the tool's answer per frame."""
        return np.array([frame.offset_from_null_ms for frame in self.frames])

    def to_dict(self) -> dict:
        """JSON-ready summary with units in the key names."""
        out = {
            "null_ti_ms": self.final.null_ti_ms,
            "null_uncertainty_ms": self.final.uncertainty_ms,
            "method": self.final.method,
            "null_bracketed_by_frames": self.null_bracketed,
            "recommended_lge_ti_ms": self.final.recommended_lge_ti_ms,
            "cnn_null_ti_ms": self.cnn.null_ti_ms,
            "cnn_null_uncertainty_ms": self.cnn.uncertainty_ms,
            "optimal_range_ms": list(self.optimal_range_ms),
            "target_offset_ms": self.target_offset_ms,
            "lge_offset_ms": self.lge_offset_ms,
            "drift_ms_per_min": self.drift_ms_per_min,
            "minutes_since_scout": self.minutes_since_scout,
            "warnings": list(self.warnings),
            "frames": [frame.to_dict() for frame in self.frames],
        }
        if self.ir_fit is not None:
            out["ir_fit"] = {
                "null_ti_ms": self.ir_fit.null_ti_ms,
                "null_uncertainty_ms": self.ir_fit.null_uncertainty_ms,
                "t1_star_ms": self.ir_fit.t1_star_ms,
                "t1_ms": self.ir_fit.t1_ms,
                "r_squared": self.ir_fit.r_squared,
                "model": self.ir_fit.model,
                "myocardium_source": self.myocardium_source,
                "myocardium_pixels": int(self.myocardium_mask.sum()) if self.myocardium_mask is not None else 0,
            }
            if self.fit_covariance_uncertainty_ms is not None:
                out["ir_fit"]["null_uncertainty_covariance_ms"] = self.fit_covariance_uncertainty_ms
        if self.chosen is not None:
            out["chosen"] = self.chosen.to_dict()
        return json_ready(out)


@dataclass(frozen=True)
class ScoutResult:
    """One analysed TI scout slice: what was analysed (no patient identifiers) and the answer."""

    slice_label: str
    scout_key: str
    ti_source: str
    vendor: str
    n_frames: int
    phase_sensitive: bool
    screen_capture: bool
    ti_ms: tuple[float, ...]
    prediction: ScoutPrediction = field(repr=False)
    recommendation: Recommendation = field(repr=False)
    model_name: str = ""
    myocardium_model_name: str = ""
    #: loading warnings of the scout (e.g. assembled from several series) and of this analysis
    warnings: tuple[str, ...] = ()

    @property
    def final(self) -> NullEstimate:
        return self.recommendation.final

    @property
    def null_ti_ms(self) -> float:
        return float(self.recommendation.final.null_ti_ms)

    @property
    def recommended_lge_ti_ms(self) -> float:
        return float(self.recommendation.final.recommended_lge_ti_ms)

    @property
    def optimal_range_ms(self) -> tuple[float, float]:
        return self.recommendation.optimal_range_ms

    def null_frame_index(self) -> int:
        """Frame whose TI is closest to the estimated null."""
        return int(np.argmin(np.abs(np.asarray(self.ti_ms) - self.null_ti_ms)))

    def all_warnings(self) -> tuple[str, ...]:
        """Loading warnings, then the recommendation's, each once."""
        return tuple(dict.fromkeys((*self.warnings, *self.recommendation.warnings)))

    def to_dict(self) -> dict:
        body = self.recommendation.to_dict()
        body["warnings"] = list(self.all_warnings())
        return json_ready({"slice": self.slice_label or "slice", "ti_source": self.ti_source, "vendor": self.vendor,
                           "n_frames": self.n_frames, "phase_sensitive": self.phase_sensitive,
                           "screen_capture": self.screen_capture, **body})


@dataclass(frozen=True)
class CombinedNull:
    """The slices of one scout combined (random-effects inverse-variance weighting, see pipeline.combine_slices)."""

    null_ti_ms: float = quantity("ms", "Combined myocardial null TI of the scout's slices")
    uncertainty_ms: float = quantity("ms", "1-sigma uncertainty, including the spread between slices")
    within_slice_uncertainty_ms: float = quantity("ms", "Uncertainty from the slices' own uncertainties only (fixed effect)")
    between_slice_sd_ms: float = quantity("ms", "Estimated SD of the true null between slices (DerSimonian-Laird tau)")
    slice_spread_ms: float = quantity("ms", "Largest minus smallest slice null")
    n_slices: int = quantity("", "Number of slices combined")
    recommended_lge_ti_ms: float = quantity("ms", "Combined null + target offset + LGE offset + drift")
    method: str = quantity("", "How the slices were combined", default="random-effects inverse-variance (DerSimonian-Laird)")
    chosen: ChosenTIAssessment | None = None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return json_ready(self)


@dataclass(frozen=True)
class ScoutGroupResult:
    """The slices of one scout (one acquisition: same study, series and protocol) and their combination."""

    slices: tuple[ScoutResult, ...]
    combined: CombinedNull | None = None

    def to_dict(self) -> dict:
        out = {"slices": [s.to_dict() for s in self.slices]}
        if self.combined is not None:
            out["combined"] = self.combined.to_dict()
        return out


@dataclass(frozen=True)
class SkippedInput:
    """An input that was not analysed, and why (shown in the output and the JSON)."""

    what: str
    reason: str


@dataclass(frozen=True)
class StudyResult:
    """Everything given to one run: one group per scout (slices of different scouts are never combined)."""

    groups: tuple[ScoutGroupResult, ...]
    model_name: str = ""
    myocardium_model_name: str = ""
    skipped: tuple[SkippedInput, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def slices(self) -> tuple[ScoutResult, ...]:
        return tuple(s for group in self.groups for s in group.slices)

    def to_dict(self) -> dict:
        """``slices``: every analysed slice (each with the index of its ``scout``); ``scouts``: per scout the
        indices of its slices and, for several slices, their combination; ``skipped``: inputs not analysed."""
        slices, scouts = [], []
        for number, group in enumerate(self.groups):
            indices = []
            for result in group.slices:
                indices.append(len(slices))
                slices.append({**result.to_dict(), "scout": number})
            scouts.append({"slices": indices, "combined": group.combined.to_dict() if group.combined is not None else None})
        return json_ready({
            "model": self.model_name,
            "myocardium_model": self.myocardium_model_name or None,
            "slices": slices,
            "scouts": scouts,
            "skipped": [{"input": s.what, "reason": s.reason} for s in self.skipped],
            "warnings": list(self.warnings),
        })
