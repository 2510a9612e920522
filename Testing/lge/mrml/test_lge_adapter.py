"""The module's LGE step on real MRML nodes (slicer-core): LGE + remote segments, summary / per-slice /
AHA-segment tables, the bullseye image node, the RV insertion markups point (parent transforms), and bad
input or a failed write leaving the scene and the segmentation unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from LGEResolutionQALib.core.lge_quantification import LGEQuantSettings, quantify_lge
from LGEResolutionQALib.mrml import lge as mrml_lge
from LGEResolutionQALib.mrml import qa as mrml_qa
from LGEResolutionQALib.mrml.segments import mask_from_segment
from LGEResolutionQALib.scenarios import add_phantom_nodes
from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom


def _phantom():
    return make_lge_ring_phantom((4, 100, 100), (1.0, 1.0, 8.0), 0.2, 20.0, np.random.default_rng(0))


def _rv_world(phantom):
    centre = (phantom.ijk_to_ras @ np.array([49.5, 49.5, 1, 1.0]))[:3]
    return centre + np.array([15.0, 26.0, 0.0])


def _point_node(scene, position, name="RV insertion"):
    node = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", name)
    node.AddControlPoint(*[float(v) for v in position])
    return node


def _segment_names(segmentation):
    s = segmentation.GetSegmentation()
    return [s.GetSegment(s.GetNthSegmentID(i)).GetName() for i in range(s.GetNumberOfSegments())]


def test_lge_with_rv_point_adds_segments_tables_and_bullseye(slicer_env):
    scene = slicer_env.scene
    phantom = _phantom()
    volume, segmentation, ids = add_phantom_nodes(scene, phantom)
    rv = _point_node(scene, _rv_world(phantom))
    outputs = mrml_qa.lge_segmentation(scene, volume, segmentation, ids["myocardium"], rv_insertion_node=rv,
                                       method="nsd")
    result, aha = outputs.results["lge"], outputs.results["aha"]
    direct = quantify_lge(phantom.image, phantom.ijk_to_ras, phantom.myocardium_mask,
                          LGEQuantSettings(method="nsd", rv_insertion_ras=_rv_world(phantom)))
    assert result.lge_percent_of_lv == pytest.approx(direct.lge.lge_percent_of_lv)
    assert np.array_equal(aha.segment_map, direct.aha.segment_map)
    assert _segment_names(segmentation)[-2:] == ["LGE", "LGE remote"]
    lge_mask = mask_from_segment(segmentation, outputs.results["segment_id"], volume)
    remote_mask = mask_from_segment(segmentation, outputs.results["remote_segment_id"], volume)
    assert np.array_equal(lge_mask, result.scar_mask) and np.array_equal(remote_mask, result.remote_mask)
    assert not (remote_mask & phantom.scar_mask_truth).any()
    assert outputs.tables["segments"].GetNumberOfRows() == 17 and outputs.tables["per_slice"].GetNumberOfRows() == 4
    table = outputs.tables["segments"].GetTable()
    columns = [table.GetColumnName(i) for i in range(table.GetNumberOfColumns())]
    assert {"segment", "name", "lge_percent", "transmurality_percent", "transmurality_class"} <= set(columns)
    image = outputs.results["bullseye_node"]
    assert image.IsA("vtkMRMLVectorVolumeNode") and image.GetImageData().GetNumberOfScalarComponents() == 3
    assert image.GetImageData().GetDimensions()[2] == 1 and image.GetImageData().GetDimensions()[0] > 300


def test_rv_point_under_a_parent_transform_is_taken_in_world_coordinates(slicer_env):
    scene = slicer_env.scene
    phantom = _phantom()
    volume, segmentation, ids = add_phantom_nodes(scene, phantom)
    world = _rv_world(phantom)
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    matrix = transform.GetMatrixTransformToParent()
    matrix.SetElement(0, 3, 40.0)
    transform.SetMatrixTransformToParent(matrix)
    rv = _point_node(scene, world - np.array([40.0, 0.0, 0.0]))
    rv.SetAndObserveTransformNodeID(transform.GetID())
    assert mrml_lge.point_from_markups(rv) == pytest.approx(tuple(world))
    moved = mrml_qa.lge_segmentation(scene, volume, segmentation, ids["myocardium"], rv_insertion_node=rv)
    plain = quantify_lge(phantom.image, phantom.ijk_to_ras, phantom.myocardium_mask,
                         LGEQuantSettings(rv_insertion_ras=world))
    assert np.array_equal(moved.results["aha"].segment_map, plain.aha.segment_map)


def test_without_rv_point_no_segment_table_but_lge_and_remote(slicer_env):
    scene = slicer_env.scene
    phantom = _phantom()
    volume, segmentation, ids = add_phantom_nodes(scene, phantom)
    outputs = mrml_qa.lge_segmentation(scene, volume, segmentation, ids["myocardium"])
    assert sorted(outputs.tables) == ["lge", "per_slice"] and outputs.results["bullseye_node"] is None
    assert outputs.results["lge"].method == "gmm-pool-per-slice"
    assert "LGE remote" in _segment_names(segmentation)


def test_bad_input_and_failed_writes_leave_the_scene_unchanged(slicer_env, monkeypatch):
    scene = slicer_env.scene
    phantom = _phantom()
    volume, segmentation, ids = add_phantom_nodes(scene, phantom)
    empty_point = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "no point")
    open_ring = phantom.myocardium_mask.copy()
    open_ring[2, 45:55, :] = False
    from LGEResolutionQALib.mrml.segments import add_lge_segment

    open_id = add_lge_segment(segmentation, open_ring, volume, name="open myocardium")
    rv = _point_node(scene, _rv_world(phantom))
    segments, nodes = _segment_names(segmentation), scene.GetNumberOfNodes()
    with pytest.raises(ValueError, match="has no placed point"):
        mrml_qa.lge_segmentation(scene, volume, segmentation, ids["myocardium"], rv_insertion_node=empty_point)
    with pytest.raises(ValueError, match="not a closed ring"):
        mrml_qa.lge_segmentation(scene, volume, segmentation, open_id, rv_insertion_node=rv)
    with pytest.raises(ValueError, match="Unknown LGE method"):
        mrml_qa.lge_segmentation(scene, volume, segmentation, ids["myocardium"], method="ewa")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(mrml_lge, "add_rgb_image", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        mrml_qa.lge_segmentation(scene, volume, segmentation, ids["myocardium"], rv_insertion_node=rv)
    assert _segment_names(segmentation) == segments
    assert scene.GetNumberOfNodes() == nodes
