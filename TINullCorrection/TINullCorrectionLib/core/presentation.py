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

from TINullCorrectionLib.core.results import (
    ChosenTIAssessment,
    FrameResult,
    Recommendation,
    ScoutResult,
    StudyResult,
)
from TINullCorrectionLib.core.types import DEFAULT_OPTIMAL_RANGE_MS, ScoutPrediction

DEFAULT_NEAR_MARGIN_MS = 20.0
COLOUR_OPTIMAL = (0.1, 0.8, 0.2)  # green
COLOUR_NEAR = (1.0, 0.7, 0.0)  # amber
COLOUR_FAR = (0.95, 0.15, 0.1)  # red
STATUS_COLOURS = {"optimal": COLOUR_OPTIMAL, "near": COLOUR_NEAR, "far": COLOUR_FAR}

NEUTRAL_COLOUR = (0.9, 0.9, 0.9)

#: Plain-language meaning of the methods shown with a null (printed where the method is).
METHOD_EXPLANATIONS = {
    "cnn": "the CNN's frame-by-frame offsets combined",
    "ir-fit": "the inversion-recovery fit of the myocardium signal (the CNN disagreed)",
    "combined": "the CNN and the inversion-recovery fit of the myocardium, weighted by their uncertainties",
}
#: The same in a few words, for the module panel's one-line fields.
METHOD_SHORT = {
    "cnn": "CNN alone",
    "ir-fit": "inversion-recovery fit of the myocardium",
    "combined": "CNN and inversion-recovery fit, weighted",
}


def checked_optimal_range(optimal_range_ms) -> tuple[float, float]:
    low, high = (float(v) for v in optimal_range_ms)
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


def tail_reach_ms(prediction: ScoutPrediction) -> float:
    """Inner edge of the CNN's tail classes (e.g. 150 ms for bins over -150..+150 ms)."""
    centers = np.asarray(prediction.bin_centers_ms, dtype=float)
    if centers.size < 4 or not np.all(np.isfinite(centers)) or not np.all(np.diff(centers) > 0):
        return float("inf")  # no usable bins (e.g. a prediction restored from a table without them)
    return float(centers[-2] + (centers[-2] - centers[-3]) / 2)


def frame_rows(prediction: ScoutPrediction, optimal_range_ms=DEFAULT_OPTIMAL_RANGE_MS, near_margin_ms=DEFAULT_NEAR_MARGIN_MS,
               null_ti_ms: float | None = None) -> list[FrameResult]:
    """One :class:`FrameResult` per frame (TI order): what the table, the plot, the overlay and the reports show.

    With the series' final ``null_ti_ms`` the verdict of each frame (status, in_optimal_range) is judged on
    ``TI - null`` (the tool's answer); without it (a saved table without a null), on the CNN's own offset.
    Frames classified into a tail class only say "earlier/later than the trained range": their offset and
    corrected TI are bounds, flagged so that no one reads them as measurements.
    """
    optimal_range_ms = checked_optimal_range(optimal_range_ms)
    ti = np.asarray(prediction.ti_ms, dtype=float)
    offsets = np.asarray(prediction.offset_ms, dtype=float)
    corrected = np.asarray(prediction.corrected_ti_ms, dtype=float)
    confidence = np.asarray(prediction.confidence, dtype=float)
    probabilities = np.asarray(prediction.probabilities, dtype=float)
    known = null_ti_ms is not None and np.isfinite(null_ti_ms)
    from_null = ti - float(null_ti_ms) if known else offsets
    reach = tail_reach_ms(prediction)
    rows = []
    for index in range(ti.size):
        status = offset_status(from_null[index], optimal_range_ms, near_margin_ms)
        beyond = "earlier" if offsets[index] < -reach else ("later" if offsets[index] > reach else "")
        rows.append(
            FrameResult(
                frame=index,
                ti_ms=float(ti[index]),
                offset_from_null_ms=float(from_null[index]),
                in_optimal_range=status == "optimal",
                status=status,
                predicted_offset_ms=float(offsets[index]),
                corrected_ti_ms=float(corrected[index]),
                confidence=float(confidence[index]),
                offset_beyond_range=beyond,
                offset_bound_ms=(-reach if beyond == "earlier" else reach) if beyond else None,
                probabilities=tuple(float(p) for p in probabilities[index]),
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


def cnn_offset_text(row: FrameResult) -> str:
    """The CNN's own offset of a frame: a number, or a bound for a tail class (``> +150``)."""
    if row.offset_beyond_range:
        return f"{'>' if row.offset_beyond_range == 'later' else '<'} {row.offset_bound_ms:+.0f}"
    return f"{row.predicted_offset_ms:+.1f}"


def chosen_ti_text(chosen: ChosenTIAssessment | None) -> str:
    """One line on the operator's TI ('' when none was given)."""
    if chosen is None:
        return ""
    if not chosen.judgeable:
        return (f"your TI {chosen.chosen_ti_ms:.0f} ms: cannot judge - the null is extrapolated beyond the scout's frames; "
                f"start from {chosen.change_to_ms:.0f} ms and repeat the scout with a wider TI range")
    advice = "keep it" if chosen.in_optimal_range else f"change to {chosen.change_to_ms:.0f} ms ({chosen.change_by_ms:+.0f} ms)"
    return f"your TI {chosen.chosen_ti_ms:.0f} ms: {chosen.verdict} ({chosen.offset_from_null_ms:+.0f} ms from the null): {advice}"


def _verdict_text(chosen: ChosenTIAssessment | None) -> str:
    if chosen is None:
        return ""
    verdict = f"{_fmt_ms(chosen.chosen_ti_ms)}: {chosen.verdict}"
    if not chosen.judgeable:
        verdict += f" - start from {_fmt_ms(chosen.change_to_ms)}"
    elif abs(chosen.change_to_ms - chosen.chosen_ti_ms) >= 0.5:
        verdict += f" - change it to {_fmt_ms(chosen.change_to_ms)}"
    return verdict


@dataclass(frozen=True)
class PanelValues:
    """What the module panel shows for a run: the answer for the selected slice, or for its scout when its
    slices were combined (then ``n_slices_combined`` > 1)."""

    null_ti_ms: float
    recommended_lge_ti_ms: float
    null_text: str
    recommended_text: str
    verdict_text: str
    warnings_text: str
    n_slices_combined: int = 1


def panel_values(study: StudyResult, selected: int = 0) -> PanelValues:
    """Panel values of slice ``selected`` (index into ``study.slices``): its scout's combination when its
    slices were combined, else the slice's own answer."""
    result = study.slices[selected]
    group = next(g for g in study.groups if any(s is result for s in g.slices))
    combined = group.combined
    if combined is not None:
        warnings = list(dict.fromkeys([w for s in group.slices for w in s.all_warnings()] + list(combined.warnings)))
        return PanelValues(
            combined.null_ti_ms, combined.recommended_lge_ti_ms,
            f"{_fmt_ms(combined.null_ti_ms)} (+/- {combined.uncertainty_ms:.0f} ms, {combined.n_slices} slices combined, "
            "weighted by their uncertainties and spread)",
            _fmt_ms(combined.recommended_lge_ti_ms), _verdict_text(combined.chosen),
            "\n".join(f"- {w}" for w in warnings) if warnings else "none", combined.n_slices,
        )
    final = result.final
    null_text = _fmt_ms(final.null_ti_ms)
    if np.isfinite(final.uncertainty_ms):
        null_text += f" (+/- {final.uncertainty_ms:.0f} ms, {final.method}: {METHOD_SHORT.get(final.method, final.method)})"
    warnings = result.all_warnings()
    return PanelValues(final.null_ti_ms, final.recommended_lge_ti_ms, null_text, _fmt_ms(final.recommended_lge_ti_ms),
                       _verdict_text(result.recommendation.chosen), "\n".join(f"- {w}" for w in warnings) if warnings else "none")


# --------------------------------------------------------------------------------------------- reports
FRAME_TABLE_HEADER = (
    f"{'frame':>5s} {'TI ms':>8s} {'from null ms':>13s} {'verdict':>8s}   {'CNN offset ms':>13s} {'CNN confidence':>14s}"
)
FRAME_TABLE_LEGEND = (
    "from null: the frame's TI minus the reported null (its verdict); CNN offset: the network's estimate for this "
    "frame alone ('> +150' / '< -150': beyond the trained range, only a bound)."
)


def frame_table_lines(recommendation: Recommendation) -> list[str]:
    lines = [FRAME_TABLE_HEADER]
    for row in recommendation.frames:
        verdict = {"optimal": "optimal", "near": "near", "far": ""}[row.status]
        lines.append(f"{row.frame:5d} {row.ti_ms:8.1f} {row.offset_from_null_ms:+13.1f} {verdict:>8s}   "
                     f"{cnn_offset_text(row):>13s} {100 * row.confidence:13.0f}%")
    lines.append(FRAME_TABLE_LEGEND)
    return lines


def scout_report_lines(result: ScoutResult, frames: bool = True) -> list[str]:
    """The report of one slice (CLI and text node): header, per-frame table, null, fit, verdict, warnings."""
    rec = result.recommendation
    lines = [f"== {result.slice_label or 'slice'} ({result.n_frames} frames, TI from {result.ti_source})"]
    if frames:
        lines += frame_table_lines(rec)
    final = rec.final
    low, high = rec.optimal_range_ms
    lines.append(f"null TI {final.null_ti_ms:.0f} +/- {final.uncertainty_ms:.0f} ms ({final.method}: "
                 f"{METHOD_EXPLANATIONS.get(final.method, final.method)}); recommended LGE TI {final.recommended_lge_ti_ms:.0f} ms "
                 f"(optimal range null {low:+g}..{high:+g} ms)")
    if rec.ir_fit is not None and np.isfinite(rec.ir_fit.null_ti_ms):
        pixels = int(rec.myocardium_mask.sum()) if rec.myocardium_mask is not None else 0
        lines.append(f"inversion-recovery fit of the {rec.myocardium_source} ({pixels} pixels): null {rec.ir_fit.null_ti_ms:.0f} ms, "
                     f"R^2 {rec.ir_fit.r_squared:.3f} (1 = the signal follows the recovery curve exactly)")
    chosen = chosen_ti_text(rec.chosen)
    if chosen:
        lines.append(chosen)
    lines += [f"WARNING: {w}" for w in result.all_warnings()]
    return lines


def study_report_text(study: StudyResult, frames: bool = True) -> str:
    """The whole run's report: every slice, each scout's combination, skipped inputs."""
    lines: list[str] = []
    for number, group in enumerate(study.groups):
        if len(study.groups) > 1:
            lines.append(f"\n##### scout {number + 1} of {len(study.groups)} ({len(group.slices)} slice(s))")
        for result in group.slices:
            lines.append("")
            lines += scout_report_lines(result, frames)
        combined = group.combined
        if combined is not None:
            lines.append(
                f"\n== all {combined.n_slices} slices of this scout: null TI {combined.null_ti_ms:.0f} +/- {combined.uncertainty_ms:.0f} ms "
                f"(slices differ by up to {combined.slice_spread_ms:.0f} ms; the uncertainty includes that spread); "
                f"recommended LGE TI {combined.recommended_lge_ti_ms:.0f} ms"
            )
            if combined.chosen is not None:
                lines.append(chosen_ti_text(combined.chosen))
            lines += [f"WARNING: {w}" for w in combined.warnings]
    for skipped in study.skipped:
        lines.append(f"SKIPPED: {skipped.what}: {skipped.reason}")
    lines += [f"WARNING: {w}" for w in study.warnings]
    return "\n".join(lines).lstrip("\n")


# ------------------------------------------------------------------------------------------- overlay
@dataclass(frozen=True)
class SavedResult:
    """Prediction + optimal range + null TI read back from a saved table (input of the overlay)."""

    prediction: ScoutPrediction
    optimal_range_ms: tuple[float, float]
    null_ti_ms: float | None


def frame_overlay_text(prediction: ScoutPrediction, frame_index: int, optimal_range_ms=DEFAULT_OPTIMAL_RANGE_MS,
                       null_ti_ms: float | None = None, near_margin_ms: float = DEFAULT_NEAR_MARGIN_MS):
    """(text, colour RGB 0-1) for frame ``frame_index`` (TI order) of an analysed scout.

    Green: the frame's offset from the series null (the CNN's own offset when no null is known) in the
    optimal range; amber: within ``near_margin_ms`` of it; red: further.
    """
    optimal = checked_optimal_range(optimal_range_ms)
    known = null_ti_ms is not None and np.isfinite(null_ti_ms)
    rows = frame_rows(prediction, optimal, near_margin_ms, null_ti_ms if known else None)
    if not 0 <= frame_index < len(rows):
        return f"Frame {frame_index}: no prediction", NEUTRAL_COLOUR
    row = rows[frame_index]
    low, high = optimal
    if known:
        line1 = (
            f"Frame {row.frame + 1}/{len(rows)}   TI {row.ti_ms:.0f} ms   {row.offset_from_null_ms:+.0f} ms from the null   "
            f"(CNN for this frame: {cnn_offset_text(row)} ms, confidence {100 * row.confidence:.0f}%)"
        )
    else:
        line1 = (
            f"Frame {row.frame + 1}/{len(rows)}   TI {row.ti_ms:.0f} ms   predicted offset {cnn_offset_text(row)} ms   "
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
    if known:
        verdict += f"   |   series null {null_ti_ms:.0f} ms"
    return f"{line1}\n{verdict}", STATUS_COLOURS[row.status]


def saved_overlay_text(saved: SavedResult, frame_index: int):
    return frame_overlay_text(saved.prediction, frame_index, saved.optimal_range_ms, saved.null_ti_ms)


def draw_tile_verdicts(image: np.ndarray, quads, statuses, labels, line_px: int | None = None) -> np.ndarray:
    """The photo (uint8 [H, W, 3]) with every tile's outline in its verdict colour (green optimal, amber near,
    red far; ``statuses`` from :func:`offset_status`, "" = grey: no verdict) and its label inside the top edge."""
    from PIL import Image, ImageDraw, ImageFont

    canvas = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    quads = [np.asarray(q, dtype=float) for q in quads]
    side = float(np.median([np.linalg.norm(q[1] - q[0]) for q in quads])) if quads else 100.0
    width = max(2, int(round(line_px if line_px else side / 60)))
    try:
        font = ImageFont.load_default(size=max(10, int(side / 11)))
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        font = ImageFont.load_default()
    for quad, status, label in zip(quads, statuses, labels):
        colour = tuple(int(255 * c) for c in STATUS_COLOURS.get(status, NEUTRAL_COLOUR))
        draw.line([tuple(p) for p in quad] + [tuple(quad[0])], fill=colour, width=width)
        if label:
            x, y = quad[0] + np.array([2.5 * width, 2.5 * width])
            box = draw.textbbox((x, y), label, font=font)
            draw.rectangle([box[0] - 3, box[1] - 2, box[2] + 3, box[3] + 2], fill=(0, 0, 0))
            draw.text((x, y), label, fill=colour, font=font)
    return np.asarray(canvas)
