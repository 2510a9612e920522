"""LGEResolutionQA: image quality of late gadolinium enhancement (LGE) images — septal profiles and edge
sharpness, ROI SNR/CNR, phantom bar-group resolution, LGE % of LV — for one volume or several volumes of
a study side by side (normal vs high resolution).

Slicer glue only: module description, parameter node, widget wiring, a thin logic and the self-test.
All computations live in LGEResolutionQALib (core + MRML adapter ``mrml_qa``, tested with pytest
under slicer-core); the same numbers come from the headless ``cardiac-lge qa`` command.
"""

import logging
from typing import Annotated, Optional

import qt
import slicer
import vtk
from slicer import (
    vtkMRMLMarkupsFiducialNode,
    vtkMRMLMarkupsLineNode,
    vtkMRMLMarkupsROINode,
    vtkMRMLPlotChartNode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLTableNode,
)
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

try:
    from slicer.i18n import tr as _
except ImportError:  # Slicer < 5.4

    def _(text):
        return text


NONE_CHOICE = ""  # "no region" entry of the role combo boxes


def segmentListEvents():
    """Events a segmentation node invokes when its list of segments (names, order) changes."""
    return (
        slicer.vtkSegmentation.SegmentAdded,
        slicer.vtkSegmentation.SegmentRemoved,
        slicer.vtkSegmentation.SegmentModified,
        slicer.vtkSegmentation.SegmentsOrderModified,
    )

#
# LGEResolutionQA
#


class LGEResolutionQA(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("LGE Resolution QA")
        self.parent.categories = ["Cardiac"]
        self.parent.dependencies = ["Markups", "Segmentations", "Plots", "Tables"]
        self.parent.contributors = ["CardiacLGE developers"]
        self.parent.helpText = _("""
Image-quality analysis of cardiac late gadolinium enhancement (LGE), for one volume or, in <b>compare volumes</b>
mode, for several volumes of one study (e.g. normal 1.5 mm and high 0.625 mm resolution) with the same line
and regions in RAS:
<ul>
<li><b>Septal profile</b>: the intensity along a markups line across the septum; 20-80% and 10-90% rise distance,
sharpness (1/mm), maximum gradient per step height, septal thickness (FWHM of the dark band).</li>
<li><b>ROI statistics, SNR, CNR</b>: regions from segments or markups ROIs; noise from an air region (Rayleigh),
a uniform tissue region, or the NEMA difference of two acquisitions.</li>
<li><b>LGE segmentation</b>: per slice, Gaussian mixture (default), n-SD, FWHM or Otsu in the LV myocardium segment;
"LGE" and "LGE remote" (where the reference was taken) segments are added; with the anterior RV insertion point
(a markups point) the AHA segments, transmurality and a bullseye image; the LGE
volume (mL) and % of LV are tabulated.</li>
<li><b>Phantom resolution</b>: is a bar group resolved (peaks, dips, modulation)?</li>
</ul>
Results are MRML tables and plots shown in the layout. This is research software, not a medical device. See the README.md of the CardiacLGE extension
(section "LGE Resolution QA module (3D Slicer) and `cardiac-lge qa`") for the full documentation.
""")
        self.parent.acknowledgementText = _("""
Developed by the CardiacLGE contributors (BSD-3-Clause). Noise methods: NEMA MS 1, Constantinides et al.
MRM 1997, Dietrich et al. JMRI 2007, McCann et al. PMB 2013. LGE thresholds: n-SD, FWHM (Amado et al. JACC 2004),
Gaussian mixture by EM with Ashman's D (Ashman et al. AJ 1994; cf. EWA, Heiberg et al. Radiology 2008).
AHA segments: Cerqueira et al. Circulation 2002.
""")


#
# LGEResolutionQAParameterNode
#


@parameterNodeWrapper
class LGEResolutionQAParameterNode:
    """All GUI state of the module (saved with the scene).

    inputVolume / compareMode / compareVolumes - the volume(s) analysed (compare mode: all of them).
    profileLine, profileKind, darkBand, stepMm, interpolation - septal profile settings.
    segmentationNode, roiNodes - the regions (every segment, every checked markups ROI), named by name.
    noiseMethod, noiseRegion, nChannels, repeatVolume - how sigma is estimated.
    lgeRegion, remoteRegion, bloodRegion, myocardiumRegion - region roles (names).
    lgeMethod, nSd, minIslandMl, includeMvo - LGE segmentation settings (per slice; default: the method chosen
    by the EMIDEC benchmark, README "LGE quantification").
    rvInsertionPoint, ahaModel - the anterior RV insertion (markups point) for the AHA segments, bullseye and
    transmurality; no point = LGE % and the per-slice table only.
    barLine, expectedBars, barPitchMm, modulationThreshold - bar-group resolution check.
    statusText and the output nodes of the last run of each analysis.
    """

    # typing.Optional on purpose (not "A | None"): works in every Slicer 5.x Python.
    inputVolume: Optional[vtkMRMLScalarVolumeNode]  # noqa: UP045
    compareMode: bool = False
    compareVolumes: list[vtkMRMLScalarVolumeNode]
    profileLine: Optional[vtkMRMLMarkupsLineNode]  # noqa: UP045
    profileKind: Annotated[str, Choice(["septum", "edge"])] = "septum"
    darkBand: bool = True
    stepMm: Annotated[float, WithinRange(0.01, 5.0)] = 0.1
    interpolation: Annotated[str, Choice(["linear", "cubic"])] = "linear"
    segmentationNode: Optional[vtkMRMLSegmentationNode]  # noqa: UP045
    roiNodes: list[vtkMRMLMarkupsROINode]
    noiseMethod: Annotated[str, Choice(["background", "tissue", "difference", "smoothing"])] = "background"
    noiseRegion: str = ""
    nChannels: Annotated[int, WithinRange(1, 128)] = 1
    repeatVolume: Optional[vtkMRMLScalarVolumeNode]  # noqa: UP045
    lgeRegion: str = ""
    remoteRegion: str = ""
    bloodRegion: str = ""
    myocardiumRegion: str = ""
    lgeMethod: Annotated[str, Choice(["gmm-pool", "gmm", "nsd", "fwhm", "otsu"])] = "gmm-pool"
    nSd: Annotated[float, WithinRange(1.0, 10.0)] = 5.0
    minIslandMl: Annotated[float, WithinRange(0.0, 100.0)] = 0.0
    includeMvo: bool = False
    rvInsertionPoint: Optional[vtkMRMLMarkupsFiducialNode]  # noqa: UP045
    ahaModel: Annotated[str, Choice(["17", "16"])] = "17"
    barLine: Optional[vtkMRMLMarkupsLineNode]  # noqa: UP045
    expectedBars: Annotated[int, WithinRange(2, 20)] = 4
    barPitchMm: Annotated[float, WithinRange(0.1, 50.0)] = 2.0
    modulationThreshold: Annotated[float, WithinRange(0.0, 1.0)] = 0.1
    mtfRoi: Optional[vtkMRMLMarkupsROINode]  # noqa: UP045
    statusText: str = ""
    lastTable: Optional[vtkMRMLTableNode]  # noqa: UP045
    lastChart: Optional[vtkMRMLPlotChartNode]  # noqa: UP045


#
# LGEResolutionQAWidget
#


class LGEResolutionQAWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    ROLE_COMBOS = {  # combo box -> parameter node field
        "noiseRegionComboBox": "noiseRegion",
        "lgeRegionComboBox": "lgeRegion",
        "remoteRegionComboBox": "remoteRegion",
        "bloodRegionComboBox": "bloodRegion",
        "myocardiumRegionComboBox": "myocardiumRegion",
    }

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._updatingGUI = False
        self._observedSegmentation = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/LGEResolutionQA.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = LGEResolutionQALogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        # Lists of nodes and the region roles have no automatic GUI connector: wired here, stored in the
        # parameter node (the single GUI state).
        self.ui.compareVolumesSelector.connect("checkedNodesChanged()", self.onCompareVolumesChanged)
        self.ui.roiNodesSelector.connect("checkedNodesChanged()", self.onRoiNodesChanged)
        for comboName in self.ROLE_COMBOS:
            getattr(self.ui, comboName).connect("currentIndexChanged(int)", self.onRoleChanged)

        self.ui.profileButton.connect("clicked(bool)", self.onProfileButton)
        self.ui.regionsButton.connect("clicked(bool)", self.onRegionsButton)
        self.ui.lgeButton.connect("clicked(bool)", self.onLgeButton)
        self.ui.resolutionButton.connect("clicked(bool)", self.onResolutionButton)
        self.ui.mtfButton.connect("clicked(bool)", self.onMtfButton)
        self.ui.showResultsButton.connect("clicked(bool)", self.onShowResultsButton)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateGUI)

    def onSceneStartClose(self, caller, event) -> None:
        self._observeSegmentation(None)
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            volume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if volume:
                self._parameterNode.inputVolume = volume

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateGUI)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateGUI)
            self._updateGUI()

    # ------------------------------------------------------------------------------------- GUI state
    def _observeSegmentation(self, segmentation) -> None:
        """Refresh the role combo boxes when segments are added, removed, renamed or reordered.

        The segmentation node invokes vtkSegmentation's SegmentAdded / SegmentRemoved / SegmentModified /
        SegmentsOrderModified for those changes and no ModifiedEvent (checked under slicer-core by
        Testing/glue/test_lge_module_logic.py), so those are the events observed.
        """
        if segmentation is self._observedSegmentation:
            return
        if self._observedSegmentation is not None:
            for event in segmentListEvents():
                self.removeObserver(self._observedSegmentation, event, self._updateGUI)
        self._observedSegmentation = segmentation
        if segmentation is not None:
            for event in segmentListEvents():
                self.addObserver(segmentation, event, self._updateGUI)

    def _updateGUI(self, caller=None, event=None) -> None:
        pn = self._parameterNode
        if pn is None or self._updatingGUI:
            return
        self._updatingGUI = True
        try:
            self._observeSegmentation(pn.segmentationNode)
            self.ui.compareVolumesSelector.enabled = pn.compareMode
            self._syncCheckedNodes(self.ui.compareVolumesSelector, pn.compareVolumes)
            self._syncCheckedNodes(self.ui.roiNodesSelector, pn.roiNodes)
            names = self.logic.regionNames(pn)
            for comboName, field in self.ROLE_COMBOS.items():
                combo = getattr(self.ui, comboName)
                choices = [NONE_CHOICE] + names
                labels = [name if name else _("(none)") for name in choices]
                if [combo.itemText(i) for i in range(combo.count)] != labels:
                    combo.clear()
                    for text in labels:
                        combo.addItem(text)
                current = getattr(pn, field)
                combo.currentIndex = choices.index(current) if current in choices else 0
            self.ui.channelsSpinBox.enabled = pn.noiseMethod == "background"
            self.ui.repeatVolumeSelector.enabled = pn.noiseMethod == "difference"
            self.ui.nSdSpinBox.enabled = pn.lgeMethod == "nsd"
            self.ui.darkBandCheckBox.enabled = pn.profileKind == "septum"
            hasVolume = pn.inputVolume is not None
            self.ui.profileButton.enabled = hasVolume and pn.profileLine is not None
            self.ui.regionsButton.enabled = hasVolume and bool(names)
            self.ui.lgeButton.enabled = hasVolume and pn.segmentationNode is not None and bool(pn.myocardiumRegion)
            self.ui.resolutionButton.enabled = hasVolume and pn.barLine is not None
            self.ui.mtfButton.enabled = hasVolume and pn.mtfRoi is not None
            self.ui.showResultsButton.enabled = pn.lastTable is not None or pn.lastChart is not None
        finally:
            self._updatingGUI = False

    @staticmethod
    def _syncCheckedNodes(selector, nodes) -> None:
        wanted = {node.GetID() for node in nodes if node is not None}
        if {node.GetID() for node in selector.checkedNodes()} == wanted:
            return
        for index in range(selector.nodeCount()):
            node = selector.nodeFromIndex(index)
            selector.setCheckState(node, qt.Qt.Checked if node.GetID() in wanted else qt.Qt.Unchecked)

    def onCompareVolumesChanged(self) -> None:
        if self._parameterNode and not self._updatingGUI:
            self._parameterNode.compareVolumes = list(self.ui.compareVolumesSelector.checkedNodes())

    def onRoiNodesChanged(self) -> None:
        if self._parameterNode and not self._updatingGUI:
            self._parameterNode.roiNodes = list(self.ui.roiNodesSelector.checkedNodes())

    def onRoleChanged(self, index=None) -> None:
        pn = self._parameterNode
        if pn is None or self._updatingGUI:
            return
        names = [NONE_CHOICE] + self.logic.regionNames(pn)
        with slicer.util.NodeModify(pn.parameterNode):
            for comboName, field in self.ROLE_COMBOS.items():
                position = getattr(self.ui, comboName).currentIndex
                setattr(pn, field, names[position] if 0 <= position < len(names) else NONE_CHOICE)

    # ------------------------------------------------------------------------------------------- run
    def _run(self, function, title) -> None:
        """Run one analysis under a wait cursor; messages are shown after the cursor is restored."""
        pn = self._parameterNode
        if pn is None:
            return
        pn.statusText = _("Running...")
        slicer.app.processEvents()
        badInput = None
        try:
            # tryWithErrorDisplay restores the cursor before its own error box (unexpected errors).
            with slicer.util.tryWithErrorDisplay(_("{title} failed.").format(title=title), waitCursor=True):
                try:
                    outputs, message = function(pn)
                except ValueError as error:  # bad input: clear message, the scene is unchanged
                    badInput = error
                else:
                    pn.statusText = message
                    self.logic.showOutputs(outputs)
                    with slicer.util.NodeModify(pn.parameterNode):
                        pn.lastTable = outputs.table
                        pn.lastChart = outputs.chart
        except Exception as error:
            logging.exception(f"LGEResolutionQA: {title} failed")
            pn.statusText = _("Failed: {error}").format(error=error)
            return
        if badInput is not None:  # the wait cursor is gone now
            pn.statusText = _("Not run: {error}").format(error=badInput)
            slicer.util.errorDisplay(str(badInput), windowTitle=title)

    def onProfileButton(self) -> None:
        self._run(self.logic.runProfiles, _("Septal profile"))

    def onRegionsButton(self) -> None:
        self._run(self.logic.runRegions, _("ROI statistics"))

    def onLgeButton(self) -> None:
        self._run(self.logic.runLGE, _("LGE segmentation"))

    def onResolutionButton(self) -> None:
        self._run(self.logic.runResolution, _("Resolution check"))

    def onMtfButton(self) -> None:
        self._run(self.logic.runMTF, _("Edge MTF"))

    def onShowResultsButton(self) -> None:
        pn = self._parameterNode
        if pn is not None:
            self.logic.showNodes(pn.lastTable, pn.lastChart)


#
# LGEResolutionQALogic
#


class LGEResolutionQALogic(ScriptedLoadableModuleLogic):
    """Thin logic: reads the parameter node, calls LGEResolutionQALib.mrml_qa, returns its outputs."""

    def getParameterNode(self):
        return LGEResolutionQAParameterNode(super().getParameterNode())

    @staticmethod
    def volumes(pn) -> list:
        """The input volume, plus the checked volumes in compare mode (each once)."""
        nodes = [pn.inputVolume] if pn.inputVolume is not None else []
        if pn.compareMode:
            nodes += [node for node in pn.compareVolumes if node is not None and node not in nodes]
        return nodes

    @staticmethod
    def regionSources(pn) -> dict:
        """Region name -> ("segment", segment ID) or ("roi", markups ROI node)."""
        sources = {}
        if pn.segmentationNode is not None:
            segmentation = pn.segmentationNode.GetSegmentation()
            for index in range(segmentation.GetNumberOfSegments()):
                segmentId = segmentation.GetNthSegmentID(index)
                sources[segmentation.GetSegment(segmentId).GetName()] = ("segment", segmentId)
        for roi in pn.roiNodes:
            if roi is not None:
                sources.setdefault(roi.GetName(), ("roi", roi))
        return sources

    def regionNames(self, pn) -> list:
        return list(self.regionSources(pn))

    @staticmethod
    def _role(pn, field):
        return getattr(pn, field) or None

    def runProfiles(self, pn):
        from LGEResolutionQALib.mrml import qa as mrml_qa

        outputs = mrml_qa.compare_profiles(slicer.mrmlScene, self.volumes(pn), pn.profileLine, step_mm=pn.stepMm,
                                           interpolation=pn.interpolation, kind=pn.profileKind, dark_band=pn.darkBand)
        outputs.tables = {"metrics": outputs.tables["metrics"], "profiles": outputs.tables["profiles"]}
        return outputs, _("Profiles of {n} volume(s) measured along '{line}'.").format(
            n=len(outputs.rows), line=pn.profileLine.GetName())

    def runRegions(self, pn):
        from LGEResolutionQALib.mrml import qa as mrml_qa

        sources = self.regionSources(pn)
        segmentIds = [value for kind, value in sources.values() if kind == "segment"]
        roiNodes = [value for kind, value in sources.values() if kind == "roi"]
        repeats = {pn.inputVolume.GetName(): pn.repeatVolume} if (pn.repeatVolume is not None and pn.inputVolume) else None
        outputs = mrml_qa.compare_regions(
            slicer.mrmlScene, self.volumes(pn), pn.segmentationNode, segmentIds, roiNodes,
            noise_method=pn.noiseMethod, noise_region=self._role(pn, "noiseRegion"), n_channels=pn.nChannels,
            lge_region=self._role(pn, "lgeRegion"), remote_region=self._role(pn, "remoteRegion"),
            blood_region=self._role(pn, "bloodRegion"), repeat_volume_nodes=repeats)
        return outputs, _("{n} region(s) measured on {v} volume(s); noise: {method}.").format(
            n=len(sources), v=len(outputs.results), method=pn.noiseMethod)

    def runLGE(self, pn):
        from LGEResolutionQALib.mrml import qa as mrml_qa

        sources = self.regionSources(pn)
        myocardium = sources.get(pn.myocardiumRegion)
        if myocardium is None or myocardium[0] != "segment":
            raise ValueError(_("No myocardium: choose the LV myocardium segment of the segmentation."))
        remote = sources.get(pn.remoteRegion) if pn.remoteRegion else None
        outputs = mrml_qa.lge_segmentation(
            slicer.mrmlScene, pn.inputVolume, pn.segmentationNode, myocardium[1],
            remote_segment_id=remote[1] if remote and remote[0] == "segment" else None,
            remote_roi_node=remote[1] if remote and remote[0] == "roi" else None,
            method=pn.lgeMethod, n_sd=pn.nSd, min_island_ml=pn.minIslandMl, include_mvo=pn.includeMvo,
            rv_insertion_node=pn.rvInsertionPoint, aha_model=int(pn.ahaModel))
        result = outputs.results["lge"]
        message = _("LGE {percent:.1f}% of LV ({lge:.2f} mL of {myo:.2f} mL), method {method}.").format(
            percent=result.lge_percent_of_lv, lge=result.lge_ml, myo=result.myocardium_ml, method=result.method)
        if outputs.results.get("aha") is None:
            message += " " + _("Place the anterior RV insertion point for the AHA segments and the bullseye.")
        warnings = list(result.warnings) + list(outputs.results["aha"].warnings if outputs.results.get("aha") else [])
        if warnings:
            message += " " + _("Warnings: {warnings}").format(warnings="; ".join(warnings))
        return outputs, message

    def runResolution(self, pn):
        from LGEResolutionQALib.mrml import qa as mrml_qa

        outputs = mrml_qa.resolution_check(slicer.mrmlScene, self.volumes(pn), pn.barLine, pn.expectedBars,
                                           pn.barPitchMm, modulation_threshold=pn.modulationThreshold,
                                           interpolation=pn.interpolation)
        verdicts = ", ".join(f"{row['volume']}: {'resolved' if row.get('resolved') else 'not resolved'}"
                             for row in outputs.rows)
        return outputs, _("Bar group ({n} bars, {pitch:g} mm pitch): {verdicts}.").format(
            n=pn.expectedBars, pitch=pn.barPitchMm, verdicts=verdicts)

    def runMTF(self, pn):
        from LGEResolutionQALib.mrml import qa as mrml_qa

        outputs = mrml_qa.edge_mtf(slicer.mrmlScene, self.volumes(pn), pn.mtfRoi)
        summary = ", ".join(f"{name}: MTF50 {result.mtf50_per_mm:.2f} lp/mm" for name, result in outputs.results["mtf"].items())
        return outputs, _("Edge MTF in '{roi}': {summary}.").format(roi=pn.mtfRoi.GetName(), summary=summary)

    def showOutputs(self, outputs) -> None:
        self.showNodes(outputs.tables.get("segments", outputs.table), outputs.chart)
        bullseye = outputs.results.get("bullseye_node") if isinstance(outputs.results, dict) else None
        if bullseye is not None and slicer.app.layoutManager() is not None:
            slicer.util.setSliceViewerLayers(background=bullseye, fit=True)

    @staticmethod
    def showNodes(table, chart) -> None:
        """Switch to a layout with a plot and a table view and show ``table`` / ``chart`` there."""
        layoutManager = slicer.app.layoutManager()
        if layoutManager is None:
            return
        if chart is not None:
            layoutManager.setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpPlotTableView)
            slicer.modules.plots.logic().ShowChartInLayout(chart)
        elif table is not None:
            layoutManager.setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpTableView)
        if table is not None:
            appLogic = slicer.app.applicationLogic()
            appLogic.GetSelectionNode().SetActiveTableID(table.GetID())
            appLogic.PropagateTableSelection()


#
# LGEResolutionQATest
#


class LGEResolutionQATest(ScriptedLoadableModuleTest):
    """Self-test: the scenarios that pytest runs under slicer-core (Testing/lge/mrml/test_scenario.py)."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_lge_phantom_scenario()
        self.setUp()
        self.test_septum_comparison_scenario()
        self.setUp()
        self.test_bad_input_leaves_scene_unchanged()

    def test_lge_phantom_scenario(self):
        self.delayDisplay("Synthetic LGE ring phantom: known scar volume and noise")
        from LGEResolutionQALib.scenarios import (
            SCAR_PERCENT_TOLERANCE,
            SNR_RELATIVE_TOLERANCE,
            run_lge_phantom_scenario,
        )

        result = run_lge_phantom_scenario(slicer.mrmlScene, seed=0)
        self.assertLessEqual(abs(result["scar_percent_error"]), SCAR_PERCENT_TOLERANCE, result["summary"])
        self.assertLessEqual(abs(result["snr_relative_error"]), SNR_RELATIVE_TOLERANCE, result["summary"])
        self.assertEqual(result["lge_table_rows"], result["n_slices"])
        self.assertEqual(result["aha_segment_rows"], 17)
        self.assertIsNotNone(slicer.mrmlScene.GetNodeByID(result["bullseye_node_id"]))
        self.delayDisplay(f"Test passed: {result['summary']}")

    def test_septum_comparison_scenario(self):
        self.delayDisplay("Simulated septum at normal and high resolution, one line, compare mode")
        from LGEResolutionQALib.scenarios import run_septum_comparison_scenario

        result = run_septum_comparison_scenario(slicer.mrmlScene, seed=0)
        self.assertEqual(len(result["rows"]), 2)
        self.assertIsNotNone(slicer.mrmlScene.GetNodeByID(result["chart_node_id"]))
        self.delayDisplay("Test passed: one table and one plot with both volumes")

    def test_bad_input_leaves_scene_unchanged(self):
        import numpy as np
        from CardiacLGECommonLib.mrml.volumes import add_volume_from_array
        from LGEResolutionQALib.scenarios import add_line_node

        volume = add_volume_from_array(slicer.mrmlScene, np.ones((1, 16, 16), np.float32), np.eye(4), "LGE")
        line = add_line_node(slicer.mrmlScene, "outside", (500, 500, 0), (520, 500, 0))
        logic = LGEResolutionQALogic()
        pn = logic.getParameterNode()
        pn.inputVolume = volume
        pn.profileLine = line
        before = slicer.mrmlScene.GetNumberOfNodes()
        with self.assertRaises(ValueError):
            logic.runProfiles(pn)
        self.assertEqual(slicer.mrmlScene.GetNumberOfNodes(), before)
        self.delayDisplay("Test passed: a line outside the image is rejected and nothing is created")
