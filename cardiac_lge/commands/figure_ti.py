"""``cardiac-lge figure-ti``: render the README picture of TINullCorrection from a simulated scout.

The Slicer GUI cannot be screenshotted headless, so the project renders what the module shows
itself: a montage of TI scout frames around the estimated myocardial null, each with the module's
per-frame overlay text and colour cue (same function as the slice-view overlay), and the plot of
predicted offset against TI (same data as the module's plot chart). Core only (no Slicer).
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

DEFAULT_OUT = Path("Resources/Screenshots/ti_null_correction.png")
MAX_BYTES = 300_000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "figure-ti",
        help="render the TINullCorrection README figure (simulated scout, per-frame overlays, offset plot)",
        description=__doc__,
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"PNG to write (default {DEFAULT_OUT}); the numbers shown go to <out>.json beside it")
    parser.add_argument("--seed", type=int, default=0, help="simulator seed (default 0, the self-test scout)")
    parser.add_argument("--model", type=Path, default=None, help="model weights (default: the shipped model)")
    parser.add_argument("--frames", type=int, default=6, help="number of frames in the montage (default 6)")
    parser.set_defaults(func=run)


def _montage_indices(n_frames: int, centre: int, count: int) -> list[int]:
    count = min(count, n_frames)
    start = max(0, min(centre - count // 2 + 1, n_frames - count))
    return list(range(start, start + count))


def figure_analysis(seed: int = 0, model_path: Path | None = None, n_montage: int = 6):
    """What the figure shows, without drawing it: (simulated scout, ScoutResult, montage frame indices, numbers).

    ``numbers`` is the sidecar written beside the PNG (``<png>.json``): the test re-computes it and compares, so
    the committed screenshot cannot drift from what the code renders today."""
    import numpy as np
    from TINullCorrectionLib.core.pipeline import analyse_scout
    from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model
    from TINullCorrectionLib.networks.ti_offset import load_model
    from TINullCorrectionLib.scenarios import simulate_known_null_scout

    simulated = simulate_known_null_scout(seed)
    scout = simulated.scout
    model = load_model(None if model_path is None else str(model_path))
    # What a user without an ROI gets: the U-Net finds the myocardium and its IR fit cross-checks the CNN.
    result = analyse_scout(scout, model, myocardium_model=load_segmentation_model())
    null_frame = int(np.argmin(np.abs(scout.ti_ms - result.null_ti_ms)))
    indices = _montage_indices(scout.n_frames, null_frame, n_montage)
    final = result.final
    numbers = {
        "seed": seed,
        "true_null_ti_ms": round(float(simulated.null_ti_ms), 1),
        "estimated_null_ti_ms": round(float(final.null_ti_ms), 1),
        "method": final.method,
        "recommended_lge_ti_ms": round(float(final.recommended_lge_ti_ms), 1),
        "montage": [{"ti_ms": round(row.ti_ms, 1), "offset_from_null_ms": round(row.offset_from_null_ms, 1),
                     "cnn_offset_ms": round(row.predicted_offset_ms, 1), "status": row.status}
                    for row in (result.recommendation.frames[i] for i in indices)],
    }
    return simulated, result, indices, numbers


def sidecar_path(out: Path) -> Path:
    """The numbers of a figure: ``<png>.json`` beside it."""
    return Path(out).with_suffix(".json")


def render_figure(out: Path, seed: int = 0, model_path: Path | None = None, n_montage: int = 6) -> dict:
    """Write the figure and its sidecar (the numbers shown, with the PNG's sha256); returns the numbers and bytes."""
    import hashlib
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from CardiacLGECommonLib.core.files import check_writable, write_atomically, write_json_atomically
    from PIL import Image
    from TINullCorrectionLib.core.presentation import METHOD_EXPLANATIONS, STATUS_COLOURS, frame_overlay_text

    check_writable(out)
    check_writable(sidecar_path(out))
    simulated, result, indices, numbers = figure_analysis(seed, model_path, n_montage)
    scout = simulated.scout
    prediction, recommendation = result.prediction, result.recommendation
    null_ti = result.null_ti_ms
    low, high = result.optimal_range_ms

    # Crop around the heart (the simulator's myocardium mask, with a margin) so the myocardium is visible.
    rows_any, cols_any = np.nonzero(simulated.myocardium_mask)
    margin = max(12, int(0.35 * max(np.ptp(rows_any), np.ptp(cols_any))))
    r0, r1 = max(0, rows_any.min() - margin), min(scout.frames.shape[1], rows_any.max() + margin + 1)
    c0, c1 = max(0, cols_any.min() - margin), min(scout.frames.shape[2], cols_any.max() + margin + 1)

    figure = plt.figure(figsize=(12, 7.6), dpi=80)
    grid = figure.add_gridspec(2, len(indices), height_ratios=[1.25, 1.0], hspace=0.5, wspace=0.06, top=0.9)
    scale = np.percentile(np.abs(scout.frames[-3:, r0:r1, c0:c1]), 99.5) or 1.0
    for column, index in enumerate(indices):
        axis = figure.add_subplot(grid[0, column])
        axis.imshow(np.abs(scout.frames[index, r0:r1, c0:c1]), cmap="gray", vmin=0, vmax=scale, interpolation="bilinear")
        if recommendation.myocardium_mask is not None:
            axis.contour(recommendation.myocardium_mask[r0:r1, c0:c1].astype(float), levels=[0.5], colors=["#4fc3f7"], linewidths=0.8)
        text, colour = frame_overlay_text(prediction, index, (low, high), null_ti)
        axis.set_xticks([])
        axis.set_yticks([])
        for spine in axis.spines.values():
            spine.set_edgecolor(colour)
            spine.set_linewidth(4)
        row = recommendation.frames[index]
        axis.set_title(f"TI {row.ti_ms:.0f} ms", fontsize=11, color="black")
        verdict = text.split("\n")[1].split("   |")[0]
        caption = f"{row.offset_from_null_ms:+.0f} ms from null\n(CNN: {row.predicted_offset_ms:+.0f} ms)\n" + "\n".join(
            textwrap.wrap(verdict.split(" - ")[0], 22)
        )
        axis.text(0.5, -0.04, caption, transform=axis.transAxes, ha="center", va="top", fontsize=8.5, color=colour,
                  bbox={"facecolor": "#1c2230", "edgecolor": "none", "pad": 3})

    axis = figure.add_subplot(grid[1, :])
    rows = recommendation.frames
    ti = np.array([r.ti_ms for r in rows])
    offsets = np.array([r.predicted_offset_ms for r in rows])
    axis.axhspan(low, high, color=STATUS_COLOURS["optimal"], alpha=0.15, label=f"optimal range (null {low:+.0f}...{high:+.0f} ms)")
    axis.plot(ti, ti - null_ti, color="0.6", lw=1, ls="--", label="offset from the estimated null (colours: verdict)")
    axis.scatter(ti, ti - null_ti, c=[STATUS_COLOURS[r.status] for r in rows], edgecolors="black", s=46, zorder=3)
    axis.scatter(ti, offsets, marker="x", color="#1565c0", s=40, zorder=4, label="CNN predicted offset per frame")
    method = recommendation.final.method
    axis.axvline(null_ti, color="navy", lw=1.5,
                 label=f"estimated null {null_ti:.0f} ms ({method}: {METHOD_EXPLANATIONS.get(method, method)})")
    axis.axvline(simulated.null_ti_ms, color="black", lw=1, ls=":", label=f"true null {simulated.null_ti_ms:.0f} ms (simulator)")
    axis.set_xlabel("Inversion time (ms)")
    axis.set_ylabel("Offset from myocardial null (ms)")
    axis.set_ylim(-130, 130)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right", fontsize=8.5, framealpha=0.9)
    figure.suptitle(
        f"TINullCorrection on a simulated TI scout: recommended LGE TI {recommendation.final.recommended_lge_ti_ms:.0f} ms "
        f"(green: optimal, amber: near, red: far; blue: myocardium fitted)",
        fontsize=12,
        y=0.98,
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(figure)
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    encoded = io.BytesIO()
    image.save(encoded, format="PNG", optimize=True)
    size = len(encoded.getvalue())
    if size > MAX_BYTES:
        raise RuntimeError(f"{out} would be {size} bytes, above the {MAX_BYTES} byte limit for README figures.")
    write_atomically(out, lambda temporary: temporary.write_bytes(encoded.getvalue()))
    numbers["png_sha256"] = hashlib.sha256(encoded.getvalue()).hexdigest()
    write_json_atomically(sidecar_path(out), numbers)
    return {**numbers, "bytes": size}


def run(args: argparse.Namespace) -> int:
    numbers = render_figure(args.out, seed=args.seed, model_path=args.model, n_montage=args.frames)
    print(
        f"wrote {args.out} ({numbers['bytes'] / 1000:.0f} kB): true null {numbers['true_null_ti_ms']:.0f} ms, "
        f"estimated {numbers['estimated_null_ti_ms']:.0f} ms, recommended LGE TI {numbers['recommended_lge_ti_ms']:.0f} ms"
    )
    return 0
