"""The TI scout DICOM plugin's examine/load logic on the real DICOM files (slicer-core scene)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from TINullCorrectionLib.core.types import ScoutError
from TINullCorrectionLib.io import dicom as dicom_io
from TINullCorrectionLib.mrml.dicom import TI_SCOUT_CONFIDENCE, examine_file_lists, load_files_as_sequence
from TINullCorrectionLib.mrml.sequence import FRAME_TI_ATTRIBUTE, TI_INDEX_NAME, scout_from_sequence

pytestmark = pytest.mark.realdata

MULTIVOLUME_IMPORTER_CONFIDENCE = 1.0  # MultiVolumeImporterPlugin, TriggerTime multivolumes
IMAGE_SEQUENCE_MAX_CONFIDENCE = 1.05  # DICOMImageSequencePlugin, rotational cine


def _files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.iterdir() if p.is_file())


def _node_count(scene) -> int:
    return scene.GetNumberOfNodes()


def test_look_locker_series_gives_one_selected_loadable_per_slice(shared_data):
    files = _files(shared_data / "look_locker_native_philips")
    specs = examine_file_lists([files])
    assert len(specs) == 3
    assert sorted(len(s.files) for s in specs) == [20, 20, 20]
    assert {f for s in specs for f in s.files} == set(files)
    for index, spec in enumerate(specs):
        assert spec.selected
        assert spec.confidence == TI_SCOUT_CONFIDENCE
        assert spec.confidence > max(MULTIVOLUME_IMPORTER_CONFIDENCE, IMAGE_SEQUENCE_MAX_CONFIDENCE, 0.5)
        assert spec.name == f"4001: LL-NATIVO slice {index + 1}/3 - TI scout"
        assert "TriggerTime (0018,1060)" in spec.tooltip
        assert "20 frames" in spec.tooltip


def test_look_locker_slice_loads_as_ti_indexed_sequence(slicer_env, shared_data):
    scene = slicer_env.scene
    spec = examine_file_lists([_files(shared_data / "look_locker_native_philips")])[1]
    sequence, browser, proxy = load_files_as_sequence(scene, spec.files, spec.name, slicer_env.logics["Sequences"])
    assert sequence.GetIndexName() == TI_INDEX_NAME and sequence.GetIndexUnit() == "ms"
    assert sequence.GetNumberOfDataNodes() == 20
    index_values = [float(sequence.GetNthIndexValue(i)) for i in range(20)]
    assert index_values == pytest.approx(list(spec.candidate.ti_ms))
    assert index_values == sorted(index_values)
    assert float(sequence.GetNthDataNode(3).GetAttribute(FRAME_TI_ATTRIBUTE)) == pytest.approx(spec.candidate.ti_ms[3])
    assert browser.GetMasterSequenceNode() is sequence
    assert proxy is not None and proxy.GetImageData().GetDimensions() == (256, 256, 1)
    # The sequence reads back as the same scout that the core loads from the files.
    direct = dicom_io.load_scout_from_files(list(spec.files))
    back = scout_from_sequence(sequence)
    np.testing.assert_allclose(back.ti_ms, direct.ti_ms)
    np.testing.assert_allclose(back.frames, direct.frames)
    np.testing.assert_allclose(back.ijk_to_ras, direct.ijk_to_ras, atol=1e-6)
    assert back.ti_source == "TriggerTime (0018,1060)" and back.vendor == "Philips"
    # No patient identifiers on the loaded nodes.
    for node in (sequence, browser, proxy):
        names = " ".join(node.GetAttributeNames() or ())
        assert "Patient" not in names and "Patient" not in node.GetName()


def test_ir_phantom_series_split_per_ti_are_offered_together(slicer_env, shared_data):
    folder = shared_data / "ir_t1_phantom" / "philips_1.5T_plate4"
    per_series = [[f] for f in _files(folder)]  # the DICOM browser gives one list per series
    assert all(examine_file_lists([files]) == [] for files in per_series)
    specs = examine_file_lists(per_series)
    assert len(specs) == 1
    spec = specs[0]
    assert len(spec.files) == 6 and spec.selected
    assert "InversionTime (0018,0082)" in spec.tooltip
    assert "Assembled from 6 series" in spec.warning
    sequence, _, _ = load_files_as_sequence(slicer_env.scene, spec.files, spec.name)
    assert [float(sequence.GetNthIndexValue(i)) for i in range(6)] == [50, 100, 200, 400, 600, 800]


def test_non_scout_dicom_gives_no_loadable(shared_data):
    assert examine_file_lists([_files(shared_data / "acr_phantom_siemens")]) == []
    assert examine_file_lists([[str(shared_data / "resolution_phantom" / "ax_512_resolution.dcm")]]) == []


def test_loading_bad_files_leaves_scene_unchanged(slicer_env, shared_data, tmp_path):
    scene = slicer_env.scene
    files = _files(shared_data / "look_locker_native_philips")
    before = _node_count(scene)
    with pytest.raises(ScoutError, match="slice positions"):
        load_files_as_sequence(scene, files, "mixed slices")  # three slices at once
    single = [str(shared_data / "resolution_phantom" / "ax_512_resolution.dcm")]
    with pytest.raises(ScoutError):
        load_files_as_sequence(scene, single, "not a scout")
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"not dicom")
    with pytest.raises(ScoutError):
        load_files_as_sequence(scene, [str(junk)], "junk")
    with pytest.raises(ScoutError):
        load_files_as_sequence(scene, [], "nothing")
    assert _node_count(scene) == before


def test_duplicate_ti_group_is_listed_unselected(shared_data, tmp_path):
    source = shared_data / "look_locker_native_philips"
    spec = examine_file_lists([_files(source)])[0]
    # Copy one slice twice under different names and change the copy's SOP UID: two frames per TI.
    import pydicom

    copies = []
    for index, path in enumerate(spec.files[:4]):
        for repeat in range(2):
            ds = pydicom.dcmread(path, stop_before_pixels=False)
            ds.SOPInstanceUID = f"{ds.SOPInstanceUID}.{repeat + 1}"
            target = tmp_path / f"f{index}_{repeat}.dcm"
            ds.save_as(target)
            copies.append(str(target))
    specs = examine_file_lists([copies])
    assert specs
    assert all(not s.selected and s.confidence < 0.5 and "Cannot load" in s.warning for s in specs)


def _relabel_as_cine(source_files, tmp_path, keep_marker=None):
    """Copies of one Look-Locker slice relabelled like a bSSFP cine (no inversion marker)."""
    import pydicom

    out = []
    for index, path in enumerate(source_files[:6]):
        ds = pydicom.dcmread(path)
        ds.SeriesDescription = "cine_sax"
        ds.ProtocolName = "cine_sax"
        ds.SequenceVariant = "SS"
        ds.ScanningSequence = "GR"
        if keep_marker:
            setattr(ds, keep_marker[0], keep_marker[1])
        target = tmp_path / f"cine{index}.dcm"
        ds.save_as(target)
        out.append(str(target))
    return out


def test_trigger_time_series_without_inversion_marker_is_not_claimed(shared_data, tmp_path):
    spec = examine_file_lists([_files(shared_data / "look_locker_native_philips")])[0]
    assert spec.selected  # the real Look-Locker: SequenceVariant MP and description "LL-NATIVO"
    cine = examine_file_lists([_relabel_as_cine(list(spec.files), tmp_path)])
    assert len(cine) == 1
    assert not cine[0].selected and cine[0].confidence < 0.5 < MULTIVOLUME_IMPORTER_CONFIDENCE
    assert "looks like a cine" in cine[0].warning
    relabelled = tmp_path / "ir"
    relabelled.mkdir()
    ir = examine_file_lists([_relabel_as_cine(list(spec.files), relabelled, ("ScanningSequence", ["GR", "IR"]))])
    assert ir[0].selected and ir[0].confidence == TI_SCOUT_CONFIDENCE
