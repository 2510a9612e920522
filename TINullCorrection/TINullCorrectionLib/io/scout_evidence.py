"""Is a group of frames whose "TI" comes from TriggerTime really a TI scout, or a cine? (core, pydicom)

Philips Look-Locker scouts carry their TI in TriggerTime (SCIENCE.md), but so does every cardiac
cine series: the trigger delay of each cardiac phase. The DICOM plugin must not claim cines. A group
whose TI comes from an inversion-time field (InversionTime, InversionTimes, Philips Prepulse Delay,
Siemens "TI" comments) is an inversion-recovery series by definition. A TriggerTime group needs
positive evidence of an inversion (or magnetisation) preparation in its header:

- ScanningSequence (0018,0020) contains ``IR``;
- SequenceVariant (0018,0021) contains ``MP`` (magnetisation prepared), as on the Philips Look-Locker;
- InversionRecovery (0018,9009) is ``YES`` (enhanced MR);
- SeriesDescription / ProtocolName / SequenceName name a scout: a word ``LL``, ``LOOK``, ``LOCKER``,
  ``LOOKLOCKER``, ``TI``, ``TISCOUT``, ``TIFIND``, ``INVERSION`` or ``IR`` (e.g. "LL-NATIVO",
  "TI Scout", "Cine IR").

This is our documented heuristic; without evidence the plugin still lists the group, unselected, so a
user can load an unusually labelled scout by ticking it.
"""

from __future__ import annotations

import re

import pydicom
from pydicom.tag import Tag

INVERSION_TIME_SOURCES = ("InversionTime", "InversionTimes", "Prepulse", "ImageComments")
SCOUT_WORDS = {"LL", "LOOK", "LOCKER", "LOOKLOCKER", "TI", "TISCOUT", "TIFIND", "INVERSION", "IR", "SCOUT"}
_TAG_INVERSION_RECOVERY = Tag(0x0018, 0x9009)


def _words(text) -> set[str]:
    words = {w for w in re.split(r"[^A-Za-z0-9]+", str(text or "").upper()) if w}
    joined = re.sub(r"[^A-Za-z0-9]+", "", str(text or "").upper())
    for compound in ("LOOKLOCKER", "TISCOUT", "TIFIND"):
        if compound in joined:
            words.add(compound)
    return words


def _values(value) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return {str(v).strip().upper() for v in value}
    return {part.strip().upper() for part in str(value).replace("\\", " ").split()}


def inversion_evidence(path: str, ti_source: str) -> tuple[bool, str]:
    """(True, why) when the series is an inversion-recovery scout; (False, why not) otherwise."""
    if any(source in ti_source for source in INVERSION_TIME_SOURCES):
        return True, f"TI from {ti_source}"
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as error:  # noqa: BLE001 - unreadable header: no evidence
        return False, f"header unreadable ({type(error).__name__})"
    if "IR" in _values(ds.get("ScanningSequence")):
        return True, "ScanningSequence contains IR"
    if "MP" in _values(ds.get("SequenceVariant")):
        return True, "SequenceVariant contains MP (magnetisation prepared)"
    element = ds.get(_TAG_INVERSION_RECOVERY)
    if element is not None and str(element.value).strip().upper() == "YES":
        return True, "InversionRecovery (0018,9009) = YES"
    for field in ("SeriesDescription", "ProtocolName", "SequenceName"):
        found = _words(ds.get(field)) & SCOUT_WORDS
        if found:
            return True, f"{field} names a TI scout ({', '.join(sorted(found))})"
    return False, (
        f"TI from {ti_source} and no inversion-recovery marker in the header (ScanningSequence, SequenceVariant, "
        "description): this looks like a cine series"
    )
