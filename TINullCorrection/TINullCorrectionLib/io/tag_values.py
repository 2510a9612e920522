"""Cheap DICOM tag look-ups for the DICOM plugin's examine step (core, pydicom).

Slicer's DICOM plugins declare the tags they read in ``self.tags`` (Slicer pre-caches them in the
DICOM database when files are imported) and read them with ``slicer.dicomDatabase.fileValue(path,
"gggg,eeee")``, which returns the value as a string (multi-values joined by a backslash, "" when
absent). The examine code here takes any ``file_value(path, tag) -> str`` callable with that
contract: in Slicer the database's ``fileValue``; in pytest and the CLI :class:`PydicomFileValues`,
which reads a file's header once (pydicom, no pixel data) and answers every tag from it.
"""

from __future__ import annotations

from collections.abc import Callable

import pydicom
from pydicom.multival import MultiValue
from pydicom.tag import Tag

FileValue = Callable[[str, str], str]

#: Tags the examine step reads through ``file_value`` (name -> "gggg,eeee", Slicer's format).
EXAMINE_TAGS = {
    "modality": "0008,0060",
    "seriesInstanceUID": "0020,000E",
    "seriesDescription": "0008,103E",
    "protocolName": "0018,1030",
    "sequenceName": "0018,0024",
    "scanningSequence": "0018,0020",
    "sequenceVariant": "0018,0021",
    "inversionRecovery": "0018,9009",
}

MR_MODALITY = "MR"


def _tag(text: str) -> Tag:
    group, element = text.split(",")
    return Tag(int(group, 16), int(element, 16))


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, MultiValue)):
        return "\\".join(str(v) for v in value)
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").strip("\x00 ")
    return str(value)


class PydicomFileValues:
    """``file_value(path, tag)`` backed by pydicom: one header read per file, cached.

    Unreadable or non-DICOM files give "" for every tag (as Slicer's database does for unknown tags).
    ``header_reads`` counts the files actually read (the benchmark reports it).
    """

    def __init__(self) -> None:
        self._datasets: dict[str, pydicom.Dataset | None] = {}
        self.header_reads = 0

    def _dataset(self, path: str):
        if path not in self._datasets:
            self.header_reads += 1
            try:
                self._datasets[path] = pydicom.dcmread(path, stop_before_pixels=True)
            except Exception:  # noqa: BLE001 - not DICOM / unreadable: no values
                self._datasets[path] = None
        return self._datasets[path]

    def __call__(self, path: str, tag: str) -> str:
        ds = self._dataset(str(path))
        if ds is None:
            return ""
        element = ds.get(_tag(tag))
        return "" if element is None else _as_text(element.value).strip()


def values(text: str) -> set[str]:
    """Upper-case parts of a backslash-separated DICOM string value."""
    return {part.strip().upper() for part in str(text or "").split("\\") if part.strip()}


def is_mr(file_value: FileValue, path: str) -> bool:
    """True when the file's Modality (0008,0060) is MR (TI scouts are always MR)."""
    return file_value(path, EXAMINE_TAGS["modality"]).strip().upper() == MR_MODALITY
