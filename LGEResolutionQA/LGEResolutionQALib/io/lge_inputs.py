"""LGE quantification inputs as people have them (core: numpy, SimpleITK, Pillow).

* Image stacks (``read_stack``): a volume file (NRRD, NIfTI, MetaImage), a DICOM series folder, a
  folder of slice pictures (PNG/TIFF/JPEG/BMP) or a glob pattern of slice files
  (``images/Case_P001_slice*.png``); slice files are ordered by a natural sort of their names
  (``slice2`` before ``slice10``). Several DICOM files given by a pattern are ordered by their
  position along the slice normal.
* Spacing: from the file when it has one (DICOM, NRRD, NIfTI, MetaImage); pictures have none, so
  ``spacing_mm`` (si, sj, sk; sk = slice thickness + gap) must be given for them — a clear error
  otherwise. A spacing given for a file that has its own is ignored with a warning.
* Geometry of picture stacks: columns run to the patient's left, rows to posterior and slices to
  superior (IJK->LPS = diag(si, sj, sk), as a DICOM image with identity orientation), i.e. the
  standard short-axis display with the RV on the image's left. Voxel coordinates given for such a
  stack are therefore mapped consistently; RAS = diag(-1, -1, 1)·LPS.
* Label maps (``read_labels``): the same readers; the myocardium is the union of the listed labels
  (``parse_labels("2,3,4")``, ranges "2-4" allowed), e.g. EMIDEC: 1 cavity, 2 normal myocardium,
  3 infarct, 4 MVO -> myocardium = 2,3,4. A label map must match the image grid (shape, and the
  IJK->RAS matrix when both come from files with geometry).
* Points (``parse_point``): "x,y,z" numbers; ``point_to_ras`` converts voxel (i, j, k, 0-based)
  coordinates with the image's matrix; ``read_markups_point`` takes the first defined control point
  of a Slicer markups file (.mrk.json, LPS or RAS).
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from CardiacLGECommonLib.core.geometry import LPS_TO_RAS
from CardiacLGECommonLib.core.process_locale import keeps_process_locale

from LGEResolutionQALib.io.definitions import (
    _first_line,
    _sitk_to_arrays,
    check_spacing_plausible,
    check_voxel_count,
    order_dicom_slices,
    read_dicom_folder,
    read_image_file,
    read_image_header,
    read_markups_points,
)

PICTURE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
VOLUME_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")


@dataclass(frozen=True, eq=False)
class ImageStack:
    """A stack [k, j, i] with its IJK->RAS matrix; ``spacing_source`` "file" or "option"."""

    array: np.ndarray = field(repr=False)
    ijk_to_ras: np.ndarray = field(repr=False)
    spacing_source: str
    files: tuple[str, ...] = field(default=(), repr=False)
    warnings: tuple[str, ...] = ()

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        return tuple(float(v) for v in np.linalg.norm(self.ijk_to_ras[:3, :3], axis=0))


def _natural_key(path: Path):
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _check_spacing(spacing_mm) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in spacing_mm)
    except (TypeError, ValueError) as error:
        raise ValueError(f"spacing_mm must be three numbers (si, sj, sk mm); got {spacing_mm!r}.") from error
    if len(values) != 3 or not all(np.isfinite(values)) or min(values) <= 0:
        raise ValueError(f"spacing_mm must be three positive numbers (si, sj, sk mm); got {spacing_mm!r}.")
    if not all(0.1 <= v <= 10.0 for v in values[:2]) or not 0.5 <= values[2] <= 30.0:
        raise ValueError(f"spacing_mm {values} is outside the plausible range (pixels 0.1-10 mm, slices 0.5-30 mm).")
    return values


def parse_spacing(text: str) -> tuple[float, float, float]:
    """"1.5,1.5,10" -> (1.5, 1.5, 10.0); "1.5,10" -> square pixels of 1.5 mm, 10 mm slices."""
    try:
        parts = [float(p) for p in str(text).replace("x", ",").split(",") if p.strip()]
    except ValueError as error:
        raise ValueError(f"Spacing must be numbers 'si,sj,sk' or 'pixel,slice' (mm); got {text!r}.") from error
    if len(parts) == 2:
        parts = [parts[0], parts[0], parts[1]]
    return _check_spacing(parts)


#: label values are 1..MAX_LABEL (0 is the background); at most MAX_LABEL_COUNT of them in one list
MAX_LABEL = 65535
MAX_LABEL_COUNT = 256


def parse_labels(text: str) -> tuple[int, ...]:
    """"2,3,4" or "2-4" -> (2, 3, 4). Labels are integers 1..MAX_LABEL (0 is the background), at most
    MAX_LABEL_COUNT of them."""
    labels: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                low, high = (int(v) for v in part.split("-", 1))
                if high < low:
                    raise ValueError
                if high - low >= MAX_LABEL_COUNT:
                    raise ValueError(f"Labels {text!r}: the range {part} holds more than {MAX_LABEL_COUNT} labels.")
                labels.extend(range(low, high + 1))
            else:
                labels.append(int(part))
        except ValueError as error:
            if str(error).startswith("Labels "):
                raise
            raise ValueError(f"Labels must be integers like '2,3,4' or '2-4'; got {text!r}.") from error
    if not labels:
        raise ValueError(f"No labels in {text!r}.")
    outside = [v for v in labels if not 1 <= v <= MAX_LABEL]
    if outside:
        raise ValueError(f"Labels {text!r}: {outside[0]} is not a label (labels are 1-{MAX_LABEL}; 0 is the background).")
    if len(set(labels)) > MAX_LABEL_COUNT:
        raise ValueError(f"Labels {text!r}: more than {MAX_LABEL_COUNT} labels.")
    return tuple(sorted(set(labels)))


def parse_point(text: str) -> tuple[float, float, float]:
    """"x,y,z" -> three finite floats."""
    try:
        values = tuple(float(v) for v in str(text).split(","))
    except ValueError as error:
        raise ValueError(f"A point must be three numbers 'x,y,z'; got {text!r}.") from error
    if len(values) != 3 or not all(np.isfinite(values)):
        raise ValueError(f"A point must be three finite numbers 'x,y,z'; got {text!r}.")
    return values


def point_to_ras(point_ijk, ijk_to_ras) -> np.ndarray:
    """Voxel coordinates (i, j, k; 0-based, may be fractional) -> RAS (mm)."""
    ijk = np.asarray(point_ijk, dtype=np.float64)
    return (np.asarray(ijk_to_ras, dtype=np.float64) @ np.append(ijk, 1.0))[:3]


def read_markups_point(path) -> np.ndarray:
    """First defined control point (RAS mm) of a Slicer markups file."""
    points = read_markups_points(path)
    if len(points) == 0:
        raise ValueError(f"{Path(path).name} has no defined control point.")
    return points[0]


def _files_of(spec) -> tuple[list[Path], str]:
    """('volume' | 'dicom-folder' | 'pictures' | 'dicom-files', files)."""
    text = str(spec)
    path = Path(text)
    if any(ch in text for ch in "*?["):
        files = sorted((Path(p) for p in glob.glob(text)), key=_natural_key)
        files = [f for f in files if f.is_file()]
        if not files:
            raise FileNotFoundError(f"No files match {text}")
    elif path.is_dir():
        files = sorted((p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")), key=_natural_key)
        pictures = [p for p in files if p.suffix.lower() in PICTURE_SUFFIXES]
        if pictures:
            return pictures, "pictures"
        return [path], "dicom-folder"
    elif path.is_file():
        files = [path]
    else:
        raise FileNotFoundError(f"Input not found: {text}")
    lower = [f.name.lower() for f in files]
    if all(name.endswith(PICTURE_SUFFIXES) for name in lower):
        return files, "pictures"
    if len(files) == 1 and lower[0].endswith(VOLUME_SUFFIXES):
        return files, "volume"
    if any(name.endswith(PICTURE_SUFFIXES) for name in lower):
        raise ValueError(f"{text} mixes picture files with other files; give one kind.")
    return files, "dicom-files"


def _picture_size(path: Path) -> tuple[int, int]:
    """(rows, columns) of a picture from its header (no pixels decoded)."""
    from PIL import Image

    try:
        with Image.open(path) as picture:
            columns, rows = picture.size
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise ValueError(f"Cannot read picture {path.name}: {error}") from error
    return rows, columns


def _read_picture(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as picture:
            array = np.asarray(picture)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise ValueError(f"Cannot read picture {path.name}: {error}") from error
    if array.ndim == 3:
        channels = array[..., :3]
        if not (np.array_equal(channels[..., 0], channels[..., 1]) and np.array_equal(channels[..., 0], channels[..., 2])):
            raise ValueError(f"{path.name} is a colour picture; slices must be greyscale (or grey RGB).")
        array = channels[..., 0]
    if array.ndim != 2:
        raise ValueError(f"{path.name} is not a 2D picture (shape {array.shape}).")
    return array


@keeps_process_locale
def read_stack(spec, spacing_mm=None) -> ImageStack:
    """Read an image or label stack (see the module docstring)."""
    import SimpleITK as sitk

    files, kind = _files_of(spec)
    warnings: list[str] = []
    if kind == "pictures":
        if spacing_mm is None:
            raise ValueError(f"{Path(str(spec)).name}: picture slices carry no pixel spacing or slice distance; give the "
                             "spacing (e.g. --spacing-mm 1.5,1.5,10).")
        si, sj, sk = _check_spacing(spacing_mm)
        rows, columns = _picture_size(files[0])
        check_voxel_count((columns, rows, len(files)), 1, f"The picture stack {Path(str(spec)).name}")
        slices = [_read_picture(f) for f in files]
        shapes = {s.shape for s in slices}
        if len(shapes) != 1:
            raise ValueError(f"The slices of {spec} have different sizes: {sorted(shapes)}.")
        array = np.stack(slices)
        ijk_to_ras = LPS_TO_RAS @ np.diag([si, sj, sk, 1.0])
        return ImageStack(array, ijk_to_ras, "option", tuple(str(f) for f in files))
    if kind == "dicom-folder":
        try:
            image = read_dicom_folder(files[0])
        except ValueError as error:
            if str(error).startswith("No DICOM series"):
                raise ValueError(f"No DICOM series or picture slices found in folder {files[0]}.") from error
            raise
        files = [Path(n) for n in sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(files[0]))]
    elif kind == "volume":
        image = read_image_file(files[0], "image")
    else:
        headers = [read_image_header(f, "DICOM file") for f in files]
        first = headers[0]
        size = list(first.GetSize()) + [1] * (3 - first.GetDimension())
        check_voxel_count((size[0], size[1], size[2] * len(files)), first.GetNumberOfComponents(), f"The files of {spec}")
        if len(files) == 1:
            image = read_image_file(files[0], "image")
        else:
            if first.GetDimension() != 3:
                raise ValueError(f"{files[0].name} is a {first.GetDimension()}D image, not a DICOM slice.")
            names = [str(files[i]) for i in order_dicom_slices(headers, f"The files of {spec}")]
            reader = sitk.ImageSeriesReader()
            reader.SetFileNames(names)
            try:
                image = reader.Execute()
            except (RuntimeError, MemoryError) as error:
                raise ValueError(f"Cannot read the files of {spec} as one series: {_first_line(error)}") from error
            files = [Path(n) for n in names]
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(f"{spec} has {image.GetNumberOfComponentsPerPixel()} components per voxel; expected a scalar "
                         "image.")
    array, ijk_to_ras = _sitk_to_arrays(image, str(spec))
    check_spacing_plausible(np.linalg.norm(ijk_to_ras[:3, :3], axis=0), array.shape[0], str(spec))
    if spacing_mm is not None:
        warnings.append(f"{Path(str(spec)).name} has its own spacing "
                        f"({', '.join(f'{v:.4g}' for v in np.linalg.norm(ijk_to_ras[:3, :3], axis=0))} mm); the given "
                        "spacing was ignored")
    return ImageStack(array, ijk_to_ras, "file", tuple(str(f) for f in files), tuple(warnings))


def read_labels(spec, image: ImageStack, spacing_mm=None) -> ImageStack:
    """A label stack on ``image``'s grid (same shape; same matrix when both have file geometry)."""
    labels = read_stack(spec, spacing_mm if spacing_mm is not None else (
        image.spacing_mm if image.spacing_source == "option" else None))
    values = labels.array
    if not np.issubdtype(values.dtype, np.integer):
        if not np.all(values == np.round(values)):
            raise ValueError(f"{spec} is not a label map (it has non-integer values).")
        values = values.astype(np.int64)
    if values.shape != image.array.shape:
        raise ValueError(f"The label map {spec} has shape {values.shape}, the image {image.array.shape}: they must be on "
                         "the same grid.")
    if labels.spacing_source == "file" and image.spacing_source == "file" and not np.allclose(
            labels.ijk_to_ras, image.ijk_to_ras, atol=1e-3):
        raise ValueError(f"The label map {spec} is not on the image's grid (different IJK->RAS matrix).")
    return ImageStack(values, image.ijk_to_ras, image.spacing_source, labels.files, labels.warnings)


def mask_of_labels(label_array: np.ndarray, labels, what: str = "myocardium") -> np.ndarray:
    """Union of ``labels`` in a label map; a clear error when none of them is present."""
    wanted = tuple(int(v) for v in labels)
    mask = np.isin(label_array, wanted)
    if not mask.any():
        present = sorted(int(v) for v in np.unique(label_array))
        shown = ", ".join(map(str, present[:12])) + (f" and {len(present) - 12} more" if len(present) > 12 else "")
        raise ValueError(f"No voxel has the {what} label(s) {list(wanted)}; the label map holds [{shown}].")
    return mask
