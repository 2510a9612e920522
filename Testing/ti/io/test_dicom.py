"""TI scout loading from DICOM: the real Philips Look-Locker and IR phantom series in ../shared/data, and
small synthetic series written with pydicom for each TI field, grouping rule and error."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid
from TINullCorrectionLib.core.types import ScoutError
from TINullCorrectionLib.io.dicom import (
    SRC_IMAGE_COMMENTS,
    SRC_INVERSION_TIME,
    SRC_INVERSION_TIMES,
    SRC_PHILIPS_PREPULSE,
    SRC_TRIGGER_TIME,
    examine_dicom_files,
    load_scout_from_files,
    load_ti_scouts,
    load_ti_scouts_with_report,
)

LL_DIR = "look_locker_native_philips"
PATIENT_STRINGS = ("44904598", "CARRILLO")  # identifiers present in the real Look-Locker headers


# ------------------------------------------------------------------------------------ synthetic DICOM
def write_mr(
    path: Path,
    pixels: np.ndarray,
    series_uid: str,
    *,
    inversion_time=None,
    trigger_time=None,
    comments=None,
    prepulse=None,
    position=(0.0, 0.0, 0.0),
    orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    spacing=(1.5, 1.25),
    sop_uid=None,
    image_type=("ORIGINAL", "PRIMARY", "M", "ND"),
    slope=None,
    description="TI scout test",
    study_uid="1.2.3.4",
    repetition_time=None,
) -> Path:
    """A minimal single-frame MR image file (uint16) with the given TI-related tags."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid or generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.PatientName = "Test^Person"
    ds.PatientID = "SECRET-ID-123"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = 7
    ds.SeriesDescription = description
    ds.Manufacturer = "TestVendor"
    ds.ImageType = list(image_type)
    ds.ImagePositionPatient = [f"{v:.4f}" for v in position]
    ds.ImageOrientationPatient = [f"{v:.6f}" for v in orientation]
    ds.PixelSpacing = [f"{spacing[0]}", f"{spacing[1]}"]
    ds.SliceThickness = "6"
    if inversion_time is not None:
        ds.InversionTime = f"{inversion_time}"
    if trigger_time is not None:
        ds.TriggerTime = f"{trigger_time}"
    if repetition_time is not None:
        ds.RepetitionTime = f"{repetition_time}"
    if comments is not None:
        ds.ImageComments = comments
    if prepulse is not None:
        block = ds.private_block(0x2001, "Philips Imaging DD 001", create=True)
        block.add_new(0x1B, "FL", float(prepulse))
    if slope is not None:
        ds.RescaleSlope = f"{slope}"
        ds.RescaleIntercept = "0"
    pixels = np.asarray(pixels, dtype=np.uint16)
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def _frame(value: float, shape=(8, 10)) -> np.ndarray:
    return np.full(shape, value, dtype=np.uint16)


def write_series(folder: Path, tis, field="inversion_time", shuffle=True, **kwargs) -> list[Path]:
    """One file per TI (pixel value = 10 + index), random file names order."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = kwargs.pop("series_uid", generate_uid())
    order = np.random.default_rng(1).permutation(len(tis)) if shuffle else range(len(tis))
    paths = []
    for n in order:
        ti = tis[n]
        tag = {field: (f"TI {ti:g}" if field == "comments" else ti)}
        paths.append(write_mr(folder / f"img_{n:03d}_x.dcm", _frame(10 + n), series_uid, **tag, **kwargs))
    return paths


# ---------------------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def look_locker(shared_data):
    return load_ti_scouts(shared_data / LL_DIR)


@pytest.mark.realdata
def test_real_philips_look_locker_loads_three_slices(look_locker, shared_data):
    assert len(look_locker) == 3
    positions = []
    for scout in look_locker:
        assert scout.frames.shape == (20, 256, 256)
        assert scout.frames.dtype == np.float32
        assert scout.ti_source == SRC_TRIGGER_TIME
        assert scout.ti_ms[0] == 100.0 and scout.ti_ms[-1] == 3094.0
        assert np.all(np.diff(scout.ti_ms) > 150) and np.all(np.diff(scout.ti_ms) < 165)
        assert scout.pixel_spacing_mm == (1.171875, 1.171875)
        assert scout.vendor == "Philips"
        assert scout.series_description == "LL-NATIVO"
        assert not scout.phase_sensitive
        assert scout.tr_ms is None  # readout TR (9 ms) is no recovery time: not exposed
        positions.append(float(np.linalg.inv(scout.ijk_to_ras)[2, 3]))
    labels = [s.slice_label for s in look_locker]
    assert labels[0].startswith("series 4001 slice 0")
    assert len(set(labels)) == 3


@pytest.mark.realdata
def test_real_look_locker_geometry_and_rescale(look_locker, shared_data):
    ds = pydicom.dcmread(shared_data / LL_DIR / "1.dcm")  # TI 100 ms, first slice in file order
    iop = np.array(ds.ImageOrientationPatient, dtype=float)
    ipp = np.array(ds.ImagePositionPatient, dtype=float)
    scout = next(s for s in look_locker if np.allclose(s.ijk_to_ras[:3, 3], ipp * [-1, -1, 1], atol=1e-3))
    lps_to_ras = np.array([-1, -1, 1])
    np.testing.assert_allclose(scout.ijk_to_ras[:3, 0], iop[:3] * 1.171875 * lps_to_ras, atol=1e-6)
    np.testing.assert_allclose(scout.ijk_to_ras[:3, 1], iop[3:] * 1.171875 * lps_to_ras, atol=1e-6)
    assert scout.slice_thickness_mm == pytest.approx(11.636)
    expected = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_allclose(scout.frames[0], expected, rtol=1e-6)


@pytest.mark.realdata
def test_real_scouts_hold_no_patient_identifiers(look_locker):
    for scout in look_locker:
        text = repr(scout.__dict__) + scout.slice_label + scout.series_description
        for secret in PATIENT_STRINGS:
            assert secret not in text


@pytest.mark.realdata
def test_examine_whole_shared_folder_finds_only_ti_series(shared_data):
    candidates = examine_dicom_files(shared_data)
    by_vendor = sorted((c.vendor, c.n_frames, c.ti_source) for c in candidates)
    assert by_vendor == sorted(
        [("Philips", 20, SRC_TRIGGER_TIME)] * 3
        + [
            ("SIEMENS", 6, SRC_INVERSION_TIME),
            ("GE MEDICAL SYSTEMS", 6, SRC_INVERSION_TIME),
            ("Philips Medical Systems", 6, SRC_INVERSION_TIME),
        ]
    )
    for candidate in candidates:
        assert candidate.unique_ti and list(candidate.ti_ms) == sorted(candidate.ti_ms)
        assert len(candidate.files) == candidate.n_frames
    ll = [c for c in candidates if c.n_frames == 20]
    assert [c.slice_index for c in ll] == [0, 1, 2]
    assert np.all(np.diff([c.slice_position_mm for c in ll]) == pytest.approx(16.0, abs=0.01))


@pytest.mark.realdata
@pytest.mark.parametrize(
    "folder, tr_ms, philips",
    [
        ("siemens_1.5T_plate5", [1000, 1000, 1000, 1260, 1860, 2460], False),
        ("ge_1.5T_plate4", [1000] * 6, False),
        ("philips_1.5T_plate4", [1000] * 6, True),
    ],
)
def test_real_ir_phantom_series_merge_one_series_per_ti(shared_data, folder, tr_ms, philips):
    scouts = load_ti_scouts(shared_data / "ir_t1_phantom" / folder)
    assert len(scouts) == 1
    scout = scouts[0]
    assert scout.ti_source == SRC_INVERSION_TIME
    np.testing.assert_array_equal(scout.ti_ms, [50, 100, 200, 400, 600, 800])
    np.testing.assert_array_equal(scout.tr_ms, tr_ms)
    assert any("Assembled from 6 series" in w for w in scout.warnings)
    assert any("floating-point" in w for w in scout.warnings) == philips
    assert scout.frames.min() >= 0 and not scout.phase_sensitive


@pytest.mark.realdata
def test_real_philips_floating_point_scaling(shared_data):
    """Philips IR images are display-scaled per image: FP = PV / SS makes frames comparable."""
    folder = shared_data / "ir_t1_phantom" / "philips_1.5T_plate4"
    scout = load_scout_from_files(sorted(folder.iterdir()))
    ds = pydicom.dcmread(folder / "IM_0654")  # TI 800
    expected = ds.pixel_array / float(ds[0x2005, 0x100E].value)
    np.testing.assert_allclose(scout.frames[-1], expected, rtol=1e-5)


# ------------------------------------------------------------------------------------ synthetic series
def test_inversion_time_series_sorted_and_non_dicom_skipped(tmp_path):
    tis = [300.0, 100.0, 500.0, 200.0, 400.0]
    write_series(tmp_path / "scout", tis)
    (tmp_path / "scout" / "notes.txt").write_text("not a DICOM file")
    (tmp_path / "scout" / "fake.dcm").write_bytes(b"\x00" * 300)
    scouts = load_ti_scouts(tmp_path)
    assert len(scouts) == 1
    scout = scouts[0]
    np.testing.assert_array_equal(scout.ti_ms, sorted(tis))
    # pixel value = 10 + index of the TI in the original list: sorting moved the images with their TIs
    np.testing.assert_array_equal(scout.frames[:, 0, 0], [10 + tis.index(t) for t in sorted(tis)])
    assert scout.ti_source == SRC_INVERSION_TIME
    assert scout.pixel_spacing_mm == (1.5, 1.25)
    np.testing.assert_allclose(np.diag(scout.ijk_to_ras)[:2], [-1.25, -1.5])
    assert "SECRET" not in repr(scout.__dict__) and "Test^Person" not in repr(scout.__dict__)


@pytest.mark.parametrize(
    "field, source, extra",
    [
        ("comments", SRC_IMAGE_COMMENTS, {}),
        ("prepulse", SRC_PHILIPS_PREPULSE, {}),
        ("trigger_time", SRC_TRIGGER_TIME, {"inversion_time": 50.0}),  # constant InversionTime is skipped
    ],
)
def test_ti_field_that_varies_is_chosen(tmp_path, field, source, extra):
    write_series(tmp_path, [150.0, 250.0, 350.0, 450.0], field=field, **extra)
    scout = load_ti_scouts(tmp_path)[0]
    assert scout.ti_source == source
    np.testing.assert_array_equal(scout.ti_ms, [150, 250, 350, 450])


def test_siemens_comment_variants(tmp_path):
    uid = generate_uid()
    for n, text in enumerate(["TI 120", "TI=240", "ti: 360", "TI 480.5 ms"]):
        write_mr(tmp_path / f"{n}.dcm", _frame(n), uid, comments=text)
    assert list(load_ti_scouts(tmp_path)[0].ti_ms) == [120, 240, 360, 480.5]


def test_enhanced_multiframe_inversion_times_and_placeholders(tmp_path):
    """Enhanced MR: per-frame InversionTimes in MR Modifier Sequence; a 1.797e308 placeholder series falls
    back to the per-frame NominalCardiacTriggerDelayTime."""
    for name, inversion_times, expected_source in (
        ("good.dcm", [300.0, 100.0, 200.0], SRC_INVERSION_TIMES),
        ("placeholder.dcm", [1.797e308] * 3, "NominalCardiacTriggerDelayTime (0020,9153)"),
    ):
        folder = tmp_path / name.split(".")[0]
        folder.mkdir()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.SeriesInstanceUID = generate_uid()
        ds.Manufacturer = "Philips"
        ds.NumberOfFrames = 3
        ds.Rows, ds.Columns = 4, 5
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        shared = Dataset()
        measures = Dataset()
        measures.PixelSpacing = ["2.0", "2.0"]
        measures.SliceThickness = "8"
        orient = Dataset()
        orient.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        shared.PixelMeasuresSequence = [measures]
        shared.PlaneOrientationSequence = [orient]
        ds.SharedFunctionalGroupsSequence = [shared]
        frames = []
        for index, ti in enumerate(inversion_times):
            item = Dataset()
            modifier = Dataset()
            modifier.InversionTimes = [ti]
            modifier.InversionRecovery = "YES"  # the enhanced-MR IR marker (TriggerTime-like TIs need evidence)
            item.MRModifierSequence = [modifier]
            cardiac = Dataset()
            cardiac.NominalCardiacTriggerDelayTime = 100.0 * (3 - index)
            item.CardiacSynchronizationSequence = [cardiac]
            position = Dataset()
            position.ImagePositionPatient = ["0", "0", "5"]
            item.PlanePositionSequence = [position]
            transform = Dataset()
            transform.RescaleSlope = "2"
            transform.RescaleIntercept = "1"
            item.PixelValueTransformationSequence = [transform]
            frames.append(item)
        ds.PerFrameFunctionalGroupsSequence = frames
        ds.PixelData = np.stack([np.full((4, 5), i, np.uint16) for i in range(3)]).tobytes()
        ds.save_as(folder / name, enforce_file_format=True)
        scout = load_ti_scouts(folder)[0]
        assert scout.ti_source == expected_source
        np.testing.assert_array_equal(scout.ti_ms, [100, 200, 300])
        # frame index i has stored value i, rescaled 2 i + 1; TI order is frames 1, 2, 0 / 2, 1, 0
        stored = [1, 2, 0] if expected_source == SRC_INVERSION_TIMES else [2, 1, 0]
        np.testing.assert_array_equal(scout.frames[:, 0, 0], [2 * v + 1 for v in stored])
        assert scout.pixel_spacing_mm == (2.0, 2.0)


def test_two_slices_in_one_series_give_two_scouts(tmp_path):
    uid = generate_uid()
    for z in (0.0, 8.0):
        for n, ti in enumerate((100, 200, 300)):
            write_mr(tmp_path / f"z{z:.0f}_{n}.dcm", _frame(n), uid, trigger_time=ti, position=(0, 0, z))
    candidates = examine_dicom_files(tmp_path)
    assert [(c.slice_index, c.slice_position_mm) for c in candidates] == [(0, 0.0), (1, 8.0)]
    scouts = load_ti_scouts(tmp_path)
    assert [s.ijk_to_ras[2, 3] for s in scouts] == [0.0, 8.0]
    assert scouts[1].slice_label == "series 7 slice 1 (z=8.0 mm)"


def test_copied_file_is_counted_once(tmp_path):
    paths = write_series(tmp_path, [100.0, 200.0, 300.0])
    shutil.copy(paths[0], tmp_path / "copy_of_first.dcm")
    scout = load_ti_scouts(tmp_path)[0]
    assert scout.n_frames == 3
    assert any("duplicate copies" in w for w in scout.warnings)


def test_phase_sensitive_flag_from_image_type(tmp_path):
    write_series(tmp_path, [100.0, 200.0, 300.0], image_type=("ORIGINAL", "PRIMARY", "R_IR", "R", "IR"))
    candidate = examine_dicom_files(tmp_path)[0]
    assert candidate.phase_sensitive
    assert load_ti_scouts(tmp_path)[0].phase_sensitive


# ------------------------------------------------------------------------------------------------ errors
def test_error_no_dicom_files(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    with pytest.raises(ScoutError, match="No DICOM image files"):
        load_ti_scouts(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScoutError, match="No files found"):
        load_ti_scouts(tmp_path / "empty")
    with pytest.raises(ScoutError, match="not found"):
        load_ti_scouts(tmp_path / "missing")


def test_error_no_ti_in_any_field(tmp_path):
    uid = generate_uid()
    for n in range(4):
        write_mr(tmp_path / f"{n}.dcm", _frame(n), uid)
    with pytest.raises(ScoutError, match="no TI found in any field"):
        load_ti_scouts(tmp_path)


def test_error_constant_ti(tmp_path):
    write_series(tmp_path, [200.0] * 4)
    with pytest.raises(ScoutError, match="does not vary"):
        load_ti_scouts(tmp_path)


def test_error_fewer_than_three_frames(tmp_path):
    write_series(tmp_path, [100.0, 200.0])
    with pytest.raises(ScoutError, match="at least 3"):
        load_ti_scouts(tmp_path)
    assert examine_dicom_files(tmp_path) == []


def test_error_duplicate_ti_within_a_slice(tmp_path):
    write_series(tmp_path, [100.0, 200.0, 200.0, 300.0])
    candidate = examine_dicom_files(tmp_path)[0]
    assert not candidate.unique_ti
    with pytest.raises(ScoutError, match=r"duplicate inversion times \[200.0\]"):
        load_ti_scouts(tmp_path)


def test_error_frames_of_different_size(tmp_path):
    uid = generate_uid()
    for n, ti in enumerate((100, 200, 300)):
        write_mr(tmp_path / f"{n}.dcm", _frame(n, shape=(8, 10) if n else (8, 12)), uid, inversion_time=ti)
    with pytest.raises(ScoutError, match="different sizes"):
        load_ti_scouts(tmp_path)


def test_error_mixed_orientations(tmp_path):
    uid = generate_uid()
    paths = []
    for n, ti in enumerate((100, 200, 300)):
        orientation = (1, 0, 0, 0, 1, 0) if n else (1, 0, 0, 0, 0, -1)
        paths.append(
            write_mr(tmp_path / f"{n}.dcm", _frame(n), uid, inversion_time=ti, orientation=orientation)
        )
    with pytest.raises(ScoutError, match="different orientations"):
        load_scout_from_files(paths)


def test_error_files_from_several_slices(tmp_path):
    uid = generate_uid()
    paths = [
        write_mr(tmp_path / f"{n}.dcm", _frame(n), uid, inversion_time=100 * (n + 1), position=(0, 0, 5 * n))
        for n in range(3)
    ]
    with pytest.raises(ScoutError, match="3 slice positions"):
        load_scout_from_files(paths)


def test_corrupt_pixel_data_frame_is_left_out_and_named_or_the_load_fails(tmp_path):
    """A frame whose pixels cannot be decoded is left out and named when 3 good frames remain (issue 12 A3);
    with fewer the load fails naming the file, nothing half-loaded."""
    paths = write_series(tmp_path / "a", [100.0, 200.0, 300.0, 400.0], shuffle=False)
    ds = pydicom.dcmread(paths[2])
    ds.PixelData = ds.PixelData[:20]  # truncated image
    ds.save_as(paths[2])
    loaded = load_ti_scouts_with_report(tmp_path)
    assert [s.n_frames for s in loaded.scouts] == [3]
    assert [s.what for s in loaded.skipped] == ["a/img_002_x.dcm"]
    assert "Cannot read the pixel data of img_002_x.dcm" in loaded.skipped[0].reason
    assert any("img_002_x.dcm" in w for w in loaded.scouts[0].warnings)
    ds = pydicom.dcmread(paths[3])
    ds.PixelData = ds.PixelData[:20]
    ds.save_as(paths[3])
    with pytest.raises(ScoutError, match="Cannot read the pixel data of img_00[23]_x.dcm.*2 of 4 frames failed"):
        load_ti_scouts(tmp_path)


def test_load_scout_from_files_merges_series_per_ti(tmp_path):
    paths = [
        write_mr(tmp_path / f"{n}.dcm", _frame(n), generate_uid(), inversion_time=ti, repetition_time=2000)
        for n, ti in enumerate((400.0, 100.0, 200.0))
    ]
    scout = load_scout_from_files(paths)
    np.testing.assert_array_equal(scout.ti_ms, [100, 200, 400])
    np.testing.assert_array_equal(scout.tr_ms, [2000, 2000, 2000])
    np.testing.assert_array_equal(scout.frames[:, 0, 0], [1, 2, 0])
