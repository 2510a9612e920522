"""Metric family "lge": LGE (scar) in the LV myocardium region, per slice, as % of the LV, and — when the
anterior RV insertion point is in the settings — per AHA segment with transmurality
(``core.lge_quantification.quantify_lge``: per-slice n-SD / FWHM / Otsu / Gaussian mixture, remote from
the remote region or automatic per slice)."""

from __future__ import annotations

from dataclasses import dataclass

from LGEResolutionQALib.core.aha_segments import SegmentLGE
from LGEResolutionQALib.core.lge_quantification import LGEQuantification, quantify_lge
from LGEResolutionQALib.core.lge_segmentation import LGEResult
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
#: the per-segment numbers that become report rows (section "lge-segments", one item per segment)
SEGMENT_METRICS = ("lge_percent", "lge_ml", "transmurality_percent", "transmurality_class")


@dataclass(frozen=True, eq=False)
class LGEMetricResult:
    myocardium_region: str
    quantification: LGEQuantification

    @property
    def result(self) -> LGEResult:
        return self.quantification.lge

    @property
    def aha(self):
        return self.quantification.aha

    def rows(self) -> list[MetricRow]:
        rows = rows_of(self.result, "lge", self.myocardium_region)
        if self.aha is not None:
            for segment in self.aha.segments:
                item = f"{segment.segment} {segment.name}"
                for metric in SEGMENT_METRICS:
                    rows.append(MetricRow("lge-segments", item, metric, plain(getattr(segment, metric)),
                                          SegmentLGE.ROW_UNITS[metric], f"aha{self.aha.model}; method={self.result.method}"))
        return rows

    def json_fields(self) -> dict:
        fields = {**json_fields(self.result), "per_slice": self.per_slice_rows(), "segments": None}
        if self.aha is not None:
            fields["segments"] = self.quantification.as_json()["segments"]
        return fields

    def per_slice_rows(self) -> list[dict]:
        """One dict per slice (keys of LGEResult.PER_SLICE_UNITS)."""
        return [{key: plain(row.as_row().get(key)) for key in LGEResult.PER_SLICE_UNITS} for row in self.result.per_slice]

    def segment_rows(self) -> list[dict]:
        """One dict per AHA segment (keys of SegmentLGE.ROW_UNITS); [] without segments."""
        return [{key: plain(value) for key, value in row.items()} for row in self.quantification.segment_rows()]


def run(volume: StudyVolume, inputs: RegionInputs, settings: AnalysisSettings) -> LGEMetricResult | None:
    """None when no myocardium region or no LGE settings are given (the family does not apply)."""
    roles, masks = inputs.roles, inputs.masks
    if settings.lge is None or not roles.myocardium:
        return None
    result = quantify_lge(volume.array, volume.ijk_to_ras, masks[roles.myocardium], settings.lge,
                          remote_mask=masks.get(roles.remote) if roles.remote else None)
    return LGEMetricResult(roles.myocardium, result)


def update_json(document: dict, results: dict, definition) -> None:
    section = document.setdefault("lge", {})
    for by_volume in results.values():
        for volume_name, metric in by_volume.items():
            section[volume_name] = metric.json_fields()
