"""Study inputs from files, without Slicer (core: numpy + SimpleITK + json).

* Volumes: DICOM series folders, NRRD, NIfTI (``read_volume``) -> ``StudyVolume`` (array [k, j, i] +
  4x4 IJK->RAS). ITK works in LPS; RAS = diag(-1, -1, 1) · LPS.
* Lines and ROIs: Slicer markups JSON files (``.mrk.json``, schema markups-schema-v1.0.x). Control
  point ``position`` is in the file's ``coordinateSystem`` ("LPS", Slicer's default when saving, or
  "RAS"). An ROI stores ``center``, ``size`` (mm, along its own axes), ``orientation`` (3x3, row-major,
  the columns are the ROI's axis directions, in the same coordinate system) and ``insideOut``;
  files without ``center`` use the first control point, files without ``orientation`` the identity.
* Segmentations: Slicer ``.seg.nrrd`` files (``read_segmentation``): one labelmap per layer (a 4D
  NRRD is read by SimpleITK as a vector image, one component per layer), the segment metadata in
  the header (``SegmentN_ID``, ``SegmentN_Name``, ``SegmentN_Layer``, ``SegmentN_LabelValue``).
  An ordinary labelmap NRRD/NIfTI is accepted too: every non-zero label becomes a segment "label N".

Regions on other grids are transferred onto a volume's grid with ``region_mask_on_grid``: a box
keeps the voxels whose centre lies inside it; a labelmap segment is resampled by nearest neighbour
at the volume's voxel centres (as Slicer does when exporting a segment onto a reference volume).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from CardiacLGECommonLib.core.files import write_atomically, write_text_atomically
from CardiacLGECommonLib.core.geometry import LPS_TO_RAS
from CardiacLGECommonLib.core.process_locale import keeps_process_locale


@dataclass(frozen=True, eq=False)
class StudyVolume:
    """One image of a study: ``array`` [k, j, i] and its IJK->RAS matrix (mm).

    ``repeat_array`` optionally holds a second, repeated acquisition on the same grid (for the NEMA
    difference noise estimate).
    """

    name: str
    array: np.ndarray = field(repr=False)
    ijk_to_ras: np.ndarray = field(repr=False)
    repeat_array: np.ndarray | None = field(default=None, repr=False)
    source: str = ""

    def __post_init__(self) -> None:
        array = np.asarray(self.array)
        if array.ndim == 2:
            array = array[np.newaxis]
        if array.ndim != 3 or min(array.shape) < 1:
            raise ValueError(f"Volume '{self.name}' must be 2D or 3D; got shape {np.shape(self.array)}.")
        matrix = np.asarray(self.ijk_to_ras, dtype=float)
        if matrix.shape != (4, 4) or abs(np.linalg.det(matrix[:3, :3])) < 1e-12:
            raise ValueError(f"Volume '{self.name}' needs an invertible 4x4 IJK->RAS matrix.")
        object.__setattr__(self, "array", array)
        object.__setattr__(self, "ijk_to_ras", matrix)
        if self.repeat_array is not None:
            repeat = np.asarray(self.repeat_array)
            if repeat.ndim == 2:
                repeat = repeat[np.newaxis]
            if repeat.shape != array.shape:
                raise ValueError(
                    f"The repeated acquisition of '{self.name}' has shape {repeat.shape}, not {array.shape}: "
                    "the NEMA difference needs two acquisitions on the same grid.")
            object.__setattr__(self, "repeat_array", repeat)

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        return tuple(float(v) for v in np.linalg.norm(self.ijk_to_ras[:3, :3], axis=0))

    @property
    def voxel_volume_mm3(self) -> float:
        return float(abs(np.linalg.det(self.ijk_to_ras[:3, :3])))


@dataclass(frozen=True)
class LineDefinition:
    """A straight line in RAS (mm): two end points. ``kind``: "septum" (blood–myocardium–blood),
    "edge" (one edge) or "bars" (a bar group with ``expected_bars`` at ``pitch_mm``)."""

    name: str
    start_ras: tuple[float, float, float]
    end_ras: tuple[float, float, float]
    kind: str = "septum"
    expected_bars: int | None = None
    pitch_mm: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("septum", "edge", "bars"):
            raise ValueError(f"Line '{self.name}': kind must be septum, edge or bars; got {self.kind!r}.")
        start = np.asarray(self.start_ras, dtype=float)
        end = np.asarray(self.end_ras, dtype=float)
        if start.shape != (3,) or end.shape != (3,) or not (np.all(np.isfinite(start)) and np.all(np.isfinite(end))):
            raise ValueError(f"Line '{self.name}' needs two finite 3D end points.")
        if np.linalg.norm(end - start) <= 1e-9:
            raise ValueError(f"Line '{self.name}' has zero length (both end points at {tuple(start)}).")
        if self.kind == "bars" and (not self.expected_bars or not self.pitch_mm or self.pitch_mm <= 0):
            raise ValueError(f"Bar line '{self.name}' needs the expected number of bars and their pitch (mm).")
        object.__setattr__(self, "start_ras", tuple(float(v) for v in start))
        object.__setattr__(self, "end_ras", tuple(float(v) for v in end))

    @property
    def length_mm(self) -> float:
        return float(np.linalg.norm(np.subtract(self.end_ras, self.start_ras)))


@dataclass(frozen=True, eq=False)
class RegionDefinition:
    """A named region in RAS: an oriented box (``center_ras``, ``axes_ras`` 3x3 with the box axes as
    columns, ``size_mm``, ``inside_out``) or a labelmap (``mask`` [k, j, i] with ``ijk_to_ras``)."""

    name: str
    center_ras: tuple[float, float, float] | None = None
    axes_ras: np.ndarray | None = field(default=None, repr=False)
    size_mm: tuple[float, float, float] | None = None
    inside_out: bool = False
    mask: np.ndarray | None = field(default=None, repr=False)
    ijk_to_ras: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        is_box = self.center_ras is not None
        if is_box == (self.mask is not None):
            raise ValueError(f"Region '{self.name}' must be either a box or a labelmap mask.")
        if is_box:
            size = np.asarray(self.size_mm, dtype=float)
            if size.shape != (3,) or not np.all(np.isfinite(size)) or np.any(size <= 0):
                raise ValueError(f"ROI '{self.name}' has zero or invalid size {self.size_mm}.")
            axes = np.eye(3) if self.axes_ras is None else np.asarray(self.axes_ras, dtype=float)
            if axes.shape != (3, 3) or not np.allclose(axes.T @ axes, np.eye(3), atol=1e-4):
                raise ValueError(f"ROI '{self.name}' orientation must be a 3x3 rotation.")
            object.__setattr__(self, "axes_ras", axes)
            object.__setattr__(self, "size_mm", tuple(float(v) for v in size))
            object.__setattr__(self, "center_ras", tuple(float(v) for v in self.center_ras))
        else:
            mask = np.asarray(self.mask).astype(bool)
            if mask.ndim == 2:
                mask = mask[np.newaxis]
            if mask.ndim != 3:
                raise ValueError(f"Segment '{self.name}' mask must be 3D [k, j, i].")
            if not mask.any():
                raise ValueError(f"Segment '{self.name}' is empty.")
            if self.ijk_to_ras is None or np.shape(self.ijk_to_ras) != (4, 4):
                raise ValueError(f"Segment '{self.name}' needs its 4x4 IJK->RAS matrix.")
            object.__setattr__(self, "mask", mask)
            object.__setattr__(self, "ijk_to_ras", np.asarray(self.ijk_to_ras, dtype=float))

    @property
    def kind(self) -> str:
        return "box" if self.center_ras is not None else "labelmap"


# ------------------------------------------------------------------------------------------- volumes
#: the most voxels (all components) an image file may hold to be read: 2**28 (1 GiB as float32), checked from the
#: header before the pixels are read, so a damaged or hostile header cannot take the memory down
MAX_VOXELS = 2 ** 28
#: plausible voxel sizes (mm; docs/METHODS.md plausible input ranges): in-plane pixels, and the distance between
#: slice centres (thickness + gap) of a stack of more than one slice
PIXEL_SPACING_RANGE_MM = (0.1, 10.0)
SLICE_SPACING_RANGE_MM = (0.5, 30.0)


def check_voxel_count(size, components: int, source) -> None:
    """ValueError naming ``source`` when an image of ``size`` voxels x ``components`` exceeds MAX_VOXELS."""
    count = int(np.prod([int(v) for v in size], dtype=object)) * max(int(components), 1)
    if count > MAX_VOXELS:
        raise ValueError(f"{source} holds {count:,} voxels ({' x '.join(str(int(v)) for v in size)}"
                         f"{f' x {components} components' if components > 1 else ''}): more than the {MAX_VOXELS:,} "
                         "this tool reads (a damaged header, or not an image of one series).")


def check_spacing_plausible(spacing_mm, n_slices: int, source) -> None:
    """ValueError naming ``source`` when a voxel size is outside the plausible ranges (wrong units: metres, µm)."""
    si, sj, sk = (float(v) for v in spacing_mm)
    low, high = PIXEL_SPACING_RANGE_MM
    if not all(np.isfinite((si, sj, sk))) or not (low <= si <= high and low <= sj <= high):
        raise ValueError(f"{source} has a pixel size of {si:.4g} x {sj:.4g} mm, outside the plausible {low:g}-{high:g} mm "
                         "(wrong units in the file?).")
    low, high = SLICE_SPACING_RANGE_MM
    if n_slices > 1 and not low <= sk <= high:
        raise ValueError(f"{source} has {sk:.4g} mm between slices, outside the plausible {low:g}-{high:g} mm (wrong "
                         "units in the file?).")


def _sitk_to_arrays(image, source="The image") -> tuple[np.ndarray, np.ndarray]:
    import SimpleITK as sitk

    dimension = image.GetDimension()
    if dimension not in (2, 3):
        raise ValueError(f"{source}: only 2D or 3D images are supported; got {dimension}D.")
    array = sitk.GetArrayFromImage(image)
    spacing = np.ones(3)
    origin = np.zeros(3)
    direction = np.eye(3)
    spacing[:dimension] = image.GetSpacing()
    origin[:dimension] = image.GetOrigin()
    direction[:dimension, :dimension] = np.asarray(image.GetDirection(), dtype=float).reshape(dimension, dimension)
    ijk_to_lps = np.eye(4)
    ijk_to_lps[:3, :3] = direction * spacing[np.newaxis, :]
    ijk_to_lps[:3, 3] = origin
    if not np.all(np.isfinite(ijk_to_lps)) or abs(np.linalg.det(ijk_to_lps[:3, :3])) < 1e-12:
        raise ValueError(f"{source} has no valid geometry (spacing {tuple(image.GetSpacing())}, direction not "
                         "invertible or not finite).")
    if dimension == 2:
        array = array[np.newaxis]
    return array, LPS_TO_RAS @ ijk_to_lps


def read_image_header(path, what: str = "image"):
    """The SimpleITK reader of one file with its header read (dimension 2 or 3 checked) -> ValueError naming it."""
    import SimpleITK as sitk

    path = Path(path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as error:
        raise ValueError(f"Cannot read {what} {path}: {_first_line(error)}") from error
    if reader.GetDimension() not in (2, 3):
        raise ValueError(f"{what.capitalize()} {path} is a {reader.GetDimension()}D image; only 2D or 3D images are "
                         "supported.")
    return reader


def read_image_file(path, what: str = "image"):
    """SimpleITK image of one file, its header checked first (dimension, voxel count) -> ValueError naming it."""
    reader = read_image_header(path, what)
    check_voxel_count(reader.GetSize(), reader.GetNumberOfComponents(), f"{what.capitalize()} {path}")
    try:
        return reader.Execute()
    except (RuntimeError, MemoryError) as error:
        raise ValueError(f"Cannot read {what} {path}: {_first_line(error)}") from error


#: Slice positions may differ from a regular grid by this share of the slice distance (rounding in the headers).
SLICE_POSITION_TOLERANCE = 0.05


def order_dicom_slices(headers, source) -> list[int]:
    """Indices of single-slice DICOM headers (SimpleITK readers after ReadImageInformation) in slice order, after
    checking they form ONE regular volume: one SeriesInstanceUID, one size and orientation, distinct positions
    evenly spaced along the slice normal. ValueError naming ``source`` otherwise (two series stacked, or a
    missing slice, would give a volume of plausible size and a wrong LGE % or volume)."""
    series = {h.GetMetaData("0020|000e").strip() for h in headers if h.HasMetaDataKey("0020|000e")}
    if len(series) > 1:
        raise ValueError(f"{source} holds {len(series)} DICOM series; give the files of one series.")
    first = headers[0]
    if any(tuple(h.GetSize()) != tuple(first.GetSize()) for h in headers):
        raise ValueError(f"The slices of {source} have different sizes.")
    direction = np.asarray(first.GetDirection(), dtype=float).reshape(first.GetDimension(), first.GetDimension())
    if any(not np.allclose(np.asarray(h.GetDirection(), dtype=float), direction.ravel(), atol=1e-4) for h in headers):
        raise ValueError(f"The slices of {source} have different orientations (not one stack).")
    if len(headers) == 1:
        return [0]
    normal = np.cross(direction[:, 0], direction[:, 1])
    positions = np.array([float(np.dot(normal, h.GetOrigin())) for h in headers])
    order = [int(i) for i in np.argsort(positions, kind="stable")]
    steps = np.diff(positions[order])
    if np.any(steps <= 1e-3):
        raise ValueError(f"{source} has two slices at the same position: two acquisitions of one slice, not one stack.")
    step = float(np.median(steps))
    if np.any(np.abs(steps - step) > SLICE_POSITION_TOLERANCE * step):
        raise ValueError(f"The slices of {source} are not evenly spaced (distances {min(steps):.3g}-{max(steps):.3g} mm): a "
                         "missing slice, or slices of different stacks.")
    return order


@keeps_process_locale
def read_dicom_folder(folder, what: str = "volume"):
    """SimpleITK image of the single DICOM series in ``folder`` (header checks as read_image_file and
    order_dicom_slices)."""
    import SimpleITK as sitk

    folder = Path(folder)
    reader = sitk.ImageSeriesReader()
    series = reader.GetGDCMSeriesIDs(str(folder))
    if not series:
        raise ValueError(f"No DICOM series found in folder {folder}.")
    if len(series) > 1:
        raise ValueError(f"Folder {folder} holds {len(series)} DICOM series; give a folder with one series.")
    files = reader.GetGDCMSeriesFileNames(str(folder), series[0])
    headers = [read_image_header(f, "DICOM file") for f in files]
    first = headers[0]
    size = list(first.GetSize())[:2] + [len(files)]
    check_voxel_count(size, first.GetNumberOfComponents(), f"The DICOM series in {folder}")
    if first.GetDimension() == 3 and first.GetSize()[2] == 1:
        order_dicom_slices(headers, f"The DICOM series in {folder}")
    reader.SetFileNames(files)
    try:
        return reader.Execute()
    except (RuntimeError, MemoryError) as error:
        raise ValueError(f"Cannot read the DICOM series in {folder}: {_first_line(error)}") from error


def _first_line(error) -> str:
    """The useful part of a SimpleITK/ITK exception (its first line is the C++ source location)."""
    import re

    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    useful = [re.sub(r"^(sitk::ERROR:|itk::ERROR:|ITK ERROR:)\s*(\w+\(0x[0-9a-f]+\):\s*)?", "", line) for line in lines
              if not line.startswith(("Exception thrown", "/"))]
    text = " ".join(useful[:2]) if useful and useful[0].endswith(":") else (useful or lines or [type(error).__name__])[0]
    return text[:300]


def read_volume(path, name: str | None = None, check_spacing: bool = True) -> StudyVolume:
    """Read a DICOM series folder (the single series in it), an NRRD or a NIfTI file.

    Refused with a ValueError naming the file: more than MAX_VOXELS voxels (from the header, before the
    pixels are read), not 2D/3D, several components, no valid geometry, and (``check_spacing``) voxel sizes
    outside PIXEL_SPACING_RANGE_MM / SLICE_SPACING_RANGE_MM."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Volume not found: {path}")
    name = name or path.name.split(".")[0]
    image = read_dicom_folder(path) if path.is_dir() else read_image_file(path, "volume")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(f"Volume {path} has {image.GetNumberOfComponentsPerPixel()} components; expected a scalar image.")
    array, ijk_to_ras = _sitk_to_arrays(image, f"Volume {path}")
    if check_spacing:
        check_spacing_plausible(np.linalg.norm(ijk_to_ras[:3, :3], axis=0), array.shape[0], f"Volume {path}")
    return StudyVolume(name, array.astype(np.float32, copy=False), ijk_to_ras, source=str(path))


def write_volume(path, array_kji, ijk_to_ras) -> None:
    """Write an array [k, j, i] with its IJK->RAS matrix as NRRD/NIfTI (LPS on disk, as ITK/Slicer do).
    Not atomic by itself: callers write to a temporary file (study.atomic / core.files); a failure is an OSError."""
    import SimpleITK as sitk

    try:
        sitk.WriteImage(_sitk_image(array_kji, ijk_to_ras), str(path), True)
    except RuntimeError as error:
        raise OSError(_first_line(error)) from error


@keeps_process_locale
def write_dicom_series(folder, array_kji, ijk_to_ras, description: str = "simulated LGE", seed: int = 0) -> list[Path]:
    """Write an array [k, j, i] with its IJK->RAS matrix as a DICOM MR series (one file per slice, 16-bit with a
    rescale slope: values read back within 1/60000 of the largest |value|) into ``folder``; returns the files.

    For simulated data only (qa-demo): the patient is "SIMULATED", the UIDs are generated from ``seed``. Each
    file is written atomically; a folder holding another series is refused (it would become two series)."""
    import hashlib

    import SimpleITK as sitk

    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise OSError(f"{folder} is not empty: a DICOM series folder must hold one series only.")
    folder.mkdir(parents=True, exist_ok=True)
    array = np.asarray(array_kji, dtype=np.float64)
    if array.ndim == 2:
        array = array[np.newaxis]
    if not np.all(np.isfinite(array)):
        raise ValueError("A DICOM series needs finite values.")
    slope = max(float(np.abs(array).max()), 1e-12) / 30000.0  # GDCM stores round(value / slope) as int16
    ijk_to_lps = LPS_TO_RAS @ np.asarray(ijk_to_ras, dtype=float)
    spacing = np.linalg.norm(ijk_to_lps[:3, :3], axis=0)
    axes = ijk_to_lps[:3, :3] / spacing[np.newaxis, :]
    digest = hashlib.sha256(f"cardiaclge-{description}-{seed}".encode()).hexdigest()
    root = "1.2.826.0.1.3680043.10.1234"  # an example root: simulated data only

    def uid(part: str) -> str:
        return f"{root}.{int(digest[:12], 16)}.{part}"

    files = []
    for k in range(array.shape[0]):
        position = ijk_to_lps[:3, 3] + k * ijk_to_lps[:3, 2]
        image = sitk.GetImageFromArray(array[k:k + 1].astype(np.float32))  # one slice, 3D: GDCM writes its geometry
        image.SetSpacing(tuple(float(v) for v in spacing))
        image.SetOrigin(tuple(float(v) for v in position))
        image.SetDirection(tuple(float(v) for v in axes.ravel()))
        tags = {
            "0008|0016": "1.2.840.10008.5.1.4.1.1.4", "0008|0018": uid(f"3.{k + 1}"), "0008|0060": "MR",
            "0008|103e": description, "0010|0010": "SIMULATED", "0010|0020": "SIM0000",
            "0020|000d": uid("1"), "0020|000e": uid("2"), "0020|0011": "1", "0020|0013": str(k + 1),
            "0020|0032": "\\".join(f"{v:.6f}" for v in position),
            "0020|0037": "\\".join(f"{v:.8f}" for v in (*axes[:, 0], *axes[:, 1])),
            "0028|0030": f"{spacing[1]:.6f}\\{spacing[0]:.6f}", "0018|0050": f"{spacing[2]:.6f}",
            "0018|0088": f"{spacing[2]:.6f}", "0028|1052": "0", "0028|1053": f"{slope:.10g}",
            "0028|0100": "16", "0028|0101": "16", "0028|0102": "15", "0028|0103": "1",
        }
        for key, value in tags.items():
            image.SetMetaData(key, value)
        target = folder / f"slice{k + 1:03d}.dcm"

        def write(temporary: Path, image=image) -> None:
            writer = sitk.ImageFileWriter()
            writer.KeepOriginalImageUIDOn()
            writer.SetFileName(str(temporary))
            try:
                writer.Execute(image)
            except RuntimeError as error:
                raise OSError(_first_line(error)) from error

        files.append(write_atomically(target, write))
    return files


def _sitk_image(array_kji, ijk_to_ras):
    import SimpleITK as sitk

    array = np.asarray(array_kji)
    if array.ndim == 2:
        array = array[np.newaxis]
    ijk_to_lps = LPS_TO_RAS @ np.asarray(ijk_to_ras, dtype=float)
    spacing = np.linalg.norm(ijk_to_lps[:3, :3], axis=0)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(tuple(float(s) for s in spacing))
    image.SetOrigin(tuple(float(v) for v in ijk_to_lps[:3, 3]))
    image.SetDirection(tuple(float(v) for v in (ijk_to_lps[:3, :3] / spacing[np.newaxis, :]).ravel()))
    return image


# ------------------------------------------------------------------------------------------- markups
#: a markups file larger than this is refused before it is read (a Slicer .mrk.json of a long curve is < 5 MB)
MAX_MARKUPS_FILE_BYTES = 50 * 1024 * 1024
#: no patient coordinate lies further than this from the scanner's origin (mm): a larger one is a wrong file
MAX_COORDINATE_MM = 1.0e5


class MarkupsFileError(ValueError):
    """A markups (.mrk.json) file that cannot be used; the message names the file and the field."""


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _load_markups(path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Markups file not found: {path}")
    size = path.stat().st_size
    if size > MAX_MARKUPS_FILE_BYTES:
        raise MarkupsFileError(f"{path.name} is {size / 1024 ** 2:.0f} MB: not a markups file (at most "
                               f"{MAX_MARKUPS_FILE_BYTES // 1024 ** 2} MB are read).")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise MarkupsFileError(f"{path.name} is not a readable markups JSON file: {error}") from error
    markups = document.get("markups") if isinstance(document, dict) else None
    if not isinstance(markups, list) or not markups:
        raise MarkupsFileError(f"{path.name} has no 'markups' list (not a Slicer .mrk.json file).")
    for index, markup in enumerate(markups):
        if not isinstance(markup, dict):
            raise MarkupsFileError(f"{path.name}: markups[{index}] is {_short(markup)}, not a markup (a JSON object).")
    return markups


def _where(path, index: int, key: str) -> str:
    return f"{Path(path).name}: markups[{index}].{key}"


def _text_field(markup: dict, key: str, path, index: int, default: str | None = None) -> str | None:
    value = markup.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise MarkupsFileError(f"{_where(path, index, key)} must be text; got {_short(value)}.")
    return value


def _numbers(value, count: int, where: str, limit: float | None = MAX_COORDINATE_MM) -> np.ndarray:
    """``count`` finite numbers (a JSON list, nested lists flattened) or a MarkupsFileError naming ``where``."""
    def flat(item):
        if isinstance(item, (list, tuple)):
            for sub in item:
                yield from flat(sub)
        else:
            yield item

    if not isinstance(value, (list, tuple)):
        raise MarkupsFileError(f"{where} must be a list of {count} numbers; got {_short(value)}.")
    items = list(flat(value))
    if len(items) != count or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
        raise MarkupsFileError(f"{where} must be a list of {count} numbers; got {_short(value)}.")
    numbers = np.asarray(items, dtype=float)
    if not np.all(np.isfinite(numbers)):
        raise MarkupsFileError(f"{where} has a value that is not a finite number: {_short(value)}.")
    if limit is not None and np.any(np.abs(numbers) > limit):
        raise MarkupsFileError(f"{where} = {_short(value)}: a value beyond {limit:g} mm is not plausible in a patient "
                               "(wrong units or a damaged file).")
    return numbers


def _to_ras(markup: dict, path, index: int = 0) -> np.ndarray:
    system = (_text_field(markup, "coordinateSystem", path, index, "LPS") or "LPS").upper()
    units = _text_field(markup, "coordinateUnits", path, index, "mm") or "mm"
    if units != "mm":
        raise MarkupsFileError(f"{_where(path, index, 'coordinateUnits')} is {units!r}; only millimetre (\"mm\") "
                               "coordinates are read.")
    if system == "LPS":
        return LPS_TO_RAS[:3, :3].copy()
    if system == "RAS":
        return np.eye(3)
    raise MarkupsFileError(f"{Path(path).name}: unknown coordinateSystem {system!r} (expected LPS or RAS).")


def _control_points(markup: dict, flip: np.ndarray, path, index: int = 0) -> np.ndarray:
    points_field = markup.get("controlPoints")
    if points_field is None:
        return np.zeros((0, 3))
    if not isinstance(points_field, list):
        raise MarkupsFileError(f"{_where(path, index, 'controlPoints')} must be a list of control points; got "
                               f"{_short(points_field)}.")
    points = []
    for number, point in enumerate(points_field):
        where = f"{_where(path, index, 'controlPoints')}[{number}]"
        if not isinstance(point, dict):
            raise MarkupsFileError(f"{where} is {_short(point)}, not a control point (a JSON object).")
        status = point.get("positionStatus", "defined")
        if not isinstance(status, str):
            raise MarkupsFileError(f"{where}.positionStatus must be text; got {_short(status)}.")
        if status != "defined":
            continue
        if "position" not in point:
            raise MarkupsFileError(f"{where} has no position.")
        points.append(flip @ _numbers(point["position"], 3, f"{where}.position"))
    return np.array(points).reshape(-1, 3)


def _markup_name(markup: dict, path, index: int) -> str:
    name = _text_field(markup, "name", path, index)
    if name and name.strip():
        return name.strip()
    base = Path(path).name
    for suffix in (".mrk.json", ".json"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base if index == 0 else f"{base}_{index}"


def _definition(path, cls, *args, **kwargs):
    """``cls(*args, **kwargs)`` (a Line/RegionDefinition), its ValueError prefixed with the file's name."""
    try:
        return cls(*args, **kwargs)
    except MarkupsFileError:
        raise
    except ValueError as error:
        raise MarkupsFileError(f"{Path(path).name}: {error}") from error


def read_markups_lines(path, name: str | None = None, kind: str = "septum", expected_bars: int | None = None,
                       pitch_mm: float | None = None) -> list[LineDefinition]:
    """Every line in a markups JSON file (type "Line", or an open curve's first and last point).

    Any malformed content (wrong types, missing or non-finite coordinates, other units than mm) is a
    ``MarkupsFileError`` (a ValueError) naming the file and the field."""
    lines = []
    for index, markup in enumerate(_load_markups(path)):
        if _text_field(markup, "type", path, index) not in ("Line", "Curve", "OpenCurve"):
            continue
        points = _control_points(markup, _to_ras(markup, path, index), path, index)
        label = name if (name and index == 0) else _markup_name(markup, path, index)
        if len(points) < 2:
            raise MarkupsFileError(f"Line '{label}' in {Path(path).name} has {len(points)} placed control point(s); "
                                   "needs 2.")
        lines.append(_definition(path, LineDefinition, label, tuple(points[0]), tuple(points[-1]), kind, expected_bars,
                                 pitch_mm))
    if not lines:
        raise MarkupsFileError(f"{Path(path).name} contains no markups line.")
    return lines


def read_markups_line(path, name: str | None = None, **kwargs) -> LineDefinition:
    """The first line of a markups JSON file."""
    return read_markups_lines(path, name, **kwargs)[0]


def read_markups_points(path) -> np.ndarray:
    """Every defined control point (RAS mm, rows) of the point lists ("Fiducial") in a markups file;
    other markups types are read only when the file has no point list."""
    markups = _load_markups(path)
    indexed = list(enumerate(markups))
    chosen = [(i, m) for i, m in indexed if _text_field(m, "type", path, i) in ("Fiducial", "PointList")] or indexed
    points = [_control_points(m, _to_ras(m, path, i), path, i) for i, m in chosen]
    return np.vstack(points) if points else np.zeros((0, 3))


def read_markups_rois(path, name: str | None = None) -> list[RegionDefinition]:
    """Every ROI (type "ROI") of a markups JSON file as an oriented box in RAS (errors as read_markups_lines)."""
    regions = []
    for index, markup in enumerate(_load_markups(path)):
        if _text_field(markup, "type", path, index) != "ROI":
            continue
        flip = _to_ras(markup, path, index)
        label = name if (name and index == 0) else _markup_name(markup, path, index)
        roi_type = _text_field(markup, "roiType", path, index, "Box")
        if roi_type not in ("Box", "BoundingBox"):
            raise MarkupsFileError(f"ROI '{label}' in {Path(path).name} is of type {roi_type!r}; only box ROIs are "
                                   "supported.")
        if markup.get("center") is not None:
            center = flip @ _numbers(markup["center"], 3, _where(path, index, "center"))
        else:
            points = _control_points(markup, flip, path, index)
            if len(points) == 0:
                raise MarkupsFileError(f"ROI '{label}' in {Path(path).name} is not placed (no centre).")
            center = points[0]
        orientation = np.eye(3)
        if markup.get("orientation") is not None:
            orientation = _numbers(markup["orientation"], 9, _where(path, index, "orientation"), limit=None).reshape(3, 3)
        if markup.get("size") is None:
            raise MarkupsFileError(f"ROI '{label}' in {Path(path).name} has no size.")
        size = _numbers(markup["size"], 3, _where(path, index, "size"))
        inside_out = markup.get("insideOut", False)
        if not isinstance(inside_out, bool):
            raise MarkupsFileError(f"{_where(path, index, 'insideOut')} must be true or false; got {_short(inside_out)}.")
        regions.append(_definition(path, RegionDefinition, label, center_ras=tuple(float(v) for v in center),
                                   axes_ras=flip @ orientation, size_mm=tuple(float(v) for v in size),
                                   inside_out=inside_out))
    if not regions:
        raise MarkupsFileError(f"{Path(path).name} contains no markups ROI.")
    return regions


def write_markups_line(path, name: str, start_ras, end_ras, coordinate_system: str = "LPS") -> None:
    """Write a Slicer markups line JSON file (control points in ``coordinate_system``)."""
    flip = LPS_TO_RAS[:3, :3] if coordinate_system == "LPS" else np.eye(3)
    points = [{"id": str(n + 1), "label": f"{name}-{n + 1}", "position": [float(v) for v in flip @ np.asarray(p, float)],
               "positionStatus": "defined"} for n, p in enumerate((start_ras, end_ras))]
    document = {
        "@schema": "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/Resources/Schema/"
                   "markups-schema-v1.0.3.json#",
        "markups": [{"type": "Line", "name": name, "coordinateSystem": coordinate_system, "coordinateUnits": "mm",
                     "controlPoints": points}],
    }
    write_text_atomically(path, json.dumps(document, indent=2))


def write_markups_roi(path, name: str, center_ras, size_mm, axes_ras=None, coordinate_system: str = "LPS") -> None:
    """Write a Slicer markups ROI (box) JSON file."""
    flip = LPS_TO_RAS[:3, :3] if coordinate_system == "LPS" else np.eye(3)
    axes = np.eye(3) if axes_ras is None else np.asarray(axes_ras, dtype=float)
    center = [float(v) for v in flip @ np.asarray(center_ras, float)]
    document = {
        "@schema": "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/Resources/Schema/"
                   "markups-schema-v1.0.3.json#",
        "markups": [{"type": "ROI", "name": name, "coordinateSystem": coordinate_system, "coordinateUnits": "mm",
                     "roiType": "Box", "center": center, "orientation": [float(v) for v in (flip @ axes).ravel()],
                     "size": [float(v) for v in size_mm], "insideOut": False,
                     "controlPoints": [{"id": "1", "label": f"{name}-1", "position": center,
                                        "positionStatus": "defined"}]}],
    }
    write_text_atomically(path, json.dumps(document, indent=2))


# ------------------------------------------------------------------------------------- segmentations
#: at most this many segments (or labels of a plain label map) are read from one file
MAX_SEGMENTS = 256
#: segments x voxels of their masks read from one file (each segment keeps a boolean mask of the file's grid)
MAX_SEGMENT_MASK_VOXELS = 2 ** 30


class SegmentationFileError(ValueError):
    """A segmentation or label-map file that cannot be used; the message names the file (and the segment)."""


def _header_integer(metadata: dict, key: str, default: int, path: Path, segment: str, minimum: int) -> int:
    raw = (metadata.get(key) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (np.isfinite(value) and value.is_integer() and value >= minimum):
        raise SegmentationFileError(f"{path.name}: {key} of segment '{segment}' is {raw!r}, not an integer >= {minimum}.")
    return int(value)


def _label_array(array: np.ndarray, path: Path) -> np.ndarray:
    if np.issubdtype(array.dtype, np.integer):
        return array
    if np.issubdtype(array.dtype, np.bool_):
        return array.astype(np.uint8)
    values = np.asarray(array, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise SegmentationFileError(f"{path.name} has NaN or infinite voxels: not a segmentation or label map.")
    if not np.all(values == np.round(values)):
        raise SegmentationFileError(f"{path.name} has non-integer voxel values: not a segmentation or label map (an "
                                    "image?).")
    return values.astype(np.int64)


def read_segmentation(path) -> dict[str, RegionDefinition]:
    """Segments of a Slicer ``.seg.nrrd`` (or labels of a plain labelmap file), by segment name.

    Each segment's mask keeps the file's own grid (``RegionDefinition.ijk_to_ras``); use
    ``region_mask_on_grid`` to put it on a volume. Empty segments are skipped. A file that is not a
    segmentation (non-integer or non-finite voxels, several values per voxel without a segment list, more
    than MAX_SEGMENTS labels, negative labels), a damaged segment list (a layer or label value that is
    no integer, two segments of one name) or a too large file is a ``SegmentationFileError`` (a
    ValueError) naming the file.
    """
    import SimpleITK as sitk

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Segmentation file not found: {path}")
    image = read_image_file(path, "segmentation")
    metadata = {key: image.GetMetaData(key) for key in image.GetMetaDataKeys()}
    has_list = "Segment0_ID" in metadata
    components = image.GetNumberOfComponentsPerPixel()
    if components > 1 and not has_list:
        raise SegmentationFileError(f"{path.name} has {components} values per voxel and no segment list: not a Slicer "
                                    "segmentation (a colour picture or a vector image?).")
    layers = [sitk.VectorIndexSelectionCast(image, c) for c in range(components)] if components > 1 else [image]
    arrays, ijk_to_ras = [], None
    for layer in layers:
        array, ijk_to_ras = _sitk_to_arrays(layer, f"Segmentation {path.name}")
        arrays.append(_label_array(array, path))
    entries: list[tuple[str, int, int]] = []  # (name, layer, label value)
    if has_list:
        index = 0
        while f"Segment{index}_ID" in metadata:
            prefix = f"Segment{index}_"
            name = (metadata.get(prefix + "Name") or metadata[prefix + "ID"]).strip() or f"segment {index}"
            entries.append((name, _header_integer(metadata, prefix + "Layer", 0, path, name, 0),
                            _header_integer(metadata, prefix + "LabelValue", 1, path, name, 1)))
            index += 1
            if index > MAX_SEGMENTS:
                raise SegmentationFileError(f"{path.name} lists more than {MAX_SEGMENTS} segments.")
        names = [name for name, _, _ in entries]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise SegmentationFileError(f"{path.name}: two segments are called {repeated[0]!r}; rename one in Slicer.")
    else:  # a plain labelmap: every non-zero label is a segment
        labels = np.unique(arrays[0])
        if labels.size and labels[0] < 0:
            raise SegmentationFileError(f"{path.name} has negative voxel values: not a label map.")
        labels = labels[labels != 0]
        if labels.size > MAX_SEGMENTS:
            raise SegmentationFileError(f"{path.name} holds {labels.size} different values: a label map has at most "
                                        f"{MAX_SEGMENTS} labels (is it an image?).")
        entries = [(f"label {int(label)}", 0, int(label)) for label in labels]
    if len(entries) * arrays[0].size > MAX_SEGMENT_MASK_VOXELS:
        raise SegmentationFileError(f"{path.name}: {len(entries)} segments of {arrays[0].size:,} voxels each are more than "
                                    f"this tool holds ({MAX_SEGMENT_MASK_VOXELS:,} mask voxels).")
    segments: dict[str, RegionDefinition] = {}
    for name, layer, label in entries:
        if layer >= len(arrays):
            raise SegmentationFileError(f"{path.name}: segment '{name}' is on layer {layer}, the file has {len(arrays)}.")
        mask = arrays[layer] == label
        if mask.any():
            segments[name] = RegionDefinition(name, mask=mask, ijk_to_ras=ijk_to_ras)
    if not segments:
        raise SegmentationFileError(f"{path.name} contains no non-empty segment.")
    return segments


def write_segmentation(path, layers_kji, segments, ijk_to_ras) -> Path:
    """Write a Slicer segmentation file (.seg.nrrd) atomically: ``layers_kji`` (one integer label array [k, j, i]
    per layer; overlapping segments go on different layers), ``segments`` a list of (name, layer, label value,
    RGB colour 0-1) and the IJK->RAS matrix. The header is the one Slicer writes (``SegmentN_*`` keys), so the
    file opens in Slicer as a segmentation and reads back with ``read_segmentation``."""
    import SimpleITK as sitk

    arrays = [np.asarray(layer, dtype=np.uint8) for layer in layers_kji]
    arrays = [a[np.newaxis] if a.ndim == 2 else a for a in arrays]
    if len(arrays) == 1:
        image = _sitk_image(arrays[0], ijk_to_ras)
    else:
        stacked = np.stack(arrays, axis=-1)
        image = sitk.GetImageFromArray(stacked, isVector=True)
        image.CopyInformation(_sitk_image(arrays[0], ijk_to_ras))
    shape = arrays[0].shape
    extent = f"0 {shape[2] - 1} 0 {shape[1] - 1} 0 {shape[0] - 1}"
    image.SetMetaData("Segmentation_MasterRepresentation", "Binary labelmap")
    image.SetMetaData("Segmentation_ContainedRepresentationNames", "Binary labelmap|")
    image.SetMetaData("Segmentation_ReferenceImageExtentOffset", "0 0 0")
    for index, (name, layer, label, colour) in enumerate(segments):
        prefix = f"Segment{index}_"
        for key, value in (("ID", f"Segment_{index + 1}"), ("Name", name), ("NameAutoGenerated", "0"),
                           ("Color", " ".join(f"{float(c):.6g}" for c in colour)), ("ColorAutoGenerated", "0"),
                           ("Layer", str(int(layer))), ("LabelValue", str(int(label))), ("Extent", extent),
                           ("Tags", "|")):
            image.SetMetaData(prefix + key, value)

    def write(temporary: Path) -> None:
        try:
            sitk.WriteImage(image, str(temporary), True)
        except RuntimeError as error:
            raise OSError(_first_line(error)) from error

    return write_atomically(path, write)


# ---------------------------------------------------------------------------------- region -> grid
def voxel_centres_ras(shape_kji, ijk_to_ras, k: int) -> np.ndarray:
    """RAS (mm) of the voxel centres of slice ``k``: [j, i, 3]."""
    n_j, n_i = int(shape_kji[1]), int(shape_kji[2])
    jj, ii = np.meshgrid(np.arange(n_j), np.arange(n_i), indexing="ij")
    ijk = np.stack([ii, jj, np.full_like(ii, k), np.ones_like(ii)], axis=-1).astype(float)
    return (ijk @ np.asarray(ijk_to_ras, dtype=float).T)[..., :3]


def region_mask_on_grid(region: RegionDefinition, shape_kji, ijk_to_ras, volume_name: str = "") -> np.ndarray:
    """Boolean mask [k, j, i] of ``region`` on a volume grid (slice by slice, bounded memory).

    Raises ValueError when no voxel of the volume falls in the region (empty ROI / other geometry).
    """
    shape = tuple(int(s) for s in shape_kji)
    out = np.zeros(shape, dtype=bool)
    if region.kind == "box":
        world_to_box = region.axes_ras.T
        centre = np.asarray(region.center_ras)
        half = np.asarray(region.size_mm) / 2.0 + 1e-6
        for k in range(shape[0]):
            local = (voxel_centres_ras(shape, ijk_to_ras, k) - centre) @ world_to_box.T
            inside = np.all(np.abs(local) <= half, axis=-1)
            out[k] = ~inside if region.inside_out else inside
    else:
        source = region.mask
        ras_to_source = np.linalg.inv(region.ijk_to_ras)
        for k in range(shape[0]):
            points = voxel_centres_ras(shape, ijk_to_ras, k)
            ijk = np.rint(points @ ras_to_source[:3, :3].T + ras_to_source[:3, 3]).astype(np.int64)
            i, j, kk = ijk[..., 0], ijk[..., 1], ijk[..., 2]
            valid = (i >= 0) & (i < source.shape[2]) & (j >= 0) & (j < source.shape[1]) & (kk >= 0) & (kk < source.shape[0])
            slice_mask = np.zeros(shape[1:], dtype=bool)
            slice_mask[valid] = source[kk[valid], j[valid], i[valid]]
            out[k] = slice_mask
    if not out.any():
        where = f" of volume '{volume_name}'" if volume_name else ""
        raise ValueError(
            f"Region '{region.name}' contains no voxel{where}: it is empty, outside the image or drawn on "
            "another geometry that does not overlap it.")
    return out


def parse_named_path(text: str) -> tuple[str | None, str]:
    """'NAME=PATH' -> (NAME, PATH); 'PATH' -> (None, PATH). A Windows drive letter is not a name."""
    if "=" in text:
        name, _, rest = text.partition("=")
        if name and os.sep not in name and "/" not in name:
            return name, rest
    return None, text
