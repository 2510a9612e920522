"""Photos taken at the console: the two modes shared by ``ti-correct --mosaic / --single-frame`` and the web
page of ``cardiac-lge serve``, so that both show the same numbers for the same picture.

* mosaic: a photo of the whole mosaic -> io.mosaic.analyse_mosaic_photo (tiles, TIs by OCR, then the TI
  pipeline core.pipeline.analyse_scout with the CNN, the automatic myocardium and the inversion-recovery fit);
* single frame: a picture of one frame + its TI -> core.pipeline.analyse_single_frame (single-frame network).

Pictures arrive as bytes and stay in memory (nothing is written); no file names are kept.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field

import numpy as np

#: What each console-photo job imports beyond the default install (the ``[phone]`` extra of pyproject.toml).
PHONE_MODULES = {"mosaic": ("cv2",), "serve": ("cv2", "fastapi", "uvicorn", "qrcode")}
PHONE_INSTALL = "pip install 'cardiac-lge[phone]'"


def require_phone_profile(job: str) -> None:
    """Raise a ValueError naming the install command when a module ``job`` needs is not installed."""
    import importlib.util

    def installed(name: str) -> bool:
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a broken or blocked installation counts as missing
            return False

    missing = [name for name in PHONE_MODULES[job] if not installed(name)]
    if missing:
        names = {"cv2": "opencv-python"}
        raise ValueError(f"{'cardiac-lge serve' if job == 'serve' else 'ti-correct --mosaic'} needs "
                         f"{', '.join(names.get(m, m) for m in missing)}, which the default install leaves out: "
                         f"install the phone profile with `{PHONE_INSTALL}`.")


#: Long side (pixels) of mosaic photos as read: a JPEG is decoded at the smallest of its reduced scales with a long side
#: of at least MOSAIC_MIN_LONG_SIDE_PX (a phone's 4000-pixel photo: at half scale) and resized only when still over
#: MOSAIC_LONG_SIDE_PX (io.images.decode_photo).
MOSAIC_LONG_SIDE_PX = 3000
MOSAIC_MIN_LONG_SIDE_PX = 2000
SINGLE_FRAME_LONG_SIDE_PX = 1024


@dataclass
class PhoneModels:
    """The networks and the OCR, loaded once (lazily) and shared by every request (thread-safe loading)."""

    ti_model_path: str | None = None
    myocardium_model_path: str | None = None
    single_frame_model_path: str | None = None
    use_ocr: bool = True
    #: onnxruntime threads of every network and the OCR (None: all cores; the web server sets cores / workers)
    threads: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)

    def _get(self, name: str, loader):
        with self._lock:
            if name not in self._cache:
                self._cache[name] = loader()
            return self._cache[name]

    @property
    def ti_model(self):
        from TINullCorrectionLib.networks.ti_offset import load_model

        return self._get("ti", lambda: load_model(self.ti_model_path, threads=self.threads))

    @property
    def myocardium_model(self):
        from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model

        return self._get("myocardium", lambda: load_segmentation_model(self.myocardium_model_path, threads=self.threads))

    @property
    def single_frame_model(self):
        from TINullCorrectionLib.networks.single_frame import load_single_frame_model

        return self._get("single", lambda: load_single_frame_model(self.single_frame_model_path, self.threads))

    @property
    def recognizer(self):
        if not self.use_ocr:
            return None
        from TINullCorrectionLib.io.ocr import RapidTextRecognizer

        return self._get("ocr", lambda: RapidTextRecognizer(self.threads))

    def warm_up(self) -> None:
        """Load everything and run each path once on a small simulated input (the first run is slower)."""
        from TINullCorrectionLib.sim.mosaic import simulate_mosaic_photo

        _ = self.ti_model, self.myocardium_model, self.single_frame_model, self.recognizer
        mosaic = simulate_mosaic_photo(np.random.default_rng(0), "siemens", "4k", n_frames=6, matrix=128)
        data = encode_jpeg(mosaic.image)
        try:
            analyse_mosaic_bytes(data, self)
        except ValueError:
            pass
        analyse_single_frame_bytes(encode_jpeg(np.asarray(mosaic.simulated.scout.frames[2] / max(1.0, float(mosaic.simulated.scout.frames.max())) * 255,
                                                          np.uint8)), 200.0, self)


def encode_jpeg(image: np.ndarray, quality: int = 88) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@dataclass(frozen=True)
class PhoneAnswer:
    """What both front ends show: the JSON form of the result, its text report, the annotated picture (JPEG).

    display: the strings the web page shows, formatted here (Python, like the CLI's report) from ``result``.
    """

    result: dict
    report: str
    annotated_jpeg: bytes

    @property
    def display(self) -> dict:
        return display_values(self.result)


def _ms(value) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def display_values(result: dict) -> dict:
    """The page's texts from a result's JSON form (mosaic or single frame); numbers as the CLI prints them."""
    out = {"null_ti": _ms(result.get("null_ti_ms")), "recommended_ti": _ms(result.get("recommended_lge_ti_ms")),
           "verdict": "", "verdict_class": "", "detail": ""}
    uncertainty = result.get("null_uncertainty_ms")
    if uncertainty is not None:
        out["null_ti"] += f" \u00b1 {uncertainty:.0f}"
    chosen = result.get("chosen")
    if result.get("mode") == "single-frame":
        frame = (f"This frame (TI {result['ti_ms']:.0f} ms) is {result['offset_from_null_ms']:+.0f} ms from the null "
                 f"(confidence {100 * result['confidence']:.0f}%): {result['frame_status']}")
        out["verdict"] = frame + ("" if result["frame_in_optimal_range"] else f" \u2013 change TI to {result['change_ti_to_ms']:.0f} ms")
        out["verdict_class"] = result["frame_status"].replace(" ", "-")
        out["detail"] = "Single-frame mode: one picture without its neighbours; a photo of the whole mosaic is more accurate."
    elif result.get("method"):
        out["detail"] = f"Method: {result['method']}; {result.get('n_frames', 0)} tiles"
    if chosen is not None:
        advice = "keep it" if chosen["in_optimal_range"] else f"change it to {chosen['change_to_ms']:.0f} ms"
        text = f"Your TI {chosen['chosen_ti_ms']:.0f} ms: {chosen['verdict']} \u2013 {advice}"
        out["verdict"] = f"{out['verdict']}. {text}" if out["verdict"] else text
        if not out["verdict_class"]:
            out["verdict_class"] = chosen["verdict"].replace(" ", "-")
    return out


def decode_mosaic_photo(data: bytes) -> np.ndarray:
    """RGB uint8 of a mosaic photo as the mosaic reader takes it (see MOSAIC_LONG_SIDE_PX)."""
    from TINullCorrectionLib.io.images import decode_photo

    return decode_photo(data, MOSAIC_LONG_SIDE_PX, min_long_side_px=MOSAIC_MIN_LONG_SIDE_PX)


def analyse_mosaic_bytes(data: bytes, models: PhoneModels, settings=None, *, ti_ms=None, first_ti_ms=None, spacing_ms=None,
                         chosen_ti_ms=None, field_of_view_mm: float | None = None) -> PhoneAnswer:
    """A photo of the whole mosaic (bytes) -> the answer. Raises ScoutError (io.mosaic.TIsNeeded when the TIs
    must be entered) with a message for the user."""
    from TINullCorrectionLib.core.presentation import scout_report_lines
    from TINullCorrectionLib.io.mosaic import MosaicSettings, analyse_mosaic_photo
    from TINullCorrectionLib.networks.measured_accuracy import mosaic_accuracy_warning

    image = decode_mosaic_photo(data)
    mosaic_settings = MosaicSettings() if field_of_view_mm is None else MosaicSettings(field_of_view_mm=float(field_of_view_mm))
    answer = analyse_mosaic_photo(
        image, models.ti_model, settings, recognizer=models.recognizer if ti_ms is None else None,
        myocardium_model=models.myocardium_model, ti_ms=ti_ms, first_ti_ms=first_ti_ms, spacing_ms=spacing_ms,
        chosen_ti_ms=chosen_ti_ms, mosaic_settings=mosaic_settings, warnings=(mosaic_accuracy_warning(),),
    )
    reading = answer.reading
    lines = [f"Mosaic: {reading.rows} x {reading.columns} viewports, {len(reading.tiles)} tiles with an image; TIs "
             + ", ".join(f"{t.ti_ms:.0f}{'' if t.ti_source in ('ocr', 'user') else '?'}" for t in reading.tiles) + " ms"
             + (f" (read by {reading.ocr_name}; ? = estimated or entered)" if reading.ocr_name else "")]
    lines += scout_report_lines(answer.result)
    return PhoneAnswer(answer.to_dict(), "\n".join(lines), encode_jpeg(answer.annotated_image(image)))


def analyse_single_frame_bytes(data: bytes, ti_ms: float, models: PhoneModels, settings=None, *, chosen_ti_ms=None) -> PhoneAnswer:
    """A picture of one frame (bytes) and its TI -> the single-frame answer."""
    from TINullCorrectionLib.core.pipeline import analyse_single_frame
    from TINullCorrectionLib.core.presentation import draw_tile_verdicts, offset_status
    from TINullCorrectionLib.core.recommendation import RecommendationSettings
    from TINullCorrectionLib.core.single_frame import SingleFrame, single_frame_report
    from TINullCorrectionLib.io.images import decode_photo, luminance

    settings = settings if settings is not None else RecommendationSettings()
    if ti_ms is None:
        from TINullCorrectionLib.core.types import ScoutError

        raise ScoutError("A single frame needs its TI: enter the TI printed with the frame.")
    image = decode_photo(data, SINGLE_FRAME_LONG_SIDE_PX)
    frame = SingleFrame(luminance(image), float(ti_ms), screen_capture=True)
    from TINullCorrectionLib.networks.measured_accuracy import single_frame_accuracy_warning

    result = analyse_single_frame(frame, models.single_frame_model, settings, chosen_ti_ms=chosen_ti_ms,
                                  warnings=(single_frame_accuracy_warning(),))
    height, width = image.shape[:2]
    quad = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], float)
    status = offset_status(result.offset_from_null_ms, settings.optimal_range_ms)
    label = f"TI {result.ti_ms:.0f}: {result.offset_from_null_ms:+.0f} ms"
    annotated = draw_tile_verdicts(image, [quad], [status], [label], line_px=max(4, width // 80))
    return PhoneAnswer(result.to_dict(), single_frame_report(result), encode_jpeg(annotated))
