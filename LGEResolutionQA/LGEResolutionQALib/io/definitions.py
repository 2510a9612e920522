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
from CardiacLGECommonLib.core.geometry import LPS_TO_RAS


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
def _sitk_to_arrays(image) -> tuple[np.ndarray, np.ndarray]:
    import SimpleITK as sitk

    dimension = image.GetDimension()
    if dimension not in (2, 3):
        raise ValueError(f"Only 2D or 3D images are supported; got {dimension}D.")
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
    if dimension == 2:
        array = array[np.newaxis]
    return array, LPS_TO_RAS @ ijk_to_lps


def read_volume(path, name: str | None = None) -> StudyVolume:
    """Read a DICOM series folder (the single series in it), an NRRD or a NIfTI file."""
    import SimpleITK as sitk

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Volume not found: {path}")
    name = name or path.name.split(".")[0]
    if path.is_dir():
        reader = sitk.ImageSeriesReader()
        series = reader.GetGDCMSeriesIDs(str(path))
        if not series:
            raise ValueError(f"No DICOM series found in folder {path}.")
        if len(series) > 1:
            raise ValueError(f"Folder {path} holds {len(series)} DICOM series; give a folder with one series.")
        files = reader.GetGDCMSeriesFileNames(str(path), series[0])
        reader.SetFileNames(files)
        image = reader.Execute()
    else:
        try:
            image = sitk.ReadImage(str(path))
        except RuntimeError as error:
            raise ValueError(f"Cannot read volume {path}: {error}") from error
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(f"Volume {path} has {image.GetNumberOfComponentsPerPixel()} components; expected a scalar image.")
    array, ijk_to_ras = _sitk_to_arrays(image)
    return StudyVolume(name, array.astype(np.float32, copy=False), ijk_to_ras, source=str(path))


def write_volume(path, array_kji, ijk_to_ras) -> None:
    """Write an array [k, j, i] with its IJK->RAS matrix as NRRD/NIfTI (LPS on disk, as ITK/Slicer do)."""
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
    sitk.WriteImage(image, str(path), True)


# ------------------------------------------------------------------------------------------- markups
def _load_markups(path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Markups file not found: {path}")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path.name} is not a readable markups JSON file: {error}") from error
    markups = document.get("markups") if isinstance(document, dict) else None
    if not isinstance(markups, list) or not markups:
        raise ValueError(f"{path.name} has no 'markups' list (not a Slicer .mrk.json file).")
    return markups


def _to_ras(markup: dict, path) -> np.ndarray:
    system = str(markup.get("coordinateSystem", "LPS")).upper()
    if system == "LPS":
        return LPS_TO_RAS[:3, :3].copy()
    if system == "RAS":
        return np.eye(3)
    raise ValueError(f"{Path(path).name}: unknown coordinateSystem {system!r} (expected LPS or RAS).")


def _control_points(markup: dict, flip: np.ndarray, path) -> np.ndarray:
    points = []
    for point in markup.get("controlPoints") or []:
        if point.get("positionStatus", "defined") != "defined":
            continue
        position = np.asarray(point.get("position"), dtype=float)
        if position.shape != (3,) or not np.all(np.isfinite(position)):
            raise ValueError(f"{Path(path).name}: a control point has an invalid position {point.get('position')}.")
        points.append(flip @ position)
    return np.array(points).reshape(-1, 3)


def _markup_name(markup: dict, path, index: int) -> str:
    name = markup.get("name")
    if name:
        return str(name)
    base = Path(path).name
    for suffix in (".mrk.json", ".json"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base if index == 0 else f"{base}_{index}"


def read_markups_lines(path, name: str | None = None, kind: str = "septum", expected_bars: int | None = None,
                       pitch_mm: float | None = None) -> list[LineDefinition]:
    """Every line in a markups JSON file (type "Line", or an open curve's first and last point)."""
    lines = []
    for index, markup in enumerate(_load_markups(path)):
        if markup.get("type") not in ("Line", "Curve", "OpenCurve"):
            continue
        points = _control_points(markup, _to_ras(markup, path), path)
        label = name if (name and index == 0) else _markup_name(markup, path, index)
        if len(points) < 2:
            raise ValueError(f"Line '{label}' in {Path(path).name} has {len(points)} placed control point(s); needs 2.")
        lines.append(LineDefinition(label, tuple(points[0]), tuple(points[-1]), kind, expected_bars, pitch_mm))
    if not lines:
        raise ValueError(f"{Path(path).name} contains no markups line.")
    return lines


def read_markups_line(path, name: str | None = None, **kwargs) -> LineDefinition:
    """The first line of a markups JSON file."""
    return read_markups_lines(path, name, **kwargs)[0]


def read_markups_points(path) -> np.ndarray:
    """Every defined control point (RAS mm, rows) of the point lists ("Fiducial") in a markups file;
    other markups types are read only when the file has no point list."""
    markups = _load_markups(path)
    chosen = [m for m in markups if m.get("type") in ("Fiducial", "PointList")] or markups
    points = [_control_points(m, _to_ras(m, path), path) for m in chosen]
    return np.vstack(points) if points else np.zeros((0, 3))


def read_markups_rois(path, name: str | None = None) -> list[RegionDefinition]:
    """Every ROI (type "ROI") of a markups JSON file as an oriented box in RAS."""
    regions = []
    for index, markup in enumerate(_load_markups(path)):
        if markup.get("type") != "ROI":
            continue
        flip = _to_ras(markup, path)
        label = name if (name and index == 0) else _markup_name(markup, path, index)
        if markup.get("roiType", "Box") not in ("Box", "BoundingBox"):
            raise ValueError(f"ROI '{label}' is of type {markup.get('roiType')!r}; only box ROIs are supported.")
        if markup.get("center") is not None:
            center = flip @ np.asarray(markup["center"], dtype=float)
        else:
            points = _control_points(markup, flip, path)
            if len(points) == 0:
                raise ValueError(f"ROI '{label}' in {Path(path).name} is not placed (no centre).")
            center = points[0]
        orientation = np.asarray(markup.get("orientation", np.eye(3).ravel()), dtype=float).reshape(3, 3)
        size = markup.get("size")
        if size is None:
            raise ValueError(f"ROI '{label}' in {Path(path).name} has no size.")
        regions.append(RegionDefinition(label, center_ras=tuple(center), axes_ras=flip @ orientation,
                                        size_mm=tuple(size), inside_out=bool(markup.get("insideOut", False))))
    if not regions:
        raise ValueError(f"{Path(path).name} contains no markups ROI.")
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
    Path(path).write_text(json.dumps(document, indent=2), encoding="utf-8")


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
    Path(path).write_text(json.dumps(document, indent=2), encoding="utf-8")


# ------------------------------------------------------------------------------------- segmentations
def read_segmentation(path) -> dict[str, RegionDefinition]:
    """Segments of a Slicer ``.seg.nrrd`` (or labels of a plain labelmap file), by segment name.

    Each segment's mask keeps the file's own grid (``RegionDefinition.ijk_to_ras``); use
    ``region_mask_on_grid`` to put it on a volume. Empty segments are skipped.
    """
    import SimpleITK as sitk

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Segmentation file not found: {path}")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise ValueError(f"Cannot read segmentation {path}: {error}") from error
    components = image.GetNumberOfComponentsPerPixel()
    if components > 1:
        layers = [sitk.VectorIndexSelectionCast(image, c) for c in range(components)]
    else:
        layers = [image]
    arrays = []
    ijk_to_ras = None
    for layer in layers:
        array, ijk_to_ras = _sitk_to_arrays(layer)
        arrays.append(array)
    metadata = {key: image.GetMetaData(key) for key in image.GetMetaDataKeys()}
    segments: dict[str, RegionDefinition] = {}
    index = 0
    while f"Segment{index}_ID" in metadata:
        prefix = f"Segment{index}_"
        name = metadata.get(prefix + "Name") or metadata[prefix + "ID"]
        layer = int(metadata.get(prefix + "Layer", "0") or 0)
        label = int(float(metadata.get(prefix + "LabelValue", "1") or 1))
        if layer >= len(arrays):
            raise ValueError(f"{path.name}: segment '{name}' is on layer {layer}, the file has {len(arrays)}.")
        mask = arrays[layer] == label
        if mask.any():
            segments[name] = RegionDefinition(name, mask=mask, ijk_to_ras=ijk_to_ras)
        index += 1
    if index == 0:  # a plain labelmap: every non-zero label is a segment
        for label in np.unique(arrays[0]):
            if label != 0:
                segments[f"label {int(label)}"] = RegionDefinition(f"label {int(label)}", mask=arrays[0] == label,
                                                                    ijk_to_ras=ijk_to_ras)
    if not segments:
        raise ValueError(f"{path.name} contains no non-empty segment.")
    return segments


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
