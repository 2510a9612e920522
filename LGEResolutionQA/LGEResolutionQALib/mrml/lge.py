"""MRML adapter pieces of the LGE quantification: the RV insertion point from a markups node and the
bullseye as an RGB image node (imports ``vtk``, ``numpy`` and works on the nodes it is given; runs under slicer-core).

* ``point_from_markups``: the first *defined* control point of a markups point list in world RAS
  (``GetNthControlPointPositionWorld``: the node's parent transforms applied, the same space as the
  volume's IJK->world matrix the quantification uses).
* ``add_rgb_image``: a ``vtkMRMLVectorVolumeNode`` (3 × uint8 components) holding a picture, top row first,
  with IJK->RAS = diag(-1, -1, 1) mm so that it shows upright in an axial slice view (columns to the
  screen's right, rows downwards).
"""

from __future__ import annotations

import numpy as np
import vtk
from CardiacLGECommonLib.mrml.volumes import numpy_to_matrix
from vtk.util import numpy_support


def point_from_markups(node, what: str = "anterior RV insertion point") -> tuple[float, float, float]:
    """World RAS (mm) of the first defined control point of ``node``; ValueError if there is none."""
    if node is None or not node.IsA("vtkMRMLMarkupsNode"):
        raise ValueError(f"Select a markups point for the {what}.")
    for index in range(node.GetNumberOfControlPoints()):
        if node.GetNthControlPointPositionStatus(index) != node.PositionDefined:
            continue
        position = [0.0, 0.0, 0.0]
        node.GetNthControlPointPositionWorld(index, position)
        if not np.all(np.isfinite(position)):
            break
        return tuple(float(v) for v in position)
    raise ValueError(f"The markups '{node.GetName()}' has no placed point: place the {what} on the image.")


def add_rgb_image(scene, rgb: np.ndarray, name: str):
    """A vector volume node showing ``rgb`` [rows, columns, 3] uint8 (see the module docstring)."""
    array = np.asarray(rgb)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(f"An RGB picture must be uint8 [rows, columns, 3]; got {array.dtype} {array.shape}.")
    image = vtk.vtkImageData()
    image.SetDimensions(array.shape[1], array.shape[0], 1)
    scalars = numpy_support.numpy_to_vtk(np.ascontiguousarray(array).reshape(-1, 3), deep=True,
                                         array_type=vtk.VTK_UNSIGNED_CHAR)
    scalars.SetName("ImageScalars")
    image.GetPointData().SetScalars(scalars)
    node = scene.AddNewNodeByClass("vtkMRMLVectorVolumeNode", scene.GenerateUniqueName(name))
    node.SetIJKToRASMatrix(numpy_to_matrix(np.diag([-1.0, -1.0, 1.0, 1.0])))
    node.SetAndObserveImageData(image)
    node.CreateDefaultDisplayNodes()
    return node
