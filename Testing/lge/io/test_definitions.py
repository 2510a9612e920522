"""io_definitions: markups JSON and .seg.nrrd files written by Slicer's own storage nodes (slicer-core)
are read back, without Slicer, with the same RAS geometry; volumes round-trip through NRRD."""

from __future__ import annotations

import json

import numpy as np
import pytest
import vtk
from CardiacLGECommonLib.mrml.volumes import add_volume_from_array
from LGEResolutionQALib.io import definitions as io
from LGEResolutionQALib.mrml.segments import add_lge_segment, mask_from_markups_roi, mask_from_segment


def _save(scene, node, path):
    storage = node.CreateDefaultStorageNode()
    scene.AddNode(storage)
    node.SetAndObserveStorageNodeID(storage.GetID())
    storage.SetFileName(str(path))
    assert storage.WriteData(node) == 1


def _oblique_matrix():
    rotation = vtk.vtkTransform()
    rotation.RotateZ(20)
    rotation.RotateX(10)
    matrix = np.array([[rotation.GetMatrix().GetElement(r, c) for c in range(4)] for r in range(4)])
    matrix[:3, :3] = matrix[:3, :3] @ np.diag([0.9, 1.1, 4.0])
    matrix[:3, 3] = [-12.0, 8.0, -5.0]
    return matrix


def test_line_written_by_slicer_is_read_in_ras(scene, tmp_path):
    line = scene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", "septum")
    line.AddControlPoint(vtk.vtkVector3d(-10.0, 5.0, 1.0))
    line.AddControlPoint(vtk.vtkVector3d(12.0, 6.5, 2.0))
    _save(scene, line, tmp_path / "septum.mrk.json")
    assert json.loads((tmp_path / "septum.mrk.json").read_text())["markups"][0]["coordinateSystem"] == "LPS"
    definition = io.read_markups_line(tmp_path / "septum.mrk.json")
    assert definition.name == "septum"
    np.testing.assert_allclose(definition.start_ras, (-10.0, 5.0, 1.0))
    np.testing.assert_allclose(definition.end_ras, (12.0, 6.5, 2.0))


def test_ras_coordinate_system_and_own_writer_round_trip(tmp_path):
    io.write_markups_line(tmp_path / "l.mrk.json", "l", (1, 2, 3), (4, 5, 6), coordinate_system="RAS")
    io.write_markups_line(tmp_path / "m.mrk.json", "m", (1, 2, 3), (4, 5, 6), coordinate_system="LPS")
    for name in ("l", "m"):
        line = io.read_markups_line(tmp_path / f"{name}.mrk.json")
        assert line.start_ras == (1, 2, 3) and line.end_ras == (4, 5, 6)


def test_oblique_roi_written_by_slicer_gives_the_same_voxels_as_the_adapter(scene, tmp_path):
    matrix = _oblique_matrix()
    volume = add_volume_from_array(scene, np.zeros((6, 40, 40), np.float32), matrix, "lge")
    roi = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "blood")
    roi.SetSize(9.0, 14.0, 10.0)
    transform = vtk.vtkTransform()
    transform.RotateZ(30)
    roi.SetAndObserveObjectToNodeMatrix(transform.GetMatrix())
    centre = (matrix @ [20, 18, 2, 1])[:3]
    roi.SetCenter(*centre)
    _save(scene, roi, tmp_path / "blood.mrk.json")
    (region,) = io.read_markups_rois(tmp_path / "blood.mrk.json")
    np.testing.assert_allclose(region.center_ras, centre, atol=1e-9)
    expected = mask_from_markups_roi(roi, volume)
    mask = io.region_mask_on_grid(region, (6, 40, 40), matrix)
    assert mask.sum() > 50
    np.testing.assert_array_equal(mask, expected)


def test_segmentation_written_by_slicer_is_read_and_resampled_like_slicer(slicer_env, tmp_path):
    scene = slicer_env.scene
    matrix = np.diag([0.7, 0.8, 5.0, 1.0])
    matrix[:3, 3] = [-10, 20, 3]
    volume = add_volume_from_array(scene, np.zeros((3, 20, 30), np.float32), matrix, "v")
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "seg")
    segmentation.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    myocardium = np.zeros((3, 20, 30), bool)
    myocardium[1, 5:10, 5:12] = True
    blood = np.zeros((3, 20, 30), bool)
    blood[0:2, 3:15, 10:20] = True  # overlaps the myocardium: Slicer stores a second layer
    add_lge_segment(segmentation, myocardium, volume, name="myocardium")
    blood_id = add_lge_segment(segmentation, blood, volume, name="blood pool")
    _save(scene, segmentation, tmp_path / "seg.seg.nrrd")
    segments = io.read_segmentation(tmp_path / "seg.seg.nrrd")
    assert set(segments) == {"myocardium", "blood pool"}
    np.testing.assert_array_equal(io.region_mask_on_grid(segments["myocardium"], (3, 20, 30), matrix), myocardium)
    np.testing.assert_array_equal(io.region_mask_on_grid(segments["blood pool"], (3, 20, 30), matrix), blood)
    # On a finer grid over the same field of view: nearest-neighbour like Slicer's export.
    fine = matrix.copy()
    fine[:3, :3] /= 2.0
    fine[:3, 3] -= np.diag(matrix)[:3] / 4.0
    fine_volume = add_volume_from_array(scene, np.zeros((6, 40, 60), np.float32), fine, "fine")
    ours = io.region_mask_on_grid(segments["blood pool"], (6, 40, 60), fine)
    slicers = mask_from_segment(segmentation, blood_id, fine_volume)
    assert ours.sum() == pytest.approx(slicers.sum(), rel=0.05)
    assert (ours & slicers).sum() >= 0.95 * slicers.sum()


def test_volume_nrrd_round_trip_keeps_ras_geometry(tmp_path):
    matrix = _oblique_matrix()
    array = np.random.default_rng(0).random((3, 5, 7)).astype(np.float32)
    io.write_volume(tmp_path / "v.nrrd", array, matrix)
    volume = io.read_volume(tmp_path / "v.nrrd", "V")
    np.testing.assert_array_equal(volume.array, array)
    np.testing.assert_allclose(volume.ijk_to_ras, matrix, atol=1e-5)
    assert volume.name == "V"


def test_bad_inputs_have_clear_messages(tmp_path):
    with pytest.raises(FileNotFoundError):
        io.read_markups_line(tmp_path / "missing.mrk.json")
    (tmp_path / "bad.mrk.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a readable markups"):
        io.read_markups_line(tmp_path / "bad.mrk.json")
    io.write_markups_line(tmp_path / "zero.mrk.json", "z", (1, 1, 1), (1, 1, 1))
    with pytest.raises(ValueError, match="zero length"):
        io.read_markups_line(tmp_path / "zero.mrk.json")
    io.write_markups_roi(tmp_path / "roi.mrk.json", "r", (0, 0, 0), (5, 5, 5))
    with pytest.raises(ValueError, match="no markups line"):
        io.read_markups_line(tmp_path / "roi.mrk.json")
    io.write_markups_roi(tmp_path / "flat.mrk.json", "flat", (0, 0, 0), (5, 0, 5))
    with pytest.raises(ValueError, match="zero or invalid size"):
        io.read_markups_rois(tmp_path / "flat.mrk.json")
    (region,) = io.read_markups_rois(tmp_path / "roi.mrk.json")
    far = np.eye(4)
    far[:3, 3] = 500.0
    with pytest.raises(ValueError, match="contains no voxel"):
        io.region_mask_on_grid(region, (2, 4, 4), far, "NR")
    assert io.parse_named_path("NR=/a/b.nrrd") == ("NR", "/a/b.nrrd")
    assert io.parse_named_path("/a/b=c.nrrd") == (None, "/a/b=c.nrrd")


@pytest.mark.realdata
def test_dicom_series_folder_geometry_matches_the_dicom_header(shared_data):
    import pydicom

    volume = io.read_volume(shared_data / "acr_phantom_siemens")
    assert volume.array.shape == (11, 256, 256)
    headers = sorted((pydicom.dcmread(path, stop_before_pixels=True) for path in (shared_data / "acr_phantom_siemens").glob("*.dcm")),
                     key=lambda ds: float(ds.ImagePositionPatient[2]))
    first_lps = np.array(headers[0].ImagePositionPatient, dtype=float)
    first_ras = first_lps * [-1, -1, 1]
    corner = volume.ijk_to_ras @ [0, 0, 0, 1]
    candidates = [first_ras, np.array(headers[-1].ImagePositionPatient, dtype=float) * [-1, -1, 1]]
    assert min(np.abs(corner[:3] - c).max() for c in candidates) < 1e-3
    np.testing.assert_allclose(volume.spacing_mm[:2], [float(v) for v in headers[0].PixelSpacing], rtol=1e-6)
