"""Edge sharpness and septal thickness from an intensity profile (core: numpy/scipy only).

Definitions (docs/METHODS.md §2.1): with plateaus I_lo < I_hi and
ΔI = I_hi − I_lo,

* rise distance d20–80 = |x(I_lo + 0.8ΔI) − x(I_lo + 0.2ΔI)| (and d10–90), sharpness = 1/d (mm⁻¹);
* maximum gradient S = max|dI/dx| / ΔI (mm⁻¹; central differences in mm, not per pixel);
* edge position = the 50% crossing; structure width (septal thickness) = distance between the
  half-height crossings of its two edges (FWHM).

For an ideal step blurred by a Gaussian of σ: d20–80 = 1.683σ, d10–90 = 2.563σ, S = 1/(σ√(2π)).

Variant used here (named in every result's ``method``): crossings by linear interpolation between
the samples that bracket each level, searched outwards from the steepest point of the edge (located
on the profile smoothed by a Gaussian of 0.5 mm, or one sample), i.e. on the monotone segment
nearest to it; plateaus, unless given, are the medians of each side of the edge beyond 1.5 × d10–90
from its position (first pass: medians of the two sides split at the steepest point).
These are the textbook definitions, not a reproduction of any one paper's software.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np
from scipy import ndimage

EDGE_METHOD = (
    "20-80% / 10-90% rise distance, crossings linearly interpolated outwards from the steepest point; "
    "max gradient = max|dI/dx| / (I_hi - I_lo) per mm; plateaus = {plateaus}"
)
_PLATEAUS_AUTO = "medians of each side beyond 1.5 x d10-90 from the 50% crossing"
_PLATEAUS_GIVEN = "given by the caller"
SEPTAL_METHOD = (
    "band located at the extreme of the 0.5 mm-smoothed profile, split at its centre; band level = median "
    "of the band beyond 1.5 x d10-90 from both edges (else its extreme), blood level per side = median of "
    "that side beyond 1.5 x d10-90 from its edge (else its 90th/10th percentile); thickness = distance "
    "between the two 50% (half-height) crossings (FWHM); edges: " + EDGE_METHOD.format(plateaus=_PLATEAUS_GIVEN)
)
_MIN_SAMPLES = 5
_MIN_SEPTAL_SAMPLES = 10
_SMOOTHING_MM = 0.5


@dataclass(frozen=True)
class EdgeMetrics:
    """Sharpness of one edge; distances in mm from the profile start, sharpness in 1/mm."""

    position_mm: float
    rise_20_80_mm: float
    rise_10_90_mm: float
    sharpness_20_80_per_mm: float
    sharpness_10_90_per_mm: float
    max_gradient_per_mm: float
    low_plateau: float
    high_plateau: float
    direction: str  # "rising" | "falling" with increasing distance
    method: str

    #: unit of every key of :meth:`as_row` ("au": image intensity, arbitrary units; "" for text)
    ROW_UNITS: ClassVar[dict] = {
        "position_mm": "mm", "rise_20_80_mm": "mm", "rise_10_90_mm": "mm", "sharpness_20_80_per_mm": "1/mm",
        "sharpness_10_90_per_mm": "1/mm", "max_gradient_per_mm": "1/mm", "low_plateau": "au", "high_plateau": "au",
        "direction": "", "method": "",
    }

    def as_row(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SeptalProfileMetrics:
    """Two edges of a band (blood -> myocardium -> blood) and its FWHM thickness."""

    left_edge: EdgeMetrics
    right_edge: EdgeMetrics
    thickness_fwhm_mm: float
    band_level: float
    blood_level: float  # mean of the two sides' blood levels (each edge keeps its own plateau)
    method: str
    dark_band: bool = True

    ROW_UNITS: ClassVar[dict] = {
        **{f"{side}_{key}": unit for side in ("left", "right") for key, unit in EdgeMetrics.ROW_UNITS.items() if key != "method"},
        "mean_rise_20_80_mm": "mm", "mean_rise_10_90_mm": "mm", "mean_sharpness_20_80_per_mm": "1/mm",
        "mean_sharpness_10_90_per_mm": "1/mm", "mean_max_gradient_per_mm": "1/mm", "septal_thickness_fwhm_mm": "mm",
        "band_level": "au", "blood_level": "au", "dark_band": "", "method": "",
    }

    @property
    def mean_sharpness_20_80_per_mm(self) -> float:
        return 0.5 * (self.left_edge.sharpness_20_80_per_mm + self.right_edge.sharpness_20_80_per_mm)

    @property
    def mean_sharpness_10_90_per_mm(self) -> float:
        return 0.5 * (self.left_edge.sharpness_10_90_per_mm + self.right_edge.sharpness_10_90_per_mm)

    @property
    def mean_max_gradient_per_mm(self) -> float:
        return 0.5 * (self.left_edge.max_gradient_per_mm + self.right_edge.max_gradient_per_mm)

    def as_row(self) -> dict:
        row: dict = {}
        for side, edge in (("left", self.left_edge), ("right", self.right_edge)):
            for key, value in edge.as_row().items():
                if key != "method":
                    row[f"{side}_{key}"] = value
        row.update(
            mean_rise_20_80_mm=0.5 * (self.left_edge.rise_20_80_mm + self.right_edge.rise_20_80_mm),
            mean_rise_10_90_mm=0.5 * (self.left_edge.rise_10_90_mm + self.right_edge.rise_10_90_mm),
            mean_sharpness_20_80_per_mm=self.mean_sharpness_20_80_per_mm,
            mean_sharpness_10_90_per_mm=self.mean_sharpness_10_90_per_mm,
            mean_max_gradient_per_mm=self.mean_max_gradient_per_mm,
            septal_thickness_fwhm_mm=self.thickness_fwhm_mm,
            band_level=self.band_level,
            blood_level=self.blood_level,
            dark_band=self.dark_band,
            method=self.method,
        )
        return row


def _validated(distance_mm, intensity, min_samples: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(distance_mm, dtype=float).reshape(-1)
    y = np.asarray(intensity, dtype=float).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"distance_mm and intensity differ in length ({x.size} vs {y.size}).")
    if x.size < min_samples:
        raise ValueError(f"Profile too short: {x.size} samples, at least {min_samples} needed.")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("Profile contains NaN or infinite values.")
    if np.any(np.diff(x) <= 0):
        raise ValueError("distance_mm must be strictly increasing.")
    return x, y


def _smoothed(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    sigma_samples = max(1.0, _SMOOTHING_MM / float(np.median(np.diff(x))))
    return ndimage.gaussian_filter1d(y, sigma_samples, mode="nearest")


def _crossing(x: np.ndarray, y: np.ndarray, level: float, start: int) -> float:
    """x where rising ``y`` crosses ``level``, nearest to index ``start`` (searched outwards)."""
    n = y.size
    if y[start] >= level:
        for i in range(start, 0, -1):
            if y[i - 1] <= level <= y[i]:
                lo, hi = i - 1, i
                break
        else:
            raise ValueError(f"The edge does not reach {level:.4g} before its steepest point (profile too short?).")
    else:
        for i in range(start, n - 1):
            if y[i] <= level <= y[i + 1]:
                lo, hi = i, i + 1
                break
        else:
            raise ValueError(f"The edge does not reach {level:.4g} after its steepest point (profile too short?).")
    if y[hi] == y[lo]:
        return float(0.5 * (x[lo] + x[hi]))
    return float(x[lo] + (level - y[lo]) * (x[hi] - x[lo]) / (y[hi] - y[lo]))


def _measure(x: np.ndarray, y_rising: np.ndarray, low: float, high: float, steepest: int) -> dict:
    delta = high - low
    levels = {f: _crossing(x, y_rising, low + f * delta, steepest) for f in (0.1, 0.2, 0.5, 0.8, 0.9)}
    d2080 = abs(levels[0.8] - levels[0.2])
    d1090 = abs(levels[0.9] - levels[0.1])
    if d2080 <= 0 or d1090 <= 0:
        raise ValueError("Edge rise distance is zero (a step within one sample); use a finer step.")
    gradient = np.gradient(y_rising, x)
    return {
        "position_mm": levels[0.5],
        "rise_20_80_mm": d2080,
        "rise_10_90_mm": d1090,
        "sharpness_20_80_per_mm": 1.0 / d2080,
        "sharpness_10_90_per_mm": 1.0 / d1090,
        "max_gradient_per_mm": float(gradient.max() / delta),
    }


def edge_metrics(distance_mm, intensity, low: float | None = None, high: float | None = None) -> EdgeMetrics:
    """Rise distances, sharpness and normalised max gradient of the one edge in a profile.

    ``low``/``high``: plateau intensities (both or neither); by default estimated from the two sides.
    """
    x, y = _validated(distance_mm, intensity, _MIN_SAMPLES)
    if (low is None) != (high is None):
        raise ValueError("Give both plateaus (low and high) or neither.")
    smooth = _smoothed(x, y)
    span = float(np.ptp(smooth))
    if span <= 1e-12 * max(1.0, float(np.abs(y).max())):
        raise ValueError("Flat profile: no edge to measure.")
    third = max(1, y.size // 3)
    rising = float(smooth[-third:].mean()) >= float(smooth[:third].mean())
    sign = 1.0 if rising else -1.0
    y_r, s_r = sign * y, sign * smooth
    steepest = int(np.argmax(np.gradient(s_r, x)))

    if low is not None:
        lo, hi = float(low), float(high)
        if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
            raise ValueError(f"Plateaus must be finite with high > low; got low={low}, high={high}.")
        lo_r, hi_r = (lo, hi) if rising else (-hi, -lo)
        plateaus = _PLATEAUS_GIVEN
    else:
        lo_r = float(np.median(y_r[: steepest + 1]))
        hi_r = float(np.median(y_r[steepest:]))
        if hi_r - lo_r <= 0:
            raise ValueError("No edge: the two sides of the steepest point have the same median.")
        first = _measure(x, y_r, lo_r, hi_r, steepest)
        margin = 1.5 * first["rise_10_90_mm"]
        outer_lo = y_r[x < first["position_mm"] - margin]
        outer_hi = y_r[x > first["position_mm"] + margin]
        if outer_lo.size >= 3:
            lo_r = float(np.median(outer_lo))
        if outer_hi.size >= 3:
            hi_r = float(np.median(outer_hi))
        if hi_r - lo_r <= 0:
            raise ValueError("No edge: the plateaus on both sides are equal.")
        plateaus = _PLATEAUS_AUTO
    values = _measure(x, y_r, lo_r, hi_r, steepest)
    low_plateau, high_plateau = (lo_r, hi_r) if rising else (-hi_r, -lo_r)
    return EdgeMetrics(
        low_plateau=low_plateau,
        high_plateau=high_plateau,
        direction="rising" if rising else "falling",
        method=EDGE_METHOD.format(plateaus=plateaus),
        **values,
    )


def _outer_median(values: np.ndarray, mask: np.ndarray, fallback: float) -> float:
    return float(np.median(values[mask])) if np.count_nonzero(mask) >= 3 else fallback


def septal_profile_metrics(profile, dark_band: bool = True) -> SeptalProfileMetrics:
    """Edges and FWHM thickness of the band in a blood -> myocardium -> blood profile.

    ``profile``: a ``LineProfile`` (or anything with ``distance_mm`` and ``intensity``).
    ``dark_band``: True for a dark myocardium between bright blood (bright-blood LGE), False for a
    bright band between dark sides.
    """
    x, y = _validated(profile.distance_mm, profile.intensity, _MIN_SEPTAL_SAMPLES)
    sign = -1.0 if dark_band else 1.0
    b = sign * y  # the band is a peak of b
    smooth = _smoothed(x, b)
    if np.ptp(smooth) <= 1e-12 * max(1.0, float(np.abs(y).max())):
        raise ValueError("Flat profile: no band to measure.")
    kind = "dark" if dark_band else "bright"
    centre = int(np.argmax(smooth))
    edge_guard = max(2, int(0.02 * x.size))
    if centre < edge_guard or centre > x.size - 1 - edge_guard:
        raise ValueError(f"No {kind} band: the profile's extreme is at its end; the line must cross the band "
                         "with blood on both sides.")
    peak = float(smooth[centre])
    side_left, side_right = float(smooth[:centre].min()), float(smooth[centre:].min())
    depth = peak - max(side_left, side_right)
    if depth <= 0.25 * (peak - min(side_left, side_right)) or depth <= 0:
        raise ValueError(f"No {kind} band: the profile does not return to the blood level on both sides.")

    # First pass: half-height crossings of the smoothed profile give the band centre and extent.
    half_left, half_right = 0.5 * (peak + side_left), 0.5 * (peak + side_right)
    x_left = _crossing(x, smooth, half_left, centre)  # smooth rises up to centre
    x_right = _crossing(x[::-1], smooth[::-1], half_right, x.size - 1 - centre)
    mid = int(np.clip(np.searchsorted(x, 0.5 * (x_left + x_right)), 1, x.size - 2))

    levels = {"band": peak, "left": side_left, "right": side_right}
    for _ in range(2):
        left = _band_edge(x[: mid + 1], y[: mid + 1], levels["band"], levels["left"], sign)
        right = _band_edge(x[mid:], y[mid:], levels["band"], levels["right"], sign)
        inner = (x > left.position_mm + 1.5 * left.rise_10_90_mm) & (x < right.position_mm - 1.5 * right.rise_10_90_mm)
        left_outer = x < left.position_mm - 1.5 * left.rise_10_90_mm
        right_outer = x > right.position_mm + 1.5 * right.rise_10_90_mm
        within = (x >= left.position_mm) & (x <= right.position_mm)
        band_fallback = float(smooth[within].max()) if within.any() else peak
        levels = {
            "band": _outer_median(b, inner, band_fallback),
            "left": _outer_median(b, left_outer, float(np.percentile(b[: mid + 1], 10))),
            "right": _outer_median(b, right_outer, float(np.percentile(b[mid:], 10))),
        }
        if levels["band"] <= max(levels["left"], levels["right"]):
            raise ValueError(f"No {kind} band: band level not beyond the blood level.")
    left = _band_edge(x[: mid + 1], y[: mid + 1], levels["band"], levels["left"], sign)
    right = _band_edge(x[mid:], y[mid:], levels["band"], levels["right"], sign)
    thickness = right.position_mm - left.position_mm
    if thickness <= 0:
        raise ValueError("Band edges cross: no measurable thickness.")
    return SeptalProfileMetrics(
        left_edge=left,
        right_edge=right,
        thickness_fwhm_mm=float(thickness),
        band_level=sign * levels["band"],
        blood_level=sign * 0.5 * (levels["left"] + levels["right"]),
        method=SEPTAL_METHOD,
        dark_band=dark_band,
    )


def _band_edge(x: np.ndarray, y: np.ndarray, band_b: float, side_b: float, sign: float) -> EdgeMetrics:
    """Edge between a side (level side_b in b = sign*y units) and the band (band_b), in y units."""
    a, c = sign * band_b, sign * side_b
    try:
        return edge_metrics(x, y, low=min(a, c), high=max(a, c))
    except ValueError as error:
        raise ValueError(f"Band edge between {x[0]:.2f} and {x[-1]:.2f} mm: {error}") from error
