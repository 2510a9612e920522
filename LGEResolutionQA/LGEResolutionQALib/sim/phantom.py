"""Synthetic LGE phantoms with known truth (core: numpy only).

* ``make_lge_ring_phantom``: a short-axis stack of an LV myocardial ring (blood pool inside, air
  outside) with a scar sector of known volume, optional microvascular obstruction (MVO) core, and
  Rician noise of known σ. Used for the LGE %LV tests, the SNR tests and the module self-test.
* ``make_septum_pair``: one analytic scene (blood – septum – blood, a bright septal scar, bright
  1 mm and 2 mm bar markers) rendered at high (0.625 mm) and normal (1.5 mm) resolution on grids
  that cover the same RAS field of view, so one RAS line crosses both.

Rendering is by area averaging: each voxel's value is the mean of the analytic scene over a fine
``supersample × supersample`` grid inside the voxel (the signal of a larger voxel is the integral of
the object over it: partial volume), not point sampling. The through-plane direction is uniform
(cylinder per slice), so in-plane averaging is the whole integral.

Noise is Rician: magnitude |S + n_re + i·n_im| with n_re, n_im ~ N(0, σ²) (single channel).
Signal levels are our choice (documented defaults): air 0, nulled remote myocardium 0.1, blood
0.7 (ring) / 0.8 (septum), scar 1.0, MVO 0.05. ``snr`` of the ring phantom is scar level/σ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

RING_LEVELS = {"air": 0.0, "remote": 0.1, "blood": 0.7, "scar": 1.0, "mvo": 0.05}
SEPTUM_LEVELS = {"air": 0.0, "myocardium": 0.1, "blood": 0.8, "scar": 1.0, "marker": 1.0}


def _ijk_to_ras(spacing_mm, shape_kji) -> np.ndarray:
    """Identity directions; origin so that the in-plane image centre is at R = A = 0 and slice 0 at S = 0."""
    si, sj, sk = (float(s) for s in spacing_mm)
    matrix = np.diag([si, sj, sk, 1.0])
    matrix[0, 3] = -(shape_kji[2] - 1) * si / 2.0
    matrix[1, 3] = -(shape_kji[1] - 1) * sj / 2.0
    return matrix


def _fine_grid(n_i: int, n_j: int, si: float, sj: float, supersample: int):
    """Sub-voxel sample positions (x, y) in mm relative to the in-plane image centre: [n_j*m, n_i*m]."""
    m = int(supersample)
    offsets = (np.arange(m) + 0.5) / m - 0.5
    x = ((np.arange(n_i)[:, None] - (n_i - 1) / 2.0) + offsets[None, :]).ravel() * si
    y = ((np.arange(n_j)[:, None] - (n_j - 1) / 2.0) + offsets[None, :]).ravel() * sj
    return np.meshgrid(x, y, indexing="xy")


def _block_mean(fine: np.ndarray, m: int) -> np.ndarray:
    n_j, n_i = fine.shape[0] // m, fine.shape[1] // m
    return fine.reshape(n_j, m, n_i, m).mean(axis=(1, 3))


def _rician(signal: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    real = signal + rng.normal(0.0, sigma, signal.shape)
    imag = rng.normal(0.0, sigma, signal.shape)
    return np.hypot(real, imag)


def _check_rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise ValueError(f"rng must be a numpy Generator or an integer seed; got {type(rng).__name__}.")


@dataclass(frozen=True, eq=False)
class LGEPhantom:
    """A synthetic short-axis LGE stack with its ground truth (arrays are [k, j, i]).

    Masks: ``myocardium_mask`` = voxels ≥ 50% myocardium (scar included); ``scar_mask_truth`` =
    voxels ≥ 50% infarct (MVO core included); ``mvo_mask_truth`` = voxels ≥ 50% MVO;
    ``remote_mask`` = a 60° sector opposite the scar, eroded in-plane by one voxel (no partial
    volume); ``blood_mask`` / ``air_mask`` = voxels entirely blood / air (air ≥ 5 mm outside the
    epicardium). ``scar_percent_truth`` is the exact area-weighted infarct volume / myocardial
    volume × 100 of the rendered object; ``scar_ml_truth`` the infarct volume (mL).
    """

    image: np.ndarray
    myocardium_mask: np.ndarray
    remote_mask: np.ndarray
    scar_mask_truth: np.ndarray
    blood_mask: np.ndarray
    air_mask: np.ndarray
    sigma_true: float
    ijk_to_ras: np.ndarray
    mvo_mask_truth: np.ndarray = field(default=None, repr=False)
    spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0)
    scar_percent_truth: float = 0.0
    scar_ml_truth: float = 0.0
    mvo_ml_truth: float = 0.0
    myocardium_ml_truth: float = 0.0
    levels: dict = field(default_factory=dict)

    @property
    def voxel_volume_mm3(self) -> float:
        return float(np.prod(self.spacing_mm))


def make_lge_ring_phantom(
    shape_kji,
    spacing_mm,
    scar_fraction: float,
    snr: float,
    rng,
    transmural: bool = True,
    mvo: bool = False,
    endo_radius_mm: tuple[float, float] = (25.0, 18.0),
    wall_mm: float = 10.0,
    scar_center_deg: float = 90.0,
    supersample: int = 8,
    levels: dict | None = None,
) -> LGEPhantom:
    """LV ring stack with a scar occupying ``scar_fraction`` of the myocardial volume.

    shape_kji: (slices, rows, columns) or (rows, columns); spacing_mm: (si, sj, sk) with sk the
    slice-to-slice distance. The endocardial radius tapers linearly from ``endo_radius_mm[0]``
    (slice 0, base) to ``[1]`` (last slice); the wall is ``wall_mm`` thick. Transmural scar: a sector
    of angle 360°·f in every slice. Non-transmural: the inner half of the wall, the sector angle
    chosen per slice so the area fraction is still f. With ``mvo`` a dark core (the middle 40% of the
    sector's angle, 30–70% of the scar depth) lies inside the infarct (it is part of the infarct
    truth; ``mvo_ml_truth`` gives its volume). σ = levels['scar']/snr.
    """
    shape = tuple(int(s) for s in shape_kji)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"shape_kji must be (k, j, i) or (j, i); got {shape_kji}.")
    si, sj, sk = (float(s) for s in spacing_mm)
    if min(si, sj, sk) <= 0:
        raise ValueError(f"spacing_mm must be positive; got {spacing_mm}.")
    if not 0.0 <= scar_fraction < 1.0:
        raise ValueError(f"scar_fraction must be in [0, 1); got {scar_fraction}.")
    if not np.isfinite(snr) or snr <= 0:
        raise ValueError(f"snr must be positive; got {snr}.")
    rng = _check_rng(rng)
    lv = dict(RING_LEVELS if levels is None else {**RING_LEVELS, **levels})
    sigma = lv["scar"] / float(snr)
    n_k, n_j, n_i = shape
    r_endo_all = np.linspace(endo_radius_mm[0], endo_radius_mm[1], n_k) if n_k > 1 else np.array([endo_radius_mm[0]])
    half_fov = min(n_i * si, n_j * sj) / 2.0
    if r_endo_all.max() + wall_mm + 5.0 + max(si, sj) > half_fov:
        raise ValueError(
            f"The ring (epicardial radius {r_endo_all.max() + wall_mm:.1f} mm + 5 mm air) does not fit in the "
            f"{n_i * si:.1f} x {n_j * sj:.1f} mm field of view."
        )
    m = int(supersample)
    x, y = _fine_grid(n_i, n_j, si, sj, m)
    radius = np.hypot(x, y)
    angle = np.angle((x + 1j * y) * np.exp(-1j * np.deg2rad(scar_center_deg)))  # relative to scar centre

    out = {name: np.zeros(shape, dtype=np.float32 if name == "image" else bool) for name in
           ("image", "myocardium", "scar", "mvo", "blood", "air", "remote")}
    myo_area = scar_area = mvo_area = 0.0
    for k in range(n_k):
        r_endo = float(r_endo_all[k])
        r_epi = r_endo + wall_mm
        myo = (radius >= r_endo) & (radius < r_epi)
        depth = wall_mm if transmural else wall_mm / 2.0
        if transmural:
            half_angle = np.pi * scar_fraction
        else:
            ratio = (r_epi**2 - r_endo**2) / ((r_endo + depth) ** 2 - r_endo**2)
            half_angle = np.pi * scar_fraction * ratio
            if half_angle > np.pi:
                raise ValueError(
                    f"scar_fraction {scar_fraction} is too large for a non-transmural (inner half) scar; "
                    f"at most {1 / ratio:.2f}."
                )
        scar = myo & (np.abs(angle) <= half_angle) & (radius < r_endo + depth)
        core = np.zeros_like(scar)
        if mvo:
            core = scar & (np.abs(angle) <= 0.4 * half_angle) & (radius >= r_endo + 0.3 * depth) & (
                radius < r_endo + 0.7 * depth)
        signal = np.full(x.shape, lv["air"])
        signal[radius < r_endo] = lv["blood"]
        signal[myo] = lv["remote"]
        signal[scar] = lv["scar"]
        signal[core] = lv["mvo"]
        fractions = {name: _block_mean(mask.astype(np.float64), m) for name, mask in
                     (("myo", myo), ("scar", scar), ("mvo", core), ("blood", radius < r_endo),
                      ("air", radius >= r_epi + 5.0))}
        out["image"][k] = _rician(_block_mean(signal, m), sigma, rng)
        out["myocardium"][k] = fractions["myo"] >= 0.5
        out["scar"][k] = (fractions["scar"] >= 0.5) & out["myocardium"][k]
        out["mvo"][k] = (fractions["mvo"] >= 0.5) & out["myocardium"][k]
        out["blood"][k] = fractions["blood"] >= 1.0
        out["air"][k] = fractions["air"] >= 1.0
        myo_area += fractions["myo"].sum()
        scar_area += fractions["scar"].sum()
        mvo_area += fractions["mvo"].sum()
        centres = np.angle(
            ((np.arange(n_i) - (n_i - 1) / 2.0)[None, :] * si + 1j * (np.arange(n_j) - (n_j - 1) / 2.0)[:, None] * sj)
            * np.exp(-1j * np.deg2rad(scar_center_deg + 180.0)))
        inner = ndimage.binary_erosion(out["myocardium"][k], structure=np.ones((3, 3), bool))
        out["remote"][k] = inner & (np.abs(centres) <= np.deg2rad(30.0)) & ~out["scar"][k]
    voxel_ml = si * sj * sk / 1000.0
    return LGEPhantom(
        image=out["image"],
        myocardium_mask=out["myocardium"],
        remote_mask=out["remote"],
        scar_mask_truth=out["scar"],
        blood_mask=out["blood"],
        air_mask=out["air"],
        sigma_true=float(sigma),
        ijk_to_ras=_ijk_to_ras((si, sj, sk), shape),
        mvo_mask_truth=out["mvo"],
        spacing_mm=(si, sj, sk),
        scar_percent_truth=float(100.0 * scar_area / myo_area) if myo_area else 0.0,
        scar_ml_truth=float(scar_area * voxel_ml),
        mvo_ml_truth=float(mvo_area * voxel_ml),
        myocardium_ml_truth=float(myo_area * voxel_ml),
        levels=lv,
    )


@dataclass(frozen=True, eq=False)
class RenderedImage:
    """One rendering of the septum scene: ``image`` [1, j, i] (float32) and its IJK->RAS matrix."""

    name: str
    image: np.ndarray
    ijk_to_ras: np.ndarray
    pixel_mm: float
    slice_mm: float
    sigma: float

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        return (self.pixel_mm, self.pixel_mm, self.slice_mm)


def _septum_scene(x, y, thickness, levels, scar_y, marker_groups, tissue_top):
    value = np.full(x.shape, levels["air"], dtype=np.float64)
    tissue = y < tissue_top
    value[tissue] = levels["blood"]
    septum = tissue & (np.abs(x) <= thickness / 2.0)
    value[septum] = levels["myocardium"]
    value[septum & (y >= scar_y[0]) & (y < scar_y[1])] = levels["scar"]
    for group in marker_groups.values():
        for centre in group["centres_x_mm"]:
            bar = (np.abs(x - centre) <= group["size_mm"] / 2.0) & (np.abs(y - group["centre_y_mm"]) <= group["length_mm"] / 2.0)
            value[bar] = levels["marker"]
    return value


def make_septum_pair(
    rng,
    hr_pixel_mm: float = 0.625,
    nr_pixel_mm: float = 1.5,
    septum_thickness_mm: float = 8.0,
    fov_mm: float = 90.0,
    slice_mm: float = 8.0,
    sigma_hr: float = 0.05,
    sigma_nr: float = 0.03,
    markers: bool = True,
    scar: bool = True,
    supersample_mm: float = 0.1,
) -> dict:
    """The same simulated septum (and bar markers) rendered at HR and NR on one RAS field of view.

    Scene (RAS mm, slice plane S = 0): tissue for A < 20: blood (0.8) with a vertical septum of
    myocardium (0.1) |R| ≤ thickness/2; a transmural bright scar (1.0) in the septum for
    −35 ≤ A < −15 (when ``scar``); above A = 22 a dark phantom area with two bar groups (1.0):
    4 bars 2 mm wide at 4 mm pitch centred at R = −18, and 4 bars 1 mm wide at 2 mm pitch centred
    at R = +18, all 8 mm long around A = 32 (when ``markers``). Each grid has n = round(fov/pixel)
    pixels centred on R = A = 0; voxels are area averages (≈``supersample_mm`` sub-samples), then
    Rician noise of σ = ``sigma_hr`` / ``sigma_nr`` (our defaults: SNR of blood 16 at HR, 27 at NR).

    Returns a dict: "hr", "nr" (``RenderedImage``), "septum_line_ras" (2x3, crosses
    blood–septum–blood at A = 5), "scar_line_ras" (A = −25), "marker_lines_ras" {"2mm", "1mm"}
    (2x3 each, along R through the bar centres), "marker_groups" (size, pitch, count, centres),
    "septum_thickness_mm", "levels".
    """
    rng = _check_rng(rng)
    for value, what in ((hr_pixel_mm, "hr_pixel_mm"), (nr_pixel_mm, "nr_pixel_mm"), (septum_thickness_mm,
                        "septum_thickness_mm"), (fov_mm, "fov_mm"), (slice_mm, "slice_mm")):
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{what} must be positive; got {value}.")
    if septum_thickness_mm > 30:
        raise ValueError("septum_thickness_mm must be at most 30 mm for this scene.")
    if fov_mm < 80:
        raise ValueError("fov_mm must be at least 80 mm to hold the septum and the markers.")
    marker_groups = {}
    if markers:
        for name, size, centre in (("2mm", 2.0, -18.0), ("1mm", 1.0, 18.0)):
            pitch = 2.0 * size
            centres = centre + pitch * (np.arange(4) - 1.5)
            marker_groups[name] = {"size_mm": size, "pitch_mm": pitch, "count": 4, "length_mm": 8.0,
                                   "centre_y_mm": 32.0, "centres_x_mm": tuple(float(c) for c in centres)}
    tissue_top, scar_y = 20.0, ((-35.0, -15.0) if scar else (0.0, 0.0))
    levels = dict(SEPTUM_LEVELS)
    images = {}
    for key, pixel, sigma in (("hr", hr_pixel_mm, sigma_hr), ("nr", nr_pixel_mm, sigma_nr)):
        n = int(round(fov_mm / pixel))
        m = max(int(np.ceil(pixel / supersample_mm)), 1)
        x, y = _fine_grid(n, n, pixel, pixel, m)
        clean = _block_mean(_septum_scene(x, y, septum_thickness_mm, levels, scar_y, marker_groups, tissue_top), m)
        noisy = _rician(clean, sigma, rng) if sigma > 0 else clean
        images[key] = RenderedImage(key.upper(), noisy[np.newaxis].astype(np.float32),
                                    _ijk_to_ras((pixel, pixel, slice_mm), (1, n, n)), float(pixel),
                                    float(slice_mm), float(sigma))
    half = septum_thickness_mm / 2.0 + 12.0
    marker_lines = {name: np.array([[g["centres_x_mm"][0] - g["pitch_mm"], g["centre_y_mm"], 0.0],
                                    [g["centres_x_mm"][-1] + g["pitch_mm"], g["centre_y_mm"], 0.0]])
                    for name, g in marker_groups.items()}
    return {
        "hr": images["hr"],
        "nr": images["nr"],
        "septum_line_ras": np.array([[-half, 5.0, 0.0], [half, 5.0, 0.0]]),
        "scar_line_ras": np.array([[-half, -25.0, 0.0], [half, -25.0, 0.0]]),
        "marker_lines_ras": marker_lines,
        "marker_groups": marker_groups,
        "septum_thickness_mm": float(septum_thickness_mm),
        "levels": levels,
    }
