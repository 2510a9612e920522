"""TINullCorrection: per-frame distance of a cardiac TI scout from the myocardial null, and the TI to use for LGE.

Slicer glue only: module description, parameter node, widget wiring, a thin logic and the self-test.
All computations live in TINullCorrectionLib (core + MRML adapter, tested with pytest under
slicer-core). The networks run on onnxruntime (no PyTorch); onnxruntime and the pydicom decoders are
installed only after the user agreed, never at import time.
"""

import logging
import pathlib
from typing import Annotated, Optional, Union

import qt
import slicer
import vtk
from slicer import (
    vtkMRMLMarkupsROINode,
    vtkMRMLPlotChartNode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLSequenceBrowserNode,
    vtkMRMLSequenceNode,
    vtkMRMLTableNode,
    vtkMRMLTextNode,
)
from slicer.parameterNodeWrapper import Default, FloatRange, RangeBounds, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin
from TINullCorrectionLib.core.types import DEFAULT_OPTIMAL_RANGE_MS

try:
    from slicer.i18n import tr as _
except ImportError:  # Slicer < 5.4

    def _(text):
        return text


#: Python packages that running the analysis needs beyond Slicer's own (pip requirement -> import name):
#: onnxruntime only, which runs both networks (TINullCorrectionLib/core/python_dependencies.py says why
#: and which versions; Slicer bundles numpy, scipy, SimpleITK and pydicom).
PYTHON_REQUIREMENTS = {"onnxruntime>=1.19.2": "onnxruntime"}
#: Decoders that loading compressed (JPEG lossless) TI scouts needs; asked for by the DICOM plugin.
DICOM_DECODER_REQUIREMENTS = {
    "pydicom>=2.4": "pydicom",
    "pylibjpeg>=2.0": "pylibjpeg",
    "pylibjpeg-libjpeg>=2.1": "libjpeg",
}


def missingPythonPackages(requirements=None):
    """Requirements (pip strings) whose module cannot be imported or is too old."""
    from TINullCorrectionLib.core.python_dependencies import missing_requirements

    return list(missing_requirements(requirements or PYTHON_REQUIREMENTS))


def installPythonDependencies(requirements=None, requester="TINullCorrection"):
    """Install missing packages with the user's consent; returns (ready, message for the panel).

    Slicer >= 5.12: slicer.packaging.pip_ensure (its own consent and progress dialogs); Slicer 5.8/5.10:
    our consent question, then slicer.util.pip_install. In testing mode no dialog is shown and the install
    runs without a question (a self-test on a fresh Slicer needs it). A failed or declined installation is
    a message, never an exception. Never called at import time.
    """
    from TINullCorrectionLib.core import python_dependencies as deps

    requirements = requirements or PYTHON_REQUIREMENTS
    missing = deps.missing_requirements(requirements)
    if not missing:
        return True, ""
    try:
        import slicer.packaging as packaging  # Slicer >= 5.12 only

        pipEnsure = getattr(packaging, "pip_ensure", None)
    except ImportError:
        pipEnsure = None
    plan = deps.plan_install(missing, requester, testing=bool(slicer.app.testingEnabled()), has_pip_ensure=pipEnsure is not None)
    try:
        if plan.action == deps.PIP_ENSURE and plan.prompt:
            pipEnsure(list(missing), requester=requester)
        elif plan.action == deps.PIP_ENSURE:  # testing mode: no dialogs, and do install (pip_ensure would skip)
            pipEnsure(list(missing), requester=requester, prompt_install=False, prompt_restart=False, skip_in_testing=False,
                      show_progress=False)
        else:
            title = _("{requester} - Install Python Packages").format(requester=requester)
            if plan.prompt and not slicer.util.confirmOkCancelDisplay(plan.message, windowTitle=title):
                return False, deps.declined_message(missing)
            with slicer.util.WaitCursor():
                slicer.util.pip_install(list(missing))
    except Exception as error:  # CalledProcessError (pip failed), RuntimeError (declined, or PythonSlicer not found)
        message = deps.failure_message(error, missing)
        logging.error(f"{requester}: {message}")
        return False, message
    stillMissing = deps.missing_requirements(requirements)
    if stillMissing:
        return False, deps.still_missing_message(stillMissing)
    return True, ""


def ensurePythonDependencies(requirements=None, requester="TINullCorrection"):
    """True when the packages are importable (installed now with consent if needed); see installPythonDependencies."""
    ready, message = installPythonDependencies(requirements, requester)
    if not ready and message:
        logging.warning(message)
    return ready


#
# TINullCorrection
#


class TINullCorrection(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("TI Null Correction")
        self.parent.categories = ["Cardiac"]
        self.parent.dependencies = ["Sequences"]
        self.parent.contributors = ["CardiacLGE developers"]
        self.parent.helpText = _("""
For a cardiac MRI TI scout (Look-Locker, TI Scout, Cine IR), shows for every frame how far its inversion
time (TI) is from the null point of normal myocardium, estimates the null TI of the series and recommends
the TI to use for late gadolinium enhancement (LGE).
<ol>
<li>Load the TI scout in the DICOM browser: it is offered as a "TI scout" sequence indexed by inversion time.</li>
<li>Select it, optionally a myocardium ROI (segment or markups ROI) for the inversion-recovery cross-check and
the TI you intend to use, then click Run.</li>
<li>Step through the frames: the slice views show each frame's TI, predicted offset, corrected TI and a colour
cue (green in the optimal range, amber near, red far).</li>
</ol>
The default model is a compact CNN trained only on the project's physics-based simulator (no public labelled
TI scout data exist); check it against your own scans before clinical use. This is research software, not a
medical device. See the README.md of the CardiacLGE extension
(section "TI Null Correction module (3D Slicer)") for the full documentation.
""")
        self.parent.acknowledgementText = _("""
Developed by the CardiacLGE contributors (BSD-3-Clause). The approach follows the published CNN correction of
TI scout null points (Eur Radiol 2023;33:4688-4697) and standard Look-Locker inversion-recovery physics.
Real test data: RivettiLuciano/SlicerT1_ECVMapping (Look-Locker) and GSTT-CSC/hazen (IR phantom).
""")


#
# TINullCorrectionParameterNode
#


@parameterNodeWrapper
class TINullCorrectionParameterNode:
    """All GUI state of the module (saved with the scene).

    inputNode - TI scout: sequence browser, sequence, or a volume (proxy of a browser / multi-volume).
    sliceIndex - slice to use when the frames are multi-slice volumes.
    combineSlices - analyse every slice of the selected scout and combine them (only slices of one acquisition).
    useDefaultModel / modelPath - the CNN weights (modelPath "" when none is chosen: a str, not a pathlib.Path,
        whose empty value Path() would show as "." in the path field; wired by hand in the widget).
    roiNode / roiSegmentId - optional myocardium ROI for the inversion-recovery cross-check.
    autoMyocardium - without an ROI, find the myocardium with the U-Net and fit it (shown as a segmentation).
    useChosenTi / chosenTiMs - the operator's TI to check.
    optimalRangeMs, lgeOffsetMs, driftMsPerMin, minutesSinceScout - recommendation settings.
    showOverlay - per-frame verdict in the slice views.
    results - texts shown in the panel, the null / recommended TI and the output nodes.
    """

    # typing.Union/Optional on purpose (not "A | B"): Slicer's node-combobox connector only recognises
    # typing.Union of node classes (parameterNodeWrapper.util.isNodeOrUnionOfNodes).
    inputNode: Optional[Union[vtkMRMLSequenceBrowserNode, vtkMRMLSequenceNode, vtkMRMLScalarVolumeNode]]  # noqa: UP007, UP045
    sliceIndex: Annotated[int, WithinRange(0, 512)] = 0
    combineSlices: bool = True
    useDefaultModel: bool = True
    modelPath: str = ""
    roiNode: Optional[Union[vtkMRMLSegmentationNode, vtkMRMLMarkupsROINode]]  # noqa: UP007, UP045
    roiSegmentId: str = ""
    autoMyocardium: bool = True
    useChosenTi: bool = False
    chosenTiMs: Annotated[float, WithinRange(0.0, 3000.0)] = 300.0
    optimalRangeMs: Annotated[FloatRange, RangeBounds(-100, 100), Default(FloatRange(*DEFAULT_OPTIMAL_RANGE_MS))]
    lgeOffsetMs: Annotated[float, WithinRange(-100.0, 200.0)] = 0.0
    driftMsPerMin: Annotated[float, WithinRange(-20.0, 20.0)] = 0.0
    minutesSinceScout: Annotated[float, WithinRange(0.0, 120.0)] = 0.0
    showOverlay: bool = True
    hasResult: bool = False
    nullTiMs: float = 0.0
    recommendedTiMs: float = 0.0
    nullTiText: str = "-"
    recommendedTiText: str = "-"
    verdictText: str = ""
    warningsText: str = ""
    statusText: str = ""
    predictionTable: vtkMRMLTableNode
    offsetChart: vtkMRMLPlotChartNode
    recommendationText: vtkMRMLTextNode
    automaticMyocardium: vtkMRMLSegmentationNode
    analysedBrowser: vtkMRMLSequenceBrowserNode


#
# TINullCorrectionWidget
#


class TINullCorrectionWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._observedBrowser = None
        self._overlay = None
        self._cancelRequested = False
        self._running = False

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/TINullCorrection.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = TINullCorrectionLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.runButton.connect("clicked(bool)", self.onRunButton)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancelButton)
        self.ui.jumpToNullButton.connect("clicked(bool)", self.onJumpToNullButton)
        self.ui.copyRecommendedTiButton.connect("clicked(bool)", self.onCopyRecommendedTiButton)
        self.ui.showResultsButton.connect("clicked(bool)", self.onShowResultsButton)
        self.ui.roiSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.onRoiNodeChanged)
        self.ui.roiSegmentSelector.connect("currentSegmentChanged(QString)", self.onRoiSegmentChanged)
        self.ui.modelPathLineEdit.connect("currentPathChanged(QString)", self.onModelPathChanged)
        self.ui.progressBar.setVisible(False)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.removeObservers()
        self._removeOverlay()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateGUI)
        # The overlay keeps following the browser after leaving the module (that is when it is most useful).

    def onSceneStartClose(self, caller, event) -> None:
        self._observeBrowser(None)
        self._removeOverlay()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputNode:
            candidate = self.logic.defaultInputNode(slicer.mrmlScene)
            if candidate:
                self._parameterNode.inputNode = candidate

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
    def _updateGUI(self, caller=None, event=None) -> None:
        pn = self._parameterNode
        if pn is None:
            return
        self.ui.modelPathLineEdit.enabled = not pn.useDefaultModel
        if self.ui.modelPathLineEdit.currentPath != pn.modelPath:
            self.ui.modelPathLineEdit.currentPath = pn.modelPath
        self.ui.chosenTiSpinBox.enabled = pn.useChosenTi
        self.ui.autoMyocardiumCheckBox.enabled = pn.roiNode is None  # a user ROI takes precedence
        isSegmentation = pn.roiNode is not None and pn.roiNode.IsA("vtkMRMLSegmentationNode")
        self.ui.roiSegmentSelector.setVisible(isSegmentation)
        self.ui.roiSegmentLabel.setVisible(isSegmentation)
        if isSegmentation and self.ui.roiSegmentSelector.currentNode() != pn.roiNode:
            self.ui.roiSegmentSelector.setCurrentNode(pn.roiNode)
        if isSegmentation and pn.roiSegmentId and self.ui.roiSegmentSelector.currentSegmentID() != pn.roiSegmentId:
            self.ui.roiSegmentSelector.setCurrentSegmentID(pn.roiSegmentId)
        nSlices = self.logic.numberOfSlices(slicer.mrmlScene, pn.inputNode)
        self.ui.sliceIndexSpinBox.enabled = nSlices > 1
        canRun = pn.inputNode is not None and not self._running and (pn.useDefaultModel or bool(pn.modelPath.strip()))
        self.ui.runButton.enabled = canRun
        self.ui.runButton.toolTip = _("Estimate the null and recommend the LGE TI") if canRun else _("Select a TI scout (and a model file if not using the default model)")
        self.ui.cancelButton.enabled = self._running
        self.ui.jumpToNullButton.enabled = pn.hasResult and pn.analysedBrowser is not None
        self.ui.copyRecommendedTiButton.enabled = pn.hasResult
        self.ui.showResultsButton.enabled = pn.hasResult and pn.offsetChart is not None
        self._observeBrowser(pn.analysedBrowser if (pn.hasResult and pn.showOverlay) else None)
        if not (pn.hasResult and pn.showOverlay):
            self._removeOverlay()
        else:
            self.updateOverlay()

    def onRoiNodeChanged(self, node) -> None:
        if self._parameterNode and node is not None and node.IsA("vtkMRMLSegmentationNode"):
            self.ui.roiSegmentSelector.setCurrentNode(node)

    def onModelPathChanged(self, path) -> None:
        if self._parameterNode and self._parameterNode.modelPath != (path or ""):
            self._parameterNode.modelPath = path or ""

    def onRoiSegmentChanged(self, segmentId) -> None:
        if self._parameterNode:
            self._parameterNode.roiSegmentId = segmentId or ""

    # ------------------------------------------------------------------------------------------- run
    def onRunButton(self) -> None:
        pn = self._parameterNode
        if pn is None:
            return
        ready, message = installPythonDependencies()
        if not ready:
            pn.statusText = message
            if "failed" in message:
                slicer.util.errorDisplay(message, windowTitle=_("TI Null Correction"))
            return
        from TINullCorrectionLib.core.pipeline import AnalysisCancelled

        self._running = True
        self._cancelRequested = False
        self.ui.progressBar.setValue(0)
        self.ui.progressBar.setVisible(True)
        pn.statusText = _("Running...")
        self._updateGUI()
        slicer.app.processEvents()
        try:
            message = self.logic.run(pn, progress=self.onProgress)
            pn.statusText = message
        except AnalysisCancelled:
            pn.statusText = _("Cancelled: nothing was changed in the scene.")
        except (ValueError, FileNotFoundError) as error:  # ScoutError and ModelLoadError are ValueErrors
            pn.statusText = _("Not run: {error}").format(error=error)
            slicer.util.errorDisplay(str(error), windowTitle=_("TI Null Correction"))
        except Exception as error:
            logging.exception("TINullCorrection failed")
            pn.statusText = _("Failed: {error}").format(error=error)
            slicer.util.errorDisplay(_("Unexpected error: {error}").format(error=error), windowTitle=_("TI Null Correction"))
        finally:
            self._running = False
            self.ui.progressBar.setVisible(False)
            self._updateGUI()

    def onProgress(self, done, total) -> None:
        if total:
            self.ui.progressBar.setValue(int(100 * done / total))
        slicer.app.processEvents()  # keeps the GUI (and the Cancel button) responsive between frames
        if self._cancelRequested:
            from TINullCorrectionLib.core.pipeline import AnalysisCancelled

            raise AnalysisCancelled()

    def onCancelButton(self) -> None:
        self._cancelRequested = True

    # --------------------------------------------------------------------------------------- results
    def onJumpToNullButton(self) -> None:
        pn = self._parameterNode
        if pn and pn.hasResult and pn.analysedBrowser is not None:
            self.logic.jumpToTi(pn.analysedBrowser, pn.nullTiMs)

    def onCopyRecommendedTiButton(self) -> None:
        pn = self._parameterNode
        if pn and pn.hasResult:
            qt.QApplication.clipboard().setText(f"{pn.recommendedTiMs:.0f}")
            slicer.util.showStatusMessage(_("Recommended TI {ti:.0f} ms copied").format(ti=pn.recommendedTiMs), 3000)

    def onShowResultsButton(self) -> None:
        pn = self._parameterNode
        if not (pn and pn.hasResult and pn.offsetChart is not None):
            return
        slicer.app.layoutManager().setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpPlotTableView)
        slicer.modules.plots.logic().ShowChartInLayout(pn.offsetChart)
        if pn.predictionTable is not None:
            appLogic = slicer.app.applicationLogic()
            appLogic.GetSelectionNode().SetActiveTableID(pn.predictionTable.GetID())
            appLogic.PropagateTableSelection()

    # --------------------------------------------------------------------------------------- overlay
    def _observeBrowser(self, browser) -> None:
        if browser is self._observedBrowser:
            return
        if self._observedBrowser is not None:
            self.removeObserver(self._observedBrowser, vtk.vtkCommand.ModifiedEvent, self.onBrowserModified)
            self.removeObserver(self._observedBrowser, vtkMRMLSequenceBrowserNode.ProxyNodeModifiedEvent, self.onBrowserModified)
        self._observedBrowser = browser
        if browser is not None:
            self.addObserver(browser, vtk.vtkCommand.ModifiedEvent, self.onBrowserModified)
            self.addObserver(browser, vtkMRMLSequenceBrowserNode.ProxyNodeModifiedEvent, self.onBrowserModified)

    def onBrowserModified(self, caller=None, event=None) -> None:
        self.updateOverlay()

    def _sliceViews(self):
        layoutManager = slicer.app.layoutManager()
        if layoutManager is None:
            return []
        return [layoutManager.sliceWidget(name).sliceView() for name in layoutManager.sliceViewNames()]

    def updateOverlay(self) -> None:
        pn = self._parameterNode
        if not (pn and pn.hasResult and pn.showOverlay and pn.predictionTable is not None and pn.analysedBrowser is not None):
            return
        text, colour = self.logic.overlayForCurrentFrame(pn.predictionTable, pn.analysedBrowser)
        if self._overlay is None:
            from TINullCorrectionLib.mrml.overlay import SliceViewTextOverlay

            self._overlay = SliceViewTextOverlay()
        views = self._sliceViews()
        renderers = [view.renderWindow().GetRenderers().GetItemAsObject(0) for view in views]
        self._overlay.show(renderers, text, colour)
        for view in views:
            view.scheduleRender()

    def _removeOverlay(self) -> None:
        if self._overlay is not None:
            self._overlay.remove()
            self._overlay = None
            for view in self._sliceViews():
                view.scheduleRender()


#
# TINullCorrectionLogic
#


class TINullCorrectionLogic(ScriptedLoadableModuleLogic):
    """Thin logic: reads the parameter node, calls TINullCorrectionLib, writes results back."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._model = None
        self._modelKey = None
        self._myocardiumModel = None

    def getParameterNode(self):
        return TINullCorrectionParameterNode(super().getParameterNode())

    @staticmethod
    def defaultInputNode(scene):
        """The most recently added sequence browser of a TI scout (loaded by the DICOM plugin), if any."""
        from TINullCorrectionLib.mrml.sequence import SCOUT_MARKER_ATTRIBUTE

        browsers = [scene.GetNthNodeByClass(i, "vtkMRMLSequenceBrowserNode") for i in range(scene.GetNumberOfNodesByClass("vtkMRMLSequenceBrowserNode"))]
        for browser in reversed(browsers):
            sequence = browser.GetMasterSequenceNode()
            if sequence is not None and sequence.GetAttribute(SCOUT_MARKER_ATTRIBUTE):
                return browser
        return None

    @staticmethod
    def numberOfSlices(scene, node) -> int:
        if node is None:
            return 0
        from TINullCorrectionLib.core.types import ScoutError
        from TINullCorrectionLib.mrml.sequence import resolve_input_node

        try:
            return resolve_input_node(scene, node).n_slices
        except ScoutError:
            return 0

    def loadModel(self, path=None):
        """Load (and cache) the CNN; the default weights when ``path`` is None."""
        from TINullCorrectionLib.mrml.analysis import load_model_checked

        key = None
        if path is not None:
            resolved = pathlib.Path(path)
            key = (str(resolved), resolved.stat().st_mtime if resolved.is_file() else None)
        if self._model is None or key != self._modelKey:
            self._model = load_model_checked(path)
            self._modelKey = key
        return self._model

    def loadMyocardiumModel(self):
        """Load (and cache) the shipped myocardium U-Net used when no ROI is selected."""
        from TINullCorrectionLib.mrml.analysis import load_myocardium_model_checked

        if self._myocardiumModel is None:
            self._myocardiumModel = load_myocardium_model_checked()
        return self._myocardiumModel

    def run(self, pn, progress=None) -> str:
        """Analyse ``pn.inputNode`` (and, with ``pn.combineSlices``, the other slices of its scout) and store the
        results in the parameter node; returns a status message.

        Raises ScoutError / ModelLoadError (ValueError) with a user-facing message on bad input; the
        scene is then unchanged.
        """
        from TINullCorrectionLib.core.presentation import panel_values
        from TINullCorrectionLib.mrml import analysis as mrml_analysis

        scene = slicer.mrmlScene
        inputs = mrml_analysis.inputs_for_run(scene, pn.inputNode, pn.sliceIndex, pn.combineSlices)  # bad input fails here
        modelPath = None if pn.useDefaultModel else pn.modelPath.strip()
        if modelPath is not None and not modelPath:
            raise ValueError(_("Select a model weights file, or use the default model."))
        model = self.loadModel(modelPath)
        myocardiumModel = self.loadMyocardiumModel() if (pn.autoMyocardium and pn.roiNode is None) else None
        settings = mrml_analysis.make_settings(
            (pn.optimalRangeMs.minimum, pn.optimalRangeMs.maximum), pn.lgeOffsetMs, pn.driftMsPerMin, pn.minutesSinceScout
        )
        study, outputs = mrml_analysis.analyse_ti_scout_slices(
            scene,
            inputs.scouts,
            inputs.names,
            model,
            settings,
            selected=inputs.selected,
            roi_node=pn.roiNode,
            segment_id=pn.roiSegmentId or None,
            chosen_ti_ms=pn.chosenTiMs if pn.useChosenTi else None,
            progress=progress,
            table_node=pn.predictionTable,
            chart_node=pn.offsetChart,
            text_node=pn.recommendationText,
            myocardium_model=myocardiumModel,
            myocardium_node=pn.automaticMyocardium,
        )
        values = panel_values(study, inputs.selected)
        with slicer.util.NodeModify(pn.parameterNode):
            if outputs.myocardium_node is not None:
                pn.automaticMyocardium = outputs.myocardium_node
            pn.predictionTable = outputs.table_node
            pn.offsetChart = outputs.chart_node
            pn.recommendationText = outputs.text_node
            pn.analysedBrowser = inputs.browser_node
            pn.nullTiMs = values.null_ti_ms
            pn.recommendedTiMs = values.recommended_lge_ti_ms
            pn.nullTiText = values.null_text
            pn.recommendedTiText = values.recommended_text
            pn.verdictText = values.verdict_text
            pn.warningsText = values.warnings_text
            pn.hasResult = True
        if inputs.browser_node is not None:
            self.jumpToTi(inputs.browser_node, study.slices[inputs.selected].null_ti_ms)
        result = study.slices[inputs.selected]
        if values.n_slices_combined > 1:
            return _("Done: {n} slices analysed and combined with {model}.").format(n=values.n_slices_combined, model=result.model_name or "the CNN")
        return _("Done: {n} frames analysed with {model}.").format(n=result.n_frames, model=result.model_name or "the CNN")

    @staticmethod
    def jumpToTi(browser, tiMs) -> None:
        from TINullCorrectionLib.mrml.sequence import item_number_for_ti

        sequence = browser.GetMasterSequenceNode()
        if sequence is not None:
            browser.SetSelectedItemNumber(item_number_for_ti(sequence, tiMs))

    @staticmethod
    def overlayForCurrentFrame(tableNode, browser):
        """(text, colour) of the browser's current frame, from the saved prediction table."""
        from TINullCorrectionLib.core.presentation import NEUTRAL_COLOUR, saved_overlay_text
        from TINullCorrectionLib.mrml.results import saved_result_from_table
        from TINullCorrectionLib.mrml.sequence import frame_index_for_item

        try:
            saved = saved_result_from_table(tableNode)
        except ValueError as error:
            return str(error), NEUTRAL_COLOUR
        frameIndex = frame_index_for_item(saved.prediction.ti_ms, browser.GetMasterSequenceNode(), browser.GetSelectedItemNumber())
        if frameIndex is None:
            return _("This frame was not analysed"), NEUTRAL_COLOUR
        return saved_overlay_text(saved, frameIndex)


#
# TINullCorrectionTest
#


class TINullCorrectionTest(ScriptedLoadableModuleTest):
    """Self-test: the same scenario that pytest runs under slicer-core (Testing/ti/mrml/test_scenario.py).

    The two scenario tests run the networks, which need onnxruntime (the module's one extra package). A fresh
    Slicer does not have it: interactively (Reload and Test) the test asks to install it through the same
    consent path as Run; in testing mode (``Slicer --testing``, ctest) it installs it without a dialog, and
    when that fails (no network) those tests are skipped with a message that says how to install it by hand.
    """

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_bad_input_leaves_scene_unchanged()  # needs no network: runs even before onnxruntime is installed
        self.setUp()
        self.test_simulated_scout_scenario()
        self.setUp()
        self.test_automatic_myocardium_scenario()

    def _requireInferenceRuntime(self):
        ready, message = installPythonDependencies(requester="TINullCorrection self-test")
        if not ready:
            self.skipTest(message)

    def test_automatic_myocardium_scenario(self):
        self._requireInferenceRuntime()
        self.delayDisplay("Same scout without an ROI: the U-Net finds the myocardium for the IR-fit cross-check")
        from TINullCorrectionLib.mrml.analysis import load_myocardium_model_checked
        from TINullCorrectionLib.scenarios import NULL_TOLERANCE_MS, run_simulated_scout_scenario

        result = run_simulated_scout_scenario(slicer.mrmlScene, seed=0, sequences_logic=slicer.modules.sequences.logic(),
                                              use_roi=False, myocardium_model=load_myocardium_model_checked())
        self.assertEqual(result["myocardium_source"], "automatic myocardium")
        self.assertIsNotNone(slicer.mrmlScene.GetNodeByID(result["myocardium_node_id"]))
        self.assertLessEqual(abs(result["null_error_ms"]), NULL_TOLERANCE_MS, result["summary"])
        self.delayDisplay(f"Test passed: null {result['estimated_null_ti_ms']:.0f} ms (truth {result['true_null_ti_ms']:.0f} ms)")

    def test_simulated_scout_scenario(self):
        self._requireInferenceRuntime()
        self.delayDisplay("Simulating a TI scout with a known null and running the whole module path")
        from TINullCorrectionLib.scenarios import NULL_TOLERANCE_MS, run_simulated_scout_scenario

        result = run_simulated_scout_scenario(slicer.mrmlScene, seed=0, sequences_logic=slicer.modules.sequences.logic())
        self.assertEqual(result["table_rows"], result["n_frames"])
        self.assertLessEqual(abs(result["null_error_ms"]), NULL_TOLERANCE_MS, result["summary"])
        # The widget's overlay path on the nodes the scenario wrote.
        logic = TINullCorrectionLogic()
        browser = slicer.mrmlScene.GetNodeByID(result["browser_node_id"])
        logic.jumpToTi(browser, result["estimated_null_ti_ms"])
        text, colour = logic.overlayForCurrentFrame(slicer.mrmlScene.GetNodeByID(result["table_node_id"]), browser)
        self.assertIn("TI", text)
        self.delayDisplay(f"Test passed: null {result['estimated_null_ti_ms']:.0f} ms (truth {result['true_null_ti_ms']:.0f} ms)")

    def test_bad_input_leaves_scene_unchanged(self):
        import numpy as np
        from CardiacLGECommonLib.mrml.volumes import add_volume_from_array
        from TINullCorrectionLib.core.types import ScoutError

        volume = add_volume_from_array(slicer.mrmlScene, np.zeros((1, 8, 8), np.float32), np.eye(4), "LGE image")
        logic = TINullCorrectionLogic()
        pn = logic.getParameterNode()
        pn.inputNode = volume
        before = slicer.mrmlScene.GetNumberOfNodes()
        with self.assertRaises(ScoutError):
            logic.run(pn)
        self.assertEqual(slicer.mrmlScene.GetNumberOfNodes(), before)
        self.assertFalse(pn.hasResult)
        self.delayDisplay("Test passed: a volume that is not a TI scout is rejected and nothing is created")
