"""DICOM plugin of the CardiacLGE extension: loads TI scout / Look-Locker series as TI-indexed sequences.

This file is a hidden scripted module. Its constructor registers
``TINullCorrectionDICOMPluginClass`` in ``slicer.modules.dicomPlugins`` (the DICOM module instantiates
every registered class when it examines files). The examine and load logic lives in
``TINullCorrectionLib.mrml_dicom`` (tested under slicer-core on real DICOM files); this file only
copies its results into ``DICOMLoadable`` objects and places the loaded nodes in the subject hierarchy.
"""

import logging

import slicer
from slicer.ScriptedLoadableModule import ScriptedLoadableModule

try:
    from DICOMLib import DICOMLoadable, DICOMPlugin
except ImportError:  # DICOM support not built into this Slicer: the module loads, registers nothing
    DICOMPlugin = object
    DICOMLoadable = None

PLUGIN_NAME = "TINullCorrectionDICOMPlugin"


class TINullCorrectionDICOMPluginClass(DICOMPlugin):
    """Recognises TI scout / Look-Locker / IR series (TI varying across frames of one slice)."""

    def __init__(self):
        super().__init__()
        self.loadType = "TI scout sequence"

    def examineForImport(self, fileLists):
        """One loadable per TI scout slice; all file lists are also examined together (one series per TI)."""
        key = self.hashFiles([f for files in fileLists for f in files] + [str(len(fileLists))])
        if key in self.loadableCache:
            return self.loadableCache[key]
        from TINullCorrectionLib.mrml.dicom import examine_file_lists

        loadables = []
        try:
            specs = examine_file_lists(fileLists)
        except Exception as error:  # a plugin must never break the DICOM browser
            logging.warning(f"TI scout plugin: could not examine files: {error}")
            specs = []
        for spec in specs:
            loadable = DICOMLoadable()
            loadable.files = list(spec.files)
            loadable.name = spec.name
            loadable.tooltip = spec.tooltip
            loadable.warning = spec.warning
            loadable.confidence = spec.confidence
            loadable.selected = spec.selected
            # the slice's number in its series, so the loaded scout is labelled like the CLI labels it
            loadable.tiScoutSliceIndex = spec.candidate.slice_index if spec.candidate is not None else None
            loadables.append(loadable)
        self.loadableCache[key] = loadables
        return loadables

    def examineFiles(self, files):
        return self.examineForImport([files])

    def load(self, loadable):
        from TINullCorrectionLib.core.types import ScoutError
        from TINullCorrectionLib.mrml.dicom import load_files_as_sequence

        sequencesLogic = slicer.modules.sequences.logic() if hasattr(slicer.modules, "sequences") else None
        for attempt in range(2):
            try:
                sequenceNode, browserNode, proxyNode = load_files_as_sequence(
                    slicer.mrmlScene, loadable.files, loadable.name, sequencesLogic,
                    slice_index=getattr(loadable, "tiScoutSliceIndex", None),
                )
                break
            except ScoutError as error:
                # Compressed pixel data (e.g. Philips JPEG lossless) need pylibjpeg decoders that Slicer
                # does not ship: offer to install them (with consent), then try once more.
                if attempt == 0 and "codec" in str(error) and self._installDecoders():
                    continue
                logging.error(f"Could not load '{loadable.name}' as a TI scout: {error}")
                return False
        if proxyNode is None:
            logging.error(f"Could not load '{loadable.name}': the Sequences module did not create a proxy volume.")
            return False

        # Subject hierarchy: series item for the proxy volume (Slicer's standard DICOM placement),
        # with the sequence and browser nodes under the same series.
        self.addSeriesInSubjectHierarchy(loadable, proxyNode)
        shNode = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(slicer.mrmlScene)
        seriesItemID = shNode.GetItemByDataNode(proxyNode)
        parentItemID = shNode.GetItemParent(seriesItemID) if seriesItemID else 0
        for node in (sequenceNode, browserNode):
            itemID = shNode.GetItemByDataNode(node)
            if itemID and parentItemID:
                shNode.SetItemParent(itemID, parentItemID)

        # Show the first frame and the sequence browser toolbar.
        appLogic = slicer.app.applicationLogic()
        selectionNode = appLogic.GetSelectionNode()
        selectionNode.SetReferenceActiveVolumeID(proxyNode.GetID())
        appLogic.PropagateVolumeSelection()
        appLogic.FitSliceToBackground()
        if hasattr(slicer.modules, "sequences"):
            slicer.modules.sequences.setToolBarActiveBrowserNode(browserNode)
            slicer.modules.sequences.showSequenceBrowser(browserNode)
        return proxyNode


    @staticmethod
    def _installDecoders():
        try:
            from TINullCorrection import DICOM_DECODER_REQUIREMENTS, ensurePythonDependencies
        except ImportError:
            return False
        return ensurePythonDependencies(DICOM_DECODER_REQUIREMENTS, requester="TI scout DICOM plugin")


class TINullCorrectionDICOMPlugin(ScriptedLoadableModule):
    """Hidden module whose only job is to register the TI scout DICOM plugin."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "TI scout DICOM plugin"
        self.parent.categories = ["Developer Tools.DICOM Plugins"]
        self.parent.contributors = ["CardiacLGE developers"]
        self.parent.helpText = (
            "Loads cardiac TI scout (Look-Locker, TI Scout, Cine IR) series from the DICOM browser as sequences "
            "indexed by inversion time, for the TINullCorrection module. No user interface of its own."
        )
        self.parent.acknowledgementText = "CardiacLGE is open source (BSD-3-Clause)."
        self.parent.hidden = True
        if DICOMLoadable is None:
            logging.warning("TI scout DICOM plugin not registered: DICOMLib is not available in this Slicer.")
            return
        # The DICOM module reads slicer.modules.dicomPlugins when it examines files. This module may be
        # created before the DICOM module, so create the registry if it does not exist yet.
        if not hasattr(slicer.modules, "dicomPlugins"):
            slicer.modules.dicomPlugins = {}
        slicer.modules.dicomPlugins[PLUGIN_NAME] = TINullCorrectionDICOMPluginClass
