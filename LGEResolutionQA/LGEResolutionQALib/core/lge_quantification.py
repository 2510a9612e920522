"""LGE quantification of one short-axis stack: the one pipeline behind the ``lge`` metric family (CLI ``qa``),
the CLI ``lge`` and the Slicer module (core: numpy).

``quantify_lge`` = ``lge_segmentation.segment_lge`` (per-slice references and thresholds, automatic or
user remote, MVO, islands) + — when the anterior RV insertion point is given in the settings —
``aha_segments`` on the same myocardium with the LGE mask (per-segment LGE, transmurality, classes).
``LGEQuantification`` gives the table rows and a JSON document (every number under a key that names
its unit; no NaN). Files are written by ``study.lge_outputs``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from LGEResolutionQALib.core.aha_segments import MODELS, AHAResult, aha_segments
from LGEResolutionQALib.core.lge_segmentation import (
    DEFAULT_METHOD,
    METHODS,
    MIN_REGION_FRACTION,
    PEAK_FRACTION,
    POOL_FRACTION,
    LGEResult,
    segment_lge,
)

SCHEMA = "cardiaclge-lge/1"


def _point(value, what: str):
    if value is None:
        return None
    point = tuple(float(v) for v in np.asarray(value, dtype=np.float64).ravel())
    if len(point) != 3 or not all(math.isfinite(v) for v in point):
        raise ValueError(f"The {what} must be three finite RAS coordinates (mm); got {value!r}.")
    return point


@dataclass(frozen=True)
class LGEQuantSettings:
    """How LGE is segmented (``segment_lge``) and the AHA segments formed (``aha_segments``).

    ``rv_insertion_ras`` / ``inferior_rv_insertion_ras``: the RV insertion points in RAS (mm); the AHA
    segments are computed only when the anterior one is given. ``pool_fraction`` / ``min_region_fraction`` /
    ``peak_fraction``: the ``gmm-pool`` threshold's fraction of the way from normal myocardium to the blood pool, the
    smallest LGE region kept (fraction of the slice's myocardium) and the threshold's least fraction of the slice's
    peak enhancement above normal (0: off); defaults 0.60 / 0.01 / 0.40, chosen by the "specific" rule of
    benchmarks/bench_lge_emidec.py (minimum region 0.03 until s21).
    """

    method: str = DEFAULT_METHOD
    n_sd: float = 5.0
    min_island_ml: float = 0.0
    include_mvo: bool = False
    aha_model: int = 17
    base_end: str = "auto"
    rv_insertion_ras: tuple[float, float, float] | None = None
    inferior_rv_insertion_ras: tuple[float, float, float] | None = None
    pool_fraction: float = POOL_FRACTION
    min_region_fraction: float = MIN_REGION_FRACTION
    peak_fraction: float = PEAK_FRACTION

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"Unknown LGE method {self.method!r}; choose one of {METHODS}.")
        if self.aha_model not in MODELS:
            raise ValueError(f"The AHA model must be 16 or 17 segments; got {self.aha_model!r}.")
        if self.base_end not in ("auto", "first", "last"):
            raise ValueError(f"base_end must be 'auto', 'first' or 'last'; got {self.base_end!r}.")
        if not 0.0 < float(self.pool_fraction) < 1.0:
            raise ValueError(f"pool_fraction must be between 0 and 1 (exclusive); got {self.pool_fraction!r}.")
        if not 0.0 <= float(self.min_region_fraction) < 1.0:
            raise ValueError(f"min_region_fraction must be in [0, 1); got {self.min_region_fraction!r}.")
        if not 0.0 <= float(self.peak_fraction) < 1.0:
            raise ValueError(f"peak_fraction must be in [0, 1) (0: no peak term); got {self.peak_fraction!r}.")
        object.__setattr__(self, "rv_insertion_ras", _point(self.rv_insertion_ras, "anterior RV insertion point"))
        object.__setattr__(self, "inferior_rv_insertion_ras",
                           _point(self.inferior_rv_insertion_ras, "inferior RV insertion point"))
        if self.inferior_rv_insertion_ras is not None and self.rv_insertion_ras is None:
            raise ValueError("The inferior RV insertion point needs the anterior RV insertion point too.")


def plain_value(value):
    """A JSON/CSV value: numpy scalars as Python numbers, NaN/inf as None, tuples as lists."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, (tuple, list)):
        return [plain_value(v) for v in value]
    return value


@dataclass(frozen=True, eq=False)
class LGEQuantification:
    """LGE of one stack (``lge``) and, when an RV insertion point was given, its AHA segments (``aha``)."""

    lge: LGEResult
    aha: AHAResult | None
    ijk_to_ras: np.ndarray = field(repr=False)
    settings: LGEQuantSettings = field(default_factory=LGEQuantSettings)

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
        settings = self.settings
        summary = {k: plain_value(v) for k, v in self.lge.as_row().items() if k != "warnings"}
        document = {
            "schema": SCHEMA,
            "units": {"ml": "millilitre", "percent": "%", "au": "image intensity (arbitrary units)", "mm": "mm (RAS)"},
            "settings": {"method": settings.method, "n_sd": settings.n_sd if settings.method == "nsd" else None,
                         "min_island_ml": settings.min_island_ml, "include_mvo": settings.include_mvo,
                         "aha_model": settings.aha_model, "base_end": settings.base_end,
                         "pool_fraction": settings.pool_fraction if settings.method == "gmm-pool" else None,
                         "min_region_fraction": settings.min_region_fraction if settings.method == "gmm-pool" else None,
                         "peak_fraction": settings.peak_fraction if settings.method == "gmm-pool" else None},
            "spacing_mm": list(self.spacing_mm),
            "summary": summary,
            "per_slice": [{k: plain_value(v) for k, v in row.items()} for row in self.slice_rows()],
            "segments": None,
            "warnings": list(self.warnings),
        }
        if self.aha is not None:
            document["segments"] = {
                "model": self.aha.model, "base_end": self.aha.base_end, "rotation_source": self.aha.rotation_source,
                "reference_slice_index": self.aha.reference_slice_index,
                "rv_insertion_ras_mm": plain_value(settings.rv_insertion_ras),
                "inferior_rv_insertion_ras_mm": plain_value(settings.inferior_rv_insertion_ras),
                "slice_levels": [{"slice_index": k, "level": level} for k, level in self.aha.slice_levels],
                "rows": [{k: plain_value(v) for k, v in s.as_row().items()} for s in self.aha.segments],
            }
        return document


def quantify_lge(image_kji, ijk_to_ras, myocardium_mask, settings: LGEQuantSettings | None = None,
                 remote_mask=None) -> LGEQuantification:
    """Segment LGE and (with ``settings.rv_insertion_ras``) the AHA segments; nothing is written.
    ``image_kji`` and the masks may be 2D (one slice) for the LGE step; the AHA model needs a stack."""
    settings = settings or LGEQuantSettings()
    matrix = np.asarray(ijk_to_ras, dtype=np.float64)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)) or abs(np.linalg.det(matrix[:3, :3])) < 1e-12:
        raise ValueError("ijk_to_ras must be an invertible 4x4 matrix.")
    spacing = tuple(float(v) for v in np.linalg.norm(matrix[:3, :3], axis=0))
    lge = segment_lge(image_kji, myocardium_mask, spacing, method=settings.method, n_sd=settings.n_sd,
                      remote_mask=remote_mask, min_island_ml=settings.min_island_ml, include_mvo=settings.include_mvo,
                      pool_fraction=settings.pool_fraction, min_region_fraction=settings.min_region_fraction,
                      peak_fraction=settings.peak_fraction)
    aha = None
    if settings.rv_insertion_ras is not None:
        aha = aha_segments(myocardium_mask, matrix, settings.rv_insertion_ras, lge_mask=lge.scar_mask,
                           model=settings.aha_model, inferior_rv_insertion_ras=settings.inferior_rv_insertion_ras,
                           base_end=settings.base_end)
    return LGEQuantification(lge, aha, matrix, settings)
