"""MRML adapter: a myocardial ROI (segment or markups ROI box) -> boolean mask [H, W] on a TI scout.

The mask drives the physics (inversion-recovery) fit. Each scout pixel centre is mapped to world RAS
with the scout's IJK->RAS matrix and tested against the ROI; a pixel counts when the ROI contains its
centre or a point half a slice thickness above/below it (ROIs drawn on the 2D scout in a slice view
sit on its plane, but a box may be thin). Imports only ``slicer``, ``vtk``, ``numpy`` and the core.
"""

from __future__ import annotations

import numpy as np
import slicer
import vtk
from CardiacLGECommonLib.mrml.volumes import matrix_to_numpy, node_to_world_matrix

from TINullCorrectionLib.core.types import ScoutError, TIScout

MYOCARDIUM_SEGMENT_NAMES = ("myocardium", "lv myocardium", "left ventricle myocardium", "myo", "remote myocardium")


def _to_world(node) -> np.ndarray:
    try:
        return node_to_world_matrix(node)
    except ValueError as error:
        raise ScoutError(str(error)) from error


def _sample_points(scout: TIScout) -> np.ndarray:
    """World RAS of every pixel centre, and of points +/- half a slice thickness along the normal: [3, H, W, 4]."""
    _, height, width = scout.frames.shape
    jj, ii = np.meshgrid(np.arange(height, dtype=float), np.arange(width, dtype=float), indexing="ij")
    samples = []
    for k in (0.0, -0.49, 0.49):
        ijk = np.stack([ii, jj, np.full_like(ii, k), np.ones_like(ii)], axis=-1)
        samples.append(ijk @ scout.ijk_to_ras.T)
    return np.stack(samples)


def choose_segment_id(segmentation_node, segment_id: str | None = None) -> str:
    """The segment to use: the given ID, the only segment, or the one named like 'myocardium'."""
    segmentation = segmentation_node.GetSegmentation()
    ids = [segmentation.GetNthSegmentID(i) for i in range(segmentation.GetNumberOfSegments())]
    if not ids:
        raise ScoutError(f"Segmentation '{segmentation_node.GetName()}' has no segments.")
    if segment_id:
        if segment_id not in ids:
            raise ScoutError(f"Segmentation '{segmentation_node.GetName()}' has no segment '{segment_id}'.")
        return segment_id
    if len(ids) == 1:
        return ids[0]
    by_name = {segmentation.GetSegment(i).GetName().strip().lower(): i for i in ids}
    for name in MYOCARDIUM_SEGMENT_NAMES:
        if name in by_name:
            return by_name[name]
    raise ScoutError(
        f"Segmentation '{segmentation_node.GetName()}' has {len(ids)} segments: choose the myocardium segment."
    )


def _mask_from_segment(scout: TIScout, segmentation_node, segment_id: str | None) -> np.ndarray:
    segment_id = choose_segment_id(segmentation_node, segment_id)
    segment_name = segmentation_node.GetSegmentation().GetSegment(segment_id).GetName()
    labelmap = slicer.vtkOrientedImageData()
    if not segmentation_node.GetBinaryLabelmapRepresentation(segment_id, labelmap):
        raise ScoutError(f"Segment '{segment_name}' has no binary labelmap (create it in Segment Editor).")
    extent = labelmap.GetExtent()
    if extent[1] < extent[0] or extent[3] < extent[2] or extent[5] < extent[4]:
        raise ScoutError(f"Segment '{segment_name}' is empty.")
    image_to_world = vtk.vtkMatrix4x4()
    labelmap.GetImageToWorldMatrix(image_to_world)
    world_to_ijk = np.linalg.inv(_to_world(segmentation_node) @ matrix_to_numpy(image_to_world))
    dims = labelmap.GetDimensions()
    from vtk.util import numpy_support

    scalars = labelmap.GetPointData().GetScalars()
    values = numpy_support.vtk_to_numpy(scalars).reshape(dims[2], dims[1], dims[0])
    mask = np.zeros(scout.frames.shape[1:], dtype=bool)
    for points in _sample_points(scout):
        ijk = np.rint(points @ world_to_ijk.T)[..., :3].astype(np.int64)
        ijk -= np.array([extent[0], extent[2], extent[4]])
        inside = np.all((ijk >= 0) & (ijk < np.array(dims)), axis=-1)
        hit = np.zeros_like(mask)
        i, j, k = ijk[inside].T
        hit[inside] = values[k, j, i] > 0
        mask |= hit
    if not mask.any():
        raise ScoutError(
            f"Segment '{segment_name}' does not overlap the TI scout slice: draw it on the scout frames "
            "(outside the image or on another slice)."
        )
    return mask


def _mask_from_roi_box(scout: TIScout, roi_node) -> np.ndarray:
    object_to_world = matrix_to_numpy(roi_node.GetObjectToWorldMatrix())
    size = np.asarray(roi_node.GetSize(), dtype=float)
    if np.any(size <= 0):
        raise ScoutError(f"ROI '{roi_node.GetName()}' has zero size; place it around the myocardium.")
    world_to_object = np.linalg.inv(object_to_world)
    half = size / 2.0 + 1e-6
    mask = np.zeros(scout.frames.shape[1:], dtype=bool)
    for points in _sample_points(scout):
        local = (points @ world_to_object.T)[..., :3]
        mask |= np.all(np.abs(local) <= half, axis=-1)
    if not mask.any():
        raise ScoutError(f"ROI '{roi_node.GetName()}' lies outside the TI scout slice: place it on the scout image.")
    return mask


def mask_from_roi_for_scout(scout: TIScout, roi_node, segment_id: str | None = None) -> np.ndarray:
    """Boolean mask [H, W] of the scout pixels inside ``roi_node``.

    roi_node: vtkMRMLSegmentationNode (segment ``segment_id``, else the only / 'myocardium' segment) or
    vtkMRMLMarkupsROINode (box). Raises ScoutError when the ROI misses the scout slice.
    """
    if roi_node is None:
        raise ScoutError("No ROI given.")
    if roi_node.IsA("vtkMRMLSegmentationNode"):
        return _mask_from_segment(scout, roi_node, segment_id)
    if roi_node.IsA("vtkMRMLMarkupsROINode"):
        return _mask_from_roi_box(scout, roi_node)
    raise ScoutError(
        f"'{roi_node.GetName()}' ({roi_node.GetClassName()}) cannot be used as a myocardial ROI: use a segment or a markups ROI."
    )


def segmentation_from_mask(
    scene: slicer.vtkMRMLScene, scout: TIScout, mask, name: str = "Myocardium ROI", segment_name: str = "myocardium"
):
    """New segmentation node with one segment holding ``mask`` [H, W] on the scout's geometry.

    Used by the self-test scenario (the simulator knows the myocardium) and by callers that have a
    mask from elsewhere. Nothing is added when the mask is empty or of the wrong shape.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != scout.frames.shape[1:]:
        raise ScoutError(f"Mask shape {mask.shape} does not match the scout frames {scout.frames.shape[1:]}.")
    if not mask.any():
        raise ScoutError("The ROI mask is empty.")
    from vtk.util import numpy_support

    labelmap = slicer.vtkOrientedImageData()
    height, width = mask.shape
    labelmap.SetDimensions(width, height, 1)
    values = numpy_support.numpy_to_vtk(mask.astype(np.uint8).reshape(-1), deep=True, array_type=vtk.VTK_UNSIGNED_CHAR)
    labelmap.GetPointData().SetScalars(values)
    image_to_world = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            image_to_world.SetElement(r, c, float(scout.ijk_to_ras[r, c]))
    labelmap.SetImageToWorldMatrix(image_to_world)
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", scene.GenerateUniqueName(name))
    try:
        node.CreateDefaultDisplayNodes()
        segment_id = node.AddSegmentFromBinaryLabelmapRepresentation(labelmap, segment_name, [0.9, 0.6, 0.2])
        if not segment_id:
            raise ScoutError("Could not add the ROI segment.")
    except Exception:
        scene.RemoveNode(node)
        raise
    return node
