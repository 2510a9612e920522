"""Intensity profiles along a line given in RAS millimetres (core: numpy/scipy only).

``sample_line`` maps RAS points to continuous voxel indices with the inverse of the volume's 4x4
IJK->RAS matrix (``CardiacLGECommonLib.geometry.ras_to_ijk``), so any volume orientation, oblique or
anisotropic voxels and (once the caller folds them into the matrix) parent transforms are honoured.
Samples are taken every ``step_mm`` along the line from ``start_ras`` to ``end_ras`` (both ends
included; the step is adjusted so the line is divided into equal steps, the step used is stored in
the profile) with ``scipy.ndimage.map_coordinates``: ``"linear"`` (order 1, tri/bilinear) or
``"cubic"`` (order 3 B-spline, prefiltered on a crop around the line). At most ``MAX_SAMPLES`` samples
are taken along a line (``MAX_BAND_POINTS`` with a line width): a finer step is refused with the
smallest step allowed, so no step or line length makes the sampling unbounded in time or memory.

Inside the image means inside the voxel extent: every continuous index within [-0.5, n - 0.5] of
its axis (values beyond the outermost voxel centres are those of the edge voxel). An axis of a
single voxel (a single-slice volume) is sampled in-plane with that index fixed at 0; the line must
still lie within that slab (|k| <= 0.5).

``line_width_mm`` > 0 averages, at every position, parallel lines spread evenly over that width
perpendicular to the line in the image (i, j) plane (sample spacing across the width at most half
the smallest in-plane voxel), like the line-width option of image viewers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from CardiacLGECommonLib.core.geometry import ras_to_ijk
from scipy import ndimage

INTERPOLATION_ORDERS = {"linear": 1, "cubic": 3}
_CROP_MARGIN = 12  # voxels kept around the line for the cubic prefilter (0.268**12 < 1e-6)
_TOLERANCE = 1e-6
#: at most this many samples along one line (a 200 mm line at 0.01 mm); more is refused, never run unbounded
MAX_SAMPLES = 20_000
#: at most this many interpolated points for one profile with a line width (samples x parallel lines)
MAX_BAND_POINTS = 2_000_000


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class LineProfile:
    """Intensities sampled along a line: M samples at ``distance_mm`` from the start point."""

    distance_mm: np.ndarray  # [M]
    intensity: np.ndarray  # [M]
    points_ras: np.ndarray  # [M, 3]
    step_mm: float
    interpolation: str
    line_width_mm: float = 0.0

    ROW_UNITS: ClassVar[dict] = {"length_mm": "mm", "n_samples": "count", "step_mm": "mm", "interpolation": "",
                                 "line_width_mm": "mm", "start_ras": "mm", "end_ras": "mm"}

    @property
    def length_mm(self) -> float:
        return float(self.distance_mm[-1])

    @property
    def start_ras(self) -> np.ndarray:
        return self.points_ras[0]

    @property
    def end_ras(self) -> np.ndarray:
        return self.points_ras[-1]

    def as_row(self) -> dict:
        """Scalar description of the profile (not the samples)."""
        return {
            "length_mm": self.length_mm,
            "n_samples": int(self.distance_mm.size),
            "step_mm": self.step_mm,
            "interpolation": self.interpolation,
            "line_width_mm": self.line_width_mm,
            "start_ras": tuple(float(v) for v in self.start_ras),
            "end_ras": tuple(float(v) for v in self.end_ras),
        }


def _point3(value, what: str) -> np.ndarray:
    point = np.asarray(value, dtype=float).reshape(-1)
    if point.shape != (3,) or not np.all(np.isfinite(point)):
        raise ValueError(f"{what} must be three finite RAS coordinates (mm); got {value!r}.")
    return point


def _outside_message(what: str, point_ras: np.ndarray, ijk: np.ndarray, shape_ijk: tuple[int, int, int]) -> str:
    bounds = ", ".join(f"{axis} in [-0.5, {n - 0.5:g}]" for axis, n in zip("ijk", shape_ijk))
    return (
        f"The {what} of the line, RAS ({point_ras[0]:.2f}, {point_ras[1]:.2f}, {point_ras[2]:.2f}) mm, is outside "
        f"the image: voxel index (i, j, k) = ({ijk[0]:.2f}, {ijk[1]:.2f}, {ijk[2]:.2f}); valid {bounds}."
    )


def _inside(ijk: np.ndarray, shape_ijk: tuple[int, int, int]) -> np.ndarray:
    upper = np.asarray(shape_ijk, dtype=float) - 0.5 + _TOLERANCE
    return np.all((ijk >= -0.5 - _TOLERANCE) & (ijk <= upper), axis=-1)


def _interpolate(array_kji: np.ndarray, ijk: np.ndarray, order: int) -> np.ndarray:
    """Values of ``array_kji`` at continuous (i, j, k) points [..., 3] (all inside the extent)."""
    shape_kji = array_kji.shape
    coords = ijk[..., ::-1].reshape(-1, 3).T.copy()  # (k, j, i) rows
    keep = [axis for axis in range(3) if shape_kji[axis] > 1]
    if not keep:
        return np.full(ijk.shape[:-1], float(array_kji.reshape(-1)[0]))
    # Crop around the samples: the cubic prefilter then runs on a small block only.
    slices, offsets = [], []
    for axis in range(3):
        if shape_kji[axis] == 1:
            slices.append(slice(0, 1))
            offsets.append(0)
            continue
        lo = max(int(np.floor(coords[axis].min())) - _CROP_MARGIN, 0)
        hi = min(int(np.ceil(coords[axis].max())) + _CROP_MARGIN + 1, shape_kji[axis])
        slices.append(slice(lo, hi))
        offsets.append(lo)
    block = np.asarray(array_kji[tuple(slices)], dtype=float)
    block = block.reshape([block.shape[axis] for axis in keep])
    local = np.stack([coords[axis] - offsets[axis] for axis in keep])
    values = ndimage.map_coordinates(block, local, order=order, mode="nearest", prefilter=order > 1)
    return values.reshape(ijk.shape[:-1])


def _in_plane_perpendicular(ijk_to_ras: np.ndarray, direction: np.ndarray) -> np.ndarray:
    axes = np.asarray(ijk_to_ras, dtype=float)[:3, :3]
    normal = np.cross(axes[:, 0], axes[:, 1])
    perpendicular = np.cross(direction, normal / np.linalg.norm(normal))
    norm = np.linalg.norm(perpendicular)
    if norm < 1e-6:
        raise ValueError("A line width needs a line in the image plane; this line is along the slice normal.")
    return perpendicular / norm


def sample_line(
    array_kji: np.ndarray,
    ijk_to_ras: np.ndarray,
    start_ras,
    end_ras,
    step_mm: float = 0.1,
    interpolation: str = "linear",
    line_width_mm: float = 0.0,
) -> LineProfile:
    """Sample ``array_kji`` (indexed [k, j, i]; 2D = one slice) along start -> end in RAS mm."""
    array = np.asarray(array_kji)
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3 or array.size == 0:
        raise ValueError(f"Volume array must be 2D or 3D [k, j, i]; got shape {np.shape(array_kji)}.")
    matrix = np.asarray(ijk_to_ras, dtype=float)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)) or abs(np.linalg.det(matrix[:3, :3])) < 1e-12:
        raise ValueError("ijk_to_ras must be an invertible 4x4 matrix.")
    if interpolation not in INTERPOLATION_ORDERS:
        raise ValueError(f"Interpolation must be one of {sorted(INTERPOLATION_ORDERS)}; got {interpolation!r}.")
    step = float(step_mm)
    if not np.isfinite(step) or step <= 0:
        raise ValueError(f"Sample step must be a positive number of mm; got {step_mm!r}.")
    width = float(line_width_mm)
    if not np.isfinite(width) or width < 0:
        raise ValueError(f"Line width must be >= 0 mm; got {line_width_mm!r}.")
    start, end = _point3(start_ras, "Line start"), _point3(end_ras, "Line end")
    length = float(np.linalg.norm(end - start))
    if length < 1e-6:
        raise ValueError("The line has zero length (start and end points coincide).")
    if step > length:
        raise ValueError(f"Sample step {step:g} mm is longer than the line ({length:.3g} mm).")

    shape_ijk = (array.shape[2], array.shape[1], array.shape[0])
    for what, point in (("start point", start), ("end point", end)):
        ijk = ras_to_ijk(matrix, point)
        if not _inside(ijk, shape_ijk):
            raise ValueError(_outside_message(what, point, ijk, shape_ijk))

    if length / step >= MAX_SAMPLES:
        raise ValueError(f"A {length:.4g} mm line sampled every {step:.4g} mm needs {length / step + 1:.4g} samples; at "
                         f"most {MAX_SAMPLES} are taken: use a step of at least {length / (MAX_SAMPLES - 1):.3g} mm.")
    n_samples = int(np.floor(length / step + 1e-9)) + 1
    if (n_samples - 1) * step < length - 1e-9:
        n_samples += 1
    distance = np.linspace(0.0, length, n_samples)
    direction = (end - start) / length
    points = start + distance[:, np.newaxis] * direction

    if width > 0:
        perpendicular = _in_plane_perpendicular(matrix, direction)
        in_plane_spacing = np.linalg.norm(matrix[:3, :2], axis=0).min()
        n_across = int(np.ceil(width / (0.5 * in_plane_spacing))) + 1
        if n_across * n_samples > MAX_BAND_POINTS:
            raise ValueError(f"Line width {width:g} mm: {n_across} parallel lines of {n_samples} samples are more than the "
                             f"{MAX_BAND_POINTS} points interpolated for one profile; use a narrower width or a larger step.")
        offsets = np.linspace(-width / 2, width / 2, n_across)
        grid = points[np.newaxis] + offsets[:, np.newaxis, np.newaxis] * perpendicular
        for what, corner in (("start point", grid[0, 0]), ("start point", grid[-1, 0]),
                             ("end point", grid[0, -1]), ("end point", grid[-1, -1])):
            ijk = ras_to_ijk(matrix, corner)
            if not _inside(ijk, shape_ijk):
                raise ValueError(f"Line width {width:g} mm: " + _outside_message(f"band around the {what}", corner,
                                                                                   ijk, shape_ijk))
        values = _interpolate(array, ras_to_ijk(matrix, grid), INTERPOLATION_ORDERS[interpolation]).mean(axis=0)
    else:
        values = _interpolate(array, ras_to_ijk(matrix, points), INTERPOLATION_ORDERS[interpolation])

    for item in (distance, values, points):
        item.setflags(write=False)
    used_step = float(distance[1] - distance[0])
    return LineProfile(distance, values, points, used_step, interpolation, width)
