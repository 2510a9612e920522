"""TI scouts from pictures (PNG/JPEG screenshots or phone photos), NRRD/NIfTI volumes and TI CSV files."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image
from TINullCorrectionLib.core.types import ScoutError
from TINullCorrectionLib.io.images import (
    load_scout_from_images,
    load_scout_from_volume_file,
    read_ti_csv,
    read_ti_table,
)


def _rgb_frames(n=4, shape=(6, 9)):
    rng = np.random.default_rng(5)
    return [rng.integers(0, 256, shape + (3,), dtype=np.uint8) for _ in range(n)]


# ------------------------------------------------------------------------------------------- pictures
def test_rgb_png_to_luminance_sorted_by_ti(tmp_path):
    frames = _rgb_frames()
    paths = []
    for n, frame in enumerate(frames):
        paths.append(tmp_path / f"shot{n}.png")
        Image.fromarray(frame).save(paths[-1])
    ti = [300.0, 100.0, 400.0, 200.0]
    scout = load_scout_from_images(paths, ti, pixel_spacing_mm=(1.4, 1.2))
    np.testing.assert_array_equal(scout.ti_ms, [100, 200, 300, 400])
    for out_index, source_index in enumerate([1, 3, 0, 2]):
        rgb = frames[source_index].astype(float)
        expected = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
        np.testing.assert_allclose(scout.frames[out_index], expected, rtol=1e-5)
    assert scout.frames.dtype == np.float32
    assert scout.pixel_spacing_mm == (1.4, 1.2)
    np.testing.assert_allclose(np.diag(scout.ijk_to_ras)[:2], [-1.2, -1.4])
    assert scout.ti_source == "user" and not scout.phase_sensitive


def test_grayscale_16bit_png_and_jpeg(tmp_path):
    values = [np.full((5, 7), v, dtype=np.uint16) for v in (1000, 30000, 60000)]
    png_paths = []
    for n, arr in enumerate(values):
        png_paths.append(tmp_path / f"g{n}.png")
        Image.fromarray(arr).save(png_paths[-1])
    scout = load_scout_from_images(png_paths, [10, 20, 30])
    np.testing.assert_array_equal(scout.frames[:, 0, 0], [1000, 30000, 60000])
    jpg_paths = []
    for n, frame in enumerate(_rgb_frames(3)):
        jpg_paths.append(tmp_path / f"photo{n}.jpg")
        Image.fromarray(frame).save(jpg_paths[-1], quality=95)
    assert load_scout_from_images(jpg_paths, [100, 200, 300]).frames.shape == (3, 6, 9)


def test_picture_errors(tmp_path):
    paths = []
    for n, shape in enumerate([(6, 9), (6, 9), (7, 9)]):
        paths.append(tmp_path / f"s{n}.png")
        Image.fromarray(np.zeros(shape, np.uint8)).save(paths[-1])
    with pytest.raises(ScoutError, match="different sizes"):
        load_scout_from_images(paths, [1, 2, 3])
    with pytest.raises(ScoutError, match="2 TI values for 3 frames"):
        load_scout_from_images(paths, [1, 2])
    with pytest.raises(ScoutError, match=r"Duplicate TI values \[2.0\]"):
        load_scout_from_images(paths, [1, 2, 2])
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    with pytest.raises(ScoutError, match="Cannot read the image broken.png"):
        load_scout_from_images([paths[0], paths[1], broken], [1, 2, 3])
    with pytest.raises(ScoutError, match="not found"):
        load_scout_from_images([tmp_path / "nope.png"] * 3, [1, 2, 3])
    with pytest.raises(ScoutError, match="at least 3 frames"):
        load_scout_from_images(paths[:2], [1, 2])


# ----------------------------------------------------------------------------------------------- CSV
@pytest.mark.parametrize(
    "text, files, values",
    [
        ("100\n200\n150\n", None, [100, 200, 150]),
        ("ti_ms\n100\n200\n", None, [100, 200]),
        ("file,ti_ms\na.png,120\nb.png,90.5\n", ("a.png", "b.png"), [120, 90.5]),
        ("frame,ti_ms,comment\n1,100,x\n2,200,y\n", None, [100, 200]),
        ("a.png,120\nb.png,240\n", ("a.png", "b.png"), [120, 240]),
    ],
)
def test_read_ti_csv_layouts(tmp_path, text, files, values):
    path = tmp_path / "ti.csv"
    path.write_text(text)
    np.testing.assert_array_equal(read_ti_csv(path), values)
    assert read_ti_table(path)[0] == files


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("ti_ms\n100\nabc\n", "not a valid TI"),
        ("a,b\n1,2\n", "no 'ti_ms' column"),
        ("-5\n", "not a valid TI"),
    ],
)
def test_read_ti_csv_errors(tmp_path, text, message):
    path = tmp_path / "ti.csv"
    path.write_text(text)
    with pytest.raises(ScoutError, match=message):
        read_ti_csv(path)


# -------------------------------------------------------------------------------------------- volumes
def _volume_4d(n=4, h=5, w=6) -> np.ndarray:
    return np.arange(n * h * w, dtype=np.float32).reshape(n, 1, h, w) - 10.0


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd"])
def test_4d_volume_with_user_ti_and_ras_geometry(tmp_path, suffix):
    array = _volume_4d()
    image = sitk.GetImageFromArray(array, isVector=False)  # 4-D image: size (w, h, 1, n)
    image.SetSpacing((1.2, 1.4, 8.0, 1.0))
    image.SetOrigin((10.0, 20.0, 30.0, 0.0))
    path = tmp_path / f"scout{suffix}"
    sitk.WriteImage(image, str(path))
    scout = load_scout_from_volume_file(path, ti_ms=[400, 100, 300, 200])
    np.testing.assert_array_equal(scout.ti_ms, [100, 200, 300, 400])
    np.testing.assert_array_equal(scout.frames, array[[1, 3, 2, 0], 0])
    np.testing.assert_allclose(scout.pixel_spacing_mm, (1.4, 1.2), rtol=1e-6)  # NIfTI stores float32
    np.testing.assert_allclose(scout.ijk_to_ras[:3, 3], [-10.0, -20.0, 30.0], rtol=1e-6)  # LPS -> RAS
    np.testing.assert_allclose(scout.ijk_to_ras[:3, 0], [-1.2, 0, 0], rtol=1e-6)
    assert scout.phase_sensitive  # negative values kept: signed data


def test_3d_volume_frames_on_third_axis(tmp_path):
    array = np.stack([np.full((5, 6), v, np.float32) for v in (3.0, 1.0, 2.0)])
    path = tmp_path / "frames.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    scout = load_scout_from_volume_file(path, ti_ms=np.array([300.0, 100.0, 200.0]))
    np.testing.assert_array_equal(scout.frames[:, 0, 0], [1, 2, 3])


def test_slicer_sequence_nrrd_with_index_values(tmp_path):
    """A Slicer .seq.nrrd: the list axis holds the frames and 'axis 0 index values' their TIs."""
    data = np.arange(3 * 5 * 4, dtype=np.float32).reshape(1, 4, 5, 3)
    header = (
        "NRRD0004\ntype: float\ndimension: 4\nspace: left-posterior-superior\nsizes: 3 5 4 1\n"
        "space directions: none (1.5,0,0) (0,1.25,0) (0,0,8)\nkinds: list domain domain domain\n"
        "endian: little\nencoding: raw\nspace origin: (10,20,30)\naxis 0 index values:=300 100 200\n"
        "axis 0 index name:=TI\n\n"
    )
    path = tmp_path / "scout.seq.nrrd"
    path.write_bytes(header.encode() + data.tobytes())
    scout = load_scout_from_volume_file(path)
    np.testing.assert_array_equal(scout.ti_ms, [100, 200, 300])
    assert scout.ti_source == "file metadata"
    np.testing.assert_array_equal(scout.frames[:, 0, 0], [1, 2, 0])
    assert scout.pixel_spacing_mm == (1.25, 1.5)


def test_volume_errors(tmp_path):
    path = tmp_path / "frames.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((4, 5, 6), np.float32)), str(path))
    with pytest.raises(ScoutError, match="stores no TI values"):
        load_scout_from_volume_file(path)
    with pytest.raises(ScoutError, match="3 TI values for 4 frames"):
        load_scout_from_volume_file(path, ti_ms=[1, 2, 3])
    multi = tmp_path / "multi.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((4, 2, 5, 6), np.float32), isVector=False), str(multi))
    with pytest.raises(ScoutError, match="2 slices"):
        load_scout_from_volume_file(multi, ti_ms=[1, 2, 3, 4])
    two = tmp_path / "two.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((2, 5, 6), np.float32)), str(two))
    with pytest.raises(ScoutError, match="at least 3"):
        load_scout_from_volume_file(two, ti_ms=[1, 2])
    junk = tmp_path / "junk.nrrd"
    junk.write_text("garbage")
    with pytest.raises(ScoutError, match="Cannot read junk.nrrd"):
        load_scout_from_volume_file(junk, ti_ms=[1, 2, 3])
    with pytest.raises(ScoutError, match="not found"):
        load_scout_from_volume_file(tmp_path / "missing.nrrd")
