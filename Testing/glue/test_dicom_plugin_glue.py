"""TINullCorrectionDICOMPlugin.py run under slicer-core with DICOMLib replaced by minimal stand-ins
(DICOMLoadable / DICOMPlugin as Slicer documents them) and Slicer's DICOM database by a pydicom-backed
``fileValue``: what the DICOM module sees (loadables, tags) and what loading the selected loadables
does, with Slicer's pre-selection rules (support/slicer_dicom_rules.py)."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest
from support import slicer_dicom_rules as rules
from support.paths import REPO_ROOT
from TINullCorrectionLib.io.tag_values import EXAMINE_TAGS, PydicomFileValues

pytestmark = pytest.mark.realdata
PLUGIN_PATH = REPO_ROOT / "TINullCorrection" / "TINullCorrectionDICOMPlugin.py"


class _Loadable:
    def __init__(self):
        self.files, self.name, self.tooltip, self.warning, self.selected, self.confidence = [], "Unknown", "", "", False, 0.5


class _Plugin:
    def __init__(self):
        self.loadType = "Generic DICOM"
        self.loadableCache = {}
        self.tags = {"seriesDescription": "0008,103E", "seriesNumber": "0020,0011", "frameOfReferenceUID": "0020,0052"}
        self.seriesItems = []

    def hashFiles(self, files):
        return "|".join(files)

    def addSeriesInSubjectHierarchy(self, loadable, dataNode):  # the patient > study > series part of Slicer's
        import slicer

        sh = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(slicer.mrmlScene)
        study = sh.CreateStudyItem(sh.CreateSubjectItem(sh.GetSceneItemID(), "patient"), "study")
        self.seriesItems.append(sh.CreateItem(study, dataNode))


@pytest.fixture
def plugin_module(slicer_env, monkeypatch):
    import slicer

    dicomlib = types.ModuleType("DICOMLib")
    dicomlib.DICOMLoadable, dicomlib.DICOMPlugin = _Loadable, _Plugin
    monkeypatch.setitem(sys.modules, "DICOMLib", dicomlib)
    database = PydicomFileValues()
    calls = []

    def file_value(path, tag):
        calls.append(tag)
        return database(path, tag)

    monkeypatch.setattr(slicer, "dicomDatabase", types.SimpleNamespace(fileValue=file_value), raising=False)
    monkeypatch.setattr(slicer, "app", types.SimpleNamespace(applicationLogic=lambda: slicer_env.app_logic), raising=False)
    shown = []
    slicer.modules.sequences.setToolBarActiveBrowserNode = shown.append
    slicer.modules.sequences.showSequenceBrowser = shown.append
    spec = importlib.util.spec_from_file_location("TINullCorrectionDICOMPlugin_under_test", PLUGIN_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.fileValueCalls = calls
    return module


def _files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.iterdir() if p.is_file())


def test_hidden_module_registers_the_plugin_class(plugin_module):
    import slicer

    parent = types.SimpleNamespace()
    plugin_module.TINullCorrectionDICOMPlugin(parent)
    assert parent.hidden is True
    assert slicer.modules.dicomPlugins["TINullCorrectionDICOMPlugin"] is plugin_module.TINullCorrectionDICOMPluginClass
    assert not hasattr(slicer, "selfTests") or "TINullCorrectionDICOMPlugin" not in slicer.selfTests


def test_examine_declares_and_reads_cached_tags(plugin_module, shared_data):
    plugin = plugin_module.TINullCorrectionDICOMPluginClass()
    assert set(EXAMINE_TAGS.values()) <= set(plugin.tags.values())  # pre-cached by the DICOM module
    loadables = plugin.examineForImport([_files(shared_data / "look_locker_native_philips")])
    assert len(loadables) == 3 and all(lo.selected and lo.confidence > 1.05 for lo in loadables)
    assert "0008,0060" in plugin_module.fileValueCalls  # modality came from the database


def test_loading_every_selected_loadable_of_a_combined_scout_loads_it_once(plugin_module, slicer_env, shared_data):
    """DICOMUtils.loadSeriesByUID: examine, select by Slicer's rule, load every selected loadable."""
    per_series = [[f] for f in _files(shared_data / "ir_t1_phantom" / "philips_1.5T_plate4")]
    plugin = plugin_module.TINullCorrectionDICOMPluginClass()
    ours = [rules.Loadable("TINullCorrectionDICOMPlugin", lo.files, lo.confidence, lo.selected, lo.name, lo)
            for lo in plugin.examineForImport(per_series)]
    everything = rules.scalar_volume_loadables(per_series) + ours
    rules.select_highest_confidence(everything)
    chosen = rules.selected(everything, "TINullCorrectionDICOMPlugin")
    assert len(chosen) == 6 and rules.selected(everything, "DICOMScalarVolumePlugin") == []
    loaded = [plugin.load(lo.spec) for lo in chosen]
    assert all(node is loaded[0] and node for node in loaded)
    assert slicer_env.scene.GetNumberOfNodesByClass("vtkMRMLSequenceNode") == 1
    assert len(plugin.seriesItems) == 1
