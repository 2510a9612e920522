"""OCR of the TIs: the parsers, and RapidOCR's recogniser reading rendered text without any network access."""

import socket

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from TINullCorrectionLib.io.ocr import (
    RapidTextRecognizer,
    parse_ti_at_ti_place,
    parse_ti_number,
    parse_ti_text,
    ti_candidates,
)
from TINullCorrectionLib.sim.mosaic import font_path


@pytest.mark.parametrize(("text", "expected"), [
    ("TI 245", 245.0), ("TI: 245", 245.0), ("TI=1003", 1003.0), ("TI 310 ms", 310.0), ("TI245ms", 245.0),
    ("T1: 31O", 310.0), ("Tl 88", 88.0), ("ti 120", 120.0),
    ("IMA 12", None), ("TR 855", None), ("W 612 C 365", None), ("TI Scout", None), ("TI 2", None), ("TI 9000", None),
])
def test_parse_ti_text(text, expected):
    assert parse_ti_text(text) == expected


@pytest.mark.parametrize(("text", "expected"), [("T1:187", 187.0), ("11:242", 242.0), ("TI 310 ms", 310.0), ("A1", None), ("", None)])
def test_parse_ti_number_takes_the_last_number(text, expected):
    assert parse_ti_number(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("T1123", 123.0),    # "TI 123" with the I read as 1 and the space lost: the last number would say 1123
    ("T180", 80.0), ("TI 1123", 1123.0), ("T11123", 1123.0), ("TI: 245", 245.0), ("11:242", 242.0), ("TI 310 ms", 310.0),
])
def test_the_ti_at_its_place_follows_the_label(text, expected):
    assert parse_ti_at_ti_place(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("T1361", (361.0, 1361.0)),           # "TI 361" with the I read as 1, or "TI 1361" with the I lost
    ("11363", (1136.0, 1363.0, 363.0)),   # a label merged with the number
    ("7421", (421.0,)),                   # 7421 ms is out of range: the 7 is a misread T
    ("TI: 245", (245.0,)), ("TI 88 ms", (88.0,)), ("T1085", (85.0, 1085.0)), ("IMA", ()),
])
def test_ti_candidates_are_every_number_the_text_can_mean(text, expected):
    assert ti_candidates(text) == expected


def _line(text: str, font_file: str, size: int = 26) -> np.ndarray:
    image = Image.new("L", (12 + int(0.75 * size * len(text)), int(1.8 * size)), 0)
    ImageDraw.Draw(image).text((6, int(0.35 * size)), text, fill=235, font=ImageFont.truetype(str(font_path(font_file)), size))
    return np.asarray(image)


@pytest.fixture(scope="module")
def recognizer():
    return RapidTextRecognizer()


def test_recogniser_reads_the_tis_in_three_fonts_without_network(recognizer, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the OCR tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    texts = [("TI 245", "DejaVuSans.ttf"), ("TI: 1030", "DejaVuSansMono.ttf"), ("TI 88 ms", "DejaVuSerif.ttf")]
    lines = recognizer.read_lines([_line(t, f) for t, f in texts])
    assert [parse_ti_text(line.text) for line in lines] == [245.0, 1030.0, 88.0]
    assert all(0.5 < line.score <= 1.0 for line in lines)


def test_recogniser_model_ships_inside_the_package(recognizer):
    from pathlib import Path

    import rapidocr_onnxruntime

    package = Path(rapidocr_onnxruntime.__file__).resolve().parent
    assert recognizer.model_path.resolve().is_relative_to(package)
    assert recognizer.model_path.stat().st_size > 1_000_000
