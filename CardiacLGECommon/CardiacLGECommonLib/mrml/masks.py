"""Segments and markups ROI boxes -> boolean masks at given world points: one algorithm for both modules.

A mask on any grid (a volume's voxels, a TI scout's pixels) is "which of these world RAS points lie in the
region": the grid's voxel centres (``voxel_centres_world``) are mapped to world RAS with the grid's real
IJK->RAS matrix (and the parent transforms of its node), then

* segment: each point is looked up in the segment's binary labelmap at the nearest labelmap voxel (the
  segmentation node's linear parent transforms applied; the binary labelmap representation is created when
  the segmentation has only another one, as Segment Statistics does);
* markups ROI box: each point is tested against the oriented box (``GetObjectToWorldMatrix``, ``GetSize``;
  inside-out honoured).

Raises ValueError with a message naming the segment / ROI for bad input. Adds no node to the scene.
"""

from __future__ import annotations

import numpy as np
import slicer
import vtk
from vtk.util import numpy_support

from CardiacLGECommonLib.mrml.volumes import matrix_to_numpy, node_to_world_matrix


def voxel_centres_world(shape_kji, ijk_to_world: np.ndarray) -> np.ndarray:
    """World RAS (mm) of every voxel centre of a grid of ``shape_kji``: [k, j, i, 3]."""
    n_k, n_j, n_i = (int(v) for v in shape_kji)
    kk, jj, ii = np.meshgrid(np.arange(n_k), np.arange(n_j), np.arange(n_i), indexing="ij")
    ijk = np.stack([ii, jj, kk, np.ones_like(ii)], axis=-1).astype(float)
    return (ijk @ np.asarray(ijk_to_world, dtype=float).T)[..., :3]


def segment_name(segmentation_node, segment_id: str) -> str:
    if segmentation_node is None:
        raise ValueError("No segmentation node given.")
    segment = segmentation_node.GetSegmentation().GetSegment(segment_id) if segment_id else None
    if segment is None:
        raise ValueError(f"Segmentation '{segmentation_node.GetName()}' has no segment '{segment_id}'.")
    return segment.GetName()


def _binary_labelmap(segmentation_node, segment_id: str, name: str):
    segmentation = segmentation_node.GetSegmentation()
    labelmap_name = slicer.vtkSegmentationConverter.GetSegmentationBinaryLabelmapRepresentationName()
    if not segmentation.ContainsRepresentation(labelmap_name):
        segmentation_node.CreateBinaryLabelmapRepresentation()
    labelmap = slicer.vtkOrientedImageData()
    if not segmentation_node.GetBinaryLabelmapRepresentation(segment_id, labelmap):
        raise ValueError(f"Segment '{name}' has no binary labelmap (create it in Segment Editor).")
    extent = labelmap.GetExtent()
    if extent[1] < extent[0] or extent[3] < extent[2] or extent[5] < extent[4]:
        raise ValueError(f"Segment '{name}' is empty.")
    return labelmap, extent


def points_in_segment(segmentation_node, segment_id: str, points_world: np.ndarray) -> np.ndarray:
    """Boolean array (shape of ``points_world`` without its last axis): the point's nearest labelmap voxel
    of the segment is set."""
    name = segment_name(segmentation_node, segment_id)
    labelmap, extent = _binary_labelmap(segmentation_node, segment_id, name)
    image_to_node = vtk.vtkMatrix4x4()
    labelmap.GetImageToWorldMatrix(image_to_node)  # "world" of the labelmap = the segmentation node's space
    world_to_ijk = np.linalg.inv(node_to_world_matrix(segmentation_node) @ matrix_to_numpy(image_to_node))
    dims = labelmap.GetDimensions()
    scalars = labelmap.GetPointData().GetScalars()
    components = scalars.GetNumberOfComponents()
    values = numpy_support.vtk_to_numpy(scalars).reshape(dims[2], dims[1], dims[0], components)[..., 0]
    points = np.asarray(points_world, dtype=float)
    homogeneous = np.concatenate([points, np.ones(points.shape[:-1] + (1,))], axis=-1)
    ijk = np.rint(homogeneous @ world_to_ijk.T)[..., :3].astype(np.int64) - np.array([extent[0], extent[2], extent[4]])
    inside = np.all((ijk >= 0) & (ijk < np.array(dims)), axis=-1)
    hit = np.zeros(points.shape[:-1], dtype=bool)
    i, j, k = ijk[inside].T
    # GetBinaryLabelmapRepresentation extracts this segment alone (0/1), also from a shared labelmap layer
    hit[inside] = values[k, j, i] > 0
    return hit


def points_in_roi_box(roi_node, points_world: np.ndarray) -> np.ndarray:
    """Boolean array: the point lies inside the markups ROI's oriented box (outside it when inside-out)."""
    if roi_node is None or not roi_node.IsA("vtkMRMLMarkupsROINode"):
        raise ValueError("A markups ROI node (vtkMRMLMarkupsROINode) is required.")
    if roi_node.GetNumberOfControlPoints() < 1:
        raise ValueError(f"ROI '{roi_node.GetName()}' is not placed.")
    size = np.array(roi_node.GetSize(), dtype=float)
    if np.any(size <= 0):
        raise ValueError(f"ROI '{roi_node.GetName()}' has zero size {tuple(size)}.")
    world_to_object = np.linalg.inv(matrix_to_numpy(roi_node.GetObjectToWorldMatrix()))
    local = np.asarray(points_world, dtype=float) @ world_to_object[:3, :3].T + world_to_object[:3, 3]
    inside = np.all(np.abs(local) <= size / 2.0 + 1e-6, axis=-1)
    return ~inside if roi_node.GetInsideOut() else inside
