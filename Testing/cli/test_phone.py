"""``ti-correct --mosaic`` and ``--single-frame``: photos taken at the console, through the same code as the web page."""

import json

import numpy as np
import pytest
from support.phone_photos import MOSAIC_CASES, jpeg_bytes, mosaic_photo, single_frame_photo

from cardiac_lge.cli import main
from cardiac_lge.phone import PhoneModels, analyse_mosaic_bytes


@pytest.fixture(scope="module")
def mosaic_file(tmp_path_factory):
    mosaic = mosaic_photo(*MOSAIC_CASES[1])
    path = tmp_path_factory.mktemp("photo") / "mosaic.jpg"
    path.write_bytes(jpeg_bytes(mosaic.image))
    return path, mosaic


def test_mosaic_photo_gives_the_series_answer_and_an_annotated_picture(mosaic_file, tmp_path, capsys):
    path, mosaic = mosaic_file
    out, annotated = tmp_path / "result.json", tmp_path / "annotated.jpg"
    assert main(["ti-correct", str(path), "--mosaic", "--chosen-ti", "300", "--json", str(out), "--annotated", str(annotated)]) == 0
    printed = capsys.readouterr().out
    assert "Mosaic: 4 x 5 viewports, 20 tiles" in printed and "recommended LGE TI" in printed
    result = json.loads(out.read_text())
    assert result["mode"] == "mosaic" and result["n_frames"] == 20 and result["screen_capture"]
    assert len(result["mosaic"]["tiles"]) == 20 and result["chosen"]["chosen_ti_ms"] == 300.0
    # measured tolerance of the series path on photos: the null within 25 ms for this fixed case
    assert abs(result["null_ti_ms"] - mosaic.simulated.null_ti_ms) < 25.0
    from PIL import Image

    picture = Image.open(annotated)
    from cardiac_lge.phone import MOSAIC_LONG_SIDE_PX

    scale = min(1.0, MOSAIC_LONG_SIDE_PX / max(mosaic.image.shape[:2]))  # the photo is read at most this wide
    assert picture.format == "JPEG" and picture.size == (round(mosaic.image.shape[1] * scale), round(mosaic.image.shape[0] * scale))
    # the page calls the same function: same numbers for the same bytes
    again = analyse_mosaic_bytes(path.read_bytes(), PhoneModels(), chosen_ti_ms=300.0)
    assert again.result["null_ti_ms"] == result["null_ti_ms"] and again.result["frames"] == result["frames"]


def test_mosaic_tis_from_first_ti_and_spacing(mosaic_file, tmp_path):
    path, _ = mosaic_file
    out = tmp_path / "spaced.json"
    assert main(["ti-correct", str(path), "--mosaic", "--no-ocr", "--first-ti-ms", "100", "--spacing-ms", "50", "--json", str(out)]) == 0
    tiles = json.loads(out.read_text())["mosaic"]["tiles"]
    assert [t["ti_ms"] for t in tiles] == [100.0 + 50 * k for k in range(20)]
    assert {t["ti_source"] for t in tiles} == {"spacing"}


def test_mosaic_without_readable_tis_asks_for_them(tmp_path, capsys):
    path = tmp_path / "no_ti.jpg"
    path.write_bytes(jpeg_bytes(mosaic_photo(*MOSAIC_CASES[0], print_ti=False).image))
    assert main(["ti-correct", str(path), "--mosaic"]) == 2
    assert "could not read their TIs" in capsys.readouterr().err


def test_single_frame_needs_its_ti_and_answers(tmp_path, capsys):
    data, ti, true_offset = single_frame_photo()
    path = tmp_path / "frame.jpg"
    path.write_bytes(data)
    assert main(["ti-correct", str(path), "--single-frame"]) == 2
    assert "--ti-ms" in capsys.readouterr().err
    out = tmp_path / "frame.json"
    assert main(["ti-correct", str(path), "--single-frame", "--ti-ms", f"{ti:g}", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "from the myocardial null" in printed and "Change TI to" in printed
    result = json.loads(out.read_text())
    assert result["mode"] == "single-frame" and result["ti_ms"] == ti
    assert result["null_ti_ms"] == pytest.approx(ti - result["offset_from_null_ms"])
    assert np.isfinite(result["offset_uncertainty_ms"]) and 0 <= result["confidence"] <= 1
