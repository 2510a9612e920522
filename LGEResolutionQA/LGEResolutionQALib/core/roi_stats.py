"""Region-of-interest statistics on a voxel array (core: numpy only).

An ROI is a boolean mask on the same voxel grid as the image ([k, j, i] like every volume in this
project). The statistics follow what Slicer's Segment Statistics reports for scalar volumes, with
one documented difference: the SD is the *sample* standard deviation (ddof = 1),

    mean = (1/N) Σ x_v,   sd = sqrt( Σ (x_v − mean)² / (N − 1) ),

because it is used as a noise estimate (``snr.noise_from_tissue``) where the unbiased variance is
the usual convention. The volume is ``voxel_count × voxel_volume_mm3 / 1000`` (mL).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np


@dataclass(frozen=True)
class ROIStatistics:
    """Intensity statistics of one ROI (``sd`` is NaN for a single voxel: undefined)."""

    name: str
    mean: float
    sd: float
    median: float
    voxel_count: int
    volume_ml: float
    min: float
    max: float
    method: str = "roi-voxels"

    ROW_UNITS: ClassVar[dict] = {"name": "", "mean": "au", "sd": "au", "median": "au", "voxel_count": "count",
                                 "volume_ml": "mL", "min": "au", "max": "au", "method": ""}

    def as_row(self) -> dict:
        return asdict(self)


def validated_mask(array: np.ndarray, mask: np.ndarray, what: str = "ROI") -> np.ndarray:
    """``mask`` as a bool array after checking that it has the image's shape and is not empty."""
    image = np.asarray(array)
    roi = np.asarray(mask)
    if roi.shape != image.shape:
        raise ValueError(
            f"{what} mask shape {roi.shape} differs from the image shape {image.shape}: "
            "the ROI is defined on another geometry (resample it onto the image first)."
        )
    roi = roi.astype(bool, copy=False)
    if not roi.any():
        raise ValueError(f"{what} is empty (no voxel of the image inside it).")
    return roi


def roi_statistics(
    array: np.ndarray, mask: np.ndarray, voxel_volume_mm3: float, name: str = ""
) -> ROIStatistics:
    """Mean, sample SD, median, min, max, voxel count and volume (mL) of ``array`` inside ``mask``.

    Raises ValueError for an empty mask, a mask of another shape, a non-positive voxel volume or
    NaN/infinite values inside the ROI.
    """
    label = f"ROI '{name}'" if name else "ROI"
    roi = validated_mask(array, mask, label)
    if not np.isfinite(voxel_volume_mm3) or voxel_volume_mm3 <= 0:
        raise ValueError(f"Voxel volume must be a positive number of mm³; got {voxel_volume_mm3}.")
    values = np.asarray(array)[roi].astype(np.float64, copy=False)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{label} contains NaN or infinite image values.")
    count = int(values.size)
    return ROIStatistics(
        name=str(name),
        mean=float(values.mean()),
        sd=float(values.std(ddof=1)) if count > 1 else float("nan"),
        median=float(np.median(values)),
        voxel_count=count,
        volume_ml=count * float(voxel_volume_mm3) / 1000.0,
        min=float(values.min()),
        max=float(values.max()),
    )
