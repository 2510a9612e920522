"""MRML adapter for line profiles: markups line -> ``LineProfile``, profiles / metrics -> tables, plot.

Imports only ``slicer``, ``vtk``, ``numpy`` and the project's core; takes nodes and the scene as
arguments (runs under the ``slicer-core`` wheel and in Slicer).

* ``sample_volume_along_line``: the line's two control points in world RAS
  (``GetNthControlPointPositionWorld``, so the line's parent transforms count) sampled on the volume
  voxels with its IJK->world matrix (volume parent transforms included, see
  ``CardiacLGECommonLib.mrml_volumes.array_and_geometry_from_volume``) by ``profiles.sample_line``.
* ``profiles_to_table``: one table, column ``distance_mm`` then one intensity column per profile
  (named by its dict key). Profiles whose distances differ from the first one's (another step or
  line length) are linearly resampled onto the first profile's distances; distances beyond a
  profile's own length are NaN (never extrapolated).
* ``profile_plot``: a plot chart with one scatter-line series per intensity column (x = distance_mm).
* ``curves_to_table``: the same for any curves (e.g. MTF against spatial frequency).
* ``metrics_to_table``: rows of dicts (same keys) -> table; numeric/bool columns as
  ``vtkDoubleArray`` (None -> NaN, bool -> 0/1), any other column as ``vtkStringArray``; column units
  from the caller (the units the result classes declare), never guessed from the column name.

Every input is validated before the first node is created, and a node whose filling fails is
removed again: a ValueError leaves the scene unchanged.
"""

from __future__ import annotations

import numbers

import numpy as np
import slicer
import vtk
from CardiacLGECommonLib.mrml.volumes import array_and_geometry_from_volume

from LGEResolutionQALib.core.profiles import LineProfile, sample_line

DISTANCE_COLUMN = "distance_mm"
_PALETTE = (  # colour-blind-safe (Okabe-Ito)
    (0.0, 0.447, 0.698), (0.835, 0.369, 0.0), (0.0, 0.620, 0.451), (0.800, 0.475, 0.655),
    (0.902, 0.624, 0.0), (0.337, 0.706, 0.914), (0.941, 0.894, 0.259), (0.0, 0.0, 0.0),
)


def line_endpoints_world(line_node) -> tuple[np.ndarray, np.ndarray]:
    """World RAS (mm) of the first two control points of a markups line node."""
    if line_node is None or not line_node.IsA("vtkMRMLMarkupsLineNode"):
        raise ValueError("A markups line node (vtkMRMLMarkupsLineNode) is required.")
    if line_node.GetNumberOfControlPoints() < 2:
        raise ValueError(f"Line '{line_node.GetName()}' needs two control points; it has "
                         f"{line_node.GetNumberOfControlPoints()}.")
    points = []
    for index in range(2):
        position = [0.0, 0.0, 0.0]
        line_node.GetNthControlPointPositionWorld(index, position)
        points.append(np.array(position, dtype=float))
    return points[0], points[1]


def sample_volume_along_line(volume_node, line_node, step_mm: float = 0.1, interpolation: str = "linear",
                             line_width_mm: float = 0.0) -> LineProfile:
    """Profile of ``volume_node`` along ``line_node`` (world RAS, mm). Adds nothing to the scene."""
    if volume_node is None or not volume_node.IsA("vtkMRMLScalarVolumeNode"):
        raise ValueError("A scalar volume node is required.")
    start, end = line_endpoints_world(line_node)
    array, ijk_to_world = array_and_geometry_from_volume(volume_node)
    return sample_line(array, ijk_to_world, start, end, step_mm=step_mm, interpolation=interpolation,
                       line_width_mm=line_width_mm)


def _profile_columns(profiles: dict) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    if not isinstance(profiles, dict) or not profiles:
        raise ValueError("profiles must be a non-empty dict name -> LineProfile.")
    return _curve_columns({name: (p.distance_mm, p.intensity) for name, p in profiles.items()}, DISTANCE_COLUMN)


def _curve_columns(curves: dict, x_name: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    if not isinstance(curves, dict) or not curves:
        raise ValueError("curves must be a non-empty dict name -> (x, y).")
    names = [str(name) for name in curves]
    if x_name in names or len(set(names)) != len(names) or any(not n for n in names):
        raise ValueError(f"Curve names must be unique, non-empty and not '{x_name}'; got {names}.")
    first = next(iter(curves.values()))
    distance = np.asarray(first[0], dtype=float)
    columns = {}
    for name, (x_values, y_values) in curves.items():
        x = np.asarray(x_values, dtype=float)
        y = np.asarray(y_values, dtype=float)
        if x.ndim != 1 or x.shape != y.shape or x.size < 2:
            raise ValueError(f"Curve '{name}' has inconsistent distance/intensity arrays.")
        if x.shape == distance.shape and np.allclose(x, distance, rtol=0, atol=1e-9):
            columns[str(name)] = y.copy()
        else:
            resampled = np.interp(distance, x, y)
            resampled[(distance < x[0] - 1e-9) | (distance > x[-1] + 1e-9)] = np.nan
            columns[str(name)] = resampled
    return distance, columns


def _double_array(name: str, values) -> vtk.vtkDoubleArray:
    array = vtk.vtkDoubleArray()
    array.SetName(name)
    array.SetNumberOfTuples(len(values))
    for index, value in enumerate(values):
        array.SetValue(index, float(value))
    return array


def _string_array(name: str, values) -> vtk.vtkStringArray:
    array = vtk.vtkStringArray()
    array.SetName(name)
    array.SetNumberOfValues(len(values))
    for index, value in enumerate(values):
        array.SetValue(index, "" if value is None else str(value))
    return array


def _new_table(scene, table_name: str, arrays: list, units: dict[str, str]):
    node = scene.AddNewNodeByClass("vtkMRMLTableNode", scene.GenerateUniqueName(table_name))
    try:
        table = node.GetTable()
        for array in arrays:
            table.AddColumn(array)
        for column, unit in units.items():
            node.SetColumnUnitLabel(column, unit)
        node.Modified()
    except Exception:
        scene.RemoveNode(node)
        raise
    return node


def profiles_to_table(scene, profiles: dict, table_name: str):
    """Table node: ``distance_mm`` + one intensity column per profile (see module docstring)."""
    if scene is None:
        raise ValueError("A scene is required.")
    distance, columns = _profile_columns(profiles)
    arrays = [_double_array(DISTANCE_COLUMN, distance)]
    arrays += [_double_array(name, values) for name, values in columns.items()]
    return _new_table(scene, table_name, arrays, {DISTANCE_COLUMN: "mm"})


def curves_to_table(scene, curves: dict, table_name: str, x_name: str, x_unit: str = ""):
    """Table node: ``x_name`` + one column per curve ({name: (x, y)}), resampled as profiles_to_table does."""
    if scene is None:
        raise ValueError("A scene is required.")
    x, columns = _curve_columns(curves, x_name)
    arrays = [_double_array(x_name, x)] + [_double_array(name, values) for name, values in columns.items()]
    return _new_table(scene, table_name, arrays, {x_name: x_unit} if x_unit else {})


def profile_plot(scene, table_node, title: str, x_column: str = DISTANCE_COLUMN, x_title: str = "Distance along line (mm)",
                 y_title: str = "Intensity"):
    """Plot chart with one scatter-line series per non-``x_column`` column of ``table_node``."""
    if scene is None or table_node is None or not table_node.IsA("vtkMRMLTableNode"):
        raise ValueError("A scene and a table node are required.")
    table = table_node.GetTable()
    names = [table.GetColumnName(i) for i in range(table.GetNumberOfColumns())]
    if x_column not in names:
        raise ValueError(f"Table '{table_node.GetName()}' has no '{x_column}' column.")
    series_columns = [name for name in names if name != x_column]
    if not series_columns:
        raise ValueError(f"Table '{table_node.GetName()}' has no intensity column to plot.")
    created = []
    try:
        chart = scene.AddNewNodeByClass("vtkMRMLPlotChartNode", scene.GenerateUniqueName(title))
        created.append(chart)
        chart.SetTitle(title)
        chart.SetXAxisTitle(x_title)
        chart.SetYAxisTitle(y_title)
        for index, column in enumerate(series_columns):
            series = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", scene.GenerateUniqueName(column))
            created.append(series)
            series.SetAndObserveTableNodeID(table_node.GetID())
            series.SetXColumnName(x_column)
            series.SetYColumnName(column)
            series.SetPlotType(slicer.vtkMRMLPlotSeriesNode.PlotTypeScatter)
            series.SetLineStyle(slicer.vtkMRMLPlotSeriesNode.LineStyleSolid)
            series.SetMarkerStyle(slicer.vtkMRMLPlotSeriesNode.MarkerStyleNone)
            series.SetColor(*_PALETTE[index % len(_PALETTE)])
            chart.AddAndObservePlotSeriesNodeID(series.GetID())
    except Exception:
        for node in reversed(created):
            scene.RemoveNode(node)
        raise
    return chart


def _is_number(value) -> bool:
    return value is None or (isinstance(value, (numbers.Real, np.bool_)) and not isinstance(value, str))


def metrics_to_table(scene, rows: list, table_name: str, units: dict | None = None):
    """Table node with one row per dict in ``rows`` (all with the same keys, in the first row's order);
    ``units``: column -> unit label (as the result classes declare them)."""
    if scene is None:
        raise ValueError("A scene is required.")
    if not rows or not all(isinstance(row, dict) for row in rows):
        raise ValueError("rows must be a non-empty list of dicts.")
    keys = list(rows[0])
    if not keys:
        raise ValueError("Rows have no columns.")
    for index, row in enumerate(rows):
        if set(row) != set(keys):
            missing, extra = sorted(set(keys) - set(row)), sorted(set(row) - set(keys))
            raise ValueError(f"Row {index} has different keys from row 0 (missing {missing}, extra {extra}).")
    arrays = []
    units = {str(k): u for k, u in (units or {}).items() if u and k in keys}
    for key in keys:
        values = [row[key] for row in rows]
        name = str(key)
        if all(_is_number(v) for v in values) and any(v is not None for v in values):
            arrays.append(_double_array(name, [np.nan if v is None else float(v) for v in values]))
        else:
            arrays.append(_string_array(name, values))
    return _new_table(scene, table_name, arrays, units)
