"""How Slicer's DICOM module pre-selects loadables, written from its documented behaviour (not copied).

Slicer 5.8.1 / 5.10.0 / 5.12.0, ``DICOMLib.DICOMUtils.selectHighestConfidenceLoadables``: the loadables
of all plugins are grouped by the SeriesInstanceUID of each loadable's ``files[0]``; within a group,
every loadable's ``selected`` becomes "its confidence equals the highest confidence in the group"
(ties all selected; the plugin's own ``selected`` is overwritten). ``loadSeriesByUID`` then loads every
selected loadable. The DICOM browser's table (``DICOMLoadableTable.setLoadables``) additionally keeps,
per plugin, only the first selected loadable among loadables with the same set of files.

The scalar-volume plugin (``DICOMScalarVolumePlugin.examineFiles``) offers per series an "all files"
loadable with the default confidence 0.5, selected (``DICOMLoadable``'s documented default is 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pydicom

SCALAR_VOLUME_CONFIDENCE = 0.5
MULTIVOLUME_TRIGGER_TIME_CONFIDENCE = 1.0  # MultiVolumeImporterPlugin, TriggerTime multivolumes


@dataclass
class Loadable:
    plugin: str
    files: list[str]
    confidence: float
    selected: bool
    name: str = ""
    spec: object = field(default=None, repr=False)


def series_uid(path: str) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SeriesInstanceUID"]).SeriesInstanceUID)


def scalar_volume_loadables(file_lists) -> list[Loadable]:
    return [Loadable("DICOMScalarVolumePlugin", list(files), SCALAR_VOLUME_CONFIDENCE, True, f"series {i}") for i, files in enumerate(file_lists)]


def from_specs(specs) -> list[Loadable]:
    return [Loadable("TINullCorrectionDICOMPlugin", list(s.files), s.confidence, s.selected, s.name, s) for s in specs]


def select_highest_confidence(loadables: list[Loadable]) -> None:
    groups: dict[str, list[Loadable]] = {}
    for loadable in loadables:
        groups.setdefault(series_uid(loadable.files[0]), []).append(loadable)
    for members in groups.values():
        best = max(m.confidence for m in members)
        for member in members:
            member.selected = member.confidence == best


def browser_table(loadables: list[Loadable]) -> None:
    """Per plugin, a loadable with the same file set as an earlier selected one is unticked."""
    for plugin in {lo.plugin for lo in loadables}:
        own = [lo for lo in loadables if lo.plugin == plugin]
        for index, this in enumerate(own):
            if any(prev.selected and set(prev.files) == set(this.files) for prev in own[:index]):
                this.selected = False


def selected(loadables: list[Loadable], plugin: str) -> list[Loadable]:
    return [lo for lo in loadables if lo.plugin == plugin and lo.selected]
