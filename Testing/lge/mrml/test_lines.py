"""MRML adapter for line profiles under slicer-core: markups line sampling (cross-checked with
vtkProbeFilter + vtkLineSource), profile / metrics tables and the plot chart."""

from __future__ import annotations

import numpy as np
import pytest
from CardiacLGECommonLib.core.geometry import ImageGeometry
from CardiacLGECommonLib.mrml.volumes import add_volume_from_array, ijk_to_world_matrix
from LGEResolutionQALib.core import edges
from LGEResolutionQALib.mrml import lines as mrml_lines
from vtk.util import numpy_support


def _rotation(angle_deg, axis):
    a = np.deg2rad(angle_deg)
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def _line(scene, start, end, name="septum line"):
    import vtk

    node = scene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", name)
    node.AddControlPointWorld(vtk.vtkVector3d(*start))
    node.AddControlPointWorld(vtk.vtkVector3d(*end))
    return node


def _oblique_volume(scene, name="HR", seed=0):
    rng = np.random.default_rng(seed)
    array = rng.normal(100.0, 20.0, size=(8, 40, 50))
    geometry = ImageGeometry((0.8, 1.1, 3.0), (-20.0, 10.0, -5.0), _rotation(25.0, (1.0, 2.0, 0.5)))
    return add_volume_from_array(scene, array, geometry.ijk_to_ras, name)


def _probe(volume_node, start, end, n_points):
    import vtk

    source = vtk.vtkLineSource()
    source.SetPoint1(*start)
    source.SetPoint2(*end)
    source.SetResolution(n_points - 1)
    world_to_ijk = vtk.vtkMatrix4x4()
    matrix = np.linalg.inv(ijk_to_world_matrix(volume_node))
    for r in range(4):
        for c in range(4):
            world_to_ijk.SetElement(r, c, matrix[r, c])
    transform = vtk.vtkTransform()
    transform.SetMatrix(world_to_ijk)
    to_ijk = vtk.vtkTransformPolyDataFilter()
    to_ijk.SetInputConnection(source.GetOutputPort())
    to_ijk.SetTransform(transform)
    probe = vtk.vtkProbeFilter()
    probe.SetInputConnection(to_ijk.GetOutputPort())
    probe.SetSourceData(volume_node.GetImageData())
    probe.Update()
    values = numpy_support.vtk_to_numpy(probe.GetOutput().GetPointData().GetScalars())
    valid = numpy_support.vtk_to_numpy(probe.GetOutput().GetPointData().GetArray(probe.GetValidPointMaskArrayName()))
    return values.astype(float), valid


def test_sampling_matches_vtk_probe_filter_with_parent_transforms(scene):
    import vtk

    volume = _oblique_volume(scene)
    transform_node = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "registration")
    matrix = vtk.vtkMatrix4x4()
    rotation = _rotation(10.0, (0, 0, 1))
    for r in range(3):
        for c in range(3):
            matrix.SetElement(r, c, rotation[r, c])
    matrix.SetElement(0, 3, 4.0)
    matrix.SetElement(2, 3, -2.0)
    transform_node.SetMatrixTransformToParent(matrix)
    volume.SetAndObserveTransformNodeID(transform_node.GetID())
    to_world = ijk_to_world_matrix(volume)
    start = (to_world @ [6.3, 7.7, 2.2, 1.0])[:3]
    end = (to_world @ [41.5, 30.2, 5.6, 1.0])[:3]
    line = _line(scene, start, end)
    profile = mrml_lines.sample_volume_along_line(volume, line, step_mm=0.2)
    probe, valid = _probe(volume, start, end, profile.distance_mm.size)
    assert valid.all()
    assert np.allclose(profile.intensity, probe, atol=1e-3)
    assert np.allclose(profile.points_ras[0], start) and np.allclose(profile.points_ras[-1], end)
    # A parent transform on the line counts too: the same world points give the same profile.
    line_parent = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "line shift")
    shift = vtk.vtkMatrix4x4()
    shift.SetElement(1, 3, 2.5)
    line_parent.SetMatrixTransformToParent(shift)
    moved = _line(scene, start - np.array([0, 2.5, 0]), end - np.array([0, 2.5, 0]), "moved line")
    moved.SetAndObserveTransformNodeID(line_parent.GetID())
    again = mrml_lines.sample_volume_along_line(volume, moved, step_mm=0.2)
    assert np.allclose(again.intensity, profile.intensity, atol=1e-9)
    cubic = mrml_lines.sample_volume_along_line(volume, line, step_mm=0.2, interpolation="cubic")
    assert cubic.interpolation == "cubic" and cubic.intensity.shape == profile.intensity.shape


def test_tables_and_plot(scene):
    hr = _oblique_volume(scene, "HR", seed=1)
    nr = _oblique_volume(scene, "NR", seed=2)
    to_world = ijk_to_world_matrix(hr)
    start, end = (to_world @ [5, 5, 3, 1.0])[:3], (to_world @ [40, 30, 3, 1.0])[:3]
    line = _line(scene, start, end)
    profiles = {node.GetName(): mrml_lines.sample_volume_along_line(node, line, step_mm=0.5) for node in (hr, nr)}
    coarse = mrml_lines.sample_volume_along_line(nr, line, step_mm=1.3)
    table_node = mrml_lines.profiles_to_table(scene, {**profiles, "NR coarse": coarse}, "septum profiles")
    table = table_node.GetTable()
    assert [table.GetColumnName(i) for i in range(table.GetNumberOfColumns())] == ["distance_mm", "HR", "NR",
                                                                                    "NR coarse"]
    assert table.GetNumberOfRows() == profiles["HR"].distance_mm.size
    assert table_node.GetColumnUnitLabel("distance_mm") == "mm"
    column = numpy_support.vtk_to_numpy(table.GetColumnByName("NR"))
    assert np.allclose(column, profiles["NR"].intensity)
    resampled = numpy_support.vtk_to_numpy(table.GetColumnByName("NR coarse"))
    expected = np.interp(profiles["HR"].distance_mm, coarse.distance_mm, coarse.intensity)
    assert np.allclose(resampled, expected, equal_nan=True)

    chart = mrml_lines.profile_plot(scene, table_node, "Septum: HR vs NR")
    assert chart.GetNumberOfPlotSeriesNodes() == 3 and chart.GetTitle() == "Septum: HR vs NR"
    series = chart.GetNthPlotSeriesNode(1)
    assert series.GetXColumnName() == "distance_mm" and series.GetYColumnName() == "NR"
    assert series.GetPlotType() == series.PlotTypeScatter and series.GetTableNodeID() == table_node.GetID()
    assert series.GetLineStyle() == series.LineStyleSolid

    x = np.arange(0, 30, 0.1)
    y = np.where(np.abs(x - 15) < 5, 40.0, 200.0)
    from LGEResolutionQALib.core.profiles import LineProfile

    result = edges.septal_profile_metrics(LineProfile(x, y, np.zeros((x.size, 3)), 0.1, "linear"))
    rows = [{"volume": "HR", **result.as_row()}, {"volume": "NR", **result.as_row()}]
    rows[1]["left_rise_20_80_mm"] = None
    metrics = mrml_lines.metrics_to_table(scene, rows, "septum metrics", type(result).ROW_UNITS)
    mt = metrics.GetTable()
    assert mt.GetNumberOfRows() == 2
    assert mt.GetColumnByName("volume").IsA("vtkStringArray")
    assert mt.GetColumnByName("method").IsA("vtkStringArray")
    assert mt.GetColumnByName("septal_thickness_fwhm_mm").IsA("vtkDoubleArray")
    assert mt.GetColumnByName("dark_band").IsA("vtkDoubleArray")
    assert np.isnan(mt.GetColumnByName("left_rise_20_80_mm").GetValue(1))
    assert mt.GetColumnByName("septal_thickness_fwhm_mm").GetValue(0) == pytest.approx(result.thickness_fwhm_mm)
    assert metrics.GetColumnUnitLabel("left_sharpness_20_80_per_mm") == "1/mm"  # the unit the result class declares
    assert metrics.GetColumnUnitLabel("band_level") == "au" and metrics.GetColumnUnitLabel("volume") == ""


def test_bad_input_leaves_scene_unchanged(scene):
    volume = _oblique_volume(scene)
    to_world = ijk_to_world_matrix(volume)
    outside = _line(scene, (to_world @ [5, 5, 3, 1.0])[:3], (to_world @ [80, 5, 3, 1.0])[:3], "too long")
    one_point = scene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", "unfinished")
    before = scene.GetNumberOfNodes()
    with pytest.raises(ValueError, match="end point.*outside the image"):
        mrml_lines.sample_volume_along_line(volume, outside)
    with pytest.raises(ValueError, match="two control points"):
        mrml_lines.sample_volume_along_line(volume, one_point)
    with pytest.raises(ValueError, match="same keys|different keys"):
        mrml_lines.metrics_to_table(scene, [{"a": 1}, {"b": 2}], "bad")
    with pytest.raises(ValueError, match="non-empty"):
        mrml_lines.profiles_to_table(scene, {}, "bad")
    with pytest.raises(ValueError, match="non-empty"):
        mrml_lines.metrics_to_table(scene, [], "bad")
    assert scene.GetNumberOfNodes() == before
