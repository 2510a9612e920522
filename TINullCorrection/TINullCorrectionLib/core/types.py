"""Data types at the boundaries of the TI null-point correction core.

All times are in milliseconds (``*_ms``), all lengths in millimetres (``*_mm``).
No patient identifiers are ever stored in these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: The optimal range of a frame's (or the chosen TI's) offset from the myocardial null, ms (our documented
#: choice; the published bins are not public). Every accuracy figure names the range it used.
DEFAULT_OPTIMAL_RANGE_MS = (-10.0, 20.0)


class ScoutError(ValueError):
    """Raised for input that is not a usable TI scout (clear, user-facing message)."""


@dataclass(frozen=True)
class TIScout:
    """One slice of a TI scout (Look-Locker) series, frames sorted by inversion time.

    frames: float32 [N, H, W] (row, column), N >= 3.
    ti_ms: float64 [N], strictly increasing inversion times of the frames.
    pixel_spacing_mm: (row spacing, column spacing) = (spacing along j, spacing along i).
    ijk_to_ras: 4x4 matrix mapping (i=column, j=row, k=slice, 1) to RAS millimetres.
    ti_source: which field gave the TI, e.g. "InversionTime (0018,0082)", "TriggerTime (0018,1060)", "user".
    phase_sensitive: True for PSIR / real reconstructions that keep the sign.
    tr_ms: optional float64 [N] repetition time of each frame (IR spin-echo series with a TR that grows
        with TI need it for the finite-TR fit); None when unknown or irrelevant (Look-Locker).
    screen_capture: True when the frames are display levels (screenshots or phone photos of the monitor):
        window, gamma, black level and glare have changed the signal, so fits use a free baseline.
    warnings: plain-language notes from loading (e.g. "assembled from 6 series", scaling conversions).
    scout_key: opaque key of the acquisition the slice belongs to (a hash of study, series and protocol; no
        identifier can be read back from it): slices with the same non-empty key are one scout and may be
        combined; "" when unknown (each such slice stands alone).
    """

    frames: np.ndarray
    ti_ms: np.ndarray
    pixel_spacing_mm: tuple[float, float] = (1.0, 1.0)
    slice_thickness_mm: float = 8.0
    ijk_to_ras: np.ndarray = field(default_factory=lambda: np.eye(4))
    ti_source: str = "user"
    phase_sensitive: bool = False
    vendor: str = ""
    series_description: str = ""
    slice_label: str = ""
    tr_ms: np.ndarray | None = None
    warnings: tuple[str, ...] = ()
    screen_capture: bool = False
    scout_key: str = ""

    def __post_init__(self) -> None:
        frames = np.asarray(self.frames, dtype=np.float32)
        ti_ms = np.asarray(self.ti_ms, dtype=np.float64)
        if frames.ndim != 3:
            raise ScoutError(f"TI scout frames must be [N, H, W]; got shape {frames.shape}.")
        if frames.shape[0] < 3:
            raise ScoutError(f"A TI scout needs at least 3 frames; got {frames.shape[0]}.")
        if ti_ms.shape != (frames.shape[0],):
            raise ScoutError(f"Got {ti_ms.size} TI values for {frames.shape[0]} frames.")
        if not np.all(np.isfinite(ti_ms)):
            raise ScoutError("TI values must be finite numbers.")
        if np.any(np.diff(ti_ms) == 0):
            dup = sorted({float(t) for t in ti_ms[1:][np.diff(ti_ms) == 0]})
            raise ScoutError(f"Duplicate inversion times {dup} ms: mixed series or repeated frames?")
        if np.any(np.diff(ti_ms) < 0):
            raise ScoutError("TI values must be sorted in increasing order.")
        if not np.all(np.isfinite(frames)):
            raise ScoutError("Frames contain NaN or infinite pixel values.")
        matrix = np.asarray(self.ijk_to_ras, dtype=np.float64)
        if matrix.shape != (4, 4):
            raise ScoutError(f"ijk_to_ras must be 4x4; got {matrix.shape}.")
        if self.tr_ms is not None:
            tr_ms = np.asarray(self.tr_ms, dtype=np.float64)
            if tr_ms.shape != ti_ms.shape:
                raise ScoutError(f"Got {tr_ms.size} TR values for {ti_ms.size} frames.")
            if not np.all(np.isfinite(tr_ms)) or np.any(tr_ms <= 0):
                raise ScoutError("TR values must be positive finite numbers (ms).")
            object.__setattr__(self, "tr_ms", tr_ms)
        object.__setattr__(self, "warnings", tuple(str(w) for w in self.warnings))
        object.__setattr__(self, "frames", frames)
        object.__setattr__(self, "ti_ms", ti_ms)
        object.__setattr__(self, "ijk_to_ras", matrix)
        object.__setattr__(
            self, "pixel_spacing_mm", (float(self.pixel_spacing_mm[0]), float(self.pixel_spacing_mm[1]))
        )

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])


@dataclass(frozen=True)
class ScoutPrediction:
    """Per-frame CNN output for one TIScout.

    offset_ms[n]: predicted TI of frame n minus the myocardial null TI (negative = before the null).
    probabilities[n, k]: class probabilities over ``class_names`` (offset bins, including the tails).
    bin_centers_ms[k]: offset represented by each class (tails at their inner edge +/- half a bin).
    confidence[n]: probability mass of the predicted class and its two neighbours, in [0, 1].
    """

    ti_ms: np.ndarray
    offset_ms: np.ndarray
    probabilities: np.ndarray
    bin_centers_ms: np.ndarray
    class_names: tuple[str, ...]
    confidence: np.ndarray
    model_name: str = ""

    @property
    def corrected_ti_ms(self) -> np.ndarray:
        """Per-frame estimate of the null TI: frame TI minus its predicted offset."""
        return np.asarray(self.ti_ms, dtype=np.float64) - np.asarray(self.offset_ms, dtype=np.float64)


@dataclass(frozen=True)
class NullEstimate:
    """Estimated myocardial null TI of one TI scout slice and the TI to use for LGE.

    method: "cnn", "ir-fit" or "combined".
    recommended_lge_ti_ms = null_ti_ms + lge_offset_ms + drift_ms_per_min * minutes_since_scout.
    warnings: plain-language messages for the user.
    """

    null_ti_ms: float
    uncertainty_ms: float
    method: str
    recommended_lge_ti_ms: float
    warnings: tuple[str, ...] = ()
