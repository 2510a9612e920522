"""Round trip numpy <-> vtkMRMLScalarVolumeNode on a real scene, with oblique anisotropic geometry."""

import numpy as np
import pytest
from CardiacLGECommonLib.core.geometry import ImageGeometry, ijk_to_ras_points, ras_to_ijk
from CardiacLGECommonLib.mrml.volumes import (
    add_volume_from_array,
    array_and_geometry_from_volume,
    array_from_volume,
    ijk_to_ras_matrix,
)


def _oblique_geometry() -> ImageGeometry:
    angle = np.deg2rad(30.0)
    rotation_z = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    tilt = np.deg2rad(20.0)
    rotation_x = np.array([[1, 0, 0], [0, np.cos(tilt), -np.sin(tilt)], [0, np.sin(tilt), np.cos(tilt)]])
    return ImageGeometry(spacing_mm=(0.7, 1.3, 8.0), origin_ras=(-40.0, 12.5, 3.0), directions=rotation_z @ rotation_x)


def test_round_trip_keeps_voxels_and_geometry(scene):
    geometry = _oblique_geometry()
    rng = np.random.default_rng(0)
    array = rng.normal(100, 20, size=(4, 20, 30)).astype(np.float32)
    node = add_volume_from_array(scene, array, geometry.ijk_to_ras, "oblique")
    assert scene.GetNodeByID(node.GetID()) is node
    out, matrix = array_and_geometry_from_volume(node)
    np.testing.assert_array_equal(out, array)
    np.testing.assert_allclose(matrix, geometry.ijk_to_ras, atol=1e-9)
    spacing = node.GetSpacing()
    np.testing.assert_allclose(spacing, (0.7, 1.3, 8.0), atol=1e-9)
    np.testing.assert_allclose(node.GetOrigin(), geometry.origin_ras, atol=1e-9)


def test_value_at_known_ras_point(scene):
    geometry = _oblique_geometry()
    array = np.zeros((4, 20, 30), dtype=np.int16)
    i, j, k = 17, 5, 2
    array[k, j, i] = 1234  # a single marked voxel
    node = add_volume_from_array(scene, array, geometry.ijk_to_ras, "marker")
    point_ras = ijk_to_ras_points(geometry.ijk_to_ras, np.array([i, j, k]))
    # The node's own matrix must map that RAS point back to the marked voxel.
    ijk = np.round(ras_to_ijk(ijk_to_ras_matrix(node), point_ras)).astype(int)
    assert tuple(ijk) == (i, j, k)
    assert array_from_volume(node)[ijk[2], ijk[1], ijk[0]] == 1234
    # And the RAS position computed by hand from origin + spacing * directions agrees.
    expected = np.asarray(geometry.origin_ras) + geometry.directions @ (np.array([i, j, k]) * np.asarray(geometry.spacing_mm))
    np.testing.assert_allclose(point_ras, expected, atol=1e-9)


def test_parent_transform_is_included(scene):
    import vtk

    geometry = ImageGeometry(spacing_mm=(1.0, 2.0, 3.0))
    node = add_volume_from_array(scene, np.ones((2, 3, 4), np.float32), geometry.ijk_to_ras, "moved")
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    shift = vtk.vtkMatrix4x4()
    shift.SetElement(0, 3, 10.0)
    transform.SetMatrixTransformToParent(shift)
    node.SetAndObserveTransformNodeID(transform.GetID())
    _, matrix = array_and_geometry_from_volume(node)
    assert matrix[0, 3] == pytest.approx(10.0)


@pytest.mark.parametrize("bad", [np.zeros((2, 2, 2, 2)), np.array([[np.nan, 1.0]])])
def test_bad_arrays_are_rejected_without_adding_nodes(scene, bad):
    before = scene.GetNumberOfNodes()
    with pytest.raises(ValueError):
        add_volume_from_array(scene, bad, np.eye(4), "bad")
    assert scene.GetNumberOfNodes() == before


def test_geometry_rejects_non_orthonormal_directions():
    with pytest.raises(ValueError, match="orthonormal"):
        ImageGeometry(spacing_mm=(1, 1, 1), directions=np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1]]))
    with pytest.raises(ValueError, match="positive"):
        ImageGeometry(spacing_mm=(1, 0, 1))
