"""Issue 12 C16: a failure at any write while updating existing outputs leaves them exactly as they were.

A first run writes the prediction table, the offset plot, the report text and the automatic myocardium.
Re-running on another scout (fewer frames: the table would shrink) with a failure injected into each writer of
mrml/results.py and mrml/roi.py, raised before or after the writer did its work, must leave every node's
content, the scene's node set and the earlier automatic myocardium exactly as the first run wrote them.
Real MRML nodes (slicer-core), no mocks of the scene.
"""

from __future__ import annotations

import numpy as np
import pytest
from TINullCorrectionLib.core.pipeline import analyse_study
from TINullCorrectionLib.core.recommendation import RecommendationSettings
from TINullCorrectionLib.mrml import analysis as mrml_analysis
from TINullCorrectionLib.mrml import results as mrml_results
from TINullCorrectionLib.mrml import roi as mrml_roi
from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model
from TINullCorrectionLib.networks.ti_offset import load_model
from TINullCorrectionLib.sim.simulator import simulate_scout

WRITERS = [(mrml_results, "write_prediction_table"), (mrml_results, "write_prediction_plot"),
           (mrml_results, "write_report_text"), (mrml_roi, "segmentation_from_mask")]


class InjectedFault(RuntimeError):
    pass


@pytest.fixture(scope="module")
def models():
    return load_model(), load_segmentation_model()


@pytest.fixture(scope="module")
def scouts():
    first = simulate_scout(np.random.default_rng(2026), n_frames=23, ti_step_ms=35.0, matrix=128, phase_sensitive=False).scout
    second = simulate_scout(np.random.default_rng(2027), n_frames=20, ti_step_ms=40.0, matrix=128, phase_sensitive=False).scout
    return first, second


def _table(node) -> list[list[str]]:
    table = node.GetTable()
    return [[table.GetValue(r, c).ToString() for c in range(table.GetNumberOfColumns())] for r in range(table.GetNumberOfRows())]


def _attributes(node) -> dict:
    return {name: node.GetAttribute(name) for name in node.GetAttributeNames() or ()}


def _chart(node) -> tuple:
    series = [node.GetNthPlotSeriesNode(i) for i in range(node.GetNumberOfPlotSeriesNodes())]
    return tuple((s.GetName(), s.GetXColumnName(), s.GetYColumnName()) for s in series), node.GetName()


def _segmentation(node) -> tuple:
    from vtk.util import numpy_support

    segmentation = node.GetSegmentation()
    segment_id = segmentation.GetNthSegmentID(0)
    labelmap = segmentation.GetSegment(segment_id).GetRepresentation("Binary labelmap")
    values = numpy_support.vtk_to_numpy(labelmap.GetPointData().GetScalars()).copy()
    return segmentation.GetNumberOfSegments(), segment_id, labelmap.GetExtent(), values.tobytes()


def _state(scene, outputs) -> dict:
    ids = {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}
    return {
        "node ids": ids,
        "table": (_table(outputs.table_node), _attributes(outputs.table_node), outputs.table_node.GetName()),
        "chart": (_chart(outputs.chart_node), _attributes(outputs.chart_node)),
        "text": (outputs.text_node.GetText(), _attributes(outputs.text_node), outputs.text_node.GetName()),
        "myocardium": (_segmentation(outputs.myocardium_node), _attributes(outputs.myocardium_node),
                       outputs.myocardium_node.GetScene() is scene),
    }


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("module, name", WRITERS, ids=[name for _, name in WRITERS])
def test_a_failed_update_keeps_every_earlier_output(scene, models, scouts, module, name, when, monkeypatch):
    model, unet = models
    first, second = scouts
    settings = RecommendationSettings()
    _, outputs = mrml_analysis.analyse_ti_scout_slices(scene, [first], ["scout"], model, settings, myocardium_model=unet)
    assert outputs.myocardium_node is not None and len(_table(outputs.table_node)) == 23
    before = _state(scene, outputs)
    study = analyse_study([second], model, settings, myocardium_model=unet)
    assert study.slices[0].recommendation.myocardium_source == "automatic myocardium"

    original = getattr(module, name)
    calls = []

    def failing(*args, **kwargs):
        calls.append(name)
        if when == "before":
            raise InjectedFault(f"{name} failed before writing")
        written = original(*args, **kwargs)  # the node is changed: the failure must undo it
        raise InjectedFault(f"{name} failed after writing {written.GetID()}")

    monkeypatch.setattr(module, name, failing)
    with pytest.raises(InjectedFault):
        mrml_analysis.write_study_nodes(scene, study, [second], ["scout"], 0, outputs.table_node, outputs.chart_node,
                                        outputs.text_node, outputs.myocardium_node)
    assert calls == [name]
    after = _state(scene, outputs)
    for key in before:
        assert after[key] == before[key], f"{key} changed after a failure in {name} ({when})"

    monkeypatch.setattr(module, name, original)  # without the fault the update goes through
    updated = mrml_analysis.write_study_nodes(scene, study, [second], ["scout"], 0, outputs.table_node, outputs.chart_node,
                                              outputs.text_node, outputs.myocardium_node)
    assert len(_table(updated.table_node)) == 20 and updated.table_node is outputs.table_node
    assert outputs.myocardium_node.GetScene() is None and updated.myocardium_node.GetScene() is scene
