"""Reading the TI printed on a tile: an OCR wrapper and the parser of its text.

OCR: RapidOCR (``rapidocr_onnxruntime``; PaddleOCR's PP-OCRv4 text recogniser run by onnxruntime on the
CPU). Its model files ship inside the wheel and are loaded from there by path: nothing is downloaded at
run time (tested). Only the recogniser runs (no text detector): io/mosaic.py finds the text lines itself
and hands the recogniser one crop per line, which is what keeps a 20-tile mosaic within a second.

The parser accepts the ways consoles print the TI ("TI 245", "TI: 245", "TI=245", "TI 245 ms") and the
usual OCR confusions in it (T1 / Tl for TI; O for 0 in the number).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_TI_PATTERN = re.compile(r"(?<![A-Z0-9])T\s?[I1L|!]\s*[:=.,;]?\s*([0-9OQD]{2,4}(?:[.,][0-9])?)(?![0-9])")
_DIGIT_FIXES = str.maketrans({"O": "0", "Q": "0", "D": "0"})
TI_LIMITS_MS = (5.0, 4000.0)


def parse_ti_text(text: str) -> float | None:
    """The TI (ms) in one line of OCR text, or None: 'TI 245' -> 245.0, 'T1: 31O' -> 310.0, 'IMA 12' -> None."""
    match = _TI_PATTERN.search(str(text).upper().replace("\u3000", " "))
    if match is None:
        return None
    try:
        value = float(match.group(1).translate(_DIGIT_FIXES).replace(",", "."))
    except ValueError:
        return None
    return value if TI_LIMITS_MS[0] <= value <= TI_LIMITS_MS[1] else None


_NUMBER = re.compile(r"[0-9OQD]{2,4}(?:[.,][0-9])?")


def parse_ti_number(text: str) -> float | None:
    """The TI (ms) in text read where a tile's TI is known to be printed: the last 2-4 digit number
    ('T1:187' -> 187.0, '11:242' -> 242.0, 'TI 310 ms' -> 310.0); None when there is none."""
    candidates = _NUMBER.findall(str(text).upper().replace("MS", " "))
    for candidate in reversed(candidates):
        try:
            value = float(candidate.translate(_DIGIT_FIXES).replace(",", "."))
        except ValueError:
            continue
        if TI_LIMITS_MS[0] <= value <= TI_LIMITS_MS[1]:
            return value
    return None


def parse_ti_at_ti_place(text: str) -> float | None:
    """The TI (ms) in text read where a tile's TI is known to be printed: the number after a "TI" label when there is
    one ('T1123' -> 123.0: the recogniser read the I as a 1 and lost the space, which the last number, 1123, would
    get wrong; 'TI 1123' -> 1123.0), else the last 2-4 digit number (:func:`parse_ti_number`: '11:242' -> 242.0)."""
    labelled = parse_ti_text(text)
    return labelled if labelled is not None else parse_ti_number(text)


def ti_candidates(text: str) -> tuple[float, ...]:
    """Every TI (ms) the text read where a tile's TI is printed can mean, the likeliest first
    (:func:`parse_ti_at_ti_place`), then the numbers the recogniser may have merged with a misread label: the last
    3 and 4 digits of every run of digits ('T1361' -> 361 (T, I as 1, 361) or 1361 (the I lost); '11363' -> 1136,
    1363 or 363; '7421' -> 421: 7421 ms is out of range). The tiles' own progression chooses (:func:`consistent_tis` in
    io/mosaic.py); a tile none of whose candidates fits is left unread."""
    out = []
    first = parse_ti_at_ti_place(text)
    if first is not None:
        out.append(first)
    for run in reversed(re.findall(r"[0-9]+", str(text))):
        for length in range(min(4, len(run)), 2, -1):
            value = float(run[-length:])
            if TI_LIMITS_MS[0] <= value <= TI_LIMITS_MS[1] and value not in out and run[-length] != "0":
                out.append(value)
    return tuple(out)


class OCRUnavailableError(RuntimeError):
    """The OCR library is not installed: TIs must be entered (first TI and spacing, or every TI)."""


@dataclass(frozen=True)
class TextLine:
    text: str
    score: float


class RapidTextRecognizer:
    """PP-OCRv4 text-line recogniser of ``rapidocr_onnxruntime`` on the CPU, models from the installed wheel.

    threads: onnxruntime intra-op threads (default: onnxruntime's choice, all cores; the web server gives each of
    its workers its share so that several requests do not compete for the same cores).
    Thread-safe: one lock around the session (onnxruntime sessions may run concurrently, but one at a time
    keeps the memory and the CPU use of a small server bounded).
    """

    def __init__(self, threads: int | None = None):
        from CardiacLGECommonLib.core.offline import disable_onnxruntime_telemetry

        disable_onnxruntime_telemetry()  # before the library starts onnxruntime
        try:
            import rapidocr_onnxruntime
            from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer
        except ImportError as error:  # pragma: no cover - depends on the installation
            raise OCRUnavailableError(
                "The OCR library rapidocr_onnxruntime is not installed (pip install rapidocr_onnxruntime): "
                "enter the TIs by hand."
            ) from error
        self.model_path = Path(rapidocr_onnxruntime.__file__).parent / "models" / "ch_PP-OCRv4_rec_infer.onnx"
        if not self.model_path.is_file():
            raise OCRUnavailableError(f"The OCR model is missing from the installed package: {self.model_path}")
        config = {"model_path": str(self.model_path), "use_cuda": False, "use_dml": False, "rec_img_shape": [3, 48, 160],
                  "rec_batch_num": 8, "intra_op_num_threads": -1 if threads is None else int(threads), "inter_op_num_threads": 1}
        self._recognizer = TextRecognizer(config)
        self._lock = threading.Lock()
        self.name = "RapidOCR PP-OCRv4 text recogniser (rapidocr_onnxruntime)"

    def read_lines(self, crops: list[np.ndarray]) -> list[TextLine]:
        """Text of every crop (uint8 [h, w] or [h, w, 3], one line of text each)."""
        if not crops:
            return []
        images = [np.ascontiguousarray(np.repeat(c[..., None], 3, axis=2) if c.ndim == 2 else c, dtype=np.uint8) for c in crops]
        with self._lock:
            results, _ = self._recognizer(images)
        return [TextLine(str(text), float(score)) for text, score in results]


_DEFAULT: RapidTextRecognizer | None = None
_DEFAULT_LOCK = threading.Lock()


def default_text_recognizer() -> RapidTextRecognizer:
    """The process-wide recogniser (created on first use: about a second)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = RapidTextRecognizer()
        return _DEFAULT
