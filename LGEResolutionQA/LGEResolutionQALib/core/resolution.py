"""Bar / hole group resolution check along a line profile (core: numpy/scipy only).

docs/METHODS.md §2.3: sample across the group (supersampled, ideally averaged over
the bar length with ``profiles.sample_line(..., line_width_mm=...)``), expect N bars at pitch p.

Variant used here (``METHOD``):

* bars are the local maxima (``bright_bars=True``) or minima (dark bars) of the profile found by
  ``scipy.signal.find_peaks`` with a minimum separation of 0.75·p and a prominence of at least 2% of
  the profile's range;
* the bars of the group are N consecutive extrema whose spacings all lie within p ± 25% (plus half
  a sample step); of several such windows (background ripple, Gibbs ringing beside the group), the
  one with the most extreme mean intensity (brightest bright bars / darkest dark bars) is used;
  when there is none, ``found_peaks`` is the longest such run;
* small negative intensities (cubic-interpolation undershoot next to zero-valued bars, at most
  20% of the range) are clipped to 0; larger ones are an error (Michelson needs magnitudes);
* with ~2 pixels per period, linear interpolation puts extrema on voxel positions (spacings quantised
  to whole pixels); cubic interpolation of the profile places them between voxels;
* between each pair of neighbouring bars, the gap is the opposite extreme of the profile; the
  Michelson modulation of that gap is M = (I_max − I_min)/(I_max + I_min) with, for bright bars,
  I_max = mean of the two bars and I_min = the gap (for dark bars, I_max = the bright gap and
  I_min = the mean of the two bars) — intensities must be ≥ 0 (magnitude images);
* resolved when all N bars and the N − 1 gaps between them are found and every M ≥ the threshold
  (a parameter, default 0.1).

``sampling_limited(p, pixel)`` is the sampling limit: a pitch p cannot be resolved when
pixel > p/2 (so 1 mm bars at 2 mm pitch cannot be resolved at 1.5 mm pixels, can at 0.625 mm).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import signal

PITCH_TOLERANCE = 0.25
METHOD = (
    "bars = N consecutive find_peaks extrema (min separation 0.75 x pitch) at pitch +/-25%, the most extreme "
    "such window; "
    "Michelson modulation (max-min)/(max+min) of each gap against the mean of its two bars; "
    "resolved = all bars and gaps found and every modulation >= threshold"
)


@dataclass(frozen=True)
class BarGroupResult:
    """Resolved / not for one bar group (distances in mm along the profile)."""

    expected_bars: int
    found_peaks: int  # bars of the group found at the expected pitch (expected_bars, or fewer when not resolved)
    found_dips: int  # gaps between the selected bars
    modulations: tuple[float, ...]  # Michelson modulation of each gap
    measured_pitch_mm: float  # mean spacing of the selected bars (NaN when fewer than 2)
    resolved: bool
    threshold: float
    reason: str
    pitch_mm: float = float("nan")
    bright_bars: bool = True
    bar_positions_mm: tuple[float, ...] = ()
    method: str = METHOD

    ROW_UNITS: ClassVar[dict] = {
        "expected_bars": "count", "found_peaks": "count", "found_dips": "count", "min_modulation": "ratio",
        "mean_modulation": "ratio", "modulations": "ratio", "pitch_mm": "mm", "measured_pitch_mm": "mm", "resolved": "",
        "threshold": "ratio", "bright_bars": "", "bar_positions_mm": "mm", "reason": "", "method": "",
    }

    @property
    def min_modulation(self) -> float:
        return float(min(self.modulations)) if self.modulations else float("nan")

    def as_row(self) -> dict:
        return {
            "expected_bars": self.expected_bars,
            "found_peaks": self.found_peaks,
            "found_dips": self.found_dips,
            "min_modulation": self.min_modulation,
            "mean_modulation": float(np.mean(self.modulations)) if self.modulations else float("nan"),
            "modulations": ";".join(f"{m:.4f}" for m in self.modulations),
            "pitch_mm": self.pitch_mm,
            "measured_pitch_mm": self.measured_pitch_mm,
            "resolved": self.resolved,
            "threshold": self.threshold,
            "bright_bars": self.bright_bars,
            "bar_positions_mm": ";".join(f"{p:.3f}" for p in self.bar_positions_mm),
            "reason": self.reason,
            "method": self.method,
        }


def sampling_limited(pitch_mm: float, pixel_mm: float) -> bool:
    """True when the pixel is too coarse to sample the pitch (pixel > pitch/2)."""
    pitch, pixel = float(pitch_mm), float(pixel_mm)
    if not (np.isfinite(pitch) and np.isfinite(pixel)) or pitch <= 0 or pixel <= 0:
        raise ValueError(f"Pitch and pixel size must be positive (mm); got pitch {pitch_mm}, pixel {pixel_mm}.")
    return pixel > pitch / 2.0


def _runs(positions: np.ndarray, low: float, high: float) -> list[tuple[int, int]]:
    """(first, last) index ranges of consecutive positions whose spacings lie in [low, high]."""
    runs, first = [], 0
    for index in range(1, positions.size + 1):
        if index == positions.size or not (low <= positions[index] - positions[index - 1] <= high):
            runs.append((first, index - 1))
            first = index
    return runs


def analyse_bar_group(profile, expected_bars: int, pitch_mm: float, modulation_threshold: float = 0.1,
                      bright_bars: bool = True) -> BarGroupResult:
    """Is a group of ``expected_bars`` bars at ``pitch_mm`` resolved along ``profile``?"""
    n_bars = int(expected_bars)
    pitch = float(pitch_mm)
    threshold = float(modulation_threshold)
    if n_bars != expected_bars or n_bars < 2:
        raise ValueError(f"expected_bars must be an integer >= 2; got {expected_bars!r}.")
    if not np.isfinite(pitch) or pitch <= 0:
        raise ValueError(f"pitch_mm must be positive; got {pitch_mm!r}.")
    if not (0 < threshold < 1):
        raise ValueError(f"modulation_threshold must be in (0, 1); got {modulation_threshold!r}.")
    x = np.asarray(profile.distance_mm, dtype=float)
    y = np.asarray(profile.intensity, dtype=float)
    if x.ndim != 1 or x.shape != y.shape or x.size < 3 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("Profile must have matching, finite distance and intensity arrays (>= 3 samples).")
    step = float(np.median(np.diff(x)))
    if step <= 0:
        raise ValueError("Profile distances must increase.")
    if step > pitch / 4:
        raise ValueError(f"Profile step {step:.3g} mm is coarser than pitch/4 = {pitch / 4:.3g} mm; supersample "
                         "the line (step <= pitch/4).")
    if x[-1] - x[0] < (n_bars - 1) * pitch * (1 - PITCH_TOLERANCE):
        raise ValueError(f"Profile ({x[-1] - x[0]:.3g} mm) is shorter than {n_bars} bars at {pitch:g} mm pitch.")
    if y.min() < -0.2 * max(float(np.ptp(y)), 1e-12):
        raise ValueError("Michelson modulation needs non-negative intensities (magnitude image).")
    y = np.clip(y, 0.0, None)  # small undershoot of cubic interpolation next to zero-valued bars

    def result(found, dips, modulations, measured, resolved, reason, positions=()):
        return BarGroupResult(n_bars, found, dips, tuple(float(m) for m in modulations), float(measured),
                              bool(resolved), threshold, reason, pitch, bool(bright_bars),
                              tuple(float(p) for p in positions))

    s = y if bright_bars else -y
    span = float(np.ptp(s))
    if span <= 0:
        return result(0, 0, (), np.nan, False, "flat profile: no bars")
    peaks, _ = signal.find_peaks(s, distance=max(1, int(np.floor(0.75 * pitch / step))),
                                          prominence=0.02 * span)
    kind = "bright" if bright_bars else "dark"
    if peaks.size == 0:
        return result(0, 0, (), np.nan, False, f"no {kind} bars found")
    positions = x[peaks]
    tolerance = 0.5 * step + 1e-9
    runs = _runs(positions, (1 - PITCH_TOLERANCE) * pitch - tolerance, (1 + PITCH_TOLERANCE) * pitch + tolerance)
    windows = [i for first, last in runs for i in range(first, last - n_bars + 2)]
    if not windows:
        first, last = max(runs, key=lambda r: (r[1] - r[0], s[peaks[r[0]:r[1] + 1]].mean()))
        found = last - first + 1
        measured = float(np.mean(np.diff(positions[first:last + 1]))) if found > 1 else np.nan
        return result(found, max(found - 1, 0), (), measured, False,
                      f"only {found} of {n_bars} {kind} bars found at {pitch:g} mm +/- 25% pitch",
                      positions[first:last + 1])
    # Of several candidate groups (background ripple, ringing), the bars are the most extreme ones.
    window = max(windows, key=lambda i: s[peaks[i:i + n_bars]].mean())
    selected = peaks[window:window + n_bars]
    modulations, dips = [], 0
    for left, right in zip(selected[:-1], selected[1:]):
        between = s[left:right + 1]
        gap = left + int(np.argmin(between))
        if left < gap < right and s[gap] < min(s[left], s[right]):
            dips += 1
        bars = 0.5 * (y[left] + y[right])
        high, low = (bars, y[gap]) if bright_bars else (y[gap], bars)
        total = high + low
        modulations.append((high - low) / total if total > 0 else 0.0)
    measured = float(np.mean(np.diff(x[selected])))
    if dips < n_bars - 1:
        reason = f"only {dips} of {n_bars - 1} gaps between the bars found"
        resolved = False
    elif min(modulations) < threshold:
        worst = int(np.argmin(modulations))
        reason = f"gap {worst + 1} modulation {modulations[worst]:.3f} < threshold {threshold:g}"
        resolved = False
    else:
        reason = (f"{n_bars}/{n_bars} bars and {dips}/{n_bars - 1} gaps found, min modulation "
                  f"{min(modulations):.3f} >= {threshold:g}")
        resolved = True
    return result(n_bars, dips, modulations, measured, resolved, reason, x[selected])
