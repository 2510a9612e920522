"""Degrade TI scout frames as a smartphone photo of the scanner's monitor.

Reproduces the published set-up (Eur Radiol 2023;33(7):4688-4697: photos of a 4K and of a 3 MP
monitor; accuracy 93.5% and 89.6% against 96.4% on the original images). The chain, per series:

1. display windowing to 8 bit, one window for the whole series (lo..hi from percentiles, randomised);
2. the monitor's scaler: resize of the frame to the tile it occupies on the screen (bilinear);
   a 3 MP monitor (2048 x 1536) gives a frame fewer pixels than a 4K one (3840 x 2160);
3. display gamma and the camera's tone curve (net power law) plus black level lift (ambient light);
4. the phone camera: a small random homography (perspective of a hand-held photo), defocus blur,
   a moire pattern (beat between the monitor's pixel grid and the camera's sensor, modelled as a
   low-amplitude cosine interference pattern), glare (a smooth additive blob), sensor noise;
5. JPEG compression (Pillow) at the camera's resolution;
6. resampling back to the working matrix (area-averaging resize).

Every amplitude below is **our choice** (no published measurement); the 3 MP monitor is worse in
every respect (fewer display pixels, stronger moire, more glare and gamma deviation, lower JPEG
quality). Output intensities are 8-bit display levels (0..255) as float32; a phase-sensitive series
photographed from the screen loses its sign convention (zero signal is mid-grey), so the degraded
scout is marked magnitude (``phase_sensitive=False``), like any photo loaded from disk.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageFilter

from TINullCorrectionLib.core.types import TIScout

MONITORS = ("4k", "3mp")


@dataclass(frozen=True)
class MonitorPhotoSettings:
    """Ranges of the degradation for one monitor (uniform draws); all our choice."""

    tile_px: tuple[float, float]            # monitor pixels across one displayed frame
    camera_zoom: tuple[float, float]        # camera pixels per working-matrix pixel (before resampling back)
    window_high_percentile_scale: tuple[float, float]
    gamma: tuple[float, float]              # net display x camera tone curve exponent
    black_level: tuple[float, float]        # ambient reflection, fraction of white
    perspective: float                      # max corner displacement, fraction of the frame size
    defocus_px: tuple[float, float]         # camera blur sigma, camera pixels
    moire_amplitude: tuple[float, float]    # relative modulation
    moire_period_px: tuple[float, float]    # camera pixels
    glare_amplitude: tuple[float, float]    # fraction of white
    noise_levels: tuple[float, float]       # sensor noise sigma in 8-bit levels
    jpeg_quality: tuple[int, int]


SETTINGS = {
    "4k": MonitorPhotoSettings(
        tile_px=(500.0, 900.0), camera_zoom=(1.5, 2.5), window_high_percentile_scale=(0.85, 1.2),
        gamma=(0.9, 1.1), black_level=(0.0, 0.04), perspective=0.03, defocus_px=(0.3, 0.8),
        moire_amplitude=(0.0, 0.04), moire_period_px=(3.0, 12.0), glare_amplitude=(0.0, 0.12),
        noise_levels=(0.5, 2.0), jpeg_quality=(75, 95),
    ),
    "3mp": MonitorPhotoSettings(
        tile_px=(220.0, 420.0), camera_zoom=(1.5, 2.5), window_high_percentile_scale=(0.75, 1.3),
        gamma=(0.75, 1.3), black_level=(0.02, 0.10), perspective=0.05, defocus_px=(0.5, 1.3),
        moire_amplitude=(0.02, 0.10), moire_period_px=(3.0, 12.0), glare_amplitude=(0.03, 0.25),
        noise_levels=(1.5, 4.0), jpeg_quality=(60, 85),
    ),
}
_MAX_CAMERA_PX = 512


def _settings(monitor: str) -> MonitorPhotoSettings:
    key = str(monitor).lower()
    if key not in SETTINGS:
        raise ValueError(f"monitor must be one of {MONITORS}; got {monitor!r}.")
    return SETTINGS[key]


def display_window(frames: np.ndarray, rng: np.random.Generator, high_scale: tuple[float, float]) -> np.ndarray:
    """Window the whole series to [0, 1] and quantise to 8 bit: lo = min (0 for magnitude), hi = scaled p99.5."""
    low = float(min(0.0, np.percentile(frames, 0.5)))
    high = float(np.percentile(frames, 99.5)) * rng.uniform(*high_scale)
    if not high > low:
        high = low + 1.0
    return np.round(np.clip((frames - low) / (high - low), 0.0, 1.0) * 255.0) / 255.0


def perspective_coefficients(source_corners: np.ndarray, size: tuple[int, int]) -> tuple[float, ...]:
    """Pillow PERSPECTIVE coefficients mapping output pixel (x, y) of an image of ``size`` (w, h) to the
    source corners (top-left, top-right, bottom-right, bottom-left): x_s = (a x + b y + c)/(g x + h y + 1)."""
    w, h = size
    target = np.array([[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]])
    matrix, rhs = [], []
    for (x, y), (xs, ys) in zip(target, np.asarray(source_corners, dtype=float)):
        matrix.append([x, y, 1, 0, 0, 0, -xs * x, -xs * y])
        matrix.append([0, 0, 0, x, y, 1, -ys * x, -ys * y])
        rhs.extend([xs, ys])
    return tuple(float(c) for c in np.linalg.solve(np.array(matrix), np.array(rhs)))


@dataclass(frozen=True)
class _PhotoDraw:
    monitor_px: tuple[int, int]
    camera_px: tuple[int, int]
    coefficients: tuple[float, ...]
    gamma: float
    black: float
    defocus: float
    moire: np.ndarray            # [Hc, Wc] multiplicative pattern
    glare_centre: np.ndarray     # (x, y) camera pixels
    glare_sigma: float
    glare_amplitude: float
    noise: float
    quality: int


def _draw(rng: np.random.Generator, s: MonitorPhotoSettings, shape: tuple[int, int]) -> _PhotoDraw:
    rows, cols = shape
    tile = rng.uniform(*s.tile_px)
    zoom = rng.uniform(*s.camera_zoom)
    scale = min(1.0, _MAX_CAMERA_PX / (max(rows, cols) * zoom))
    camera = (max(8, int(round(cols * zoom * scale))), max(8, int(round(rows * zoom * scale))))
    monitor_scale = tile / max(rows, cols)
    monitor = (max(4, int(round(cols * monitor_scale))), max(4, int(round(rows * monitor_scale))))
    # the monitor image is never needed finer than the camera sees it (the camera would average it)
    if monitor[0] > camera[0]:
        monitor = camera
    corners = np.array([[0.0, 0.0], [monitor[0], 0.0], [monitor[0], monitor[1]], [0.0, monitor[1]]])
    corners += rng.uniform(-s.perspective, s.perspective, size=(4, 2)) * np.array(monitor, dtype=float)
    coefficients = perspective_coefficients(corners, camera)
    yy, xx = np.mgrid[0 : camera[1], 0 : camera[0]].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(*s.moire_period_px)
    # slight chirp: the beat frequency drifts across the photo (perspective of the pixel grid)
    phase = 2 * np.pi / period * (xx * np.cos(angle) + yy * np.sin(angle))
    phase *= 1.0 + rng.uniform(-0.1, 0.1) * (xx / camera[0] - 0.5)
    moire = 1.0 + rng.uniform(*s.moire_amplitude) * np.cos(phase + rng.uniform(0, 2 * np.pi))
    return _PhotoDraw(
        monitor_px=monitor, camera_px=camera, coefficients=coefficients, gamma=rng.uniform(*s.gamma),
        black=rng.uniform(*s.black_level), defocus=rng.uniform(*s.defocus_px), moire=moire.astype(np.float32),
        glare_centre=rng.uniform(0, 1, size=2) * np.array(camera), glare_sigma=rng.uniform(0.2, 0.6) * max(camera),
        glare_amplitude=rng.uniform(*s.glare_amplitude), noise=rng.uniform(*s.noise_levels),
        quality=int(rng.integers(s.jpeg_quality[0], s.jpeg_quality[1] + 1)),
    )


def _warp_to_camera(image: Image.Image, p: _PhotoDraw) -> Image.Image:
    monitor = image.resize(p.monitor_px, Image.Resampling.BILINEAR)
    return monitor.transform(p.camera_px, Image.Transform.PERSPECTIVE, p.coefficients, Image.Resampling.BILINEAR)


def _photo_frame(display: np.ndarray, rng: np.random.Generator, p: _PhotoDraw, out_shape: tuple[int, int]) -> np.ndarray:
    image = Image.fromarray(np.round(display * 255.0).astype(np.uint8), mode="L")
    camera = _warp_to_camera(image, p)
    if p.defocus > 0:
        camera = camera.filter(ImageFilter.GaussianBlur(p.defocus))
    values = np.asarray(camera, dtype=np.float32) / 255.0
    centre = p.glare_centre + rng.normal(0.0, 0.02 * max(p.camera_px), size=2)  # hand moves between photos
    glare = _glare_field(p.camera_px, centre, p.glare_sigma)
    noise = rng.normal(0.0, p.noise, size=values.shape).astype(np.float32)
    decoded = _jpeg_roundtrip(_camera_response(values, p.gamma, p.black, p.moire, p.glare_amplitude * glare, noise), p.quality)
    back = decoded.resize((out_shape[1], out_shape[0]), Image.Resampling.BILINEAR, reducing_gap=None)
    return np.asarray(back, dtype=np.float32)


def _glare_field(camera_px: tuple[int, int], centre: np.ndarray, sigma: float) -> np.ndarray:
    """A smooth additive glare blob [Hc, Wc] of peak 1 (reflection of a light source on the screen)."""
    yy, xx = np.ogrid[0 : camera_px[1], 0 : camera_px[0]]
    return np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * sigma**2)).astype(np.float32)


def _camera_response(values: np.ndarray, gamma: float, black: float, moire: np.ndarray, glare: np.ndarray,
                     noise_levels: np.ndarray) -> np.ndarray:
    """Display levels 0..1 seen by the camera -> 8-bit camera values: tone curve and black level, moire
    (multiplicative), glare (additive, fraction of white) and sensor noise (8-bit levels). [H, W] or [H, W, 3]."""
    if values.ndim == 3:
        moire, glare = moire[..., None], glare[..., None]
    out = black + (1.0 - black) * np.power(values, gamma)
    out = out * moire + glare
    return np.clip(np.round(out * 255.0 + noise_levels), 0, 255).astype(np.uint8)


def _jpeg_roundtrip(values: np.ndarray, quality: int) -> Image.Image:
    """Encode the camera image as the phone does (JPEG at ``quality``) and decode it again."""
    buffer = io.BytesIO()
    Image.fromarray(values, mode="L" if values.ndim == 2 else "RGB").save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer)


def _degrade(frames: np.ndarray, rng: np.random.Generator, monitor: str, out_shape, indices=None) -> tuple[np.ndarray, _PhotoDraw]:
    settings = _settings(monitor)
    array = np.asarray(frames, dtype=np.float32)
    if array.ndim != 3 or array.shape[1] < 4 or array.shape[2] < 4:
        raise ValueError(f"frames must be [N, H, W] or [H, W] with H, W >= 4; got shape {np.shape(frames)}.")
    if not np.all(np.isfinite(array)):
        raise ValueError("frames contain NaN or infinite values.")
    shape = tuple(array.shape[1:]) if out_shape is None else (int(out_shape[0]), int(out_shape[1]))
    display = display_window(array, rng, settings.window_high_percentile_scale)
    draw = _draw(rng, settings, array.shape[1:])
    chosen = range(len(display)) if indices is None else [int(i) for i in indices]
    return np.stack([_photo_frame(display[i], rng, draw, shape) for i in chosen]), draw


def degrade_as_monitor_photo(
    frames: np.ndarray, rng: np.random.Generator, monitor: str = "4k", out_shape: tuple[int, int] | None = None
) -> np.ndarray:
    """Smartphone photo of the frames shown on a ``monitor`` ("4k" or "3mp"); float32 0..255 display levels.

    frames: [N, H, W] (one series: one display window, one camera pose with small hand motion between
    photos) or one frame [H, W]. Returns the same layout at ``out_shape`` (default: the input H, W).
    Deterministic for a given ``rng`` state.
    """
    array = np.asarray(frames, dtype=np.float32)
    single = array.ndim == 2
    photo, _ = _degrade(array[None] if single else array, rng, monitor, out_shape)
    return photo[0] if single else photo


def photograph_frames(frames: np.ndarray, rng: np.random.Generator, monitor: str, indices) -> np.ndarray:
    """Photos of the frames ``indices`` of one series [N, H, W] (float32 0..255, [len(indices), H, W]): the display
    window of the whole series, one camera pose, only the chosen frames photographed (training pictures cost a
    fraction of a whole-series photo)."""
    photo, _ = _degrade(np.asarray(frames, dtype=np.float32), rng, monitor, None, indices)
    return photo


def _warp_mask(mask: np.ndarray, p: _PhotoDraw, out_shape: tuple[int, int]) -> np.ndarray:
    camera = _warp_to_camera(Image.fromarray(mask.astype(np.uint8) * 255, mode="L"), p)
    back = camera.resize((out_shape[1], out_shape[0]), Image.Resampling.BILINEAR, reducing_gap=None)
    return np.asarray(back) >= 128


def degrade_scout_as_photo(sim, rng: np.random.Generator, monitor: str = "4k"):
    """A SimulatedScout photographed from the monitor: same TIs and labels, frames degraded, masks moved
    with the same perspective warp; the scout is magnitude (display levels) with a note in ``warnings``."""
    scout: TIScout = sim.scout
    shape = tuple(scout.frames.shape[1:])
    photo, draw = _degrade(scout.frames, rng, monitor, shape)
    new_scout = replace(
        scout, frames=photo, phase_sensitive=False, screen_capture=True,
        warnings=(*scout.warnings, f"simulated smartphone photo of a {monitor} monitor"),
    )
    parameters = dict(sim.parameters)
    parameters["photo"] = {"monitor": str(monitor).lower(), "camera_px": draw.camera_px,
                           "monitor_px": draw.monitor_px, "jpeg_quality": draw.quality,
                           "gamma": draw.gamma, "glare_amplitude": draw.glare_amplitude}
    return replace(
        sim, scout=new_scout, parameters=parameters,
        myocardium_mask=_warp_mask(sim.myocardium_mask, draw, shape),
        blood_mask=_warp_mask(sim.blood_mask, draw, shape),
        scar_mask=_warp_mask(sim.scar_mask, draw, shape),
    )


# ------------------------------------------------------------------------------- whole-display photos
@dataclass(frozen=True)
class DisplayPhoto:
    """A phone photo of a whole display (e.g. the console's mosaic of TI-scout frames).

    image: uint8 [Hc, Wc, 3] as the phone stores it (after JPEG).
    camera_to_display: 3x3 homography mapping camera pixel (x, y, 1) to display pixel coordinates.
    """

    image: np.ndarray
    camera_to_display: np.ndarray
    monitor: str
    jpeg_quality: int

    def display_to_camera(self, points_xy: np.ndarray) -> np.ndarray:
        """Display pixel coordinates [..., 2] (x, y) -> camera pixel coordinates [..., 2]."""
        points = np.asarray(points_xy, dtype=float)
        flat = np.c_[points.reshape(-1, 2), np.ones(points.size // 2)] @ np.linalg.inv(self.camera_to_display).T
        return (flat[:, :2] / flat[:, 2:]).reshape(points.shape)


def homography_of(coefficients: tuple[float, ...]) -> np.ndarray:
    """3x3 matrix of Pillow PERSPECTIVE coefficients (output pixel -> source pixel)."""
    a, b, c, d, e, f, g, h = coefficients
    return np.array([[a, b, c], [d, e, f], [g, h, 1.0]])


def photograph_display(display: np.ndarray, rng: np.random.Generator, monitor: str, source_corners: np.ndarray,
                       camera_px: tuple[int, int]) -> DisplayPhoto:
    """Photograph a display image (uint8 [H, W, 3] in monitor pixels) with the phone camera of ``monitor``'s settings.

    source_corners: display coordinates (x, y) seen at the camera image's top-left, top-right, bottom-right and
    bottom-left corners (the framing and perspective of the hand-held photo). The chain is that of
    :func:`degrade_as_monitor_photo` after the monitor's scaler: perspective warp (anti-aliased: the display is
    first reduced to about the camera's scale), defocus, tone curve and black level, moire, glare, sensor noise, JPEG.
    Every amplitude is our choice (MonitorPhotoSettings of ``monitor``).
    """
    s = _settings(monitor)
    image = Image.fromarray(np.asarray(display, dtype=np.uint8), mode="RGB")
    corners = np.asarray(source_corners, dtype=float)
    framed_width = float(np.linalg.norm(corners[1] - corners[0]))
    scale = min(1.0, camera_px[0] / max(framed_width, 1.0))
    if scale < 1.0:
        image = image.resize((max(8, int(round(image.width * scale))), max(8, int(round(image.height * scale)))),
                             Image.Resampling.LANCZOS)
        corners = corners * np.array([image.width / display.shape[1], image.height / display.shape[0]])
    coefficients = perspective_coefficients(corners, camera_px)
    camera = image.transform(camera_px, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR)
    camera = camera.filter(ImageFilter.GaussianBlur(rng.uniform(*s.defocus_px)))
    values = np.asarray(camera, dtype=np.float32) / 255.0
    yy, xx = np.mgrid[0 : camera_px[1], 0 : camera_px[0]].astype(np.float32)
    angle, period = rng.uniform(0, np.pi), rng.uniform(*s.moire_period_px)
    phase = 2 * np.pi / period * (xx * np.cos(angle) + yy * np.sin(angle))
    phase *= 1.0 + rng.uniform(-0.1, 0.1) * (xx / camera_px[0] - 0.5)
    moire = (1.0 + rng.uniform(*s.moire_amplitude) * np.cos(phase + rng.uniform(0, 2 * np.pi))).astype(np.float32)
    glare = _glare_field(camera_px, rng.uniform(0, 1, size=2) * np.array(camera_px), rng.uniform(0.2, 0.6) * max(camera_px))
    gamma, black = rng.uniform(*s.gamma), rng.uniform(*s.black_level)
    glare_amplitude = rng.uniform(*s.glare_amplitude)
    noise = rng.normal(0.0, rng.uniform(*s.noise_levels), size=values.shape).astype(np.float32)
    quality = int(rng.integers(s.jpeg_quality[0], s.jpeg_quality[1] + 1))
    photo = _jpeg_roundtrip(_camera_response(values, gamma, black, moire, glare_amplitude * glare, noise), quality)
    to_reduced = homography_of(coefficients)
    unscale = np.diag([display.shape[1] / image.width, display.shape[0] / image.height, 1.0])
    return DisplayPhoto(np.asarray(photo.convert("RGB")), unscale @ to_reduced, str(monitor).lower(), quality)
