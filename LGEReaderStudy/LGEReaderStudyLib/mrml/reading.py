"""MRML adapter of the blinded reading: one series at a time in the slice views, nothing but its case code.

Imports ``slicer``, ``vtk``, ``numpy`` and the project's core; every function takes the scene, so it runs
under the ``slicer-core`` wheel in pytest as well as inside Slicer.

* ``show_case``: removes the previous reading volume (and its display/storage nodes), adds the series
  as a new scalar volume named "Case <code>" only — no series description, no DICOM attributes, no
  subject-hierarchy patient/study (the voxels come from ``io.definitions.read_volume``, which keeps no
  header) — resets window/level by one fixed rule, and shows it as the background of every slice
  view with foreground and label layers cleared, each slice view rotated to the series' own plane.
* ``reset_window_level``: window/level from the 0.5th–99.5th percentile of the voxel values,
  automatic window/level off, so every series starts from the same rule and a window the reader set
  on one series never carries over to the next.
* ``set_reading_layout``: one slice view (Red) when the scene has a layout node.
* ``load_case``: reads the case's series file of a ``ReaderSession`` and calls ``show_case``.

Nothing else in the scene is read or written; other volumes the scene holds are left alone (but
taken out of the slice views).
"""

from __future__ import annotations

import numpy as np
import slicer
from CardiacLGECommonLib.mrml.volumes import add_volume_from_array

READING_ATTRIBUTE = "LGEReaderStudy.Case"
WINDOW_PERCENTILES = (0.5, 99.5)


def reading_volumes(scene) -> list:
    """Volume nodes this module created for reading (marked with ``READING_ATTRIBUTE``)."""
    nodes = []
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode")):
        node = scene.GetNthNodeByClass(index, "vtkMRMLScalarVolumeNode")
        if node.GetAttribute(READING_ATTRIBUTE) is not None:
            nodes.append(node)
    return nodes


def other_volumes(scene) -> list:
    """Volume nodes in the scene that are not reading volumes (their names could unblind the reader)."""
    nodes = []
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLVolumeNode")):
        node = scene.GetNthNodeByClass(index, "vtkMRMLVolumeNode")
        if node.GetAttribute(READING_ATTRIBUTE) is None:
            nodes.append(node)
    return nodes


def remove_reading_volumes(scene) -> int:
    """Remove the reading volumes with their display and storage nodes; returns how many."""
    nodes = reading_volumes(scene)
    for node in nodes:
        extra = [node.GetNthDisplayNode(i) for i in range(node.GetNumberOfDisplayNodes())]
        extra.append(node.GetStorageNode())
        scene.RemoveNode(node)
        for other in extra:
            if other is not None and scene.IsNodePresent(other):
                scene.RemoveNode(other)
    return len(nodes)


def window_level_for(array) -> tuple[float, float]:
    """(window, level) from the ``WINDOW_PERCENTILES`` of the finite voxel values."""
    values = np.asarray(array, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError("The series has no finite voxel values.")
    low, high = np.percentile(values, WINDOW_PERCENTILES)
    if high <= low:
        low, high = float(values.min()), float(values.max())
    if high <= low:
        high = low + 1.0
    return float(high - low), float((high + low) / 2.0)


def reset_window_level(volume_node, array) -> tuple[float, float]:
    """Set the display node's window/level by the fixed rule (``window_level_for``), auto W/L off."""
    display = volume_node.GetDisplayNode()
    if display is None:
        volume_node.CreateDefaultDisplayNodes()
        display = volume_node.GetDisplayNode()
    window, level = window_level_for(array)
    display.SetAutoWindowLevel(False)
    display.SetWindowLevel(window, level)
    display.SetInterpolate(1)  # the same display interpolation for every series
    return window, level


def show_in_slice_views(scene, volume_node) -> int:
    """``volume_node`` as background of every slice view, foreground and label cleared, each view
    rotated to the volume's plane; the selection node points to it. Returns the number of views."""
    composites = [scene.GetNthNodeByClass(i, "vtkMRMLSliceCompositeNode")
                  for i in range(scene.GetNumberOfNodesByClass("vtkMRMLSliceCompositeNode"))]
    for composite in composites:
        composite.SetBackgroundVolumeID(volume_node.GetID())
        composite.SetForegroundVolumeID(None)
        composite.SetLabelVolumeID(None)
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLSliceNode")):
        slice_node = scene.GetNthNodeByClass(index, "vtkMRMLSliceNode")
        slice_node.RotateToVolumePlane(volume_node)
    selection = scene.GetFirstNodeByClass("vtkMRMLSelectionNode")
    if selection is not None:
        selection.SetActiveVolumeID(volume_node.GetID())
        selection.SetSecondaryVolumeID(None)
        selection.SetActiveLabelVolumeID(None)
    return len(composites)


def set_reading_layout(scene) -> bool:
    """One slice view (Red) for reading; False when the scene has no layout node (no application)."""
    layout = scene.GetFirstNodeByClass("vtkMRMLLayoutNode")
    if layout is None:
        return False
    layout.SetViewArrangement(slicer.vtkMRMLLayoutNode.SlicerLayoutOneUpRedSliceView)
    return True


def show_case(scene, array_kji, ijk_to_ras, case_code: str):
    """The series of one case as the only reading volume, named by its case code (see module docstring)."""
    code = str(case_code).strip()
    if not code:
        raise ValueError("A case needs its case code.")
    array = np.asarray(array_kji)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"The series of case {code} contains NaN or infinite values.")
    remove_reading_volumes(scene)
    node = add_volume_from_array(scene, array, ijk_to_ras, f"Case {code}")
    node.SetAttribute(READING_ATTRIBUTE, code)
    node.SetDescription("")
    reset_window_level(node, array)
    show_in_slice_views(scene, node)
    return node


def load_case(scene, session, case_code: str):
    """Read the series of ``case_code`` of a ``reader_session.ReaderSession`` and show it."""
    from LGEResolutionQALib.io.definitions import read_volume

    path = session.series_path(case_code)
    volume = read_volume(path, case_code)
    return show_case(scene, volume.array, volume.ijk_to_ras, case_code)
