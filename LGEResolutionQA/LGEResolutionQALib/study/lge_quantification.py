"""LGE quantification of one short-axis stack: the one pipeline behind the CLI (``cardiac-lge lge``) and
the Slicer adapter (study layer: core + io).

``run`` = ``lge_segmentation.segment_lge`` (per-slice references and thresholds, automatic or user
remote, MVO, islands) + — when the anterior RV insertion point is given — ``aha_segments`` on the
same myocardium with the LGE mask (per-segment LGE, transmurality, classes). ``LGEQuantification``
turns the result into table rows, a JSON document (every number under a key that names its unit,
no NaN) and files, each written atomically (temporary file + rename):

* ``lge_summary.json`` — settings, summary, per-slice rows, per-segment rows, warnings;
* ``lge_slices.csv`` — one row per slice (threshold, remote mean/SD, the slice the remote came from);
* ``lge_segments.csv`` — one row per AHA segment (when segments were computed);
* ``lge_bullseye.png`` / ``lge_transmurality_bullseye.png`` — bullseye figures (LGE % / transmurality);
* ``lge_mask.nrrd``, ``lge_remote_mask.nrrd`` (where the remote reference was taken), and
  ``lge_aha_segments.nrrd`` (segment numbers) — label maps on the image grid (LPS on disk).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from LGEResolutionQALib.core.aha_segments import AHAResult, aha_segments
from LGEResolutionQALib.core.lge_segmentation import DEFAULT_METHOD, METHODS, LGEResult, segment_lge
from LGEResolutionQALib.io.definitions import write_volume
from LGEResolutionQALib.io.outputs import atomic_path, write_text_atomic

SCHEMA = "cardiaclge-lge/1"


@dataclass(frozen=True)
class LGEQuantSettings:
    """How LGE is segmented and segments are formed (see ``segment_lge`` / ``aha_segments``)."""

    method: str = DEFAULT_METHOD
    n_sd: float = 5.0
    min_island_ml: float = 0.0
    include_mvo: bool = False
    aha_model: int = 17
    base_end: str = "auto"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"Unknown LGE method {self.method!r}; choose one of {METHODS}.")


def _plain(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _rows_to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    columns = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if row.get(key) is None else _plain(row.get(key)) for key in columns})
    return buffer.getvalue()


@dataclass(frozen=True, eq=False)
class LGEQuantification:
    """LGE of one stack (``lge``) and, when an RV insertion point was given, its AHA segments (``aha``)."""

    lge: LGEResult
    aha: AHAResult | None
    ijk_to_ras: np.ndarray = field(repr=False)
    settings: LGEQuantSettings = field(default_factory=LGEQuantSettings)
    rv_insertion_ras: tuple[float, float, float] | None = None

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        return tuple(float(v) for v in np.linalg.norm(self.ijk_to_ras[:3, :3], axis=0))

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.lge.warnings + (self.aha.warnings if self.aha is not None else ())

    def summary_row(self) -> dict:
        row = self.lge.as_row()
        row["warnings"] = "; ".join(self.warnings)
        return row

    def slice_rows(self) -> list[dict]:
        return [s.as_row() for s in self.lge.per_slice]

    def segment_rows(self) -> list[dict]:
        return self.aha.rows() if self.aha is not None else []

    def as_json(self) -> dict:
        summary = {k: _plain(v) for k, v in self.lge.as_row().items() if k != "warnings"}
        document = {
            "schema": SCHEMA,
            "units": {"ml": "millilitre", "percent": "%", "au": "image intensity (arbitrary units)", "mm": "mm (RAS)"},
            "settings": {"method": self.settings.method, "n_sd": self.settings.n_sd if self.settings.method == "nsd" else None,
                         "min_island_ml": self.settings.min_island_ml, "include_mvo": self.settings.include_mvo,
                         "aha_model": self.settings.aha_model, "base_end": self.settings.base_end},
            "spacing_mm": list(self.spacing_mm),
            "summary": summary,
            "per_slice": [{k: _plain(v) for k, v in row.items()} for row in self.slice_rows()],
            "segments": None,
            "warnings": list(self.warnings),
        }
        if self.aha is not None:
            document["segments"] = {
                "model": self.aha.model, "base_end": self.aha.base_end, "rotation_source": self.aha.rotation_source,
                "reference_slice_index": self.aha.reference_slice_index,
                "rv_insertion_ras_mm": list(self.rv_insertion_ras) if self.rv_insertion_ras is not None else None,
                "slice_levels": [{"slice_index": k, "level": level} for k, level in self.aha.slice_levels],
                "rows": [{k: _plain(v) for k, v in s.as_row().items()} for s in self.aha.segments],
            }
        return document

    def write(self, out_dir, figures: bool = True, masks: bool = True, extra: dict | None = None) -> dict[str, Path]:
        """Write the outputs listed in the module docstring into ``out_dir``; returns role -> path.
        ``extra``: more JSON sections (e.g. the inputs, a comparison with a reference)."""
        out = Path(out_dir)
        document = self.as_json()
        document.update(extra or {})
        text = json.dumps(document, indent=2, allow_nan=False)  # before any file: NaN is an error here
        out.mkdir(parents=True, exist_ok=True)
        paths = {"json": write_text_atomic(out / "lge_summary.json", text),
                 "slices_csv": write_text_atomic(out / "lge_slices.csv", _rows_to_csv(self.slice_rows()))}
        if self.aha is not None:
            paths["segments_csv"] = write_text_atomic(out / "lge_segments.csv", _rows_to_csv(self.segment_rows()))
            if figures:
                from LGEResolutionQALib.study.lge_figures import save_bullseye_png

                method = self.lge.method
                paths["bullseye"] = save_bullseye_png(self.aha, out / "lge_bullseye.png", "lge_percent",
                                                      f"LGE % per AHA segment ({method})")
                paths["transmurality_bullseye"] = save_bullseye_png(
                    self.aha, out / "lge_transmurality_bullseye.png", "transmurality_percent",
                    f"Transmurality per AHA segment ({method})")
        if masks:
            items = [("lge_mask", self.lge.scar_mask), ("remote_mask", self.lge.remote_mask)]
            if self.aha is not None:
                items.append(("aha_segments", self.aha.segment_map))
            for role, array in items:
                target = out / f"{'lge_' if not role.startswith('lge') else ''}{role}.nrrd"
                with atomic_path(target) as temporary:
                    write_volume(temporary, np.asarray(array).astype(np.uint8), self.ijk_to_ras)
                paths[role] = target
        return paths


def run(image_kji, ijk_to_ras, myocardium_mask, settings: LGEQuantSettings | None = None, remote_mask=None,
        rv_insertion_ras=None, inferior_rv_insertion_ras=None) -> LGEQuantification:
    """Segment LGE and (with ``rv_insertion_ras``) the AHA segments; nothing is written."""
    settings = settings or LGEQuantSettings()
    matrix = np.asarray(ijk_to_ras, dtype=np.float64)
    if matrix.shape != (4, 4) or abs(np.linalg.det(matrix[:3, :3])) < 1e-12:
        raise ValueError("ijk_to_ras must be an invertible 4x4 matrix.")
    spacing = tuple(float(v) for v in np.linalg.norm(matrix[:3, :3], axis=0))
    lge = segment_lge(image_kji, myocardium_mask, spacing, method=settings.method, n_sd=settings.n_sd,
                      remote_mask=remote_mask, min_island_ml=settings.min_island_ml, include_mvo=settings.include_mvo)
    aha = None
    if rv_insertion_ras is not None or inferior_rv_insertion_ras is not None:
        aha = aha_segments(myocardium_mask, matrix, rv_insertion_ras, lge_mask=lge.scar_mask, model=settings.aha_model,
                           inferior_rv_insertion_ras=inferior_rv_insertion_ras, base_end=settings.base_end)
    point = None if rv_insertion_ras is None else tuple(float(v) for v in np.asarray(rv_insertion_ras).ravel())
    return LGEQuantification(lge, aha, matrix, settings, point)
