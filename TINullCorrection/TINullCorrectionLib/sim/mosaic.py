"""The console's mosaic of TI-scout frames, in three vendor-like styles, and a phone photo of it.

Scanner consoles show a TI scout as a grid of frames in acquisition order (left to right, top to bottom),
each with its TI printed in a corner among other annotations. The three styles below are **our
approximations** of what Siemens-, GE- and Philips-like viewers show (no vendor's screen was copied):
tile layout (columns), font (the DejaVu fonts that ship with matplotlib: sans, mono, serif), text colour,
where the TI stands and how it is written ("TI 245", "TI: 245", "TI 245 ms"), other corner annotations,
and how viewports are separated (thin grey lines, thin blue-grey lines, dark-grey gaps). Every viewport
has such a border, also on the outside of the grid (the reader relies on it: io/mosaic.py).

The mosaic is drawn at the monitor's own resolution (4K: 3840 x 2160; 3 MP: 2048 x 1536) inside a simple
viewer (dark UI panels with straight edges that are not tile borders), then photographed with
sim/photo.py's camera chain (hand-held perspective and framing, defocus, moire, glare, noise, JPEG).
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from TINullCorrectionLib.sim.photo import DisplayPhoto, display_window, photograph_display

VENDOR_STYLES = ("siemens", "ge", "philips")
MONITOR_PX = {"4k": (3840, 2160), "3mp": (2048, 1536)}
#: Annotation font height (monitor pixels) per monitor: fonts have a fixed size on screen (our choice).
FONT_PX = {"4k": (24, 34), "3mp": (15, 20)}


@dataclass(frozen=True)
class MosaicStyle:
    """How one vendor-like viewer draws the mosaic (our approximation)."""

    vendor: str
    font_file: str
    text_rgb: tuple[int, int, int]
    ti_template: str
    ti_corner: str                  # "tl", "tr", "bl", "br"
    corner_texts: dict              # corner -> annotation templates, edge first; the TI line is added to its corner
    separator_rgb: tuple[int, int, int]
    separator_px_4k: tuple[int, int]
    extra_columns: int              # columns = ceil(sqrt(n)) + extra_columns
    ti_line: int = 0                # line of the TI within its corner, counted from the tile edge


STYLES = {
    "siemens": MosaicStyle("siemens", "DejaVuSans.ttf", (235, 235, 235), "TI {ti}", "bl",
                           {"tl": ("IMA {index}", "SL 8.0"), "tr": ("TR {tr}",), "br": ("W {w}", "C {c}")},
                           (105, 105, 105), (2, 4), 0),
    "ge": MosaicStyle("ge", "DejaVuSansMono.ttf", (255, 226, 120), "TI: {ti}", "tr",
                      {"tr": ("Im: {index}/{n}",), "tl": ("Se: 7",), "bl": ("W:{w} L:{c}",)},
                      (70, 92, 150), (2, 3), 0, ti_line=1),
    "philips": MosaicStyle("philips", "DejaVuSerif.ttf", (195, 228, 255), "TI {ti} ms", "tl",
                           {"tl": (), "tr": ("LL_TFE",), "bl": ("{index}",), "br": ("WW {w}  WL {c}",)},
                           (52, 52, 52), (8, 12), 1),
}


def font_path(file_name: str) -> Path:
    """A TrueType font shipped with matplotlib (found without importing matplotlib)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("matplotlib (which ships the DejaVu fonts) is not installed.")
    path = Path(list(spec.submodule_search_locations)[0]) / "mpl-data" / "fonts" / "ttf" / file_name
    if not path.is_file():
        raise RuntimeError(f"Font {file_name} not found in matplotlib's fonts.")
    return path


@dataclass(frozen=True)
class RenderedMosaic:
    """The monitor image and where every frame is on it (monitor pixels, x right, y down)."""

    display: np.ndarray              # uint8 [H, W, 3]
    tile_boxes_px: np.ndarray        # [n_frames, 4] x0, y0, x1, y1 of each frame's image
    grid_box_px: tuple[int, int, int, int]  # the whole grid including its outer border
    rows: int
    columns: int
    displayed_ti_ms: np.ndarray      # [n_frames] the integers printed on the tiles
    style: str
    monitor: str
    font_px: int


def layout(n_frames: int, style: MosaicStyle) -> tuple[int, int]:
    """(rows, columns) of the mosaic of ``n_frames`` frames in ``style``."""
    columns = int(math.ceil(math.sqrt(n_frames))) + style.extra_columns
    return int(math.ceil(n_frames / columns)), columns


def render_mosaic(simulated, rng: np.random.Generator, style: str = "siemens", monitor: str = "4k",
                  print_ti: bool = True) -> RenderedMosaic:
    """Draw the frames of a SimulatedScout as the console's mosaic on a ``monitor`` ("4k" or "3mp").

    print_ti: False leaves the TI out of the annotations (a console configured without it: the reader must then
    be given the TIs)."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {VENDOR_STYLES}; got {style!r}.")
    if monitor not in MONITOR_PX:
        raise ValueError(f"monitor must be one of {tuple(MONITOR_PX)}; got {monitor!r}.")
    s = STYLES[style]
    scout = simulated.scout
    width, height = MONITOR_PX[monitor]
    rows, columns = layout(scout.n_frames, s)
    ui_grey = int(rng.integers(26, 46))
    canvas = Image.new("RGB", (width, height), (ui_grey,) * 3)
    draw = ImageDraw.Draw(canvas)
    # viewer: a left tool panel and a top toolbar with straight edges that are not tile borders
    left = int(width * rng.uniform(0.08, 0.16))
    top = int(height * rng.uniform(0.04, 0.08))
    panel = int(ui_grey + rng.integers(12, 30))
    draw.rectangle([0, top, left - int(width * 0.01), height - 1], fill=(panel,) * 3)
    draw.rectangle([0, 0, width - 1, top - int(height * 0.01)], fill=(panel + 10,) * 3)
    scale = width / MONITOR_PX["4k"][0]
    separator = max(1, int(round(rng.integers(s.separator_px_4k[0], s.separator_px_4k[1] + 1) * max(scale, 0.6))))
    available_w = width - left - int(width * 0.02)
    available_h = height - top - int(height * 0.02)
    aspect = scout.frames.shape[2] / scout.frames.shape[1]
    tile_h = int(min((available_h - separator) / rows - separator, (available_w - separator) / columns / aspect - separator))
    tile_w = int(round(tile_h * aspect))
    grid_w, grid_h = columns * (tile_w + separator) + separator, rows * (tile_h + separator) + separator
    x_origin = left + (available_w - grid_w) // 2
    y_origin = top + (available_h - grid_h) // 2
    draw.rectangle([x_origin, y_origin, x_origin + grid_w - 1, y_origin + grid_h - 1], fill=s.separator_rgb)
    display = display_window(scout.frames, rng, (0.85, 1.2))
    font_px = int(rng.integers(FONT_PX[monitor][0], FONT_PX[monitor][1] + 1))
    font = ImageFont.truetype(str(font_path(s.font_file)), font_px)
    window, level = int(rng.integers(300, 900)), int(rng.integers(150, 450))
    tr_ms = int(rng.integers(600, 1200))
    displayed = np.round(scout.ti_ms).astype(int)
    boxes = []
    for slot in range(rows * columns):
        row, column = divmod(slot, columns)
        x0 = x_origin + separator + column * (tile_w + separator)
        y0 = y_origin + separator + row * (tile_h + separator)
        draw.rectangle([x0, y0, x0 + tile_w - 1, y0 + tile_h - 1], fill=(0, 0, 0))
        if slot >= scout.n_frames:
            continue
        frame = Image.fromarray(np.round(display[slot] * 255).astype(np.uint8), mode="L").resize((tile_w, tile_h), Image.Resampling.BILINEAR)
        canvas.paste(frame.convert("RGB"), (x0, y0))
        boxes.append((x0, y0, x0 + tile_w, y0 + tile_h))
        values = {"ti": int(displayed[slot]), "index": slot + 1, "n": scout.n_frames, "w": window, "c": level, "tr": tr_ms}
        corners = {corner: [t.format(**values) for t in texts] for corner, texts in s.corner_texts.items()}
        if print_ti:
            lines = corners.setdefault(s.ti_corner, [])
            lines.insert(min(s.ti_line, len(lines)), s.ti_template.format(**values))
        margin, spacing = int(0.45 * font_px), int(1.3 * font_px)
        for corner, texts in corners.items():
            for line, text in enumerate(texts):
                text_w = draw.textlength(text, font=font)
                x = x0 + margin if corner[1] == "l" else x0 + tile_w - margin - text_w
                y = y0 + margin + line * spacing if corner[0] == "t" else y0 + tile_h - margin - (line + 1) * spacing
                draw.text((x, y), text, fill=s.text_rgb, font=font)
    return RenderedMosaic(np.asarray(canvas), np.asarray(boxes, dtype=float), (x_origin, y_origin, x_origin + grid_w, y_origin + grid_h),
                          rows, columns, displayed, style, monitor, font_px)


@dataclass(frozen=True)
class MosaicPhoto:
    """A phone photo of a rendered mosaic with its ground truth.

    tile_corners_px: [n_frames, 4, 2] camera-pixel corners (top-left, top-right, bottom-right, bottom-left) of
    every frame's image in the photo; displayed_ti_ms: the TIs printed on the tiles; simulated: the scout shown.
    field_of_view_mm: the scout's field of view across a tile (columns x column spacing).
    """

    photo: DisplayPhoto
    rendered: RenderedMosaic
    tile_corners_px: np.ndarray
    simulated: object
    field_of_view_mm: float

    @property
    def image(self) -> np.ndarray:
        return self.photo.image

    @property
    def displayed_ti_ms(self) -> np.ndarray:
        return self.rendered.displayed_ti_ms


def photograph_mosaic(rendered: RenderedMosaic, rng: np.random.Generator, simulated=None) -> MosaicPhoto:
    """A hand-held phone photo of the mosaic: the grid framed with a margin of 10-20%, rotated up to 3 degrees,
    corners displaced by up to the monitor's perspective setting (sim/photo.py), camera 2000-2600 pixels wide (a
    phone's 4000-pixel photo decoded at half scale, as cardiac_lge/phone.py reads it: 2000-3000 pixels are read as they are)."""
    from TINullCorrectionLib.sim.photo import SETTINGS

    x0, y0, x1, y1 = rendered.grid_box_px
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2]) + rng.uniform(-0.02, 0.02, 2) * np.array([x1 - x0, y1 - y0])
    half = np.array([x1 - x0, y1 - y0]) / 2 * rng.uniform(1.1, 1.2)
    corners = centre + half * np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]])
    angle = math.radians(rng.uniform(-3.0, 3.0))
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    corners = centre + (corners - centre) @ rotation.T
    corners += rng.uniform(-1, 1, (4, 2)) * SETTINGS[rendered.monitor].perspective * half
    camera_w = int(rng.integers(2000, 2601))
    camera_h = int(round(camera_w * half[1] / half[0]))
    photo = photograph_display(rendered.display, rng, rendered.monitor, corners, (camera_w, camera_h))
    boxes = rendered.tile_boxes_px
    quads = np.stack([boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [2, 3]], boxes[:, [0, 3]]], axis=1)
    fov = float("nan")
    if simulated is not None:
        fov = float(simulated.scout.frames.shape[2] * simulated.scout.pixel_spacing_mm[1])
    return MosaicPhoto(photo, rendered, photo.display_to_camera(quads), simulated, fov)


def simulate_mosaic_photo(rng: np.random.Generator, style: str = "siemens", monitor: str = "4k", simulated=None,
                          print_ti: bool = True, **simulation_overrides) -> MosaicPhoto:
    """Simulate a TI scout (or use ``simulated``), draw it as a ``style`` mosaic on ``monitor`` and photograph it."""
    from TINullCorrectionLib.sim.simulator import simulate_scout

    if simulated is None:
        simulated = simulate_scout(rng, **simulation_overrides)
    rendered = render_mosaic(simulated, rng, style, monitor, print_ti=print_ti)
    return photograph_mosaic(rendered, rng, simulated)
