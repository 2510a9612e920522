"""Metric family "uniformity": the coefficient of variation (SD / mean, %) of every named region, a plain
uniformity figure for a region that should be homogeneous (remote myocardium, blood pool, a phantom insert).
Noise and true inhomogeneity (coil shading, partial volume) both raise it; compare it between sequences of
one study, not against a fixed limit.

Also the worked example of the registry: this file plus one line in ``registry.FAMILIES`` puts the metric
into the CLI report (report.csv / report.json) and into the module's ROI table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from LGEResolutionQALib.io.definitions import StudyVolume
from LGEResolutionQALib.metrics.base import AnalysisSettings, MetricRow, RegionInputs, json_fields, rows_of

NAME = "uniformity"
INPUT = "regions"
SECTION = "regions"


@dataclass(frozen=True)
class RegionUniformity:
    name: str
    mean: float
    sd: float
    cv_percent: float
    voxel_count: int
    method: str = "cv = 100 * SD / mean of the region's voxels (sample SD)"

    ROW_UNITS: ClassVar[dict] = {"name": "", "mean": "au", "sd": "au", "cv_percent": "%", "voxel_count": "count", "method": ""}

    def as_row(self) -> dict:
        return {"cv_percent": self.cv_percent, "voxel_count": self.voxel_count, "method": self.method}


@dataclass(frozen=True, eq=False)
class UniformityResult:
    regions: dict  # name -> RegionUniformity

    def rows(self) -> list[MetricRow]:
        return [row for name, value in self.regions.items() for row in rows_of(value, "uniformity", name)]

    def json_fields(self) -> dict:
        return {name: json_fields(value) for name, value in self.regions.items()}


def run(volume: StudyVolume, inputs: RegionInputs, settings: AnalysisSettings) -> UniformityResult:
    out = {}
    for name, mask in inputs.masks.items():
        values = volume.array[np.asarray(mask, dtype=bool)].astype(np.float64)
        if values.size < 2:
            raise ValueError(f"Region '{name}' has {values.size} voxel(s): a coefficient of variation needs at least 2.")
        mean, sd = float(values.mean()), float(values.std(ddof=1))
        if not mean > 0:
            raise ValueError(f"Region '{name}' has a mean of {mean:g}: the coefficient of variation needs a positive mean.")
        out[name] = RegionUniformity(name, mean, sd, 100.0 * sd / mean, int(values.size))
    return UniformityResult(out)
