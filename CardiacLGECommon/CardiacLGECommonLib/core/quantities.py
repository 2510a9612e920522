"""Units declared once, on the result dataclasses themselves (core: standard library only).

A result field that carries a physical quantity is declared with :func:`quantity`, which stores its unit
and a one-line description in the field's metadata. Tables (MRML, CSV) and reports read the unit from
there (:func:`units_of`, :func:`unit_of`) instead of guessing it from the key's suffix, so a field's
unit is written in exactly one place.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

_MISSING = dataclasses.MISSING


def quantity(unit: str, description: str = "", *, default: Any = _MISSING, default_factory: Any = _MISSING):
    """A dataclass field carrying ``unit`` ("" for dimensionless, "ms", "mm", "%", "1/mm", ...) and a description."""
    metadata = {"unit": unit, "description": description}
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    if default is not _MISSING:
        return dataclasses.field(default=default, metadata=metadata)
    return dataclasses.field(metadata=metadata)


def units_of(cls_or_instance) -> dict[str, str]:
    """Field name -> unit for every field declared with :func:`quantity` (others are omitted)."""
    return {f.name: f.metadata["unit"] for f in dataclasses.fields(cls_or_instance) if "unit" in f.metadata}


def descriptions_of(cls_or_instance) -> dict[str, str]:
    """Field name -> description for every field declared with :func:`quantity`."""
    return {f.name: f.metadata.get("description", "") for f in dataclasses.fields(cls_or_instance) if "unit" in f.metadata}


def unit_of(cls_or_instance, name: str) -> str:
    """Unit of field ``name``; KeyError when the field declares none (a programming error, not user input)."""
    units = units_of(cls_or_instance)
    if name not in units:
        raise KeyError(f"{getattr(cls_or_instance, '__name__', type(cls_or_instance).__name__)}.{name} declares no unit.")
    return units[name]


def json_ready(value):
    """``value`` with every non-finite float replaced by None (JSON has no NaN/Infinity), recursively;
    dataclasses become dicts, tuples lists, numpy scalars/arrays plain Python values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy scalar or array
        return json_ready(value.tolist())
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value
