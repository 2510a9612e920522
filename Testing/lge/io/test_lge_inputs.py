"""LGE inputs as people have them: picture stacks, label maps with a union of labels, DICOM/NRRD stacks,
points, and atomic outputs."""

from __future__ import annotations

import numpy as np
import pytest
from LGEResolutionQALib.io import lge_inputs as li
from LGEResolutionQALib.io.definitions import write_markups_roi, write_volume
from PIL import Image


def _write_pngs(folder, stack, prefix="case_slice"):
    folder.mkdir(parents=True, exist_ok=True)
    for k, plane in enumerate(stack):
        Image.fromarray(plane.astype(np.uint8)).save(folder / f"{prefix}{k}.png")


def test_png_stack_natural_order_spacing_option_and_geometry(tmp_path):
    stack = np.stack([np.full((8, 9), v, np.uint8) for v in range(12)])
    _write_pngs(tmp_path / "images", stack)  # slice2 must come before slice10
    with pytest.raises(ValueError, match="carry no pixel spacing"):
        li.read_stack(tmp_path / "images")
    read = li.read_stack(tmp_path / "images", (1.5, 1.5, 10.0))
    assert np.array_equal(read.array, stack) and read.spacing_source == "option"
    assert np.allclose(read.ijk_to_ras, np.diag([-1.5, -1.5, 10.0, 1.0]))  # columns to L, rows to P (RAS signs)
    pattern = li.read_stack(str(tmp_path / "images" / "case_slice1*.png"), (1.5, 1.5, 10.0))
    assert [int(v) for v in pattern.array[:, 0, 0]] == [1, 10, 11]
    with pytest.raises(FileNotFoundError):
        li.read_stack(str(tmp_path / "nothing*.png"), (1, 1, 1))
    with pytest.raises(ValueError, match="plausible range"):
        li.read_stack(tmp_path / "images", (1.5, 1.5, 100.0))


def test_label_map_union_of_labels_on_the_image_grid(tmp_path):
    labels = np.zeros((3, 10, 10), np.uint8)
    labels[:, 2:8, 2:8] = 2
    labels[:, 3:5, 3:5] = 3
    labels[:, 6, 6] = 4
    labels[:, 4:6, 4:6] = 1
    _write_pngs(tmp_path / "labels", labels)
    _write_pngs(tmp_path / "images", labels * 10)
    image = li.read_stack(tmp_path / "images", li.parse_spacing("1.5,10"))
    read = li.read_labels(tmp_path / "labels", image)
    myo = li.mask_of_labels(read.array, li.parse_labels("2-4"))
    assert np.array_equal(myo, np.isin(labels, (2, 3, 4)))
    with pytest.raises(ValueError, match=r"No voxel has the myocardium label\(s\) \[7\]; the label map holds \[0, 1, 2, 3, 4\]"):
        li.mask_of_labels(read.array, (7,))
    _write_pngs(tmp_path / "small", labels[:2])
    with pytest.raises(ValueError, match="same grid"):
        li.read_labels(tmp_path / "small", image)


def test_volume_files_keep_their_spacing_and_label_grids_must_match(tmp_path):
    matrix = np.diag([-1.25, -1.25, 8.0, 1.0])
    matrix[:3, 3] = (5.0, 6.0, 7.0)
    array = np.arange(2 * 6 * 7, dtype=np.float32).reshape(2, 6, 7)
    write_volume(tmp_path / "lge.nrrd", array, matrix)
    read = li.read_stack(tmp_path / "lge.nrrd", (1, 1, 1))
    assert read.spacing_source == "file" and np.allclose(read.ijk_to_ras, matrix)
    assert "has its own spacing" in read.warnings[0]
    write_volume(tmp_path / "labels.nrrd", (array > 40).astype(np.uint8), matrix)
    assert li.read_labels(tmp_path / "labels.nrrd", read).array.sum() == (array > 40).sum()
    moved = matrix.copy()
    moved[0, 3] += 3.0
    write_volume(tmp_path / "moved.nrrd", (array > 40).astype(np.uint8), moved)
    with pytest.raises(ValueError, match="not on the image's grid"):
        li.read_labels(tmp_path / "moved.nrrd", read)


def test_points_labels_and_spacing_parsing(tmp_path):
    assert li.parse_point("1, -2.5,3") == (1.0, -2.5, 3.0)
    assert li.parse_labels("2,3,4") == (2, 3, 4) and li.parse_labels("4,2-3") == (2, 3, 4)
    assert li.parse_spacing("1.5,1.5,10") == (1.5, 1.5, 10.0)
    for text in ("1,2", "a,b,c", "1,2,nan"):
        with pytest.raises(ValueError, match="point"):
            li.parse_point(text)
    with pytest.raises(ValueError, match="Labels"):
        li.parse_labels("2,x")
    matrix = np.diag([-1.5, -1.5, 10.0, 1.0])
    assert np.allclose(li.point_to_ras((10, 20, 2), matrix), (-15.0, -30.0, 20.0))
    # a markups file (LPS on disk) -> RAS
    path = tmp_path / "rv.mrk.json"
    write_markups_roi(path, "rv", (10.0, 20.0, 30.0), (1.0, 1.0, 1.0))
    text = path.read_text().replace('"ROI"', '"Fiducial"')
    path.write_text(text)
    assert np.allclose(li.read_markups_point(path), (10.0, 20.0, 30.0))


def _dicom_series(folder, values, seed, spacing_mm=8.0):
    from LGEResolutionQALib.io.definitions import write_dicom_series

    matrix = np.diag([-1.25, -1.25, spacing_mm, 1.0])
    array = np.stack([np.full((6, 7), v, np.float32) for v in values])
    return write_dicom_series(folder, array, matrix, description=f"series {seed}", seed=seed)


def test_dicom_files_of_one_series_are_stacked_in_slice_order(tmp_path):
    files = _dicom_series(tmp_path / "a", [10.0, 20.0, 30.0, 40.0], seed=1)
    for index, f in enumerate(reversed(files)):  # names no longer in slice order: the position decides
        f.rename(tmp_path / "a" / f"img{index}.dcm")
    read = li.read_stack(str(tmp_path / "a" / "img*.dcm"))
    assert read.spacing_source == "file"
    assert np.allclose(read.array[:, 0, 0], [10, 20, 30, 40], atol=0.01)
    assert np.allclose(read.spacing_mm, (1.25, 1.25, 8.0))


def test_dicom_files_of_two_series_are_refused_not_stacked(tmp_path):
    """A pattern over two acquisitions of the same slices (a repeat after a breath-hold failure) must not become one
    volume of doubled slices: a wrong LGE % of a plausible size."""
    _dicom_series(tmp_path / "first", [10.0, 20.0, 30.0], seed=1)
    _dicom_series(tmp_path / "second", [11.0, 21.0, 31.0], seed=2)
    with pytest.raises(ValueError, match="2 DICOM series"):
        li.read_stack(str(tmp_path / "*" / "slice*.dcm"))


def test_dicom_files_with_a_missing_slice_are_refused(tmp_path):
    files = _dicom_series(tmp_path / "a", [10.0, 20.0, 30.0, 40.0, 50.0], seed=3)
    files[2].unlink()
    with pytest.raises(ValueError, match="missing slice"):
        li.read_stack(str(tmp_path / "a" / "*.dcm"))
