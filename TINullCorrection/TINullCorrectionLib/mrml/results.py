"""MRML adapter: per-frame predictions and the TI recommendation as table, plot chart and text nodes.

Imports only ``slicer``, ``vtk``, ``numpy`` and the core. Every writer takes the scene as an argument
and either creates a node or updates the node it is given (so re-running the module overwrites its
previous outputs instead of piling up nodes). A writer that fails leaves the scene as it was.

The per-frame values and texts come from the core module :mod:`presentation`; the column units and
descriptions from the fields of ``core.results.FrameResult`` (declared once there).
"""

from __future__ import annotations

import numpy as np
import slicer
import vtk
from CardiacLGECommonLib.core.quantities import descriptions_of, units_of

from TINullCorrectionLib.core.presentation import (
    SavedResult,
    checked_optimal_range,
    frame_rows,
    probability_column_names,
)
from TINullCorrectionLib.core.results import FrameResult
from TINullCorrectionLib.core.types import DEFAULT_OPTIMAL_RANGE_MS, ScoutPrediction

#: The table's columns (FrameResult fields) and the one derived column for the plot.
TABLE_COLUMNS = ("frame", "ti_ms", "predicted_offset_ms", "corrected_ti_ms", "confidence", "in_optimal_range", "offset_from_null_ms")
COLUMN_UNITS = {**{name: units_of(FrameResult)[name] for name in TABLE_COLUMNS}, "confidence_percent": "%"}
COLUMN_DESCRIPTIONS = {**{name: descriptions_of(FrameResult)[name] for name in TABLE_COLUMNS},
                       "confidence_percent": "Confidence in percent (for plotting beside the offset)"}


# ------------------------------------------------------------------------------------------- table
def _new_or_reset(scene, class_name: str, name: str, node):
    if node is not None:
        if not node.IsA(class_name):
            raise TypeError(f"Output node '{node.GetName()}' is a {node.GetClassName()}, not a {class_name}.")
        return node, False
    return scene.AddNewNodeByClass(class_name, scene.GenerateUniqueName(name)), True


def _column(array_class, name: str, values) -> vtk.vtkDataArray:
    array = array_class()
    array.SetName(name)
    for value in values:
        array.InsertNextValue(value)
    return array


def write_prediction_table(
    scene: slicer.vtkMRMLScene,
    prediction: ScoutPrediction,
    name: str = "TI scout predictions",
    optimal_range_ms=DEFAULT_OPTIMAL_RANGE_MS,
    table_node: slicer.vtkMRMLTableNode | None = None,
    null_ti_ms: float | None = None,
) -> slicer.vtkMRMLTableNode:
    """Per-frame table: frame, ti_ms, predicted_offset_ms, corrected_ti_ms, confidence, in_optimal_range,
    confidence_percent, offset_from_null_ms and one probability column per class (``p_<class name>``).

    null_ti_ms: the series' final null; in_optimal_range and offset_from_null_ms are judged on it (on the
    CNN's per-frame offsets when it is None), by the same function that makes the report's frame rows.
    """
    optimal = checked_optimal_range(optimal_range_ms)
    rows = frame_rows(prediction, optimal, null_ti_ms=null_ti_ms)
    table = vtk.vtkTable()
    table.AddColumn(_column(vtk.vtkIntArray, "frame", [r.frame for r in rows]))
    table.AddColumn(_column(vtk.vtkDoubleArray, "ti_ms", [r.ti_ms for r in rows]))
    table.AddColumn(_column(vtk.vtkDoubleArray, "predicted_offset_ms", [r.predicted_offset_ms for r in rows]))
    table.AddColumn(_column(vtk.vtkDoubleArray, "corrected_ti_ms", [r.corrected_ti_ms for r in rows]))
    table.AddColumn(_column(vtk.vtkDoubleArray, "confidence", [r.confidence for r in rows]))
    table.AddColumn(_column(vtk.vtkIntArray, "in_optimal_range", [int(r.in_optimal_range) for r in rows]))
    table.AddColumn(_column(vtk.vtkDoubleArray, "confidence_percent", [100.0 * r.confidence for r in rows]))
    table.AddColumn(_column(vtk.vtkDoubleArray, "offset_from_null_ms", [r.offset_from_null_ms for r in rows]))
    for k, column_name in enumerate(probability_column_names(prediction)):
        table.AddColumn(_column(vtk.vtkDoubleArray, column_name, [r.probabilities[k] for r in rows]))
    node, created = _new_or_reset(scene, "vtkMRMLTableNode", name, table_node)
    try:
        node.SetAndObserveTable(table)
        node.SetUseColumnTitleAsColumnHeader(True)
        for column_name, unit in COLUMN_UNITS.items():
            node.SetColumnUnitLabel(column_name, unit)
            node.SetColumnDescription(column_name, COLUMN_DESCRIPTIONS[column_name])
        for column_name, class_name in zip(probability_column_names(prediction), prediction.class_names):
            node.SetColumnDescription(column_name, f"Probability of class '{class_name}'")
        node.SetAttribute("TINullCorrection.OptimalRange_ms", f"{optimal[0]:g},{optimal[1]:g}")
        if prediction.model_name:
            node.SetAttribute("TINullCorrection.Model", prediction.model_name)
    except Exception:
        if created:
            scene.RemoveNode(node)
        raise
    return node


def table_column(table_node: slicer.vtkMRMLTableNode, name: str) -> np.ndarray:
    """Values of one column of a table node as a float array (for tests and callers)."""
    column = table_node.GetTable().GetColumnByName(name)
    if column is None:
        raise KeyError(f"Table '{table_node.GetName()}' has no column '{name}'.")
    return np.array([column.GetValue(i) for i in range(column.GetNumberOfTuples())], dtype=float)


# -------------------------------------------------------------------------------------------- plot
def _series(scene, chart, table, y_column: str, label: str, colour, created_nodes, existing=None):
    series = existing
    if series is None:
        series = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", scene.GenerateUniqueName(label))
        created_nodes.append(series)
        chart.AddAndObservePlotSeriesNodeID(series.GetID())
    series.SetName(label)
    series.SetAndObserveTableNodeID(table.GetID())
    series.SetXColumnName("ti_ms")
    series.SetYColumnName(y_column)
    series.SetPlotType(slicer.vtkMRMLPlotSeriesNode.PlotTypeScatter)
    series.SetMarkerStyle(slicer.vtkMRMLPlotSeriesNode.MarkerStyleCircle)
    series.SetColor(*colour)
    return series


def write_prediction_plot(
    scene: slicer.vtkMRMLScene,
    table_node: slicer.vtkMRMLTableNode,
    name: str = "TI scout offsets",
    chart_node: slicer.vtkMRMLPlotChartNode | None = None,
) -> slicer.vtkMRMLPlotChartNode:
    """Plot chart with TI (ms) on x and two series: predicted offset from null (ms), confidence (%)."""
    if table_node is None or table_node.GetTable().GetColumnByName("predicted_offset_ms") is None:
        raise ValueError("The plot needs the prediction table written by write_prediction_table.")
    created = []
    try:
        chart, is_new = _new_or_reset(scene, "vtkMRMLPlotChartNode", name, chart_node)
        if is_new:
            created.append(chart)
        existing = [chart.GetNthPlotSeriesNode(i) for i in range(chart.GetNumberOfPlotSeriesNodes())]
        _series(scene, chart, table_node, "predicted_offset_ms", "Predicted offset from null (ms)", (0.1, 0.3, 0.9), created, existing[0] if existing else None)
        _series(scene, chart, table_node, "confidence_percent", "Confidence (%)", (0.5, 0.5, 0.5), created, existing[1] if len(existing) > 1 else None)
        chart.SetTitle("TI scout: predicted offset from the myocardial null")
        chart.SetXAxisTitle("Inversion time (ms)")
        chart.SetYAxisTitle("Offset (ms) / confidence (%)")
        chart.SetLegendVisibility(True)
        chart.SetGridVisibility(True)
    except Exception:
        for node in reversed(created):
            scene.RemoveNode(node)
        raise
    return chart


# -------------------------------------------------------------------------------------------- text
def write_report_text(
    scene: slicer.vtkMRMLScene,
    text: str,
    name: str = "TI recommendation",
    text_node: slicer.vtkMRMLTextNode | None = None,
) -> slicer.vtkMRMLTextNode:
    """Text node holding the report (``presentation.study_report_text``, the same text the CLI prints)."""
    node, _ = _new_or_reset(scene, "vtkMRMLTextNode", name, text_node)
    node.SetText(text)
    return node


# --------------------------------------------------------------------------- restore from saved table
def prediction_from_table(table_node: slicer.vtkMRMLTableNode) -> ScoutPrediction:
    """Rebuild the per-frame prediction from a table written by :func:`write_prediction_table`
    (so the overlay works again after a scene is saved and reloaded)."""
    if table_node is None or table_node.GetTable() is None:
        raise ValueError("No prediction table.")
    table = table_node.GetTable()
    names = [table.GetColumnName(i) for i in range(table.GetNumberOfColumns())]
    for required in ("ti_ms", "predicted_offset_ms", "confidence"):
        if required not in names:
            raise ValueError(f"Table '{table_node.GetName()}' is not a TI prediction table (no '{required}').")
    probability_names = [n for n in names if n.startswith("p_")]
    n_rows = table.GetNumberOfRows()
    probabilities = (
        np.stack([table_column(table_node, n) for n in probability_names], axis=1) if probability_names else np.ones((n_rows, 1))
    )
    return ScoutPrediction(
        ti_ms=table_column(table_node, "ti_ms"),
        offset_ms=table_column(table_node, "predicted_offset_ms"),
        probabilities=probabilities,
        bin_centers_ms=_centres_from_column_names(probability_names, probabilities.shape[1]),
        class_names=tuple(n[2:] for n in probability_names) or ("all",),
        confidence=table_column(table_node, "confidence"),
        model_name=table_node.GetAttribute("TINullCorrection.Model") or "",
    )


def _centres_from_column_names(names: list[str], n_classes: int) -> np.ndarray:
    """Bin centres (ms) encoded in ``p_<centre>ms`` column names (probability_column_names); zeros when absent."""
    try:
        centres = np.array([float(name[2:-2]) for name in names]) if names and all(n.endswith("ms") for n in names) else None
    except ValueError:
        centres = None
    return centres if centres is not None and centres.size == n_classes else np.zeros(n_classes)


def saved_result_from_table(table_node: slicer.vtkMRMLTableNode) -> SavedResult:
    prediction = prediction_from_table(table_node)
    text = table_node.GetAttribute("TINullCorrection.OptimalRange_ms") or ""
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        low, high = DEFAULT_OPTIMAL_RANGE_MS
    null_text = table_node.GetAttribute("TINullCorrection.NullTI_ms")
    try:
        null_ti = float(null_text) if null_text else None
    except ValueError:
        null_ti = None
    return SavedResult(prediction, (low, high), null_ti)
