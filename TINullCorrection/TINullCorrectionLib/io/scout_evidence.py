"""Is a group of frames really an inversion-recovery TI scout? (core; reads cached tag values)

Philips Look-Locker scouts carry their TI in TriggerTime (docs/METHODS.md), but so does every cardiac
cine series: the trigger delay of each cardiac phase. The DICOM plugin must not claim cines. A group
whose TI comes from an inversion-time field (InversionTime, InversionTimes, Philips Prepulse Delay,
Siemens "TI" comments) of ONE series is an inversion-recovery series by definition. A TriggerTime
group needs positive evidence of an inversion (or magnetisation) preparation in its header
(:func:`header_marker`):

- ScanningSequence (0018,0020) contains ``IR``;
- SequenceVariant (0018,0021) contains ``MP`` (magnetisation prepared), as on the Philips Look-Locker;
- InversionRecovery (0018,9009) is ``YES`` (enhanced MR);
- SeriesDescription / ProtocolName / SequenceName name a scout: a word ``LL``, ``LOOK``, ``LOCKER``,
  ``LOOKLOCKER``, ``TI``, ``TISCOUT``, ``TIFIND``, ``INVERSION``, ``IR`` or ``SCOUT`` (e.g.
  "LL-NATIVO", "TI Scout", "Cine IR").

A group ASSEMBLED from several single-image series (one series per TI, as IR spin-echo relaxometry is
acquired) needs more, because repeated LGE slices at re-adjusted TIs look the same on paper (one
image per series, same geometry, InversionTime differs). :func:`assembled_series_evidence` asks for
all of: every member series' header carries one of the markers above; no member is labelled as an
LGE acquisition (``LGE``, ``PSIR``, ``DE``, ``MDE``, ``DELAYED``, ``VIABILITY``,
``HYPERENHANCEMENT``) unless it also names a scout; and the TIs sweep the recovery curve: the longest
TI is at least :data:`SWEEP_MIN_RATIO` times the shortest (IR relaxometry 50-800 ms: x16; a TI scout
~100-1000+ ms; repeated LGE at 250/275/300 ms: x1.2).

This is our documented heuristic; without evidence the plugin still lists the group, unselected, so a
user can load an unusually labelled scout by ticking it. All look-ups go through a
``file_value(path, tag)`` callable (:mod:`tag_values`): Slicer's DICOM database cache in Slicer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from TINullCorrectionLib.io.tag_values import EXAMINE_TAGS, FileValue, PydicomFileValues, values

INVERSION_TIME_SOURCES = ("InversionTime", "InversionTimes", "Prepulse", "ImageComments")
SCOUT_WORDS = {"LL", "LOOK", "LOCKER", "LOOKLOCKER", "TI", "TISCOUT", "TIFIND", "INVERSION", "IR", "SCOUT"}
LGE_WORDS = {"LGE", "PSIR", "DE", "MDE", "DELAYED", "VIABILITY", "HYPERENHANCEMENT"}
#: Longest / shortest TI of a series assembled from single-TI series (see the module docstring).
SWEEP_MIN_RATIO = 2.0
_NAME_FIELDS = ("seriesDescription", "protocolName", "sequenceName")


def _words(text) -> set[str]:
    words = {w for w in re.split(r"[^A-Za-z0-9]+", str(text or "").upper()) if w}
    joined = re.sub(r"[^A-Za-z0-9]+", "", str(text or "").upper())
    for compound in ("LOOKLOCKER", "TISCOUT", "TIFIND"):
        if compound in joined:
            words.add(compound)
    return words


def _name_words(path: str, file_value: FileValue) -> dict[str, set[str]]:
    return {field: _words(file_value(path, EXAMINE_TAGS[field])) for field in _NAME_FIELDS}


def header_marker(path: str, file_value: FileValue) -> tuple[bool, str]:
    """(True, which marker) when the header shows an inversion / magnetisation preparation or names a scout."""
    if "IR" in values(file_value(path, EXAMINE_TAGS["scanningSequence"])):
        return True, "ScanningSequence contains IR"
    if "MP" in values(file_value(path, EXAMINE_TAGS["sequenceVariant"])):
        return True, "SequenceVariant contains MP (magnetisation prepared)"
    if file_value(path, EXAMINE_TAGS["inversionRecovery"]).strip().upper() == "YES":
        return True, "InversionRecovery (0018,9009) = YES"
    for field, words in _name_words(path, file_value).items():
        found = words & SCOUT_WORDS
        if found:
            return True, f"{field} names a TI scout ({', '.join(sorted(found))})"
    return False, "no inversion-recovery marker in the header (ScanningSequence, SequenceVariant, description)"


def inversion_evidence(path: str, ti_source: str, file_value: FileValue | None = None) -> tuple[bool, str]:
    """(True, why) when ONE series is an inversion-recovery scout; (False, why not) otherwise."""
    if any(source in ti_source for source in INVERSION_TIME_SOURCES):
        return True, f"TI from {ti_source}"
    found, why = header_marker(path, file_value or PydicomFileValues())
    if found:
        return True, why
    return False, f"TI from {ti_source} and {why}: this looks like a cine series"


def assembled_series_evidence(
    first_file_per_series: Sequence[str], ti_ms: Sequence[float], file_value: FileValue | None = None
) -> tuple[bool, str]:
    """(True, why) when single-TI series combined into one group form an inversion-recovery TI sweep."""
    file_value = file_value or PydicomFileValues()
    n = len(first_file_per_series)
    for path in first_file_per_series:
        found, _ = header_marker(path, file_value)
        if not found:
            return False, f"assembled from {n} series, not every one shows an inversion-recovery sequence in its header"
        words = set().union(*_name_words(path, file_value).values())
        lge = words & LGE_WORDS
        if lge and not words & SCOUT_WORDS:
            return False, f"assembled from {n} series labelled as LGE ({', '.join(sorted(lge))}), repeated LGE images are no TI scout"
    positive = [t for t in ti_ms if t > 0]
    if not positive or max(positive) < SWEEP_MIN_RATIO * min(positive):
        return False, (
            f"assembled from {n} series whose TIs ({min(ti_ms):.0f}-{max(ti_ms):.0f} ms) do not sweep the recovery "
            f"curve (longest < {SWEEP_MIN_RATIO:g} x shortest), as repeated LGE slices do"
        )
    return True, f"{n} inversion-recovery series with TIs {min(ti_ms):.0f}-{max(ti_ms):.0f} ms"
