"""LGE (scar) segmentation inside the LV myocardium, per short-axis slice, and its extent as % of the LV.

Every reference and threshold is taken **per slice** (docs/METHODS.md §2.4; details and measurements in docs/LGE_METHODS.md): clinical
tools (Segment, cvi42) do so because receive-coil shading, windowing and export scaling differ
between slices, so one remote mean/SD pooled over the stack is wrong on most slices.

Methods (``method``), each applied to the myocardial voxels of one slice k:

* ``nsd``: T_k = μ_remote,k + n·σ_remote,k (sample SD), n = 5 by default; n ∈ {2, 3, 5, 6} are the
  published choices — any other positive n is allowed and adds a warning.
* ``fwhm`` (Amado et al., JACC 2004): T_k = 0.5 × the maximum of the slice's hyperenhanced region.
  The region is found automatically (Amado's user picked it): among the in-plane (8-connected)
  components of myocardial voxels ≥ μ_remote,k + 5·σ_remote,k with at least 5 voxels (smaller ones
  are noise, not a core), the one with the highest maximum (the brightest core); the raw maximum
  inside it is used, as in the method's definition. Per slice is our choice
  (the maxima differ between slices with coil shading and export scaling); the per-slice table
  records each slice's maximum (``reference_au``). A slice without such a core has no LGE (status
  "no-hyperenhancement"). Where half the maximum is not above the remote mean (an intensity offset,
  or no distinct bright core) the method does not apply: ``LGEMethodNotApplicable`` is raised
  naming the slices — never the whole myocardium.
* ``otsu``: T_k = Otsu's threshold (256 bins) of the slice's myocardial intensities.
  For ``otsu`` and ``gmm`` a threshold that is not above the slice's remote mean does not separate
  enhanced from normal myocardium (the "bright" class is the normal myocardium, e.g. a mixture
  that split off a small dark tail): that slice has no LGE (status "threshold-not-above-remote",
  listed in a warning) instead of nearly all of it.
* ``gmm``: a two-Gaussian mixture fitted by EM to the slice's myocardial intensities
  (``intensity_models.fit_two_gaussians``); T_k = where the weighted densities of the two components
  are equal. When the modes are not separated (Ashman's D < 2) the slice has no separate bright
  class and no LGE (status "unimodal"). Our dichotomous relative of Segment's EWA (see
  ``intensity_models``).
* ``gmm-pool`` (default): T_k = max(μ_n,k + f·(B_k − μ_n,k), μ_n,k + g·(P_k − μ_n,k)): at least a
  fraction ``pool_fraction`` (f) of the way from normal myocardium to the LV blood pool, and at least a
  fraction ``peak_fraction`` (g) of the slice's peak myocardial enhancement above normal (the
  full-width-at-half-maximum principle of Amado et al., JACC 2004, measured from the normal myocardium
  rather than from zero, with a robust peak), followed by a-priori spatial rules (Engblom et al.,
  JCMR 2016, Segment's EWA). P_k: the 99th percentile (``PEAK_PERCENTILE``) of the slice's myocardial
  intensities. The peak term matters where the enhancement is much brighter than the blood pool (a
  dense infarct, a dark blood pool), where a blood-referenced threshold alone counts its dim rim; and on
  slices whose blood pool is barely brighter than the myocardium (poor nulling, coil shading), where a
  blood-referenced threshold lies in the noise; g = 0 switches it off. μ_n,k: the darker component's mean of the slice's two-Gaussian EM
  mixture (automatic) or the user remote's mean on that slice; B_k: the median of the slice's LV
  cavity (the region the myocardial ring encloses) eroded in-plane by one voxel (the whole cavity
  when fewer than 10 voxels remain). Both come from the slice itself, so per-slice scaling and
  offsets cancel. A slice whose cavity has fewer than 10 voxels (apex, open ring) uses the blood
  pool of the nearest slice that has one (warning); with no cavity on any slice (a region that is
  not a ring) the result is that of ``gmm``, with a warning saying so (method "gmm-per-slice"); a slice whose
  blood pool is not brighter than μ_n,k uses the mixture's own threshold (as ``gmm``; status
  "mixture-threshold") or, when the mixture is not separated, has no LGE (status
  "blood-not-above-myocardium"); both are listed in a warning. The peak term applies throughout: on
  a slice whose blood pool is not brighter than μ_n,k the threshold is the higher of the mixture's
  and the peak term, or the peak term alone (status "peak-threshold", warning) when the mixture is
  not separated; only without either has the slice no LGE.
  Spatial rules (``spatial_cleanup``), per slice: in-plane (8-connected) LGE components smaller than
  ``min_region_fraction`` of the slice's myocardial voxels are removed (noise specks); on a slice
  with a cavity only components touching the endocardial border (myocardial voxels 8-adjacent to
  the cavity) are kept — ischaemic infarcts involve the subendocardium; then the dark cores they
  enclose are filled (as ``include_mvo``, always on for this method). Across slices
  (``remove_single_slice_regions``, stacks of ≥ 2 slices): an LGE region with no LGE directly above
  or below it on a neighbouring slice is removed (warning with the count). f, g and the minimum size
  were chosen on the EMIDEC development set by the "specific" rule in ``benchmarks/bench_lge_emidec.py``
  (5-fold cross-validated there); docs/LGE_METHODS.md.

Remote reference, per slice. ``remote_mask`` given: its voxels in each slice's myocardium. ``None``
(automatic): the contiguous 60° sector of the slice's myocardium (angles in mm about the slice's
myocardial centroid, 36 candidate sectors in 10° steps) with the lowest mean, taken from the
myocardium eroded in-plane by one voxel (no partial volume with blood or fat; the whole myocardium
when fewer than 10 voxels remain). It **cannot sit on the infarct**: after the slice is segmented,
if more than half of the sector lies in the slice's LGE region (its in-plane LGE components of ≥ 5
voxels and the dark cores they enclose, i.e. MVO), the sector and the cores it touches (dilated by
one voxel) are excluded and the sector chosen again (at most twice more). A dark MVO core is the case this catches: the
darkest sector of such a slice is the core itself. (A slice that is LGE all round has no darker
normal myocardium to find; then only a user ROI or the fallback helps.) The sectors used are returned as ``remote_mask`` (a segment in Slicer, a mask file
from the CLI).

Fallback: a slice without usable remote myocardium — fewer than 10 voxels (2 for a user ROI), an SD
of zero, a user ROI not drawn on that slice, or an automatic sector that still lies on the LGE —
uses the remote mean and SD of the nearest slice that has one (the lower slice index on a tie),
recorded per slice in ``remote_slice_index`` and listed in a warning. No usable remote on any slice
is an error. A user remote whose mean on a slice is above that slice's myocardial median + 2 SD is
rejected as lying in the LGE.

Options, in this order: ``include_mvo`` — microvascular obstruction = dark cores enclosed by LGE:
per slice, the holes of (LGE ∪ LV cavity) inside the myocardium are added (the cavity closes a core
that lies against the blood pool; a gap reaching the epicardium is not a hole and is not filled),
each only if it is not larger than the LGE around it (normal wall between the cavity and a thin
bright epicardial rim is not a core);
``min_island_ml`` > 0 — 3D connected components (26-connectivity) smaller than this are removed.

Volumes: voxel volume = si·sj·sk with sk the slice-to-slice distance (slice thickness + gap), so
LGE mL = scar voxels × voxel volume, and %LV = 100 · Σ scar voxel volume / Σ myocardial voxel volume.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import ClassVar

import numpy as np
from scipy import ndimage

from LGEResolutionQALib.core.intensity_models import (
    ASHMAN_D_SEPARATED,
    fit_two_gaussians_batch,
    mixture_threshold,
    otsu_threshold,
)

__all__ = ["LGEMethodNotApplicable", "LGEResult", "SliceLGE", "METHODS", "DEFAULT_METHOD", "segment_lge",
           "automatic_remote_mask", "otsu_threshold", "lv_cavity", "blood_pool_reference", "spatial_cleanup",
           "POOL_FRACTION", "PEAK_FRACTION", "PEAK_PERCENTILE", "MIN_REGION_FRACTION"]

PUBLISHED_N_SD = (2, 3, 5, 6)
#: the largest n of the n-SD threshold accepted (beyond it no voxel of a real image is LGE)
MAX_N_SD = 20.0
METHODS = ("gmm-pool", "gmm", "nsd", "fwhm", "otsu")
DEFAULT_METHOD = "gmm-pool"  # chosen by benchmarks/bench_lge_emidec.py (README "LGE quantification")
#: ``gmm-pool`` threshold: at least this fraction of the way from normal myocardium to the blood pool and at least
#: ``PEAK_FRACTION`` of the slice's peak enhancement above normal (the peak: the ``PEAK_PERCENTILE`` percentile of
#: the slice's myocardium, fixed a priori as a robust maximum), and the smallest in-plane LGE component kept, as a
#: fraction of the slice's myocardial voxels; the fractions chosen by the "specific" rule of
#: benchmarks/bench_lge_emidec.py on the EMIDEC development set (lowest infarct mean |Δ| among the grid points meeting
#: the normal-case targets; 5-fold cross-validated figures there). Since s22; until then the "all" rule chose
#: MIN_REGION_FRACTION = 0.03 (f and g the same).
POOL_FRACTION = 0.60
PEAK_FRACTION = 0.40
PEAK_PERCENTILE = 99.0
MIN_REGION_FRACTION = 0.01
MIN_BLOOD_VOXELS = 10
AUTO_REMOTE_SOURCE = "auto-darkest-60deg-sector-per-slice"
SECTOR_DEG = 60.0
STEP_DEG = 10.0
MIN_REMOTE_VOXELS = 10
MIN_USER_REMOTE_VOXELS = 2
FWHM_CORE_N_SD = 5.0
GUARD_MIN_COMPONENT_VOXELS = 5
GUARD_REPICKS = 2
GUARD_MAX_FRACTION = 0.5
MIN_GMM_VOXELS = 20
_EIGHT = np.ones((3, 3), bool)
_CROSS = ndimage.generate_binary_structure(2, 1)


class LGEMethodNotApplicable(ValueError):
    """The chosen LGE method does not apply to this image (e.g. FWHM where half the maximum is not
    above the remote mean); the message says why and what to use instead."""


@dataclass(frozen=True)
class SliceLGE:
    """One short-axis slice of an LGE result. ``threshold_au`` is None where the slice has no
    threshold (status "no-hyperenhancement" / "unimodal"); ``remote_slice_index`` is the slice whose
    remote reference was used (this one, or the fallback)."""

    slice_index: int
    myocardium_ml: float
    lge_ml: float
    lge_percent: float
    threshold_au: float | None
    remote_mean_au: float
    remote_sd_au: float
    remote_voxel_count: int
    remote_slice_index: int
    status: str
    reference_au: float | None = None
    mvo_ml: float = 0.0

    ROW_UNITS: ClassVar[dict] = {
        "slice_index": "", "myocardium_ml": "mL", "lge_ml": "mL", "lge_percent": "%", "threshold_au": "au",
        "remote_mean_au": "au", "remote_sd_au": "au", "remote_voxel_count": "count", "remote_slice_index": "",
        "status": "", "reference_au": "au", "mvo_ml": "mL",
    }

    def as_row(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, eq=False)
class LGEResult:
    """Result of ``segment_lge``. Masks are [k, j, i] (or [j, i] for a 2D input) on the image grid."""

    method: str
    n_sd: float | None
    scar_mask: np.ndarray = field(repr=False)
    lge_ml: float
    myocardium_ml: float
    lge_percent_of_lv: float
    per_slice: tuple[SliceLGE, ...] = field(repr=False)
    islands_removed: int
    mvo_included_ml: float
    remote_source: str
    remote_voxel_count: int
    remote_mask: np.ndarray = field(repr=False)
    mvo_mask: np.ndarray = field(default=None, repr=False)
    remote_fallback_slices: tuple[int, ...] = ()
    warnings: tuple[str, ...] = ()

    ROW_UNITS: ClassVar[dict] = {
        "method": "", "n_sd": "", "lge_ml": "mL", "myocardium_ml": "mL", "lge_percent_of_lv": "%",
        "mvo_included_ml": "mL", "islands_removed": "count", "remote_source": "", "remote_voxel_count": "count",
        "remote_fallback_slice_count": "count", "slice_count": "count", "warnings": "",
    }
    #: unit of every key of a ``per_slice`` row (``SliceLGE.as_row()``)
    PER_SLICE_UNITS: ClassVar[dict] = SliceLGE.ROW_UNITS

    def as_row(self) -> dict:
        return {
            "method": self.method,
            "n_sd": self.n_sd,
            "lge_ml": self.lge_ml,
            "myocardium_ml": self.myocardium_ml,
            "lge_percent_of_lv": self.lge_percent_of_lv,
            "mvo_included_ml": self.mvo_included_ml,
            "islands_removed": self.islands_removed,
            "remote_source": self.remote_source,
            "remote_voxel_count": self.remote_voxel_count,
            "remote_fallback_slice_count": len(self.remote_fallback_slices),
            "slice_count": len(self.per_slice),
            "warnings": "; ".join(self.warnings),
        }


# ------------------------------------------------------------------------------------------ helpers
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
    crop = (slice(None),) + _box(myo.any(axis=0))  # the myocardium's voxels all lie in this in-plane box
    if not np.all(np.isfinite(image[crop][myo[crop]])):
        raise ValueError("The LGE image has NaN or infinite values inside the myocardium.")
    return image, myo, spacing


def _box(mask2d: np.ndarray, margin: int = 2):
    rows = np.flatnonzero(mask2d.any(axis=1))
    columns = np.flatnonzero(mask2d.any(axis=0))
    return (slice(max(int(rows[0]) - margin, 0), int(rows[-1]) + margin + 1),
            slice(max(int(columns[0]) - margin, 0), int(columns[-1]) + margin + 1))


def _shift_and(mask: np.ndarray, axis: int) -> np.ndarray:
    """Each voxel AND its two neighbours along ``axis`` (outside the array is False)."""
    out = np.zeros_like(mask)
    if mask.shape[axis] < 3:
        return out
    centre = [slice(None)] * mask.ndim
    before, after = list(centre), list(centre)
    centre[axis], before[axis], after[axis] = slice(1, -1), slice(None, -2), slice(2, None)
    out[tuple(centre)] = mask[tuple(before)] & mask[tuple(centre)] & mask[tuple(after)]
    return out


def _shift_or(mask: np.ndarray, axis: int) -> np.ndarray:
    """Each voxel OR its two neighbours along ``axis``."""
    out = mask.copy()
    lower, upper = [slice(None)] * mask.ndim, [slice(None)] * mask.ndim
    lower[axis], upper[axis] = slice(None, -1), slice(1, None)
    out[tuple(lower)] |= mask[tuple(upper)]
    out[tuple(upper)] |= mask[tuple(lower)]
    return out


def _erode8(mask2d: np.ndarray) -> np.ndarray:
    """``ndimage.binary_erosion(mask2d, structure=_EIGHT)`` (3 × 3 square, outside False), done separably."""
    return _shift_and(_shift_and(np.asarray(mask2d, bool), 0), 1)


def _dilate8(mask2d: np.ndarray) -> np.ndarray:
    """``ndimage.binary_dilation(mask2d, structure=_EIGHT)`` (3 × 3 square), done separably."""
    return _shift_or(_shift_or(np.asarray(mask2d, bool), 0), 1)


def fill_holes(mask2d: np.ndarray) -> np.ndarray:
    """``mask2d`` with its holes filled: background (4-connected) not connected to the image border, as
    ``scipy.ndimage.binary_fill_holes`` with its default structure, by one labelling pass."""
    mask = np.asarray(mask2d, bool)
    labels, count = ndimage.label(~mask, structure=_CROSS)
    if count == 0:
        return mask.copy()
    outside = np.zeros(count + 1, bool)
    for edge in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        outside[edge] = True
    outside[0] = True  # label 0 = the mask itself
    return mask | ~outside[labels]


def lv_cavity(myocardium_2d: np.ndarray) -> np.ndarray:
    """The region enclosed by a slice's myocardial ring (in-plane holes); empty for an open ring."""
    myo = np.asarray(myocardium_2d, bool)
    return fill_holes(myo) & ~myo


def darkest_sector(image2d: np.ndarray, myo2d: np.ndarray, allowed2d: np.ndarray, spacing_ji,
                   sector_deg: float = SECTOR_DEG, step_deg: float = STEP_DEG) -> np.ndarray:
    """The contiguous ``sector_deg`` sector of ``allowed2d`` with the lowest mean (angles in mm about
    the centroid of ``myo2d``; candidates are unions of consecutive ``step_deg`` bins with ≥ 3 voxels)."""
    n_bins = int(round(360.0 / step_deg))
    width = int(round(sector_deg / step_deg))
    if abs(n_bins * step_deg - 360.0) > 1e-9 or width < 1 or width > n_bins:
        raise ValueError("step_deg must divide 360 and sector_deg must be a multiple of it.")
    sj, si = float(spacing_ji[0]), float(spacing_ji[1])
    mj, mi = np.nonzero(myo2d)
    cj, ci = mj.mean(), mi.mean()
    jj, ii = np.nonzero(allowed2d)
    out = np.zeros(myo2d.shape, bool)
    if jj.size == 0:
        return out
    theta = np.degrees(np.arctan2((jj - cj) * sj, (ii - ci) * si)) % 360.0
    bins = np.minimum((theta // step_deg).astype(int), n_bins - 1)
    values = image2d[jj, ii].astype(np.float64)
    sums = np.bincount(bins, weights=values, minlength=n_bins)
    counts = np.bincount(bins, minlength=n_bins)
    # window w = bins w .. w + width - 1 (cyclic), summed in that order
    window_sums, window_counts = sums.copy(), counts.copy()
    for s in range(1, width):
        index = (np.arange(n_bins) + s) % n_bins
        window_sums = window_sums + sums[index]
        window_counts = window_counts + counts[index]
    means = np.where(window_counts >= 3, window_sums / np.maximum(window_counts, 1), np.inf)
    if not np.isfinite(means).any():
        return out
    first = int(np.argmin(means))
    chosen = ((bins - first) % n_bins) < width
    out[jj[chosen], ii[chosen]] = True
    return out


def _eroded(myo2d: np.ndarray) -> np.ndarray:
    inner = _erode8(myo2d)
    return inner if np.count_nonzero(inner) >= MIN_REMOTE_VOXELS else myo2d


def automatic_remote_mask(array_kji, myocardium_mask, spacing_mm) -> np.ndarray:
    """Darkest 60° sector of the eroded myocardium in every slice (before the LGE guard of
    ``segment_lge``, which may move a sector that touches the LGE)."""
    image, myo, spacing = _validate(array_kji, myocardium_mask, spacing_mm)
    remote = np.zeros_like(myo)
    for k in np.flatnonzero(myo.any(axis=(1, 2))):
        box = _box(myo[k])
        remote[k][box] = darkest_sector(image[k][box], myo[k][box], _eroded(myo[k][box]), spacing[1::-1])
    return remote if np.ndim(array_kji) == 3 else remote[0]


def _mvo_fill(lge2d: np.ndarray, myo2d: np.ndarray, cavity2d: np.ndarray | None = None) -> np.ndarray:
    """Dark cores enclosed by LGE (in-plane): holes of (LGE ∪ LV cavity) inside the myocardium that
    are not larger than the LGE components around them (so normal wall between the cavity and a thin
    bright rim along the epicardium is not a "core")."""
    if not lge2d.any():
        return np.zeros_like(lge2d)
    holes = fill_holes(lge2d | (lv_cavity(myo2d) if cavity2d is None else cavity2d)) & myo2d & ~lge2d
    if not holes.any():
        return holes
    hole_labels, n_holes = ndimage.label(holes, structure=_CROSS)
    lge_labels, _ = ndimage.label(lge2d, structure=_EIGHT)
    lge_sizes = np.bincount(lge_labels.ravel())
    lge_sizes[0] = 0
    keep = np.zeros(n_holes + 1, bool)
    for index, sl in enumerate(ndimage.find_objects(hole_labels), start=1):
        grown = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in sl)
        hole = hole_labels[grown] == index
        ring = ndimage.binary_dilation(hole, structure=_CROSS) & ~hole
        touching = np.unique(lge_labels[grown][ring])
        keep[index] = np.count_nonzero(hole) <= lge_sizes[touching].sum()
    return keep[hole_labels]


def _lge_region(lge2d: np.ndarray, myo2d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(region, cores) for the remote guard: the in-plane LGE components of ≥ GUARD_MIN_COMPONENT_VOXELS
    voxels with the dark cores they enclose (``_mvo_fill``), and those cores alone."""
    if not lge2d.any():
        return lge2d, lge2d
    labels, count = ndimage.label(lge2d, structure=_EIGHT)
    sizes = np.bincount(labels.ravel())
    big = sizes >= GUARD_MIN_COMPONENT_VOXELS
    big[0] = False
    region = big[labels]
    cores = _mvo_fill(region, myo2d) if region.any() else region
    return region | cores, cores


def _touching(mask: np.ndarray, other: np.ndarray) -> np.ndarray:
    """The in-plane components of ``mask`` that overlap ``other``."""
    if not (mask & other).any():
        return np.zeros_like(mask)
    labels, _ = ndimage.label(mask, structure=_CROSS)
    hit = np.unique(labels[mask & other])
    return np.isin(labels, hit[hit > 0])


def blood_pool_reference(image2d: np.ndarray, myo2d: np.ndarray, cavity2d: np.ndarray | None = None) -> float | None:
    """Median intensity of the LV cavity enclosed by the slice's myocardial ring, eroded in-plane by one voxel
    (no partial volume with the myocardium; the whole cavity when fewer than ``MIN_BLOOD_VOXELS`` remain);
    None when the cavity has fewer than ``MIN_BLOOD_VOXELS`` voxels (open ring, apex)."""
    cavity = lv_cavity(myo2d) if cavity2d is None else cavity2d
    if np.count_nonzero(cavity) < MIN_BLOOD_VOXELS:
        return None
    inner = _erode8(cavity)
    return float(np.median(np.asarray(image2d)[inner if np.count_nonzero(inner) >= MIN_BLOOD_VOXELS else cavity]))


def spatial_cleanup(lge2d: np.ndarray, myo2d: np.ndarray, min_region_fraction: float,
                    cavity2d: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A-priori rules of ``gmm-pool`` on one slice -> (LGE kept, dark cores filled inside it).

    In-plane (8-connected) components of ``lge2d`` with fewer than ``min_region_fraction`` × the slice's myocardial
    voxels are removed; when the ring encloses a cavity, only components touching the endocardial border (myocardial
    voxels 8-adjacent to the cavity) are kept; then the dark cores enclosed by what is kept are filled (``_mvo_fill``).
    """
    lge = np.asarray(lge2d, bool) & np.asarray(myo2d, bool)
    myo = np.asarray(myo2d, bool)
    if not lge.any():
        return lge, np.zeros_like(lge)
    labels, count = ndimage.label(lge, structure=_EIGHT)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    keep = sizes >= min_region_fraction * np.count_nonzero(myo)
    keep[0] = False
    cavity = lv_cavity(myo) if cavity2d is None else cavity2d
    if cavity.any():
        border = _dilate8(cavity) & myo
        touching = np.zeros(count + 1, bool)
        touching[labels[border]] = True
        keep &= touching
    kept = keep[labels]
    cores = _mvo_fill(kept, myo, cavity)
    return kept, cores


#: in-plane 8-connectivity, through-plane only the voxel directly above / below
_SLICE_STACK = np.zeros((3, 3, 3), bool)
_SLICE_STACK[1] = True
_SLICE_STACK[0, 1, 1] = _SLICE_STACK[2, 1, 1] = True


def remove_single_slice_regions(scar_kji: np.ndarray) -> tuple[np.ndarray, int]:
    """Slice-to-slice consistency of ``gmm-pool``: 3D LGE regions (in-plane 8-connected, through-plane face-connected)
    that lie on one slice only are removed -> (mask, regions removed). An infarct spans several short-axis slices;
    a region on one slice with no LGE directly above or below it is taken as noise or partial volume."""
    scar = np.asarray(scar_kji, bool)
    labels, count = ndimage.label(scar, structure=_SLICE_STACK)
    if count == 0:
        return scar.copy(), 0
    single = np.zeros(count + 1, bool)
    for index, extent in enumerate(ndimage.find_objects(labels), start=1):
        single[index] = extent[0].stop - extent[0].start == 1
    return scar & ~single[labels], int(np.count_nonzero(single))


class _NoBloodPool(ValueError):
    """gmm-pool has no blood-pool reference on any slice (``segment_lge`` then uses ``gmm``, with a warning)."""


@dataclass
class _SliceThreshold:
    threshold: float | None
    status: str
    reference: float | None = None
    refusal: str | None = None
    normal: float | None = None  # gmm-pool: the dark mixture component's mean (automatic normal myocardium)
    blood: float | None = None  # gmm-pool: the blood-pool reference used
    peak: float | None = None  # gmm-pool: the slice's peak myocardial intensity (PEAK_PERCENTILE)


def _remote_free_thresholds(method: str, image, myo, boxes, slices, pool_fraction: float = POOL_FRACTION,
                            blood_fallback: list | None = None, cavities: dict | None = None,
                            peak_fraction: float = PEAK_FRACTION) -> dict:
    """Otsu / Gaussian-mixture thresholds (they do not depend on the remote), all slices at once; for ``gmm-pool``
    the blood pool and the normal-myocardium mean of each slice (threshold with the automatic normal)."""
    values = {k: image[k][boxes[k]][myo[k][boxes[k]]].astype(np.float64) for k in slices}
    if method == "otsu":
        return {k: _SliceThreshold(otsu_threshold(v), "measured") for k, v in values.items()}
    fitted = [k for k in slices if values[k].size >= MIN_GMM_VOXELS and values[k].max() > values[k].min()]
    fits = dict(zip(fitted, fit_two_gaussians_batch([values[k] for k in fitted])))
    if method == "gmm":
        out = {k: _SliceThreshold(None, "unimodal") for k in slices}
        for k, fit in fits.items():
            out[k] = _gmm_outcome(fit)
        return out
    # gmm-pool
    cavities = cavities if cavities is not None else {}
    blood = {k: blood_pool_reference(image[k][boxes[k]], myo[k][boxes[k]], cavities.get(k)) for k in slices}
    with_blood = [k for k in slices if blood[k] is not None]
    if not with_blood:
        raise _NoBloodPool(f"the myocardium encloses no LV cavity of at least {MIN_BLOOD_VOXELS} voxels on any slice")
    out = {}
    for k in slices:
        if blood[k] is None:
            source = min(with_blood, key=lambda u: (abs(u - k), u))
            blood[k] = blood[source]
            if blood_fallback is not None:
                blood_fallback.append((k, source))
        normal = fits[k].mean_dark_au if k in fits else float(np.median(values[k]))
        peak = float(np.percentile(values[k], PEAK_PERCENTILE)) if peak_fraction > 0 else None
        out[k] = _pool_outcome(normal, blood[k], pool_fraction, peak, peak_fraction)
        if out[k].status in ("blood-not-above-myocardium", "peak-threshold") and k in fits:
            # no blood-pool contrast on this slice: the mixture's own threshold (as ``gmm``), if it has one, and not
            # below the peak term
            mixture = _gmm_outcome(fits[k])
            if mixture.threshold is not None:
                threshold = mixture.threshold if out[k].threshold is None else max(mixture.threshold, out[k].threshold)
                out[k] = _SliceThreshold(threshold, "mixture-threshold", blood[k], normal=normal, blood=blood[k],
                                         peak=peak)
    return out


def _pool_outcome(normal: float, blood: float, pool_fraction: float, peak: float | None = None,
                  peak_fraction: float = 0.0) -> _SliceThreshold:
    """gmm-pool's threshold: max(normal + f·(blood − normal), normal + g·(peak − normal)); the peak term only with
    g > 0 and a peak above the normal. A blood pool not brighter than the normal leaves the peak term alone (status
    "peak-threshold"), or no threshold without it."""
    peak_term = (normal + peak_fraction * (peak - normal)
                 if peak_fraction > 0 and peak is not None and peak > normal else None)
    if not blood > normal:
        if peak_term is None:
            return _SliceThreshold(None, "blood-not-above-myocardium", blood, normal=normal, blood=blood, peak=peak)
        return _SliceThreshold(peak_term, "peak-threshold", blood, normal=normal, blood=blood, peak=peak)
    threshold = normal + pool_fraction * (blood - normal)
    if peak_term is not None:
        threshold = max(threshold, peak_term)
    return _SliceThreshold(threshold, "measured", blood, normal=normal, blood=blood, peak=peak)


def _gmm_outcome(fit) -> _SliceThreshold:
    if fit.ashman_d < ASHMAN_D_SEPARATED:
        return _SliceThreshold(None, "unimodal", fit.mean_bright_au)
    threshold = mixture_threshold(fit)
    if threshold is None:
        return _SliceThreshold(None, "unimodal", fit.mean_bright_au)
    return _SliceThreshold(threshold, "measured", fit.mean_bright_au)


def _slice_threshold(method: str, image2d, myo2d, mean: float, sd: float, n_sd: float | None,
                     precomputed: _SliceThreshold | None, user_normal: bool = False,
                     pool_fraction: float = POOL_FRACTION, peak_fraction: float = PEAK_FRACTION) -> _SliceThreshold:
    if precomputed is not None and user_normal and method == "gmm-pool":
        # the user's remote is the normal
        precomputed = _pool_outcome(mean, precomputed.blood, pool_fraction, precomputed.peak, peak_fraction)
    if precomputed is not None:
        if precomputed.threshold is not None and not precomputed.threshold > mean:
            # the split is not normal vs enhanced myocardium: the "bright" class is the normal myocardium
            return _SliceThreshold(None, "threshold-not-above-remote", precomputed.reference)
        return precomputed
    if method == "nsd":
        return _SliceThreshold(mean + n_sd * sd, "measured")
    # fwhm
    bright = myo2d & (image2d >= mean + FWHM_CORE_N_SD * sd)
    if not bright.any():
        return _SliceThreshold(None, "no-hyperenhancement")
    labels, count = ndimage.label(bright, structure=_EIGHT)
    index = np.arange(1, count + 1)
    sizes = ndimage.sum_labels(np.ones_like(image2d), labels, index)
    maxima = np.asarray(ndimage.maximum(image2d, labels, index), dtype=np.float64)
    cores = sizes >= GUARD_MIN_COMPONENT_VOXELS
    if not cores.any():
        return _SliceThreshold(None, "no-hyperenhancement")
    core_max = float(maxima[cores].max())
    threshold = 0.5 * core_max
    if not threshold > mean:
        return _SliceThreshold(None, "refused", core_max,
                               f"half the maximum of the bright core ({core_max:.4g} / 2 = {threshold:.4g}) is not "
                               f"above the remote mean ({mean:.4g})")
    return _SliceThreshold(threshold, "measured", core_max)


@dataclass
class _SliceState:
    remote: np.ndarray | None = None  # own remote (box coordinates), None when unusable
    mean: float = float("nan")
    sd: float = float("nan")
    count: int = 0
    source_slice: int = -1
    reason: str = ""


# ------------------------------------------------------------------------------------- segmentation
def segment_lge(
    array_kji,
    myocardium_mask,
    spacing_mm,
    method: str = DEFAULT_METHOD,
    n_sd: float = 5,
    remote_mask=None,
    min_island_ml: float = 0.0,
    include_mvo: bool = False,
    pool_fraction: float = POOL_FRACTION,
    min_region_fraction: float = MIN_REGION_FRACTION,
    peak_fraction: float = PEAK_FRACTION,
) -> LGEResult:
    """Segment LGE inside ``myocardium_mask`` slice by slice and measure it (rules: module docstring).

    Raises ValueError (inputs are never modified) for mismatched shapes, an empty myocardium, an
    unknown method, n_sd ≤ 0, an empty remote ROI or one outside the myocardium, a remote that is
    unusable on every slice, or a user remote inside the LGE; ``LGEMethodNotApplicable`` (a
    ValueError) when FWHM does not apply.
    """
    image, myo, spacing = _validate(array_kji, myocardium_mask, spacing_mm)
    if method not in METHODS:
        raise ValueError(f"Unknown LGE method {method!r}; choose one of {METHODS}.")
    if not np.isfinite(min_island_ml) or min_island_ml < 0:
        raise ValueError(f"min_island_ml must be ≥ 0; got {min_island_ml}.")
    if isinstance(pool_fraction, bool) or not np.isfinite(pool_fraction) or not 0.0 < pool_fraction < 1.0:
        raise ValueError(f"pool_fraction must be between 0 and 1 (exclusive); got {pool_fraction!r}.")
    if isinstance(min_region_fraction, bool) or not np.isfinite(min_region_fraction) or not 0.0 <= min_region_fraction < 1.0:
        raise ValueError(f"min_region_fraction must be in [0, 1); got {min_region_fraction!r}.")
    if isinstance(peak_fraction, bool) or not np.isfinite(peak_fraction) or not 0.0 <= peak_fraction < 1.0:
        raise ValueError(f"peak_fraction must be in [0, 1) (0: no peak term); got {peak_fraction!r}.")
    warnings: list[str] = []
    n_used = None
    if method == "nsd":
        if isinstance(n_sd, bool) or not np.isfinite(n_sd) or not 0 < n_sd <= MAX_N_SD:
            raise ValueError(f"n_sd must be a number above 0 and at most {MAX_N_SD:g} (published: {PUBLISHED_N_SD}); got "
                             f"{n_sd!r}.")
        n_used = float(n_sd)
        if n_used not in PUBLISHED_N_SD:
            warnings.append(f"n_sd = {n_used:g} is not one of the published choices {PUBLISHED_N_SD}")
    voxel_ml = spacing[0] * spacing[1] * spacing[2] / 1000.0
    spacing_ji = (spacing[1], spacing[0])
    user = None
    if remote_mask is not None:
        user = np.asarray(remote_mask)
        if user.ndim == 2:
            user = user[np.newaxis]
        if user.shape != image.shape:
            raise ValueError(
                f"Remote mask shape {np.shape(remote_mask)} differs from the image shape {np.shape(array_kji)}: "
                "the remote ROI is on another geometry.")
        user = user.astype(bool)
        if not user.any():
            raise ValueError("The remote reference ROI is empty.")
        if not (user & myo).any():
            raise ValueError("The remote reference ROI does not overlap the myocardium.")
        outside = int(np.count_nonzero(user & ~myo))
        if outside:
            warnings.append(f"{outside} remote-ROI voxels outside the myocardium were ignored")

    # All work is on the in-plane bounding box of the myocardium over the stack (+ the per-slice margin): every
    # per-slice box, morphology and labelling below is the same there as on the whole slice, only faster.
    full_shape = image.shape
    crop = (slice(None),) + _box(myo.any(axis=0))
    image, myo = image[crop], myo[crop]
    if user is not None:
        user = user[crop]

    slices = [int(k) for k in np.flatnonzero(myo.any(axis=(1, 2)))]
    boxes = {k: _box(myo[k]) for k in slices}

    states: dict[int, _SliceState] = {}
    lge_box: dict[int, np.ndarray] = {}
    mvo_box: dict[int, np.ndarray] = {}
    results: dict[int, _SliceThreshold] = {}

    blood_fallback: list = []
    cavities = {k: lv_cavity(myo[k][boxes[k]]) for k in slices} if method == "gmm-pool" else {}
    try:
        precomputed = (_remote_free_thresholds(method, image, myo, boxes, slices, pool_fraction, blood_fallback,
                                               cavities, peak_fraction) if method in ("otsu", "gmm", "gmm-pool") else {})
    except _NoBloodPool as reason:
        # a region that is not a ring (e.g. an LGE box in the QA report): the Gaussian mixture without the pool
        result = segment_lge(array_kji, myocardium_mask, spacing_mm, method="gmm", n_sd=n_sd, remote_mask=remote_mask,
                             min_island_ml=min_island_ml, include_mvo=include_mvo)
        return replace(result, warnings=(f"gmm-pool needs the LV blood pool but {reason}: the Gaussian mixture (gmm) "
                                         "was used instead, without the spatial rules",) + result.warnings)
    if blood_fallback:
        warnings.append("No LV cavity of at least " f"{MIN_BLOOD_VOXELS} voxels on slice(s) " +
                        ", ".join(f"{k} (used the blood pool of slice {j})" for k, j in blood_fallback))

    def segment_slice(k: int, mean: float, sd: float, own_user_remote: bool = False):
        box = boxes[k]
        img, m = image[k][box], myo[k][box]
        outcome = _slice_threshold(method, img, m, mean, sd, n_used, precomputed.get(k), own_user_remote,
                                   pool_fraction, peak_fraction)
        lge = m & (img >= outcome.threshold) if outcome.threshold is not None else np.zeros_like(m)
        if method == "gmm-pool":
            lge, mvo = spatial_cleanup(lge, m, min_region_fraction, cavities[k])
            return outcome, lge, mvo
        mvo = _mvo_fill(lge, m) if include_mvo else np.zeros_like(m)
        return outcome, lge, mvo

    for k in slices:
        box = boxes[k]
        img, m = image[k][box], myo[k][box]
        state = _SliceState()
        if user is not None:
            roi = user[k][box] & m
            if np.count_nonzero(roi) >= MIN_USER_REMOTE_VOXELS:
                values = img[roi].astype(np.float64)
                state = _SliceState(roi, float(values.mean()), float(values.std(ddof=1)), int(np.count_nonzero(roi)), k)
                median = float(np.median(img[m]))
                if state.mean > median + 2.0 * state.sd and state.mean > median:
                    raise ValueError(
                        f"The remote reference on slice {k} looks hyperenhanced (mean {state.mean:.4g} > myocardial "
                        f"median {median:.4g} + 2 SD {state.sd:.4g}): the remote ROI is inside the LGE. Choose normal "
                        "myocardium.")
                if method in ("nsd", "fwhm") and not state.sd > 0:
                    state = _SliceState(reason="zero SD")
            else:
                state.reason = "no remote ROI on this slice"
            if state.remote is not None:
                results[k], lge_box[k], mvo_box[k] = segment_slice(k, state.mean, state.sd, True)
            states[k] = state
            continue
        allowed = _eroded(m)
        for attempt in range(GUARD_REPICKS + 1):
            sector = darkest_sector(img, m, allowed, spacing_ji)
            count = int(np.count_nonzero(sector))
            if count < MIN_REMOTE_VOXELS:
                state = _SliceState(reason=f"fewer than {MIN_REMOTE_VOXELS} remote voxels" if attempt == 0 else
                                    "the darkest sectors lay on the LGE and too little myocardium was left")
                break
            values = img[sector].astype(np.float64)
            state = _SliceState(sector, float(values.mean()), float(values.std(ddof=1)), count, k)
            if method in ("nsd", "fwhm") and not state.sd > 0:
                state = _SliceState(reason="zero SD")
                break
            outcome, lge, mvo = segment_slice(k, state.mean, state.sd)
            # gmm-pool's LGE is already cleaned (no specks) with its cores filled: that is the region
            region, cores = (lge | mvo, mvo) if method == "gmm-pool" else _lge_region(lge, m)
            if np.count_nonzero(sector & region) <= GUARD_MAX_FRACTION * count:
                results[k], lge_box[k], mvo_box[k] = outcome, lge, mvo
                break
            allowed = allowed & ~_dilate8(sector | _touching(cores, sector))
            if attempt == GUARD_REPICKS:
                state = _SliceState(reason="every darkest sector lay on the LGE")
        states[k] = state

    usable = [k for k in slices if states[k].remote is not None]
    if not usable:
        reasons = sorted({states[k].reason for k in slices})
        raise ValueError("No slice has usable remote myocardium for the reference (" + "; ".join(reasons) +
                         "). Draw a remote ROI in normal myocardium.")
    fallback = []
    for k in slices:
        if states[k].remote is not None:
            continue
        source = min(usable, key=lambda u: (abs(u - k), u))
        donor = states[source]
        states[k] = _SliceState(None, donor.mean, donor.sd, donor.count, source, states[k].reason)
        results[k], lge_box[k], mvo_box[k] = segment_slice(k, donor.mean, donor.sd)  # automatic normal (no own ROI)
        fallback.append(k)
    if fallback:
        detail = ", ".join(f"{k} ({states[k].reason}; used slice {states[k].source_slice})" for k in fallback)
        warnings.append(f"No usable remote myocardium on slice(s) {detail}")

    refused = [k for k in slices if results[k].refusal]
    if refused:
        detail = "; ".join(f"slice {k}: {results[k].refusal}" for k in refused)
        raise LGEMethodNotApplicable(
            f"FWHM does not apply to this image ({detail}): the image has an intensity offset or no distinct bright "
            "core, so half the maximum would count normal myocardium as LGE. Use the n-SD or Gaussian-mixture method.")

    scar = np.zeros(myo.shape, bool)
    mvo_mask = np.zeros(myo.shape, bool)
    remote_used = np.zeros(myo.shape, bool)
    for k in slices:
        box = boxes[k]
        scar[k][box] = lge_box[k] | mvo_box[k]
        mvo_mask[k][box] = mvo_box[k]
        if states[k].remote is not None:
            remote_used[k][box] = states[k].remote
    single_slice_removed = 0
    if method == "gmm-pool" and len(slices) > 1:
        rows = slice(min(boxes[k][0].start for k in slices), max(boxes[k][0].stop for k in slices))
        columns = slice(min(boxes[k][1].start for k in slices), max(boxes[k][1].stop for k in slices))
        scar[:, rows, columns], single_slice_removed = remove_single_slice_regions(scar[:, rows, columns])
    islands_removed = 0
    if min_island_ml > 0 and scar.any():
        labels, count = ndimage.label(scar, structure=np.ones((3, 3, 3), bool))
        sizes_ml = np.bincount(labels.ravel())[1:] * voxel_ml
        small = np.flatnonzero(sizes_ml < min_island_ml) + 1
        islands_removed = int(small.size)
        if small.size:
            scar &= ~np.isin(labels, small)
    mvo_mask &= scar

    rows = []
    for k in slices:
        n_myo = int(np.count_nonzero(myo[k]))
        n_scar = int(np.count_nonzero(scar[k]))
        state, outcome = states[k], results[k]
        rows.append(SliceLGE(
            slice_index=k, myocardium_ml=n_myo * voxel_ml, lge_ml=n_scar * voxel_ml,
            lge_percent=100.0 * n_scar / n_myo,
            threshold_au=None if outcome.threshold is None else float(outcome.threshold),
            remote_mean_au=state.mean, remote_sd_au=state.sd, remote_voxel_count=state.count,
            remote_slice_index=state.source_slice, status=outcome.status,
            reference_au=None if outcome.reference is None else float(outcome.reference),
            mvo_ml=float(np.count_nonzero(mvo_mask[k]) * voxel_ml)))
    myo_ml = float(np.count_nonzero(myo) * voxel_ml)
    lge_ml = float(np.count_nonzero(scar) * voxel_ml)
    percent = 100.0 * lge_ml / myo_ml
    below = [r.slice_index for r in rows if r.status == "threshold-not-above-remote"]
    if below:
        warnings.append(f"On slice(s) {', '.join(map(str, below))} the {method} threshold is not above the remote mean "
                        "(no separate enhanced class): no LGE counted there")
    dull = [r.slice_index for r in rows if r.status == "blood-not-above-myocardium"]
    if dull:
        warnings.append(f"On slice(s) {', '.join(map(str, dull))} the LV blood pool is not brighter than the normal "
                        "myocardium and the mixture has no separate bright class: no LGE counted there")
    mixture = [r.slice_index for r in rows if r.status == "mixture-threshold"]
    if mixture:
        warnings.append(f"On slice(s) {', '.join(map(str, mixture))} the LV blood pool is not brighter than the normal "
                        "myocardium: the Gaussian mixture's threshold (the peak-referenced one where higher) was used "
                        "there")
    peak_only = [r.slice_index for r in rows if r.status == "peak-threshold"]
    if peak_only:
        warnings.append(f"On slice(s) {', '.join(map(str, peak_only))} the LV blood pool is not brighter than the normal "
                        "myocardium: only the peak-referenced threshold was used there")
    if single_slice_removed:
        warnings.append(f"{single_slice_removed} LGE region(s) found on one slice only (no LGE directly above or below) "
                        "were removed")
    if lge_ml == 0.0:
        warnings.append(_no_lge_reason(method, rows))
    elif percent >= 90.0:
        warnings.append(f"LGE covers {percent:.0f}% of the myocardium: check the remote reference and the method")
    method_name = {"nsd": f"nsd-{n_used:g}" if n_used is not None else "nsd", "fwhm": "fwhm-per-slice",
                   "otsu": "otsu-per-slice", "gmm": "gmm-per-slice", "gmm-pool": "gmm-pool-per-slice"}[method]
    scar, remote_used, mvo_mask = (_uncrop(mask, full_shape, crop) for mask in (scar, remote_used, mvo_mask))
    if np.ndim(array_kji) == 2:
        scar, remote_used, mvo_mask = scar[0], remote_used[0], mvo_mask[0]
    return LGEResult(
        method=method_name, n_sd=n_used, scar_mask=scar, lge_ml=lge_ml, myocardium_ml=myo_ml,
        lge_percent_of_lv=percent, per_slice=tuple(rows), islands_removed=islands_removed,
        mvo_included_ml=float(np.count_nonzero(mvo_mask) * voxel_ml),
        remote_source="user" if user is not None else AUTO_REMOTE_SOURCE,
        remote_voxel_count=int(np.count_nonzero(remote_used)), remote_mask=remote_used, mvo_mask=mvo_mask,
        remote_fallback_slices=tuple(fallback), warnings=tuple(warnings))


def _uncrop(mask: np.ndarray, shape: tuple, crop: tuple) -> np.ndarray:
    """``mask`` (on the ``crop`` of a volume of ``shape``) on the whole volume, False outside the crop."""
    out = np.zeros(shape, bool)
    out[crop] = mask
    return out


def _no_lge_reason(method: str, rows) -> str:
    if method == "gmm-pool":
        return ("No LGE found: no myocardial region above the blood-pool-referenced threshold both touches the "
                "endocardium and continues on a neighbouring slice (small isolated regions removed)")
    if method == "gmm":
        return ("No LGE found: the myocardial intensities are unimodal on every slice (Gaussian mixture with "
                "Ashman's D < 2: no separate bright class)")
    if method == "fwhm":
        return f"No LGE found: no hyperenhanced core (voxels ≥ remote mean + {FWHM_CORE_N_SD:g} SD) on any slice"
    if method == "nsd":
        return "No LGE found: no myocardial voxel reaches the n-SD threshold on any slice"
    return "No LGE found: no myocardial voxel reaches the threshold on any slice"
