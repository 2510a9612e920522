"""Metric family "line_profiles": septal profile (blood - myocardium - blood: both edges' rise distances,
sharpness, maximum gradient, FWHM thickness) or a single edge, along a line in RAS (core.edges)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from LGEResolutionQALib.core import edges
from LGEResolutionQALib.core.profiles import LineProfile, sample_line
from LGEResolutionQALib.io.definitions import LineDefinition, StudyVolume
from LGEResolutionQALib.metrics.base import AnalysisSettings, MetricRow, json_fields, rows_of

NAME = "line_profiles"
INPUT = "line"
LINE_KINDS = ("septum", "edge")
SECTION = "profile"

_EXTRA_UNITS = {"pixel_mm": "mm", "step_mm": "mm", "interpolation": ""}


def in_plane_pixel_mm(volume: StudyVolume) -> float:
    """The coarser in-plane voxel size (mm) of a volume (its IJK->RAS matrix)."""
    si, sj, _ = volume.spacing_mm
    return float(max(si, sj))


def sample(volume: StudyVolume, line: LineDefinition, settings: AnalysisSettings) -> LineProfile:
    return sample_line(volume.array, volume.ijk_to_ras, line.start_ras, line.end_ras, step_mm=settings.step_mm,
                       interpolation=settings.interpolation)


@dataclass(frozen=True, eq=False)
class LineProfileResult:
    line: LineDefinition
    profile: LineProfile
    metrics: object  # edges.SeptalProfileMetrics or edges.EdgeMetrics
    pixel_mm: float
    settings: AnalysisSettings

    def _extra(self) -> dict:
        return {"pixel_mm": self.pixel_mm, "step_mm": self.settings.step_mm, "interpolation": self.settings.interpolation}

    def rows(self) -> list[MetricRow]:
        return rows_of(self.metrics, f"line:{self.line.kind}", self.line.name, self._extra(), _EXTRA_UNITS)

    def json_fields(self) -> dict:
        return json_fields(self.metrics, self._extra(), _EXTRA_UNITS)


def run(volume: StudyVolume, line: LineDefinition, settings: AnalysisSettings) -> LineProfileResult | None:
    if line.kind not in LINE_KINDS:
        return None
    profile = sample(volume, line, settings)
    if line.kind == "septum":
        metrics = edges.septal_profile_metrics(profile, dark_band=settings.dark_band)
    else:
        metrics = edges.edge_metrics(profile.distance_mm, profile.intensity)
    return LineProfileResult(line, profile, metrics, in_plane_pixel_mm(volume), settings)


def update_json(document: dict, results: dict, definition) -> None:
    """report.json "lines": per line its geometry and, per volume, its metrics (shared with bar_resolution)."""
    for by_volume in results.values():
        entry = _line_entry(document, next(iter(by_volume.values())).line)
        for volume_name, result in by_volume.items():
            entry["results"][volume_name] = result.json_fields()


def _line_entry(document: dict, line: LineDefinition) -> dict:
    lines = document.setdefault("lines", {})
    if line.name not in lines:
        lines[line.name] = {
            "kind": line.kind, "start_ras_mm": [float(v) for v in line.start_ras], "end_ras_mm": [float(v) for v in line.end_ras],
            "length_mm": float(np.linalg.norm(np.subtract(line.end_ras, line.start_ras))),
            "expected_bars": line.expected_bars, "pitch_mm": line.pitch_mm, "results": {},
        }
    return lines[line.name]
