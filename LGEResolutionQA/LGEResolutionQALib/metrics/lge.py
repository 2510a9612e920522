"""Metric family "lge": LGE (scar) segmentation in the LV myocardium region and its extent as % of the LV
(core.lge_segmentation: n-SD, FWHM, Otsu; remote reference from the remote region or automatic)."""

from __future__ import annotations

from dataclasses import dataclass

from LGEResolutionQALib.core.lge_segmentation import LGEResult, segment_lge
from LGEResolutionQALib.io.definitions import StudyVolume
from LGEResolutionQALib.metrics.base import (
    AnalysisSettings,
    MetricRow,
    RegionInputs,
    json_fields,
    plain,
    rows_of,
)

NAME = "lge"
INPUT = "regions"
SECTION = "lge"


@dataclass(frozen=True, eq=False)
class LGEMetricResult:
    myocardium_region: str
    result: LGEResult

    def rows(self) -> list[MetricRow]:
        return rows_of(self.result, "lge", self.myocardium_region)

    def json_fields(self) -> dict:
        return {**json_fields(self.result), "per_slice": self.per_slice_rows()}

    def per_slice_rows(self) -> list[dict]:
        """One dict per slice (keys of LGEResult.PER_SLICE_UNITS)."""
        return [{key: plain(row.get(key)) for key in LGEResult.PER_SLICE_UNITS} for row in self.result.per_slice]


def run(volume: StudyVolume, inputs: RegionInputs, settings: AnalysisSettings) -> LGEMetricResult | None:
    """None when no myocardium region or no LGE settings are given (the family does not apply)."""
    roles, masks = inputs.roles, inputs.masks
    if settings.lge is None or not roles.myocardium:
        return None
    options = settings.lge
    result = segment_lge(volume.array, masks[roles.myocardium], volume.spacing_mm, method=options.method, n_sd=options.n_sd,
                         remote_mask=masks.get(roles.remote) if roles.remote else None,
                         min_island_ml=options.min_island_ml, include_mvo=options.include_mvo)
    return LGEMetricResult(roles.myocardium, result)


def update_json(document: dict, results: dict, definition) -> None:
    section = document.setdefault("lge", {})
    for by_volume in results.values():
        for volume_name, metric in by_volume.items():
            section[volume_name] = metric.json_fields()
