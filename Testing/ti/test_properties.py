"""Issue 12 F21: property-based tests (hypothesis) of the TI loaders and of the recommendation.

Whatever the input, the answer is a result with finite numbers in the plausible ranges or a clear error of the
project's own types (ScoutError, a ValueError), within bounded time and memory:

* io.dicom on copies of the real IR phantom (and one slice of the real Look-Locker) with random header edits,
  truncations and byte flips, written to a temporary folder;
* io.images.read_ti_table on arbitrary text and bytes; io.images.load_scout_from_images on damaged pictures;
* core: TIScout construction from arbitrary TIs / spacings, and core.pipeline.analyse_scout with any class
  probabilities a network could return (and a random ROI), under a memory bound.

Each test runs a fixed number of examples (derandomized: the same examples every run, no database) and
stays within a few seconds.
"""

from __future__ import annotations

import shutil
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from TINullCorrectionLib.core.pipeline import analyse_scout
from TINullCorrectionLib.core.types import PLAUSIBLE_TI_MS, ScoutError, ScoutPrediction, TIScout
from TINullCorrectionLib.io.dicom import load_ti_scouts_with_report
from TINullCorrectionLib.io.images import load_scout_from_images, read_ti_table

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

PROPERTY = settings(max_examples=25, deadline=4000, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

ODD_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -1.0, -1e9, 1e9, 1e12, 1e308, 1.797e308, 5e-324, 0.001]),
    st.integers(min_value=-(2**31), max_value=2**31),
)
ODD_TEXT = st.one_of(st.text(max_size=24), st.sampled_from(["", "nan", "inf", "-0", "1e400", "\\\\", "TI 300", "12\\x"]))


def _check_loaded(loaded) -> None:
    low, high = PLAUSIBLE_TI_MS
    for scout in loaded.scouts:
        assert scout.n_frames >= 3
        assert np.all(np.isfinite(scout.frames)) and np.all(np.isfinite(scout.ti_ms))
        assert np.all((scout.ti_ms >= low) & (scout.ti_ms <= high)) and np.all(np.diff(scout.ti_ms) > 0)
        assert all(0.1 <= v <= 10.0 for v in scout.pixel_spacing_mm)
        assert scout.frames.nbytes <= 512 * 4096 * 4096 * 4
    for skipped in loaded.skipped:
        assert skipped.what and skipped.reason


# ------------------------------------------------------------------------------------------- DICOM files
TAGS = ["InversionTime", "TriggerTime", "PixelSpacing", "Rows", "Columns", "ImageOrientationPatient",
        "ImagePositionPatient", "RescaleSlope", "RescaleIntercept", "SliceThickness", "NumberOfFrames", "BitsAllocated",
        "SamplesPerPixel", "PhotometricInterpretation", "SeriesInstanceUID", "RepetitionTime", "ImageComments"]


@st.composite
def mutations(draw):
    """1-3 random edits: set a tag to an odd value (number, text, several numbers), delete it, truncate the file
    or flip bytes."""
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["set", "set", "delete", "truncate", "flip"]))
        index = draw(st.integers(0, 5))
        if kind == "set":
            value = draw(st.one_of(ODD_NUMBERS, ODD_TEXT, st.lists(ODD_NUMBERS, min_size=0, max_size=7)))
            edits.append((kind, index, draw(st.sampled_from(TAGS)), value))
        elif kind == "delete":
            edits.append((kind, index, draw(st.sampled_from(TAGS)), None))
        else:
            edits.append((kind, index, None, draw(st.floats(0.0, 1.0))))
    return edits


def _apply(folder: Path, edits) -> None:
    files = sorted(folder.iterdir())
    for kind, index, tag, value in edits:
        path = files[index % len(files)]
        if kind in ("truncate", "flip"):
            data = bytearray(path.read_bytes())
            position = int(value * (len(data) - 1))
            if kind == "truncate":
                del data[position:]
            else:
                data[position:position + 16] = bytes(255 - b for b in data[position:position + 16])
            path.write_bytes(bytes(data))
            continue
        try:
            ds = pydicom.dcmread(path)
            if kind == "delete":
                if tag in ds:
                    delattr(ds, tag)
            else:
                setattr(ds, tag, value)
            ds.save_as(path)
        except Exception:  # noqa: BLE001 - pydicom refuses to write this value: the file stays as it was
            continue


def _mutated_load(source: Path, edits):
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "series"
        shutil.copytree(source, copy)
        for path in copy.iterdir():
            path.chmod(0o644)
        _apply(copy, edits)
        try:
            loaded = load_ti_scouts_with_report(copy, require_inversion_evidence=False)
        except ScoutError as error:
            assert str(error)
            return
        _check_loaded(loaded)


@pytest.mark.realdata
@PROPERTY
@given(edits=mutations())
def test_mutated_real_ir_phantom_loads_or_is_a_clear_error(shared_data, edits):
    _mutated_load(shared_data / "ir_t1_phantom" / "philips_1.5T_plate4", edits)


@pytest.fixture(scope="module")
def look_locker_slice(shared_data, tmp_path_factory):
    """The first slice (20 JPEG-lossless files) of the real Look-Locker."""
    from TINullCorrectionLib.io.dicom import examine_dicom_files

    folder = tmp_path_factory.mktemp("ll_slice")
    for path in examine_dicom_files(shared_data / "look_locker_native_philips")[0].files:
        shutil.copy(path, folder / Path(path).name)
    return folder


@pytest.mark.realdata
@settings(PROPERTY, max_examples=12)
@given(edits=mutations())
def test_mutated_real_look_locker_loads_or_is_a_clear_error(look_locker_slice, edits):
    _mutated_load(look_locker_slice, edits)


# --------------------------------------------------------------------------------------- TI tables, images
@PROPERTY
@given(text=st.one_of(st.text(max_size=300), st.lists(st.lists(ODD_TEXT, max_size=4), max_size=12).map(
    lambda rows: "\n".join(",".join(row) for row in rows))), raw=st.binary(max_size=64))
def test_any_ti_table_gives_finite_tis_or_a_clear_error(text, raw):
    with tempfile.TemporaryDirectory() as folder:
        for content in (text.encode("utf-8", "surrogatepass"), raw):
            path = Path(folder) / "tis.csv"
            path.write_bytes(content)
            try:
                files, values = read_ti_table(path)
            except ScoutError as error:
                assert "tis.csv" in str(error)
                continue
            assert values.size >= 1 and np.all(np.isfinite(values)) and np.all(values >= 0)
            assert files is None or len(files) == values.size


@pytest.fixture(scope="module")
def png_bytes():
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((np.arange(32 * 32) % 251).reshape(32, 32).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


@PROPERTY
@given(cut=st.floats(0.0, 1.0), flip=st.floats(0.0, 1.0), huge=st.sampled_from([0, 5000, 20000, 100000]),
       ti=st.one_of(st.just([100.0, 200.0, 300.0]), st.lists(ODD_NUMBERS, min_size=3, max_size=3)))
def test_damaged_pictures_and_odd_tis_give_a_scout_or_a_clear_error(png_bytes, cut, flip, huge, ti):
    import struct
    import zlib

    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for number in range(3):
            data = bytearray(png_bytes)
            if number == 1:
                position = int(flip * (len(data) - 1))
                data[position] ^= 0xFF
            if number == 2:
                del data[max(8, int(cut * len(data))):]
            if huge and number == 0:  # a header claiming huge x huge pixels (up to a decompression bomb)
                header = struct.pack(">IIBBBBB", huge, huge, 8, 0, 0, 0, 0)
                data[8:33] = struct.pack(">I", 13) + b"IHDR" + header + struct.pack(">I", zlib.crc32(b"IHDR" + header))
            path = Path(folder) / f"frame_{number}.png"
            path.write_bytes(bytes(data))
            paths.append(path)
        try:
            scout = load_scout_from_images(paths, ti, pixel_spacing_mm=(1.5, 1.5))
        except ScoutError as error:
            assert str(error)
            return
        assert np.all(np.isfinite(scout.frames)) and np.all(np.isfinite(scout.ti_ms))


# ----------------------------------------------------------------------------------- core: the recommendation
class RandomNetwork:
    """Returns the class probabilities it was given (any a network could output), as the pipeline's model."""

    name = "random"

    def __init__(self, logits: np.ndarray):
        self.logits = logits

    def predict(self, scout, progress=None):
        centers = np.concatenate([[-155.0], np.arange(-145.0, 150.0, 10.0), [155.0]])
        logits = np.resize(self.logits, (scout.n_frames, centers.size))
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return ScoutPrediction(ti_ms=scout.ti_ms, offset_ms=probabilities @ centers, probabilities=probabilities,
                               bin_centers_ms=centers, class_names=tuple(map(str, centers)),
                               confidence=probabilities.max(axis=1))


@settings(PROPERTY, max_examples=40)
@given(ti=st.lists(ODD_NUMBERS, min_size=1, max_size=40), spacing=st.tuples(ODD_NUMBERS, ODD_NUMBERS),
       logits=st.lists(st.floats(-50, 50), min_size=1, max_size=64), roi=st.booleans(), seed=st.integers(0, 2**16),
       chosen=st.one_of(st.none(), ODD_NUMBERS))
def test_any_scout_and_network_output_gives_finite_numbers_or_a_clear_error(ti, spacing, logits, roi, seed, chosen):
    rng = np.random.default_rng(seed)
    n = len(ti)
    tracemalloc.start()
    try:
        try:
            scout = TIScout(frames=rng.uniform(0, 100, (n, 24, 24)).astype(np.float32), ti_ms=sorted(ti) if all(
                np.isfinite(float(t)) for t in ti) else ti, pixel_spacing_mm=spacing)
        except (ScoutError, OverflowError) as error:
            assert isinstance(error, ScoutError) or "int too large" in str(error)
            return
        mask = rng.random((24, 24)) < 0.3 if roi else None
        try:
            result = analyse_scout(scout, RandomNetwork(np.asarray(logits)), myocardium_mask=mask, chosen_ti_ms=chosen)
        except ScoutError as error:
            assert str(error)
            return
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200_000_000
    final = result.final
    assert np.isfinite(final.null_ti_ms) and np.isfinite(final.recommended_lge_ti_ms) and final.uncertainty_ms > 0
    assert all(np.isfinite(f.offset_from_null_ms) for f in result.recommendation.frames)
    assert "NaN" not in str(result.to_dict()).replace("nan", "")
