"""Examine/load logic of the TI scout DICOM plugin, kept out of the plugin file so tests run it.

``examine_file_lists`` turns the file lists that Slicer's DICOM browser hands to a plugin (one list
per selected series) into :class:`LoadableSpec` records; the plugin only copies them into
``DICOMLoadable`` objects. ``load_files_as_sequence`` loads one of them as a sequence + browser
through :mod:`mrml.sequence`. Header reading and grouping are core (:mod:`io.dicom`); nothing here
reads patient identifiers.

Cost: the cheap filters read cached tag values through a ``file_value(path, tag)`` callable
(:mod:`io.tag_values`; in Slicer ``slicer.dicomDatabase.fileValue``, whose tags the plugin declares in
``self.tags`` so that Slicer pre-caches them at import): a series whose first file is not MR is
dropped without reading any header; the files of the MR series are then read once, all together,
so that series split into one series per TI are found in the same pass.

How Slicer pre-selects (``DICOMUtils.selectHighestConfidenceLoadables``, Slicer 5.8-5.12): loadables
of all plugins are grouped by the SeriesInstanceUID of their ``files[0]``; in each group every
loadable's ``selected`` becomes "confidence == the highest confidence in the group" (a plugin's own
``selected`` value is overwritten). The DICOM browser's table then keeps, per plugin, only the first
selected loadable among loadables with the same set of files. Our confidence values follow from that:

- A recognised TI scout slice gets :data:`TI_SCOUT_CONFIDENCE` = 1.1, above Slicer's scalar-volume
  plugin (0.5), MultiVolumeImporter (1.0 for TriggerTime multivolumes, 0.9) and
  DICOMImageSequencePlugin (up to 1.05), so it wins its series.
- A scout assembled from N series (one per TI) is offered once per member series: the first
  loadable (``primary``) and N-1 "listed again" loadables with the SAME files, reordered so that
  ``files[0]`` lies in that member series, and the same confidence. Each member series' group then has
  a loadable above the scalar volume, so none of the N series is also loaded as a plain volume; the
  browser table unticks the N-1 duplicates (same files as the ticked primary), and the plugin's
  ``load`` returns the already loaded scout for them when a script loads every selected loadable.
- A group that cannot load (duplicate TIs, mixed sizes), a TriggerTime group without any
  inversion-recovery marker (most likely a cine) and series assembled without positive
  inversion-recovery sweep evidence (:mod:`io.scout_evidence`, e.g. repeated LGE slices) are listed
  with confidence below 0.5: not pre-selected, and the scalar-volume / cine plugins keep their series.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import slicer

from TINullCorrectionLib.core.types import ScoutError
from TINullCorrectionLib.io import dicom as dicom_io
from TINullCorrectionLib.io import pixel_decoders, tag_values
from TINullCorrectionLib.mrml.sequence import ScoutSequenceNodes, sequence_from_scout

TI_SCOUT_CONFIDENCE = 1.1
#: Groups without inversion-recovery evidence (cine-like TriggerTime groups, repeated LGE slices).
CINE_LIKE_CONFIDENCE = 0.3
UNLOADABLE_CONFIDENCE = 0.2
LOAD_TYPE = "TI scout sequence"
#: Tags the plugin reads through Slicer's DICOM database (declared in the plugin's ``self.tags``).
PLUGIN_TAGS = dict(tag_values.EXAMINE_TAGS)


@dataclass(frozen=True)
class LoadableSpec:
    """What the DICOM browser shows for one TI scout slice (copied into a DICOMLoadable).

    primary: False for the extra loadables of a scout assembled from several series (same files,
    ``files[0]`` in another member series; see the module docstring). ``load_key`` is the same for a
    primary and its extra loadables: loading any of them loads the one scout.
    """

    files: tuple[str, ...]
    name: str
    tooltip: str
    warning: str
    confidence: float
    selected: bool
    candidate: dicom_io.ScoutCandidate
    primary: bool = True

    @property
    def load_key(self) -> frozenset:
        return frozenset(self.files)


def _blocking_problem(candidate: dicom_io.ScoutCandidate) -> str:
    if candidate.n_frames < dicom_io.MIN_FRAMES:
        return f"only {candidate.n_frames} frames"
    if not candidate.unique_ti:
        return "duplicate inversion times within one slice"
    for warning in candidate.warnings:
        lowered = warning.lower()
        if "different sizes" in lowered or "different orientations" in lowered:
            return warning
    return ""


def loadable_name(candidate: dicom_io.ScoutCandidate, n_slices_in_series: int) -> str:
    """'<series number>: <description> slice <k> - TI scout' (no patient information)."""
    description = candidate.series_description.strip() or "Unnamed series"
    if candidate.series_numbers:
        description = f"{candidate.series_numbers[0]}: {description}"
    slice_part = f" slice {candidate.slice_index + 1}/{n_slices_in_series}" if n_slices_in_series > 1 else ""
    return f"{description}{slice_part} - TI scout"


def _files_by_series(candidate: dicom_io.ScoutCandidate, file_value) -> dict[str, list[str]]:
    """Member series UID -> the candidate's files in it, in the candidate's (TI) order."""
    by_series: dict[str, list[str]] = {}
    if "+" not in candidate.series_key:  # one series (series_key joins the member UIDs with "+")
        return {candidate.series_key: list(candidate.files)}
    for path in candidate.files:
        by_series.setdefault(file_value(path, tag_values.EXAMINE_TAGS["seriesInstanceUID"]), []).append(path)
    return by_series


def _specs_from_candidate(candidate: dicom_io.ScoutCandidate, n_slices: int, file_value) -> list[LoadableSpec]:
    ti = candidate.ti_ms
    problem = _blocking_problem(candidate)
    tooltip = (
        f"TI scout slice at {candidate.slice_position_mm:.1f} mm: {candidate.n_frames} frames, "
        f"TI {min(ti):.0f}-{max(ti):.0f} ms from {candidate.ti_source}"
        + (f", {candidate.vendor}" if candidate.vendor else "")
        + (", phase-sensitive" if candidate.phase_sensitive else ", magnitude")
        + ". Loaded as a sequence indexed by inversion time for TINullCorrection."
    )
    warnings = list(candidate.warnings)
    confidence = TI_SCOUT_CONFIDENCE
    by_series = _files_by_series(candidate, file_value)
    if problem:
        warnings.insert(0, f"Cannot load as a TI scout: {problem}.")
        confidence = UNLOADABLE_CONFIDENCE
    else:
        # the CLI's rule (io.dicom): the same evidence decides what the plugin selects and what ti-correct accepts
        is_scout, why = dicom_io.inversion_recovery_evidence(candidate, file_value)
        if not is_scout:
            warnings.insert(0, f"Not selected: {why}. Tick it if it is a TI scout.")
            confidence = CINE_LIKE_CONFIDENCE
    primary = LoadableSpec(
        files=tuple(candidate.files),
        name=loadable_name(candidate, n_slices),
        tooltip=tooltip,
        warning=" ".join(warnings),
        confidence=confidence,
        selected=confidence == TI_SCOUT_CONFIDENCE,
        candidate=candidate,
    )
    specs = [primary]
    if confidence == TI_SCOUT_CONFIDENCE and len(by_series) > 1:
        # One more loadable per other member series, so that Slicer's per-series rule deselects
        # every member's scalar volume (module docstring). Same files, files[0] in that series.
        for number, member_files in enumerate(by_series.values()):
            if number == 0:
                continue
            files = tuple(member_files) + tuple(f for f in candidate.files if f not in set(member_files))
            specs.append(
                replace(
                    primary,
                    files=files,
                    name=f"{primary.name} (listed again for series {number + 1} of {len(by_series)})",
                    warning=(
                        f"Same TI scout as '{primary.name}', listed under each of its {len(by_series)} series so "
                        "that they are not also loaded as plain volumes: leave this one unticked."
                    ),
                    selected=False,
                    primary=False,
                )
            )
    return specs


def examine_file_lists(file_lists, file_value: tag_values.FileValue | None = None) -> list[LoadableSpec]:
    """The :class:`LoadableSpec` records for the DICOM browser's file lists (one list per series).

    ``file_value(path, tag)`` answers cached tag values (Slicer: ``slicer.dicomDatabase.fileValue``;
    default: :class:`~TINullCorrectionLib.io.tag_values.PydicomFileValues`). Lists whose first file is
    not MR are dropped without reading their headers; the headers of the MR lists are read once, all
    together, which also finds TI scouts split into one series per TI. A file set is offered once.
    """
    file_value = file_value or tag_values.PydicomFileValues()
    file_lists = [[str(f) for f in files] for files in file_lists if files]
    mr_files = [f for files in file_lists if tag_values.is_mr(file_value, files[0]) for f in files]
    if not mr_files:
        return []
    unique: dict[frozenset, dicom_io.ScoutCandidate] = {}
    for candidate in dicom_io.examine_dicom_files(mr_files):
        frames = candidate.frame_numbers or (0,) * len(candidate.files)
        unique.setdefault(frozenset(zip(candidate.files, frames)), candidate)
    slices_per_series: dict[str, int] = {}
    for candidate in unique.values():
        slices_per_series[candidate.series_key] = slices_per_series.get(candidate.series_key, 0) + 1
    specs: list[LoadableSpec] = []
    for candidate in unique.values():
        specs.extend(_specs_from_candidate(candidate, slices_per_series[candidate.series_key], file_value))
    return specs


def load_files_as_sequence(
    scene: slicer.vtkMRMLScene, files, name: str, sequences_logic=None, slice_index: int | None = None
) -> ScoutSequenceNodes:
    """Load the files of one TI scout slice as a TI-indexed sequence with a browser and proxy volume.

    slice_index: the slice's number in its series (LoadableSpec.candidate.slice_index) for its label.
    Raises ScoutError (nothing added to the scene) when the files are not one loadable TI scout slice.
    """
    if not files:
        raise ScoutError("No files to load.")
    scout = dicom_io.load_scout_from_files(list(files), slice_index=slice_index)
    return sequence_from_scout(scene, scout, name, create_browser=True, sequences_logic=sequences_logic)


def _needs_missing_decoder(files) -> bool:
    try:
        return not pixel_decoders.decoder_available(pixel_decoders.transfer_syntax(str(files[0])))
    except Exception:  # noqa: BLE001 - unreadable header: not a decoder problem
        return False


def load_files_as_sequence_installing_decoders(
    scene: slicer.vtkMRMLScene, files, name: str, sequences_logic=None, install_decoders=None, slice_index: int | None = None
) -> ScoutSequenceNodes:
    """:func:`load_files_as_sequence`; when the pixel data need a decoder that pydicom lacks (e.g. JPEG
    lossless without pylibjpeg), ``install_decoders()`` (the consent-based installer; returns True when
    installed) is called once, pydicom is made to see the new decoders in this session
    (:func:`~TINullCorrectionLib.io.pixel_decoders.refresh_pixel_decoders`) and the load is tried again.

    Raises ScoutError (scene unchanged) when the decoders are not installed, or are installed but this
    pydicom still does not see them (then the message says to restart Slicer).
    """
    try:
        return load_files_as_sequence(scene, files, name, sequences_logic, slice_index)
    except ScoutError:
        if not files or not _needs_missing_decoder(files):
            raise
        if install_decoders is None or not install_decoders():
            raise
    pixel_decoders.refresh_pixel_decoders()
    if _needs_missing_decoder(files):
        raise ScoutError(
            f"The JPEG decoders (pylibjpeg, pylibjpeg-libjpeg) are installed, but pydicom {pixel_decoders.pydicom.__version__} "
            "in this session still cannot use them: restart Slicer and load the series again."
        )
    return load_files_as_sequence(scene, files, name, sequences_logic, slice_index)


def place_beside_series(scene: slicer.vtkMRMLScene, series_node, nodes) -> None:
    """Put ``nodes`` (the sequence and its browser) in the subject-hierarchy folder that holds the series
    item of ``series_node`` (the study, after Slicer's ``addSeriesInSubjectHierarchy``); nothing happens
    when ``series_node`` has no item with a parent."""
    sh_node = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    series_item = sh_node.GetItemByDataNode(series_node) if sh_node is not None else 0
    parent_item = sh_node.GetItemParent(series_item) if series_item else 0
    if not parent_item or parent_item == sh_node.GetSceneItemID():
        return
    for node in nodes:
        if node is None:
            continue
        item = sh_node.GetItemByDataNode(node) or sh_node.CreateItem(parent_item, node)
        sh_node.SetItemParent(item, parent_item)
