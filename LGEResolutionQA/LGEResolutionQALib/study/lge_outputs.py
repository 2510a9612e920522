"""Files of an LGE quantification (study layer), written as one set (``write_files_together``: every file
complete before any replaces its earlier version; a failure leaves the earlier files as they were):

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
from CardiacLGECommonLib.core.files import make_output_folder, write_files_together

from LGEResolutionQALib.core.lge_quantification import LGEQuantification, plain_value
from LGEResolutionQALib.io.definitions import write_volume


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
    out = make_output_folder(out)
    paths: dict[str, Path] = {}
    with write_files_together() as files:  # all or none: a failure leaves every earlier file as it was
        paths["json"] = files.write_text(out / f"{prefix}lge_summary.json", text + "\n")
        paths["slices_csv"] = files.write_text(out / f"{prefix}lge_slices.csv", rows_to_csv(result.slice_rows()))
        if result.aha is not None:
            paths["segments_csv"] = files.write_text(out / f"{prefix}lge_segments.csv", rows_to_csv(result.segment_rows()))
        for role, (name, data) in figure_bytes.items():
            paths[role] = files.write_bytes(out / f"{prefix}{name}", data)
        if masks:
            items = [("lge_mask", "lge_mask.nrrd", result.lge.scar_mask),
                     ("remote_mask", "lge_remote_mask.nrrd", result.lge.remote_mask)]
            if result.aha is not None:
                items.append(("aha_segments", "lge_aha_segments.nrrd", result.aha.segment_map))
            for role, name, array in items:
                labels = np.asarray(array).astype(np.uint8)
                paths[role] = files.write(out / f"{prefix}{name}",
                                          lambda tmp, labels=labels: write_volume(tmp, labels, result.ijk_to_ras))
    return paths
