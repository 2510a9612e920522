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

from LGEResolutionQALib.io.definitions import _sitk_to_arrays, read_markups_points

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


def parse_labels(text: str) -> tuple[int, ...]:
    """"2,3,4" or "2-4" -> (2, 3, 4)."""
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
                labels.extend(range(low, high + 1))
            else:
                labels.append(int(part))
        except ValueError as error:
            raise ValueError(f"Labels must be integers like '2,3,4' or '2-4'; got {text!r}.") from error
    if not labels:
        raise ValueError(f"No labels in {text!r}.")
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


def _read_picture(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as picture:
            array = np.asarray(picture)
    except (OSError, ValueError) as error:
        raise ValueError(f"Cannot read picture {path.name}: {error}") from error
    if array.ndim == 3:
        channels = array[..., :3]
        if not (np.array_equal(channels[..., 0], channels[..., 1]) and np.array_equal(channels[..., 0], channels[..., 2])):
            raise ValueError(f"{path.name} is a colour picture; slices must be greyscale (or grey RGB).")
        array = channels[..., 0]
    if array.ndim != 2:
        raise ValueError(f"{path.name} is not a 2D picture (shape {array.shape}).")
    return array


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
        slices = [_read_picture(f) for f in files]
        shapes = {s.shape for s in slices}
        if len(shapes) != 1:
            raise ValueError(f"The slices of {spec} have different sizes: {sorted(shapes)}.")
        array = np.stack(slices)
        ijk_to_ras = LPS_TO_RAS @ np.diag([si, sj, sk, 1.0])
        return ImageStack(array, ijk_to_ras, "option", tuple(str(f) for f in files))
    if kind == "dicom-folder":
        reader = sitk.ImageSeriesReader()
        series = reader.GetGDCMSeriesIDs(str(files[0]))
        if not series:
            raise ValueError(f"No DICOM series or picture slices found in folder {files[0]}.")
        if len(series) > 1:
            raise ValueError(f"Folder {files[0]} holds {len(series)} DICOM series; give a folder with one series.")
        names = reader.GetGDCMSeriesFileNames(str(files[0]), series[0])
        reader.SetFileNames(names)
        image = reader.Execute()
        files = [Path(n) for n in names]
    elif kind == "volume":
        try:
            image = sitk.ReadImage(str(files[0]))
        except RuntimeError as error:
            raise ValueError(f"Cannot read {files[0].name}: {error}") from error
    else:
        images = []
        for f in files:
            try:
                images.append(sitk.ReadImage(str(f)))
            except RuntimeError as error:
                raise ValueError(f"Cannot read {f.name} as DICOM: {error}") from error
        if len(images) == 1:
            image = images[0]
        else:
            normal = np.cross(np.asarray(images[0].GetDirection()).reshape(3, 3)[:, 0],
                              np.asarray(images[0].GetDirection()).reshape(3, 3)[:, 1])
            order = np.argsort([float(np.dot(normal, im.GetOrigin())) for im in images])
            names = [str(files[i]) for i in order]
            reader = sitk.ImageSeriesReader()
            reader.SetFileNames(names)
            image = reader.Execute()
            files = [Path(n) for n in names]
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(f"{spec} has {image.GetNumberOfComponentsPerPixel()} components per voxel; expected a scalar "
                         "image.")
    array, ijk_to_ras = _sitk_to_arrays(image)
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
        raise ValueError(f"No voxel has the {what} label(s) {list(wanted)}; the label map holds {present}.")
    return mask
