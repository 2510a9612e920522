"""TI scouts from ordinary images (PNG/JPEG screenshots, phone photos of the scanner monitor) and from
NRRD/NIfTI volumes, with the TIs given by the user (argument or a small CSV) or stored in the file.

Frames are always returned sorted by TI (images and TIs sorted together). Images carry no patient
geometry: their IJK->RAS matrix is diag(-col spacing, -row spacing, thickness) so that Slicer shows them
upright in the axial view. Colour pictures become luminance ``Y = 0.299 R + 0.587 G + 0.114 B``
(ITU-R BT.601). Volume geometry comes from the file (ITK's LPS converted to RAS by negating x and y).
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from CardiacLGECommonLib.core.geometry import LPS_TO_RAS

from TINullCorrectionLib.core.types import MAX_FRAME_PIXELS, MAX_FRAMES, ScoutError, TIScout

_LUMA_BT601 = np.array([0.299, 0.587, 0.114])
_TI_KEYS = ("ti_ms", "ti", "inversion_times", "inversion_times_ms")
DEFAULT_SLICE_THICKNESS_MM = 8.0


# ------------------------------------------------------------------------------------------------ TIs
def _parse_number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value


def read_ti_table(path) -> tuple[tuple[str, ...] | None, np.ndarray]:
    """Read a TI CSV: one column of numbers, a ``ti_ms`` (or ``ti``) column, or ``file,ti_ms`` rows.

    A header row is optional for a single column. Returns (file names or None, TIs in file order).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ScoutError(f"Cannot read the TI list {path.name}: {error}") from error
    rows = [row for row in csv.reader(text.splitlines()) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise ScoutError(f"The TI list {path.name} is empty.")
    header = [cell.strip().lower() for cell in rows[0]]
    has_header = all(_parse_number(cell) is None for cell in rows[0])
    body = rows[1:] if has_header else rows
    if has_header and len(header) > 1:
        ti_col = next((header.index(k) for k in _TI_KEYS if k in header), None)
        if ti_col is None:
            raise ScoutError(f"{path.name}: no 'ti_ms' column among {header}.")
        file_col = next((header.index(k) for k in ("file", "filename", "path", "image") if k in header), None)
    elif not has_header and len(rows[0]) == 2 and _parse_number(rows[0][0]) is None:
        ti_col, file_col = 1, 0
    elif not has_header and len(rows[0]) > 1:
        ti_col, file_col = (1, 0) if _parse_number(rows[0][0]) is None else (0, None)
    else:
        ti_col, file_col = 0, None
    values, files = [], []
    for number, row in enumerate(body, start=2 if has_header else 1):
        if ti_col >= len(row):
            raise ScoutError(f"{path.name} line {number}: missing TI value.")
        value = _parse_number(row[ti_col])
        if value is None or not np.isfinite(value) or value < 0:
            raise ScoutError(f"{path.name} line {number}: {row[ti_col]!r} is not a valid TI in ms.")
        values.append(value)
        if file_col is not None:
            files.append(row[file_col].strip())
    if not values:
        raise ScoutError(f"The TI list {path.name} has no values.")
    return (tuple(files) if file_col is not None else None), np.asarray(values, dtype=float)


def read_ti_csv(path) -> np.ndarray:
    """TIs (ms, float64, file order) from a CSV (see :func:`read_ti_table` for the accepted layouts)."""
    return read_ti_table(path)[1]


# ------------------------------------------------------------------ which TI belongs to which picture
# Our rule (docs/METHODS.md §1.7 and the README): a TI table with a file column is matched to the pictures by
# file name; a bare list of TIs (--ti-ms, or a one-column table) is given to the pictures in the order they
# were given, and only when that order is the natural order of their names (numbers compared as numbers, so
# photo_2 comes before photo_10). A shell glob sorts photo_10 before photo_2: then the order is ambiguous and
# the list is refused (one such run once reported 593 ms for a true null of 380.5 ms).


def natural_sort_key(name: str) -> tuple:
    """Sort key comparing the digit runs of ``name`` as numbers ("photo_2" < "photo_10"), case-insensitive."""
    parts = re.split(r"(\d+)", str(name).lower())
    return tuple((0, int(part), part) if part.isdigit() else (1, 0, part) for part in parts)


def check_list_order(paths) -> None:
    """ScoutError unless the pictures were given in the natural order of their names (see the rule above)."""
    names = [Path(p).name for p in paths]
    natural = sorted(names, key=natural_sort_key)
    if names == natural and len(set(names)) == len(names):
        return
    shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    wanted = ", ".join(natural[:4]) + (", ..." if len(names) > 4 else "")
    raise ScoutError(
        f"A list of TIs is given to the pictures in the order they were given ({shown}), but that is not the "
        f"natural order of their names ({wanted}; a shell glob sorts 10 before 2), so which TI belongs to which "
        "picture is ambiguous. Give --ti-csv with 'file,ti_ms' rows (matched by file name), or pass the pictures "
        "in that natural order (zero-padded names sort the same either way)."
    )


def ti_for_files(paths, table_files, table_ti_ms, table_name: str = "the TI table") -> tuple[np.ndarray, list[str]]:
    """TI of each of ``paths`` from a table's (file, TI) rows, matched by file name (the full path as written,
    else the name); returns (TIs in the order of ``paths``, warnings). ScoutError for a picture without a row,
    a name listed twice, or a name that matches two pictures."""
    paths = [Path(p) for p in paths]
    table_ti_ms = np.asarray(table_ti_ms, dtype=float)
    by_name: dict[str, float] = {}
    for name, ti in zip(table_files, table_ti_ms):
        key = Path(str(name).strip()).name
        if not key:
            raise ScoutError(f"{table_name} has a row without a file name.")
        if key in by_name:
            raise ScoutError(f"{table_name} lists {key} twice.")
        by_name[key] = float(ti)
    names = [p.name for p in paths]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ScoutError(f"Several pictures are named {', '.join(repeated)}: {table_name} cannot tell them apart; rename them.")
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ScoutError(f"{table_name} has no TI for {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else "") + ".")
    unused = sorted(set(by_name) - set(names), key=natural_sort_key)
    warnings = []
    if unused:
        warnings.append(f"{table_name} also lists {len(unused)} file(s) that were not given: {', '.join(unused[:5])}"
                        + (" ..." if len(unused) > 5 else "") + ".")
    return np.array([by_name[n] for n in names], dtype=float), warnings


def _checked_ti(ti_ms, n_frames: int) -> np.ndarray:
    ti = np.asarray(ti_ms, dtype=float).ravel()
    if ti.size != n_frames:
        raise ScoutError(f"Got {ti.size} TI values for {n_frames} frames: give one TI per frame.")
    if not np.all(np.isfinite(ti)) or np.any(ti < 0):
        raise ScoutError("TI values must be finite, non-negative numbers (ms).")
    if np.unique(ti).size != ti.size:
        dup = sorted({float(t) for t in ti if np.count_nonzero(ti == t) > 1})
        raise ScoutError(f"Duplicate TI values {dup} ms: each frame needs its own TI.")
    return ti


# --------------------------------------------------------------------------------------------- images
def _read_picture(path: Path) -> np.ndarray:
    """Luminance float32 [H, W] of a PNG/JPEG/TIFF/BMP (EXIF rotation of phone photos applied)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size  # known before decoding: refuse what cannot be a frame (no decompression bomb)
            if width * height > MAX_FRAME_PIXELS:
                raise ScoutError(f"The image {path.name} is {width} x {height} pixels: too large for a TI scout frame "
                                 f"(at most {MAX_FRAME_PIXELS} pixels); scale it down first.")
            image = ImageOps.exif_transpose(image)
            if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                return np.asarray(image, dtype=np.float32)
            if image.mode == "L":
                return np.asarray(image, dtype=np.float32)
            rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
    except ScoutError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, EOFError, SyntaxError) as error:
        raise ScoutError(f"Cannot read the image {path.name}: {error}") from error
    return (rgb @ _LUMA_BT601).astype(np.float32)


def load_scout_from_images(
    paths, ti_ms, pixel_spacing_mm=(1.0, 1.0), slice_thickness_mm=DEFAULT_SLICE_THICKNESS_MM
) -> TIScout:
    """A TI scout from 2D pictures (one per frame) and their TIs (same order as ``paths``).

    pixel_spacing_mm: (row, column) spacing; pictures carry none, so the default 1 mm is a placeholder.
    All pictures must have the same size; frames are sorted by TI.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise ScoutError("No image files given.")
    for path in paths:
        if not path.is_file():
            raise ScoutError(f"Image file not found: {path}")
    ti = _checked_ti(ti_ms, len(paths))
    frames = [_read_picture(p) for p in paths]
    sizes = sorted({f.shape for f in frames})
    if len(sizes) > 1:
        raise ScoutError(f"The images have different sizes {sizes}: all frames must share one size.")
    spacing = tuple(float(s) for s in pixel_spacing_mm)
    if len(spacing) != 2 or not all(np.isfinite(spacing)) or min(spacing) <= 0:
        raise ScoutError(f"Pixel spacing must be two positive numbers (mm); got {pixel_spacing_mm}.")
    order = np.argsort(ti, kind="stable")
    ijk_to_ras = np.diag([-spacing[1], -spacing[0], float(slice_thickness_mm), 1.0])
    return TIScout(
        frames=np.stack([frames[i] for i in order]),
        ti_ms=ti[order],
        pixel_spacing_mm=spacing,
        slice_thickness_mm=float(slice_thickness_mm),
        ijk_to_ras=ijk_to_ras,
        ti_source="user",
        phase_sensitive=False,
        screen_capture=True,
        slice_label=f"{len(paths)} images",
        warnings=("Pictures carry no scanner geometry or intensity scale: pixel spacing is as given.",),
    )


# -------------------------------------------------------------------------------------------- volumes
def _ti_from_metadata(image: sitk.Image) -> np.ndarray | None:
    """TIs stored in the file: a NRRD 'axis N index values' key (Slicer sequences) or a 'ti_ms' key."""
    for key in image.GetMetaDataKeys():
        name = key.lower()
        if "index values" in name or name.strip() in _TI_KEYS:
            numbers = [float(v) for v in re.split(r"[\s,;]+", image.GetMetaData(key).strip()) if v]
            if numbers:
                return np.asarray(numbers, dtype=float)
    return None


def _geometry(image: sitk.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(spacing[3], origin[3], direction 3x3) in LPS of the first three axes (2-D images padded)."""
    dim = image.GetDimension()
    n = min(dim, 3)
    spacing = np.ones(3)
    spacing[:n] = np.asarray(image.GetSpacing(), dtype=float)[:n]
    origin = np.zeros(3)
    origin[:n] = np.asarray(image.GetOrigin(), dtype=float)[:n]
    direction = np.eye(3)
    direction[:n, :n] = np.asarray(image.GetDirection(), dtype=float).reshape(dim, dim)[:n, :n]
    return spacing, origin, direction


def load_scout_from_volume_file(path, ti_ms=None) -> TIScout:
    """A TI scout from a NRRD/NIfTI file: 4D [t, 1, H, W], 3D whose third axis holds the frames, or a
    Slicer sequence (.seq.nrrd, frames as the list axis). TIs from ``ti_ms`` or from the file's metadata.
    """
    path = Path(path)
    if not path.is_file():
        raise ScoutError(f"Volume file not found: {path}")
    try:
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        reader.ReadImageInformation()  # header only: refuse a volume that cannot be a scout before reading it
        voxels = int(np.prod(reader.GetSize(), dtype=np.int64)) * int(reader.GetNumberOfComponents())
        if voxels > MAX_FRAMES * MAX_FRAME_PIXELS:
            raise ScoutError(f"{path.name} holds {voxels} voxels ({' x '.join(map(str, reader.GetSize()))}): too large for one TI scout slice.")
        image = reader.Execute()
    except RuntimeError as error:
        raise ScoutError(
            f"Cannot read {path.name} as an image volume: {str(error).strip().splitlines()[-1]}"
        ) from error
    array = sitk.GetArrayFromImage(image).astype(np.float64)
    dim = image.GetDimension()
    components = image.GetNumberOfComponentsPerPixel()
    if components > 1:  # list axis read as vector components: [(z,) y, x, C]
        if dim == 3:
            if array.shape[0] != 1:
                raise ScoutError(f"{path.name} holds {array.shape[0]} slices; a TI scout is one slice.")
            array = array[0]
        array = np.moveaxis(array, -1, 0)
    elif dim == 4:
        if array.shape[1] != 1:
            raise ScoutError(f"{path.name} holds {array.shape[1]} slices per frame; a TI scout is one slice.")
        array = array[:, 0]
    elif dim != 3:
        raise ScoutError(
            f"{path.name} is {dim}-D; a TI scout needs 3-D (frames as the 3rd axis) or 4-D data."
        )
    n_frames = array.shape[0]
    if n_frames < 3:
        raise ScoutError(f"{path.name} holds {n_frames} frame(s); a TI scout needs at least 3.")
    if ti_ms is None:
        ti_ms = _ti_from_metadata(image)
        source = "file metadata"
        if ti_ms is None:
            raise ScoutError(
                f"{path.name} stores no TI values: give them (one per frame) with ti_ms or a CSV."
            )
    else:
        source = "user"
    ti = _checked_ti(ti_ms, n_frames)
    if not np.all(np.isfinite(array)):
        raise ScoutError(f"{path.name} contains NaN or infinite pixel values.")
    spacing, origin, direction = _geometry(image)
    matrix = np.eye(4)
    matrix[:3, 0] = direction[:, 0] * spacing[0]
    matrix[:3, 1] = direction[:, 1] * spacing[1]
    matrix[:3, 2] = np.cross(direction[:, 0], direction[:, 1]) * DEFAULT_SLICE_THICKNESS_MM
    matrix[:3, 3] = origin
    order = np.argsort(ti, kind="stable")
    return TIScout(
        frames=array[order].astype(np.float32),
        ti_ms=ti[order],
        pixel_spacing_mm=(float(spacing[1]), float(spacing[0])),
        slice_thickness_mm=DEFAULT_SLICE_THICKNESS_MM,
        ijk_to_ras=LPS_TO_RAS @ matrix,
        ti_source=source,
        phase_sensitive=bool(np.any(array < 0)),
        slice_label=path.name,
    )


# ---------------------------------------------------------------------------------- uploaded photos
#: Formats accepted from an upload (what phones and screenshots produce; Pillow decodes them).
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "MPO")
#: Largest picture decoded (pixels): larger is refused before decoding (decompression bombs).
MAX_PHOTO_PIXELS = 50_000_000


def decode_photo(data: bytes, max_long_side_px: int | None = 2400, min_long_side_px: int | None = None) -> np.ndarray:
    """RGB uint8 [H, W, 3] of a JPEG/PNG/WebP/BMP/TIFF picture given as bytes (EXIF rotation applied),
    reduced so that its long side is at most ``max_long_side_px`` (JPEGs are decoded at a reduced scale
    directly, which keeps a 12-megapixel phone photo fast). With ``min_long_side_px``, a JPEG is decoded at
    the smallest of its reduced scales (1/2, 1/4, 1/8) whose long side is at least that, and resized only
    when it is still over ``max_long_side_px``: no resampling pass for a picture already in the range
    (a resize of a 5-megapixel picture costs about as long as its decoding). Raises ScoutError for anything else."""
    import io as _io

    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise ScoutError("The upload is empty.")
    try:
        image = Image.open(_io.BytesIO(data))
        if image.format not in PHOTO_FORMATS:
            raise ScoutError(f"{image.format or 'This'} pictures are not accepted: send a JPEG or PNG photo or screenshot.")
        width, height = image.size
        if width * height > MAX_PHOTO_PIXELS:
            raise ScoutError(f"The picture is too large ({width} x {height} pixels; at most {MAX_PHOTO_PIXELS // 1_000_000} megapixels).")
        if max_long_side_px and image.format == "JPEG" and max(width, height) > max_long_side_px:
            target = min_long_side_px or max_long_side_px
            # draft keeps both sides at least the requested ones: ask for the long side only
            long_side = max(width, height)
            image.draft("RGB", (max(1, width * target // long_side), max(1, height * target // long_side)))
        image = ImageOps.exif_transpose(image)
        rgb = image.convert("RGB")
        if max_long_side_px and max(rgb.size) > max_long_side_px:
            scale = max_long_side_px / max(rgb.size)
            rgb = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))), Image.Resampling.BILINEAR,
                             reducing_gap=2.0)
        return np.asarray(rgb, dtype=np.uint8)
    except ScoutError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise ScoutError("The upload is not a picture that can be read (send a JPEG or PNG photo or screenshot).") from error


def luminance(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luminance float32 [H, W] of an RGB picture (grey pictures are returned as float32)."""
    array = np.asarray(rgb)
    if array.ndim == 2:
        return array.astype(np.float32)
    return (array[..., :3].astype(np.float64) @ _LUMA_BT601).astype(np.float32)


def single_frame_from_photo(data: bytes, ti_ms: float, max_long_side_px: int = 1024):
    """A core.single_frame.SingleFrame from the bytes of one picture of one frame and its TI (ms)."""
    from TINullCorrectionLib.core.single_frame import SingleFrame

    if ti_ms is None:
        raise ScoutError("A single frame needs its TI: enter the TI printed with the frame.")
    return SingleFrame(luminance(decode_photo(data, max_long_side_px)), float(ti_ms), screen_capture=True)
