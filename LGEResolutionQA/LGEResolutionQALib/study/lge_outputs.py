"""Files of an LGE quantification (study layer), each written atomically (``study.atomic``):

* ``lge_summary.json`` — settings, summary, per-slice rows, per-segment rows, warnings (no NaN);
* ``lge_slices.csv`` — one row per slice (threshold, remote mean/SD, the slice the remote came from);
* ``lge_segments.csv`` — one row per AHA segment (when segments were computed);
* ``lge_bullseye.png`` / ``lge_transmurality_bullseye.png`` — bullseye figures (LGE % / transmurality);
* ``lge_mask.nrrd``, ``lge_remote_mask.nrrd`` (where the remote reference was taken) and
  ``lge_aha_segments.nrrd`` (segment numbers) — label maps on the image grid (LPS on disk).

``prefix`` (e.g. a volume name in a study report) is put before every file name.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from LGEResolutionQALib.core.lge_quantification import LGEQuantification, plain_value
from LGEResolutionQALib.io.definitions import write_volume
from LGEResolutionQALib.study.atomic import atomic_path, write_text_atomic


def rows_to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    columns = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if row.get(key) is None else plain_value(row.get(key)) for key in columns})
    return buffer.getvalue()


def write_lge_outputs(result: LGEQuantification, out_dir, figures: bool = True, masks: bool = True,
                      extra: dict | None = None, prefix: str = "") -> dict[str, Path]:
    """Write the files listed in the module docstring into ``out_dir``; returns role -> path.
    ``extra``: more JSON sections (e.g. the inputs, a comparison with a reference). Everything is
    computed (and the JSON checked for NaN) before the first file is written."""
    out = Path(out_dir)
    document = result.as_json()
    document.update(extra or {})
    text = json.dumps(document, indent=2, allow_nan=False)
    figure_bytes = {}
    if figures and result.aha is not None:
        from LGEResolutionQALib.study.lge_figures import bullseye_png_bytes

        method = result.lge.method
        figure_bytes["bullseye"] = ("lge_bullseye.png", bullseye_png_bytes(
            result.aha, "lge_percent", f"LGE % per AHA segment ({method})"))
        figure_bytes["transmurality_bullseye"] = ("lge_transmurality_bullseye.png", bullseye_png_bytes(
            result.aha, "transmurality_percent", f"Transmurality per AHA segment ({method})"))
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": write_text_atomic(out / f"{prefix}lge_summary.json", text + "\n"),
             "slices_csv": write_text_atomic(out / f"{prefix}lge_slices.csv", rows_to_csv(result.slice_rows()))}
    if result.aha is not None:
        paths["segments_csv"] = write_text_atomic(out / f"{prefix}lge_segments.csv", rows_to_csv(result.segment_rows()))
    for role, (name, data) in figure_bytes.items():
        with atomic_path(out / f"{prefix}{name}") as temporary:
            temporary.write_bytes(data)
        paths[role] = out / f"{prefix}{name}"
    if masks:
        items = [("lge_mask", "lge_mask.nrrd", result.lge.scar_mask),
                 ("remote_mask", "lge_remote_mask.nrrd", result.lge.remote_mask)]
        if result.aha is not None:
            items.append(("aha_segments", "lge_aha_segments.nrrd", result.aha.segment_map))
        for role, name, array in items:
            target = out / f"{prefix}{name}"
            with atomic_path(target) as temporary:
                write_volume(temporary, np.asarray(array).astype(np.uint8), result.ijk_to_ras)
            paths[role] = target
    return paths
