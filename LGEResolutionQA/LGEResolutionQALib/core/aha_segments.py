"""AHA 16/17-segment model of the LV from a short-axis myocardium mask, per-segment LGE and transmurality
(core: numpy/scipy).

Model (Cerqueira et al., Circulation 2002, the AHA standardised myocardial segmentation):

* Levels: the slices whose myocardium is a closed ring (it encloses an LV cavity) are split, base to
  apex, into basal, mid and apical thirds by slice count (``numpy.array_split``: a longer third is
  basal). In the 17-segment model, slices at the apical end whose myocardium encloses no cavity are
  the apex (segment 17); the 16-segment model leaves them out (a warning says so). A slice without a
  closed ring anywhere else (an open basal ring, a gap in the mask) is an error naming the slice.
* Which end is the base: ``base_end`` "first" / "last" (slice index order), or "auto" — the end
  whose outer third of ring slices has the larger mean cavity area (the LV narrows towards the apex).
* Angles: in the slice plane (RAS, mm), about each slice's LV centre (the centroid of its cavity;
  of its myocardium for the apex). 0° is the direction from the LV centre of the slice nearest to
  the anterior RV insertion point to that point (projected into the plane); angles increase towards
  the septum. The sense of rotation comes from the inferior RV insertion point when it is given
  (the septum is the shorter arc between the two insertion points), otherwise from anatomy: the
  mid-septum (60° from the anterior insertion) faces the patient's right (+R in RAS) more than the
  opposite choice does. For unusual anatomy (dextrocardia) give the inferior insertion point.
* Sectors: basal and mid (60° each from the anterior insertion point, i.e. a 120° septum):
  [0, 60) anteroseptal, [60, 120) inferoseptal, [120, 180) inferior, [180, 240) inferolateral,
  [240, 300) anterolateral, [300, 360) anterior. Apical (90° each, the septal one centred on the
  mid-septum at 60°): [15, 105) septal, [105, 195) inferior, [195, 285) lateral, [285, 375) anterior.

Per segment: myocardial and LGE volume (mL; voxel volume from the IJK->RAS matrix) and LGE % of the
segment. Transmurality (docs/METHODS.md §2.4): along radial lines from the LV centre every ``ray_step_deg``
in the plane, sampled every quarter of the smallest pixel spacing (nearest voxel), the scar chord
is the length inside the LGE, the wall chord the length inside the myocardium (both counting only
the voxels of the line's own segment); a line's
transmurality = scar / wall × 100, and a segment's the mean over its lines on all its slices. The
apex (17) has no radial wall: its transmurality is its LGE % of area. Classes: "0%", "1-25%",
"26-50%", "51-75%", "76-100%" (the viability classes; 0 < t ≤ 25 is "1-25%").
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar

import numpy as np

from LGEResolutionQALib.core.lge_segmentation import lv_cavity

SEGMENT_NAMES = {
    1: "basal anterior", 2: "basal anteroseptal", 3: "basal inferoseptal", 4: "basal inferior",
    5: "basal inferolateral", 6: "basal anterolateral", 7: "mid anterior", 8: "mid anteroseptal",
    9: "mid inferoseptal", 10: "mid inferior", 11: "mid inferolateral", 12: "mid anterolateral",
    13: "apical anterior", 14: "apical septal", 15: "apical inferior", 16: "apical lateral", 17: "apex",
}
# (start angle of the first sector, sector width, segment numbers in the order of increasing angle)
LEVEL_SECTORS = {
    "basal": (0.0, 60.0, (2, 3, 4, 5, 6, 1)),
    "mid": (0.0, 60.0, (8, 9, 10, 11, 12, 7)),
    "apical": (15.0, 90.0, (14, 15, 16, 13)),
}
TRANSMURALITY_CLASSES = ("0%", "1-25%", "26-50%", "51-75%", "76-100%")
MODELS = (16, 17)


def transmurality_class(percent: float | None) -> str:
    """The viability class of a transmurality (%); "" for None."""
    if percent is None:
        return ""
    if not np.isfinite(percent) or percent < 0 or percent > 100.0 + 1e-9:
        raise ValueError(f"Transmurality must be within 0-100%; got {percent}.")
    if percent == 0:
        return TRANSMURALITY_CLASSES[0]
    for bound, name in zip((25.0, 50.0, 75.0), TRANSMURALITY_CLASSES[1:4]):
        if percent <= bound:
            return name
    return TRANSMURALITY_CLASSES[4]


@dataclass(frozen=True)
class SegmentLGE:
    """One AHA segment. LGE fields are None when no LGE mask was given."""

    segment: int
    name: str
    level: str
    slice_indices: tuple[int, ...]
    myocardium_ml: float
    lge_ml: float | None
    lge_percent: float | None
    transmurality_percent: float | None
    transmurality_class: str
    ray_count: int

    ROW_UNITS: ClassVar[dict] = {
        "segment": "", "name": "", "level": "", "slice_indices": "", "myocardium_ml": "mL", "lge_ml": "mL",
        "lge_percent": "%", "transmurality_percent": "%", "transmurality_class": "", "ray_count": "count",
    }

    def as_row(self) -> dict:
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        row["slice_indices"] = " ".join(str(k) for k in self.slice_indices)
        return row


@dataclass(frozen=True, eq=False)
class AHAResult:
    """Result of ``aha_segments``: the segments (in number order), a label map [k, j, i] with the
    segment number of every myocardial voxel (0 elsewhere), each slice's level, and how the
    reference was set."""

    model: int
    segments: tuple[SegmentLGE, ...]
    segment_map: np.ndarray = field(repr=False)
    slice_levels: tuple[tuple[int, str], ...]
    base_end: str
    rotation_source: str
    reference_slice_index: int
    warnings: tuple[str, ...] = ()

    def segment(self, number: int) -> SegmentLGE:
        for item in self.segments:
            if item.segment == number:
                return item
        raise KeyError(number)

    def rows(self) -> list[dict]:
        return [s.as_row() for s in self.segments]


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    if norm < 1e-12:
        raise ValueError("Degenerate direction (zero length).")
    return v / norm


def _geometry(ijk_to_ras):
    matrix = np.asarray(ijk_to_ras, dtype=np.float64)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)) or abs(np.linalg.det(matrix[:3, :3])) < 1e-12:
        raise ValueError("ijk_to_ras must be an invertible 4x4 matrix.")
    normal = _unit(np.cross(matrix[:3, 0], matrix[:3, 1]))
    return matrix, normal


def _to_ras(matrix, k, j, i) -> np.ndarray:
    """RAS of voxel indices (arrays of equal length) -> (N, 3)."""
    ijk = np.stack([np.asarray(i, float), np.asarray(j, float), np.full(np.shape(i), float(k)) if np.ndim(k) == 0
                    else np.asarray(k, float)], axis=-1)
    return ijk @ matrix[:3, :3].T + matrix[:3, 3]


def _check_point(point, what: str) -> np.ndarray:
    if point is None:
        raise ValueError(f"The AHA segments need the {what} (a point in RAS mm): place it on the image.")
    value = np.asarray(point, dtype=np.float64).ravel()
    if value.shape != (3,) or not np.all(np.isfinite(value)):
        raise ValueError(f"The {what} must be three finite RAS coordinates (mm); got {point!r}.")
    return value


def _check_on_image(point: np.ndarray, matrix: np.ndarray, shape_kji, what: str) -> None:
    """ValueError unless ``point`` (RAS) lies within the image's voxel extent (a point placed on the image)."""
    ijk = (np.linalg.inv(matrix) @ np.append(point, 1.0))[:3]
    upper = np.array([shape_kji[2], shape_kji[1], shape_kji[0]], dtype=float) - 0.5
    if np.all(ijk >= -0.5 - 1e-6) and np.all(ijk <= upper + 1e-6):
        return
    raise ValueError(
        f"The {what}, RAS ({point[0]:.4g}, {point[1]:.4g}, {point[2]:.4g}) mm = voxel (i, j, k) ({ijk[0]:.4g}, "
        f"{ijk[1]:.4g}, {ijk[2]:.4g}), is outside the image (i 0-{shape_kji[2] - 1}, j 0-{shape_kji[1] - 1}, k "
        f"0-{shape_kji[0] - 1}): place it on the image where the RV wall meets the septum (voxel indices go to "
        "--rv-insertion-ijk, Slicer's RAS coordinates to --rv-insertion).")


def aha_segments(
    myocardium_mask,
    ijk_to_ras,
    rv_insertion_ras,
    lge_mask=None,
    model: int = 17,
    inferior_rv_insertion_ras=None,
    base_end: str = "auto",
    ray_step_deg: float = 1.0,
) -> AHAResult:
    """AHA segments of ``myocardium_mask`` [k, j, i] (short-axis stack), with per-segment LGE and
    transmurality when ``lge_mask`` is given (see the module docstring).

    Raises ValueError (clear message) for: no or non-finite RV insertion point, an RV point at the
    LV centre, mismatched shapes, an empty myocardium, fewer than 3 slices with a closed ring, a slice
    without a closed ring that is not at the apical end, an unknown model or base_end, LGE outside
    the myocardium.
    """
    if model not in MODELS:
        raise ValueError(f"The AHA model must be 16 or 17 segments; got {model!r}.")
    if base_end not in ("auto", "first", "last"):
        raise ValueError(f"base_end must be 'auto', 'first' or 'last'; got {base_end!r}.")
    if not (np.isfinite(ray_step_deg) and 0 < ray_step_deg <= 30):
        raise ValueError(f"ray_step_deg must be in (0, 30]; got {ray_step_deg}.")
    anterior = _check_point(rv_insertion_ras, "anterior RV insertion point")
    inferior = None if inferior_rv_insertion_ras is None else _check_point(
        inferior_rv_insertion_ras, "inferior RV insertion point")
    myo = np.asarray(myocardium_mask)
    if myo.ndim == 2:
        myo = myo[np.newaxis]
    if myo.ndim != 3:
        raise ValueError(f"The myocardium mask must be 3D [k, j, i]; got shape {np.shape(myocardium_mask)}.")
    myo = myo.astype(bool)
    if not myo.any():
        raise ValueError("No myocardium: the myocardium mask is empty.")
    lge = None
    if lge_mask is not None:
        lge = np.asarray(lge_mask)
        if lge.ndim == 2:
            lge = lge[np.newaxis]
        if lge.shape != myo.shape:
            raise ValueError(f"LGE mask shape {np.shape(lge_mask)} differs from the myocardium shape {myo.shape}.")
        lge = lge.astype(bool)
        if (lge & ~myo).any():
            raise ValueError("The LGE mask has voxels outside the myocardium.")
    matrix, normal = _geometry(ijk_to_ras)
    voxel_ml = abs(float(np.linalg.det(matrix[:3, :3]))) / 1000.0
    warnings: list[str] = []

    slices = [int(k) for k in np.flatnonzero(myo.any(axis=(1, 2)))]
    cavities = {k: lv_cavity(myo[k]) for k in slices}
    ring = [k for k in slices if cavities[k].any()]
    capped = [k for k in slices if not cavities[k].any()]
    if len(ring) < 3:
        raise ValueError(f"The AHA model needs at least 3 slices whose myocardium is a closed ring; found {len(ring)}.")
    order = _base_to_apex(ring, cavities, base_end)
    base_is_first = order[0] == min(ring)
    # open slices: allowed only beyond the apical end of the ring slices
    apex_side = [k for k in capped if (k > max(ring) if base_is_first else k < min(ring))]
    bad = sorted(set(capped) - set(apex_side))
    if bad:
        raise ValueError(
            f"The myocardium on slice(s) {', '.join(map(str, bad))} is not a closed ring (it encloses no LV cavity) "
            "and is not at the apex: close the ring (or remove those slices from the myocardium) to use the AHA model.")
    thirds = np.array_split(np.array(order), 3)
    levels = {}
    for name, part in zip(("basal", "mid", "apical"), thirds):
        for k in part:
            levels[int(k)] = name
    for k in apex_side:
        levels[k] = "apex"
    if apex_side and model == 16:
        warnings.append(f"Slice(s) {', '.join(map(str, sorted(apex_side)))} (apical cap, no cavity) are not part of "
                        "the 16-segment model")

    # LV centres (RAS) per slice
    centres = {}
    for k in slices:
        region = cavities[k] if k in ring else myo[k]
        jj, ii = np.nonzero(region)
        centres[k] = _to_ras(matrix, k, [jj.mean()], [ii.mean()])[0]
    for what, point in (("anterior RV insertion point", anterior), ("inferior RV insertion point", inferior)):
        if point is not None:
            _check_on_image(point, matrix, myo.shape, what)
    # reference direction from the slice nearest to the anterior insertion point
    ras_to_ijk = np.linalg.inv(matrix)
    k_point = float((ras_to_ijk @ np.append(anterior, 1.0))[2])
    reference_slice = min(ring, key=lambda k: (abs(k - k_point), k))
    u = anterior - centres[reference_slice]
    u = u - np.dot(u, normal) * normal
    if np.linalg.norm(u) < 1e-3:
        raise ValueError("The anterior RV insertion point lies at the LV centre: place it where the RV wall meets the "
                         "septum (anterior junction).")
    u = _unit(u)
    v = np.cross(normal, u)
    sense, rotation_source = _rotation_sense(u, v, normal, anterior, inferior, centres[reference_slice])
    v = sense * v

    segment_map = np.zeros(myo.shape, dtype=np.int16)
    rays: dict[int, list[float]] = {n: [] for n in SEGMENT_NAMES}
    segment_slices: dict[int, set] = {n: set() for n in SEGMENT_NAMES}
    spacing = np.linalg.norm(matrix[:3, :3], axis=0)
    step_mm = 0.25 * float(min(spacing[0], spacing[1]))
    for k in slices:
        level = levels[k]
        if level == "apex" and model == 16:
            continue
        jj, ii = np.nonzero(myo[k])
        if level == "apex":
            segment_map[k, jj, ii] = 17
            segment_slices[17].add(k)
            continue
        offsets = _to_ras(matrix, k, jj, ii) - centres[k]
        angle = np.degrees(np.arctan2(offsets @ v, offsets @ u)) % 360.0
        numbers = _sector_numbers(level, angle)
        segment_map[k, jj, ii] = numbers
        for n in np.unique(numbers):
            segment_slices[int(n)].add(k)
        if lge is not None:
            for n, value in _ray_transmurality(segment_map[k], lge[k], k, matrix, ras_to_ijk, centres[k], u, v,
                                               level, ray_step_deg, step_mm):
                rays[n].append(value)

    numbers = [n for n in range(1, 18) if n <= 16 or model == 17]
    segments = []
    for n in numbers:
        in_segment = segment_map == n
        n_myo = int(in_segment.sum())
        level = "apex" if n == 17 else ("basal" if n <= 6 else "mid" if n <= 12 else "apical")
        if n_myo == 0:
            warnings.append(f"Segment {n} ({SEGMENT_NAMES[n]}) has no myocardium")
        lge_ml = lge_percent = transmurality = None
        if lge is not None:
            n_lge = int((in_segment & lge).sum())
            lge_ml = n_lge * voxel_ml
            lge_percent = 100.0 * n_lge / n_myo if n_myo else None
            if n == 17:
                transmurality = lge_percent
            elif rays[n]:
                transmurality = float(np.mean(rays[n]))
        segments.append(SegmentLGE(
            segment=n, name=SEGMENT_NAMES[n], level=level, slice_indices=tuple(sorted(segment_slices[n])),
            myocardium_ml=n_myo * voxel_ml, lge_ml=lge_ml, lge_percent=lge_percent,
            transmurality_percent=transmurality, transmurality_class=transmurality_class(transmurality),
            ray_count=len(rays[n])))
    return AHAResult(model=model, segments=tuple(segments), segment_map=segment_map,
                     slice_levels=tuple((k, levels[k]) for k in slices),
                     base_end="first" if base_is_first else "last", rotation_source=rotation_source,
                     reference_slice_index=reference_slice, warnings=tuple(warnings))


def _base_to_apex(ring: list[int], cavities: dict, base_end: str) -> list[int]:
    ascending = sorted(ring)
    if base_end == "first":
        return ascending
    if base_end == "last":
        return ascending[::-1]
    third = max(1, len(ascending) // 3)
    first = np.mean([cavities[k].sum() for k in ascending[:third]])
    last = np.mean([cavities[k].sum() for k in ascending[-third:]])
    return ascending if first >= last else ascending[::-1]


def _rotation_sense(u, v, normal, anterior, inferior, centre) -> tuple[float, str]:
    if inferior is not None:
        w = inferior - centre
        w = w - np.dot(w, normal) * normal
        if np.linalg.norm(w) < 1e-3:
            raise ValueError("The inferior RV insertion point lies at the LV centre.")
        angle = np.degrees(np.arctan2(np.dot(w, v), np.dot(w, u)))
        if abs(angle) < 1e-6 or abs(abs(angle) - 180.0) < 1e-6:
            raise ValueError("The two RV insertion points are in line with the LV centre: the septal side is ambiguous.")
        return (1.0 if angle > 0 else -1.0), "inferior RV insertion point"
    right = np.array([1.0, 0.0, 0.0])
    rad = np.radians(60.0)
    plus = np.cos(rad) * u + np.sin(rad) * v
    minus = np.cos(rad) * u - np.sin(rad) * v
    return (1.0 if np.dot(plus, right) >= np.dot(minus, right) else -1.0), "septum faces the patient's right (RAS +R)"


def _sector_numbers(level: str, angle_deg: np.ndarray) -> np.ndarray:
    start, width, numbers = LEVEL_SECTORS[level]
    index = (((np.asarray(angle_deg) - start) % 360.0) // width).astype(int) % len(numbers)
    return np.asarray(numbers)[index]


def _ray_transmurality(segments2d, lge2d, k, matrix, ras_to_ijk, centre, u, v, level, step_deg, step_mm):
    """(segment number, transmurality %) of every radial line with wall on slice k; a line counts only
    the voxels of its own segment (a line along a border does not borrow its neighbour's scar)."""
    jj, ii = np.nonzero(segments2d)
    corners = _to_ras(matrix, k, [jj.min(), jj.min(), jj.max(), jj.max()], [ii.min(), ii.max(), ii.min(), ii.max()])
    reach = float(np.max(np.linalg.norm(corners - centre, axis=1))) + 2.0 * step_mm * 4
    distances = np.arange(0.0, reach, step_mm)
    angles = np.arange(0.0, 360.0, step_deg)
    rad = np.radians(angles)
    directions = np.cos(rad)[:, None] * u + np.sin(rad)[:, None] * v  # (A, 3)
    points = centre + directions[:, None, :] * distances[None, :, None]  # (A, D, 3)
    ijk = points @ ras_to_ijk[:3, :3].T + ras_to_ijk[:3, 3]
    i = np.rint(ijk[..., 0]).astype(int)
    j = np.rint(ijk[..., 1]).astype(int)
    inside = (i >= 0) & (i < segments2d.shape[1]) & (j >= 0) & (j < segments2d.shape[0])
    i, j = np.clip(i, 0, segments2d.shape[1] - 1), np.clip(j, 0, segments2d.shape[0] - 1)
    numbers = _sector_numbers(level, angles)
    wall = (segments2d[j, i] == numbers[:, None]) & inside
    scar = lge2d[j, i] & wall
    wall_count = wall.sum(axis=1)
    scar_count = scar.sum(axis=1)
    keep = wall_count > 0
    return [(int(n), 100.0 * float(s) / float(w)) for n, s, w in zip(numbers[keep], scar_count[keep], wall_count[keep])]
