"""Physics-based generator of synthetic TI scouts (Look-Locker) with an exact myocardial null label.

Signal model (docs/METHODS.md §1, Deichmann & Haase 1992; Messroghli et al. MRM 2004):
for every tissue k with (Look-Locker corrected) T1_k and one inversion / readout ratio ``B/A`` per series,

    T1*_k     = T1_k / (B/A - 1)                   (so that T1*_k * (B/A - 1) == T1_k exactly)
    s_k(TI)   = PD_k * (1 - (B/A) * exp(-TI / T1*_k))          (signed, A = PD_k)
    null_k    = T1*_k * ln(B/A)                    (apparent Look-Locker null, where s_k == 0)

The image of one frame is ``sum_k W_k(x) * s_k(TI)`` where ``W_k`` are the tissue weight maps
(partial-volume fraction x proton density x coil shading, blurred once: blur is linear and identical for
every frame, so blurring the K maps is the same as blurring the N frames). Magnitude series take
``|signal + complex Gaussian noise|`` (Rician), phase-sensitive ones ``signal + Gaussian noise``.
SNR is relative to the fully recovered myocardium: ``sigma = scale * PD_myo * shading_myo / snr``.

The label of every frame is ``offset_ms = TI - null_myocardium``; it is exact (analytic) for the
remote myocardium (``myocardium_mask``, its pure pixels), whatever noise, blur or motion is added.

Anatomy (short-axis slice, millimetres, LV centre as origin, rotated as a whole): LV blood pool,
LV myocardial ring of variable thickness and ellipticity, optional papillary muscles, RV blood and RV
wall, epicardial fat, two lungs (dark), descending aorta, liver, body of "other" tissue (chest wall) with a subcutaneous
fat ring, air outside. Partial volume comes from analytic edge fractions ``clip(0.5 - d / dx, 0, 1)``
of the signed distance ``d`` (mm) to each boundary (box-filtered edge of a pixel of size dx).

Speed: the anatomy is computed once per series (a few tissue maps), the time dependence is K curves of
N values, frames are one matrix product; about 10-20 ms for 20 frames of 128 x 128 on one CPU core.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
from scipy import ndimage

from TINullCorrectionLib.core.physics import look_locker_null_ms, t1_star_ms
from TINullCorrectionLib.core.types import TIScout

#: Tissue classes with their own recovery curve, in the order of the weight maps.
TISSUES = ("myocardium", "blood", "scar", "fat", "other", "lung", "liver")
_K = {name: index for index, name in enumerate(TISSUES)}


@dataclass(frozen=True)
class SimulationRanges:
    """Ranges of every drawn parameter (uniform unless said otherwise).

    Sources: docs/METHODS.md §1 (post-contrast T1 table: JCMR 2013;15:11, MyoMapNet, Warntjes PSIR;
    scanner TI sampling from the vendors' TI scouts and the real Philips Look-Locker in ../shared/data).
    Anything marked "our choice" is a modelling decision, kept a parameter on purpose.
    """

    #: Field strengths drawn with equal probability (T).
    field_strengths_t: tuple[float, ...] = (1.5, 3.0)
    #: Frames per series: TI scouts read 15-30 frames (docs/METHODS.md).
    n_frames: tuple[int, int] = (15, 30)
    #: TI step between frames (ms): 20-160 ms (docs/METHODS.md); real Philips post-contrast: 82 ms.
    ti_step_ms: tuple[float, float] = (20.0, 160.0)
    #: First TI (ms) of the series (vendors' shortest TI after the inversion; real Philips: 63 ms).
    first_ti_ms: tuple[float, float] = (50.0, 150.0)
    #: Relative random jitter of each TI step (heart-rate variation of an ECG-triggered scout), our choice.
    ti_jitter_fraction: tuple[float, float] = (0.0, 0.03)
    #: Where the null falls inside the sampled TI range (0 = first TI, 1 = last TI), our choice: the step is
    #: drawn log-uniformly among the steps that put the null in this part of the range (operators plan the
    #: scout to contain it; coarse scouts put it early, e.g. the real Philips one at 0.09) ...
    null_position: tuple[float, float] = (0.03, 0.85)
    #: ... and this fraction of series has it near or just beyond an edge (distance from the nearer edge drawn
    #: in edge_null_position, negative = outside the sampled range; the step is clipped to ti_step_ms).
    p_null_near_edge: float = 0.08
    edge_null_position: tuple[float, float] = (-0.1, 0.05)
    #: Square image matrix (pixels); ``matrix=`` override accepts an int or (rows, columns).
    matrix: tuple[int, int] = (128, 256)
    pixel_spacing_mm: tuple[float, float] = (1.2, 2.5)
    #: Field of view (mm) typical of cardiac short-axis scouts; pixel spacing is drawn within
    #: pixel_spacing_mm and, where both can hold, within fov/matrix (our choice).
    field_of_view_mm: tuple[float, float] = (280.0, 400.0)
    #: SNR of the fully recovered remote myocardium (docs/METHODS.md hints: 10-60).
    snr: tuple[float, float] = (10.0, 60.0)
    slice_thickness_mm: tuple[float, float] = (6.0, 10.0)
    p_phase_sensitive: float = 0.25
    p_scar: float = 0.5
    #: Myocardium nulls before blood (e.g. amyloidosis), docs/METHODS.md; rare.
    p_reverse_kinetics: float = 0.05
    #: B/A of S = |A - B exp(-TI/T1*)|. 2 is a perfect inversion without readout saturation; MOLLI-type fits
    #: give about 1.6-2.0 (imperfect inversion, sparse readouts). A TI scout reads continuously: with
    #: 1/T1* = 1/T1 - d ln(cos a)/TR (d = readout duty cycle, ~10-20% for segmented FLASH, a ~ 12 deg,
    #: TR ~ 3 ms) and B/A = 1 + (inversion efficiency) T1/T1*, B/A reaches about 2.2-3, so the apparent null
    #: is earlier (real Philips 1.5 T post-contrast: myocardium nulls at 180-210 ms). Our choice: 1.6-3.0
    #: (null / T1 from 0.78 down to 0.55).
    b_over_a: tuple[float, float] = (1.6, 3.0)
    #: Post-contrast (10-20 min) Look-Locker T1 of remote myocardium (ms), docs/METHODS.md table.
    myocardium_t1_ms_1p5t: tuple[float, float] = (380.0, 560.0)
    myocardium_t1_ms_3t: tuple[float, float] = (520.0, 680.0)
    #: Blood T1 as a fraction of myocardial T1: blood 300-460 ms vs myocardium 400-550 ms at 1.5 T
    #: (docs/METHODS.md) gives about 0.65-0.95; reverse kinetics: blood longer than myocardium (our choice 1.1-1.5).
    blood_to_myocardium_t1: tuple[float, float] = (0.65, 0.93)
    blood_to_myocardium_t1_reverse: tuple[float, float] = (1.1, 1.5)
    #: Infarct / scar T1 as a fraction of remote: scar 250-425 ms vs 400-550 ms at 1.5 T (docs/METHODS.md).
    scar_to_myocardium_t1: tuple[float, float] = (0.5, 0.85)
    #: Fat hardly takes up gadolinium: native fat T1 ~ 250-380 ms at 1.5-3 T (Gold et al. AJR 2004;
    #: de Bazelaire et al. Radiology 2004); our ranges per field strength.
    fat_t1_ms_1p5t: tuple[float, float] = (230.0, 320.0)
    fat_t1_ms_3t: tuple[float, float] = (300.0, 420.0)
    #: Surrounding tissue (chest-wall muscle, liver) post-contrast, our choice (broad).
    other_t1_ms: tuple[float, float] = (350.0, 900.0)
    #: Liver / upper abdomen cut by basal-to-mid short-axis slices, post-contrast, our choice.
    liver_t1_ms: tuple[float, float] = (300.0, 600.0)
    p_liver: float = 0.6
    #: Texture (smooth multiplicative PD variation) of the surrounding tissue, our choice.
    other_texture: tuple[float, float] = (0.0, 0.25)
    #: Lung parenchyma (low proton density, long T1), our choice.
    lung_t1_ms: tuple[float, float] = (900.0, 1400.0)
    #: Native (pre-contrast) scouts, e.g. a Look-Locker before contrast like the real Philips one in
    #: ../shared/data (septal T1 ~1000 ms at 1.5 T). Default 0: the test sets stay post-contrast; training
    #: mixes some in (``cardiac-lge train --native-fraction``). Native T1 at 1.5 / 3 T: myocardium
    #: ~950-1050 / 1150-1300 ms, blood ~1550-1650 / 1850-1950 ms, chronic infarct longer than remote,
    #: skeletal muscle ~900-1100 / 1000-1400 ms, liver ~550-650 / 750-850 ms (typical published MOLLI /
    #: Look-Locker values, e.g. the T1 mapping consensus JCMR 2017;19:75; docs/METHODS.md has post-contrast
    #: values only; the real septum in ../shared/data fits to 1001 ms); our ranges are a little wider.
    p_native: float = 0.0
    native_myocardium_t1_ms_1p5t: tuple[float, float] = (900.0, 1120.0)
    native_myocardium_t1_ms_3t: tuple[float, float] = (1100.0, 1350.0)
    native_blood_to_myocardium_t1: tuple[float, float] = (1.35, 1.75)
    native_scar_to_myocardium_t1: tuple[float, float] = (1.05, 1.35)
    native_other_t1_ms: tuple[float, float] = (800.0, 1400.0)
    native_liver_t1_ms: tuple[float, float] = (500.0, 900.0)
    #: Relative proton densities (myocardium = 1), our choice.
    blood_pd: tuple[float, float] = (1.0, 1.4)
    fat_pd: tuple[float, float] = (0.9, 1.5)
    other_pd: tuple[float, float] = (0.6, 1.0)
    lung_pd: tuple[float, float] = (0.03, 0.12)
    scar_pd: tuple[float, float] = (1.0, 1.15)
    #: Anatomy (mm), our choices from typical adult hearts.
    lv_radius_mm: tuple[float, float] = (14.0, 30.0)
    lv_ellipticity: tuple[float, float] = (0.8, 1.0)
    wall_thickness_mm: tuple[float, float] = (6.0, 14.0)
    wall_thickness_variation: tuple[float, float] = (0.0, 0.3)
    rv_width_mm: tuple[float, float] = (10.0, 25.0)
    rv_wall_mm: tuple[float, float] = (2.5, 5.0)
    epicardial_fat_mm: tuple[float, float] = (0.0, 6.0)
    subcutaneous_fat_mm: tuple[float, float] = (5.0, 25.0)
    #: Heart centre offset from the FOV centre as a fraction of the FOV, our choice.
    heart_offset_fraction: tuple[float, float] = (-0.12, 0.12)
    rotation_deg: tuple[float, float] = (-30.0, 30.0)
    p_papillary: float = 0.7
    #: Scar: angular sector width (deg) and transmural extent (fraction of the wall from the endocardium).
    scar_sector_deg: tuple[float, float] = (30.0, 140.0)
    scar_transmurality: tuple[float, float] = (0.25, 1.0)
    #: Image degradations, our choices.
    blur_sigma_px: tuple[float, float] = (0.0, 1.0)
    motion_mm: tuple[float, float] = (0.0, 1.5)
    coil_shading: tuple[float, float] = (0.0, 0.8)
    blood_inhomogeneity: tuple[float, float] = (0.0, 0.2)
    flow_artefact: tuple[float, float] = (0.0, 0.12)
    #: Global scaling of the scanner's pixel values (scanners differ), our choice.
    intensity_scale: tuple[float, float] = (200.0, 3000.0)

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name.startswith("p_"):
                if not 0.0 <= float(value) <= 1.0:
                    raise ValueError(f"SimulationRanges.{item.name} must be a probability in [0, 1]; got {value}.")
            elif item.name == "field_strengths_t":
                if len(value) == 0 or any(float(v) <= 0 for v in value):
                    raise ValueError(f"field_strengths_t must be positive field strengths (T); got {value}.")
            elif isinstance(value, tuple):
                if len(value) != 2 or not float(value[0]) <= float(value[1]):
                    raise ValueError(f"SimulationRanges.{item.name} must be (low, high) with low <= high; got {value}.")


@dataclass(frozen=True)
class SimulatedScout:
    """One simulated TI scout with its exact labels.

    null_ti_ms: apparent Look-Locker null of remote myocardium, T1*_myo * ln(B/A) (analytic).
    offset_ms: scout.ti_ms - null_ti_ms per frame (the training label).
    myocardium_mask: remote LV myocardium (pure pixels, no scar, reference position before motion).
    blood_mask: LV blood pool; scar_mask: scar (may be empty).
    tissue_t1_ms: T1 of each tissue (ms); parameters: every drawn value (reproducibility, debugging).
    """

    scout: TIScout
    null_ti_ms: float
    offset_ms: np.ndarray
    myocardium_mask: np.ndarray
    blood_mask: np.ndarray
    scar_mask: np.ndarray
    tissue_t1_ms: dict[str, float]
    field_strength_t: float
    parameters: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------- physics
def apparent_null_ti_ms(t1_ms: float, b_over_a: float) -> float:
    """Apparent null TI = T1* ln(B/A) = T1 ln(B/A) / (B/A - 1) (core.physics); B/A = 2 gives T1 ln 2."""
    return float(look_locker_null_ms(1.0, b_over_a, t1_star_ms(float(t1_ms), b_over_a)))


def t1_for_null_ms(null_ti_ms: float, b_over_a: float) -> float:
    """Inverse of :func:`apparent_null_ti_ms`: the T1 whose apparent null is ``null_ti_ms``."""
    if not null_ti_ms > 0:
        raise ValueError(f"The null TI must be positive (ms); got {null_ti_ms}.")
    return float(null_ti_ms * (b_over_a - 1.0) / math.log(b_over_a))


def recovery_curves(ti_ms: np.ndarray, t1_ms: np.ndarray, b_over_a: float) -> np.ndarray:
    """Signed Look-Locker curves s[k, n] = 1 - (B/A) exp(-TI_n / T1*_k) (A = 1) for tissues k."""
    t1_star = np.asarray(t1_ms, dtype=np.float64)[:, None] / (b_over_a - 1.0)
    return 1.0 - b_over_a * np.exp(-np.asarray(ti_ms, dtype=np.float64)[None, :] / t1_star)


# ---------------------------------------------------------------------------------------------- drawing
_OVERRIDES = (
    "field_strength_t", "n_frames", "ti_step_ms", "first_ti_ms", "ti_jitter_fraction", "null_position",
    "matrix", "pixel_spacing_mm", "snr", "slice_thickness_mm", "phase_sensitive", "scar", "reverse_kinetics",
    "b_over_a", "native", "myocardium_t1_ms", "null_ti_ms", "blood_t1_ms", "scar_t1_ms", "fat_t1_ms", "other_t1_ms",
    "lung_t1_ms", "liver_pd", "liver_t1_ms", "liver", "other_texture", "aorta", "blood_pd", "fat_pd", "other_pd", "lung_pd", "scar_pd", "lv_radius_mm", "lv_ellipticity",
    "wall_thickness_mm", "wall_thickness_variation", "rv_width_mm", "rv_wall_mm", "epicardial_fat_mm",
    "subcutaneous_fat_mm", "heart_offset_mm", "rotation_deg", "papillary", "scar_sector_deg",
    "scar_transmurality", "scar_centre_deg", "blur_sigma_px", "motion_mm", "coil_shading",
    "blood_inhomogeneity", "flow_artefact", "intensity_scale", "ti_ms",
)


class _Drawer:
    """Draws parameters unless overridden; records every value in ``values``."""

    def __init__(self, rng: np.random.Generator, overrides: dict):
        unknown = sorted(set(overrides) - set(_OVERRIDES))
        if unknown:
            raise ValueError(f"Unknown simulate_scout override(s) {unknown}; allowed: {sorted(_OVERRIDES)}.")
        self.rng = rng
        self.overrides = overrides
        self.values: dict = {}

    def uniform(self, name: str, bounds: tuple[float, float]) -> float:
        value = self.overrides[name] if name in self.overrides else self.rng.uniform(bounds[0], bounds[1])
        value = float(value)
        if not math.isfinite(value) and name != "snr":
            raise ValueError(f"Override {name} must be finite; got {value}.")
        self.values[name] = value
        return value

    def flag(self, name: str, probability: float) -> bool:
        value = bool(self.overrides[name]) if name in self.overrides else bool(self.rng.random() < probability)
        self.values[name] = value
        return value

    def given(self, name: str):
        return self.overrides.get(name)


def _edge_fraction(distance_mm: np.ndarray, pixel_mm: float) -> np.ndarray:
    """Partial-volume fraction of a pixel of size dx whose centre is at signed distance d (inside < 0)."""
    return np.clip(0.5 - distance_mm / pixel_mm, 0.0, 1.0)


def _ellipse_distance(u: np.ndarray, v: np.ndarray, cu: float, cv: float, a: float, b: float) -> np.ndarray:
    """Approximate signed distance (mm) to an axis-aligned ellipse: (rho - 1) / |grad rho| (first order)."""
    du, dv = (u - cu) / a, (v - cv) / b
    rho = np.sqrt(du * du + dv * dv) + 1e-9
    grad = np.sqrt((du / a) ** 2 + (dv / b) ** 2) / rho + 1e-9
    return (rho - 1.0) / grad


def _smooth_field(rng: np.random.Generator, u: np.ndarray, v: np.ndarray, wavelength_mm: float, n: int = 3) -> np.ndarray:
    """Sum of n random plane cosines, normalised to about unit amplitude (smooth random field)."""
    total = np.zeros_like(u)
    for _ in range(n):
        angle, phase = rng.uniform(0, 2 * np.pi, size=2)
        k = 2 * np.pi / (wavelength_mm * rng.uniform(0.7, 1.5))
        total += np.cos(k * (u * np.cos(angle) + v * np.sin(angle)) + phase)
    return total / n


def shift_frames(frames: np.ndarray, shifts_px: np.ndarray) -> np.ndarray:
    """Translate each frame n by shifts_px[n] = (rows, columns) pixels (content moves by +shift),
    bilinear interpolation, edge values outside: out[y, x] = frame[y - sy, x - sx]."""
    shifts = np.asarray(shifts_px, dtype=np.float64)
    n_frames, rows, cols = frames.shape
    pad = int(np.ceil(np.abs(shifts).max())) + 1
    padded = np.pad(frames, ((0, 0), (pad, pad), (pad, pad)), mode="edge")
    out = np.empty_like(frames)
    for n in range(n_frames):
        iy, ix = (int(math.floor(v)) for v in shifts[n])
        fy, fx = (float(v) - math.floor(v) for v in shifts[n])
        y0, x0 = pad - iy, pad - ix  # frame[y - iy] and frame[y - iy - 1] (weights 1 - fy and fy)
        p = padded[n]
        out[n] = ((1 - fy) * ((1 - fx) * p[y0 : y0 + rows, x0 : x0 + cols] + fx * p[y0 : y0 + rows, x0 - 1 : x0 - 1 + cols])
                  + fy * ((1 - fx) * p[y0 - 1 : y0 - 1 + rows, x0 : x0 + cols]
                          + fx * p[y0 - 1 : y0 - 1 + rows, x0 - 1 : x0 - 1 + cols]))
    return out


def _orientation(rng: np.random.Generator) -> np.ndarray:
    """Orthonormal directions (columns i, j, k) of an oblique short-axis plane in RAS.

    The LV long axis points from base to apex towards the patient's left, anterior and inferior; our
    nominal axis is normalise((-0.6, 0.5, -0.6)) in RAS, jittered by up to ~15 degrees.
    """
    axis = np.array([-0.6, 0.5, -0.6]) + rng.normal(0.0, 0.15, size=3)
    normal = axis / np.linalg.norm(axis)
    up = np.array([0.0, 0.0, 1.0])
    column = np.cross(up, normal)
    column /= np.linalg.norm(column)
    row = np.cross(normal, column)
    return np.stack([column, row, normal], axis=1)


#: Largest simulated matrix (pixels per side): TI scouts are 128-256; 1024 keeps one series below ~0.5 GB.
MAX_MATRIX = 1024


def simulate_scout(
    rng: np.random.Generator, ranges: SimulationRanges = SimulationRanges(), **overrides
) -> SimulatedScout:
    """Simulate one short-axis TI scout; see the module docstring for the physics and anatomy.

    ``overrides`` fix drawn parameters by name (see ``parameters`` of the result): e.g. ``matrix=128``
    (or ``(rows, columns)``), ``n_frames=20``, ``ti_step_ms=80``, ``first_ti_ms=100``, ``ti_ms=[...]``
    (explicit TIs), ``null_ti_ms=250`` (sets the myocardial T1), ``myocardium_t1_ms``, ``phase_sensitive``,
    ``scar``, ``reverse_kinetics``, ``snr`` (``float('inf')``: no noise), ``blur_sigma_px``, ``motion_mm``,
    ``flow_artefact``, ``coil_shading``, ``field_strength_t``, ``b_over_a``.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError("simulate_scout needs a numpy Generator, e.g. np.random.default_rng(seed).")
    d = _Drawer(rng, overrides)
    r = ranges

    # --- field strength and T1 of each tissue -------------------------------------------------------
    if "field_strength_t" in overrides:
        field_t = float(overrides["field_strength_t"])
    else:
        field_t = float(r.field_strengths_t[int(rng.integers(len(r.field_strengths_t)))])
    if field_t <= 0:
        raise ValueError(f"field_strength_t must be positive; got {field_t}.")
    d.values["field_strength_t"] = field_t
    high_field = field_t >= 2.25
    b_over_a = d.uniform("b_over_a", r.b_over_a)
    if b_over_a <= 1.0:
        raise ValueError(f"b_over_a must be > 1; got {b_over_a}.")
    # the native flag is drawn only when native scouts are possible: the default stream stays as it was
    native = d.flag("native", r.p_native) if (r.p_native > 0 or "native" in overrides) else False
    d.values["native"] = native
    if native:
        myocardium_range = r.native_myocardium_t1_ms_3t if high_field else r.native_myocardium_t1_ms_1p5t
    else:
        myocardium_range = r.myocardium_t1_ms_3t if high_field else r.myocardium_t1_ms_1p5t
    if "null_ti_ms" in overrides:
        t1_myo = t1_for_null_ms(float(overrides["null_ti_ms"]), b_over_a)
        d.values["myocardium_t1_ms"] = t1_myo
    else:
        t1_myo = d.uniform("myocardium_t1_ms", myocardium_range)
    if t1_myo <= 0:
        raise ValueError(f"myocardium_t1_ms must be positive; got {t1_myo}.")
    reverse = d.flag("reverse_kinetics", r.p_reverse_kinetics)
    if "blood_t1_ms" in overrides:
        t1_blood = d.uniform("blood_t1_ms", (0, 0))
    else:
        if native:
            blood_ratio = r.native_blood_to_myocardium_t1
        else:
            blood_ratio = r.blood_to_myocardium_t1_reverse if reverse else r.blood_to_myocardium_t1
        ratio = rng.uniform(*blood_ratio)
        t1_blood = d.uniform("blood_t1_ms", (t1_myo * ratio, t1_myo * ratio))
    has_scar = d.flag("scar", r.p_scar)
    if "scar_t1_ms" in overrides:
        t1_scar = d.uniform("scar_t1_ms", (0, 0))
    else:
        ratio = rng.uniform(*(r.native_scar_to_myocardium_t1 if native else r.scar_to_myocardium_t1))
        t1_scar = d.uniform("scar_t1_ms", (t1_myo * ratio, t1_myo * ratio))
    t1_fat = d.uniform("fat_t1_ms", r.fat_t1_ms_3t if high_field else r.fat_t1_ms_1p5t)
    t1_other = d.uniform("other_t1_ms", r.native_other_t1_ms if native else r.other_t1_ms)
    t1_lung = d.uniform("lung_t1_ms", r.lung_t1_ms)
    t1_liver = d.uniform("liver_t1_ms", r.native_liver_t1_ms if native else r.liver_t1_ms)
    t1 = np.array([t1_myo, t1_blood, t1_scar, t1_fat, t1_other, t1_lung, t1_liver])
    if np.any(t1 <= 0):
        raise ValueError(f"Tissue T1 values must be positive (ms); got {dict(zip(TISSUES, t1.tolist()))}.")
    null_ti = apparent_null_ti_ms(t1_myo, b_over_a)

    # --- TI sampling --------------------------------------------------------------------------------
    if "ti_ms" in overrides:
        ti = np.asarray(overrides["ti_ms"], dtype=np.float64)
        if ti.ndim != 1 or ti.size < 3 or np.any(np.diff(ti) <= 0) or np.any(ti < 0):
            raise ValueError("ti_ms override must be >= 3 increasing non-negative inversion times (ms).")
        n_frames = ti.size
        d.values.update(n_frames=n_frames, first_ti_ms=float(ti[0]), ti_step_ms=float(np.mean(np.diff(ti))))
    else:
        if "n_frames" in overrides:
            n_frames = int(overrides["n_frames"])
        else:
            n_frames = int(rng.integers(r.n_frames[0], r.n_frames[1] + 1))
        if n_frames < 3:
            raise ValueError(f"n_frames must be at least 3; got {n_frames}.")
        d.values["n_frames"] = n_frames
        first = d.uniform("first_ti_ms", r.first_ti_ms)
        span = null_ti - first  # TI distance from the first frame to the null
        if "ti_step_ms" in overrides:
            step = d.uniform("ti_step_ms", r.ti_step_ms)
        elif "null_position" in overrides:
            position = d.uniform("null_position", r.null_position)
            step = span / (position * (n_frames - 1)) if span > 0 and position > 0 else r.ti_step_ms[1]
            d.values["ti_step_ms"] = step
        else:
            # log-uniform step (scanners use 20-160 ms); most series contain the null at a position in
            # null_position of the sampled range, the rest (p_null_near_edge) near or beyond an edge.
            if rng.random() < r.p_null_near_edge:
                position = rng.uniform(*r.edge_null_position)
                position = position if rng.random() < 0.5 else 1.0 - position
                low = high = span / (max(position, 1e-3) * (n_frames - 1)) if span > 0 else r.ti_step_ms[1]
            else:
                low = span / (r.null_position[1] * (n_frames - 1)) if span > 0 else r.ti_step_ms[0]
                high = span / (r.null_position[0] * (n_frames - 1)) if span > 0 else r.ti_step_ms[1]
            low = float(np.clip(low, *r.ti_step_ms))
            high = float(np.clip(high, *r.ti_step_ms))
            step = float(math.exp(rng.uniform(math.log(min(low, high)), math.log(max(low, high)))))
            d.values["ti_step_ms"] = step
        if not (first >= 0 and step > 0):
            raise ValueError(f"first_ti_ms must be >= 0 and ti_step_ms > 0; got {first}, {step}.")
        jitter = d.uniform("ti_jitter_fraction", r.ti_jitter_fraction)
        steps = step * (1.0 + jitter * rng.uniform(-1.0, 1.0, size=n_frames - 1))
        ti = first + np.concatenate([[0.0], np.cumsum(steps)])
    ti = np.round(ti, 2)
    d.values["null_position"] = float((null_ti - ti[0]) / (ti[-1] - ti[0]))

    # --- image grid ---------------------------------------------------------------------------------
    matrix = overrides.get("matrix")
    if matrix is None:
        size = int(rng.integers(r.matrix[0] // 16, r.matrix[1] // 16 + 1)) * 16
        rows = cols = size
    elif np.ndim(matrix) == 0:
        rows = cols = int(matrix)
    else:
        rows, cols = (int(m) for m in matrix)
    if rows < 16 or cols < 16:
        raise ValueError(f"matrix must be at least 16 x 16 pixels; got {rows} x {cols}.")
    if rows > MAX_MATRIX or cols > MAX_MATRIX:  # a 20000-pixel matrix would need tens of GB
        raise ValueError(f"matrix must be at most {MAX_MATRIX} x {MAX_MATRIX} pixels (TI scouts are 128-256); got {rows} x {cols}.")
    d.values["matrix"] = (rows, cols)
    if "pixel_spacing_mm" in overrides:
        spacing = d.uniform("pixel_spacing_mm", r.pixel_spacing_mm)
    else:
        low = max(r.pixel_spacing_mm[0], r.field_of_view_mm[0] / max(rows, cols))
        high = min(r.pixel_spacing_mm[1], r.field_of_view_mm[1] / max(rows, cols))
        if low > high:  # FOV and spacing ranges cannot both hold for this matrix: keep the spacing range
            low = high = float(np.clip(r.field_of_view_mm[0] / max(rows, cols), *r.pixel_spacing_mm))
        spacing = d.uniform("pixel_spacing_mm", (low, high))
    if spacing <= 0:
        raise ValueError(f"pixel_spacing_mm must be positive; got {spacing}.")
    thickness = d.uniform("slice_thickness_mm", r.slice_thickness_mm)
    phase_sensitive = d.flag("phase_sensitive", r.p_phase_sensitive)

    # --- anatomy in rotated millimetres with the LV centre at the origin -----------------------------
    fov_rows, fov_cols = rows * spacing, cols * spacing
    if "heart_offset_mm" in overrides:
        offset_x, offset_y = (float(v) for v in overrides["heart_offset_mm"])
    else:
        offset_x = rng.uniform(*r.heart_offset_fraction) * fov_cols
        offset_y = rng.uniform(*r.heart_offset_fraction) * fov_rows
    d.values["heart_offset_mm"] = (offset_x, offset_y)
    rotation = math.radians(d.uniform("rotation_deg", r.rotation_deg))
    x = (np.arange(cols, dtype=np.float32) - (cols - 1) / 2.0) * spacing - offset_x
    y = (np.arange(rows, dtype=np.float32) - (rows - 1) / 2.0) * spacing - offset_y
    cos_r, sin_r = math.cos(rotation), math.sin(rotation)
    u = (cos_r * x[None, :] + sin_r * y[:, None]).astype(np.float32)
    v = (-sin_r * x[None, :] + cos_r * y[:, None]).astype(np.float32)
    radius = np.sqrt(u * u + v * v)
    theta = np.arctan2(v, u)

    lv_radius = d.uniform("lv_radius_mm", r.lv_radius_mm)
    ellipticity = d.uniform("lv_ellipticity", r.lv_ellipticity)
    ellipse_angle = rng.uniform(0, np.pi)
    wall = d.uniform("wall_thickness_mm", r.wall_thickness_mm)
    wall_var = d.uniform("wall_thickness_variation", r.wall_thickness_variation)
    wall_phase = rng.uniform(0, 2 * np.pi)
    a_endo, b_endo = lv_radius, lv_radius * ellipticity
    phi = theta - ellipse_angle
    r_endo = a_endo * b_endo / np.sqrt((b_endo * np.cos(phi)) ** 2 + (a_endo * np.sin(phi)) ** 2)
    wall_map = wall * (1.0 + wall_var * np.cos(theta - wall_phase))
    r_epi = r_endo + wall_map
    lv_blood = _edge_fraction(radius - r_endo, spacing)
    lv_epi = _edge_fraction(radius - r_epi, spacing)
    outer = lv_radius + wall * (1 + wall_var)

    rv_width = d.uniform("rv_width_mm", r.rv_width_mm)
    rv_wall = d.uniform("rv_wall_mm", r.rv_wall_mm)
    rv_a, rv_b = rv_width, outer * rng.uniform(1.1, 1.5)
    rv_cu, rv_cv = -(outer + rv_width * rng.uniform(0.1, 0.6)), rng.uniform(-0.3, 0.3) * outer
    rv_blood = _edge_fraction(_ellipse_distance(u, v, rv_cu, rv_cv, rv_a, rv_b), spacing)
    rv_outer = _edge_fraction(_ellipse_distance(u, v, rv_cu, rv_cv, rv_a + rv_wall, rv_b + rv_wall), spacing)
    epi_fat = d.uniform("epicardial_fat_mm", r.epicardial_fat_mm)

    body_a = rng.uniform(150.0, 190.0)
    body_b = rng.uniform(100.0, 135.0)
    body_cu, body_cv = -rng.uniform(10.0, 40.0), rng.uniform(20.0, 60.0)
    body_distance = _ellipse_distance(u, v, body_cu, body_cv, body_a, body_b)
    sub_fat = d.uniform("subcutaneous_fat_mm", r.subcutaneous_fat_mm)

    weights = np.zeros((len(TISSUES), rows, cols), dtype=np.float32)

    def paint(tissue: str, fraction: np.ndarray) -> None:
        weights[...] *= 1.0 - fraction
        weights[_K[tissue]] += fraction

    paint("fat", _edge_fraction(body_distance, spacing))
    paint("other", _edge_fraction(body_distance + sub_fat, spacing))
    if d.flag("liver", r.p_liver):  # posterior-inferior, on the image left (patient's right) of the heart
        liver_a, liver_b = rng.uniform(50.0, 90.0), rng.uniform(30.0, 60.0)
        paint("liver", _edge_fraction(body_distance + sub_fat, spacing) * _edge_fraction(_ellipse_distance(
            u, v, -rng.uniform(20.0, 80.0), outer + rng.uniform(10.0, 40.0) + liver_b, liver_a, liver_b), spacing))
    gap = rng.uniform(3.0, 12.0)
    left_lung_a, left_lung_b = rng.uniform(30.0, 55.0), rng.uniform(45.0, 80.0)
    paint("lung", _edge_fraction(_ellipse_distance(
        u, v, outer + gap + left_lung_a, rng.uniform(0.0, 0.6) * left_lung_b, left_lung_a, left_lung_b), spacing))
    right_lung_a, right_lung_b = rng.uniform(30.0, 55.0), rng.uniform(45.0, 80.0)
    paint("lung", _edge_fraction(_ellipse_distance(
        u, v, rv_cu - rv_a - gap - right_lung_a, rng.uniform(0.2, 0.8) * right_lung_b, right_lung_a, right_lung_b),
        spacing))
    if d.flag("aorta", 0.7):  # descending aorta: blood, posterior to the LV, beside the spine
        aorta_r = rng.uniform(8.0, 14.0)
        angle = math.radians(rng.uniform(60.0, 120.0))
        distance = outer + rng.uniform(15.0, 35.0)
        paint("blood", _edge_fraction(np.hypot(u - distance * math.cos(angle), v - distance * math.sin(angle))
                                      - aorta_r, spacing))
    if epi_fat > 0:
        paint("fat", _edge_fraction(radius - (r_epi + epi_fat * rng.uniform(0.3, 1.0)), spacing))
        paint("fat", _edge_fraction(_ellipse_distance(
            u, v, rv_cu, rv_cv, rv_a + rv_wall + epi_fat, rv_b + rv_wall + epi_fat), spacing))
    paint("myocardium", rv_outer)
    paint("blood", rv_blood)
    paint("myocardium", lv_epi)
    lv_myo_fraction = lv_epi - lv_blood
    paint("blood", lv_blood)
    papillary = d.flag("papillary", r.p_papillary)
    if papillary:
        for angle in rng.uniform(0, 2 * np.pi, size=2) if lv_radius > 14 else ():
            pr = rng.uniform(2.0, 4.0)
            centre = lv_radius * 0.75
            pm = _edge_fraction(np.hypot(u - centre * math.cos(angle), v - centre * math.sin(angle)) - pr, spacing)
            paint("myocardium", pm * lv_blood)

    scar_fraction = np.zeros((rows, cols), dtype=np.float32)
    if has_scar:
        sector = math.radians(d.uniform("scar_sector_deg", r.scar_sector_deg))
        centre = math.radians(d.uniform("scar_centre_deg", (-180.0, 180.0)))
        transmural = d.uniform("scar_transmurality", r.scar_transmurality)
        angular = np.abs(np.angle(np.exp(1j * (theta - centre)))) * radius  # arc length (mm) from the centre
        edge = _edge_fraction(angular - sector / 2 * radius, spacing)
        depth = _edge_fraction(radius - (r_endo + transmural * wall_map), spacing) if transmural < 1 else 1.0
        scar_fraction = (lv_myo_fraction * edge * depth).astype(np.float32)
        paint("scar", scar_fraction)
    remote_fraction = lv_myo_fraction - scar_fraction

    # --- proton density, blood inhomogeneity, coil shading, blur --------------------------------------
    pd = np.array([1.0, d.uniform("blood_pd", r.blood_pd), d.uniform("scar_pd", r.scar_pd),
                   d.uniform("fat_pd", r.fat_pd), d.uniform("other_pd", r.other_pd),
                   d.uniform("lung_pd", r.lung_pd), d.uniform("liver_pd", r.other_pd)], dtype=np.float32)
    weights *= pd[:, None, None]
    texture = d.uniform("other_texture", r.other_texture)
    if texture > 0:
        weights[_K["other"]] *= 1.0 + texture * _smooth_field(rng, u, v, 60.0, n=4)
    inhomogeneity = d.uniform("blood_inhomogeneity", r.blood_inhomogeneity)
    if inhomogeneity > 0:
        weights[_K["blood"]] *= 1.0 + inhomogeneity * _smooth_field(rng, u, v, 40.0)
    shading_strength = d.uniform("coil_shading", r.coil_shading)
    shading = np.ones((rows, cols), dtype=np.float32)
    if shading_strength > 0:
        coil_angle = rng.uniform(0, 2 * np.pi)
        coil_u, coil_v = 150.0 * math.cos(coil_angle), 150.0 * math.sin(coil_angle)
        falloff = np.hypot(u - coil_u, v - coil_v) / 150.0  # 1 at the heart, ~0 at the coil
        shading = np.exp(-shading_strength * (falloff - 1.0)).astype(np.float32)
        weights *= shading
    blur = d.uniform("blur_sigma_px", r.blur_sigma_px)
    if blur > 0:
        for k in range(weights.shape[0]):
            weights[k] = ndimage.gaussian_filter(weights[k], blur, mode="nearest", truncate=3.0)

    # --- frames: curves x maps, flow ghosts, motion, noise --------------------------------------------
    curves = recovery_curves(ti, t1, b_over_a).astype(np.float32)  # [K, N]
    # plain einsum (no BLAS): a BLAS call here stalls for milliseconds when its threads compete for busy cores
    signal = np.ascontiguousarray(np.einsum("kn,kp->np", curves, weights.reshape(len(TISSUES), -1)))
    signal = signal.reshape(ti.size, rows, cols)
    flow = d.uniform("flow_artefact", r.flow_artefact)
    if flow > 0:
        axis = int(rng.integers(1, 3))  # phase-encoding direction: rows or columns
        shift = int(round((rows if axis == 1 else cols) * rng.uniform(0.1, 0.3)))
        ghost = np.roll(weights[_K["blood"]], shift, axis=axis - 1)
        amplitude = (flow * rng.uniform(0.3, 1.0, size=ti.size) * np.sign(rng.uniform(-1, 1, size=ti.size)))
        signal += (amplitude * curves[_K["blood"]]).astype(np.float32)[:, None, None] * ghost[None]
    motion = d.uniform("motion_mm", r.motion_mm)
    if motion > 0:
        shifts = np.cumsum(rng.normal(0.0, motion / 2.0, size=(ti.size, 2)), axis=0)
        shifts -= shifts.mean(axis=0)
        shifts = np.clip(shifts, -motion, motion) / spacing
        d.values["motion_shift_px"] = shifts.round(3).tolist()
        signal = shift_frames(signal, shifts)
    scale = d.uniform("intensity_scale", r.intensity_scale)
    for purity in (0.999, 0.9, 0.5):  # pure remote myocardium where the wall is wide enough
        myocardium_mask = remote_fraction >= purity
        if myocardium_mask.sum() >= 8:
            break
    blood_mask = lv_blood >= 0.95
    scar_mask = scar_fraction >= 0.5
    snr = d.uniform("snr", r.snr)
    if not snr > 0:
        raise ValueError(f"snr must be positive (inf for no noise); got {snr}.")
    signal *= np.float32(scale)
    if math.isfinite(snr):
        reference = float(shading[myocardium_mask].mean()) if myocardium_mask.any() else 1.0
        sigma = np.float32(scale * reference / snr)
        d.values["noise_sigma"] = float(sigma)
        noise = rng.standard_normal(size=signal.shape, dtype=np.float32)
        if phase_sensitive:
            signal += sigma * noise
        else:
            imaginary = rng.standard_normal(size=signal.shape, dtype=np.float32)
            signal += sigma * noise
            signal = np.sqrt(signal * signal + (sigma * imaginary) ** 2)
    elif not phase_sensitive:
        signal = np.abs(signal)

    # --- geometry -----------------------------------------------------------------------------------
    directions = _orientation(rng)
    ijk_to_ras = np.eye(4)
    ijk_to_ras[:3, :3] = directions * np.array([spacing, spacing, thickness])[None, :]
    heart_ras = np.array([-20.0, 10.0, 20.0]) + rng.normal(0.0, 20.0, size=3)  # our choice (near the heart)
    centre_ijk = np.array([(cols - 1) / 2.0, (rows - 1) / 2.0, 0.0])
    ijk_to_ras[:3, 3] = heart_ras - ijk_to_ras[:3, :3] @ centre_ijk

    scout = TIScout(
        frames=signal.astype(np.float32, copy=False),
        ti_ms=ti,
        pixel_spacing_mm=(spacing, spacing),
        slice_thickness_mm=thickness,
        ijk_to_ras=ijk_to_ras,
        ti_source="simulated",
        phase_sensitive=phase_sensitive,
        vendor="simulated",
        series_description=f"Simulated TI scout {field_t:g} T" + (" PSIR" if phase_sensitive else ""),
    )
    tissue_t1 = {name: float(value) for name, value in zip(TISSUES, t1)}
    d.values["t1_star_myocardium_ms"] = float(t1_star_ms(t1_myo, b_over_a))
    return SimulatedScout(
        scout=scout,
        null_ti_ms=float(null_ti),
        offset_ms=ti - null_ti,
        myocardium_mask=myocardium_mask,
        blood_mask=blood_mask,
        scar_mask=scar_mask if has_scar else np.zeros_like(scar_mask),
        tissue_t1_ms=tissue_t1,
        field_strength_t=field_t,
        parameters=dict(d.values),
    )
