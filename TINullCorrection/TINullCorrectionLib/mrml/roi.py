"""MRML adapter: a myocardial ROI (segment or markups ROI box) -> boolean mask [H, W] on a TI scout.

The mask drives the physics (inversion-recovery) fit. Each scout pixel centre is mapped to world RAS
with the scout's IJK->RAS matrix and tested against the ROI (CardiacLGECommonLib.mrml.masks, the
algorithm LGEResolutionQA uses too); a pixel counts when the ROI contains its
centre or a point half a slice thickness above/below it (ROIs drawn on the 2D scout in a slice view
sit on its plane, but a box may be thin). Imports only ``slicer``, ``vtk``, ``numpy`` and the core.
"""

from __future__ import annotations

import numpy as np
import slicer
import vtk
from CardiacLGECommonLib.mrml.masks import points_in_roi_box, points_in_segment, voxel_centres_world

from TINullCorrectionLib.core.types import ScoutError, TIScout

MYOCARDIUM_SEGMENT_NAMES = ("myocardium", "lv myocardium", "left ventricle myocardium", "myo", "remote myocardium")


def _sample_points(scout: TIScout) -> np.ndarray:
    """World RAS of every pixel centre, and of points +/- half a slice thickness along the normal: [3, H, W, 3]."""
    _, height, width = scout.frames.shape
    centres = voxel_centres_world((1, height, width), scout.ijk_to_ras)[0]
    normal = scout.ijk_to_ras[:3, 2]
    return np.stack([centres + offset * normal for offset in (0.0, -0.49, 0.49)])


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
    try:
        mask = np.any([points_in_segment(segmentation_node, segment_id, points) for points in _sample_points(scout)], axis=0)
    except ValueError as error:
        raise ScoutError(str(error)) from error
    if not mask.any():
        name = segmentation_node.GetSegmentation().GetSegment(segment_id).GetName()
        raise ScoutError(
            f"Segment '{name}' does not overlap the TI scout slice: draw it on the scout frames "
            "(outside the image or on another slice)."
        )
    return mask


def _mask_from_roi_box(scout: TIScout, roi_node) -> np.ndarray:
    try:
        mask = np.any([points_in_roi_box(roi_node, points) for points in _sample_points(scout)], axis=0)
    except ValueError as error:
        raise ScoutError(f"{error} Place it around the myocardium.") from error
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
