"""Issue 12 A3 / B15 on the real Philips Look-Locker (JPEG lossless, TI in TriggerTime): a damaged file or a frame
without a valid TI among good ones is left out and named (LoadedScouts.skipped and the scouts' warnings), never
dropped without a word; too few good frames is an error naming the files."""

from __future__ import annotations

import shutil

import pydicom
import pytest
from TINullCorrectionLib.core.types import ScoutError
from TINullCorrectionLib.io.dicom import load_ti_scouts_with_report

pytestmark = pytest.mark.realdata


@pytest.fixture
def look_locker(shared_data, tmp_path):
    folder = tmp_path / "LL"
    shutil.copytree(shared_data / "look_locker_native_philips", folder)
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


def test_damaged_files_among_good_ones_are_named(look_locker):
    header = look_locker / "5.dcm"
    header.write_bytes(header.read_bytes()[:1500])  # truncated inside the header
    pixels = look_locker / "30.dcm"
    pixels.write_bytes(pixels.read_bytes()[: pixels.stat().st_size // 2])  # truncated inside the pixel data
    loaded = load_ti_scouts_with_report(look_locker)
    assert sorted(s.n_frames for s in loaded.scouts) == [19, 19, 20]
    skipped = {s.what: s.reason for s in loaded.skipped}
    assert set(skipped) == {"5.dcm", "30.dcm"}
    assert "damaged or truncated" in skipped["5.dcm"] and "pixel data of 30.dcm" in skipped["30.dcm"]
    assert all(any("5.dcm" in w for w in s.warnings) for s in loaded.scouts)
    assert sum(any("30.dcm" in w for w in s.warnings) for s in loaded.scouts) == 1


def test_a_frame_without_its_trigger_time_is_named(look_locker):
    ds = pydicom.dcmread(look_locker / "7.dcm")
    del ds.TriggerTime
    ds.save_as(look_locker / "7.dcm")
    loaded = load_ti_scouts_with_report(look_locker)
    assert sorted(s.n_frames for s in loaded.scouts) == [19, 20, 20]
    assert [s.what for s in loaded.skipped] == ["7.dcm"]
    assert "TriggerTime (0018,1060) absent" in loaded.skipped[0].reason


def test_too_many_frames_without_a_ti_is_an_error_naming_them(look_locker):
    for number in range(1, 61, 2):
        path = look_locker / f"{number}.dcm"
        ds = pydicom.dcmread(path)
        ds.TriggerTime = -5
        ds.save_as(path)
    with pytest.raises(ScoutError, match=r"TriggerTime \(0018,1060\) is missing or invalid on 10 of 20 frames: 1\.dcm \(-5"):
        load_ti_scouts_with_report(look_locker)
