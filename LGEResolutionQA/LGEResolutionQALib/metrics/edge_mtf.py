"""Metric family "edge_mtf": slanted-edge MTF (MTF50 in lp/mm, effective resolution 1/(2 f50)) in a box
around an edge 2-45 degrees off the pixel axes, on the slice the box covers most (core.mtf)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from LGEResolutionQALib.core import mtf
from LGEResolutionQALib.io.definitions import StudyVolume
from LGEResolutionQALib.metrics.base import AnalysisSettings, MetricRow, MTFTarget, json_fields, rows_of

NAME = "edge_mtf"
INPUT = "mtf_roi"
SECTION = "mtf"


@dataclass(frozen=True, eq=False)
class EdgeMTFResult:
    name: str
    result: mtf.MTFResult
    slice_index: int

    def rows(self) -> list[MetricRow]:
        return rows_of(self.result, "mtf", self.name, {"slice_index": self.slice_index}, {"slice_index": ""})

    def json_fields(self) -> dict:
        return json_fields(self.result, {"slice_index": self.slice_index}, {"slice_index": ""})


def run(volume: StudyVolume, target: MTFTarget, settings: AnalysisSettings) -> EdgeMTFResult:
    mask = np.asarray(target.mask, dtype=bool)
    if mask.shape != volume.array.shape or not mask.any():
        raise ValueError(f"MTF ROI '{target.name}' does not cover volume '{volume.name}'.")
    k = int(np.argmax(mask.sum(axis=(1, 2))))
    rows, cols = np.nonzero(mask[k])
    si, sj, _ = volume.spacing_mm
    box = (int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1)
    return EdgeMTFResult(target.name, mtf.slanted_edge_mtf(volume.array[k], (sj, si), roi=box), k)


def update_json(document: dict, results: dict, definition) -> None:
    section = document.setdefault("mtf", {})
    for name, by_volume in results.items():
        section[name] = {v: r.json_fields() for v, r in by_volume.items()}
