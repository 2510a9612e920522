"""MRML adapter: segments and markups ROIs <-> boolean masks on a volume's voxel grid; LGE segment output.

Imports only ``slicer``, ``vtk``, ``numpy`` and the core; every function takes the nodes it works on
(no ``slicer.app`` / ``slicer.modules`` / ``slicer.util``), so it runs under the ``slicer-core``
wheel. Masks are numpy bool arrays indexed [k, j, i] on the *reference volume's* grid.

* Segment / markups ROI -> mask: the volume's voxel centres (IJK -> world, incl. its parent transforms) looked
  up in the segment's binary labelmap (nearest voxel) or tested against the ROI's oriented box
  (``CardiacLGECommonLib.mrml.masks``, the same algorithm TINullCorrection uses on a TI scout). No node is
  added to the scene.
* Scar mask -> new segment: a ``vtkOrientedImageData`` with the volume's geometry expressed in the
  segmentation node's coordinates, written with ``SetBinaryLabelmapToSegment`` into a segment created
  with ``AddEmptySegment("", name, color)``. Other segments are not modified.
Every check runs before anything is created, so a ValueError leaves the scene and the user's
segmentation unchanged.
"""

from __future__ import annotations

import numpy as np
import slicer
import vtk
from CardiacLGECommonLib.mrml import masks
from CardiacLGECommonLib.mrml.masks import points_in_segment
from CardiacLGECommonLib.mrml.volumes import (
    array_from_volume,
    ijk_to_world_matrix,
    node_to_world_matrix,
    numpy_to_matrix,
)
from vtk.util import numpy_support

from LGEResolutionQALib.core.lge_segmentation import LGEResult, segment_lge
from LGEResolutionQALib.core.roi_stats import ROIStatistics, roi_statistics


def _volume_dims(volume_node) -> tuple[int, int, int]:
    if volume_node is None or volume_node.GetImageData() is None:
        name = volume_node.GetName() if volume_node is not None else "None"
        raise ValueError(f"Reference volume '{name}' has no image data.")
    i, j, k = volume_node.GetImageData().GetDimensions()
    return k, j, i


def voxel_volume_mm3(volume_node) -> float:
    """Voxel volume (mm³) in world space (column norms of IJK -> world, incl. parent transforms)."""
    return float(abs(np.linalg.det(ijk_to_world_matrix(volume_node)[:3, :3])))


def _segment_ids(segmentation_node) -> list[str]:
    segmentation = segmentation_node.GetSegmentation()
    return [segmentation.GetNthSegmentID(i) for i in range(segmentation.GetNumberOfSegments())]


def _check_segment(segmentation_node, segment_id: str) -> str:
    if segmentation_node is None:
        raise ValueError("No segmentation node given.")
    if segment_id not in _segment_ids(segmentation_node):
        raise ValueError(f"Segmentation '{segmentation_node.GetName()}' has no segment '{segment_id}'.")
    return segmentation_node.GetSegmentation().GetSegment(segment_id).GetName()


def mask_from_segment(segmentation_node, segment_id: str, reference_volume_node) -> np.ndarray:
    """Boolean mask [k, j, i] of ``segment_id`` on ``reference_volume_node``'s grid: the voxel centres (incl. the
    volume's parent transforms) whose nearest segment-labelmap voxel is set (CardiacLGECommonLib.mrml.masks).

    Raises ValueError when the segment does not exist, has no binary labelmap, or does not cover any
    voxel of the reference volume (ROI on another geometry / empty ROI).
    """
    name = _check_segment(segmentation_node, segment_id)
    mask = points_in_segment(segmentation_node, segment_id, voxel_centres_world(reference_volume_node))
    if not mask.any():
        raise ValueError(
            f"Segment '{name}' is empty on volume '{reference_volume_node.GetName()}' (empty segment, or drawn "
            "on another geometry that does not overlap this volume)."
        )
    return mask


def voxel_centres_world(volume_node) -> np.ndarray:
    """World RAS (mm) of every voxel centre of ``volume_node``: [k, j, i, 3]."""
    return masks.voxel_centres_world(_volume_dims(volume_node), ijk_to_world_matrix(volume_node))


def mask_from_markups_roi(roi_node, reference_volume_node) -> np.ndarray:
    """Voxels of ``reference_volume_node`` whose centre lies inside the (oriented) markups ROI box."""
    inside = masks.points_in_roi_box(roi_node, voxel_centres_world(reference_volume_node))
    if not inside.any():
        raise ValueError(
            f"ROI '{roi_node.GetName()}' contains no voxel centre of volume '{reference_volume_node.GetName()}' "
            "(outside the image or on another geometry)."
        )
    return inside


def _unique_segment_name(segmentation_node, name: str) -> str:
    existing = {segmentation_node.GetSegmentation().GetSegment(i).GetName() for i in _segment_ids(segmentation_node)}
    if name not in existing:
        return name
    index = 2
    while f"{name} ({index})" in existing:
        index += 1
    return f"{name} ({index})"


def _segment_id_by_name(segmentation_node, name: str) -> str | None:
    for segment_id in _segment_ids(segmentation_node):
        if segmentation_node.GetSegmentation().GetSegment(segment_id).GetName() == name:
            return segment_id
    return None


def oriented_image_from_mask(mask_kji: np.ndarray, ijk_to_node: np.ndarray) -> slicer.vtkOrientedImageData:
    """A binary (uint8) vtkOrientedImageData of ``mask_kji`` with image-to-world = ``ijk_to_node``."""
    array = np.ascontiguousarray(mask_kji, dtype=np.uint8)
    image = slicer.vtkOrientedImageData()
    image.SetDimensions(array.shape[2], array.shape[1], array.shape[0])
    scalars = numpy_support.numpy_to_vtk(array.reshape(-1), deep=True, array_type=vtk.VTK_UNSIGNED_CHAR)
    image.GetPointData().SetScalars(scalars)
    image.SetImageToWorldMatrix(numpy_to_matrix(ijk_to_node))
    return image


def add_lge_segment(
    segmentation_node,
    scar_mask: np.ndarray,
    reference_volume_node,
    name: str = "LGE",
    color: tuple[float, float, float] = (1.0, 0.9, 0.1),
    replace: bool = False,
) -> str:
    """Write ``scar_mask`` (on the reference volume's grid) as a segment; return its segment ID.

    A new segment is added (other segments, e.g. the myocardium, untouched). When a segment called
    ``name`` exists: ``replace=True`` overwrites that segment's contents (same ID); otherwise the new
    segment gets a unique name ("LGE (2)"). An empty mask gives an empty segment (no LGE found).
    The scene's undo state is saved first (when undo is enabled on the scene).
    """
    if segmentation_node is None or not segmentation_node.IsA("vtkMRMLSegmentationNode"):
        raise ValueError("A segmentation node is required.")
    shape = _volume_dims(reference_volume_node)
    mask = np.asarray(scar_mask)
    if mask.ndim == 2:
        mask = mask[np.newaxis]
    if mask.shape != shape:
        raise ValueError(
            f"LGE mask shape {np.shape(scar_mask)} differs from volume '{reference_volume_node.GetName()}' "
            f"shape {shape}: the mask is on another geometry."
        )
    if mask.dtype != bool and not np.all(np.isin(mask, (0, 1))):
        raise ValueError("The LGE mask must be boolean (or 0/1).")
    ijk_to_node = np.linalg.inv(node_to_world_matrix(segmentation_node)) @ ijk_to_world_matrix(reference_volume_node)
    labelmap = oriented_image_from_mask(mask.astype(bool), ijk_to_node)
    if not name:
        raise ValueError("Segment name must not be empty.")

    scene = segmentation_node.GetScene()
    if scene is not None and scene.GetUndoFlag():
        scene.SaveStateForUndo()
    segmentation = segmentation_node.GetSegmentation()
    existing = _segment_id_by_name(segmentation_node, name) if replace else None
    created = existing is None
    segment_id = existing or segmentation.AddEmptySegment("", _unique_segment_name(segmentation_node, name),
                                                          list(map(float, color)))
    if not segment_id:
        raise ValueError(f"Could not add segment '{name}'.")
    if existing:
        segmentation.GetSegment(segment_id).SetColor(*map(float, color))
    extent = labelmap.GetExtent()
    ok = slicer.vtkSlicerSegmentationsModuleLogic.SetBinaryLabelmapToSegment(
        labelmap, segmentation_node, segment_id, slicer.vtkSlicerSegmentationsModuleLogic.MODE_REPLACE, extent)
    if not ok:
        if created:
            segmentation.RemoveSegment(segment_id)
        raise ValueError(f"Could not write the LGE mask into segment '{name}'.")
    return segment_id


def roi_statistics_for_segments(volume_node, segmentation_node, segment_ids) -> list[ROIStatistics]:
    """``roi_statistics`` of ``volume_node`` inside each segment (resampled onto the volume grid)."""
    array = array_from_volume(volume_node)
    voxel_mm3 = voxel_volume_mm3(volume_node)
    results = []
    for segment_id in segment_ids:
        name = _check_segment(segmentation_node, segment_id)
        results.append(roi_statistics(array, mask_from_segment(segmentation_node, segment_id, volume_node),
                                      voxel_mm3, name=name))
    return results


def roi_statistics_for_markups_roi(volume_node, roi_node) -> ROIStatistics:
    """``roi_statistics`` of ``volume_node`` inside a markups ROI box."""
    return roi_statistics(array_from_volume(volume_node), mask_from_markups_roi(roi_node, volume_node),
                          voxel_volume_mm3(volume_node), name=roi_node.GetName())


def volume_spacing_mm(volume_node) -> tuple[float, float, float]:
    """(si, sj, sk) in world mm; sk is the distance between slice centres (thickness + gap)."""
    return tuple(float(v) for v in np.linalg.norm(ijk_to_world_matrix(volume_node)[:3, :3], axis=0))


def run_lge_segmentation(
    volume_node,
    segmentation_node,
    myocardium_segment_id: str,
    remote_segment_id: str | None = None,
    remote_roi_node=None,
    lge_segment_name: str = "LGE",
    replace: bool = False,
    color: tuple[float, float, float] = (1.0, 0.9, 0.1),
    **options,
) -> tuple[LGEResult, str]:
    """Segment LGE in the myocardium segment of ``volume_node`` and add it as a new segment.

    ``options`` go to ``segment_lge`` (method, n_sd, min_island_ml, include_mvo).
    The remote reference is a segment, a markups ROI, or automatic (both None). Everything is
    computed before the segmentation is touched, so any ValueError leaves it unchanged.
    Returns (result, LGE segment ID).
    """
    if remote_segment_id is not None and remote_roi_node is not None:
        raise ValueError("Give the remote reference as a segment or as a markups ROI, not both.")
    image = array_from_volume(volume_node)
    myocardium = mask_from_segment(segmentation_node, myocardium_segment_id, volume_node)
    remote = None
    if remote_segment_id is not None:
        remote = mask_from_segment(segmentation_node, remote_segment_id, volume_node)
    elif remote_roi_node is not None:
        remote = mask_from_markups_roi(remote_roi_node, volume_node)
    result = segment_lge(image, myocardium, volume_spacing_mm(volume_node), remote_mask=remote, **options)
    segment_id = add_lge_segment(segmentation_node, result.scar_mask, volume_node, name=lge_segment_name,
                                 color=color, replace=replace)
    return result, segment_id
