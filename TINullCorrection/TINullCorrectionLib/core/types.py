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

# Plausible input ranges, checked where every input becomes a TIScout (docs/METHODS.md §1.7). Outside them
# the input is refused with a ScoutError naming the value (frame spacing and a frame count above 100 only warn:
# unusual, not wrong).
#: TI of a scout frame (ms): 30 frames 160 ms apart reach about 4900 ms, native Look-Locker scouts about 3100 ms.
PLAUSIBLE_TI_MS = (0.0, 6000.0)
#: A longest TI below this many ms means the TIs were given in seconds.
SECONDS_SUSPECT_BELOW_MS = 5.0
#: Number of frames of one slice: above the upper bound a warning; above MAX_FRAMES an error (memory bound).
PLAUSIBLE_FRAMES = (3, 100)
MAX_FRAMES = 512
#: Spacing of consecutive frames (ms): outside it a warning.
PLAUSIBLE_FRAME_SPACING_MS = (10.0, 500.0)
PLAUSIBLE_PIXEL_SPACING_MM = (0.1, 10.0)
PLAUSIBLE_SLICE_THICKNESS_MM = (0.5, 20.0)
#: Pixels of one frame (rows x columns): 4K phone photos (4032 x 3024) fit, a 20000 x 20000 "frame" does not.
MAX_FRAME_PIXELS = 4096 * 4096


class ScoutError(ValueError):
    """Raised for input that is not a usable TI scout (clear, user-facing message)."""


def check_plausible_ti_ms(ti_ms, what: str = "TI") -> np.ndarray:
    """The TIs as float64, or ScoutError when any is not finite, outside PLAUSIBLE_TI_MS, or all look like
    seconds (docs/METHODS.md §1.7). ``what`` names the input in the message."""
    ti = np.asarray(ti_ms, dtype=np.float64).ravel()
    if not np.all(np.isfinite(ti)):
        raise ScoutError(f"{what} values must be finite numbers of milliseconds.")
    low, high = PLAUSIBLE_TI_MS
    outside = ti[(ti < low) | (ti > high)]
    if outside.size:
        shown = ", ".join(f"{v:g}" for v in outside[:4])
        raise ScoutError(
            f"{what} values must lie in {low:g}-{high:g} ms (docs/METHODS.md §1.7); got {shown} ms. "
            "Check the units and the field the TI came from."
        )
    if ti.size and float(ti.max()) < SECONDS_SUSPECT_BELOW_MS:
        raise ScoutError(
            f"The longest {what} is {float(ti.max()):g} ms: these look like seconds. Give the TIs in milliseconds "
            f"(e.g. {1000 * float(ti.max()):g} ms)."
        )
    return ti


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
        check_plausible_ti_ms(ti_ms)
        if frames.shape[0] > MAX_FRAMES:
            raise ScoutError(f"A TI scout slice has at most {MAX_FRAMES} frames; got {frames.shape[0]}.")
        if frames.shape[1] * frames.shape[2] > MAX_FRAME_PIXELS:
            raise ScoutError(f"Frames of {frames.shape[1]} x {frames.shape[2]} pixels are too large for a TI scout "
                             f"(at most {MAX_FRAME_PIXELS} pixels per frame).")
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
        spacing = tuple(float(v) for v in np.asarray(self.pixel_spacing_mm, dtype=float).ravel())
        low_mm, high_mm = PLAUSIBLE_PIXEL_SPACING_MM
        if len(spacing) != 2 or not all(np.isfinite(spacing)) or not all(low_mm <= v <= high_mm for v in spacing):
            raise ScoutError(f"Pixel spacing must be two numbers in {low_mm:g}-{high_mm:g} mm (docs/METHODS.md §1.7); "
                             f"got {self.pixel_spacing_mm}.")
        thickness = float(self.slice_thickness_mm)
        low_mm, high_mm = PLAUSIBLE_SLICE_THICKNESS_MM
        if not (np.isfinite(thickness) and low_mm <= thickness <= high_mm):
            raise ScoutError(f"Slice thickness must lie in {low_mm:g}-{high_mm:g} mm (docs/METHODS.md §1.7); got {thickness:g}.")
        warnings = [str(w) for w in self.warnings]
        steps = np.diff(ti_ms)
        low_ms, high_ms = PLAUSIBLE_FRAME_SPACING_MS
        if frames.shape[0] > PLAUSIBLE_FRAMES[1]:
            warnings.append(f"{frames.shape[0]} frames: more than the {PLAUSIBLE_FRAMES[1]} of any usual TI scout; check the input.")
        if steps.min() < low_ms or steps.max() > high_ms:
            warnings.append(
                f"Frames are {steps.min():.0f}-{steps.max():.0f} ms apart, outside the usual {low_ms:g}-{high_ms:g} ms of a TI "
                "scout: check the TIs."
            )
        object.__setattr__(self, "warnings", tuple(dict.fromkeys(warnings)))
        object.__setattr__(self, "frames", frames)
        object.__setattr__(self, "ti_ms", ti_ms)
        object.__setattr__(self, "ijk_to_ras", matrix)
        object.__setattr__(self, "pixel_spacing_mm", spacing)
        object.__setattr__(self, "slice_thickness_mm", thickness)

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
