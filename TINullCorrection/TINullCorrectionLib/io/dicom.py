"""Load TI scouts (Look-Locker / TI scout / IR series) from DICOM files with pydicom.

Steps (see docs/METHODS.md §1, "Where vendors put the per-frame TI in DICOM"):
1. Read headers only (``stop_before_pixels``); files that are not DICOM are skipped quietly.
2. Group frames by series (SeriesInstanceUID) and slice position: ImagePositionPatient projected on the
   slice normal ``n = row_cosine x column_cosine`` (fallback: SliceLocation).
3. Per group, take the TI from the first field, in this order, that is present on every frame and
   VARIES across the frames: InversionTime (0018,0082); InversionTimes (0018,9079) in the functional
   groups (0 and ~1.8e308 count as missing); TriggerTime (0018,1060); NominalCardiacTriggerDelayTime
   (0020,9153); Philips Prepulse Delay (2001,101B); Siemens ImageComments "TI 300" / "TI=300".
4. Sort frames by TI, read pixels (float32, modality rescale applied), build a :class:`TIScout`.

Documented policies (our choices):
- Single-TI series: IR spin-echo relaxometry is often acquired as one series per TI (one image each).
  Series that are no scout on their own but share study, image size, orientation and slice position
  are merged into one group when their TIs then vary (warning "assembled from N series").
- Philips scaling: Philips stores display values whose scale differs between separately scaled images.
  When every frame carries the private scale slope (2005,100E) and it differs between frames, pixels are
  converted to Philips floating-point values ``FP = (PV*RS + RI) / (RS*SS)`` (Chenevert et al.,
  Transl Oncol 2014;7:65) so that frames are comparable; otherwise RescaleSlope/Intercept are applied.
- The same SOP instance found twice (copied file) is kept once (warning); any other duplicate TI within
  one slice is an error (mixed series?).
- Skipped files are reported, never dropped without a word (:func:`load_ti_scouts_with_report`, the
  ``skipped`` list of ti-correct's output and JSON, and a warning on the scouts): a DICOM-looking file whose
  header cannot be read (truncated, damaged); a frame whose pixel data cannot be decoded while the other
  frames of its slice can (at least 3 left; otherwise the load fails naming the file); a frame that lacks a
  valid TI (missing, 0 or negative where 0 is no value, above the plausible range) in the field that at
  least three quarters of its slice carry. Files that are plainly not DICOM (other suffixes) are ignored.
- TIs are checked against the plausible ranges (docs/METHODS.md §1.7); a TriggerTime group (every cine
  varies it) loads through :func:`load_ti_scouts` only with inversion-recovery evidence in its header,
  the same evidence the DICOM plugin uses (:mod:`io.scout_evidence`); PixelSpacing must be positive and
  plausible; messages name slices by series number and position, never by series description.

No patient identifiers are read into the results: series are keyed by SeriesInstanceUID.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from io import BytesIO
from pathlib import Path
from struct import error as struct_error

import numpy as np
import pydicom
from CardiacLGECommonLib.core.geometry import LPS_TO_RAS
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.tag import Tag

from TINullCorrectionLib.core.results import SkippedInput
from TINullCorrectionLib.core.types import (
    MAX_FRAME_PIXELS,
    MAX_FRAMES,
    PLAUSIBLE_PIXEL_SPACING_MM,
    PLAUSIBLE_TI_MS,
    ScoutError,
    TIScout,
)

SRC_INVERSION_TIME = "InversionTime (0018,0082)"
SRC_INVERSION_TIMES = "InversionTimes (0018,9079)"
SRC_TRIGGER_TIME = "TriggerTime (0018,1060)"
SRC_NOMINAL_TRIGGER_DELAY = "NominalCardiacTriggerDelayTime (0020,9153)"
SRC_PHILIPS_PREPULSE = "Philips Prepulse Delay (2001,101B)"
SRC_IMAGE_COMMENTS = "ImageComments (0020,4000)"
TI_SOURCE_ORDER = (
    SRC_INVERSION_TIME,
    SRC_INVERSION_TIMES,
    SRC_TRIGGER_TIME,
    SRC_NOMINAL_TRIGGER_DELAY,
    SRC_PHILIPS_PREPULSE,
    SRC_IMAGE_COMMENTS,
)
MIN_FRAMES = 3
_MISSING_ABOVE = 1e30  # Philips writes 1.797e308 (DBL_MAX) for "no value"
_POSITION_TOL_MM = 0.05
_ORIENTATION_TOL = 1e-3
_TI_COMMENT_RE = re.compile(r"\bTI\s*[=:]?\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
_PHASE_IMAGE_TYPES = {"P", "PHASE", "REAL", "R", "R_IR", "PSIR"}
#: Frames one (enhanced multi-frame) file may hold: several slices of a scout, each at most MAX_FRAMES.
MAX_FRAMES_PER_FILE = 4 * MAX_FRAMES
#: Files with these suffixes (or none) that fail to parse are reported as skipped; others are not DICOM.
_DICOM_LIKE_SUFFIXES = {"", ".dcm", ".dicom", ".ima", ".dc3"}
#: A frame may lack the TI the rest of its slice carries when at least this fraction carries it (dropped, reported).
_MAJORITY_FRACTION = 0.75

_TAG_INVERSION_TIMES = Tag(0x0018, 0x9079)
_TAG_INVERSION_RECOVERY = Tag(0x0018, 0x9009)
_TAG_NOMINAL_TRIGGER_DELAY = Tag(0x0020, 0x9153)
_TAG_TRIGGER_TIME = Tag(0x0018, 0x1060)
_TAG_REPETITION_TIME = Tag(0x0018, 0x0080)
_TAG_IPP = Tag(0x0020, 0x0032)
_TAG_IOP = Tag(0x0020, 0x0037)
_TAG_PIXEL_SPACING = Tag(0x0028, 0x0030)
_TAG_SLICE_THICKNESS = Tag(0x0018, 0x0050)
_TAG_RESCALE_SLOPE = Tag(0x0028, 0x1053)
_TAG_RESCALE_INTERCEPT = Tag(0x0028, 0x1052)


@dataclass(frozen=True)
class ScoutCandidate:
    """One (series, slice) group of frames whose TI varies: a TI scout that can be loaded.

    files[n] / frame_numbers[n]: file and frame (0 for single-frame files) of the n-th frame, sorted by TI.
    ti_ms[n]: the TI of each frame from ``ti_source``; tr_ms[n]: RepetitionTime (None where absent).
    unique_ti: False when two frames share a TI (loading then fails with a clear message).
    """

    series_key: str
    slice_index: int
    slice_position_mm: float
    files: tuple[str, ...]
    ti_ms: tuple[float, ...]
    ti_source: str
    series_description: str
    vendor: str
    n_frames: int
    unique_ti: bool
    phase_sensitive: bool
    warnings: tuple[str, ...] = ()
    frame_numbers: tuple[int, ...] = ()
    tr_ms: tuple[float | None, ...] = ()
    series_numbers: tuple[int, ...] = ()
    #: frames of this slice left out (no valid TI where the others carry one), each with the reason
    skipped: tuple[SkippedInput, ...] = ()


@dataclass(frozen=True)
class LoadedScouts:
    """What :func:`load_ti_scouts_with_report` found: the scouts, and every input left out with the reason."""

    scouts: tuple[TIScout, ...]
    skipped: tuple[SkippedInput, ...] = ()


@dataclass(frozen=True)
class _FrameHeader:
    """Header facts of one frame (one single-frame file, or one frame of an enhanced file)."""

    path: str
    frame_number: int
    sop_uid: str
    series_uid: str
    series_number: int | None
    study_uid: str
    description: str
    vendor: str
    rows: int
    columns: int
    orientation: tuple[float, ...] | None
    position: tuple[float, float, float] | None
    slice_location: float | None
    pixel_spacing: tuple[float, float] | None
    slice_thickness: float | None
    image_type: tuple[str, ...]
    ti_values: dict
    tr_ms: float | None
    #: TI fields present with a value that is no valid TI (source -> the raw value), for the messages
    ti_invalid: dict = None
    #: the file's name as shown in messages (relative to the folder given)
    shown: str = ""
    #: InversionRecovery (0018,9009) is YES for this frame (enhanced MR: in the MR Modifier Sequence)
    inversion_recovery: bool = False


@dataclass(frozen=True)
class _Group:
    frames: tuple[_FrameHeader, ...]
    position_mm: float
    warnings: tuple[str, ...] = ()
    skipped: tuple[SkippedInput, ...] = ()


# ----------------------------------------------------------------------------------------- file discovery
def _iter_paths(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Expand folders (recursively) and files into a sorted, de-duplicated list of files."""
    return [path for path, _ in _iter_named_paths(paths)]


def _iter_named_paths(paths) -> list[tuple[Path, str]]:
    """(file, name shown in messages) for folders (recursively, the name relative to the folder) and files
    (their name), sorted, de-duplicated."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: list[tuple[Path, str]] = []
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            found.extend((p, p.relative_to(path).as_posix()) for p in sorted(path.rglob("*"))
                         if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            found.append((path, path.name))
        else:
            raise ScoutError(f"Path not found: {path}")
    seen: set[Path] = set()
    unique = []
    for p, shown in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append((p, shown))
    return unique


def _has_dicom_preamble(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def _is_image_sop_class(ds: Dataset) -> bool:
    """True when the file meta says the file is an image (MR, enhanced MR, secondary capture, CT...)."""
    meta = getattr(ds, "file_meta", None)
    uid = str(meta.get("MediaStorageSOPClassUID", "")) if meta is not None else ""
    uid = uid or str(ds.get("SOPClassUID", ""))
    return uid.startswith("1.2.840.10008.5.1.4.1.1.") and not uid.startswith(("1.2.840.10008.5.1.4.1.1.88", "1.2.840.10008.5.1.4.1.1.11"))


# ------------------------------------------------------------------------------------------ header parsing
def _float_or_none(value) -> float | None:
    """A finite float from a DICOM value (first element of a multi-value), else None."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, MultiValue)):
        if len(value) == 0:
            return None
        value = value[0]
    if isinstance(value, bytes):
        try:
            value = np.frombuffer(value[:4], dtype="<f4")[0] if len(value) >= 4 else None
        except ValueError:
            return None
        if value is None:
            return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _valid_ti(value, allow_zero: bool = False) -> float | None:
    """TI in ms, or None for missing / placeholder values (0, negative, ~1.8e308) and values above the
    plausible range (docs/METHODS.md §1.7)."""
    number = _float_or_none(value)
    if number is None or abs(number) > _MISSING_ABOVE:
        return None
    if number < 0 or (number == 0 and not allow_zero) or number > PLAUSIBLE_TI_MS[1]:
        return None
    return number


def _invalid_ti_text(value) -> str | None:
    """The raw value of a TI field that is present but no valid TI (for messages), else None."""
    if _is_empty(value):
        return None
    number = _float_or_none(value)
    if number is not None and abs(number) > _MISSING_ABOVE:
        return None  # the documented "no value" placeholder
    text = str(value[0] if isinstance(value, (list, tuple, MultiValue)) and len(value) else value)
    return text[:32]


def _is_empty(value) -> bool:
    return value is None or (isinstance(value, (str, bytes)) and len(value) == 0)


def _find_nested(items: Sequence[Dataset], tag: Tag, depth: int = 3):
    """First value of ``tag`` inside the given datasets or their nested sequences (functional groups)."""
    for item in items:
        if item is None:
            continue
        if tag in item:
            value = item[tag].value
            if not _is_empty(value):
                return value
    if depth <= 0:
        return None
    for item in items:
        if item is None:
            continue
        for element in item:
            if element.VR == "SQ" and element.value:
                found = _find_nested(list(element.value), tag, depth - 1)
                if found is not None:
                    return found
    return None


#: Values pydicom converted from the raw bytes of header elements, keyed by those bytes and how they are encoded.
#: The files of one series mostly carry the same bytes for most elements (size, bits, vendor, orientation,
#: spacing, the series' UIDs): converting them (pydicom's element conversion, about 20 us an element) was most
#: of the time of reading a scout's headers. Bounded; cleared when full.
_CONVERTED_VALUES: dict = {}
_CONVERTED_VALUES_LIMIT = 4096
_TAG_SPECIFIC_CHARACTER_SET = Tag(0x0008, 0x0005)
#: Tag -> whether its values may be shared between files: a public tag whose one dictionary VR is neither a
#: sequence, binary, unknown nor ambiguous ("US or SS"), so that the raw bytes and their encoding alone decide
#: the value.
_SHAREABLE_TAGS: dict = {}


def _shareable(tag: int) -> bool:
    known = _SHAREABLE_TAGS.get(tag)
    if known is None:
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            vr = ""
        known = _SHAREABLE_TAGS[tag] = (not (tag >> 16) & 1) and vr not in ("", "SQ", "UN", "OB", "OW", "OF", "OD", "OL", "OV") and " " not in vr
    return known


def _value(ds: Dataset, tag: int):
    """``ds[tag].value``, or None when ``ds`` has no such element; values of elements whose raw bytes (and
    encoding, and the dataset's character set) were converted before are reused (:data:`_CONVERTED_VALUES`)."""
    element = ds.get_item(tag)
    if element is None:
        return None
    if not isinstance(element, RawDataElement) or element.value is None or not _shareable(tag):
        return ds[tag].value
    charset = ds.get_item(_TAG_SPECIFIC_CHARACTER_SET)
    if charset is not None:
        charset = charset.value if isinstance(charset, RawDataElement) else repr(charset.value)
    key = (tag, element.VR, element.is_implicit_VR, element.is_little_endian, element.value, charset)
    try:
        return _CONVERTED_VALUES[key]
    except KeyError:
        pass
    value = ds[tag].value
    if len(_CONVERTED_VALUES) >= _CONVERTED_VALUES_LIMIT:
        _CONVERTED_VALUES.clear()
    _CONVERTED_VALUES[key] = value
    return value


_KEYWORD_TAGS: dict = {}


def _get(ds: Dataset, keyword: str, default=None):
    """``ds.get(keyword, default)`` of a top-level element, through :func:`_value`."""
    tag = _KEYWORD_TAGS.get(keyword)
    if tag is None:
        tag = _KEYWORD_TAGS[keyword] = Tag(tag_for_keyword(keyword))
    value = _value(ds, tag)
    return default if value is None and tag not in ds else value


def _lookup(ds: Dataset, groups: Sequence[Dataset], tag: Tag):
    """Value of ``tag`` from the frame's functional groups (searched inside), else from the top level."""
    found = _find_nested([g for g in groups if g is not None], tag, depth=2) if groups else None
    if found is None:
        value = _value(ds, tag)
        found = None if _is_empty(value) else value
    return found


#: group -> the tags of every private creator position of that group, (gggg,0010)-(gggg,00FF).
_PRIVATE_CREATOR_TAGS: dict = {}


def _philips_private(ds: Dataset, group: int, offset: int, creator: str):
    """Value of a Philips private element, found through its private creator (any block position)."""
    creators = _PRIVATE_CREATOR_TAGS.get(group)
    if creators is None:
        creators = _PRIVATE_CREATOR_TAGS[group] = frozenset((group << 16) | element for element in range(0x10, 0x100))
    if creators.isdisjoint(ds.keys()):
        return None  # no private creator in the group (private_block's KeyError, without slicing the dataset)
    try:
        return ds.private_block(group, creator)[offset].value
    except KeyError:
        return None


def _philips_prepulse(ds: Dataset):
    """Philips Prepulse Delay (2001,xx1B) of the "Philips Imaging DD 001" block (usually (2001,101B))."""
    return _philips_private(ds, 0x2001, 0x1B, "Philips Imaging DD 001")


def _ti_values(ds: Dataset, groups: Sequence[Dataset]) -> tuple[dict, dict]:
    """All TI candidates of one frame, keyed by source name (missing sources absent), and the sources present
    with an invalid value (source -> raw text)."""
    values, invalid = {}, {}
    raw = {
        SRC_INVERSION_TIME: (_lookup(ds, groups, Tag(0x0018, 0x0082)), False),
        SRC_INVERSION_TIMES: (_lookup(ds, groups, _TAG_INVERSION_TIMES), False),
        SRC_TRIGGER_TIME: (_value(ds, _TAG_TRIGGER_TIME), True),
        SRC_NOMINAL_TRIGGER_DELAY: (_lookup(ds, groups, _TAG_NOMINAL_TRIGGER_DELAY), True),
        SRC_PHILIPS_PREPULSE: (_philips_prepulse(ds), False),
    }
    for source, (value, allow_zero) in raw.items():
        number = _valid_ti(value, allow_zero=allow_zero)
        if number is not None:
            values[source] = number
        else:
            text = _invalid_ti_text(value)
            if text is not None:
                invalid[source] = text
    comments = _get(ds, "ImageComments")
    if comments:
        match = _TI_COMMENT_RE.search(str(comments))
        if match:
            number = _valid_ti(match.group(1))
            if number is not None:
                values[SRC_IMAGE_COMMENTS] = number
            else:
                invalid[SRC_IMAGE_COMMENTS] = match.group(1)[:32]
    return values, invalid


def _tuple_of_floats(value, length: int) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if len(numbers) != length or not all(math.isfinite(v) for v in numbers):
        return None
    return numbers


def _frame_headers(path: Path, ds: Dataset, shown: str = "") -> list[_FrameHeader]:
    """One header per frame: single-frame files give one, enhanced multi-frame files one per frame.
    ValueError for a NumberOfFrames that no TI scout file holds (a damaged header: 1e9 frames once)."""
    n_frames = int(_get(ds, "NumberOfFrames", 1) or 1)
    if not 1 <= n_frames <= MAX_FRAMES_PER_FILE:
        raise ValueError(f"NumberOfFrames {n_frames} is outside 1-{MAX_FRAMES_PER_FILE}")
    shared = _get(ds, "SharedFunctionalGroupsSequence")
    shared_item = shared[0] if shared else None
    per_frame = _get(ds, "PerFrameFunctionalGroupsSequence")
    common = {
        "path": str(path),
        "sop_uid": str(_get(ds, "SOPInstanceUID", "")),
        "series_uid": str(_get(ds, "SeriesInstanceUID", "")),
        "series_number": int(_get(ds, "SeriesNumber")) if _get(ds, "SeriesNumber") not in (None, "") else None,
        "study_uid": str(_get(ds, "StudyInstanceUID", "")),
        "description": str(_get(ds, "SeriesDescription", "") or ""),
        "vendor": str(_get(ds, "Manufacturer", "") or ""),
        "rows": int(_get(ds, "Rows", 0) or 0),
        "columns": int(_get(ds, "Columns", 0) or 0),
        "image_type": tuple(str(v).upper() for v in (_get(ds, "ImageType") or ())),
    }
    headers = []
    for index in range(n_frames):
        frame_item = per_frame[index] if per_frame is not None and index < len(per_frame) else None
        groups = [g for g in (frame_item, shared_item) if g is not None]
        spacing = _tuple_of_floats(_lookup(ds, groups, _TAG_PIXEL_SPACING), 2)
        tr_ms = _valid_ti(_lookup(ds, groups, _TAG_REPETITION_TIME))
        ti_values, ti_invalid = _ti_values(ds, groups)
        inversion_recovery = str(_lookup(ds, groups, _TAG_INVERSION_RECOVERY) or "").strip().upper() == "YES"
        headers.append(
            _FrameHeader(
                frame_number=index,
                orientation=_tuple_of_floats(_lookup(ds, groups, _TAG_IOP), 6),
                position=_tuple_of_floats(_lookup(ds, groups, _TAG_IPP), 3),
                slice_location=_float_or_none(_get(ds, "SliceLocation")),
                pixel_spacing=spacing,
                slice_thickness=_float_or_none(_lookup(ds, groups, _TAG_SLICE_THICKNESS)),
                ti_values=ti_values,
                ti_invalid=ti_invalid,
                tr_ms=tr_ms,
                shown=(shown or path.name) + (f" frame {index + 1}" if n_frames > 1 else ""),
                inversion_recovery=inversion_recovery,
                **common,
            )
        )
    return headers


#: Elements larger than this are not read with the header but when first used (the pixel data): one parse of
#: each file serves both the header pass and the pixel load (pydicom's ``defer_size``).
_DEFER_BYTES = 4096
#: Files of one load read whole into memory and parsed from there, pixel data included, while their sizes add up
#: to at most this: one read of each file instead of a header parse plus a second open for the deferred pixel
#: data (measured: 30 files of 75 kB, 15-20% less time to parse). Beyond it (a folder of many other series) the
#: pixel data are deferred as above, so memory stays bounded.
_IN_MEMORY_BYTES = 256 * 1024 * 1024


def _read_one_header(path: Path, keep_for_pixels: bool, in_memory: bool = False) -> tuple[Dataset, bool]:
    """(header of one file, whether it can serve the pixel load); with ``keep_for_pixels`` parsed once for the
    pixel load too: from the file's bytes with ``in_memory``, otherwise with the pixel data deferred.

    A file whose parse fails or lacks Rows/Columns (e.g. truncated inside encapsulated pixel data) is
    read again without the pixels, so that it is judged exactly as a header-only read judges it (and its pixel
    load later reports the damage)."""
    if keep_for_pixels:
        try:
            if in_memory:
                ds = pydicom.dcmread(BytesIO(path.read_bytes()), force=False)
            else:
                ds = pydicom.dcmread(path, defer_size=_DEFER_BYTES, force=False)
            if "Rows" in ds and "Columns" in ds:
                return ds, True
        except Exception:  # noqa: BLE001 - judged by the header-only read below
            pass
    return pydicom.dcmread(path, stop_before_pixels=True, force=False), False


def _read_headers(paths, datasets: dict | None = None) -> tuple[list[_FrameHeader], int]:
    """Headers of all DICOM image frames among ``paths``; returns (headers, number of files looked at)."""
    headers, n_files, _ = _read_headers_reporting(paths, datasets)
    return headers, n_files


def _read_headers_reporting(paths, datasets: dict | None = None) -> tuple[list[_FrameHeader], int, list[SkippedInput]]:
    """(headers of all DICOM image frames, number of files looked at, DICOM-looking files skipped and why).

    Plainly non-DICOM files (a suffix such as .txt, .json, .png) and non-image DICOM objects (DICOMDIR,
    structured reports, presentation states) are ignored without a report.
    datasets: when given, filled with {path: Dataset} of the image files (pixel data deferred, not read yet),
    so that loading the pixels does not parse the files a second time.
    """
    files = _iter_named_paths(paths)
    headers: list[_FrameHeader] = []
    skipped: list[SkippedInput] = []
    budget_bytes = _IN_MEMORY_BYTES  # left for files read whole (_IN_MEMORY_BYTES)
    for path, shown in files:
        if path.name.upper() == "DICOMDIR":
            continue
        try:
            in_memory = False
            if datasets is not None:
                size = path.stat().st_size
                in_memory = size <= budget_bytes
                budget_bytes -= size if in_memory else 0
            ds, reusable = _read_one_header(path, datasets is not None, in_memory)
        except (InvalidDicomError, OSError, EOFError, ValueError, TypeError, KeyError, AttributeError, IndexError,
                OverflowError, struct_error) as error:
            if path.suffix.lower() in _DICOM_LIKE_SUFFIXES or _has_dicom_preamble(path):
                reason = "not a readable DICOM file" if isinstance(error, InvalidDicomError) else "damaged or truncated DICOM header"
                skipped.append(SkippedInput(shown, f"{reason} ({type(error).__name__}: {str(error)[:120]})"))
            continue
        if "Rows" not in ds or "Columns" not in ds:
            if _is_image_sop_class(ds):
                skipped.append(SkippedInput(shown, "damaged or truncated DICOM file: an image without Rows/Columns in its header"))
            continue  # no image (structured report, presentation state, ...)
        try:
            headers.extend(_frame_headers(path, ds, shown))
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as error:
            skipped.append(SkippedInput(shown, f"unreadable DICOM header values ({type(error).__name__}: {str(error)[:120]})"))
            continue
        if datasets is not None and reusable:
            datasets[str(path)] = ds
    return headers, len(files), skipped


# ---------------------------------------------------------------------------------------------- grouping
def _normal(orientation: Sequence[float]) -> np.ndarray:
    row = np.asarray(orientation[:3], dtype=float)
    col = np.asarray(orientation[3:6], dtype=float)
    normal = np.cross(row, col)
    norm = np.linalg.norm(normal)
    return normal / norm if norm > 0 else np.array([0.0, 0.0, 1.0])


def _slice_position(frame: _FrameHeader, normal: np.ndarray | None) -> float | None:
    """Position of the frame's plane along the slice normal (mm); SliceLocation as a fallback."""
    if frame.position is not None and normal is not None:
        return float(np.dot(np.asarray(frame.position), normal))
    return frame.slice_location


def _cluster_positions(frames: Sequence[_FrameHeader]) -> list[tuple[float, list[_FrameHeader]]]:
    """Split frames into slices by their position along the (first frame's) slice normal."""
    reference = next((f.orientation for f in frames if f.orientation is not None), None)
    normal = _normal(reference) if reference is not None else None
    keyed = []
    for frame in frames:
        position = _slice_position(frame, normal)
        keyed.append((0.0 if position is None else position, frame))
    keyed.sort(key=lambda item: item[0])
    clusters: list[tuple[float, list[_FrameHeader]]] = []
    for position, frame in keyed:
        if clusters and abs(position - clusters[-1][0]) <= _POSITION_TOL_MM:
            clusters[-1][1].append(frame)
        else:
            clusters.append((position, [frame]))
    return clusters


def _choose_ti_source(frames: Sequence[_FrameHeader]) -> tuple[str | None, list[float] | None, str]:
    """First source (docs/METHODS.md order) present on all frames whose value varies; else (None, None, why).

    ``why`` names the frames when a source is present on some frames only (missing or invalid on the others).
    """
    constant_sources = []
    partial = []
    for source in TI_SOURCE_ORDER:
        values = [f.ti_values.get(source) for f in frames]
        if any(v is None for v in values):
            if any(v is not None for v in values):
                partial.append(source)
            continue
        if len(set(values)) > 1:
            return source, [float(v) for v in values], ""
        constant_sources.append(f"{source} = {values[0]:g} on every frame")
    if partial:  # the most useful message: which frames lack the TI the others carry
        constant = f"; other fields do not vary ({'; '.join(constant_sources)})" if constant_sources else ""
        return None, None, _missing_ti_text(frames, partial[0]) + constant
    if constant_sources:
        return None, None, "the TI does not vary across the frames (" + "; ".join(constant_sources) + ")"
    invalid = [f for f in frames if f.ti_invalid]
    if invalid:
        first = invalid[0]
        source, raw = next(iter(first.ti_invalid.items()))
        return None, None, (f"no valid TI in any field ({len(invalid)} of {len(frames)} frames carry invalid values, "
                            f"e.g. {source} = {raw} in {first.shown})")
    return None, None, "no TI found in any field (" + ", ".join(TI_SOURCE_ORDER) + ")"


def _missing_ti_text(frames: Sequence[_FrameHeader], source: str, limit: int = 5) -> str:
    """'<source> is missing or invalid on k of n frames: <file> (<raw value>), ...'."""
    missing = [f for f in frames if f.ti_values.get(source) is None]
    shown = ", ".join(f.shown + (f" ({f.ti_invalid[source]})" if f.ti_invalid and source in f.ti_invalid else " (absent)")
                      for f in missing[:limit])
    more = f" and {len(missing) - limit} more" if len(missing) > limit else ""
    return f"{source} is missing or invalid on {len(missing)} of {len(frames)} frames: {shown}{more}"


def _split_majority_source(frames: Sequence[_FrameHeader]) -> tuple[list[_FrameHeader], list[SkippedInput]] | None:
    """When no TI field is complete but one is carried (and varies) by at least ``_MAJORITY_FRACTION`` of the
    frames and at least MIN_FRAMES of them: (frames that carry it, the others as skipped with the reason);
    else None."""
    for source in TI_SOURCE_ORDER:
        carrying = [f for f in frames if f.ti_values.get(source) is not None]
        if len(carrying) == len(frames) or len(carrying) < max(MIN_FRAMES, math.ceil(_MAJORITY_FRACTION * len(frames))):
            continue
        if len({f.ti_values[source] for f in carrying}) < 2:
            continue
        skipped = []
        for frame in frames:
            if frame.ti_values.get(source) is None:
                raw = frame.ti_invalid.get(source) if frame.ti_invalid else None
                value = f"invalid value {raw}" if raw is not None else "absent"
                skipped.append(SkippedInput(frame.shown, f"no valid TI: {source} {value}, while the other "
                                                         f"{len(carrying)} frames of its slice carry it"))
        return carrying, skipped
    return None


def _phase_sensitive(frames: Sequence[_FrameHeader]) -> bool:
    frame = frames[0]
    if any(part in _PHASE_IMAGE_TYPES for part in frame.image_type):
        return True
    description = frame.description.upper()
    return "PSIR" in description and "MAG" not in description


def _drop_copies(frames: list[_FrameHeader]) -> tuple[list[_FrameHeader], list[str]]:
    """Keep one frame per (SOPInstanceUID, frame number): the same image copied twice is not a new frame."""
    seen = set()
    kept = []
    for frame in frames:
        key = (frame.sop_uid, frame.frame_number) if frame.sop_uid else (frame.path, frame.frame_number)
        if key in seen:
            continue
        seen.add(key)
        kept.append(frame)
    warnings = []
    if len(kept) < len(frames):
        warnings.append(f"{len(frames) - len(kept)} duplicate copies of the same image were ignored.")
    return kept, warnings


def _geometry_key(frame: _FrameHeader, position: float) -> tuple:
    orientation = tuple(round(v, 3) for v in frame.orientation) if frame.orientation else None
    spacing = tuple(round(v, 4) for v in frame.pixel_spacing) if frame.pixel_spacing else None
    return (frame.study_uid, frame.rows, frame.columns, orientation, spacing, round(position, 1))


def _group_frames(headers: Sequence[_FrameHeader]) -> list[_Group]:
    """(series, slice) groups; single-TI series with identical geometry are merged (documented policy)."""
    by_series: dict[str, list[_FrameHeader]] = {}
    for frame in headers:
        by_series.setdefault(frame.series_uid, []).append(frame)
    groups: list[_Group] = []
    leftovers: dict[tuple, list[_FrameHeader]] = {}
    for series_uid in sorted(by_series):
        frames, warnings = _drop_copies(by_series[series_uid])
        for position, cluster in _cluster_positions(frames):
            source, _, _ = _choose_ti_source(cluster)
            if source is not None and len(cluster) >= MIN_FRAMES:
                groups.append(_Group(tuple(cluster), position, tuple(warnings)))
                continue
            split = _split_majority_source(cluster) if source is None else None
            if split is not None:
                kept, dropped = split
                note = (f"{len(dropped)} frame(s) left out for lack of a valid TI: "
                        + "; ".join(f"{d.what}: {d.reason}" for d in dropped[:3]))
                groups.append(_Group(tuple(kept), position, tuple(warnings) + (note,), tuple(dropped)))
            else:
                for frame in cluster:
                    leftovers.setdefault(_geometry_key(frame, position), []).append(frame)
    for key, frames in leftovers.items():
        n_series = len({f.series_uid for f in frames})
        warnings = ()
        if n_series > 1:
            warnings = (
                f"Assembled from {n_series} series (one per TI) with the same geometry: the frames are separate "
                "acquisitions, so scanner scaling or position may differ between them.",
            )
        groups.append(_Group(tuple(frames), float(key[-1]), warnings))
    return groups


def _describe_group(group: _Group) -> tuple[ScoutCandidate | None, str]:
    """Candidate for a group (sorted by TI), or (None, reason it is no TI scout)."""
    frames = list(group.frames)
    source, ti_values, why = _choose_ti_source(frames)
    first = frames[0]
    name = _group_name(frames)
    if source is None:
        return None, f"{name}: {why}"
    if len(frames) < MIN_FRAMES:
        return (
            None,
            f"{name}: only {len(frames)} frame(s) with a varying TI; a TI scout needs at least {MIN_FRAMES}",
        )
    order = np.argsort(np.asarray(ti_values), kind="stable")
    frames = [frames[i] for i in order]
    ti_sorted = tuple(float(ti_values[i]) for i in order)
    warnings = list(group.warnings)
    unique = len(set(ti_sorted)) == len(ti_sorted)
    if not unique:
        dup = sorted({t for t in ti_sorted if ti_sorted.count(t) > 1})
        warnings.append(f"Duplicate TIs {dup} ms within one slice (mixed series or repeated frames?).")
    orientations = {tuple(round(v, 3) for v in f.orientation) for f in frames if f.orientation is not None}
    if len(orientations) > 1:
        warnings.append("Frames of this slice have different orientations (ImageOrientationPatient).")
    sizes = {(f.rows, f.columns) for f in frames}
    if len(sizes) > 1:
        warnings.append(f"Frames of this slice have different sizes {sorted(sizes)}.")
    series_uids = sorted({f.series_uid for f in frames})
    numbers = tuple(sorted({f.series_number for f in frames if f.series_number is not None}))
    candidate = ScoutCandidate(
        series_key="+".join(series_uids),
        slice_index=0,
        slice_position_mm=float(group.position_mm),
        files=tuple(f.path for f in frames),
        ti_ms=ti_sorted,
        ti_source=source,
        series_description=first.description,
        vendor=first.vendor,
        n_frames=len(frames),
        unique_ti=unique,
        phase_sensitive=_phase_sensitive(frames),
        warnings=tuple(warnings),
        frame_numbers=tuple(f.frame_number for f in frames),
        tr_ms=tuple(f.tr_ms for f in frames),
        series_numbers=numbers,
        skipped=tuple(group.skipped),
    )
    return candidate, ""


def _group_name(frames: Sequence[_FrameHeader]) -> str:
    """How messages name a group of frames: series number(s) and first file, never the series description."""
    numbers = sorted({f.series_number for f in frames if f.series_number is not None})
    series = "series ?" if not numbers else (f"series {numbers[0]}" if len(numbers) == 1 else f"series {numbers[0]}-{numbers[-1]}")
    return f"{series} ({len(frames)} frame(s), first file {frames[0].shown})"


def _number_slices(candidates: list[ScoutCandidate]) -> list[ScoutCandidate]:
    """Sort by series then position; slice_index counts the slices of each series from 0."""
    from dataclasses import replace

    candidates = sorted(
        candidates, key=lambda c: (c.series_numbers or (1 << 30,), c.series_key, c.slice_position_mm)
    )
    counters: dict[str, int] = {}
    numbered = []
    for candidate in candidates:
        index = counters.get(candidate.series_key, 0)
        counters[candidate.series_key] = index + 1
        numbered.append(replace(candidate, slice_index=index))
    return numbered


def _examine(paths) -> tuple[list[ScoutCandidate], list[str], int, int]:
    headers, n_files = _read_headers(paths)
    candidates, reasons = [], []
    for group in _group_frames(headers):
        candidate, why = _describe_group(group)
        if candidate is None:
            reasons.append(why)
        else:
            candidates.append(candidate)
    return _number_slices(candidates), reasons, len(headers), n_files


def examine_dicom_files(paths) -> list[ScoutCandidate]:
    """TI-scout candidates among DICOM files/folders (headers only; non-DICOM files skipped quietly).

    Only (series, slice) groups with >= 3 frames and a varying TI are returned, sorted by series number
    and slice position. Candidates with ``unique_ti`` False or warnings about sizes/orientations will fail
    to load with a clear :class:`ScoutError`.
    """
    candidates, _, _, _ = _examine(paths)
    return candidates


def why_no_scout(paths) -> str:
    """Why ``paths`` hold no TI scout candidate (the message of the error :func:`load_ti_scouts` would raise)."""
    headers, n_files, unreadable = _read_headers_reporting(paths)
    reasons = [why for candidate, why in (_describe_group(g) for g in _group_frames(headers)) if candidate is None]
    error = str(_no_scout_error(paths, reasons, len(headers), n_files))
    if unreadable:
        error += " Skipped: " + "; ".join(f"{u.what} ({u.reason})" for u in unreadable[:3])
    return error


# -------------------------------------------------------------------------------------------- pixel data
def _rescale(ds: Dataset, frame_item: Dataset | None, shared_item: Dataset | None) -> tuple[float, float]:
    groups = [g for g in (frame_item, shared_item) if g is not None]
    slope = _float_or_none(_lookup(ds, groups, _TAG_RESCALE_SLOPE))
    intercept = _float_or_none(_lookup(ds, groups, _TAG_RESCALE_INTERCEPT))
    return (1.0 if slope in (None, 0.0) else slope), (0.0 if intercept is None else intercept)


def _philips_scale(ds: Dataset) -> tuple[float, float] | None:
    """Philips private (scale slope SS (2005,xx0E), scale intercept SI (2005,xx0D)) of the
    "Philips MR Imaging DD 001" block, or None when absent/invalid."""
    slope = _float_or_none(_philips_private(ds, 0x2005, 0x0E, "Philips MR Imaging DD 001"))
    intercept = _float_or_none(_philips_private(ds, 0x2005, 0x0D, "Philips MR Imaging DD 001"))
    if slope is None or slope <= 0:
        return None
    return slope, (intercept or 0.0)


def _to_gray(pixels: np.ndarray, ds: Dataset, n_frames: int) -> np.ndarray:
    """Pixel array as [F, H, W] luminance (RGB secondary captures converted, MONOCHROME1 inverted): float64, or
    the stored integers themselves for MONOCHROME2 integer data (every value exact in float64, so the frames
    come out the same; the float64 copy is made per frame where a rescale needs it)."""
    array = np.asarray(pixels)
    samples = int(_get(ds, "SamplesPerPixel", 1) or 1)
    if samples == 3:
        if array.ndim == 3:
            array = array[np.newaxis]
        array = 0.299 * array[..., 0] + 0.587 * array[..., 1] + 0.114 * array[..., 2]
    elif array.ndim == 2:
        array = array[np.newaxis]
    monochrome1 = str(_get(ds, "PhotometricInterpretation", "")).upper() == "MONOCHROME1"
    if monochrome1 or array.dtype.kind not in "iu" or array.dtype.itemsize > 4:
        array = array.astype(np.float64)
    if monochrome1:
        array = array.max() - array
    if array.shape[0] != n_frames:
        raise ScoutError(f"Expected {n_frames} frame(s) but the pixel data hold {array.shape[0]}.")
    return array


#: Uncompressed little-endian transfer syntaxes (Implicit, Explicit VR Little Endian).
_NATIVE_LITTLE_ENDIAN = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")
_PYDICOM_3 = int(pydicom.__version__.split(".")[0]) >= 3


def _native_pixel_array(ds: Dataset) -> np.ndarray | None:
    """``ds.pixel_array`` of uncompressed little-endian monochrome pixel data, read from the element's bytes:
    the array pydicom 3 returns (same dtype, shape and values: the unused high bits of BitsStored <
    BitsAllocated cleared, or sign-extended for signed data, as its native decoder does), without the set-up
    of its decoder (most of the time of reading a small frame). None wherever pydicom's decoders are needed
    (compressed, colour, big endian, 8-bit or 1-bit, pixel data of another length than the header says, pydicom 2)."""
    meta = getattr(ds, "file_meta", None)
    if not _PYDICOM_3 or meta is None or str(meta.get("TransferSyntaxUID", "")) not in _NATIVE_LITTLE_ENDIAN:
        return None
    allocated, stored, signed = _get(ds, "BitsAllocated"), _get(ds, "BitsStored"), _get(ds, "PixelRepresentation")
    if (int(_get(ds, "SamplesPerPixel", 1) or 1) != 1
            or str(_get(ds, "PhotometricInterpretation", "")).upper() not in ("MONOCHROME1", "MONOCHROME2")
            or allocated not in (16, 32) or not isinstance(stored, int) or not 1 <= stored <= allocated
            or signed not in (0, 1) or "FloatPixelData" in ds or "DoubleFloatPixelData" in ds or "PixelData" not in ds):
        return None
    rows, columns, frames = int(_get(ds, "Rows", 0) or 0), int(_get(ds, "Columns", 0) or 0), int(_get(ds, "NumberOfFrames", 1) or 1)
    count = rows * columns * frames
    data = ds.PixelData
    if count <= 0 or not isinstance(data, bytes) or len(data) != count * allocated // 8:
        return None
    array = np.frombuffer(data, dtype=f"<{'i' if signed else 'u'}{allocated // 8}", count=count).copy()
    if stored < allocated:
        shift = allocated - stored
        np.left_shift(array, shift, out=array)
        np.right_shift(array, shift, out=array)
    return array.reshape((frames, rows, columns) if frames > 1 else (rows, columns))


@dataclass(frozen=True)
class _LoadedFrame:
    pixels: np.ndarray  # [H, W], modality rescale applied: float64, or the stored integers under the identity rescale
    philips: tuple[float, float] | None
    rescale: tuple[float, float]


def _load_pixels(candidate: ScoutCandidate, datasets: dict | None = None) -> list[_LoadedFrame]:
    """Pixels of every frame of the candidate; ScoutError naming the file on the first failure."""
    loaded, failures = _load_pixels_reporting(candidate, datasets)
    if failures:
        raise ScoutError(next(iter(failures.values())))
    return loaded


def _load_pixels_reporting(candidate: ScoutCandidate, datasets: dict | None = None) -> tuple[list[_LoadedFrame | None], dict[int, str]]:
    """(pixels of each frame or None where decoding failed, frame index -> message naming the file);
    ``datasets`` from _read_headers_reporting are reused (their deferred pixel data is read now)."""
    cache: dict[str, tuple[Dataset, np.ndarray] | str] = {}
    loaded: list[_LoadedFrame | None] = []
    failures: dict[int, str] = {}
    for index, (path, frame_number) in enumerate(zip(candidate.files, candidate.frame_numbers)):
        if path not in cache:
            name = Path(path).name
            try:
                ds = datasets.get(str(path)) if datasets is not None else None
                if ds is None:
                    ds = pydicom.dcmread(path, force=False)
                n_frames = int(_get(ds, "NumberOfFrames", 1) or 1)
                native = _native_pixel_array(ds)
                pixels = _to_gray(ds.pixel_array if native is None else native, ds, n_frames)
                cache[path] = (ds, pixels)
            except ScoutError as error:
                cache[path] = f"Unreadable pixel data in {name}: {error}"
            except MemoryError:
                cache[path] = f"The pixel data of {name} do not fit in memory."
            except Exception as error:  # noqa: BLE001 - pydicom/pylibjpeg raise many types for corrupt data
                cache[path] = (
                    f"Cannot read the pixel data of {name} ({type(error).__name__}: {str(error)[:160]}). The file may be "
                    "corrupt or compressed with a codec that is not installed (pylibjpeg, pylibjpeg-libjpeg)."
                )
        entry = cache[path]
        if isinstance(entry, str):
            failures[index] = entry
            loaded.append(None)
            continue
        ds, pixels = entry
        if frame_number >= pixels.shape[0]:
            failures[index] = f"{Path(path).name} holds {pixels.shape[0]} frame(s); frame {frame_number + 1} is missing."
            loaded.append(None)
            continue
        per_frame = _get(ds, "PerFrameFunctionalGroupsSequence")
        shared = _get(ds, "SharedFunctionalGroupsSequence")
        frame_item = (
            per_frame[frame_number] if per_frame is not None and frame_number < len(per_frame) else None
        )
        slope, intercept = _rescale(ds, frame_item, shared[0] if shared else None)
        if slope == 1.0 and intercept == 0.0 and pixels.dtype.kind in "iu":
            rescaled = pixels[frame_number]  # the identity rescale of stored integers: the values themselves
        else:
            rescaled = np.multiply(pixels[frame_number], slope, dtype=np.float64)  # converted on the fly, no float64 copy first
            rescaled += intercept  # in place: the same values as pixels * slope + intercept, one array fewer
        loaded.append(
            _LoadedFrame(
                pixels=rescaled,
                philips=_philips_scale(ds),
                rescale=(slope, intercept),
            )
        )
    return loaded, failures


def _without_frames(candidate: ScoutCandidate, drop: set[int]) -> ScoutCandidate:
    """The candidate without the frames at the indices ``drop``."""
    keep = [i for i in range(candidate.n_frames) if i not in drop]

    def pick(values):
        return tuple(values[i] for i in keep) if len(values) == candidate.n_frames else tuple(values)

    ti = pick(candidate.ti_ms)
    return replace(candidate, files=pick(candidate.files), ti_ms=ti, frame_numbers=pick(candidate.frame_numbers),
                   tr_ms=pick(candidate.tr_ms), n_frames=len(keep), unique_ti=len(set(ti)) == len(ti))


def _apply_philips_policy(frames: list[_LoadedFrame]) -> tuple[list[np.ndarray], list[str]]:
    """Philips floating-point values when the private scale slope differs between frames (module doc)."""
    scales = [f.philips for f in frames]
    if all(s is not None for s in scales) and len({s for s in scales}) > 1:
        converted = [f.pixels / (f.rescale[0] * f.philips[0]) for f in frames]
        return converted, [
            "Philips frames were scaled differently; converted to floating-point values FP = DV / (RS * SS) "
            "with the private scale slope (2005,100E)."
        ]
    return [f.pixels for f in frames], []


# ---------------------------------------------------------------------------------------------- geometry
def _ijk_to_ras(orientation, position, spacing_rc, thickness_mm) -> np.ndarray:
    """4x4 IJK->RAS: columns = row cosine * column spacing, column cosine * row spacing, normal * thickness.

    DICOM is LPS; RAS = diag(-1, -1, 1) * LPS.
    """
    row_spacing, col_spacing = spacing_rc
    matrix = np.eye(4)
    if orientation is None:
        matrix[:3, :3] = np.diag([col_spacing, row_spacing, thickness_mm])
    else:
        row_cos = np.asarray(orientation[:3], dtype=float)
        col_cos = np.asarray(orientation[3:6], dtype=float)
        matrix[:3, 0] = row_cos * col_spacing
        matrix[:3, 1] = col_cos * row_spacing
        matrix[:3, 2] = _normal(orientation) * thickness_mm
    if position is not None:
        matrix[:3, 3] = position
    return LPS_TO_RAS @ matrix


def _slice_label(candidate: ScoutCandidate) -> str:
    numbers = candidate.series_numbers
    if not numbers:
        series = "series ?"
    elif len(numbers) == 1:
        series = f"series {numbers[0]}"
    else:
        series = f"series {numbers[0]}-{numbers[-1]}"
    return f"{series} slice {candidate.slice_index} (z={candidate.slice_position_mm:.1f} mm)"


def _recovery_tr(headers: Sequence[_FrameHeader], ti_ms: Sequence[float]) -> np.ndarray | None:
    """Per-frame TR when it is the inversion-to-inversion recovery time (TR > TI on every frame, IR-SE).

    Look-Locker frames carry the readout TR (a few ms) instead, which must not enter an IR fit: None then.
    """
    values = [h.tr_ms for h in headers]
    if any(v is None for v in values):
        return None
    tr_ms = np.asarray(values, dtype=float)
    return tr_ms if np.all(tr_ms > np.asarray(ti_ms, dtype=float)) else None


def _check_loadable(candidate: ScoutCandidate, headers: Sequence[_FrameHeader]) -> None:
    where = _slice_label(candidate)
    if candidate.n_frames < MIN_FRAMES:
        raise ScoutError(f"{where}: a TI scout needs at least {MIN_FRAMES} frames; got {candidate.n_frames}.")
    if candidate.n_frames > MAX_FRAMES:
        raise ScoutError(f"{where}: {candidate.n_frames} frames in one slice; a TI scout slice has at most {MAX_FRAMES}.")
    if not candidate.unique_ti:
        dup = sorted({t for t in candidate.ti_ms if candidate.ti_ms.count(t) > 1})
        files = [h.shown for h, t in zip(headers, candidate.ti_ms) if t in dup][:4]
        raise ScoutError(
            f"{where}: duplicate inversion times {dup} ms from {candidate.ti_source} within one slice "
            f"({', '.join(files)}: mixed series or repeated frames?). Select the files of one acquisition."
        )
    sizes = {(h.rows, h.columns) for h in headers}
    if len(sizes) > 1:
        raise ScoutError(f"{where}: frames have different sizes {sorted(sizes)}; they cannot form one scout.")
    rows, columns = next(iter(sizes))
    if rows <= 0 or columns <= 0 or rows * columns > MAX_FRAME_PIXELS:
        raise ScoutError(f"{where}: frames of {rows} x {columns} pixels ({headers[0].shown}) are not a TI scout "
                         f"(at most {MAX_FRAME_PIXELS} pixels per frame).")
    orientations = [h.orientation for h in headers if h.orientation is not None]
    if orientations and not np.allclose(np.asarray(orientations), orientations[0], atol=_ORIENTATION_TOL):  # every frame's, in one call
        raise ScoutError(
            f"{where}: frames have different orientations (ImageOrientationPatient); mixed slices?"
        )
    if 0 < len(orientations) < len(headers):
        raise ScoutError(f"{where}: some frames lack ImageOrientationPatient; mixed series?")
    low, high = PLAUSIBLE_PIXEL_SPACING_MM
    for header in headers:
        spacing = header.pixel_spacing
        if spacing is not None and not all(low <= v <= high for v in spacing):
            raise ScoutError(
                f"{where}: PixelSpacing (0028,0030) of {header.shown} is {spacing[0]:g}\\{spacing[1]:g} mm, outside "
                f"{low:g}-{high:g} mm (docs/METHODS.md §1.7): a damaged header."
            )


def _scout_from_candidate(candidate: ScoutCandidate, headers: Sequence[_FrameHeader],
                          skipped: list[SkippedInput] | None = None, datasets: dict | None = None) -> TIScout:
    """The TIScout of a candidate. With ``skipped`` (a list to append to), frames whose pixel data cannot be
    decoded are left out and reported there when at least MIN_FRAMES decode; otherwise any failure raises."""
    _check_loadable(candidate, headers)
    loaded, failures = _load_pixels_reporting(candidate, datasets)
    drop_warnings = []
    if failures:
        if skipped is None or candidate.n_frames - len(failures) < MIN_FRAMES:
            first = next(iter(failures.values()))
            extra = f" ({len(failures)} of {candidate.n_frames} frames failed)" if len(failures) > 1 else ""
            raise ScoutError(f"{_slice_label(candidate)}: {first}{extra}")
        for index, message in failures.items():
            skipped.append(SkippedInput(headers[index].shown, message))
        drop_warnings.append(
            f"{len(failures)} frame(s) left out because their pixel data cannot be read: "
            + ", ".join(headers[i].shown for i in list(failures)[:5])
        )
        keep = [i for i in range(candidate.n_frames) if i not in failures]
        candidate = _without_frames(candidate, set(failures))
        headers = [headers[i] for i in keep]
        loaded = [loaded[i] for i in keep]
    shapes = {f.pixels.shape for f in loaded}
    if len(shapes) > 1:
        raise ScoutError(f"{_slice_label(candidate)}: decoded frames have different sizes {sorted(shapes)}.")
    pixels, warnings = _apply_philips_policy(loaded)
    warnings = drop_warnings + warnings
    frames = np.empty((len(pixels), *pixels[0].shape), dtype=np.float32)
    for index, frame in enumerate(pixels):
        frames[index] = frame  # float64 -> float32 as astype rounds, without a float64 copy of the whole stack
    if not np.all(np.isfinite(frames)):
        raise ScoutError(f"{_slice_label(candidate)}: pixel data contain non-finite values.")
    first = headers[0]
    spacing = first.pixel_spacing or (1.0, 1.0)
    if first.pixel_spacing is None:
        warnings.append("No PixelSpacing in the header: 1 mm pixels assumed.")
    thickness = first.slice_thickness if first.slice_thickness and first.slice_thickness > 0 else 8.0
    if not 0.5 <= thickness <= 20.0:
        warnings.append(f"SliceThickness {thickness:g} mm is implausible for a TI scout: 8 mm assumed.")
        thickness = 8.0
    tr_ms = _recovery_tr(headers, candidate.ti_ms)
    phase_sensitive = candidate.phase_sensitive or bool(np.any(frames < 0))
    label = _slice_label(candidate)
    try:
        return TIScout(
            frames=frames,
            ti_ms=np.asarray(candidate.ti_ms, dtype=float),
            pixel_spacing_mm=(float(spacing[0]), float(spacing[1])),
            slice_thickness_mm=float(thickness),
            ijk_to_ras=_ijk_to_ras(first.orientation, first.position, spacing, float(thickness)),
            ti_source=candidate.ti_source,
            phase_sensitive=phase_sensitive,
            vendor=candidate.vendor,
            series_description=candidate.series_description,
            slice_label=label,
            tr_ms=tr_ms,
            warnings=tuple(candidate.warnings) + tuple(warnings),
            scout_key=scout_key_of(first.study_uid, candidate.series_key, candidate.series_description),
        )
    except ScoutError as error:
        raise ScoutError(f"{label} (first file {first.shown}): {error}") from error


def scout_key_of(study_uid: str, series_key: str, protocol: str) -> str:
    """Opaque key of one acquisition (study, series, protocol): a truncated SHA-256, so slices can be grouped
    without any identifier being stored or shown (pipeline.group_slices)."""
    text = "\x1f".join((study_uid or "", series_key or "", protocol or ""))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _headers_of(candidate: ScoutCandidate, headers: Sequence[_FrameHeader]) -> list[_FrameHeader]:
    index = {(h.path, h.frame_number): h for h in headers}
    return [index[(p, n)] for p, n in zip(candidate.files, candidate.frame_numbers)]


def _no_scout_error(paths, reasons: list[str], n_frames: int, n_files: int) -> ScoutError:
    shown = [str(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else list(paths))][:3]
    if n_files == 0:
        return ScoutError(f"No files found in {', '.join(shown)}.")
    if n_frames == 0:
        return ScoutError(f"No DICOM image files found among {n_files} file(s) in {', '.join(shown)}.")
    by_why: dict[str, list[str]] = {}
    for reason in reasons:  # "where: why" -> one line per distinct why, naming the first place
        where, _, why = reason.partition(": ")
        by_why.setdefault(why or where, []).append(where if why else "")
    parts = []
    for why, places in list(by_why.items())[:5]:
        place = places[0] + (f" and {len(places) - 1} more" if len(places) > 1 else "")
        parts.append(f"{place}: {why}" if place else why)
    return ScoutError(f"No TI scout found in {n_frames} DICOM image(s): {'; '.join(parts)}.")


def inversion_recovery_evidence(candidate: ScoutCandidate, file_value=None, headers=None) -> tuple[bool, str]:
    """(True, why) when the candidate is an inversion-recovery TI scout by the rules of
    :mod:`io.scout_evidence` (the DICOM plugin's): a TI from an inversion-time field of one series, or a
    TriggerTime series with an inversion-recovery marker, or single-TI series that together sweep the recovery.
    With the candidate's ``headers``, InversionRecovery = YES inside enhanced-MR functional groups counts too."""
    from TINullCorrectionLib.io.scout_evidence import assembled_series_evidence, inversion_evidence
    from TINullCorrectionLib.io.tag_values import EXAMINE_TAGS, PydicomFileValues

    if headers and all(h.inversion_recovery for h in headers) and "+" not in candidate.series_key:
        return True, "InversionRecovery (0018,9009) = YES in the functional groups"
    file_value = file_value or PydicomFileValues()
    if "+" in candidate.series_key:  # assembled from several series (series_key joins the member UIDs)
        by_series: dict[str, str] = {}
        for path in candidate.files:
            by_series.setdefault(file_value(path, EXAMINE_TAGS["seriesInstanceUID"]), path)
        if len(by_series) > 1:
            return assembled_series_evidence(list(by_series.values()), candidate.ti_ms, file_value)
    return inversion_evidence(candidate.files[0], candidate.ti_source, file_value)


def load_ti_scouts(paths, require_inversion_evidence: bool = True) -> list[TIScout]:
    """Load every TI scout (one :class:`TIScout` per series and slice) from DICOM folders and/or files.

    All-or-nothing per slice: a candidate that cannot be loaded (duplicate TIs, mixed sizes/orientations,
    implausible values, pixel data of too many frames unreadable) raises a :class:`ScoutError` naming it.
    Frames and files left out (see the module docstring) are named in the scouts' warnings; use
    :func:`load_ti_scouts_with_report` for the list. ``require_inversion_evidence``: see there.
    """
    return list(load_ti_scouts_with_report(paths, require_inversion_evidence).scouts)


def load_ti_scouts_with_report(paths, require_inversion_evidence: bool = True) -> LoadedScouts:
    """:func:`load_ti_scouts` with every input left out and why (``LoadedScouts.skipped``): unreadable
    DICOM-looking files, frames without a valid TI, frames whose pixel data cannot be decoded, and (with
    ``require_inversion_evidence``, the default) series with a varying TriggerTime but no inversion-recovery
    evidence (:func:`inversion_recovery_evidence`: most likely cines). Every scout also carries a warning
    naming what was left out of it (and, when files could not be read at all, which)."""
    datasets: dict = {}
    headers, n_files, skipped = _read_headers_reporting(paths, datasets)
    unreadable = list(skipped)
    candidates, reasons = [], []
    for group in _group_frames(headers):
        candidate, why = _describe_group(group)
        (candidates.append(candidate) if candidate is not None else reasons.append(why))
    if require_inversion_evidence:
        evidence = [(c, inversion_recovery_evidence(c, headers=_headers_of(c, headers))) for c in candidates]
        not_scouts = [(c, why) for c, (ok, why) in evidence if not ok]
        candidates = [c for c, (ok, _) in evidence if ok]
        for candidate, why in not_scouts:
            reasons.append(f"{_slice_label(candidate)}: {why}")
            if candidates:
                skipped.append(SkippedInput(_slice_label(candidate), f"not an inversion-recovery TI scout: {why}"))
    if not candidates:
        error = _no_scout_error(paths, reasons, len(headers), n_files)
        if unreadable:
            error = ScoutError(f"{error} Skipped: " + "; ".join(f"{u.what} ({u.reason})" for u in unreadable[:3]))
        raise error
    scouts = []
    for candidate in _number_slices(candidates):
        skipped.extend(candidate.skipped)
        frame_skips: list[SkippedInput] = []
        scout = _scout_from_candidate(candidate, _headers_of(candidate, headers), frame_skips, datasets)
        skipped.extend(frame_skips)
        if unreadable:
            note = (f"{len(unreadable)} DICOM file(s) among the inputs could not be read and were skipped: "
                    + ", ".join(u.what for u in unreadable[:5]))
            scout = replace(scout, warnings=(*scout.warnings, note))
        scouts.append(scout)
    return LoadedScouts(tuple(scouts), tuple(skipped))


def load_scout_from_files(files, slice_index: int | None = None, require_inversion_evidence: bool = False) -> TIScout:
    """Load the given DICOM files (or one enhanced file) as ONE TI scout slice.

    The files may come from several series (e.g. one series per TI); they must share size, orientation and
    slice position, and their TI must vary (clear :class:`ScoutError` otherwise).
    slice_index: the slice's number within its series as :func:`examine_dicom_files` found it
    (``ScoutCandidate.slice_index``), so that its label names the right slice; 0 when None.
    require_inversion_evidence: refuse a group without inversion-recovery evidence (default False: the DICOM
    plugin loads what the user ticked; the CLI batch passes True).
    """
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    paths = [Path(f) for f in files]
    for path in paths:
        if not path.is_file():
            raise ScoutError(f"Not a file: {path}")
    datasets: dict = {}
    headers, n_files, unreadable = _read_headers_reporting(paths, datasets)
    if not headers:
        error = _no_scout_error(paths, [], 0, n_files)
        if unreadable:
            error = ScoutError(f"{error} Skipped: " + "; ".join(f"{u.what} ({u.reason})" for u in unreadable[:3]))
        raise error
    headers, warnings = _drop_copies(headers)
    orientations = [h.orientation for h in headers if h.orientation is not None]
    if any(not np.allclose(o, orientations[0], atol=_ORIENTATION_TOL) for o in orientations):
        raise ScoutError(
            "The files have different orientations (ImageOrientationPatient): mixed slices or series."
        )
    clusters = _cluster_positions(headers)
    if len(clusters) > 1:
        positions = ", ".join(f"{p:.1f}" for p, _ in clusters[:6])
        raise ScoutError(
            f"The files hold {len(clusters)} slice positions ({positions} mm); pass the frames of one slice "
            "or use load_ti_scouts for a folder."
        )
    warnings += [f"Skipped {u.what}: {u.reason}" for u in unreadable]
    group = _Group(tuple(headers), clusters[0][0], tuple(warnings))
    split = _split_majority_source(headers) if _choose_ti_source(headers)[0] is None else None
    if split is not None:
        group = _Group(tuple(split[0]), clusters[0][0], tuple(warnings), tuple(split[1]))
    candidate, why = _describe_group(group)
    if candidate is None:
        raise ScoutError(f"These files are no TI scout: {why}.")
    numbered = _number_slices([candidate])[0]
    if slice_index is not None:
        numbered = replace(numbered, slice_index=int(slice_index))
    if require_inversion_evidence:
        ok, why = inversion_recovery_evidence(numbered, headers=_headers_of(candidate, headers))
        if not ok:
            raise ScoutError(f"{_slice_label(numbered)}: not an inversion-recovery TI scout: {why}.")
    scout = _scout_from_candidate(numbered, _headers_of(candidate, headers), datasets=datasets)
    if numbered.skipped:
        scout = replace(scout, warnings=(*scout.warnings, *(f"Left out {s.what}: {s.reason}" for s in numbered.skipped)))
    return scout
