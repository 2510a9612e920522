"""TINullCorrection MRML adapter on real MRML nodes (slicer-core): sequence <-> TIScout, results
table/plot/text, ROI masks, per-frame overlay; bad input leaves the scene unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import slicer
import vtk
from CardiacLGECommonLib.mrml.volumes import add_volume_from_array, set_volume_array
from TINullCorrectionLib.core import presentation
from TINullCorrectionLib.core.types import ScoutError, ScoutPrediction, TIScout
from TINullCorrectionLib.mrml import overlay as mrml_overlay
from TINullCorrectionLib.mrml import results as mrml_results
from TINullCorrectionLib.mrml import roi as mrml_roi
from TINullCorrectionLib.mrml import sequence as mrml_sequence


def _oblique_matrix(spacing=(1.4, 1.6, 8.0), origin=(-20.0, 35.0, 12.5)) -> np.ndarray:
    angle = np.deg2rad(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    tilt = np.array([[1, 0, 0], [0, np.cos(0.3), -np.sin(0.3)], [0, np.sin(0.3), np.cos(0.3)]])
    matrix = np.eye(4)
    matrix[:3, :3] = tilt @ rotation @ np.diag(spacing)
    matrix[:3, 3] = origin
    return matrix


def _scout(n=8, height=12, width=16, ti0=100.0, step=40.0, **kw) -> TIScout:
    rng = np.random.default_rng(1)
    frames = rng.uniform(0, 100, (n, height, width)).astype(np.float32)
    return TIScout(
        frames=frames,
        ti_ms=ti0 + step * np.arange(n),
        pixel_spacing_mm=(1.6, 1.4),
        slice_thickness_mm=8.0,
        ijk_to_ras=_oblique_matrix(),
        ti_source="TriggerTime (0018,1060)",
        phase_sensitive=kw.pop("phase_sensitive", False),
        vendor="Philips",
        series_description="LL test",
        slice_label="slice 0",
        tr_ms=kw.pop("tr_ms", None),
        warnings=kw.pop("warnings", ()),
        **kw,
    )


def _prediction(scout: TIScout, null_ms: float = 230.0) -> ScoutPrediction:
    bins = np.arange(-100.0, 101.0, 20.0)
    offsets = np.clip(scout.ti_ms - null_ms, -100, 100)
    probabilities = np.zeros((scout.n_frames, bins.size))
    for n, offset in enumerate(offsets):
        probabilities[n, int(np.argmin(np.abs(bins - offset)))] = 0.9
        probabilities[n] += 0.1 / bins.size
    return ScoutPrediction(
        ti_ms=scout.ti_ms,
        offset_ms=offsets,
        probabilities=probabilities,
        bin_centers_ms=bins,
        class_names=tuple(f"{b:+.0f}ms" for b in bins),
        confidence=np.full(scout.n_frames, 0.8),
        model_name="test-model",
    )


def _count(scene) -> int:
    return scene.GetNumberOfNodes()


# ------------------------------------------------------------------------------------------- sequence
def test_sequence_round_trip_keeps_frames_ti_geometry_and_metadata(slicer_env):
    scene = slicer_env.scene
    scout = _scout(tr_ms=np.full(8, 1000.0), warnings=("assembled from 8 series",), phase_sensitive=True)
    sequence, browser, proxy = mrml_sequence.sequence_from_scout(scene, scout, "LL test slice 0")
    assert sequence.GetIndexName() == "inversion time"
    assert sequence.GetIndexUnit() == "ms"
    assert sequence.GetIndexType() == slicer.vtkMRMLSequenceNode.NumericIndex
    assert [float(sequence.GetNthIndexValue(i)) for i in range(8)] == list(scout.ti_ms)
    assert sequence.GetAttribute(mrml_sequence.TI_SOURCE_ATTRIBUTE) == "TriggerTime (0018,1060)"
    assert sequence.GetAttribute(mrml_sequence.VENDOR_ATTRIBUTE) == "Philips"
    assert sequence.GetAttribute(mrml_sequence.PHASE_SENSITIVE_ATTRIBUTE) == "1"
    assert browser.GetMasterSequenceNode() is sequence
    assert proxy is not None and proxy.IsA("vtkMRMLScalarVolumeNode")
    assert mrml_sequence.browser_for_sequence(scene, sequence) is browser
    # The proxy shows a frame with the scout geometry.
    matrix = vtk.vtkMatrix4x4()
    proxy.GetIJKToRASMatrix(matrix)
    np.testing.assert_allclose([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)], scout.ijk_to_ras, atol=1e-9)
    back = mrml_sequence.scout_from_sequence(sequence)
    np.testing.assert_array_equal(back.frames, scout.frames)
    np.testing.assert_array_equal(back.ti_ms, scout.ti_ms)
    np.testing.assert_allclose(back.ijk_to_ras, scout.ijk_to_ras, atol=1e-9)
    assert back.pixel_spacing_mm == pytest.approx(scout.pixel_spacing_mm)
    assert back.slice_thickness_mm == pytest.approx(8.0)
    assert back.phase_sensitive and back.vendor == "Philips" and back.ti_source == scout.ti_source
    np.testing.assert_array_equal(back.tr_ms, scout.tr_ms)
    assert back.warnings == scout.warnings
    assert mrml_sequence.scout_from_browser(browser).n_frames == 8
    assert mrml_sequence.scout_from_node(browser).n_frames == 8


def test_frame_number_index_keeps_ti_per_frame(slicer_env):
    scene = slicer_env.scene
    scout = _scout()
    sequence, _, _ = mrml_sequence.sequence_from_scout(scene, scout, "by frame", index_by="frame")
    assert sequence.GetIndexName() == "frame" and sequence.GetIndexUnit() == ""
    assert [sequence.GetNthIndexValue(i) for i in range(3)] == ["0", "1", "2"]
    back = mrml_sequence.scout_from_sequence(sequence)
    np.testing.assert_array_equal(back.ti_ms, scout.ti_ms)


def test_sub_resolution_ti_differences_fall_back_to_frame_index(slicer_env):
    scene = slicer_env.scene
    base = _scout(n=4)
    scout = TIScout(frames=base.frames, ti_ms=np.array([100.0, 100.0000001, 150.0, 200.0]), ijk_to_ras=base.ijk_to_ras)
    sequence, _, _ = mrml_sequence.sequence_from_scout(scene, scout, "close TIs")
    assert sequence.GetIndexName() == "frame"
    np.testing.assert_allclose(mrml_sequence.scout_from_sequence(sequence).ti_ms, scout.ti_ms)


def _user_sequence(scene, index_name, unit, values, frames=None, slices=1, attribute=None, text_index=False):
    sequence = scene.AddNewNodeByClass("vtkMRMLSequenceNode", "user sequence")
    if text_index:  # items keep insertion order (a numeric index sorts them)
        sequence.SetIndexType(slicer.vtkMRMLSequenceNode.TextIndex)
    sequence.SetIndexName(index_name)
    sequence.SetIndexUnit(unit)
    volume = slicer.vtkMRMLScalarVolumeNode()
    for n, value in enumerate(values):
        array = np.full((slices, 6, 7), float(n), np.float32) if frames is None else frames[n]
        set_volume_array(volume, array, np.diag([1.5, 1.5, 8.0, 1.0]))
        if attribute is not None:
            volume.SetAttribute(mrml_sequence.FRAME_TI_ATTRIBUTE, str(attribute[n]))
        sequence.SetDataNodeAtValue(volume, str(value))
    return sequence


def test_any_user_sequence_indexed_by_ti_in_seconds_or_trigger_time_is_read(scene):
    seconds = _user_sequence(scene, "InversionTime", "s", [0.3, 0.1, 0.2])
    scout = mrml_sequence.scout_from_sequence(seconds)
    np.testing.assert_allclose(scout.ti_ms, [100, 200, 300])
    assert scout.frames[:, 0, 0].tolist() == [1.0, 2.0, 0.0]  # frames follow their TI when sorted
    trigger = _user_sequence(scene, "TriggerTime", "ms", [63, 145, 227])
    scout = mrml_sequence.scout_from_sequence(trigger)
    assert "trigger time taken as TI" in scout.ti_source


def test_multi_slice_items_need_a_slice_choice(scene):
    sequence = _user_sequence(scene, "inversion time", "ms", [100, 200, 300], slices=3)
    with pytest.raises(ScoutError, match="3 slices"):
        mrml_sequence.scout_from_sequence(sequence)
    scout = mrml_sequence.scout_from_sequence(sequence, slice_index=2)
    assert scout.frames.shape == (3, 6, 7)
    assert scout.ijk_to_ras[2, 3] == pytest.approx(16.0)  # origin moved to slice 2 (k spacing 8 mm)
    assert mrml_sequence.number_of_slices(sequence) == 3
    with pytest.raises(ScoutError, match="outside"):
        mrml_sequence.scout_from_sequence(sequence, slice_index=3)


def test_sequence_without_ti_is_rejected_with_a_clear_message(scene):
    cine = _user_sequence(scene, "time", "s", [0.0, 0.04, 0.08])
    before = _count(scene)
    with pytest.raises(ScoutError, match="not a TI scout: its index is 'time'"):
        mrml_sequence.scout_from_sequence(cine)
    no_unit = _user_sequence(scene, "inversion time", "", [100, 200, 300])
    with pytest.raises(ScoutError, match="unit 'none'"):
        mrml_sequence.scout_from_sequence(no_unit)
    duplicate = _user_sequence(scene, "frame", "", [0, 1, 2], attribute=[100, 100, 200])
    with pytest.raises(ScoutError, match="Duplicate inversion times"):
        mrml_sequence.scout_from_sequence(duplicate)
    empty = scene.AddNewNodeByClass("vtkMRMLSequenceNode", "empty")
    with pytest.raises(ScoutError, match="empty"):
        mrml_sequence.scout_from_sequence(empty)
    before = _count(scene)
    volume = add_volume_from_array(scene, np.zeros((1, 5, 5), np.float32), np.eye(4), "LGE image")
    before = _count(scene)
    with pytest.raises(ScoutError, match="single image, not a TI scout"):
        mrml_sequence.scout_from_node(volume)
    with pytest.raises(ScoutError, match="Select the TI scout"):
        mrml_sequence.scout_from_node(None)
    assert _count(scene) == before


def test_frames_of_different_geometry_are_rejected(scene):
    frames = [np.zeros((1, 6, 7), np.float32), np.zeros((1, 6, 8), np.float32), np.zeros((1, 6, 7), np.float32)]
    sequence = _user_sequence(scene, "inversion time", "ms", [100, 200, 300], frames=frames)
    with pytest.raises(ScoutError, match="differ in size"):
        mrml_sequence.scout_from_sequence(sequence)


def test_multivolume_node_is_read(scene):
    node = scene.AddNewNodeByClass("vtkMRMLVectorVolumeNode", "multivolume")
    image = vtk.vtkImageData()
    image.SetDimensions(7, 6, 1)
    image.AllocateScalars(vtk.VTK_FLOAT, 4)
    from vtk.util import numpy_support

    data = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())
    data[:] = np.arange(4)[np.newaxis, :]
    node.SetAndObserveImageData(image)
    node.SetAttribute("MultiVolume.FrameLabels", "300,100,200,400")
    node.SetAttribute("MultiVolume.FrameIdentifyingDICOMTagName", "InversionTime")
    node.SetAttribute("MultiVolume.FrameIdentifyingDICOMTagUnits", "ms")
    scout = mrml_sequence.scout_from_node(node)
    np.testing.assert_array_equal(scout.ti_ms, [100, 200, 300, 400])
    assert scout.frames[:, 0, 0].tolist() == [1.0, 2.0, 0.0, 3.0]
    node.SetAttribute("MultiVolume.FrameIdentifyingDICOMTagName", "EchoTime")
    with pytest.raises(ScoutError, match="not by inversion time"):
        mrml_sequence.scout_from_multivolume(node)


def test_failed_sequence_creation_leaves_scene_unchanged(scene):
    before = _count(scene)
    with pytest.raises(ScoutError):
        mrml_sequence.sequence_from_scout(scene, "not a scout", "x")
    with pytest.raises(ValueError):
        mrml_sequence.sequence_from_scout(scene, _scout(), "x", index_by="banana")
    assert _count(scene) == before


def test_item_to_frame_mapping_follows_ti(scene):
    sequence = _user_sequence(scene, "inversion time", "ms", [300, 100, 200], text_index=True)
    assert [sequence.GetNthIndexValue(i) for i in range(3)] == ["300", "100", "200"]
    scout = mrml_sequence.scout_from_sequence(sequence)
    assert scout.frames[:, 0, 0].tolist() == [1.0, 2.0, 0.0]
    assert [mrml_sequence.frame_index_for_item(scout.ti_ms, sequence, i) for i in range(3)] == [2, 0, 1]
    assert mrml_sequence.frame_index_for_item(scout.ti_ms, sequence, 7) is None
    assert mrml_sequence.item_number_for_ti(sequence, 190) == 2


# -------------------------------------------------------------------------------------------- results
def test_prediction_table_has_one_row_per_frame_with_units(scene):
    scout = _scout()
    prediction = _prediction(scout)
    table = mrml_results.write_prediction_table(scene, prediction, "predictions", optimal_range_ms=(-10, 20))
    assert table.GetNumberOfRows() == scout.n_frames
    names = [table.GetColumnName(i) for i in range(table.GetNumberOfColumns())]
    for column in ("frame", "ti_ms", "predicted_offset_ms", "corrected_ti_ms", "confidence", "in_optimal_range"):
        assert column in names
    assert sum(name.startswith("p_") for name in names) == prediction.bin_centers_ms.size
    np.testing.assert_allclose(mrml_results.table_column(table, "ti_ms"), scout.ti_ms)
    np.testing.assert_allclose(mrml_results.table_column(table, "corrected_ti_ms"), prediction.corrected_ti_ms)
    in_range = mrml_results.table_column(table, "in_optimal_range")
    np.testing.assert_array_equal(in_range, [(-10 <= o <= 20) for o in prediction.offset_ms])
    assert table.GetColumnUnitLabel("ti_ms") == "ms"
    # Re-writing into the same node replaces its content, no new node.
    before = _count(scene)
    again = mrml_results.write_prediction_table(scene, prediction, table_node=table, optimal_range_ms=(0, 40))
    assert again is table and _count(scene) == before
    assert table.GetNumberOfRows() == scout.n_frames


def test_plot_and_text_nodes(scene):
    scout = _scout()
    prediction = _prediction(scout)
    table = mrml_results.write_prediction_table(scene, prediction)
    chart = mrml_results.write_prediction_plot(scene, table)
    assert chart.GetNumberOfPlotSeriesNodes() == 2
    series = [chart.GetNthPlotSeriesNode(i) for i in range(2)]
    assert {s.GetXColumnName() for s in series} == {"ti_ms"}
    assert {s.GetYColumnName() for s in series} == {"predicted_offset_ms", "confidence_percent"}
    assert all(s.GetTableNode() is table for s in series)
    before = _count(scene)
    assert mrml_results.write_prediction_plot(scene, table, chart_node=chart) is chart
    assert _count(scene) == before
    with pytest.raises(ValueError):
        mrml_results.write_prediction_plot(scene, None)
    assert _count(scene) == before

    report = "== slice 0 (8 frames)\nnull TI 231 +/- 6 ms"
    text = mrml_results.write_report_text(scene, report, "TI recommendation")
    assert text.GetText() == report
    before = _count(scene)
    assert mrml_results.write_report_text(scene, "again", text_node=text) is text and text.GetText() == "again"
    assert _count(scene) == before


def test_report_text_is_the_cli_report(scene):
    """The text node holds exactly what `ti-correct` prints (one report function for both)."""
    from TINullCorrectionLib.core.pipeline import analyse_study
    from TINullCorrectionLib.mrml import analysis as mrml_analysis

    scout = _scout()
    study = analyse_study([scout], _OracleModel(230.0), chosen_ti_ms=200.0)
    outputs = mrml_analysis.write_study_nodes(scene, study, [scout], ["LL"])
    assert outputs.text_node.GetText() == presentation.study_report_text(study, frames=False)
    summary = outputs.text_node.GetText()
    null = study.slices[0].null_ti_ms
    assert abs(null - 230.0) <= 10.0  # the oracle's 20 ms bins
    assert f"null TI {null:.0f} +/- " in summary and f"recommended LGE TI {null + 5.0:.0f} ms" in summary
    assert "your TI 200 ms: too early" in summary and f"change to {null + 5.0:.0f} ms" in summary
    assert "LL test" not in summary and "Patient" not in summary  # no series description, no patient data


class _OracleModel:
    """Predicts every frame's offset from a known null exactly (for adapter plumbing)."""

    name = "oracle"

    def __init__(self, null_ms: float):
        self.null_ms = null_ms

    def predict(self, scout, progress=None):
        return _prediction(scout, self.null_ms)


# ------------------------------------------------------------------------------------------------ ROI
def test_mask_from_segment_drawn_on_the_proxy(slicer_env):
    scene = slicer_env.scene
    scout = _scout()
    _, _, proxy = mrml_sequence.sequence_from_scout(scene, scout, "scout")
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "ROI")
    segmentation.SetReferenceImageGeometryParameterFromVolumeNode(proxy)
    expected = np.zeros(scout.frames.shape[1:], dtype=bool)
    expected[3:7, 4:10] = True
    segment_id = segmentation.GetSegmentation().AddEmptySegment("", "myocardium")
    slicer.util.updateSegmentBinaryLabelmapFromArray(expected[np.newaxis].astype(np.uint8), segmentation, segment_id, proxy)
    blood = np.zeros_like(expected)
    blood[8:11, 2:6] = True
    blood_id = segmentation.GetSegmentation().AddEmptySegment("", "blood")
    slicer.util.updateSegmentBinaryLabelmapFromArray(blood[np.newaxis].astype(np.uint8), segmentation, blood_id, proxy)
    mask = mrml_roi.mask_from_roi_for_scout(scout, segmentation)  # picks 'myocardium' by name
    np.testing.assert_array_equal(mrml_roi.mask_from_roi_for_scout(scout, segmentation, blood_id), blood)
    np.testing.assert_array_equal(mask, expected)
    np.testing.assert_array_equal(mrml_roi.mask_from_roi_for_scout(scout, segmentation, segment_id), expected)
    with pytest.raises(ScoutError, match="no segment 'nope'"):
        mrml_roi.mask_from_roi_for_scout(scout, segmentation, "nope")


def test_mask_from_markups_roi_and_roi_outside(scene):
    scout = _scout()
    roi = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "box")
    centre_ijk = np.array([8.0, 6.0, 0.0, 1.0])
    centre = (scout.ijk_to_ras @ centre_ijk)[:3]
    roi.SetCenterWorld(*centre)
    # Align the box with the scout axes so the expected mask is a rectangle of pixels.
    axes = scout.ijk_to_ras[:3, :3] / np.linalg.norm(scout.ijk_to_ras[:3, :3], axis=0)
    to_world = vtk.vtkMatrix4x4()
    for r in range(3):
        for c in range(3):
            to_world.SetElement(r, c, axes[r, c])
        to_world.SetElement(r, 3, centre[r])
    roi.SetAndObserveObjectToNodeMatrix(to_world)
    roi.SetSize(1.4 * 4.5, 1.6 * 2.5, 2.0)  # +/- 2 columns, +/- 1 row around the centre
    mask = mrml_roi.mask_from_roi_for_scout(scout, roi)
    rows, cols = np.nonzero(mask)
    assert set(rows) == {5, 6, 7} and set(cols) == {6, 7, 8, 9, 10}
    before = _count(scene)
    far = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "far box")
    far.SetCenterWorld(500.0, 500.0, 500.0)
    far.SetSize(10, 10, 10)
    before = _count(scene)
    with pytest.raises(ScoutError, match="outside the TI scout slice"):
        mrml_roi.mask_from_roi_for_scout(scout, far)
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "not an roi")
    before = _count(scene)
    with pytest.raises(ScoutError, match="cannot be used as a myocardial ROI"):
        mrml_roi.mask_from_roi_for_scout(scout, volume)
    assert _count(scene) == before


def test_segment_on_another_slice_is_outside(slicer_env):
    scene = slicer_env.scene
    scout = _scout()
    shifted = scout.ijk_to_ras.copy()
    shifted[:3, 3] += 5 * scout.ijk_to_ras[:3, 2]  # 5 slice thicknesses away
    other = add_volume_from_array(scene, np.zeros((1, 12, 16), np.float32), shifted, "other slice")
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "elsewhere")
    segmentation.SetReferenceImageGeometryParameterFromVolumeNode(other)
    segment_id = segmentation.GetSegmentation().AddEmptySegment("", "myocardium")
    slicer.util.updateSegmentBinaryLabelmapFromArray(np.ones((1, 12, 16), np.uint8), segmentation, segment_id, other)
    before = _count(scene)
    with pytest.raises(ScoutError, match="does not overlap the TI scout slice"):
        mrml_roi.mask_from_roi_for_scout(scout, segmentation)
    assert _count(scene) == before


# -------------------------------------------------------------------------------------------- overlay
def test_frame_overlay_text_and_colour():
    scout = _scout(n=8, ti0=100, step=40)  # TIs 100..380, null 230 -> offsets -100(clipped)..+100(clipped)
    prediction = _prediction(scout, null_ms=230.0)
    text, colour = presentation.frame_overlay_text(prediction, 3, (-10, 20), 230.0)  # TI 220: offset -10 -> optimal
    assert "TI 220 ms" in text and "-10 ms from the null" in text and "CNN for this frame: -10.0 ms" in text
    assert "In the optimal range" in text and "series null 230 ms" in text
    assert colour == presentation.COLOUR_OPTIMAL
    text, colour = presentation.frame_overlay_text(prediction, 2, (-10, 20), 230.0)  # TI 180: offset -50 -> 40 ms early -> far
    assert colour == presentation.COLOUR_FAR and "too early" in text
    text, colour = presentation.frame_overlay_text(prediction, 5, (-10, 20), 230.0)  # TI 300: offset +70 -> 50 ms late -> far
    assert colour == presentation.COLOUR_FAR and "too late" in text
    # The verdict follows the series' final null (e.g. the IR fit), not the frame's own CNN offset.
    text, colour = presentation.frame_overlay_text(prediction, 3, (-10, 20), 260.0)  # TI 220: CNN -10 ms, but 40 ms before 260
    assert "-40 ms from the null" in text and "CNN for this frame: -10.0 ms" in text
    assert colour == presentation.COLOUR_FAR and "too early" in text
    text, _ = presentation.frame_overlay_text(prediction, 3)  # no null known: the CNN's own offset
    assert "predicted offset -10.0 ms" in text and "corrected TI 230 ms" in text
    _, colour = presentation.frame_overlay_text(prediction, 2, optimal_range_ms=(-40, 20))  # -50: 10 ms early
    assert colour == presentation.COLOUR_NEAR
    text, colour = presentation.frame_overlay_text(prediction, 99)
    assert "no prediction" in text and colour == presentation.NEUTRAL_COLOUR


def test_overlay_actor_per_renderer():
    renderers = [vtk.vtkRenderer(), vtk.vtkRenderer()]
    overlay = mrml_overlay.SliceViewTextOverlay()
    overlay.show(renderers, "TI 220 ms", (0.1, 0.8, 0.2))
    assert overlay.number_of_views == 2
    assert all(r.GetViewProps().GetNumberOfItems() == 1 for r in renderers)
    assert overlay.text() == "TI 220 ms" and overlay.colour() == pytest.approx((0.1, 0.8, 0.2))
    overlay.show(renderers, "TI 260 ms", (1.0, 0.7, 0.0))
    assert all(r.GetViewProps().GetNumberOfItems() == 1 for r in renderers)
    assert overlay.text() == "TI 260 ms"
    overlay.hide()
    assert overlay.text() == ""
    overlay.remove()
    assert all(r.GetViewProps().GetNumberOfItems() == 0 for r in renderers)


# ------------------------------------------------------------------------------ restore / panel / input
def test_overlay_restores_from_the_saved_table(scene):
    scout = _scout()
    prediction = _prediction(scout)
    table = mrml_results.write_prediction_table(scene, prediction, optimal_range_ms=(-10, 20))
    table.SetAttribute("TINullCorrection.NullTI_ms", "230.0")
    saved = mrml_results.saved_result_from_table(table)
    np.testing.assert_allclose(saved.prediction.offset_ms, prediction.offset_ms)
    np.testing.assert_allclose(saved.prediction.probabilities, prediction.probabilities)
    assert saved.optimal_range_ms == (-10.0, 20.0) and saved.null_ti_ms == 230.0
    original = presentation.frame_overlay_text(prediction, 3, (-10, 20), 230.0)
    assert presentation.saved_overlay_text(saved, 3) == original
    other = scene.AddNewNodeByClass("vtkMRMLTableNode", "other")
    with pytest.raises(ValueError, match="not a TI prediction table"):
        mrml_results.saved_result_from_table(other)


def test_panel_values_show_the_slice_or_its_combined_scout():
    from dataclasses import replace

    from TINullCorrectionLib.core.pipeline import analyse_study

    scout = _scout(warnings=("loaded from 2 series",))
    single = analyse_study([scout], _OracleModel(230.0), chosen_ti_ms=240.0)
    values = presentation.panel_values(single, 0)
    final = single.slices[0].final
    assert values.null_text == f"{final.null_ti_ms:.0f} ms (+/- {final.uncertainty_ms:.0f} ms, cnn: CNN alone)" and values.n_slices_combined == 1
    assert values.recommended_text == f"{final.null_ti_ms + 5.0:.0f} ms" and values.null_ti_ms == pytest.approx(final.null_ti_ms)
    assert values.verdict_text == "240 ms: optimal"
    assert values.warnings_text.startswith("- loaded from 2 series")
    # two slices of one scout: the panel shows their combination
    slices = [replace(scout, scout_key="k", slice_label="slice 0"), replace(scout, scout_key="k", slice_label="slice 1")]
    combined = analyse_study(slices, _OracleModel(230.0), chosen_ti_ms=240.0)
    values = presentation.panel_values(combined, 1)
    assert values.n_slices_combined == 2 and "2 slices combined" in values.null_text
    assert values.null_ti_ms == pytest.approx(combined.groups[0].combined.null_ti_ms)


def test_resolve_input_node_maps_proxy_and_sequence_to_the_browser(slicer_env):
    scene = slicer_env.scene
    sequence, browser, proxy = mrml_sequence.sequence_from_scout(scene, _scout(), "scout")
    for node in (browser, sequence, proxy):
        resolved = mrml_sequence.resolve_input_node(scene, node)
        assert resolved.browser_node is browser and resolved.n_slices == 1
    assert mrml_sequence.resolve_input_node(scene, proxy).node is browser
    assert mrml_sequence.scout_from_node(mrml_sequence.resolve_input_node(scene, proxy).node).n_frames == 8
    plain = add_volume_from_array(scene, np.zeros((3, 5, 5), np.float32), np.eye(4), "plain")
    resolved = mrml_sequence.resolve_input_node(scene, plain)
    assert resolved.browser_node is None and resolved.node is plain and resolved.n_slices == 3
    with pytest.raises(ScoutError):
        mrml_sequence.resolve_input_node(scene, None)


def test_sequence_saved_as_seq_nrrd_reads_back_as_the_same_scout(scene, tmp_path):
    scout = _scout()
    sequence, _, _ = mrml_sequence.sequence_from_scout(scene, scout, "saved", create_browser=False, index_by="frame")
    storage = sequence.CreateDefaultStorageNode()
    scene.AddNode(storage)
    sequence.SetAndObserveStorageNodeID(storage.GetID())
    storage.SetFileName(str(tmp_path / "scout.seq.nrrd"))
    assert storage.WriteData(sequence)
    other_scene = slicer.vtkMRMLScene()
    loaded = other_scene.AddNewNodeByClass("vtkMRMLSequenceNode", "loaded")
    reader = slicer.vtkMRMLVolumeSequenceStorageNode()
    other_scene.AddNode(reader)
    loaded.SetAndObserveStorageNodeID(reader.GetID())
    reader.SetFileName(str(tmp_path / "scout.seq.nrrd"))
    assert reader.ReadData(loaded)
    back = mrml_sequence.scout_from_sequence(loaded)  # TI survives even with a frame-number index
    np.testing.assert_array_equal(back.ti_ms, scout.ti_ms)
    np.testing.assert_allclose(back.frames, scout.frames)
    np.testing.assert_allclose(back.ijk_to_ras, scout.ijk_to_ras, atol=1e-4)


def test_segmentation_from_mask_round_trip(slicer_env):
    scene = slicer_env.scene
    scout = _scout()
    mask = np.zeros(scout.frames.shape[1:], dtype=bool)
    mask[2:5, 3:12] = True
    segmentation = mrml_roi.segmentation_from_mask(scene, scout, mask)
    np.testing.assert_array_equal(mrml_roi.mask_from_roi_for_scout(scout, segmentation), mask)
    before = _count(scene)
    with pytest.raises(ScoutError, match="empty"):
        mrml_roi.segmentation_from_mask(scene, scout, np.zeros_like(mask))
    with pytest.raises(ScoutError, match="does not match"):
        mrml_roi.segmentation_from_mask(scene, scout, mask[:-1])
    assert _count(scene) == before
