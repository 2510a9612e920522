"""Uncompressed pixel data are read straight from the element's bytes (io.dicom._native_pixel_array): the same
array as pydicom's ``pixel_array`` (dtype, shape, values; unused high bits cleared or sign-extended as pydicom 3
does), for every layout it takes; everything else is left to pydicom's decoders."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
    RLELossless,
    generate_uid,
)
from TINullCorrectionLib.io import dicom

pytestmark = pytest.mark.skipif(not dicom._PYDICOM_3, reason="the fast path serves pydicom 3 only (pydicom 2 decodes everything)")


def _write(path, allocated, stored, signed, frames=1, syntax=ExplicitVRLittleEndian, photometric="MONOCHROME2", samples=1,
           rows=7, columns=5, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(f"<{'i' if signed else 'u'}{allocated // 8}")
    info = np.iinfo(dtype)
    raw = rng.integers(info.min, info.max, size=frames * rows * columns * samples, dtype=dtype, endpoint=True)  # high bits too
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID, meta.TransferSyntaxUID = MRImageStorage, generate_uid(), syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = rows, columns, samples, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = allocated, stored, stored - 1, int(signed)
    if samples > 1:
        ds.PlanarConfiguration = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = raw.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return pydicom.dcmread(path, defer_size=4096)  # as io.dicom reads it: pixel data deferred


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
@pytest.mark.parametrize(("allocated", "stored"), [(16, 16), (16, 12), (16, 10), (32, 32), (32, 20)])
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("frames", [1, 3])
def test_the_bytes_give_pydicoms_pixel_array(tmp_path, syntax, allocated, stored, signed, frames):
    ds = _write(tmp_path / "a.dcm", allocated, stored, signed, frames, syntax)
    found = dicom._native_pixel_array(ds)
    expected = pydicom.dcmread(tmp_path / "a.dcm").pixel_array
    assert found is not None and found.dtype == expected.dtype and found.shape == expected.shape
    np.testing.assert_array_equal(found, expected)
    if stored < allocated:  # the unused bits held random values: they were corrected, not copied
        assert not np.array_equal(found, np.frombuffer(ds.PixelData, dtype=found.dtype).reshape(found.shape))


def test_monochrome1_is_read_as_stored(tmp_path):
    ds = _write(tmp_path / "a.dcm", 16, 12, False, photometric="MONOCHROME1")
    np.testing.assert_array_equal(dicom._native_pixel_array(ds), pydicom.dcmread(tmp_path / "a.dcm").pixel_array)


def test_colour_short_data_and_other_layouts_are_left_to_pydicom(tmp_path):
    assert dicom._native_pixel_array(_write(tmp_path / "rgb.dcm", 8, 8, False, photometric="RGB", samples=3)) is None
    # 8-bit data: pydicom 3.0 itself fails on some (BitsStored 6 with an odd number of pixels): left to it
    assert dicom._native_pixel_array(_write(tmp_path / "8.dcm", 8, 8, False)) is None
    short = _write(tmp_path / "short.dcm", 16, 16, False)
    short.PixelData = short.PixelData[:-2]
    assert dicom._native_pixel_array(short) is None  # pydicom then raises its own error, named in the skipped list
    long = _write(tmp_path / "long.dcm", 16, 16, False)
    long.PixelData = long.PixelData + bytes(70)
    assert dicom._native_pixel_array(long) is None  # pydicom warns about (or reads) the excess
    compressed = _write(tmp_path / "c.dcm", 16, 16, False)
    compressed.file_meta.TransferSyntaxUID = RLELossless
    assert dicom._native_pixel_array(compressed) is None
    no_meta = _write(tmp_path / "m.dcm", 16, 16, False)
    del no_meta.file_meta
    assert dicom._native_pixel_array(no_meta) is None


def test_a_scout_loads_the_same_with_and_without_the_fast_path(tmp_path, monkeypatch):
    from TINullCorrectionLib.sim.dicom_writer import write_scout_dicom
    from TINullCorrectionLib.sim.simulator import simulate_scout

    for vendor, seed in (("siemens", 1), ("ge", 2), ("philips", 3)):
        write_scout_dicom(simulate_scout(np.random.default_rng(seed), n_frames=15, matrix=64).scout, tmp_path / vendor, vendor=vendor)
    fast = dicom.load_ti_scouts([tmp_path])
    monkeypatch.setattr(dicom, "_native_pixel_array", lambda ds: None)
    slow = dicom.load_ti_scouts([tmp_path])
    assert len(fast) == len(slow) == 3
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a.frames, b.frames)
        assert a.warnings == b.warnings and a.phase_sensitive == b.phase_sensitive
