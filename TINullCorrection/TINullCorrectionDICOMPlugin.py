"""DICOM plugin of the CardiacLGE extension: loads TI scout / Look-Locker series as TI-indexed sequences.

This file is a hidden module. Like Slicer's own DICOM plugins (e.g. DICOMScalarVolumePlugin) its
module class is a plain class, not a ScriptedLoadableModule, so it registers no self-test; its
constructor registers ``TINullCorrectionDICOMPluginClass`` in ``slicer.modules.dicomPlugins`` (the DICOM
module instantiates every registered class when it examines files). The examine and load logic lives in
``TINullCorrectionLib.mrml.dicom`` (tested under slicer-core on real DICOM files, with Slicer's
pre-selection rules); this file only copies its results into ``DICOMLoadable`` objects and places the
loaded nodes in the subject hierarchy.
"""

import logging

import slicer

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
        from TINullCorrectionLib.io.tag_values import EXAMINE_TAGS

        # Read through slicer.dicomDatabase.fileValue; the DICOM module pre-caches these at import.
        self.tags.update(EXAMINE_TAGS)
        self._loadedScouts = {}  # load key -> proxy node loaded since the last examine

    def examineForImport(self, fileLists):
        """Loadables for TI scout slices; all file lists are examined together (one series per TI)."""
        self._loadedScouts = {}
        key = self.hashFiles([f for files in fileLists for f in files] + [str(len(fileLists))])
        if key in self.loadableCache:
            return self.loadableCache[key]
        from TINullCorrectionLib.mrml.dicom import examine_file_lists

        loadables = []
        try:
            specs = examine_file_lists(fileLists, file_value=slicer.dicomDatabase.fileValue)
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
        from TINullCorrectionLib.mrml.dicom import load_files_as_sequence_installing_decoders

        # A scout assembled from several series is offered once per member series (same files);
        # a script that loads every selected loadable gets the one scout, loaded once.
        loadKey = frozenset(loadable.files)
        previous = self._loadedScouts.get(loadKey)
        if previous is not None and slicer.mrmlScene.IsNodePresent(previous):
            return previous
        sequencesLogic = slicer.modules.sequences.logic() if hasattr(slicer.modules, "sequences") else None
        try:
            sequenceNode, browserNode, proxyNode = load_files_as_sequence_installing_decoders(
                slicer.mrmlScene, loadable.files, loadable.name, sequencesLogic, install_decoders=self._installDecoders,
                slice_index=getattr(loadable, "tiScoutSliceIndex", None),
            )
        except ScoutError as error:
            logging.error(f"Could not load '{loadable.name}' as a TI scout: {error}")
            return False
        if proxyNode is None:
            logging.error(f"Could not load '{loadable.name}': the Sequences module did not create a proxy volume.")
            return False
        self._loadedScouts[loadKey] = proxyNode

        # Subject hierarchy as Slicer's own DICOMImageSequencePlugin does: the displayed frame (proxy)
        # volume is the series item, under its patient and study; the sequence and its browser go
        # into the same study beside it.
        from TINullCorrectionLib.mrml.dicom import place_beside_series

        self.addSeriesInSubjectHierarchy(loadable, proxyNode)
        place_beside_series(slicer.mrmlScene, proxyNode, (sequenceNode, browserNode))

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
        """Ask for consent and install the JPEG decoders (TINullCorrection's installer); True when installed."""
        try:
            from TINullCorrection import DICOM_DECODER_REQUIREMENTS, ensurePythonDependencies
        except ImportError:
            return False
        return ensurePythonDependencies(DICOM_DECODER_REQUIREMENTS, requester="TI scout DICOM plugin")


class TINullCorrectionDICOMPlugin:
    """Hidden module whose only job is to register the TI scout DICOM plugin (no self-test)."""

    def __init__(self, parent):
        parent.title = "TI scout DICOM plugin"
        parent.categories = ["Developer Tools.DICOM Plugins"]
        parent.contributors = ["CardiacLGE developers"]
        parent.helpText = (
            "Loads cardiac TI scout (Look-Locker, TI Scout, Cine IR) series from the DICOM browser as sequences "
            "indexed by inversion time, for the TINullCorrection module. No user interface of its own."
        )
        parent.acknowledgementText = "CardiacLGE is open source (BSD-3-Clause)."
        parent.hidden = True  # only the DICOM module uses it
        self.parent = parent
        if DICOMLoadable is None:
            logging.warning("TI scout DICOM plugin not registered: DICOMLib is not available in this Slicer.")
            return
        # The DICOM module reads slicer.modules.dicomPlugins when it examines files. This module may be
        # created before the DICOM module, so create the registry if it does not exist yet.
        if not hasattr(slicer.modules, "dicomPlugins"):
            slicer.modules.dicomPlugins = {}
        slicer.modules.dicomPlugins[PLUGIN_NAME] = TINullCorrectionDICOMPluginClass
