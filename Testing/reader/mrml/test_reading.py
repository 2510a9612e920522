"""The MRML side of the blinded reading under slicer-core, on real nodes: one series at a time, named by
its case code only, window/level reset by one rule per series, shown in every slice view (in the
series' own plane) with the other layers cleared, other volumes left alone."""

from __future__ import annotations

import numpy as np
import pytest
from CardiacLGECommonLib.mrml.volumes import add_volume_from_array, array_from_volume
from LGEReaderStudyLib.mrml import reading
from LGEReaderStudyLib.scenarios import run_reading_scenario


def _views(scene, names=("Red", "Green", "Yellow")):
    import slicer

    composites = []
    for name in names:
        slice_node = slicer.vtkMRMLSliceNode()
        slice_node.SetName(f"Slice{name}")
        slice_node.SetLayoutName(name)
        slice_node.SetDefaultOrientation("Axial")
        slice_node.SetOrientationToAxial()
        scene.AddNode(slice_node)
        composite = slicer.vtkMRMLSliceCompositeNode()
        composite.SetLayoutName(name)
        scene.AddNode(composite)
        composites.append(composite)
    return composites


def _oblique(angle_deg=30.0, spacing=(1.5, 1.5, 8.0)):
    a = np.deg2rad(angle_deg)
    rotation = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])  # about R: oblique
    matrix = np.eye(4)
    matrix[:3, :3] = rotation @ np.diag(spacing)
    return matrix


def test_show_case_is_the_only_reading_volume_named_by_its_code(slicer_env):
    scene = slicer_env.scene
    composites = _views(scene)
    other = add_volume_from_array(scene, np.ones((1, 4, 4), np.float32), np.eye(4), "HR-PSIR patient Smith")
    for composite in composites:
        composite.SetForegroundVolumeID(other.GetID())
        composite.SetLabelVolumeID(other.GetID())
    rng = np.random.default_rng(0)
    first_array = rng.normal(100, 10, (3, 20, 20)).astype(np.float32)
    first = reading.show_case(scene, first_array, _oblique(), "C007")
    first_display = first.GetDisplayNode().GetID()
    assert first.GetName() == "Case C007" and first.GetAttribute(reading.READING_ATTRIBUTE) == "C007"
    assert not first.GetDescription()
    assert set(first.GetAttributeNames() or ()) == {reading.READING_ATTRIBUTE}
    np.testing.assert_array_equal(array_from_volume(first), first_array)
    for composite in composites:
        assert composite.GetBackgroundVolumeID() == first.GetID()
        assert composite.GetForegroundVolumeID() is None and composite.GetLabelVolumeID() is None
    selection = scene.GetFirstNodeByClass("vtkMRMLSelectionNode")
    assert selection.GetActiveVolumeID() == first.GetID()
    # Every view is turned into the plane of the (oblique) series: the slice normal is the volume's k axis.
    k_axis = _oblique()[:3, 2] / np.linalg.norm(_oblique()[:3, 2])
    red = next(scene.GetNthNodeByClass(i, "vtkMRMLSliceNode") for i in range(3)
               if scene.GetNthNodeByClass(i, "vtkMRMLSliceNode").GetLayoutName() == "Red")
    normal = np.array([red.GetSliceToRAS().GetElement(r, 2) for r in range(3)])
    assert abs(abs(float(normal @ k_axis)) - 1.0) < 1e-6

    # The reader changes the window on this series; the next series starts from the rule again.
    first.GetDisplayNode().SetWindowLevel(5.0, 300.0)
    second_array = rng.normal(1000, 50, (3, 20, 20)).astype(np.float32)
    second = reading.show_case(scene, second_array, np.diag([0.625, 0.625, 8.0, 1.0]), "C002")
    assert reading.reading_volumes(scene) == [second]
    assert scene.GetNodeByID(first_display) is None  # display node of the previous series removed too
    window, level = reading.window_level_for(second_array)
    low, high = np.percentile(second_array, reading.WINDOW_PERCENTILES)
    assert (window, level) == pytest.approx((high - low, (high + low) / 2))
    display = second.GetDisplayNode()
    assert display.GetAutoWindowLevel() == 0
    assert (display.GetWindow(), display.GetLevel()) == pytest.approx((window, level), rel=1e-6)
    # The unrelated volume is still there, untouched, but out of the views.
    assert scene.IsNodePresent(other) and other.GetName() == "HR-PSIR patient Smith"
    assert reading.other_volumes(scene) == [other]
    assert all(c.GetForegroundVolumeID() is None for c in composites)


def test_bad_series_is_refused_before_the_scene_changes(slicer_env):
    scene = slicer_env.scene
    shown = reading.show_case(scene, np.ones((1, 8, 8), np.float32), np.eye(4), "C001")
    before = scene.GetNumberOfNodes()
    bad = np.ones((1, 8, 8), np.float32)
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="case C002 contains NaN"):
        reading.show_case(scene, bad, np.eye(4), "C002")
    assert scene.GetNumberOfNodes() == before and reading.reading_volumes(scene) == [shown]
    with pytest.raises(ValueError, match="case code"):
        reading.show_case(scene, np.ones((1, 8, 8)), np.eye(4), " ")


def test_reading_layout_uses_one_slice_view(slicer_env):
    import slicer

    scene = slicer_env.scene
    assert reading.set_reading_layout(scene) is False  # slicer-core scene without a layout node
    layout = slicer.vtkMRMLLayoutNode()
    scene.AddNode(layout)
    assert reading.set_reading_layout(scene) is True
    assert layout.GetViewArrangement() == slicer.vtkMRMLLayoutNode.SlicerLayoutOneUpRedSliceView


def test_reading_scenario_blinds_scores_and_resumes(slicer_env, tmp_path):
    result = run_reading_scenario(slicer_env.scene, tmp_path)
    assert result["reading_volumes"] == 1
    assert result["first_name"] == f"Case {result['first_case']}"
    assert result["node_name"] == f"Case {result['second_case']}"
    for text in result["node_texts"]:
        for word in result["hidden_words"]:
            assert word not in text
    assert result["resumed_index"] == 1 and result["progress"] == (1, 4)
    assert not result["auto_window_level"]
    # The series shown is the blinded copy of that case.
    session = result["session"]
    assert session.series_path(result["second_case"]).name == f"{result['second_case']}.nrrd"
