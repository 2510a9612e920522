"""Single-frame mode (the published per-image mode): one picture of one TI-scout frame and its TI ->
the frame's offset from the myocardial null, a confidence, and the TI to change to.

The published CNN (Eur Radiol 2023;33(7):4688-4697) classified one image at a time: argmax class =
the frame's TI minus the reference null. Here the network (networks/single_frame.py) sees one
picture, so it cannot use the frame's neighbours: it is less accurate than the series modes (measured
in models/MODEL_CARD.md, "Single-frame mode"); every result carries that warning.

Input preparation (our choice, documented in the model card): a picture carries no pixel spacing,
so the network sees the central ``crop_fraction`` of the picture's shorter side (the heart sits near
the centre of a cardiac scout; the whole frame should fill the picture), resampled to ``grid`` x
``grid`` with anti-aliasing, in two channels: the picture divided by its 99th percentile, and the
picture stretched between its 1st and 99th percentiles (the display's black level and glare differ
between photos). With ``context_fraction`` > 0 a third channel shows that fraction of the shorter side
(1.0: the whole square field) on the same grid, **stretched with the crop's own 1st/99th percentiles**, so
the air outside the body and the subcutaneous fat keep their level relative to the heart. Air is the
zero-signal reference of a phase-sensitive picture (its display zero is a mid-grey set by the series'
window): the central crop rarely contains air (only the lungs come near zero, with a small negative signal
of their own), so from the two crop channels alone the sign of a PSIR myocardium was often not recoverable.
Scalars: the frame's TI (/1000 ms) and whether it is a screen capture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from CardiacLGECommonLib.core.quantities import json_ready, quantity
from scipy import ndimage

from TINullCorrectionLib.core.recommendation import RecommendationSettings, assess_chosen_ti
from TINullCorrectionLib.core.results import ChosenTIAssessment
from TINullCorrectionLib.core.types import ScoutError

#: Channels of the central crop (the context channel, when configured, comes third).
N_SINGLE_CHANNELS = 2
N_SINGLE_SCALARS = 2
#: Plausible TI of a scout frame (docs/METHODS.md, plausible input ranges).
TI_RANGE_MS = (0.0, 4000.0)


@dataclass(frozen=True)
class SingleFrame:
    """One picture of one TI-scout frame.

    frame: float32 [H, W] luminance (display levels for screen captures / photos).
    ti_ms: the TI printed with the frame (ms).
    screen_capture: True for screenshots and phone photos of the monitor (display levels).
    """

    frame: np.ndarray
    ti_ms: float
    screen_capture: bool = True
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        frame = np.asarray(self.frame, dtype=np.float32)
        if frame.ndim != 2 or min(frame.shape) < 16:
            raise ScoutError(f"A single frame must be a 2-D picture of at least 16 x 16 pixels; got shape {frame.shape}.")
        if not np.all(np.isfinite(frame)):
            raise ScoutError("The picture contains NaN or infinite pixel values.")
        ti = float(self.ti_ms)
        if not np.isfinite(ti) or not TI_RANGE_MS[0] < ti <= TI_RANGE_MS[1]:
            raise ScoutError(f"The frame's TI must be between {TI_RANGE_MS[0]:g} and {TI_RANGE_MS[1]:g} ms; got {self.ti_ms}.")
        if ti < 5.0:
            raise ScoutError(f"A TI of {ti:g} ms is implausibly short for a TI-scout frame: was it given in seconds?")
        if float(np.ptp(frame)) <= 0:
            raise ScoutError("The picture is blank (every pixel has the same value).")
        object.__setattr__(self, "frame", frame)
        object.__setattr__(self, "ti_ms", ti)
        object.__setattr__(self, "warnings", tuple(str(w) for w in self.warnings))


@dataclass(frozen=True)
class SingleFramePreprocess:
    """grid: pixels across the network input; crop_fraction: the central crop (fraction of the shorter side);
    context_fraction: the field of the context channel (fraction of the shorter side; 0 = no context channel,
    as in files written before it existed)."""

    grid: int = 64
    crop_fraction: float = 0.6
    context_fraction: float = 1.0

    def __post_init__(self) -> None:
        if self.grid < 8 or not 0.1 <= self.crop_fraction <= 1.0:
            raise ValueError(f"Single-frame preprocessing needs grid >= 8 and crop_fraction in [0.1, 1]; got {self}.")
        if self.context_fraction != 0.0 and not self.crop_fraction <= self.context_fraction <= 1.5:
            raise ValueError(f"context_fraction must be 0 (none) or between crop_fraction and 1.5; got {self}.")

    @property
    def n_channels(self) -> int:
        return N_SINGLE_CHANNELS + (1 if self.context_fraction > 0 else 0)

    def as_dict(self) -> dict:
        return {"grid": self.grid, "crop_fraction": self.crop_fraction, "context_fraction": self.context_fraction}

    @classmethod
    def from_dict(cls, stated: dict) -> SingleFramePreprocess:
        """The preprocessing a model file states; files without ``context_fraction`` had no context channel."""
        return cls(grid=int(stated["grid"]), crop_fraction=float(stated["crop_fraction"]),
                   context_fraction=float(stated.get("context_fraction", 0.0)))


def crop_box(shape: tuple[int, int], crop_fraction: float, centre_shift: tuple[float, float] = (0.0, 0.0)):
    """(row0, col0, size) of the square crop: ``crop_fraction`` of the shorter side, centred (+ a shift as a
    fraction of the side, used for training augmentation); may extend beyond the picture (filled with 0)."""
    height, width = shape
    size = max(8.0, crop_fraction * min(height, width))
    row0 = (height - size) / 2.0 + centre_shift[0] * height
    col0 = (width - size) / 2.0 + centre_shift[1] * width
    return row0, col0, size


def _resampled_square(frame: np.ndarray, grid: int, fraction: float, centre_shift: tuple[float, float]) -> np.ndarray:
    """The square ``fraction`` of the shorter side around the centre (+ shift), anti-aliased onto grid x grid."""
    row0, col0, size = crop_box(frame.shape, fraction, centre_shift)
    step = size / grid
    sigma = max(0.0, 0.4 * (step - 1.0))
    smoothed = ndimage.gaussian_filter(frame, sigma) if sigma > 0 else frame
    centres = (np.arange(grid) + 0.5) * step - 0.5
    rows, cols = np.meshgrid(row0 + centres, col0 + centres, indexing="ij")
    return ndimage.map_coordinates(smoothed, [rows, cols], order=1, mode="constant", cval=0.0)


def single_frame_channels(frame: np.ndarray, config: SingleFramePreprocess = SingleFramePreprocess(),
                          centre_shift: tuple[float, float] = (0.0, 0.0), crop_fraction: float | None = None) -> np.ndarray:
    """[config.n_channels, grid, grid] float32 network input of one picture (see the module docstring)."""
    frame = np.asarray(frame, dtype=np.float32)
    fraction = config.crop_fraction if crop_fraction is None else float(crop_fraction)
    crop = _resampled_square(frame, config.grid, fraction, centre_shift)
    low, high = np.percentile(crop, [1.0, 99.0])
    if not high > 0:
        high = float(crop.max()) if crop.max() > 0 else 1.0
    spread = high - low if high > low else 1.0
    channels = [crop / high, (crop - low) / spread]
    if config.context_fraction > 0:
        context_fraction = config.context_fraction * fraction / config.crop_fraction  # the crop's jitter scales it too
        context = _resampled_square(frame, config.grid, context_fraction, centre_shift)
        channels.append((context - low) / spread)
    return np.stack(channels).astype(np.float32)


def single_frame_scalars(ti_ms: float, screen_capture: bool) -> np.ndarray:
    """[2]: TI / 1000 ms and the screen-capture flag."""
    return np.array([float(ti_ms) / 1000.0, float(screen_capture)], dtype=np.float32)


@dataclass(frozen=True)
class SingleFramePrediction:
    """The network's answer for one frame: class probabilities over offset bins (TI minus null, ms)."""

    ti_ms: float
    offset_ms: float
    probabilities: np.ndarray
    bin_centers_ms: np.ndarray
    class_names: tuple[str, ...]
    confidence: float
    model_name: str = ""


def offset_spread_ms(probabilities: np.ndarray, centers_ms: np.ndarray, offset_ms: float) -> float:
    """Standard deviation (ms) of the offset under the class distribution (tails at their representative offset)."""
    p = np.asarray(probabilities, dtype=float)
    c = np.asarray(centers_ms, dtype=float)
    return float(np.sqrt(np.sum(p * (c - offset_ms) ** 2) / max(p.sum(), 1e-12)))


@dataclass(frozen=True)
class SingleFrameResult:
    """The single-frame answer; offsets are the frame's TI minus the myocardial null."""

    ti_ms: float = quantity("ms", "TI of the photographed frame")
    offset_from_null_ms: float = quantity("ms", "Network's offset of the frame's TI from the myocardial null (negative = before)")
    offset_uncertainty_ms: float = quantity("ms", "SD of the offset under the network's class probabilities")
    confidence: float = quantity("", "Probability mass of the predicted class and its two neighbours (0-1)")
    null_ti_ms: float = quantity("ms", "Null TI implied by this frame: TI - offset")
    recommended_lge_ti_ms: float = quantity("ms", "Null + target offset + LGE offset + drift")
    frame_status: str = quantity("", "optimal / too early / too late: the frame's own TI against the optimal range")
    frame_in_optimal_range: bool = quantity("", "True when the frame's TI lies in the optimal range")
    change_ti_to_ms: float = quantity("ms", "TI to use: the frame's TI when it is optimal (and no LGE shift is set), else the recommended TI")
    offset_beyond_range: str = quantity("", "'earlier'/'later' when the network chose a tail class (only a bound is known)")
    optimal_range_ms: tuple[float, float] = quantity("ms", "Optimal range around the null (low, high)")
    target_offset_ms: float = quantity("ms", "Offset from the null the recommendation aims at")
    lge_offset_ms: float = quantity("ms", "Scout-to-LGE shift added (offset + drift)")
    chosen: ChosenTIAssessment | None = None
    warnings: tuple[str, ...] = ()
    probabilities: tuple[float, ...] = ()
    class_names: tuple[str, ...] = ()
    model_name: str = ""

    def to_dict(self) -> dict:
        out = json_ready(self)
        out["mode"] = "single-frame"
        return out


#: Measured accuracy quoted in every single-frame answer (models/MODEL_CARD.md, "Single-frame mode").
SINGLE_FRAME_WARNING = (
    "Single-frame mode sees one picture without its neighbours: it is less accurate than a whole-mosaic "
    "photo or a series (see the model card); use it when only one frame can be photographed, and check by eye."
)


def assess_single_frame(prediction: SingleFramePrediction, settings: RecommendationSettings = RecommendationSettings(),
                        chosen_ti_ms: float | None = None, low_confidence: float | None = None,
                        frame_warnings: tuple[str, ...] = ()) -> SingleFrameResult:
    """The single-frame answer from the network's prediction: offset, its uncertainty, the null implied by this
    frame (TI - offset), the recommended LGE TI (null + target + LGE shift) and the verdict on the frame's TI."""
    centers = np.asarray(prediction.bin_centers_ms, dtype=float)
    probabilities = np.asarray(prediction.probabilities, dtype=float)
    offset = float(prediction.offset_ms)
    reach = float(centers[-2] + (centers[-2] - centers[-3]) / 2)
    beyond = "earlier" if offset < -reach else ("later" if offset > reach else "")
    null = float(prediction.ti_ms - offset)
    shift = settings.target_ms + settings.lge_shift_ms
    low, high = settings.optimal_range_ms
    status = "optimal" if low <= offset <= high else ("too early" if offset < low else "too late")
    recommended = null + shift
    warnings = [SINGLE_FRAME_WARNING, *frame_warnings]
    if beyond:
        side = "before" if beyond == "earlier" else "after"
        warnings.append(
            f"This frame is more than {reach:.0f} ms {side} the myocardial null: only a bound is known, so the TI to "
            "change to is not a measurement. Photograph a frame where the myocardium is darkest."
        )
    threshold = settings.low_confidence if low_confidence is None else low_confidence
    if prediction.confidence < threshold:
        warnings.append(f"Low confidence ({100 * prediction.confidence:.0f}%): check the frame by eye or photograph the whole mosaic.")
    if status == "too early":
        warnings.append(f"At TI {prediction.ti_ms:.0f} ms normal myocardium is not yet nulled: inverted contrast is likely.")
    chosen = assess_chosen_ti(float(chosen_ti_ms), null, settings) if chosen_ti_ms is not None else None
    if chosen is not None and chosen.verdict == "too early":
        warnings.append(f"At the chosen TI {chosen.chosen_ti_ms:.0f} ms normal myocardium is not yet nulled: inverted contrast is likely.")
    return SingleFrameResult(
        ti_ms=float(prediction.ti_ms), offset_from_null_ms=offset,
        offset_uncertainty_ms=offset_spread_ms(probabilities, centers, offset), confidence=float(prediction.confidence),
        null_ti_ms=null, recommended_lge_ti_ms=recommended, frame_status=status, frame_in_optimal_range=status == "optimal",
        change_ti_to_ms=float(prediction.ti_ms) if status == "optimal" and settings.lge_shift_ms == 0 else recommended,
        offset_beyond_range=beyond, optimal_range_ms=settings.optimal_range_ms, target_offset_ms=settings.target_ms,
        lge_offset_ms=settings.lge_shift_ms, chosen=chosen, warnings=tuple(dict.fromkeys(warnings)),
        probabilities=tuple(float(p) for p in probabilities), class_names=tuple(prediction.class_names),
        model_name=prediction.model_name,
    )


def single_frame_report(result: SingleFrameResult) -> str:
    """Plain-language text of a single-frame answer (the CLI prints it; the web page shows the same values)."""
    low, high = result.optimal_range_ms
    if result.offset_beyond_range:
        offset = f"{'<' if result.offset_beyond_range == 'earlier' else '>'} {result.offset_from_null_ms:+.0f} ms"
    else:
        offset = f"{result.offset_from_null_ms:+.0f} ms (+/- {result.offset_uncertainty_ms:.0f} ms)"
    lines = [
        f"Frame at TI {result.ti_ms:.0f} ms: {offset} from the myocardial null, confidence {100 * result.confidence:.0f}%",
        f"  -> {result.frame_status} (optimal range null {low:+g}..{high:+g} ms)",
        f"Null TI from this frame: {result.null_ti_ms:.0f} ms",
        f"Recommended LGE TI: {result.recommended_lge_ti_ms:.0f} ms" + (f" (includes {result.lge_offset_ms:+.0f} ms LGE shift)" if result.lge_offset_ms else ""),
        f"Change TI to: {result.change_ti_to_ms:.0f} ms",
    ]
    if result.chosen is not None:
        chosen = result.chosen
        advice = "keep it" if chosen.in_optimal_range else f"change it to {chosen.change_to_ms:.0f} ms"
        lines.append(f"Chosen TI {chosen.chosen_ti_ms:.0f} ms: {chosen.verdict} - {advice}")
    if result.warnings:
        lines.append("Warnings:")
        lines.extend(f"  - {w}" for w in result.warnings)
    return "\n".join(lines)
