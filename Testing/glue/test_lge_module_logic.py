"""LGEResolutionQA.py's thin Logic class run under slicer-core with the application-only imports (qt,
ScriptedLoadableModule, parameterNodeWrapper) replaced by minimal stand-ins: the wiring from parameter
node fields to mrml_qa is exercised for real on MRML nodes (the widget itself needs the Slicer app)."""

from __future__ import annotations

import importlib.util
import sys
import types

import numpy as np
import pytest
from LGEResolutionQALib.scenarios import add_line_node, add_phantom_nodes
from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom, make_septum_pair
from support.paths import REPO_ROOT

MODULE_PATH = REPO_ROOT / "LGEResolutionQA" / "LGEResolutionQA.py"


@pytest.fixture
def module(slicer_env, monkeypatch):
    import slicer

    qt = types.ModuleType("qt")
    qt.Qt = types.SimpleNamespace(Checked=2, Unchecked=0)
    wrapper = types.ModuleType("slicer.parameterNodeWrapper")
    wrapper.parameterNodeWrapper = lambda cls: cls
    wrapper.Choice = lambda choices: ("Choice", tuple(choices))
    wrapper.WithinRange = lambda low, high: ("WithinRange", low, high)
    scripted = types.ModuleType("slicer.ScriptedLoadableModule")

    class _Base:
        def __init__(self, *args, **kwargs):
            pass

    for name in ("ScriptedLoadableModule", "ScriptedLoadableModuleWidget", "ScriptedLoadableModuleTest"):
        setattr(scripted, name, type(name, (_Base,), {}))
    scripted.ScriptedLoadableModuleLogic = type("ScriptedLoadableModuleLogic", (_Base,), {})
    monkeypatch.setitem(sys.modules, "qt", qt)
    monkeypatch.setitem(sys.modules, "slicer.parameterNodeWrapper", wrapper)
    monkeypatch.setitem(sys.modules, "slicer.ScriptedLoadableModule", scripted)
    spec = importlib.util.spec_from_file_location("LGEResolutionQA_under_test", MODULE_PATH)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    assert slicer.mrmlScene is slicer_env.scene
    return loaded


def _parameters(**values):
    defaults = dict(inputVolume=None, compareMode=False, compareVolumes=[], profileLine=None, profileKind="septum",
                    darkBand=True, stepMm=0.1, interpolation="linear", segmentationNode=None, roiNodes=[],
                    noiseMethod="background", noiseRegion="", nChannels=1, repeatVolume=None, lgeRegion="",
                    remoteRegion="", bloodRegion="", myocardiumRegion="", lgeMethod="nsd", nSd=5.0, minIslandMl=0.0,
                    includeMvo=False, rvInsertionPoint=None, ahaModel="17", barLine=None, expectedBars=4, barPitchMm=2.0, modulationThreshold=0.1)
    defaults.update(values)
    return types.SimpleNamespace(**defaults)


def test_parameter_node_declares_every_field_the_logic_reads(module):
    fields = set(module.LGEResolutionQAParameterNode.__annotations__)
    assert set(vars(_parameters())) <= fields


def test_logic_profiles_in_compare_mode(module, slicer_env):
    scene = slicer_env.scene
    from CardiacLGECommonLib.mrml.volumes import add_volume_from_array

    pair = make_septum_pair(np.random.default_rng(0))
    nr, hr = (add_volume_from_array(scene, pair[k].image, pair[k].ijk_to_ras, k.upper()) for k in ("nr", "hr"))
    line = add_line_node(scene, "septum", *pair["septum_line_ras"])
    logic = module.LGEResolutionQALogic()
    pn = _parameters(inputVolume=nr, compareMode=True, compareVolumes=[hr, nr], profileLine=line)
    assert logic.volumes(pn) == [nr, hr]
    outputs, message = logic.runProfiles(pn)
    assert outputs.table.GetNumberOfRows() == 2 and outputs.chart is not None
    assert "2 volume(s)" in message
    outside = add_line_node(scene, "outside", (500, 0, 0), (520, 0, 0))
    before = scene.GetNumberOfNodes()
    with pytest.raises(ValueError):
        logic.runProfiles(_parameters(inputVolume=nr, profileLine=outside))
    assert scene.GetNumberOfNodes() == before


def test_logic_regions_and_lge_from_roles(module, slicer_env):
    scene = slicer_env.scene
    phantom = make_lge_ring_phantom((3, 100, 100), (1.0, 1.0, 8.0), 0.2, 20.0, np.random.default_rng(0))
    volume, segmentation, _ = add_phantom_nodes(scene, phantom)
    logic = module.LGEResolutionQALogic()
    pn = _parameters(inputVolume=volume, segmentationNode=segmentation, noiseRegion="air", remoteRegion="remote",
                     bloodRegion="blood", myocardiumRegion="myocardium")
    assert logic.regionNames(pn) == ["myocardium", "remote", "blood", "air"]
    outputs, message = logic.runRegions(pn)
    assert "noise: background" in message and outputs.table.GetNumberOfRows() > 4
    outputs, message = logic.runLGE(pn)
    assert abs(outputs.results["lge"].lge_percent_of_lv - phantom.scar_percent_truth) <= 1.0
    assert message.startswith("LGE ")
    with pytest.raises(ValueError, match="No myocardium"):
        logic.runLGE(_parameters(inputVolume=volume, segmentationNode=segmentation, myocardiumRegion=""))


def test_logic_lge_with_rv_point_gives_segments_and_bullseye(module, slicer_env):
    scene = slicer_env.scene
    phantom = make_lge_ring_phantom((4, 100, 100), (1.0, 1.0, 8.0), 0.2, 20.0, np.random.default_rng(1))
    volume, segmentation, _ = add_phantom_nodes(scene, phantom)
    logic = module.LGEResolutionQALogic()
    pn = _parameters(inputVolume=volume, segmentationNode=segmentation, myocardiumRegion="myocardium",
                     lgeMethod=module.LGEResolutionQAParameterNode.lgeMethod)
    outputs, message = logic.runLGE(pn)
    assert "Place the anterior RV insertion point" in message and "segments" not in outputs.tables
    assert outputs.results["lge"].method == "gmm-pool-per-slice"  # the parameter node's default method
    point = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "RV")
    centre = (phantom.ijk_to_ras @ np.array([49.5, 49.5, 1, 1.0]))[:3]
    point.AddControlPoint(*(centre + np.array([15.0, 26.0, 0.0])))
    outputs, message = logic.runLGE(_parameters(inputVolume=volume, segmentationNode=segmentation,
                                                myocardiumRegion="myocardium", rvInsertionPoint=point, ahaModel="16"))
    assert outputs.tables["segments"].GetNumberOfRows() == 16
    assert outputs.results["bullseye_node"].IsA("vtkMRMLVectorVolumeNode")
    assert "Place the anterior" not in message


def test_region_lists_follow_segment_add_rename_remove_and_reorder(module, slicer_env):
    """The widget's segmentation observers (real VTKObservationMixin, real node) fire on every change."""
    segmentation = slicer_env.scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    widget = module.LGEResolutionQAWidget()
    refreshes = []
    widget._updateGUI = lambda caller=None, event=None: refreshes.append(event)
    widget._observeSegmentation(segmentation)
    pn = _parameters(segmentationNode=segmentation)
    logic = module.LGEResolutionQALogic()
    seg = segmentation.GetSegmentation()

    def changed(action) -> list:
        refreshes.clear()
        action()
        assert refreshes, "the region lists would not be refreshed"
        return logic.regionNames(pn)

    first = seg.AddEmptySegment("", "septum", [1, 0, 0])
    assert changed(lambda: seg.AddEmptySegment("", "blood", [0, 1, 0])) == ["septum", "blood"]
    assert changed(lambda: seg.GetSegment(first).SetName("myocardium")) == ["myocardium", "blood"]
    assert changed(lambda: seg.SetSegmentIndex(first, 1)) == ["blood", "myocardium"]
    assert changed(lambda: seg.RemoveSegment(first)) == ["blood"]
    widget._observeSegmentation(None)
    refreshes.clear()
    seg.AddEmptySegment("", "air", [0, 0, 1])
    assert refreshes == []  # observers removed with the selection


def test_error_box_is_shown_after_the_wait_cursor_is_restored(module, slicer_env, monkeypatch):
    """Bad input: the message box must not appear under a wait cursor (real slicer.util context managers)."""
    import slicer

    state = {"overrides": 0, "shown_under": []}
    app = types.SimpleNamespace(
        setOverrideCursor=lambda cursor: state.__setitem__("overrides", state["overrides"] + 1),
        restoreOverrideCursor=lambda: state.__setitem__("overrides", state["overrides"] - 1),
        processEvents=lambda: None, testingEnabled=lambda: False)
    monkeypatch.setattr(slicer, "app", app, raising=False)
    sys.modules["qt"].Qt.WaitCursor = 3
    sys.modules["qt"].QApplication = types.SimpleNamespace(setOverrideCursor=app.setOverrideCursor,
                                                         restoreOverrideCursor=app.restoreOverrideCursor)
    monkeypatch.setattr(slicer.util, "errorDisplay", lambda text, **kw: state["shown_under"].append(state["overrides"]))
    widget = module.LGEResolutionQAWidget()
    widget._parameterNode = types.SimpleNamespace(statusText="", parameterNode=None)
    widget.logic = module.LGEResolutionQALogic()

    def bad_input(pn):
        raise ValueError("The line lies outside the image.")

    widget._run(bad_input, "Septal profile")
    assert state["shown_under"] == [0] and state["overrides"] == 0
    assert "outside the image" in widget._parameterNode.statusText


def test_the_module_offers_every_core_lge_method_with_the_core_default(module):
    from LGEResolutionQALib.core.lge_segmentation import DEFAULT_METHOD, METHODS

    node = module.LGEResolutionQAParameterNode
    choice = next(m for m in node.__annotations__["lgeMethod"].__metadata__ if m[0] == "Choice")
    assert set(choice[1]) == set(METHODS) and node.lgeMethod == DEFAULT_METHOD == "gmm-pool"
