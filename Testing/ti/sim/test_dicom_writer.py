"""DICOM writer: valid MR files per frame, vendor TI fields, geometry (RAS -> LPS), quantisation, round trip."""

from __future__ import annotations

import math

import numpy as np
import pydicom
import pytest
from TINullCorrectionLib.core.types import TIScout
from TINullCorrectionLib.sim.dicom_writer import geometry_tags, quantisation, write_scout_dicom
from TINullCorrectionLib.sim.simulator import simulate_scout


@pytest.fixture(scope="module")
def sim():
    return simulate_scout(np.random.default_rng(21), matrix=(48, 40), n_frames=15, snr=30.0)


def _read(paths):
    return [pydicom.dcmread(p) for p in paths]


@pytest.mark.parametrize("vendor", ["siemens", "ge", "philips"])
def test_files_geometry_and_ti_field(sim, tmp_path, vendor):
    scout = sim.scout
    paths = write_scout_dicom(scout, tmp_path / vendor, vendor=vendor, series_number=7)
    assert len(paths) == scout.n_frames and all(p.is_file() for p in paths)
    datasets = _read(paths)
    m = scout.ijk_to_ras
    for index, ds in enumerate(datasets):
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert ds.SOPClassUID == pydicom.uid.MRImageStorage and ds.Modality == "MR"
        assert ds.PatientName == "SIMULATED^SCOUT" and ds.PatientID == "SIM0001"
        assert int(ds.InstanceNumber) == index + 1 and int(ds.SeriesNumber) == 7
        assert (ds.Rows, ds.Columns) == (48, 40)
        if vendor == "philips":
            assert "InversionTime" not in ds
            assert float(ds.TriggerTime) == pytest.approx(scout.ti_ms[index], abs=1e-6)
        else:
            assert float(ds.InversionTime) == pytest.approx(scout.ti_ms[index], abs=1e-6)
        # geometry: RAS -> LPS negates x and y
        np.testing.assert_allclose(np.asarray(ds.ImagePositionPatient, float), m[:3, 3] * [-1, -1, 1], atol=1e-6)
        iop = np.asarray(ds.ImageOrientationPatient, float)
        np.testing.assert_allclose(iop[:3] * np.asarray(ds.PixelSpacing, float)[1], m[:3, 0] * [-1, -1, 1], atol=1e-6)
        np.testing.assert_allclose(iop[3:] * np.asarray(ds.PixelSpacing, float)[0], m[:3, 1] * [-1, -1, 1], atol=1e-6)
        assert float(ds.SliceThickness) == pytest.approx(scout.slice_thickness_mm)
        # pixels: uint16 stored values times slope plus intercept are the frames within quantisation
        values = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        assert ds.pixel_array.dtype == np.uint16
        np.testing.assert_allclose(values, scout.frames[index], atol=float(ds.RescaleSlope) / 2 + 1e-3)
    assert len({ds.SOPInstanceUID for ds in datasets}) == scout.n_frames
    assert len({ds.SeriesInstanceUID for ds in datasets}) == 1


def test_phase_sensitive_signed_values_and_image_type(tmp_path):
    ps = simulate_scout(np.random.default_rng(3), matrix=32, n_frames=15, phase_sensitive=True, snr=20.0)
    assert ps.scout.frames.min() < 0
    ds = _read(write_scout_dicom(ps.scout, tmp_path, vendor="philips"))[0]
    assert float(ds.RescaleIntercept) <= ps.scout.frames.min()
    assert "R_IR" in list(ds.ImageType)
    values = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_allclose(values, ps.scout.frames[0], atol=float(ds.RescaleSlope) / 2 + 1e-3)


def test_quantisation_rules():
    assert quantisation(np.array([0.0, 1000.0, 2000.0])) == (1.0, 0.0)  # integers that fit: slope 1
    slope, intercept = quantisation(np.array([-3.5, 0.25, 1.0]))
    assert intercept == -4.0 and slope == pytest.approx(5.0 / 65535)
    slope, _ = quantisation(np.array([0.0, 1e6]))
    assert slope == pytest.approx(1e6 / 65535)


def test_geometry_of_identity_is_lps_axial():
    tags = geometry_tags(np.diag([0.5, 0.7, 3.0, 1.0]))
    assert tags["ImageOrientationPatient"] == [-1.0, 0.0, 0.0, 0.0, -1.0, 0.0]
    assert tags["PixelSpacing"] == [0.7, 0.5]


def test_reproducible_uids_and_shared_study(sim, tmp_path):
    a = _read(write_scout_dicom(sim.scout, tmp_path / "a", uid_entropy="x", study_uid="1.2.3.4"))
    b = _read(write_scout_dicom(sim.scout, tmp_path / "b", uid_entropy="x", study_uid="1.2.3.4"))
    assert a[0].SOPInstanceUID == b[0].SOPInstanceUID and a[0].StudyInstanceUID == "1.2.3.4"


def test_bad_input(sim, tmp_path):
    with pytest.raises(ValueError, match="vendor"):
        write_scout_dicom(sim.scout, tmp_path, vendor="toshiba")
    with pytest.raises(ValueError, match="TIScout"):
        write_scout_dicom(sim.scout.frames, tmp_path)
    skew = np.eye(4)
    skew[:3, 1] = [0.5, 1.0, 0.0]
    bad = TIScout(frames=np.zeros((3, 8, 8)), ti_ms=[100.0, 200.0, 300.0], ijk_to_ras=skew)
    with pytest.raises(ValueError, match="orthogonal"):
        write_scout_dicom(bad, tmp_path)


@pytest.mark.parametrize("vendor", ["siemens", "philips"])
def test_round_trip_through_the_loader(sim, tmp_path, vendor):
    from TINullCorrectionLib.io import dicom as dicom_io
    write_scout_dicom(sim.scout, tmp_path, vendor=vendor)
    (loaded,) = dicom_io.load_ti_scouts(tmp_path)
    np.testing.assert_allclose(loaded.ti_ms, sim.scout.ti_ms, atol=1e-6)
    expected_source = "TriggerTime" if vendor == "philips" else "InversionTime"
    assert loaded.ti_source.startswith(expected_source)
    slope = float(pydicom.dcmread(next(tmp_path.glob("*.dcm"))).RescaleSlope)
    np.testing.assert_allclose(loaded.frames, sim.scout.frames, atol=slope / 2 + 1e-3)
    np.testing.assert_allclose(loaded.ijk_to_ras, sim.scout.ijk_to_ras, atol=1e-5)
    assert loaded.pixel_spacing_mm == pytest.approx(sim.scout.pixel_spacing_mm)
    assert not math.isnan(loaded.slice_thickness_mm)
