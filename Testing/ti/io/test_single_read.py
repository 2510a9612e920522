"""Each DICOM file of a load is read once (io.dicom): parsed from its bytes in memory, pixel data included, while
the files add up to at most ``_IN_MEMORY_BYTES``, with the pixel data deferred beyond it; and stored integers
under the identity rescale are used as they are. Neither may change a value: the scouts are the same, bit for
bit, as the deferred float64 path gives (and as pydicom's pixel_array with the modality rescale gives)."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from TINullCorrectionLib.io import dicom
from TINullCorrectionLib.sim.dicom_writer import write_scout_dicom
from TINullCorrectionLib.sim.simulator import simulate_scout


def _series(folder, vendor="siemens", seed=3, n_frames=12):
    return write_scout_dicom(simulate_scout(np.random.default_rng(seed), n_frames=n_frames, matrix=64).scout, folder,
                             vendor=vendor, uid_entropy=f"single-read-{vendor}-{seed}")


def _same_scouts(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        assert a.frames.dtype == b.frames.dtype == np.float32
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_array_equal(a.ti_ms, b.ti_ms)
        np.testing.assert_array_equal(a.ijk_to_ras, b.ijk_to_ras)
        assert (a.warnings, a.phase_sensitive, a.pixel_spacing_mm, a.scout_key) == (b.warnings, b.phase_sensitive,
                                                                                    b.pixel_spacing_mm, b.scout_key)


@pytest.mark.parametrize("vendor", ["siemens", "ge", "philips"])
def test_in_memory_and_deferred_reads_give_the_same_scout(tmp_path, monkeypatch, vendor):
    paths = _series(tmp_path, vendor)
    in_memory = dicom.load_ti_scouts([tmp_path])
    half = sum(p.stat().st_size for p in paths[: len(paths) // 2])
    monkeypatch.setattr(dicom, "_IN_MEMORY_BYTES", half)  # the first half in memory, the rest deferred
    mixed = dicom.load_ti_scouts([tmp_path])
    monkeypatch.setattr(dicom, "_IN_MEMORY_BYTES", 0)  # every file deferred (the path of a large folder)
    deferred = dicom.load_ti_scouts([tmp_path])
    _same_scouts(in_memory, deferred)
    _same_scouts(mixed, deferred)


def test_the_budget_decides_which_files_are_held_in_memory(tmp_path, monkeypatch):
    paths = _series(tmp_path)
    sizes = [p.stat().st_size for p in paths]
    monkeypatch.setattr(dicom, "_IN_MEMORY_BYTES", sum(sizes[:3]))
    reads = []
    original = pydicom.dcmread

    def recording(source, *args, **kwargs):
        reads.append("bytes" if isinstance(source, io.BytesIO) else ("deferred" if kwargs.get("defer_size") else "other"))
        return original(source, *args, **kwargs)

    monkeypatch.setattr(dicom.pydicom, "dcmread", recording)
    datasets: dict = {}
    dicom._read_headers_reporting([tmp_path], datasets)
    assert reads == ["bytes"] * 3 + ["deferred"] * (len(paths) - 3)  # one read per file: whole while they fit
    assert sorted(datasets) == sorted(str(p) for p in paths)  # every one serves the pixel load


def _rewrite(paths, **changes):
    for path in paths:
        ds = pydicom.dcmread(path)
        for keyword, value in changes.items():
            if value is None:
                if keyword in ds:
                    delattr(ds, keyword)
            else:
                setattr(ds, keyword, value)
        ds.save_as(path)


@pytest.mark.parametrize(("slope", "intercept"), [(None, None), ("1", "0"), ("2.5", "-3"), ("0.0449879813", "0")])
def test_frames_are_the_stored_values_through_the_modality_rescale(tmp_path, slope, intercept):
    paths = _series(tmp_path)
    _rewrite(paths, RescaleSlope=slope, RescaleIntercept=intercept)
    scout = dicom.load_ti_scouts([tmp_path])[0]
    s, b = (1.0, 0.0) if slope is None else (float(slope), float(intercept))
    expected = np.stack([(pydicom.dcmread(p).pixel_array.astype(np.float64) * s + b).astype(np.float32) for p in paths])
    np.testing.assert_array_equal(scout.frames, expected)


def test_signed_monochrome1_is_inverted_without_integer_overflow(tmp_path):
    paths = _series(tmp_path)
    rng = np.random.default_rng(0)
    for path in paths:
        ds = pydicom.dcmread(path)
        values = rng.integers(-32768, 32767, size=(ds.Rows, ds.Columns), dtype=np.int16, endpoint=True)
        values[0, 0], values[0, 1] = -32768, 32767  # the full range: max - min overflows int16
        ds.PixelRepresentation, ds.BitsStored, ds.HighBit = 1, 16, 15
        ds.PhotometricInterpretation = "MONOCHROME1"
        ds.PixelData = values.tobytes()
        for keyword in ("RescaleSlope", "RescaleIntercept"):
            if keyword in ds:
                delattr(ds, keyword)
        ds.save_as(path)
    scout = dicom.load_ti_scouts([tmp_path], require_inversion_evidence=False)[0]
    expected = np.stack([32767.0 - pydicom.dcmread(p).pixel_array.astype(np.float64) for p in paths])  # each file's max is 32767
    np.testing.assert_array_equal(scout.frames, expected.astype(np.float32))
