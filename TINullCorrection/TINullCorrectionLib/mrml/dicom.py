"""Examine/load logic of the TI scout DICOM plugin, kept out of the plugin file so tests run it.

``examine_file_lists`` turns the file lists that Slicer's DICOM browser hands to a plugin (one list
per selected series) into :class:`LoadableSpec` records (one per TI scout slice); the plugin only
copies them into ``DICOMLoadable`` objects. ``load_files_as_sequence`` loads one of them as a
sequence + browser through :mod:`mrml_sequence`. Header reading and grouping are core
(:mod:`dicom_io`); nothing here reads patient identifiers.

Confidence (our choice, documented): Slicer pre-selects, per series, the loadables with the highest
confidence. MultiVolumeImporter offers multi-frame series keyed by TriggerTime with confidence 1.0
(0.9 for TemporalPositionIdentifier), DICOMImageSequencePlugin up to 1.05 and the scalar-volume
plugin 0.5; a recognised TI scout slice therefore gets :data:`TI_SCOUT_CONFIDENCE` = 1.1 so that it
is loaded as a TI-indexed sequence by default. A group that cannot load (duplicate TIs, mixed sizes)
is still listed, unselected, with low confidence and the reason in its warning. So is a group whose
"TI" is a TriggerTime without any inversion-recovery marker in its header (most likely a cine series,
see :mod:`scout_evidence`), so the plugin never takes cines away from the cine/multivolume plugins.
"""

from __future__ import annotations

from dataclasses import dataclass

import slicer

from TINullCorrectionLib.core.types import ScoutError
from TINullCorrectionLib.io import dicom as dicom_io
from TINullCorrectionLib.io.scout_evidence import inversion_evidence
from TINullCorrectionLib.mrml.sequence import ScoutSequenceNodes, sequence_from_scout

TI_SCOUT_CONFIDENCE = 1.1
#: TriggerTime groups without any inversion-recovery marker look like cines: listed, not selected.
CINE_LIKE_CONFIDENCE = 0.3
UNLOADABLE_CONFIDENCE = 0.2
LOAD_TYPE = "TI scout sequence"


@dataclass(frozen=True)
class LoadableSpec:
    """What the DICOM browser shows for one TI scout slice (copied into a DICOMLoadable)."""

    files: tuple[str, ...]
    name: str
    tooltip: str
    warning: str
    confidence: float
    selected: bool
    candidate: dicom_io.ScoutCandidate


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


def _spec_from_candidate(candidate: dicom_io.ScoutCandidate, n_slices: int) -> LoadableSpec:
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
    if problem:
        warnings.insert(0, f"Cannot load as a TI scout: {problem}.")
        confidence = UNLOADABLE_CONFIDENCE
    else:
        is_scout, why = inversion_evidence(candidate.files[0], candidate.ti_source)
        if not is_scout:
            warnings.insert(0, f"Not selected: {why}. Tick it if it is a TI scout.")
            confidence = CINE_LIKE_CONFIDENCE
    return LoadableSpec(
        files=tuple(candidate.files),
        name=loadable_name(candidate, n_slices),
        tooltip=tooltip,
        warning=" ".join(warnings),
        confidence=confidence,
        selected=confidence == TI_SCOUT_CONFIDENCE,
        candidate=candidate,
    )


def examine_file_lists(file_lists) -> list[LoadableSpec]:
    """One :class:`LoadableSpec` per TI scout slice found in the DICOM browser's file lists.

    Each list (one series) is examined on its own; when several lists are given, all files are also
    examined together so that TI series split into one series per TI (IR spin-echo relaxometry) are
    offered as one scout. A file set is offered once.
    """
    file_lists = [list(files) for files in file_lists if files]
    candidates: list[dicom_io.ScoutCandidate] = []
    for files in file_lists:
        candidates.extend(dicom_io.examine_dicom_files(files))
    if len(file_lists) > 1:
        candidates.extend(dicom_io.examine_dicom_files([f for files in file_lists for f in files]))
    unique: dict[frozenset, dicom_io.ScoutCandidate] = {}
    for candidate in candidates:
        unique.setdefault(frozenset(zip(candidate.files, candidate.frame_numbers or (0,) * len(candidate.files))), candidate)
    slices_per_series: dict[str, int] = {}
    for candidate in unique.values():
        slices_per_series[candidate.series_key] = slices_per_series.get(candidate.series_key, 0) + 1
    return [_spec_from_candidate(c, slices_per_series[c.series_key]) for c in unique.values()]


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
