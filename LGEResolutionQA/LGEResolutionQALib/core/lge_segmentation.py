"""LGE (scar) segmentation inside the LV myocardium and its extent as % of the LV (core: numpy/scipy).

Methods (docs/METHODS.md §2.4):

* ``nsd``: threshold T = μ_remote + n·σ_remote (sample SD), n = 5 by default; n ∈ {2, 3, 5, 6} are the
  published choices — any other positive n is allowed and adds a warning to the result.
* ``fwhm``: T = 0.5 × max signal of the hyperenhanced region. ``fwhm_max_region``:
  "hyperenhanced" (default) — the max is taken in the largest 3D connected component (26-connected)
  of myocardial voxels above the Otsu threshold of the myocardial intensities (our automatic
  stand-in for the user-picked bright region of Amado et al. JACC 2004); "myocardium" — the max
  over the whole myocardium. The raw maximum is used (as in the method's definition); it is noise
  sensitive.
* ``otsu``: T = Otsu threshold (256-bin histogram) of the myocardial intensities.

Scar = myocardium ∧ (image ≥ T). Options, in this order:
1. ``include_mvo``: microvascular obstruction = holes of the scar mask filled in-plane (per slice,
   8-connected background: a dark core must be fully enclosed by scar in the slice), restricted to
   the myocardium, then counted as LGE. A dark core touching the blood pool is not enclosed and is
   not filled (limitation).
2. ``min_island_ml`` > 0: 3D connected components (26-connectivity) smaller than this volume are
   removed.

Volumes: voxel volume = si·sj·sk with sk the slice-to-slice distance (slice thickness + gap), so
LGE mL = scar voxels × voxel volume, myocardium mL likewise, and
%LV = 100 · Σ scar voxel volume / Σ myocardial voxel volume.

Remote reference: a user mask (intersected with the myocardium) or, when ``remote_mask`` is None,
automatic: in every slice, the contiguous 60° sector of myocardium (around the slice's myocardial
centroid, 36 candidate sectors in 10° steps) with the lowest mean intensity; its voxels not on the
in-plane myocardial border (eroded by one voxel, avoiding partial volume with blood and fat) when
at least 10 remain, else the whole sector. The union over slices gives μ_remote and σ_remote.
A remote reference whose mean is above the myocardial median + 2 σ_remote is rejected as lying in
hyperenhanced myocardium ("remote ROI inside the LGE").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from scipy import ndimage

PUBLISHED_N_SD = (2, 3, 5, 6)
METHODS = ("nsd", "fwhm", "otsu")
FWHM_MAX_REGIONS = ("hyperenhanced", "myocardium")


@dataclass(frozen=True, eq=False)
class LGEResult:
    """Result of ``segment_lge``. ``per_slice`` rows: slice_index, myocardium_ml, lge_ml, lge_percent."""

    method: str
    threshold: float
    n_sd: float | None
    scar_mask: np.ndarray = field(repr=False)
    lge_ml: float
    myocardium_ml: float
    lge_percent_of_lv: float
    remote_mean: float
    remote_sd: float
    per_slice: tuple[dict, ...] = field(repr=False)
    islands_removed: int
    mvo_included_ml: float
    remote_source: str = ""
    remote_voxel_count: int = 0
    fwhm_max: float | None = None
    remote_mask: np.ndarray | None = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()

    ROW_UNITS: ClassVar[dict] = {
        "method": "", "threshold": "au", "n_sd": "", "lge_ml": "mL", "myocardium_ml": "mL", "lge_percent_of_lv": "%",
        "remote_mean": "au", "remote_sd": "au", "remote_source": "", "remote_voxel_count": "count", "fwhm_max": "au",
        "islands_removed": "count", "mvo_included_ml": "mL", "warnings": "",
    }
    #: unit of every key of a ``per_slice`` row
    PER_SLICE_UNITS: ClassVar[dict] = {"slice_index": "", "myocardium_ml": "mL", "lge_ml": "mL", "lge_percent": "%"}

    def as_row(self) -> dict:
        return {
            "method": self.method,
            "threshold": self.threshold,
            "n_sd": self.n_sd,
            "lge_ml": self.lge_ml,
            "myocardium_ml": self.myocardium_ml,
            "lge_percent_of_lv": self.lge_percent_of_lv,
            "remote_mean": self.remote_mean,
            "remote_sd": self.remote_sd,
            "remote_source": self.remote_source,
            "remote_voxel_count": self.remote_voxel_count,
            "fwhm_max": self.fwhm_max,
            "islands_removed": self.islands_removed,
            "mvo_included_ml": self.mvo_included_ml,
            "warnings": "; ".join(self.warnings),
        }


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold (maximal between-class variance) of ``values`` on a ``bins``-bin histogram."""
    data = np.asarray(values, dtype=np.float64).ravel()
    low, high = float(data.min()), float(data.max())
    if high <= low:
        return high
    counts, edges = np.histogram(data, bins=bins, range=(low, high))
    centres = (edges[:-1] + edges[1:]) / 2.0
    weight0 = np.cumsum(counts)
    weight1 = weight0[-1] - weight0
    sum0 = np.cumsum(counts * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean0 = sum0 / weight0
        mean1 = (sum0[-1] - sum0) / weight1
        between = weight0 * weight1 * (mean0 - mean1) ** 2
    between = np.nan_to_num(between[:-1], nan=-1.0)
    return float(edges[int(np.argmax(between)) + 1])


def automatic_remote_mask(array_kji: np.ndarray, myocardium_mask: np.ndarray, spacing_mm,
                          sector_deg: float = 60.0, step_deg: float = 10.0) -> np.ndarray:
    """Lowest-mean contiguous ``sector_deg`` sector of the myocardium in every slice (see module doc).

    Angles are measured in mm (spacing-aware) about the slice's myocardial centroid; the candidate
    sectors are the unions of ``sector_deg/step_deg`` consecutive ``step_deg`` bins.
    """
    image = np.asarray(array_kji)
    myo = np.asarray(myocardium_mask, dtype=bool)
    si, sj = float(spacing_mm[0]), float(spacing_mm[1])
    n_bins = int(round(360.0 / step_deg))
    width = int(round(sector_deg / step_deg))
    if n_bins * step_deg != 360.0 or width < 1 or width > n_bins:
        raise ValueError("step_deg must divide 360 and sector_deg must be a multiple of it.")
    remote = np.zeros_like(myo)
    for k in range(myo.shape[0]):
        jj, ii = np.nonzero(myo[k])
        if jj.size < 6:
            continue
        j0, j1, i0, i1 = jj.min(), jj.max() + 1, ii.min(), ii.max() + 1
        theta = np.degrees(np.arctan2((jj - jj.mean()) * sj, (ii - ii.mean()) * si)) % 360.0
        bins = np.minimum((theta // step_deg).astype(int), n_bins - 1)
        values = image[k, jj, ii].astype(np.float64)
        sums = np.bincount(bins, weights=values, minlength=n_bins)
        counts = np.bincount(bins, minlength=n_bins)
        window_sums = sum(np.roll(sums, -s) for s in range(width))
        window_counts = sum(np.roll(counts, -s) for s in range(width))
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(window_counts >= 3, window_sums / np.maximum(window_counts, 1), np.inf)
        if not np.isfinite(means).any():
            continue
        first = int(np.argmin(means))
        chosen = ((bins - first) % n_bins) < width
        sector = np.zeros(myo.shape[1:], dtype=bool)
        sector[jj[chosen], ii[chosen]] = True
        box = (slice(max(j0 - 1, 0), j1 + 1), slice(max(i0 - 1, 0), i1 + 1))
        inner = np.zeros_like(sector)
        inner[box] = ndimage.binary_erosion(myo[k][box], structure=np.ones((3, 3), bool))
        core = sector & inner
        remote[k] = core if core.sum() >= 10 else sector
    return remote


def _validate(array_kji, myocardium_mask, spacing_mm):
    image = np.asarray(array_kji)
    if image.ndim == 2:
        image = image[np.newaxis]
    if image.ndim != 3:
        raise ValueError(f"LGE image must be 2D or 3D [k, j, i]; got shape {np.shape(array_kji)}.")
    myo = np.asarray(myocardium_mask)
    if myo.ndim == 2:
        myo = myo[np.newaxis]
    if myo.shape != image.shape:
        raise ValueError(
            f"Myocardium mask shape {np.shape(myocardium_mask)} differs from the image shape "
            f"{np.shape(array_kji)}: the mask is on another geometry."
        )
    myo = myo.astype(bool)
    if not myo.any():
        raise ValueError("No myocardium: the myocardium mask is empty.")
    spacing = tuple(float(s) for s in spacing_mm)
    if len(spacing) != 3 or not all(np.isfinite(spacing)) or min(spacing) <= 0:
        raise ValueError(f"spacing_mm must be three positive numbers (si, sj, sk); got {spacing_mm}.")
    image = image.astype(np.float64)
    if not np.all(np.isfinite(image[myo])):
        raise ValueError("The LGE image has NaN or infinite values inside the myocardium.")
    return image, myo, spacing


def _fill_holes_in_plane(mask: np.ndarray) -> np.ndarray:
    filled = np.empty_like(mask)
    for k in range(mask.shape[0]):
        filled[k] = ndimage.binary_fill_holes(mask[k], structure=np.ones((3, 3), bool)) if mask[k].any() else mask[k]
    return filled


def segment_lge(
    array_kji,
    myocardium_mask,
    spacing_mm,
    method: str = "nsd",
    n_sd: float = 5,
    remote_mask=None,
    min_island_ml: float = 0.0,
    include_mvo: bool = False,
    fwhm_max_region: str = "hyperenhanced",
) -> LGEResult:
    """Segment LGE inside ``myocardium_mask`` and measure it (see the module docstring for the rules).

    Raises ValueError (nothing is modified) for mismatched shapes, an empty myocardium, an unknown
    method, n_sd ≤ 0, an empty remote reference (after intersecting with the myocardium), a remote
    reference of fewer than 2 voxels or zero SD (n-SD), or a remote reference inside the LGE.
    """
    image, myo, spacing = _validate(array_kji, myocardium_mask, spacing_mm)
    if method not in METHODS:
        raise ValueError(f"Unknown LGE method {method!r}; choose one of {METHODS}.")
    if fwhm_max_region not in FWHM_MAX_REGIONS:
        raise ValueError(f"fwhm_max_region must be one of {FWHM_MAX_REGIONS}; got {fwhm_max_region!r}.")
    if not np.isfinite(min_island_ml) or min_island_ml < 0:
        raise ValueError(f"min_island_ml must be ≥ 0; got {min_island_ml}.")
    warnings: list[str] = []
    voxel_ml = spacing[0] * spacing[1] * spacing[2] / 1000.0
    myo_values = image[myo]

    if remote_mask is None:
        remote = automatic_remote_mask(image, myo, spacing)
        remote_source = "auto-lowest-60deg-sector"
    else:
        given = np.asarray(remote_mask)
        if given.ndim == 2:
            given = given[np.newaxis]
        if given.shape != image.shape:
            raise ValueError(
                f"Remote mask shape {np.shape(remote_mask)} differs from the image shape {np.shape(array_kji)}: "
                "the remote ROI is on another geometry."
            )
        given = given.astype(bool)
        if not given.any():
            raise ValueError("The remote reference ROI is empty.")
        remote = given & myo
        if not remote.any():
            raise ValueError("The remote reference ROI does not overlap the myocardium.")
        outside = int(given.sum() - remote.sum())
        if outside:
            warnings.append(f"{outside} remote-ROI voxels outside the myocardium were ignored")
        remote_source = "user"
    remote_values = image[remote]
    if remote_values.size < 2:
        raise ValueError(f"The remote reference has {remote_values.size} voxel(s); at least 2 are needed.")
    remote_mean = float(remote_values.mean())
    remote_sd = float(remote_values.std(ddof=1))
    median = float(np.median(myo_values))
    if remote_mean > median + 2.0 * remote_sd and remote_mean > median:
        raise ValueError(
            f"The remote reference looks hyperenhanced (mean {remote_mean:.4g} > myocardial median "
            f"{median:.4g} + 2 SD {remote_sd:.4g}): the remote ROI is inside the LGE. Choose normal myocardium."
        )

    fwhm_max = None
    n_used = None
    if method == "nsd":
        if isinstance(n_sd, bool) or not np.isfinite(n_sd) or n_sd <= 0:
            raise ValueError(f"n_sd must be a positive number; got {n_sd!r}.")
        if not remote_sd > 0:
            raise ValueError("The remote reference has zero SD: the n-SD threshold is undefined.")
        n_used = float(n_sd)
        if n_used not in PUBLISHED_N_SD:
            warnings.append(f"n_sd = {n_used:g} is not one of the published choices {PUBLISHED_N_SD}")
        threshold = remote_mean + n_used * remote_sd
        method_name = f"nsd-{n_used:g}"
    elif method == "otsu":
        threshold = otsu_threshold(myo_values)
        method_name = "otsu-myocardium"
    else:
        if fwhm_max_region == "myocardium":
            fwhm_max = float(myo_values.max())
        else:
            bright = myo & (image >= otsu_threshold(myo_values))
            labels, count = ndimage.label(bright, structure=np.ones((3, 3, 3), bool))
            if count == 0:
                raise ValueError("No hyperenhanced region found in the myocardium for FWHM.")
            sizes = np.bincount(labels.ravel())[1:]
            fwhm_max = float(image[labels == int(np.argmax(sizes)) + 1].max())
        threshold = 0.5 * fwhm_max
        method_name = f"fwhm-max-in-{fwhm_max_region}"
        if threshold <= remote_mean:
            warnings.append("FWHM threshold is not above the remote mean: no clear hyperenhancement")

    scar = myo & (image >= threshold)
    mvo_mask = np.zeros_like(scar)
    if include_mvo and scar.any():
        filled = _fill_holes_in_plane(scar) & myo
        mvo_mask = filled & ~scar
        scar = filled
    islands_removed = 0
    if min_island_ml > 0 and scar.any():
        labels, count = ndimage.label(scar, structure=np.ones((3, 3, 3), bool))
        sizes_ml = np.bincount(labels.ravel())[1:] * voxel_ml
        small = np.flatnonzero(sizes_ml < min_island_ml) + 1
        islands_removed = int(small.size)
        if small.size:
            scar &= ~np.isin(labels, small)
    mvo_ml = float((mvo_mask & scar).sum() * voxel_ml)

    myo_ml = float(myo.sum() * voxel_ml)
    lge_ml = float(scar.sum() * voxel_ml)
    rows = []
    for k in range(myo.shape[0]):
        n_myo = int(myo[k].sum())
        if n_myo == 0:
            continue
        n_scar = int(scar[k].sum())
        rows.append({"slice_index": k, "myocardium_ml": n_myo * voxel_ml, "lge_ml": n_scar * voxel_ml,
                     "lge_percent": 100.0 * n_scar / n_myo})
    if np.asarray(array_kji).ndim == 2:
        scar = scar[0]
        remote = remote[0]
    return LGEResult(
        method=method_name,
        threshold=float(threshold),
        n_sd=n_used,
        scar_mask=scar,
        lge_ml=lge_ml,
        myocardium_ml=myo_ml,
        lge_percent_of_lv=100.0 * lge_ml / myo_ml,
        remote_mean=remote_mean,
        remote_sd=remote_sd,
        per_slice=tuple(rows),
        islands_removed=islands_removed,
        mvo_included_ml=mvo_ml,
        remote_source=remote_source,
        remote_voxel_count=int(remote_values.size),
        fwhm_max=fwhm_max,
        remote_mask=remote,
        warnings=tuple(warnings),
    )
