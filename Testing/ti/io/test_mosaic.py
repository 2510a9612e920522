"""Reading a phone photo of the console mosaic: tiles (perspective-corrected), TIs by OCR or by the user."""

import numpy as np
import pytest
from support.phone_photos import MOSAIC_CASES, mosaic_photo
from TINullCorrectionLib.io.mosaic import MosaicError, consistent_tis, fill_tis, read_mosaic
from TINullCorrectionLib.io.ocr import RapidTextRecognizer


@pytest.fixture(scope="module")
def recognizer():
    return RapidTextRecognizer()


@pytest.fixture(scope="module", params=MOSAIC_CASES, ids=lambda case: f"{case[1]}-{case[2]}")
def read(request, recognizer):
    mosaic = mosaic_photo(*request.param)
    return mosaic, read_mosaic(mosaic.image, recognizer)


def test_every_tile_is_found_where_it_is(read):
    mosaic, reading = read
    assert len(reading.tiles) == len(mosaic.displayed_ti_ms) == 20
    corners = np.array([tile.corners_px for tile in reading.tiles])
    side = np.linalg.norm(mosaic.tile_corners_px[:, 1] - mosaic.tile_corners_px[:, 0], axis=1).mean()
    # within 3% of a tile's side (the reader insets the tile by 1.2% so that the border is not in the frame)
    assert np.abs(corners - mosaic.tile_corners_px).max() < 0.03 * side
    assert [(t.row, t.column) for t in reading.tiles] == [divmod(k, reading.columns) for k in range(20)]


def test_tis_are_read_from_the_tiles(read):
    mosaic, reading = read
    read_exactly = [t.ti_ms == truth for t, truth in zip(reading.tiles, mosaic.displayed_ti_ms, strict=True) if t.ti_source == "ocr"]
    assert sum(read_exactly) >= 18  # of 20
    # whatever was not read exactly is flagged as estimated, and every TI is within 2 ms of the truth or flagged
    for tile, truth in zip(reading.tiles, mosaic.displayed_ti_ms, strict=True):
        assert tile.ti_source in ("ocr", "estimated")
        assert tile.ti_source == "estimated" or abs(tile.ti_ms - truth) <= 2
    assert reading.scout is not None and reading.scout.screen_capture and reading.scout.n_frames == 20
    np.testing.assert_array_equal(reading.scout.ti_ms, [t.ti_ms for t in reading.tiles])


def test_user_tis_and_first_ti_with_spacing_replace_the_ocr():
    mosaic = mosaic_photo(*MOSAIC_CASES[0])
    given = [100.0 + 50 * k for k in range(20)]
    reading = read_mosaic(mosaic.image, None, ti_ms=given)
    assert [t.ti_ms for t in reading.tiles] == given and {t.ti_source for t in reading.tiles} == {"user"}
    spaced = read_mosaic(mosaic.image, None, first_ti_ms=90.0, spacing_ms=35.0)
    assert [t.ti_ms for t in spaced.tiles] == [90.0 + 35 * k for k in range(20)]
    with pytest.raises(MosaicError, match="one TI per tile"):
        read_mosaic(mosaic.image, None, ti_ms=given[:5])
    with pytest.raises(MosaicError, match="increase"):
        read_mosaic(mosaic.image, None, ti_ms=given[::-1])


def test_unreadable_tis_leave_no_scout_and_say_so(recognizer):
    mosaic = mosaic_photo(*MOSAIC_CASES[0], print_ti=False)
    reading = read_mosaic(mosaic.image, recognizer)
    assert len(reading.tiles) == 20 and reading.scout is None
    assert any("could not be read" in w for w in reading.warnings)


def test_a_photo_without_a_mosaic_is_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(MosaicError, match="grid"):
        read_mosaic((rng.random((600, 800)) * 255).astype(np.uint8), None)


def test_implausible_reads_are_dropped_and_estimated():
    truth = [100.0 + 40 * k + (3 if k % 3 == 0 else 0) for k in range(12)]
    reads = list(truth)
    reads[4] = 940.0      # a misread digit
    reads[7] = None       # unreadable
    reads[10] = 39.0      # breaks the increase
    kept, sources = consistent_tis(reads)
    assert kept[4] is None and kept[10] is None and kept[7] is None
    assert all(k == t for k, t in zip(kept, truth, strict=True) if k is not None)
    filled, filled_sources = fill_tis(kept, sources)
    assert [s for s in filled_sources] == ["estimated" if k in (4, 7, 10) else "ocr" for k in range(12)]
    assert all(abs(f - t) <= 5 for f, t in zip(filled, truth, strict=True))
