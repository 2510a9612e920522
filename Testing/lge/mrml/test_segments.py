"""MRML adapter for ROIs, segments and the LGE segment, on real MRML nodes (slicer-core, no mocks)."""

from __future__ import annotations

import numpy as np
import pytest

slicer = pytest.importorskip("slicer")
vtk = pytest.importorskip("vtk")

from CardiacLGECommonLib.mrml.volumes import add_volume_from_array  # noqa: E402
from LGEResolutionQALib.core.lge_segmentation import segment_lge  # noqa: E402
from LGEResolutionQALib.mrml import segments as ms  # noqa: E402
from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom  # noqa: E402


def _geometry(spacing, origin=(0.0, 0.0, 0.0)):
    matrix = np.diag([*spacing, 1.0])
    matrix[:3, 3] = origin
    return matrix


def _centres(shape, ijk_to_ras):
    kk, jj, ii = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    ijk = np.stack([ii, jj, kk, np.ones_like(ii)], axis=-1).astype(float)
    return (ijk @ ijk_to_ras.T)[..., :3]


def _box_mask(points, low, high):
    return np.all((points >= np.asarray(low)) & (points <= np.asarray(high)), axis=-1)


def _segmentation_with(scene, volume, masks: dict):
    """A segmentation node with one segment per (name -> mask on ``volume``), via slicer.util."""
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Seg")
    node.CreateDefaultDisplayNodes()
    node.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    ids = {}
    for name, mask in masks.items():
        segment_id = node.GetSegmentation().AddEmptySegment("", name, [0.5, 0.2, 0.2])
        slicer.util.updateSegmentBinaryLabelmapFromArray(mask.astype(np.uint8), node, segment_id, volume)
        ids[name] = segment_id
    return node, ids


def _snapshot(node, volume):
    """(segment IDs, names, masks) to prove that an operation left a segmentation unchanged."""
    ids = ms._segment_ids(node)
    names = [node.GetSegmentation().GetSegment(i).GetName() for i in ids]
    masks = [ms.mask_from_segment(node, i, volume) if _non_empty(node, i) else None for i in ids]
    return ids, names, masks


def _non_empty(node, segment_id):
    labelmap = slicer.vtkOrientedImageData()
    node.GetBinaryLabelmapRepresentation(segment_id, labelmap)
    ext = labelmap.GetExtent()
    return ext[1] >= ext[0]


def _assert_same(before, after):
    assert before[0] == after[0] and before[1] == after[1]
    for a, b in zip(before[2], after[2], strict=True):
        assert (a is None and b is None) or np.array_equal(a, b)


def test_mask_from_segment_round_trip_same_geometry(scene):
    shape = (3, 20, 24)
    geometry = _geometry((1.0, 1.2, 5.0), (-10.0, 4.0, 2.0))
    volume = add_volume_from_array(scene, np.zeros(shape, np.float32), geometry, "vol")
    mask = np.zeros(shape, bool)
    mask[1, 5:12, 3:9] = True
    mask[2, 7, 20] = True
    node, ids = _segmentation_with(scene, volume, {"myo": mask})
    n_nodes = scene.GetNumberOfNodes()
    assert np.array_equal(ms.mask_from_segment(node, ids["myo"], volume), mask)
    # no temporary node (labelmap, its display node or its colour table) is left behind
    assert scene.GetNodesByClass("vtkMRMLLabelMapVolumeNode").GetNumberOfItems() == 0
    ms.mask_from_segment(node, ids["myo"], volume)
    assert scene.GetNumberOfNodes() == n_nodes


def test_mask_from_segment_on_another_geometry_and_transform(scene):
    # segment drawn on a fine grid (0.5 mm), read back on a coarse volume (1 mm, other origin)
    fine_geo = _geometry((0.5, 0.5, 2.0), (0.0, 0.0, 0.0))
    fine = add_volume_from_array(scene, np.zeros((5, 60, 60), np.float32), fine_geo, "fine")
    low, high = (5.1, 7.1, -1.0), (14.9, 20.9, 9.0)  # box edges fall between centres of both grids
    fine_mask = _box_mask(_centres((5, 60, 60), fine_geo), low, high)
    node, ids = _segmentation_with(scene, fine, {"roi": fine_mask})
    coarse_geo = _geometry((1.0, 1.0, 2.0), (0.5, 0.5, 0.0))
    coarse = add_volume_from_array(scene, np.zeros((5, 30, 30), np.float32), coarse_geo, "coarse")
    expected = _box_mask(_centres((5, 30, 30), coarse_geo), low, high)
    assert np.array_equal(ms.mask_from_segment(node, ids["roi"], coarse), expected)

    # a parent transform on the segmentation moves the segment in world space (+3 mm R, -2 mm A)
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "shift")
    matrix = vtk.vtkMatrix4x4()
    matrix.SetElement(0, 3, 3.0)
    matrix.SetElement(1, 3, -2.0)
    transform.SetMatrixTransformToParent(matrix)
    node.SetAndObserveTransformNodeID(transform.GetID())
    shifted = _box_mask(_centres((5, 30, 30), coarse_geo), (8.1, 5.1, -1.0), (17.9, 18.9, 9.0))
    assert np.array_equal(ms.mask_from_segment(node, ids["roi"], coarse), shifted)


def test_mask_from_segment_errors_leave_segmentation_unchanged(scene):
    geo = _geometry((1.0, 1.0, 1.0))
    volume = add_volume_from_array(scene, np.zeros((2, 10, 10), np.float32), geo, "vol")
    mask = np.zeros((2, 10, 10), bool)
    mask[0, 2:4, 2:4] = True
    node, ids = _segmentation_with(scene, volume, {"myo": mask})
    before = _snapshot(node, volume)
    with pytest.raises(ValueError, match="no segment"):
        ms.mask_from_segment(node, "nope", volume)
    empty_id = node.GetSegmentation().AddEmptySegment("", "empty", [0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="empty"):
        ms.mask_from_segment(node, empty_id, volume)
    node.GetSegmentation().RemoveSegment(empty_id)
    far = add_volume_from_array(scene, np.zeros((2, 10, 10), np.float32), _geometry((1, 1, 1), (500, 500, 500)), "far")
    with pytest.raises(ValueError, match="another geometry"):
        ms.mask_from_segment(node, ids["myo"], far)
    _assert_same(before, _snapshot(node, volume))


def test_mask_from_markups_roi_axis_aligned_and_rotated(scene):
    geo = _geometry((1.0, 1.0, 3.0), (-10.0, -10.0, 0.0))
    shape = (4, 21, 21)
    volume = add_volume_from_array(scene, np.zeros(shape, np.float32), geo, "vol")
    roi = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "box")
    roi.SetCenter(0.5, 0.5, 4.5)
    roi.SetSize(6.0, 4.0, 3.0)  # R 0.5±3 -> centres -2..3, A 0.5±2 -> -1..2, S 3..6 -> k=1,2
    expected = _box_mask(_centres(shape, geo), (-2.5, -1.5, 3.0), (3.5, 2.5, 6.0))
    mask = ms.mask_from_markups_roi(roi, volume)
    assert np.array_equal(mask, expected)
    assert mask.sum() == 6 * 4 * 2

    # rotated ROI (30° about S) under a translated parent transform: compare with Slicer's own test
    rotation = vtk.vtkMatrix4x4()
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    for r, row in enumerate(((c, -s, 0), (s, c, 0), (0, 0, 1))):
        for col, value in enumerate(row):
            rotation.SetElement(r, col, value)
    roi.SetAndObserveObjectToNodeMatrix(rotation)
    roi.SetSize(9.3, 5.3, 7.1)
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "shift")
    shift = vtk.vtkMatrix4x4()
    shift.SetElement(0, 3, 1.7)
    transform.SetMatrixTransformToParent(shift)
    roi.SetAndObserveTransformNodeID(transform.GetID())
    mask = ms.mask_from_markups_roi(roi, volume)
    points = ms.voxel_centres_world(volume).reshape(-1, 3)
    reference = np.array([roi.IsPointInROIWorld(list(p)) for p in points]).reshape(shape)
    assert mask.sum() > 20
    assert np.array_equal(mask, reference)


def test_mask_from_markups_roi_errors(scene):
    volume = add_volume_from_array(scene, np.zeros((2, 8, 8), np.float32), _geometry((1, 1, 1)), "vol")
    roi = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "far")
    roi.SetCenter(100.0, 100.0, 100.0)
    roi.SetSize(5.0, 5.0, 5.0)
    with pytest.raises(ValueError, match="no voxel centre"):
        ms.mask_from_markups_roi(roi, volume)
    unplaced = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "unplaced")
    with pytest.raises(ValueError, match="not placed"):
        ms.mask_from_markups_roi(unplaced, volume)


def test_add_lge_segment_keeps_myocardium_and_replaces_only_when_asked(scene):
    shape = (2, 16, 16)
    geo = _geometry((1.5, 1.5, 8.0), (-12.0, -12.0, 0.0))
    volume = add_volume_from_array(scene, np.zeros(shape, np.float32), geo, "vol")
    myo = np.zeros(shape, bool)
    myo[:, 3:13, 3:13] = True
    myo[:, 6:10, 6:10] = False
    node, ids = _segmentation_with(scene, volume, {"Myocardium": myo})
    scar = myo & (np.indices(shape)[2] >= 10)

    lge_id = ms.add_lge_segment(node, scar, volume)
    assert node.GetSegmentation().GetNumberOfSegments() == 2
    assert node.GetSegmentation().GetSegment(lge_id).GetName() == "LGE"
    assert np.array_equal(ms.mask_from_segment(node, lge_id, volume), scar)
    assert np.array_equal(ms.mask_from_segment(node, ids["Myocardium"], volume), myo)

    second = ms.add_lge_segment(node, scar & (np.indices(shape)[0] == 0), volume)
    assert second != lge_id and node.GetSegmentation().GetSegment(second).GetName() == "LGE (2)"
    smaller = scar & (np.indices(shape)[1] < 8)
    replaced = ms.add_lge_segment(node, smaller, volume, replace=True)
    assert replaced == lge_id and node.GetSegmentation().GetNumberOfSegments() == 3
    assert np.array_equal(ms.mask_from_segment(node, lge_id, volume), smaller)
    assert np.array_equal(ms.mask_from_segment(node, ids["Myocardium"], volume), myo)


def test_add_lge_segment_bad_input_leaves_segmentation_unchanged(scene):
    shape = (2, 10, 10)
    volume = add_volume_from_array(scene, np.zeros(shape, np.float32), _geometry((1, 1, 1)), "vol")
    myo = np.zeros(shape, bool)
    myo[:, 2:8, 2:8] = True
    node, _ = _segmentation_with(scene, volume, {"Myocardium": myo})
    before = _snapshot(node, volume)
    with pytest.raises(ValueError, match="another geometry"):
        ms.add_lge_segment(node, np.ones((2, 10, 11), bool), volume)
    with pytest.raises(ValueError, match="boolean"):
        ms.add_lge_segment(node, np.full(shape, 2), volume)
    with pytest.raises(ValueError, match="segmentation node"):
        ms.add_lge_segment(volume, myo, volume)
    _assert_same(before, _snapshot(node, volume))


def test_add_lge_segment_with_transformed_segmentation_round_trips(scene):
    shape = (2, 12, 12)
    geo = _geometry((1.0, 1.0, 4.0), (-6.0, -6.0, 0.0))
    volume = add_volume_from_array(scene, np.zeros(shape, np.float32), geo, "vol")
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Seg")
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "t")
    matrix = vtk.vtkMatrix4x4()
    matrix.SetElement(1, 3, 10.0)
    transform.SetMatrixTransformToParent(matrix)
    node.SetAndObserveTransformNodeID(transform.GetID())
    scar = np.zeros(shape, bool)
    scar[1, 3:6, 7:10] = True
    segment_id = ms.add_lge_segment(node, scar, volume)
    assert np.array_equal(ms.mask_from_segment(node, segment_id, volume), scar)


def test_roi_statistics_for_segments_exact(scene):
    shape = (2, 10, 10)
    array = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    volume = add_volume_from_array(scene, array, _geometry((0.5, 0.5, 4.0)), "vol")
    a = np.zeros(shape, bool)
    a[0, 1:3, 1:4] = True
    b = np.zeros(shape, bool)
    b[1, 5:9, 5] = True
    node, ids = _segmentation_with(scene, volume, {"blood": a, "remote": b})
    stats = ms.roi_statistics_for_segments(volume, node, [ids["blood"], ids["remote"]])
    assert [s.name for s in stats] == ["blood", "remote"]
    for s, m in zip(stats, (a, b), strict=True):
        values = array[m].astype(float)
        assert s.voxel_count == m.sum()
        assert s.mean == pytest.approx(values.mean())
        assert s.sd == pytest.approx(values.std(ddof=1))
        assert s.volume_ml == pytest.approx(m.sum() * 1.0 / 1000.0)
    roi = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "box")
    roi.SetCenter(1.0, 1.0, 0.0)
    roi.SetSize(1.1, 1.1, 1.0)
    box = ms.roi_statistics_for_markups_roi(volume, roi)
    assert box.voxel_count == 9 and box.mean == pytest.approx(array[0, 1:4, 1:4].mean())


def test_lge_scenario_on_mrml_nodes(scene):
    """The module self-test scenario: phantom volume + myocardium segment -> LGE segment and %LV."""
    phantom = make_lge_ring_phantom((3, 64, 64), (1.5, 1.5, 10.0), 0.25, 12.0, np.random.default_rng(3))
    volume = add_volume_from_array(scene, phantom.image, phantom.ijk_to_ras, "LGE phantom")
    node, ids = _segmentation_with(scene, volume, {"Myocardium": phantom.myocardium_mask,
                                                   "Remote": phantom.remote_mask})
    myo = ms.mask_from_segment(node, ids["Myocardium"], volume)
    remote = ms.mask_from_segment(node, ids["Remote"], volume)
    result = segment_lge(phantom.image, myo, phantom.spacing_mm, remote_mask=remote)
    assert result.lge_percent_of_lv == pytest.approx(phantom.scar_percent_truth, abs=1.0)
    lge_id = ms.add_lge_segment(node, result.scar_mask, volume)
    assert np.array_equal(ms.mask_from_segment(node, lge_id, volume), result.scar_mask)
    assert np.array_equal(ms.mask_from_segment(node, ids["Myocardium"], volume), phantom.myocardium_mask)
    stats = ms.roi_statistics_for_segments(volume, node, [lge_id, ids["Remote"]])
    assert stats[0].mean > stats[1].mean + 5 * stats[1].sd


def test_volume_under_parent_transform(scene):
    """Segment drawn in world space; the reference volume sits under a translation (+4 mm A)."""
    world_geo = _geometry((1.0, 1.0, 2.0))
    drawn_on = add_volume_from_array(scene, np.zeros((3, 20, 20), np.float32), world_geo, "drawn")
    low, high = (4.5, 6.5, -1.0), (9.5, 12.5, 5.0)
    node, ids = _segmentation_with(scene, drawn_on, {"roi": _box_mask(_centres((3, 20, 20), world_geo), low, high)})
    moved = add_volume_from_array(scene, np.zeros((3, 20, 20), np.float32), world_geo, "moved")
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "t")
    matrix = vtk.vtkMatrix4x4()
    matrix.SetElement(1, 3, 4.0)
    transform.SetMatrixTransformToParent(matrix)
    moved.SetAndObserveTransformNodeID(transform.GetID())
    world_centres = _centres((3, 20, 20), world_geo) + np.array([0.0, 4.0, 0.0])
    expected = _box_mask(world_centres, low, high)
    assert np.array_equal(ms.mask_from_segment(node, ids["roi"], moved), expected)
    # and an LGE mask written on the moved volume lands at the moved voxels
    scar = np.zeros((3, 20, 20), bool)
    scar[1, 2:5, 3:6] = True
    lge_id = ms.add_lge_segment(node, scar, moved)
    assert np.array_equal(ms.mask_from_segment(node, lge_id, moved), scar)
    shifted = np.zeros_like(scar)
    shifted[1, 6:9, 3:6] = True  # 4 voxels (4 mm) further along j on the untransformed grid
    assert np.array_equal(ms.mask_from_segment(node, lge_id, drawn_on), shifted)


def test_run_lge_segmentation_on_nodes_and_errors_leave_segmentation_unchanged(scene):
    phantom = make_lge_ring_phantom((2, 64, 64), (1.5, 1.5, 10.0), 0.2, 10.0, np.random.default_rng(8))
    volume = add_volume_from_array(scene, phantom.image, phantom.ijk_to_ras, "LGE")
    node, ids = _segmentation_with(scene, volume, {"Myocardium": phantom.myocardium_mask,
                                                   "Scar truth": phantom.scar_mask_truth})
    before = _snapshot(node, volume)
    with pytest.raises(ValueError, match="inside the LGE"):
        ms.run_lge_segmentation(volume, node, ids["Myocardium"], remote_segment_id=ids["Scar truth"])
    with pytest.raises(ValueError, match="no segment"):
        ms.run_lge_segmentation(volume, node, "missing")
    with pytest.raises(ValueError, match="Unknown LGE method"):
        ms.run_lge_segmentation(volume, node, ids["Myocardium"], method="ewa")
    _assert_same(before, _snapshot(node, volume))
    roi = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "remote box")
    roi.SetCenter(0.0, -30.0, 5.0)  # the sector opposite the scar (scar centred at +A)
    roi.SetSize(12.0, 8.0, 30.0)
    result, lge_id = ms.run_lge_segmentation(volume, node, ids["Myocardium"], remote_roi_node=roi)
    assert result.remote_source == "user" and "outside the myocardium" in result.warnings[0]
    assert result.lge_percent_of_lv == pytest.approx(phantom.scar_percent_truth, abs=1.0)
    assert ms.volume_spacing_mm(volume) == pytest.approx((1.5, 1.5, 10.0))
    assert np.array_equal(ms.mask_from_segment(node, lge_id, volume), result.scar_mask)
    assert node.GetSegmentation().GetNumberOfSegments() == 3
