"""What every metric family shares: report rows with units, the analysis settings, the region roles.

A family module (see ``registry.py``) defines:

* ``NAME``   unique family name (also its JSON section unless it writes its own, see ``update_json``);
* ``INPUT``  what it measures: ``"line"`` (a line in RAS; ``LINE_KINDS`` says which kinds), ``"regions"``
  (the named region masks on the volume's grid and their roles) or ``"mtf_roi"`` (a box around an edge);
* ``SECTION`` the module-panel section that runs it ("profile", "resolution", "regions", "lge", "mtf");
* ``run(volume, target, settings)`` -> a result dataclass with ``rows()``, or None when the family does not
  apply (e.g. LGE without a myocardium region); ``target`` is a ``LineDefinition``, a ``RegionInputs`` or an
  ``MTFTarget``;
* optionally ``update_json(document, results, definition)`` to shape its part of report.json.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# LGE settings (method, n_sd, min_island_ml, include_mvo, AHA model, RV insertion points): one class for the
# core pipeline and every front end.
from LGEResolutionQALib.core.lge_quantification import LGEQuantSettings as LGESettings  # noqa: F401

NOISE_METHODS = ("background", "tissue", "difference", "smoothing")
#: row keys that describe how a number was obtained (joined into the row's "method" column, not rows)
METHOD_KEYS = ("method", "noise_method", "interpolation", "formula", "remote_source")
#: region names that mean "air outside the body" for the background noise method (case-insensitive)
BACKGROUND_REGION_NAMES = ("background", "air")


@dataclass(frozen=True)
class MetricRow:
    """One number of the report: (section, item, metric) on one volume, with its unit and method."""

    section: str
    item: str
    metric: str
    value: object
    unit: str
    method: str = ""


def plain(value):
    """A JSON/CSV friendly scalar (None for NaN/inf); tuples of text joined by '; '."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, (tuple, list)):
        if all(isinstance(v, str) for v in value):
            return "; ".join(value)
        return "; ".join(f"{float(v):.6g}" for v in value)
    raise TypeError(f"Not a scalar report value: {type(value).__name__}")


def rows_of(result, section: str, item: str, extra: dict | None = None, extra_units: dict | None = None,
            prefix: str = "") -> list[MetricRow]:
    """Rows of a core result (its ``as_row()``), each with the unit its class declares in ``ROW_UNITS``.

    ``extra``: further key -> value pairs with their units in ``extra_units``. A key without a declared unit
    is a programming error (KeyError), never a guessed unit.
    """
    data = dict(result.as_row())
    units = dict(type(result).ROW_UNITS)
    if extra:
        data.update(extra)
        units.update(extra_units or {})
    method = "; ".join(f"{k}={data[k]}" for k in METHOD_KEYS if data.get(k) not in (None, ""))
    rows = []
    for key, value in data.items():
        if key in METHOD_KEYS or key == "name" or key.endswith("_name"):
            continue
        if key.endswith("warnings") and not value:
            continue
        if key not in units:
            raise KeyError(f"{type(result).__name__}.ROW_UNITS declares no unit for '{key}'.")
        rows.append(MetricRow(section, item, f"{prefix}{key}", plain(value), units[key], method))
    return rows


def json_fields(result, extra: dict | None = None, extra_units: dict | None = None) -> dict:
    """Every field of a core result's ``as_row()`` (methods and names included) for report.json, with "_au"
    appended to intensity keys (unit "au" in its ROW_UNITS), so every JSON key names its unit."""
    data = dict(result.as_row())
    units = dict(type(result).ROW_UNITS)
    if extra:
        data.update(extra)
        units.update(extra_units or {})
    return {(f"{key}_au" if units.get(key) == "au" else key): plain(value) for key, value in data.items()}


@dataclass(frozen=True)
class NoiseSettings:
    """How σ is estimated. ``region``: the region it is measured in (default: a region called
    "background"/"air" — any case — for background, the remote region for tissue/difference/smoothing)."""

    method: str = "background"
    region: str | None = None
    n_channels: int = 1
    statistic: str = "sd"
    smoothing_kernel: int = 9

    def __post_init__(self) -> None:
        if self.method not in NOISE_METHODS:
            raise ValueError(f"Noise method must be one of {NOISE_METHODS}; got {self.method!r}.")


@dataclass(frozen=True)
class AnalysisSettings:
    """Settings every family may read (one object, the same from the CLI and the module)."""

    step_mm: float = 0.1
    interpolation: str = "linear"
    dark_band: bool = True
    modulation_threshold: float = 0.1
    noise: NoiseSettings = field(default_factory=NoiseSettings)
    lge: LGESettings | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.step_mm) and self.step_mm > 0):
            raise ValueError(f"Sample step must be a positive number of mm; got {self.step_mm}.")


@dataclass(frozen=True)
class RegionRoles:
    """Which named region plays which part (None: not given)."""

    lge: str | None = None
    remote: str | None = None
    blood: str | None = None
    myocardium: str | None = None
    noise: str | None = None


@dataclass(frozen=True, eq=False)
class RegionInputs:
    """The named region masks on the volume's grid ([k, j, i] bool) and their roles."""

    masks: dict
    roles: RegionRoles = field(default_factory=RegionRoles)

    def __post_init__(self) -> None:
        for role in ("lge", "remote", "blood", "myocardium", "noise"):
            name = getattr(self.roles, role)
            if name is not None and name not in self.masks:
                raise ValueError(f"The {role} region '{name}' is not among the regions {sorted(self.masks)}.")


@dataclass(frozen=True, eq=False)
class MTFTarget:
    """A box (mask on the volume's grid) around a slanted edge, and its name."""

    name: str
    mask: np.ndarray


def resolve_noise_region(names, noise: NoiseSettings, remote: str | None = None) -> str:
    """The region σ is measured in: the one named in ``noise``, else a region called background/air (any
    case) for the background method, else the remote region. The same rule in the CLI and the module."""
    names = list(names)
    if noise.region:
        if noise.region not in names:
            raise ValueError(f"The noise region '{noise.region}' is not among the regions {sorted(names)}.")
        return noise.region
    if noise.method == "background":
        for wanted in BACKGROUND_REGION_NAMES:
            for name in names:
                if name.lower() == wanted:
                    return name
        raise ValueError("Background noise needs an air region (outside the body): name one as the noise region, "
                         "or call a region 'background' or 'air' (any case).")
    if remote:
        return remote
    raise ValueError(f"{noise.method} noise needs a region: name the noise region or a remote region.")
