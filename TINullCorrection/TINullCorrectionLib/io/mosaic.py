"""Reading a phone photo of the console's mosaic of TI-scout frames: tiles and their TIs -> a TIScout.

Steps (our method; measured in benchmarks/bench_phone.py):

1. *Grid.* The photo is reduced to at most ``grid_long_side_px`` pixels; thin horizontal and vertical ridges
   (second derivatives of the smoothed image above an adaptive threshold) are found in the luminance and, for a
   colour photo, in two opponent-colour channels (a coloured border on a grey tile of the same brightness), and
   the standard Hough transform gives the straight lines of each family (tilt up to 12 degrees) that run
   continuously across the grid. The viewport borders of a mosaic are a regular lattice (the same spacing,
   gently foreshortened by the perspective); the largest set of lines on such a lattice is kept (RANSAC over
   pairs of lines and their index difference), and for each index the line that makes the smoothest lattice
   (leave-one-out residuals from a parabola) and runs most continuously, so edges of the viewer's panels and
   rows of annotations are ignored. Where no plausible grid results (inside the photo, cells between half and
   twice as wide as high), the ridges are found again with a lower threshold, then at twice the scale. Consoles
   draw a border (line or gap) around every viewport, the outer ones included: the outermost lattice lines
   bound the grid. An outer border is often only a step (a Philips-like dark gap against a viewer of the same
   grey), so the lattice is completed at its ends (:func:`_outer_lines`: a missed outer border added where a step
   is and the band it closes shows tiles; an end line off its neighbours' lattice, the toolbar's or the monitor's
   edge, brought back to the border; where an end line should be is a least-squares parabola through its four
   neighbours, following the perspective), lattices whose lines are not steps all along are set aside
   (:func:`_regular_borders`), and of the plausible grids the one with the most near-square cells is taken; a
   pass whose best grid has cells not near-square (a lattice that skipped a faint border: cells twice as high as
   wide) does not end the search. Siemens-like inner borders can be 1-pixel lines a few levels above the tiles'
   background, invisible to the ridge maps: a lattice of text edges between strong outer edges (inner lines
   hardly a step) has its inner lines moved to the thin ridges that run all along beside them
   (:func:`_faint_inner_borders`, :func:`_ridge_along`), and a family that gives no regular lattice at all is
   looked for between its strong outer lines, divided at the other family's spacing, every inner border verified
   by its ridge (:func:`_divided_frame`).
2. *Tiles.* Every cell's four corners are the intersections of its border lines; the cell is warped to a
   rectangle (perspective-corrected) from the full-resolution photo, slightly inset so that the border
   itself is not part of the frame. Cells whose centre shows nothing (std < ``empty_std``) are empty viewports.
3. *Glare.* At the edges of every frame is air (black on a magnitude frame, zero-signal grey on a
   phase-sensitive one: one display level on every tile of the series), so its level in the photo is the
   black level + the local glare. Pieces of a band just inside each tile's edges (text and anatomy left out)
   give samples of it; a smoothing thin-plate spline of the samples over the whole grid gives the glare under
   every pixel of every tile, and each tile is corrected by its difference from the median level (additive
   light, our choice; :func:`glare_fields`). The thin border lines between the viewports are not used: 1-3
   photo pixels wide, they pick up the frames beside them.
4. *TIs.* Text lines in the four corner regions of each tile are found by a top-hat + closing; the
   recogniser (io/ocr.py) reads those of the first tiles to learn where the TI is printed, then that line
   in every tile (others only where it fails). TIs must increase in reading order (left to right, top to
   bottom); a text that can mean more than one number ('T1361': TI 361, or TI 1361 with the I lost) gives them
   all, and the progression chooses (with a warning); a value off the tiles' own progression is replaced by the value interpolated from its
   neighbours and flagged "estimated", as are values that could not be read. Without enough readable TIs,
   the user's first TI and spacing give them (``first_ti_ms`` + k x ``spacing_ms``).
5. *Scout.* The tiles (text lines blanked) become the frames of a TIScout (screen capture, magnitude);
   pixel spacing = ``field_of_view_mm`` / tile width (a photo carries none; default 340 mm, the middle of
   the simulator's 280-400 mm).

OpenCV (``cv2``) is imported only when a photo is read, so Slicer can load this file without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from TINullCorrectionLib.core.types import ScoutError, TIScout

DEFAULT_FIELD_OF_VIEW_MM = 340.0


class MosaicError(ScoutError):
    """The photo does not show a readable mosaic (clear message for the user)."""


@dataclass(frozen=True)
class MosaicSettings:
    grid_long_side_px: int = 1400
    tile_px: int = 192
    text_tile_px: int = 384
    field_of_view_mm: float = DEFAULT_FIELD_OF_VIEW_MM
    empty_std: float = 4.0
    min_tiles: int = 3
    calibration_tiles: int = 1
    glare_correction: bool = True

    def __post_init__(self) -> None:
        if not 50.0 <= self.field_of_view_mm <= 600.0:
            raise ValueError(f"field_of_view_mm must be 50-600 mm; got {self.field_of_view_mm}.")


@dataclass(frozen=True)
class TileReading:
    """One tile of the mosaic: where it is in the photo and what its TI is.

    corners_px: [4, 2] photo pixels (x, y) of the tile's image: top-left, top-right, bottom-right, bottom-left.
    ti_source: "ocr" (read), "estimated" (interpolated from the neighbours: check it), "user", "spacing"
    (first TI + k x spacing), or "" (no TI yet).
    """

    index: int
    row: int
    column: int
    corners_px: np.ndarray
    ti_ms: float | None = None
    ti_source: str = ""
    text: str = ""
    text_score: float = 0.0

    def as_dict(self) -> dict:
        return {"index": self.index, "row": self.row, "column": self.column,
                "corners_px": [[float(x), float(y)] for x, y in self.corners_px],
                "ti_ms": None if self.ti_ms is None else float(self.ti_ms), "ti_source": self.ti_source,
                "text": self.text, "text_score": float(self.text_score)}


@dataclass(frozen=True)
class MosaicReading:
    """Tiles found in a mosaic photo, their TIs and the TIScout they make (None until every tile has a TI)."""

    tiles: tuple[TileReading, ...]
    rows: int
    columns: int
    image_size_px: tuple[int, int]          # (width, height) of the photo as read
    frames: np.ndarray                      # [n_tiles, tile_px, tile_px] float32 display levels, glare-corrected
    scout: TIScout | None
    warnings: tuple[str, ...] = ()
    ocr_name: str = ""
    text_boxes: tuple = field(default=(), repr=False)

    @property
    def ti_ms(self) -> list[float | None]:
        return [t.ti_ms for t in self.tiles]

    def to_dict(self) -> dict:
        return {"rows": self.rows, "columns": self.columns, "n_tiles": len(self.tiles),
                "image_size_px": list(self.image_size_px), "tiles": [t.as_dict() for t in self.tiles],
                "ti_read_by": self.ocr_name, "warnings": list(self.warnings)}


# ----------------------------------------------------------------------------------------- the grid
@dataclass(frozen=True)
class _Line:
    """x = a + b y (vertical family) or y = a + b x (horizontal family), in grid-image pixels."""

    a: float
    b: float
    strength: float
    coverage: float = 1.0   # fraction of the line's middle 70% on ridge pixels (a border ~1, a row of text less)

    def at(self, t: float) -> float:
        return self.a + self.b * t


def _grey(image: np.ndarray) -> np.ndarray:
    """Luminance (ITU-R BT.601) float32 of a grey or RGB photo (uint8 RGB by OpenCV: one pass, no float copy)."""
    array = np.asarray(image)
    if array.ndim == 3 and array.dtype == np.uint8 and array.shape[2] >= 3:
        import cv2

        return cv2.cvtColor(np.ascontiguousarray(array[..., :3]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    if array.ndim == 3:
        array = array[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.asarray(array, dtype=np.float32)


def _ridge_maps(grey_small: np.ndarray, factor: float = 3.0, sigma_px: float = 1.0,
                smoothed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Binary maps of thin horizontal and vertical ridges (bright or dark lines: a viewport border on any
    background): |d2/dy2| - |d2/dx2| (and the reverse) of the image smoothed by ``sigma_px`` above an adaptive
    threshold (``factor`` x the median second-derivative magnitude, at least 6 levels / sigma^2). ``smoothed``: the
    image already smoothed by ``sigma_px``, where the caller has it."""
    import cv2

    if smoothed is None:
        smoothed = cv2.GaussianBlur(grey_small.astype(np.float32), (0, 0), sigma_px)
    d2x = cv2.Sobel(smoothed, cv2.CV_32F, 2, 0, ksize=3)
    d2y = cv2.Sobel(smoothed, cv2.CV_32F, 0, 2, ksize=3)
    horizontal = np.abs(d2y) - np.abs(d2x)
    threshold = max(6.0 / sigma_px ** 2, factor * float(np.median(np.abs(d2x[::3, ::3]) + np.abs(d2y[::3, ::3]))))
    return (horizontal > threshold).astype(np.uint8), (-horizontal > threshold).astype(np.uint8)


def _grid_channels(small: np.ndarray) -> list[np.ndarray]:
    """The channels in which viewport borders are looked for: luminance, and for a colour photo the two
    opponent colours (blue - yellow, red - green). A coloured border on a grey tile of the same brightness (a
    phase-sensitive scout's mid-grey background) has no luminance contrast but a strong colour one; grey
    image content and the camera's moire (the same modulation in every channel) have none."""
    if small.ndim == 2:
        return [small]
    rgb = small[..., :3].astype(np.float32)
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    return [luma, rgb[..., 2] - 0.5 * (rgb[..., 0] + rgb[..., 1]), rgb[..., 0] - rgb[..., 1]]


def _hough_family(binary: np.ndarray, vertical: bool, max_tilt_deg: float = 12.0, max_lines: int = 60) -> list[_Line]:
    """Straight lines of one family (standard Hough transform, votes = ridge pixels along the whole line, so
    broken or faint borders still count), non-maximum suppressed, as _Line (x = a + b y or y = a + b x)."""
    import cv2

    votes_needed = int(0.25 * min(binary.shape))
    tilt = np.radians(max_tilt_deg)
    ranges = [(0.0, tilt), (np.pi - tilt, np.pi)] if vertical else [(np.pi / 2 - tilt, np.pi / 2 + tilt)]
    found = []
    for low, high in ranges:
        lines = cv2.HoughLinesWithAccumulator(binary, 1, np.pi / 720, votes_needed, min_theta=low, max_theta=high)
        if lines is not None:
            found.append(np.asarray(lines, dtype=float).reshape(-1, 3))
    if not found:
        return []
    candidates = np.concatenate(found)
    candidates = candidates[np.argsort(-candidates[:, 2])][:400]
    height, width = binary.shape
    centre, span = (height / 2.0, height) if vertical else (width / 2.0, width)
    extent = width if vertical else height
    dilated = cv2.dilate(binary, np.ones((1, 3) if vertical else (3, 1), np.uint8))
    t = np.linspace(0.15 * span, 0.85 * span, 200)
    rows_px, cols_px = np.nonzero(binary)
    u, v = (rows_px, cols_px) if vertical else (cols_px, rows_px)
    u, v = u.astype(np.float32), v.astype(np.float32)
    kept: list[_Line] = []
    for rho, theta, votes in candidates:
        if vertical:   # x cos t + y sin t = rho  ->  x = rho / cos t - y tan t
            line = _Line(rho / np.cos(theta), -np.tan(theta), float(votes))
        else:          # y = rho / sin t - x cot t
            line = _Line(rho / np.sin(theta), -np.cos(theta) / np.sin(theta), float(votes))
        if any(abs(line.at(centre) - other.at(centre)) < max(3.0, 0.004 * extent) for other in kept):
            continue
        # a viewport border is continuous; a row of annotations or anatomy edges is not
        position = np.round(line.a + line.b * t).astype(int)
        inside = (position >= 0) & (position < extent)
        along = t.astype(int)[inside]
        hits = dilated[along, position[inside]] if vertical else dilated[position[inside], along]
        coverage = float(hits.mean()) if hits.size else 0.0
        if coverage < 0.5:
            continue
        line = _refine_line(line, u, v, 0.004 * extent)
        kept.append(_Line(line.a, line.b, float(votes) * coverage, coverage))
        if len(kept) >= max_lines:
            break
    return kept


def _refine_line(line: _Line, u: np.ndarray, v: np.ndarray, window: float) -> _Line:
    """Least-squares line through the ridge pixels (u, v) within ``window`` (then half of it) of ``line``: the
    Hough peak is only within a bin of the border, and a tilted border meets annotations at one end."""
    a, b = line.a, line.b
    band = np.abs(v - (a + b * u)) <= 2.0 * max(window, 1.5)
    u, v = u[band], v[band]
    for width in (window, window / 2.0):
        near = np.abs(v - (a + b * u)) <= max(width, 1.5)
        if near.sum() < 20:
            break
        b, a = np.polyfit(u[near], v[near], 1)
    return _Line(float(a), float(b), line.strength)


def _lattice(lines: list[_Line], centre: float, extent: float) -> list[_Line] | None:
    """The lines of the viewport borders: the largest set on a regular lattice (spacing 6-60% of the extent),
    every lattice line from the first to the last, missing ones interpolated. None when fewer than 3 fit.

    Stage 1: RANSAC over pairs of lines and their index difference (linear lattice, tolerance 0.12 spacings,
    score = strength x closeness, times the fraction of lattice lines present). Stage 2: for every index the
    candidates within 0.15 spacings are compared and the combination whose positions are the smoothest function
    of the index is kept (:func:`_smoothest_choice`), so an annotation row or a panel edge next to a border,
    however strong, does not replace it.
    """
    if len(lines) < 3:
        return None
    lines = sorted(lines, key=lambda line: line.at(centre))
    positions = np.array([line.at(centre) for line in lines])
    strengths = np.array([line.strength for line in lines])
    best, best_score = None, 0.0
    steps = np.arange(1, 13, dtype=float)
    for i in range(len(lines) - 1):
        # every hypothesis (line i at index 0, line j at index ``steps``) at once: [hypotheses, lines]
        spacing = ((positions[i + 1:, None] - positions[i]) / steps[None, :]).ravel()
        spacing = spacing[(spacing >= 0.06 * extent) & (spacing <= 0.6 * extent)]
        if spacing.size == 0:
            continue
        index = (positions[None, :] - positions[i]) / spacing[:, None]
        key = np.rint(index)
        weight = strengths[None, :] * np.clip(1.0 - (np.abs(index - key) / 0.12) ** 2, 0.0, None)
        # one line per index (the strongest): lines are sorted by position, so in every hypothesis the lines of one
        # index are a run of neighbours
        n_hypotheses, n_lines = weight.shape
        flat_key, flat_weight = key.ravel(), weight.ravel()
        new_run = np.ones(flat_key.size, bool)
        new_run[1:] = flat_key[1:] != flat_key[:-1]
        new_run[::n_lines] = True
        starts = np.flatnonzero(new_run)
        run_max = np.maximum.reduceat(flat_weight, starts)
        run_row, run_key = starts // n_lines, flat_key[starts]
        present = run_max > 0
        count = np.bincount(run_row[present], minlength=n_hypotheses)
        total = np.bincount(run_row, weights=run_max, minlength=n_hypotheses)
        low, high = np.full(n_hypotheses, np.inf), np.full(n_hypotheses, -np.inf)
        np.minimum.at(low, run_row[present], run_key[present])
        np.maximum.at(high, run_row[present], run_key[present])
        score = np.where(count >= 3, total * count / np.maximum(high - low + 1, 1), 0.0)
        h = int(np.argmax(score))
        if score[h] > best_score:
            best_score = float(score[h])
            chosen: dict[int, int] = {}
            for k in np.flatnonzero(weight[h] > 0):
                if int(key[h, k]) not in chosen or weight[h, k] > weight[h, chosen[int(key[h, k])]]:
                    chosen[int(key[h, k])] = int(k)
            best = (chosen, positions[i], float(spacing[h]))
    if best is None:
        return None
    chosen, origin, spacing = best
    coverages = np.array([line.coverage for line in lines])
    chosen = _smoothest_choice(sorted(chosen), positions, strengths, origin, spacing, coverages)
    keys = np.array(sorted(chosen))
    members = [lines[chosen[int(k)]] for k in keys]
    fit_a = np.polyfit(keys, [m.a for m in members], 2 if keys.size >= 4 else 1)
    fit_b = np.polyfit(keys, [m.b for m in members], 1)
    out = []
    for k in range(int(keys[0]), int(keys[-1]) + 1):
        out.append(lines[chosen[k]] if k in chosen else _Line(float(np.polyval(fit_a, k)), float(np.polyval(fit_b, k)), 0.0))
    return out if len(out) >= 3 else None


def _smoothest_choice(keys: list[int], positions: np.ndarray, strengths: np.ndarray, origin: float, spacing: float,
                      coverages: np.ndarray | None = None) -> dict[int, int]:
    """One line per lattice index: the combination of candidates (within 0.15 spacings of the linear lattice,
    the 3 strongest per index) with the smallest residual from a smooth function of the index, plus a penalty
    for lines that are not continuous.

    Smooth: a straight line of position against index for up to 4 indices, a parabola from 5 on (the perspective of
    a hand-held photo changes the spacing gradually across the grid, so a straight line leaves residuals of a few
    pixels that hide a wrong choice at an end); residuals are leave-one-out (PRESS), so that an end line, which
    would pull the fit towards itself, is judged by the fit of the others. Continuity (``coverages``): a viewport border runs across the whole
    grid, a row of annotations just inside a border does not; 0.05 per missing fraction, i.e. a line on 60% of its
    length costs as much as a 0.14-spacing misfit.
    """
    import itertools

    coverages = np.ones_like(positions) if coverages is None else np.asarray(coverages, dtype=float)
    candidates = []
    for key in keys:
        near = np.flatnonzero(np.abs(positions - (origin + key * spacing)) < 0.15 * spacing)
        near = near[np.argsort(-strengths[near])][:3]
        candidates.append(list(near) if near.size else [None])
    present = [(k, c) for k, c in zip(keys, candidates) if c != [None]]
    keys = [k for k, _ in present]
    options = [c for _, c in present]
    if int(np.prod([len(o) for o in options])) > 20000:
        return {k: o[0] for k, o in zip(keys, options)}
    index = np.asarray(keys, dtype=float)
    degree = 2 if len(keys) >= 5 else 1
    top = float(strengths.max()) if strengths.size else 1.0
    combinations = np.array(list(itertools.product(*options)), dtype=int)          # [combinations, keys]
    design = np.vander(index, degree + 1)
    hat = design @ np.linalg.pinv(design)
    # leave-one-out (PRESS) residuals: a wrong line at an end of the lattice would bend a fit through it
    leave_one_out = 1.0 / np.maximum(1.0 - np.diag(hat), 0.05)
    residual = ((positions[combinations] / spacing) @ (np.eye(index.size) - hat).T) * leave_one_out
    cost = ((residual ** 2).sum(axis=1) + 0.05 * (1.0 - coverages[combinations]).sum(axis=1)
            + 0.002 * (1.0 - strengths[combinations] / top).sum(axis=1))
    best = combinations[int(np.argmin(cost))]
    return {k: int(c) for k, c in zip(keys, best)}


def _edge_profile(grey: np.ndarray, a: np.ndarray, b: float, vertical: bool) -> np.ndarray:
    """How much the lines x = a_i + b y (vertical) or y = a_i + b x of the smoothed ``grey`` are a step all along:
    the 30th percentile (of 100 points), over the middle 70% of their length (where the grid is: a photo frames it with a margin), of
    the largest level difference across the line (central differences at the line and 1 pixel either side). A
    border is a step along its whole length, a row of text only where the letters are. Evaluated at these points
    only (no gradient image: the grid stage's time)."""
    height, width = grey.shape
    span, extent = (height, width) if vertical else (width, height)
    t = np.linspace(0.15 * span, 0.85 * span, 100)
    a = np.asarray(a, float)
    position = np.rint(a[:, None] + np.broadcast_to(np.asarray(b, float), a.shape)[:, None] * t[None, :]).astype(int)
    inside = ((position >= 2) & (position < extent - 2)).mean(axis=1) > 0.9
    along = np.broadcast_to(t.astype(int), position.shape)
    levels = [grey[along, np.clip(position + d, 0, extent - 1)] if vertical else grey[np.clip(position + d, 0, extent - 1), along]
              for d in (-2, -1, 0, 1, 2)]
    steps = np.maximum.reduce([np.abs(levels[k + 2] - levels[k]) for k in range(3)])
    return np.where(inside, np.partition(steps, 30, axis=1)[:, 30], 0.0)


def _support(lines: list[_Line], grey: np.ndarray, vertical: bool) -> np.ndarray:
    """:func:`_edge_profile` of every line, the best within 2 pixels of it (a line found at the middle of a dark gap
    has its steps on either side)."""
    offsets = np.arange(-2, 3, dtype=float)
    a = np.array([line.a for line in lines])[:, None] + offsets[None, :]
    b = np.repeat([line.b for line in lines], offsets.size)
    return _edge_profile(grey, a.ravel(), b, vertical).reshape(len(lines), offsets.size).max(axis=1)


def _band_std(grey: np.ndarray, first: _Line, second: _Line, vertical: bool) -> float:
    """Standard deviation of the levels between two lines of one family (the inner 60% of the band across, the
    middle 70% along): a row or column of tiles shows anatomy, the viewer's panels beside the grid are flat."""
    height, width = grey.shape
    span, extent = (height, width) if vertical else (width, height)
    t = np.linspace(0.15 * span, 0.85 * span, 60)
    fractions = np.linspace(0.2, 0.8, 25)
    start, stop = first.a + first.b * t, second.a + second.b * t
    position = np.rint(start[None, :] + fractions[:, None] * (stop - start)[None, :]).astype(int)
    if position.min() < 0 or position.max() >= extent:
        return 0.0
    along = np.broadcast_to(t.astype(int), position.shape)
    return float((grey[along, position] if vertical else grey[position, along]).std())


def _nearest_step(profile: np.ndarray, offsets: np.ndarray, threshold: float) -> int | None:
    """Index of the local maximum of ``profile`` at least ``threshold`` nearest offset 0 (where the lattice puts the
    line: a stronger step a little further, the edge of the viewer's toolbar or of the monitor, is not the border)."""
    padded = np.r_[-np.inf, profile, -np.inf]
    peaks = np.flatnonzero((profile >= padded[:-2]) & (profile >= padded[2:]) & (profile >= threshold))
    return int(peaks[np.argmin(np.abs(offsets[peaks]))]) if peaks.size else None


def _end_prediction(lines: list[_Line], end: int, centre: float, neighbours: int) -> tuple[float, float, float]:
    """Where the ``neighbours`` (3 or 4) lines next to the end line ``end`` (0 or the last) of a lattice put it: (a, b)
    of the line and the spacing there. Positions at ``centre`` over the index: a straight line through 3, a
    least-squares parabola through 4 (the perspective of a hand-held photo changes the spacing across the grid, by
    up to 7 pixels over 5 rows of a 4K photo; a parabola through three lines follows their noise). Tilt: a straight
    line through the same neighbours."""
    others = np.arange(1, neighbours + 1) if end == 0 else len(lines) - 1 - np.arange(1, neighbours + 1)
    fit_position = np.polyfit(others, [lines[k].at(centre) for k in others], 2 if neighbours >= 4 else 1)
    fit_b = np.polyfit(others, [lines[k].b for k in others], 1)
    b = float(np.polyval(fit_b, end))
    position = float(np.polyval(fit_position, end))
    if neighbours < 4:   # the spacing of the lines' intercepts (a), as the straight-line repair was tuned
        spacing = abs(float(np.polyfit(others, [lines[k].a for k in others], 1)[0]))
    else:
        spacing = abs(position - float(np.polyval(fit_position, end + (1 if end == 0 else -1))))
    return position - b * centre, b, spacing


def _outer_lines(lattice: list[_Line], grey: np.ndarray, vertical: bool, centre: float,
                 max_added: int = 2) -> list[_Line]:
    """The lattice with the outer borders it missed added at either end.

    Every viewport has a border, the outer ones included, but an outer border is often only a step (tile -> the
    border's colour -> the viewer's grey of about the same level: a Philips-like dark gap against a dark viewer), so
    its ridge is weak and the lattice can stop one line short, losing a row or column of tiles. At each end the next
    line is extrapolated (positions: parabola over the indices, tilt: straight line) and taken, at the step nearest
    that place within 0.06 spacings (:func:`_nearest_step`), when (1) that step is at least half as strong as the lattice's own
    borders (:func:`_edge_profile`) and (2) the band it closes shows as much variation as the last band
    of the lattice (at least 40% of its standard deviation: tiles, not the viewer's flat panels). First, an end line
    more than 4% of a spacing off where its three neighbours put it (the monitor's edge or a panel edge just beyond a
    faint outer border, taken for it) is replaced by the step nearest that place within 4% of a spacing; then an
    end line not so replaced, with the other end now on the lattice, the same by its four neighbours
    (:func:`_end_prediction`: a parabola, along the perspective). Our
    method."""
    lines = list(lattice)
    reference = float(np.median(_support(lines, grey, vertical)))
    # an end line off the lattice of its neighbours (the monitor's edge just beyond a faint outer border) is replaced
    # by the step nearest where they put it: first by its three neighbours, then (the other end now on the lattice)
    # by a parabola through four, which follows the perspective
    repaired: set[int] = set()
    for neighbours in (3, 4):
        if len(lines) < neighbours + 1:
            break
        for end in (0, len(lines) - 1):
            if end in repaired:    # already brought onto its neighbours' lattice
                continue
            a, b, spacing = _end_prediction(lines, end, centre, neighbours)
            if abs(lines[end].at(centre) - (a + b * centre)) <= 0.04 * spacing:
                continue
            offsets = np.arange(-0.04 * spacing, 0.04 * spacing + 0.5, 0.5)
            best = _nearest_step(_edge_profile(grey, a + offsets, b, vertical), offsets, 0.5 * reference)
            if best is not None:
                lines[end] = _Line(a + float(offsets[best]), b, 0.0)
                repaired.add(end)
    for _ in range(max_added):
        keys = np.arange(len(lines), dtype=float)
        fit_a = np.polyfit(keys, [line.a for line in lines], 2 if len(lines) >= 4 else 1)
        fit_b = np.polyfit(keys, [line.b for line in lines], 1)
        added = False
        for end in (-1, len(lines)):
            a, b = float(np.polyval(fit_a, end)), float(np.polyval(fit_b, end))
            spacing = abs(float(np.polyval(fit_a, end)) - float(np.polyval(fit_a, end + (1 if end < 0 else -1))))
            offsets = np.arange(-0.06 * spacing, 0.06 * spacing + 0.5, 0.5)
            best = _nearest_step(_edge_profile(grey, a + offsets, b, vertical), offsets, 0.5 * reference)
            if best is None:
                continue
            candidate = _Line(a + float(offsets[best]), b, 0.0)
            inner, neighbour = (lines[0], lines[1]) if end < 0 else (lines[-1], lines[-2])
            closes = _band_std(grey, candidate, inner, vertical)
            if closes < 0.4 * _band_std(grey, inner, neighbour, vertical):
                continue
            lines = [candidate, *lines] if end < 0 else [*lines, candidate]
            added = True
            break
        if not added:
            break
    return lines


def _ridge_along(luma: np.ndarray, a: np.ndarray, b: float, vertical: bool, segments: int = 20) -> np.ndarray:
    """How much the lines x = a_i + b y (vertical) or y = a_i + b x of ``luma`` (not smoothed) are a thin ridge all
    along: the level of each of ``segments`` pieces of the line's middle 70% (median of 20 points) above (or below)
    the higher (lower) of the levels 2 (or 4, a wider line) pixels either side, and of these the 30th percentile. A viewport border is a
    ridge of a pixel or two in every piece; the edge of a column of right-aligned text, or a letter's stroke, only in
    the pieces where the text is; broad features are no ridge."""
    height, width = luma.shape
    span, extent = (height, width) if vertical else (width, height)
    t = np.linspace(0.15 * span, 0.85 * span, 20 * segments)
    a = np.asarray(a, float)
    offsets = np.array([-4, -2, 0, 2, 4])
    position = np.clip(np.rint(a[:, None, None] + offsets[None, :, None] + b * t[None, None, :]).astype(int), 0, extent - 1)
    along = np.broadcast_to(t.astype(int), position.shape)
    levels = np.median((luma[along, position] if vertical else luma[position, along]).reshape(a.size, 5, segments, 20), axis=3)
    middle = levels[:, 2]
    scores = []
    for side in (levels[:, [1, 3]], levels[:, [0, 4]]):    # a line of 1-2 pixels (4K), of 3-6 (a 3 MP monitor's)
        ridge = np.maximum(middle - side.max(axis=1), side.min(axis=1) - middle)
        scores.append(np.quantile(ridge, 0.3, axis=1))
    return np.maximum(*scores)


def _snapped_to_ridges(lattice: list[_Line], luma: np.ndarray, vertical: bool, centre: float) -> list[_Line] | None:
    """The lattice with each inner line moved to the thin ridge that runs all along a line (:func:`_ridge_along`, at
    least 1 level) within 0.2 spacings of it, at about the tilt interpolated from the lattice's; None where one has none,
    or where the lines so found are not evenly spaced (every spacing within 8% of their median)."""
    positions = np.array([line.at(centre) for line in lattice])
    spacing = float(np.median(np.diff(positions)))
    fit_b = np.polyfit(np.arange(len(lattice), dtype=float), [line.b for line in lattice], 1)
    offsets = np.arange(-np.floor(0.2 * spacing), np.floor(0.2 * spacing) + 1.0)
    moved = list(lattice)
    for k in range(1, len(lattice) - 1):
        # the tilt too is searched (+-0.003, a 1-pixel line drifts off its ridge by 2 px over 700 px)
        tilts = float(np.polyval(fit_b, k)) + np.array([-0.003, -0.0015, 0.0, 0.0015, 0.003])
        intercepts = positions[k] - tilts * centre
        scores = np.array([_ridge_along(luma, a + offsets, b, vertical) for a, b in zip(intercepts, tilts)])
        tilt, best = np.unravel_index(int(np.argmax(scores)), scores.shape)
        if scores[tilt, best] < 1.0:
            return None
        moved[k] = _Line(float(intercepts[tilt] + offsets[best]), float(tilts[tilt]), 0.0)
    steps = np.diff([line.at(centre) for line in moved])
    return moved if np.abs(steps / np.median(steps) - 1.0).max() <= 0.08 else None


def _faint_inner_borders(lattice: list[_Line], luma: np.ndarray, grey: np.ndarray, vertical: bool,
                         centre: float) -> tuple[list[_Line], str]:
    """A lattice of text edges between strong outer borders moved onto the faint inner borders, and what was done:
    "kept" (not such a lattice, or no faint borders found), "moved" (its ends, the strong outer edges, are the
    grid's: not to be repaired from the inner lines, which are at the borders' 1-pixel lines, not at the tiles'
    edges) or "text" (a text lattice still).

    Siemens-like viewports: the tiles' background is the level of the gap between them and the inner borders are
    1-pixel lines a few levels brighter, invisible to the ridge maps, while the grid's outer edges (tiles against
    the dark viewer) are strong steps. Right-aligned annotations ("TR 857") and the bottom lines of the text are
    then the most continuous lines at the tiles' spacing, and the lattice is built from them. Such a lattice (of 4
    lines or more) has inner lines that are hardly a step along their length (:func:`_support` under 15% of its
    stronger end's); its inner lines are moved to the faint ridges beside them (:func:`_snapped_to_ridges`). Where
    that fails, the lattice is returned as it was, and marked a text lattice (kept only as a last resort) when its
    inner lines are under 8% of its stronger end's (faint real borders, drawn as steps, are 10% or more). Our
    method."""
    if len(lattice) < 4:
        return lattice, "kept"
    support = _support(lattice, grey, vertical)
    weakness = float(np.median(support[1:-1])) / max(float(max(support[0], support[-1])), 1e-6)
    if weakness >= 0.15:
        return lattice, "kept"
    moved = _snapped_to_ridges(lattice, luma, vertical, centre)
    if moved is not None:
        return moved, "moved"
    return lattice, "text" if weakness < 0.08 else "kept"


def _divided_frame(lines: list[_Line], luma: np.ndarray, grey: np.ndarray, vertical: bool, centre: float,
                   spacing: float) -> list[_Line] | None:
    """The borders of one family found from the grid's outer edges alone, where its inner borders gave no lattice.

    Faint 1-pixel inner borders (see :func:`_faint_inner_borders`) can leave a family with only the grid's two outer
    edges, strong steps against the viewer. Cells are nearly square (scout matrices), so the other family's spacing
    tells how many cells lie between two strong lines of this one (within 0.2 of a whole number, at least 2): the
    frame is divided evenly (tilts interpolated) and every inner line must then find its faint ridge
    (:func:`_snapped_to_ridges`), so an edge of the viewer's panels taken for the frame, or a wrong count, gives
    nothing. The pairs are tried from the widest. None when no pair verifies. Our method."""
    if len(lines) < 2:
        return None
    support = _support(lines, grey, vertical)
    strong = sorted((line for line, value in zip(lines, support) if value >= 0.5 * float(support.max())),
                    key=lambda line: line.at(centre))
    pairs = [(first, last) for i, first in enumerate(strong) for last in strong[i + 1:]]
    for first, last in sorted(pairs, key=lambda pair: pair[0].at(centre) - pair[1].at(centre)):
        ratio = (last.at(centre) - first.at(centre)) / spacing
        count = int(round(ratio))
        if count < 2 or abs(ratio - count) > 0.2:
            continue
        guesses = [_Line(first.a + (last.a - first.a) * k / count, first.b + (last.b - first.b) * k / count, 0.0)
                   for k in range(count + 1)]
        moved = _snapped_to_ridges(guesses, luma, vertical, centre)
        if moved is not None:
            return moved
    return None


def _regular_borders(lines: list[_Line], grey: np.ndarray, vertical: bool, centre: float) -> bool:
    """Whether a lattice looks like viewport borders all through: every line a step along its length at least 40%
    as strong as the lattice's median line (a row of text or an anatomy edge taken for a border is not), and each
    end line within 8% of a spacing of where its three neighbours put it (a panel edge beyond the last border is
    not)."""
    support = _support(lines, grey, vertical)
    if support.min() < 0.4 * float(np.median(support)):
        return False
    positions = np.array([line.at(centre) for line in lines])
    if positions.size < 4:
        return True
    spacing = float(np.median(np.diff(positions)))
    for end, others in ((0, [1, 2, 3]), (-1, [-2, -3, -4])):
        keys = np.array(others, dtype=float) if end == 0 else positions.size + np.array(others, dtype=float)
        key_end = 0.0 if end == 0 else positions.size - 1.0
        fit = np.polyfit(keys, positions[others], 1)
        if abs(float(np.polyval(fit, key_end)) - positions[end]) > 0.08 * spacing:
            return False
    return True


def _intersection(vertical: _Line, horizontal: _Line) -> np.ndarray:
    """Point where x = a1 + b1 y meets y = a2 + b2 x."""
    y = (horizontal.a + horizontal.b * vertical.a) / (1.0 - horizontal.b * vertical.b)
    return np.array([vertical.a + vertical.b * y, y])


def find_grid(image: np.ndarray, settings: MosaicSettings = MosaicSettings()) -> tuple[np.ndarray, float]:
    """Cell corners [rows, columns, 4, 2] (photo pixels, x, y; TL, TR, BR, BL) of the mosaic in a photo, and the
    scale of the grid image. Raises MosaicError when no grid of at least 2 x 2 cells is found."""
    import cv2

    array = np.asarray(image)
    scale = min(1.0, settings.grid_long_side_px / max(array.shape[:2]))
    small = cv2.resize(array, (max(8, int(round(array.shape[1] * scale))), max(8, int(round(array.shape[0] * scale)))),
                       interpolation=cv2.INTER_AREA) if scale < 1.0 else array
    channels = _grid_channels(small)
    size = small.shape[:2]
    grey = cv2.GaussianBlur(channels[0].astype(np.float32), (0, 0), 1.0)
    found: dict[bool, list[list[_Line]]] = {True: [], False: []}    # vertical family -> lattices found
    irregular: dict[bool, list[list[_Line]]] = {True: [], False: []}

    def best_grid(columns_found, rows_found):
        # of the plausible grids, the one with the most cells (a lattice that stopped a line short loses tiles), those
        # of nearly square cells (aspect within 1.6: scout matrices) first (a lattice of borders and rows of text
        # between them halves the cells)
        grids = [_cells(columns, rows) for columns in columns_found for rows in rows_found]
        grids = [corners for corners in grids if _plausible_cells(corners, size)]
        return max(grids, key=lambda corners: (_near_square(corners), corners.shape[0] * corners.shape[1])) if grids else None

    # the usual threshold first; where no plausible grid is found (faint borders: thin lines of about the tiles' own
    # level, strong moire raising the median), once more with a lower one, then at twice the scale (wide dark gaps
    # between noisy tiles); every lattice must be regular (with its outer borders: _outer_lines) and look like
    # borders all through (_regular_borders; others are kept as a last resort), and the grid plausible
    first_families: dict[bool, list[_Line]] = {}
    for factor, sigma_px in ((3.0, 1.0), (1.8, 1.0), (3.0, 2.0), (1.8, 2.0)):
        maps = [_ridge_maps(channel, factor, sigma_px, grey if k == 0 and sigma_px == 1.0 else None)
                for k, channel in enumerate(channels)]
        for vertical, centre, extent in ((True, size[0] / 2.0, size[1]), (False, size[1] / 2.0, size[0])):
            family = _hough_family(np.bitwise_or.reduce([m[1 if vertical else 0] for m in maps]), vertical)
            first_families.setdefault(vertical, family)
            lattice = _lattice(family, centre, extent)
            if lattice is None:
                continue
            lattice, done = _faint_inner_borders(lattice, channels[0], grey, vertical, centre)
            if done == "kept":
                lattice = _outer_lines(lattice, grey, vertical, centre)
            regular = done == "moved" or (done == "kept" and _regular_borders(lattice, grey, vertical, centre))
            (found if regular else irregular)[vertical].append(lattice)
        corners = best_grid(found[True], found[False])
        if corners is not None and _near_square(corners):
            return corners / scale, scale
    # no grid of near-square cells: the best regular one (a lattice that skipped a faint border in every pass), else
    # the best with the irregular lattices, else with a family that gave no regular lattice looked for between its
    # strong outer lines, divided at the other family's spacing (_divided_frame)
    corners = best_grid(found[True], found[False])
    if corners is None or not _near_square(corners):
        corners = best_grid(found[True] + irregular[True], found[False] + irregular[False])
    if corners is None or not _near_square(corners):
        for vertical, centre in ((True, size[0] / 2.0), (False, size[1] / 2.0)):
            if found[vertical] or not found[not vertical]:
                continue
            other = max(found[not vertical], key=len)
            other_centre = size[1] / 2.0 if vertical else size[0] / 2.0
            spacing = float(np.median(np.diff([line.at(other_centre) for line in other])))
            lattice = _divided_frame(first_families[vertical], channels[0], grey, vertical, centre, spacing)
            if lattice is not None:
                found[vertical].append(lattice)
                divided = best_grid(found[True] + irregular[True], found[False] + irregular[False])
                corners = divided if divided is not None else corners
    if corners is not None:
        return corners / scale, scale
    raise MosaicError(
        "No regular grid of tiles found in the photo: photograph the whole mosaic (every tile and its border), "
        "straight on and in focus, or enter the frames one by one (single-frame mode)."
    )


def _cells(columns: list[_Line], rows: list[_Line]) -> np.ndarray:
    corners = np.empty((len(rows) - 1, len(columns) - 1, 4, 2))
    for r in range(len(rows) - 1):
        for c in range(len(columns) - 1):
            corners[r, c] = [_intersection(columns[c], rows[r]), _intersection(columns[c + 1], rows[r]),
                             _intersection(columns[c + 1], rows[r + 1]), _intersection(columns[c], rows[r + 1])]
    return corners


def _plausible_cells(corners: np.ndarray, size: tuple[int, int]) -> bool:
    """A grid of at least 2 x 2 cells, inside the photo (2% of its size of slack) and of cells between half and twice
    as wide as high (scout matrices are square or nearly so; a lattice of text rows inside the tiles, a third of
    the spacing, makes cells three times as wide as high)."""
    if corners.shape[0] < 2 or corners.shape[1] < 2:
        return False
    height, width = size
    slack = 0.02 * max(size)
    if corners[..., 0].min() < -slack or corners[..., 0].max() > width + slack:
        return False
    if corners[..., 1].min() < -slack or corners[..., 1].max() > height + slack:
        return False
    return 0.5 <= _cell_aspect(corners) <= 2.0


def _near_square(corners: np.ndarray) -> bool:
    """Whether the median cell's aspect is within 1.6 (scout matrices are square or nearly so; a lattice that skipped a
    faint border doubles the cells one way)."""
    return bool(abs(np.log(_cell_aspect(corners))) <= np.log(1.6))


def _cell_aspect(corners: np.ndarray) -> float:
    """Median width / height of the cells [rows, columns, 4, 2]."""
    cell_width = np.linalg.norm(corners[..., 1, :] - corners[..., 0, :], axis=-1)
    cell_height = np.linalg.norm(corners[..., 3, :] - corners[..., 0, :], axis=-1)
    return float(np.median(cell_width / np.maximum(cell_height, 1e-9)))


def _inset(quad: np.ndarray, fraction: float) -> np.ndarray:
    centre = quad.mean(axis=0)
    return centre + (quad - centre) * (1.0 - 2.0 * fraction)


def warp_tile(grey: np.ndarray, quad: np.ndarray, size: int) -> np.ndarray:
    """The quadrilateral ``quad`` (TL, TR, BR, BL; x, y) of ``grey`` warped to a ``size`` x ``size`` square
    (bilinear; reduce the image first where the quadrilateral is much larger than ``size``: reduced_for)."""
    import cv2

    target = np.array([[0, 0], [size, 0], [size, size], [0, size]], np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    return cv2.warpPerspective(grey, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def reduced_for(grey: np.ndarray, corners: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """The photo reduced (area averaging) so that a tile spans about 1.3 x ``size`` pixels, and the factor used."""
    import cv2

    side = float(np.median(np.linalg.norm(corners[..., 1, :] - corners[..., 0, :], axis=-1)))
    factor = min(1.0, 1.3 * size / max(side, 1.0))
    if factor >= 0.95:
        return grey, 1.0
    shape = (max(8, int(round(grey.shape[1] * factor))), max(8, int(round(grey.shape[0] * factor))))
    return cv2.resize(grey, shape, interpolation=cv2.INTER_AREA), factor


def background_samples(tile: np.ndarray, boxes, segments: int = 4, band: tuple[float, float] = (0.015, 0.07),
                       cluster_levels: float = 6.0) -> np.ndarray:
    """(u, v, level) [n, 3] of the background around the edge of one tile (grey, square): the median level of
    ``segments`` pieces of a band just inside each of the four edges (``band``: fractions of the tile side), text
    lines (``boxes``) left out; u, v in [0, 1] across the tile. At the edge of a scout's field of view is air: black on
    a magnitude frame, zero-signal grey on a phase-sensitive one, the same display level on every frame of the
    series, so its level in the photo is the black level + the glare at that place. The pieces kept are the largest
    cluster of levels (within ``cluster_levels`` of one piece; of two such clusters the darker): the others show
    anatomy (a body filling the field of view from side to side covers half the pieces)."""
    size = tile.shape[0]
    values = np.asarray(tile, dtype=np.float32).copy()
    for x0, y0, x1, y1 in boxes:
        pad = max(1, int(0.3 * (y1 - y0)))
        values[max(0, y0 - pad):y1 + pad, max(0, x0 - pad):x1 + pad] = np.nan
    inner, outer = int(round(band[0] * size)), max(int(round(band[0] * size)) + 2, int(round(band[1] * size)))
    length = size // (2 * segments) * (2 * segments)
    # the four bands as [band depth, segments, pieces' length] (every second pixel: the median needs no more)
    bands = (values[inner:outer, :length], values[size - outer:size - inner, :length],
             values[:length, inner:outer].T, values[:length, size - outer:size - inner].T)
    at = (inner + outer) / (2.0 * size)
    out = []
    for side, strip in enumerate(bands):
        sub = strip[::2, ::2]
        pieces = sub.reshape(sub.shape[0], segments, -1).transpose(1, 0, 2).reshape(segments, -1)
        finite = np.isfinite(pieces).sum(axis=1)
        ordered = np.sort(pieces, axis=1)            # the text's NaN last: the median of the finite values
        rows_idx = np.arange(segments)
        medians = 0.5 * (ordered[rows_idx, np.maximum(finite - 1, 0) // 2] + ordered[rows_idx, finite // 2])
        for j in range(segments):
            if finite[j] < 0.25 * pieces.shape[1]:
                continue
            along = (j + 0.5) / segments
            u, v = {0: (along, at), 1: (along, 1.0 - at), 2: (at, along), 3: (1.0 - at, along)}[side]
            out.append((u, v, float(medians[j])))
    samples = np.array(out, dtype=float).reshape(-1, 3)
    if samples.shape[0] >= 3:
        # the air: the largest cluster of levels (pieces within ``cluster_levels`` of each other; ties: the darker)
        levels = samples[:, 2]
        count = (np.abs(levels[:, None] - levels[None, :]) <= cluster_levels).sum(axis=1)
        best = np.flatnonzero(count == count.max())
        centre = float(levels[best[np.argmin(levels[best])]])
        samples = samples[np.abs(levels - centre) <= cluster_levels]
    return samples


def glare_fields(tiles: list[np.ndarray], boxes: list, cells: list[tuple[int, int]], grid_px: int = 8,
                 smoothing: float = 1.0) -> list[np.ndarray]:
    """The background level (black level + glare) under every tile [tile_px, tile_px], from the air at the tiles'
    edges (:func:`background_samples`) of all tiles: a smoothing thin-plate spline (scipy RBFInterpolator) of the
    samples' levels over the grid (coordinates in cells: column + u, row + v), evaluated on ``grid_px`` x
    ``grid_px`` points per tile and resized. Glare is one smooth field over the photo (a reflection), so the
    neighbours' samples fill the tiles whose edges show anatomy; with too few samples, each tile's median sample.

    Measured on simulated photos (10 per monitor, dev seeds, the monitor's own tiles as truth): RMS error of the
    glare under the tiles 2.1 (4K) / 2.6 (3 MP) levels, against 3.7 / 5.1 for the median level on the tiles' border
    lines (the earlier method: a border 1-3 pixels wide picks up the frames beside it) and 3.8 / 5.8 without
    correction."""
    import cv2

    size = tiles[0].shape[0] if tiles else 1
    points, levels, per_tile = [], [], []
    for tile, tile_boxes, (row, column) in zip(tiles, boxes, cells):
        samples = background_samples(tile, tile_boxes)
        per_tile.append(float(np.median(samples[:, 2])) if samples.size else float(np.median(tile)))
        points.append(np.c_[column + samples[:, 0], row + samples[:, 1]])
        levels.append(samples[:, 2])
    points_all, levels_all = np.concatenate(points), np.concatenate(levels)
    if levels_all.size < 12:
        return [np.full((size, size), level, np.float32) for level in per_tile]
    from scipy.interpolate import RBFInterpolator

    keep = np.ones(levels_all.size, bool)
    try:
        for _ in range(3):  # samples far off the smooth field of the others show anatomy: drop them, fit again
            spline = RBFInterpolator(points_all[keep], levels_all[keep], kernel="thin_plate_spline", smoothing=smoothing)
            residual = np.abs(levels_all - spline(points_all))
            limit = max(4.0, 3.0 * 1.4826 * float(np.median(residual[keep])))
            if not np.any(keep & (residual > limit)) or (keep & (residual <= limit)).sum() < 12:
                break
            keep &= residual <= limit
    except (np.linalg.LinAlgError, ValueError):  # degenerate sample positions (e.g. all on one line)
        return [np.full((size, size), level, np.float32) for level in per_tile]
    steps = (np.arange(grid_px) + 0.5) / grid_px
    u, v = np.meshgrid(steps, steps)
    query = np.concatenate([np.c_[column + u.ravel(), row + v.ravel()] for row, column in cells])
    values = spline(query).reshape(len(cells), grid_px, grid_px).astype(np.float32)
    return [cv2.resize(field, (size, size), interpolation=cv2.INTER_LINEAR) for field in values]


# ------------------------------------------------------------------------------------------ the text
def text_boxes(tile: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1) of the text lines in the corner regions of one tile (grey 0..255)."""
    import cv2

    size = tile.shape[0]
    image = np.clip(tile, 0, 255).astype(np.uint8)
    stroke = max(3, int(round(size * 0.035)))
    tophat = cv2.morphologyEx(image, cv2.MORPH_TOPHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (stroke, stroke)))
    depth = int(0.24 * size)
    # the text stands in the top and bottom bands; each band on its own (the closing is horizontal, so nothing joins them)
    bands = ((0, tophat[:depth]), (size - depth, tophat[size - depth:]))
    threshold = max(30.0, 0.35 * float(np.percentile(np.concatenate([b.ravel() for _, b in bands]), 99.7)))
    closing = cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, int(size * 0.03)), 1))
    boxes = []
    for top, band in bands:
        closed = cv2.morphologyEx((band > threshold).astype(np.uint8), cv2.MORPH_CLOSE, closing)
        count, _, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
        for k in range(1, count):
            x, y, w, h, area = stats[k]
            if 0.02 * size <= h <= 0.12 * size and w >= 0.2 * h and area >= 0.15 * w * h:
                boxes.append((int(x), int(y + top), int(x + w), int(y + top + h)))
    # merge boxes on one text line that are close together (words of one annotation)
    boxes.sort(key=lambda b: (b[1], b[0]))
    merged: list[list[int]] = []
    for box in boxes:
        for other in merged:
            same_line = abs((box[1] + box[3]) / 2 - (other[1] + other[3]) / 2) < 0.5 * (box[3] - box[1])
            if same_line and box[0] - other[2] < 2.0 * (box[3] - box[1]) and other[0] - box[2] < 2.0 * (box[3] - box[1]):
                other[:] = [min(other[0], box[0]), min(other[1], box[1]), max(other[2], box[2]), max(other[3], box[3])]
                break
        else:
            merged.append(list(box))
    return [tuple(b) for b in merged if b[2] - b[0] >= 0.8 * (b[3] - b[1])]


def _crop(tile: np.ndarray, box, pad_fraction: float = 0.35) -> np.ndarray:
    x0, y0, x1, y1 = box
    pad = max(2, int(pad_fraction * (y1 - y0)))
    crop = tile[max(0, y0 - pad):y1 + pad, max(0, x0 - pad):x1 + pad]
    return np.clip(crop, 0, 255).astype(np.uint8)


def _ti_region(box, size: int) -> tuple[int, int, int, int]:
    """Where the TI of any tile is, from the box where it was read on one tile: the same place, widened by 60%
    on the side the text grows (a left-aligned annotation grows to the right, a right-aligned one to the left)."""
    x0, y0, x1, y1 = box
    grow = int(0.6 * (x1 - x0))
    if (x0 + x1) / 2 < size / 2:
        x1 += grow
    else:
        x0 -= grow
    pad = int(0.25 * (y1 - y0))
    return max(0, x0), max(0, y0 - pad), min(size, x1), min(size, y1 + pad)


def _read_tile_tis(tiles: list[np.ndarray], boxes: list[list[tuple]], recognizer, calibration: int):
    """(text, score, ti) per tile: the text lines of the first tiles are read until the TI is found, then the same
    place is read on every tile (the annotation sits at one place in every viewport); where that fails, the
    tile's other text lines are read."""
    from TINullCorrectionLib.io.ocr import parse_ti_at_ti_place, parse_ti_number, parse_ti_text

    size = tiles[0].shape[0] if tiles else 1
    results: list[tuple[str, float, float | None]] = [("", 0.0, None)] * len(tiles)
    regions, first, numbers = [], [], []
    heights = [b[3] - b[1] for tile_boxes in boxes for b in tile_boxes]
    line_px = int(np.median(heights)) if heights else int(0.07 * size)
    for attempt, i in enumerate(list(range(len(tiles)))[: max(calibration, 3)]):
        first.append(i)
        order = sorted(boxes[i], key=lambda b: -(b[2] - b[0]))
        if attempt > 0 or not order:  # where the line finder missed the TI (text over bright anatomy)
            order += _corner_lines(size, line_px)
        read = recognizer.read_lines([_crop(tiles[i], b) for b in order])
        numbers.append([(box, line, parse_ti_number(line.text)) for box, line in zip(order, read)])
        for box, line in zip(order, read):
            value = parse_ti_text(line.text)
            if value is not None and results[i][2] is None:
                results[i] = (line.text, line.score, value)
                regions.append(_ti_region(box, size))
        if len(regions) >= calibration:
            break
    if not regions:
        # no "TI" label recognised: the TI is the number that grows by a TI step (>= 5 ms) from tile to tile
        # at the same place on the first three tiles (an image number grows by 1)
        region = _growing_number_region(numbers[:3], size)
        if region is None:
            return results
        regions.append(region)
        first = first[:0]
    region = tuple(int(v) for v in np.median(np.array(regions), axis=0))
    others = [i for i in range(len(tiles)) if i not in first]
    lines = recognizer.read_lines([_crop(tiles[i], region, pad_fraction=0.1) for i in others])
    retry = []
    for i, line in zip(others, lines):
        value = parse_ti_at_ti_place(line.text)
        results[i] = (line.text, line.score, value)
        if value is None:
            retry += [(i, b) for b in boxes[i] if not _overlaps(b, region)]
    if retry:
        for (i, _), line in zip(retry, recognizer.read_lines([_crop(tiles[i], b) for i, b in retry])):
            value = parse_ti_text(line.text)
            if value is not None and results[i][2] is None:
                results[i] = (line.text, line.score, value)
    return results


def _growing_number_region(numbers, size: int):
    """The TI region from the numbers read on the first tiles ([(box, line, value)] per tile): a box of tile 0
    whose number grows by at least 5 (ms) in the box at the same place on each next tile."""
    if len(numbers) < 3:
        return None
    for box, _, value in numbers[0]:
        if value is None:
            continue
        centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
        values = [value]
        for tile_numbers in numbers[1:]:
            found = [v for b, _, v in tile_numbers if v is not None
                     and np.hypot(*(np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2]) - centre)) < 0.06 * size]
            if not found:
                break
            values.append(found[0])
        if len(values) == len(numbers) and all(b - a >= 5 for a, b in zip(values[:-1], values[1:])):
            return _ti_region(box, size)
    return None


def _corner_lines(size: int, line_px: int) -> list[tuple[int, int, int, int]]:
    """The first two text lines of every corner (left/right halves at the top and bottom edges): where
    annotations stand when the line finder misses them (text over bright anatomy)."""
    margin, step = max(2, int(0.4 * line_px)), int(1.35 * line_px)
    out = []
    for line in range(2):
        top = margin + line * step
        bottom = size - margin - (line + 1) * step
        for y in (top, bottom):
            out += [(0, y, size // 2, y + line_px), (size // 2, y, size, y + line_px)]
    return out


def _overlaps(a, b) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


def consistent_tis(values) -> tuple[list[float | None], list[str]]:
    """TIs in reading order with the implausible reads removed (None); returns (values, "ocr" or "" per tile).

    ``values``: per tile None, a TI, or the TIs its text can mean (io/ocr.py: ti_candidates; the likeliest first).
    The TIs of a scout grow by a nearly constant step (ECG-triggered scouts jitter by a few %): the largest set of
    tiles with a read on one line (RANSAC over pairs of reads; tolerance 0.3 steps + 0.03 steps per tile of distance)
    is kept, each with its read nearest the line, then reads that break the increase or lie more than 0.3 local steps
    from the line through their kept neighbours are dropped.
    """
    options = [() if v is None else (float(v),) if np.ndim(v) == 0 else tuple(float(x) for x in v) for v in values]
    width = max([len(o) for o in options] + [1])
    candidates = np.full((len(options), width), np.nan)
    for k, o in enumerate(options):
        candidates[k, :len(o)] = o
    ti = np.full(len(options), np.nan)
    tiles, columns = np.nonzero(np.isfinite(candidates))
    keep = np.zeros(ti.size, bool)
    if np.unique(tiles).size >= 2:
        # every pair of reads on two different tiles as a hypothesis, all at once: [pairs, tiles, candidates]
        a, b = np.triu_indices(tiles.size, 1)
        a, b = a[tiles[a] != tiles[b]], b[tiles[a] != tiles[b]]
        i, j = tiles[a], tiles[b]
        step = (candidates[j, columns[b]] - candidates[i, columns[a]]) / (j - i)
        up = step > 0
        a, i, step = a[up], i[up], step[up]
        if step.size:
            index = np.arange(ti.size)
            line = candidates[i, columns[a]][:, None] + step[:, None] * (index[None, :] - i[:, None])
            residual = np.abs(candidates[None, :, :] - line[:, :, None])
            residual = np.where(np.isfinite(residual), residual, np.inf)
            nearest = np.argmin(residual, axis=2)                                  # [pairs, tiles]
            residual = np.take_along_axis(residual, nearest[:, :, None], axis=2)[:, :, 0]
            inliers = residual <= step[:, None] * (0.3 + 0.03 * np.abs(index[None, :] - i[:, None]))
            count = inliers.sum(axis=1)
            spread = np.where(inliers, residual, 0.0).sum(axis=1) / step
            h = int(np.lexsort((spread, -count))[0])                             # most inliers, then the closest
            if count[h] >= 2:
                keep = inliers[h]
                ti[keep] = candidates[np.flatnonzero(keep), nearest[h, keep]]
    for _ in range(ti.size):
        index = np.flatnonzero(keep)
        if index.size < 3:
            break
        worst, worst_excess = None, 0.0
        for n, k in enumerate(index):
            left, right = index[max(0, n - 1)], index[min(index.size - 1, n + 1)]
            if left == k or right == k:  # an end: compare with the two next ones
                pair = index[1:3] if left == k else index[-3:-1]
                left, right = pair[0], pair[1]
            step = (ti[right] - ti[left]) / (right - left)
            expected = ti[left] + step * (k - left)
            excess = abs(ti[k] - expected) / max(step, 1e-9) - 0.3 if step > 0 else np.inf
            if excess > worst_excess:
                worst, worst_excess = k, excess
        if worst is None:
            break
        keep[worst] = False
    return [float(v) if k else None for v, k in zip(ti, keep)], ["ocr" if k else "" for k in keep]


def fill_tis(values: list[float | None], sources: list[str]) -> tuple[list[float], list[str]]:
    """Missing TIs interpolated (linear in the tile index) between trusted ones, extrapolated at the ends."""
    ti = np.array([np.nan if v is None else v for v in values], dtype=float)
    known = np.flatnonzero(np.isfinite(ti))
    if known.size < 2:
        raise MosaicError("Too few TIs could be read to estimate the others: enter the first TI and the spacing.")
    index = np.arange(ti.size)
    filled = np.interp(index, known, ti[known])
    step_first = (ti[known[1]] - ti[known[0]]) / (known[1] - known[0])
    step_last = (ti[known[-1]] - ti[known[-2]]) / (known[-1] - known[-2])
    filled[index < known[0]] = ti[known[0]] - step_first * (known[0] - index[index < known[0]])
    filled[index > known[-1]] = ti[known[-1]] + step_last * (index[index > known[-1]] - known[-1])
    out_sources = [s if np.isfinite(ti[k]) else "estimated" for k, s in enumerate(sources)]
    return [float(round(v)) for v in filled], out_sources


# ------------------------------------------------------------------------------------------- reading
def read_mosaic(image: np.ndarray, recognizer=None, settings: MosaicSettings = MosaicSettings(),
                ti_ms: list[float] | None = None, first_ti_ms: float | None = None, spacing_ms: float | None = None) -> MosaicReading:
    """Find the tiles of a mosaic photo (uint8 [H, W] or [H, W, 3]) and their TIs; build the TIScout.

    TIs, in order of precedence: ``ti_ms`` (one per tile, in reading order: the user's confirmed or corrected
    list), else the text read by ``recognizer`` (io/ocr.py; None: no OCR), completed or replaced by
    ``first_ti_ms`` + k x ``spacing_ms`` when the text cannot be read.
    """
    from TINullCorrectionLib.io.ocr import ti_candidates

    grey = _grey(image)
    if grey.ndim != 2 or min(grey.shape) < 64:
        raise MosaicError(f"The photo is too small ({grey.shape}) to hold a mosaic.")
    corners, _ = find_grid(image, settings)
    n_rows, n_columns = corners.shape[:2]
    reduced, factor = reduced_for(grey, corners, settings.text_tile_px)
    tiles_px, quads, cells = [], [], []
    edge = settings.text_tile_px // 5
    for r in range(n_rows):
        for c in range(n_columns):
            quad = _inset(corners[r, c], 0.012)
            tile = warp_tile(reduced, quad * factor, settings.text_tile_px)
            if float(tile[edge:-edge, edge:-edge].std()) < settings.empty_std:
                continue
            tiles_px.append(tile)
            quads.append(quad)
            cells.append((r, c))
    warnings: list[str] = []
    if len(tiles_px) < settings.min_tiles:
        raise MosaicError(f"Only {len(tiles_px)} tile(s) with an image found: a TI scout mosaic needs at least {settings.min_tiles}.")
    slots = [r * n_columns + c for r, c in cells]
    if slots != list(range(len(slots))):
        warnings.append("Empty viewports between the tiles: frames are taken in reading order (left to right, top to bottom).")
    boxes = [text_boxes(tile) for tile in tiles_px]
    if settings.glare_correction:
        fields = glare_fields(tiles_px, boxes, cells)
        reference = np.float32(np.median([float(np.median(f)) for f in fields]))
        tiles_px = [tile - (f - reference) for tile, f in zip(tiles_px, fields)]
    texts = [("", 0.0, None)] * len(tiles_px)
    ocr_name = ""
    if ti_ms is not None:
        values = [float(v) for v in ti_ms]
        if len(values) != len(tiles_px):
            raise MosaicError(f"Got {len(values)} TIs for {len(tiles_px)} tiles found in the photo: give one TI per tile, in reading order.")
        sources = ["user"] * len(values)
    else:
        values, sources = [None] * len(tiles_px), [""] * len(tiles_px)
        if recognizer is not None:
            ocr_name = getattr(recognizer, "name", type(recognizer).__name__)
            texts = _read_tile_tis(tiles_px, boxes, recognizer, settings.calibration_tiles)
            # the value read first, then the other numbers its text can mean
            options = [(t[2], *(c for c in ti_candidates(t[0]) if c != t[2])) if t[2] is not None else () for t in texts]
            values, sources = consistent_tis(options)
            resolved = [k for k, (v, o) in enumerate(zip(values, options)) if v is not None and len(o) > 1 and v != o[0]]
            if resolved:
                warnings.append("TI of tile(s) " + ", ".join(f"{k + 1} ({values[k]:g} ms)" for k in resolved) + ": the text read "
                                "can mean more than one number (a letter of 'TI' read as a digit); the one on the tiles' "
                                "progression was taken: check it.")
        n_read = sum(v is not None for v in values)
        if first_ti_ms is not None and spacing_ms is not None and n_read < max(3, len(values) // 2):
            if not (np.isfinite(first_ti_ms) and np.isfinite(spacing_ms) and first_ti_ms > 0 and spacing_ms > 0):
                raise MosaicError("The first TI and the spacing must be positive numbers (ms).")
            values = [float(first_ti_ms + k * spacing_ms) for k in range(len(values))]
            sources = ["spacing"] * len(values)
            if recognizer is not None:
                warnings.append(f"The TIs could not be read from the tiles ({n_read} of {len(values)}): "
                                "they are the first TI + k x spacing you entered.")
        elif n_read >= 3:
            values, sources = fill_tis(values, sources)
            estimated = [k + 1 for k, s in enumerate(sources) if s == "estimated"]
            if estimated:
                warnings.append(f"TI of tile(s) {', '.join(map(str, estimated))} could not be read and was estimated from "
                                "the neighbouring tiles: check it.")
    tiles = tuple(
        TileReading(k, r, c, quads[k], values[k], sources[k], texts[k][0], texts[k][1]) for k, (r, c) in enumerate(cells)
    )
    frames = np.stack([_frame_of_tile(tile, frame_boxes, settings.tile_px) for tile, frame_boxes in zip(tiles_px, boxes)])
    scout = None
    if all(v is not None for v in values):
        scout = scout_from_tiles(frames, values, settings.field_of_view_mm, tuple(warnings))
    elif ti_ms is None:
        warnings.append("The TIs could not be read from the tiles: enter them (or the first TI and the spacing).")
    return MosaicReading(tiles, n_rows, n_columns, (grey.shape[1], grey.shape[0]), frames, scout, tuple(warnings), ocr_name,
                         tuple(tuple(b) for b in boxes))


def _frame_of_tile(tile: np.ndarray, boxes, size: int) -> np.ndarray:
    """The tile without its text (each text line replaced by the background under it), reduced to ``size``."""
    import cv2

    frame = tile.astype(np.float32).copy()
    for x0, y0, x1, y1 in boxes:
        pad = max(1, int(0.3 * (y1 - y0)))
        region = frame[max(0, y0 - pad):y1 + pad, max(0, x0 - pad):x1 + pad]
        region[...] = np.float32(np.percentile(region, 25))  # the background under the (bright) text
    if frame.shape[0] == size:
        return frame
    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)


def scout_from_tiles(frames: np.ndarray, ti_ms, field_of_view_mm: float = DEFAULT_FIELD_OF_VIEW_MM,
                     warnings: tuple[str, ...] = ()) -> TIScout:
    """A TIScout (screen capture, magnitude display levels) from tiles in reading order and their TIs."""
    ti = np.asarray(ti_ms, dtype=float)
    if np.any(np.diff(ti) <= 0):
        raise MosaicError(f"The TIs must increase from tile to tile in reading order; got {[f'{v:g}' for v in ti]} ms.")
    spacing = float(field_of_view_mm) / frames.shape[2]
    return TIScout(
        frames=np.asarray(frames, np.float32), ti_ms=ti, pixel_spacing_mm=(spacing, spacing),
        ijk_to_ras=np.diag([-spacing, -spacing, 8.0, 1.0]), ti_source="mosaic photo", phase_sensitive=False, screen_capture=True,
        slice_label=f"mosaic of {frames.shape[0]} tiles",
        warnings=(*warnings, f"A photo carries no pixel size: the tiles are taken to show a {field_of_view_mm:g} mm field of view."),
    )


# ------------------------------------------------------------------------------------ the whole job
@dataclass(frozen=True)
class MosaicResult:
    """A mosaic photo analysed: what was read (tiles, TIs) and the pipeline's answer on the scout it makes."""

    reading: MosaicReading
    result: object  # core.results.ScoutResult

    def tile_statuses(self) -> list[str]:
        from TINullCorrectionLib.core.presentation import offset_status

        low_high = self.result.optimal_range_ms
        return [offset_status(frame.offset_from_null_ms, low_high) for frame in self.result.recommendation.frames]

    def annotated_image(self, image: np.ndarray) -> np.ndarray:
        """The photo with every tile outlined green / amber / red (its offset from the series null) and labelled."""
        from TINullCorrectionLib.core.presentation import draw_tile_verdicts

        frames = self.result.recommendation.frames
        labels = [f"TI {frame.ti_ms:.0f}: {frame.offset_from_null_ms:+.0f} ms" for frame in frames]
        return draw_tile_verdicts(image, [t.corners_px for t in self.reading.tiles], self.tile_statuses(), labels)

    def to_dict(self) -> dict:
        out = {"mode": "mosaic", "mosaic": self.reading.to_dict(), **self.result.to_dict()}
        out["warnings"] = list(dict.fromkeys([*self.reading.warnings, *out.get("warnings", [])]))
        return out


class TIsNeeded(MosaicError):
    """The tiles were found but their TIs could not be read: the user must enter them (the reading is attached)."""

    def __init__(self, message: str, reading: MosaicReading):
        super().__init__(message)
        self.reading = reading


def analyse_mosaic_photo(image: np.ndarray, model, settings=None, *, recognizer=None, myocardium_model=None,
                         ti_ms: list[float] | None = None, first_ti_ms: float | None = None, spacing_ms: float | None = None,
                         chosen_ti_ms: float | None = None, mosaic_settings: MosaicSettings = MosaicSettings(),
                         warnings=()) -> MosaicResult:
    """Read a mosaic photo (:func:`read_mosaic`) and run the TI pipeline (core.pipeline.analyse_scout: CNN +
    automatic myocardium + inversion-recovery fit) on the scout its tiles make. Raises TIsNeeded (with the
    reading) when the TIs could not be read and none were given."""
    from TINullCorrectionLib.core.pipeline import analyse_scout
    from TINullCorrectionLib.core.recommendation import RecommendationSettings

    reading = read_mosaic(image, recognizer, mosaic_settings, ti_ms=ti_ms, first_ti_ms=first_ti_ms, spacing_ms=spacing_ms)
    if reading.scout is None:
        raise TIsNeeded(
            f"Found {len(reading.tiles)} tiles but could not read their TIs: enter the TIs (or the first TI and the spacing).",
            reading)
    result = analyse_scout(reading.scout, model, settings if settings is not None else RecommendationSettings(),
                           myocardium_model=myocardium_model, chosen_ti_ms=chosen_ti_ms, warnings=tuple(warnings))
    return MosaicResult(reading, result)
