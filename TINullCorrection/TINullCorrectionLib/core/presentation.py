"""Presentation of TI-correction results as plain values (core: numpy only, no slicer, no Qt).

Per-frame rows, the colour cue, the per-frame overlay text, the plain-language summary and the
short panel texts. The MRML adapters (mrml.results, mrml.overlay) and the CLI figure use these.

Per-frame colour cue (our choice, documented in the README): a frame is "optimal" when its predicted
offset from the myocardial null lies in the optimal range (default null -10...+20 ms), "near" when it
is at most ``near_margin_ms`` (default 20 ms) outside the range, "far" otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from TINullCorrectionLib.core.types import ScoutPrediction

DEFAULT_OPTIMAL_RANGE_MS = (-10.0, 20.0)
DEFAULT_NEAR_MARGIN_MS = 20.0
COLOUR_OPTIMAL = (0.1, 0.8, 0.2)  # green
COLOUR_NEAR = (1.0, 0.7, 0.0)  # amber
COLOUR_FAR = (0.95, 0.15, 0.1)  # red
STATUS_COLOURS = {"optimal": COLOUR_OPTIMAL, "near": COLOUR_NEAR, "far": COLOUR_FAR}

NEUTRAL_COLOUR = (0.9, 0.9, 0.9)


def _attr(obj, *names, default=None):
    for name in names:
        if obj is not None and hasattr(obj, name):
            value = getattr(obj, name)
            if value is not None:
                return value
    return default


def prediction_of(result) -> ScoutPrediction:
    """The ScoutPrediction in ``result`` (a ScoutPrediction, or an object carrying one as ``prediction``)."""
    if isinstance(result, ScoutPrediction):
        return result
    prediction = _attr(result, "prediction")
    if isinstance(prediction, ScoutPrediction):
        return prediction
    raise TypeError(f"Expected a ScoutPrediction (or a result holding one); got {type(result).__name__}.")


def optimal_range_of(result, default=DEFAULT_OPTIMAL_RANGE_MS) -> tuple[float, float]:
    """Optimal range (ms relative to the null) from a result/recommendation's settings, else ``default``."""
    value = _attr(result, "optimal_range_ms")
    if value is None:
        value = _attr(_attr(result, "settings"), "optimal_range_ms")
    if value is None:
        value = _attr(_attr(_attr(result, "recommendation"), "settings"), "optimal_range_ms")
    low, high = (float(v) for v in (value if value is not None else default))
    if not low <= high:
        raise ValueError(f"Optimal range must have minimum <= maximum; got ({low}, {high}) ms.")
    return low, high


# ------------------------------------------------------------------------------------------ frame rows
def offset_status(offset_ms: float, optimal_range_ms=DEFAULT_OPTIMAL_RANGE_MS, near_margin_ms: float = DEFAULT_NEAR_MARGIN_MS) -> str:
    """'optimal', 'near' or 'far' for a frame whose TI is ``offset_ms`` from the null."""
    low, high = optimal_range_ms
    if low <= offset_ms <= high:
        return "optimal"
    distance = low - offset_ms if offset_ms < low else offset_ms - high
    return "near" if distance <= near_margin_ms else "far"


@dataclass(frozen=True)
class FrameRow:
    frame: int
    ti_ms: float
    predicted_offset_ms: float
    corrected_ti_ms: float
    confidence: float
    in_optimal_range: bool
    status: str
    probabilities: tuple[float, ...]
    #: TI minus the series' final null (CNN and IR fit combined); the CNN's own offset when no null is known
    offset_from_null_ms: float = float("nan")


def frame_rows(prediction: ScoutPrediction, optimal_range_ms=DEFAULT_OPTIMAL_RANGE_MS, near_margin_ms=DEFAULT_NEAR_MARGIN_MS,
               null_ti_ms: float | None = None) -> list[FrameRow]:
    """One row per frame (TI order) with the values the table, the plot and the overlay show.

    With the series' final ``null_ti_ms`` the verdict of each frame (status, in_optimal_range) is judged on
    ``TI - null`` (the tool's answer); without it, on the CNN's per-frame offset.
    """
    ti = np.asarray(prediction.ti_ms, dtype=float)
    offsets = np.asarray(prediction.offset_ms, dtype=float)
    corrected = np.asarray(prediction.corrected_ti_ms, dtype=float)
    confidence = np.asarray(prediction.confidence, dtype=float)
    probabilities = np.asarray(prediction.probabilities, dtype=float)
    rows = []
    known = null_ti_ms is not None and np.isfinite(null_ti_ms)
    from_null = ti - float(null_ti_ms) if known else offsets
    for index in range(ti.size):
        status = offset_status(from_null[index], optimal_range_ms, near_margin_ms)
        rows.append(
            FrameRow(
                frame=index,
                ti_ms=float(ti[index]),
                predicted_offset_ms=float(offsets[index]),
                corrected_ti_ms=float(corrected[index]),
                confidence=float(confidence[index]),
                in_optimal_range=status == "optimal",
                status=status,
                probabilities=tuple(float(p) for p in probabilities[index]),
                offset_from_null_ms=float(from_null[index]),
            )
        )
    return rows


def probability_column_names(prediction: ScoutPrediction) -> list[str]:
    """Table column names of the class probabilities: ``p_<bin centre>ms`` (e.g. ``p_-5ms``; the tails
    carry their representative offset), unique; the class names go into the column descriptions."""
    centers = np.asarray(prediction.bin_centers_ms, dtype=float)
    names = [f"p_{c:+g}ms".replace("+", "") if np.isfinite(c) else f"p_class{k}" for k, c in enumerate(centers)]
    if len(set(names)) != len(names):
        names = [f"p_class{k}" for k in range(len(names))]
    return names


def _fmt_ms(value) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.0f} ms"


def recommendation_summary(recommendation, scout=None) -> str:
    """Plain-language summary: null TI, recommended LGE TI, chosen-TI verdict, warnings."""
    final = _attr(recommendation, "final", default=recommendation)
    lines = []
    description = _attr(scout, "series_description", default="")
    label = _attr(scout, "slice_label", default="")
    if description or label:
        lines.append(f"TI scout: {' - '.join(part for part in (description, label) if part)}")
    null_ti = _attr(final, "null_ti_ms")
    uncertainty = _attr(final, "uncertainty_ms")
    method = _attr(final, "method", default="")
    null_line = f"Estimated myocardial null TI: {_fmt_ms(null_ti)}"
    if uncertainty is not None and np.isfinite(uncertainty):
        null_line += f" (+/- {uncertainty:.0f} ms)"
    if method:
        null_line += f", method: {method}"
    lines.append(null_line)
    cnn = _attr(recommendation, "cnn")
    ir_fit = _attr(recommendation, "ir_fit")
    if cnn is not None and ir_fit is not None and cnn is not final:
        where = _attr(recommendation, "myocardium_source", default="") or "ROI"
        lines.append(f"  CNN: {_fmt_ms(_attr(cnn, 'null_ti_ms'))}; physics fit on the {where}: {_fmt_ms(_attr(ir_fit, 'null_ti_ms'))}")
    lines.append(f"Recommended LGE TI: {_fmt_ms(_attr(final, 'recommended_lge_ti_ms'))}")
    chosen = _attr(recommendation, "chosen")
    if chosen is not None:
        chosen_ti = _attr(chosen, "chosen_ti_ms", "ti_ms")
        verdict = _attr(chosen, "verdict", default="")
        change_to = _attr(chosen, "change_to_ms")
        message = _attr(chosen, "message", default="")
        text = f"Chosen TI {_fmt_ms(chosen_ti)}: {verdict}" if chosen_ti is not None else f"Chosen TI: {verdict}"
        if change_to is not None and np.isfinite(change_to) and (chosen_ti is None or abs(change_to - chosen_ti) >= 0.5):
            text += f" - change it to {_fmt_ms(change_to)}"
        lines.append(text)
        if message and message not in text:
            lines.append(f"  {message}")
    warnings = list(_attr(recommendation, "warnings", default=()) or ())
    for warning in _attr(final, "warnings", default=()) or ():
        if warning not in warnings:
            warnings.append(warning)
    for warning in _attr(scout, "warnings", default=()) or ():
        if warning not in warnings:
            warnings.append(warning)
    if warnings:
        lines.append("Warnings:")
        lines.extend(f"  - {w}" for w in warnings)
    return "\n".join(lines)


def panel_texts(recommendation) -> dict[str, str]:
    """Short strings for the module panel: nullTiText, recommendedTiText, verdictText, warningsText."""
    final = _attr(recommendation, "final", default=recommendation)
    null_ti = _attr(final, "null_ti_ms")
    uncertainty = _attr(final, "uncertainty_ms")
    null_text = _fmt_ms(null_ti)
    if uncertainty is not None and np.isfinite(uncertainty) and null_ti is not None:
        null_text += f" (+/- {uncertainty:.0f} ms, {_attr(final, 'method', default='')})"
    chosen = _attr(recommendation, "chosen")
    verdict = ""
    if chosen is not None:
        chosen_ti = _attr(chosen, "chosen_ti_ms", "ti_ms")
        verdict = f"{_fmt_ms(chosen_ti)}: {_attr(chosen, 'verdict', default='')}" if chosen_ti is not None else str(_attr(chosen, "verdict", default=""))
        change_to = _attr(chosen, "change_to_ms")
        if change_to is not None and np.isfinite(change_to) and (chosen_ti is None or abs(change_to - chosen_ti) >= 0.5):
            verdict += f" - change it to {_fmt_ms(change_to)}"
    warnings = list(_attr(recommendation, "warnings", default=()) or ())
    for warning in _attr(final, "warnings", default=()) or ():
        if warning not in warnings:
            warnings.append(warning)
    return {
        "nullTiText": null_text,
        "recommendedTiText": _fmt_ms(_attr(final, "recommended_lge_ti_ms")),
        "verdictText": verdict,
        "warningsText": "\n".join(f"- {w}" for w in warnings) if warnings else "none",
    }


@dataclass(frozen=True)
class _SavedNull:
    null_ti_ms: float


@dataclass(frozen=True)
class SavedResult:
    """Prediction + optimal range + null TI read back from a saved table (input of the overlay)."""

    prediction: ScoutPrediction
    optimal_range_ms: tuple[float, float]
    null_ti_ms: float | None

    @property
    def final(self):
        return None if self.null_ti_ms is None else _SavedNull(self.null_ti_ms)




def _null_of(result):
    for holder in (result, getattr(result, "recommendation", None)):
        final = getattr(holder, "final", None) if holder is not None else None
        value = getattr(final, "null_ti_ms", None) if final is not None else None
        if value is not None and np.isfinite(value):
            return float(value)
    return None


def frame_overlay_text(result, frame_index: int, optimal_range_ms=None, near_margin_ms: float = DEFAULT_NEAR_MARGIN_MS):
    """(text, colour RGB 0-1) for frame ``frame_index`` (TI order) of an analysed scout.

    result: a ScoutPrediction, or an object holding one as ``prediction`` (and optionally a
    recommendation with ``final.null_ti_ms`` and settings with ``optimal_range_ms``).
    Green: the frame's offset from the series null (the CNN's own offset when no null is known) in the
    optimal range; amber: within ``near_margin_ms`` of it; red: further.
    """
    prediction = prediction_of(result)
    optimal = tuple(optimal_range_ms) if optimal_range_ms is not None else optimal_range_of(result)
    null_ti = _null_of(result)
    rows = frame_rows(prediction, optimal, near_margin_ms, null_ti)
    if not 0 <= frame_index < len(rows):
        return f"Frame {frame_index}: no prediction", NEUTRAL_COLOUR
    row = rows[frame_index]
    low, high = optimal
    if null_ti is not None:
        line1 = (
            f"Frame {row.frame + 1}/{len(rows)}   TI {row.ti_ms:.0f} ms   {row.offset_from_null_ms:+.0f} ms from the null   "
            f"(CNN for this frame: {row.predicted_offset_ms:+.0f} ms, confidence {100 * row.confidence:.0f}%)"
        )
    else:
        line1 = (
            f"Frame {row.frame + 1}/{len(rows)}   TI {row.ti_ms:.0f} ms   predicted offset {row.predicted_offset_ms:+.0f} ms   "
            f"corrected TI {row.corrected_ti_ms:.0f} ms   confidence {100 * row.confidence:.0f}%"
        )
    offset = row.offset_from_null_ms
    if row.status == "optimal":
        verdict = f"In the optimal range (null {low:+.0f}...{high:+.0f} ms)"
    else:
        side = "before" if offset < low else "after"
        distance = low - offset if side == "before" else offset - high
        verdict = f"{distance:.0f} ms {side} the optimal range"
        if side == "before":
            verdict += " - too early: normal myocardium not yet nulled (contrast may invert)"
        else:
            verdict += " - too late: normal myocardium greyed out"
    if null_ti is not None:
        verdict += f"   |   series null {null_ti:.0f} ms"
    return f"{line1}\n{verdict}", STATUS_COLOURS[row.status]


