"""MRML adapter: numpy arrays with geometry <-> ``vtkMRMLScalarVolumeNode``.

Imports only ``slicer``, ``vtk`` and ``numpy``; takes the scene as an argument so it runs under the
``slicer-core`` wheel as well as inside the Slicer application. Arrays are indexed [k, j, i].
"""

from __future__ import annotations

import numpy as np
import slicer
import vtk
from vtk.util import numpy_support


def matrix_to_numpy(matrix: vtk.vtkMatrix4x4) -> np.ndarray:
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)], dtype=float)


def numpy_to_matrix(array: np.ndarray) -> vtk.vtkMatrix4x4:
    matrix = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            matrix.SetElement(r, c, float(array[r, c]))
    return matrix


def add_volume_from_array(
    scene: slicer.vtkMRMLScene,
    array_kji: np.ndarray,
    ijk_to_ras: np.ndarray,
    name: str,
    node_class: str = "vtkMRMLScalarVolumeNode",
) -> slicer.vtkMRMLScalarVolumeNode:
    """Create a new volume node (with display node) holding a copy of ``array_kji``.

    A 2D array is stored as a single-slice volume. The node is named ``name`` (made unique).
    """
    array = np.asarray(array_kji)
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3 or min(array.shape) < 1:
        raise ValueError(f"Volume array must be 2D or 3D [k, j, i]; got shape {np.shape(array_kji)}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"Volume '{name}' contains NaN or infinite values.")
    node = scene.AddNewNodeByClass(node_class, scene.GenerateUniqueName(name))
    set_volume_array(node, array, ijk_to_ras)
    node.CreateDefaultDisplayNodes()
    return node


def set_volume_array(node: slicer.vtkMRMLScalarVolumeNode, array_kji: np.ndarray, ijk_to_ras: np.ndarray) -> None:
    """Replace the voxels and geometry of an existing volume node (copy of the array)."""
    array = np.ascontiguousarray(array_kji)
    image = vtk.vtkImageData()
    image.SetDimensions(array.shape[2], array.shape[1], array.shape[0])
    vtk_array = numpy_support.numpy_to_vtk(array.reshape(-1), deep=True)
    vtk_array.SetName("ImageScalars")
    image.GetPointData().SetScalars(vtk_array)
    node.SetIJKToRASMatrix(numpy_to_matrix(np.asarray(ijk_to_ras, dtype=float)))
    node.SetAndObserveImageData(image)


def array_from_volume(node: slicer.vtkMRMLScalarVolumeNode) -> np.ndarray:
    """Copy of the volume's voxels as a numpy array indexed [k, j, i]."""
    image = node.GetImageData() if node is not None else None
    if image is None or image.GetPointData().GetScalars() is None:
        name = node.GetName() if node is not None else "None"
        raise ValueError(f"Volume '{name}' has no image data.")
    dims = image.GetDimensions()
    scalars = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())
    if image.GetNumberOfScalarComponents() != 1:
        raise ValueError(f"Volume '{node.GetName()}' has {image.GetNumberOfScalarComponents()} components; expected 1.")
    return scalars.reshape(dims[2], dims[1], dims[0]).copy()


def ijk_to_ras_matrix(node: slicer.vtkMRMLVolumeNode) -> np.ndarray:
    """The volume's own IJK->RAS matrix (without parent transforms)."""
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return matrix_to_numpy(matrix)


def node_to_world_matrix(node) -> np.ndarray:
    """4x4 matrix of the node's (linear) parent transforms to world; identity without a parent.

    Raises ValueError when the node is under a non-linear transform (harden it first).
    """
    parent = node.GetParentTransformNode()
    if parent is None:
        return np.eye(4)
    if not parent.IsTransformToWorldLinear():
        raise ValueError(f"'{node.GetName()}' is under a non-linear transform; harden it before measuring.")
    to_world = vtk.vtkMatrix4x4()
    parent.GetMatrixTransformToWorld(to_world)
    return matrix_to_numpy(to_world)


def ijk_to_world_matrix(node: slicer.vtkMRMLVolumeNode) -> np.ndarray:
    """IJK -> world RAS including the volume's (linear) parent transforms."""
    return node_to_world_matrix(node) @ ijk_to_ras_matrix(node)


def array_and_geometry_from_volume(node: slicer.vtkMRMLScalarVolumeNode) -> tuple[np.ndarray, np.ndarray]:
    """(array [k, j, i], 4x4 IJK->world RAS matrix) of a scalar volume node."""
    return array_from_volume(node), ijk_to_world_matrix(node)
