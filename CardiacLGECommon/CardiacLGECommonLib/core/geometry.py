"""Image geometry as plain numpy: IJK (voxel index) <-> RAS (millimetres).

Convention (Slicer's): index order of a numpy volume is [k, j, i] (slice, row, column), and the
4x4 ``ijk_to_ras`` matrix maps the homogeneous column vector (i, j, k, 1) to (R, A, S, 1).
Its first three columns are the RAS direction of each index axis scaled by that axis' spacing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: DICOM/ITK patient coordinates (LPS) <-> Slicer's RAS: x and y change sign (its own inverse), 4x4.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
LPS_TO_RAS.setflags(write=False)


@dataclass(frozen=True)
class ImageGeometry:
    """Geometry of a voxel grid.

    spacing_mm: (si, sj, sk) spacing along the i (column), j (row), k (slice) axes.
    origin_ras: RAS position (mm) of the centre of voxel (0, 0, 0).
    directions: 3x3 matrix whose columns are the unit RAS directions of the i, j, k axes.
    """

    spacing_mm: tuple[float, float, float]
    origin_ras: tuple[float, float, float] = (0.0, 0.0, 0.0)
    directions: np.ndarray | None = None

    def __post_init__(self) -> None:
        spacing = tuple(float(s) for s in self.spacing_mm)
        if len(spacing) != 3 or not all(np.isfinite(spacing)) or min(spacing) <= 0:
            raise ValueError(f"Voxel spacing must be three positive numbers (mm); got {self.spacing_mm}.")
        directions = np.eye(3) if self.directions is None else np.asarray(self.directions, dtype=float)
        if directions.shape != (3, 3):
            raise ValueError(f"Direction matrix must be 3x3; got {directions.shape}.")
        norms = np.linalg.norm(directions, axis=0)
        if not np.allclose(norms, 1.0, atol=1e-4) or abs(abs(np.linalg.det(directions)) - 1.0) > 1e-3:
            raise ValueError("Direction matrix columns must be orthonormal unit vectors.")
        object.__setattr__(self, "spacing_mm", spacing)
        object.__setattr__(self, "origin_ras", tuple(float(o) for o in self.origin_ras))
        object.__setattr__(self, "directions", directions)

    @property
    def ijk_to_ras(self) -> np.ndarray:
        matrix = np.eye(4)
        matrix[:3, :3] = self.directions * np.asarray(self.spacing_mm)[np.newaxis, :]
        matrix[:3, 3] = self.origin_ras
        return matrix

    @classmethod
    def from_ijk_to_ras(cls, ijk_to_ras: np.ndarray) -> ImageGeometry:
        matrix = np.asarray(ijk_to_ras, dtype=float)
        if matrix.shape != (4, 4):
            raise ValueError(f"IJK to RAS matrix must be 4x4; got {matrix.shape}.")
        spacing = np.linalg.norm(matrix[:3, :3], axis=0)
        if np.any(spacing <= 0):
            raise ValueError("IJK to RAS matrix has a zero-length axis.")
        return cls(tuple(spacing), tuple(matrix[:3, 3]), matrix[:3, :3] / spacing[np.newaxis, :])


def ras_to_ijk(ijk_to_ras: np.ndarray, points_ras: np.ndarray) -> np.ndarray:
    """Continuous (i, j, k) indices of RAS points [..., 3] (mm)."""
    points = np.asarray(points_ras, dtype=float)
    homogeneous = np.concatenate([points, np.ones(points.shape[:-1] + (1,))], axis=-1)
    return (homogeneous @ np.linalg.inv(np.asarray(ijk_to_ras, dtype=float)).T)[..., :3]


def ijk_to_ras_points(ijk_to_ras: np.ndarray, points_ijk: np.ndarray) -> np.ndarray:
    """RAS positions (mm) of continuous (i, j, k) indices [..., 3]."""
    points = np.asarray(points_ijk, dtype=float)
    homogeneous = np.concatenate([points, np.ones(points.shape[:-1] + (1,))], axis=-1)
    return (homogeneous @ np.asarray(ijk_to_ras, dtype=float).T)[..., :3]
