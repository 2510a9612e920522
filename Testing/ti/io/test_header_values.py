"""Header values are converted once per distinct raw encoding and reused between files (io.dicom._value): every
value must still be the one pydicom gives for that file (``ds[tag].value``), whatever was read before: files
whose bytes differ, the same bytes in another character set or byte order, private and sequence elements."""

from __future__ import annotations

import random

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import Tag
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)
from TINullCorrectionLib.io import dicom


def _write(path, syntax=ExplicitVRLittleEndian, charset=None, description="Look Locker", rows=8, ti=100.0):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID, meta.TransferSyntaxUID = MRImageStorage, generate_uid(), syntax
    ds = Dataset()
    ds.file_meta = meta
    if charset:
        ds.SpecificCharacterSet = charset
    ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
    ds.SeriesDescription, ds.InversionTime, ds.ImageType = description, ti, ["ORIGINAL", "PRIMARY", "M"]
    ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.PixelRepresentation = rows, 4, 16, 12, 0
    ds.ImageOrientationPatient, ds.PixelSpacing = [1, 0, 0, 0, 1, 0], [1.5, 1.5]
    block = ds.private_block(0x2005, "Philips MR Imaging DD 001", create=True)
    block.add_new(0x0E, "FL", 2.5)
    ds.save_as(path, enforce_file_format=True, little_endian=syntax != ExplicitVRBigEndian,
               implicit_vr=syntax == ImplicitVRLittleEndian)
    return pydicom.dcmread(path, defer_size=4096)


def _assert_as_pydicom_reads_it(datasets, paths):
    """Every element of every file through dicom._value, in a shuffled order over the files (so that each value
    may come from what another file left), equals pydicom's own reading of that file alone."""
    order = [(i, tag) for i, ds in enumerate(datasets) for tag in ds.keys() if tag != Tag(0x7FE0, 0x0010)]  # keys(): not converted
    random.Random(3).shuffle(order)
    for index, tag in order:
        expected = pydicom.dcmread(paths[index])[tag].value
        assert dicom._value(datasets[index], tag) == expected, (paths[index].name, tag)


def test_values_differ_where_the_files_differ(tmp_path):
    dicom._CONVERTED_VALUES.clear()
    paths = [tmp_path / f"{k}.dcm" for k in range(4)]
    datasets = [_write(p, rows=8 + k % 2, ti=100.0 + 50 * k, description=f"series {k % 2}") for k, p in enumerate(paths)]
    _assert_as_pydicom_reads_it(datasets, paths)
    assert [dicom._value(ds, Tag(0x0018, 0x0082)) for ds in datasets] == [100.0, 150.0, 200.0, 250.0]
    assert [dicom._get(ds, "Rows") for ds in datasets] == [8, 9, 8, 9]
    assert dicom._CONVERTED_VALUES, "nothing was shared: the memo is not used"


def test_the_same_bytes_in_another_character_set_or_byte_order(tmp_path):
    dicom._CONVERTED_VALUES.clear()
    text = "Séquence TI"  # the same bytes (latin-1) read as ISO_IR 100 and as ISO_IR 192 (UTF-8) decode differently
    paths = [tmp_path / f"{k}.dcm" for k in range(6)]
    syntaxes = [ExplicitVRLittleEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, ExplicitVRLittleEndian,
                ExplicitVRLittleEndian]
    charsets = ["ISO_IR 100", "ISO_IR 100", None, None, "ISO_IR 192", None]
    # Rows 2048 in big endian has the bytes of Rows 8 in little endian
    datasets = [_write(p, syntax, charset, description=text if charset else "plain", rows=2048 if syntax == ExplicitVRBigEndian else 8)
                for p, syntax, charset in zip(paths, syntaxes, charsets, strict=True)]
    latin1 = pydicom.dcmread(paths[0])
    raw = latin1.SeriesDescription.encode("latin-1")
    utf8 = datasets[4]
    utf8_element = utf8.get_item(Tag(0x0008, 0x103E))
    utf8._dict[Tag(0x0008, 0x103E)] = utf8_element._replace(value=raw + (b" " if len(raw) % 2 else b""), length=len(raw) + len(raw) % 2)
    dicom._value(datasets[0], Tag(0x0008, 0x103E))  # the latin-1 reading is now in the memo, under the same bytes
    assert dicom._value(utf8, Tag(0x0008, 0x103E)) != text  # decoded as UTF-8 (with replacement), not the memo's latin-1
    keep = [0, 1, 2, 3, 5]  # not the UTF-8 file whose bytes were replaced
    _assert_as_pydicom_reads_it([datasets[k] for k in keep], [paths[k] for k in keep])
    assert [dicom._get(ds, "Rows") for ds in datasets] == [8, 8, 8, 2048, 8, 8]


@pytest.mark.parametrize("tag", [Tag(0x2005, 0x100E), Tag(0x7FE0, 0x0010), Tag(0x0008, 0x0005)])
def test_private_binary_and_charset_elements_are_never_shared(tag):
    assert not dicom._shareable(tag) or tag == Tag(0x0008, 0x0005)
    assert dicom._shareable(Tag(0x0028, 0x0010)) and not dicom._shareable(Tag(0x0028, 0x0106))  # US; "US or SS"
    assert not dicom._shareable(Tag(0x5200, 0x9230))  # a sequence (PerFrameFunctionalGroupsSequence)


def test_a_missing_element_is_none_and_get_keeps_its_default(tmp_path):
    ds = _write(tmp_path / "a.dcm")
    assert dicom._value(ds, Tag(0x0020, 0x1041)) is None
    assert dicom._get(ds, "NumberOfFrames", 1) == 1 and dicom._get(ds, "SliceLocation") is None


def test_the_memo_stays_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(dicom, "_CONVERTED_VALUES_LIMIT", 3)
    dicom._CONVERTED_VALUES.clear()
    paths = [tmp_path / f"{k}.dcm" for k in range(6)]
    datasets = [_write(p, ti=100.0 + k) for k, p in enumerate(paths)]
    for ds in datasets:
        assert dicom._value(ds, Tag(0x0018, 0x0082)) == float(ds[Tag(0x0018, 0x0082)].value)
        assert len(dicom._CONVERTED_VALUES) <= 3


def test_real_philips_headers_read_as_pydicom_reads_them(shared_data):
    paths = sorted((shared_data / "look_locker_native_philips").glob("*.dcm"))[:12]
    dicom._CONVERTED_VALUES.clear()
    _assert_as_pydicom_reads_it([pydicom.dcmread(p, defer_size=4096) for p in paths], paths)
