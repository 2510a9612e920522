"""Metric family "bar_resolution": is a bar / hole group along a line resolved (all bars found at the
expected pitch, every dip's modulation above the threshold; core.resolution), and is the pixel too
coarse for the pitch (pixel > pitch / 2)?"""

from __future__ import annotations

from dataclasses import dataclass

from LGEResolutionQALib.core import resolution
from LGEResolutionQALib.core.profiles import LineProfile
from LGEResolutionQALib.io.definitions import LineDefinition, StudyVolume
from LGEResolutionQALib.metrics import line_profiles
from LGEResolutionQALib.metrics.base import AnalysisSettings, MetricRow, json_fields, rows_of

NAME = "bar_resolution"
INPUT = "line"
LINE_KINDS = ("bars",)
SECTION = "resolution"

_EXTRA_UNITS = {"pixel_mm": "mm", "sampling_limited": "", "step_mm": "mm", "interpolation": ""}


@dataclass(frozen=True, eq=False)
class BarResolutionResult:
    line: LineDefinition
    profile: LineProfile
    bars: resolution.BarGroupResult
    pixel_mm: float
    sampling_limited: bool
    settings: AnalysisSettings

    def _extra(self) -> dict:
        return {"pixel_mm": self.pixel_mm, "sampling_limited": self.sampling_limited,
                "step_mm": self.settings.step_mm, "interpolation": self.settings.interpolation}

    def rows(self) -> list[MetricRow]:
        return rows_of(self.bars, "line:bars", self.line.name, self._extra(), _EXTRA_UNITS)

    def json_fields(self) -> dict:
        return json_fields(self.bars, self._extra(), _EXTRA_UNITS)


def run(volume: StudyVolume, line: LineDefinition, settings: AnalysisSettings) -> BarResolutionResult | None:
    if line.kind not in LINE_KINDS:
        return None
    if line.expected_bars is None or line.pitch_mm is None:
        raise ValueError(f"Bar line '{line.name}' needs the number of bars and their pitch.")
    profile = line_profiles.sample(volume, line, settings)
    bars = resolution.analyse_bar_group(profile, line.expected_bars, line.pitch_mm, modulation_threshold=settings.modulation_threshold)
    pixel = line_profiles.in_plane_pixel_mm(volume)
    return BarResolutionResult(line, profile, bars, pixel, resolution.sampling_limited(line.pitch_mm, pixel), settings)


def update_json(document: dict, results: dict, definition) -> None:
    for by_volume in results.values():
        entry = line_profiles._line_entry(document, next(iter(by_volume.values())).line)
        for volume_name, result in by_volume.items():
            entry["results"][volume_name] = result.json_fields()
