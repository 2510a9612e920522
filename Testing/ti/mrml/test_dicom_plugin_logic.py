"""The TI scout DICOM plugin's examine/load logic on the real DICOM files (slicer-core scene)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support import slicer_dicom_rules as rules
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
    primaries = [s for s in specs if s.primary]
    assert len(primaries) == 1 and len(specs) == 6
    spec = primaries[0]
    assert len(spec.files) == 6 and spec.selected
    assert "InversionTime (0018,0082)" in spec.tooltip
    assert "Assembled from 6 series" in spec.warning
    # The extra loadables hold the same files (so loading any of them is the same scout), unselected.
    assert all(s.load_key == spec.load_key and not s.selected and "leave this one unticked" in s.warning for s in specs[1:])
    sequence, _, _ = load_files_as_sequence(slicer_env.scene, spec.files, spec.name)
    assert [float(sequence.GetNthIndexValue(i)) for i in range(6)] == [50, 100, 200, 400, 600, 800]


@pytest.mark.parametrize("vendor", ["philips_1.5T_plate4", "siemens_1.5T_plate5", "ge_1.5T_plate4"])
def test_combined_ir_scout_deselects_every_member_scalar_volume(shared_data, vendor):
    """Slicer's rules (support/slicer_dicom_rules.py): none of the N series also loads as a plain volume."""
    per_series = [[f] for f in _files(shared_data / "ir_t1_phantom" / vendor)]
    scalars = rules.scalar_volume_loadables(per_series)
    ours = rules.from_specs(examine_file_lists(per_series))
    everything = scalars + ours
    rules.select_highest_confidence(everything)
    # Scripted loading (DICOMUtils.loadSeriesByUID) loads every selected loadable: one scout, no volume.
    assert rules.selected(everything, "DICOMScalarVolumePlugin") == []
    assert len({lo.spec.load_key for lo in rules.selected(everything, "TINullCorrectionDICOMPlugin")}) == 1
    # The DICOM browser's table: exactly one ticked row, the primary scout.
    rules.browser_table(everything)
    ticked = rules.selected(everything, "TINullCorrectionDICOMPlugin")
    assert len(ticked) == 1 and ticked[0].spec.primary and len(ticked[0].files) == 6
    assert rules.selected(everything, "DICOMScalarVolumePlugin") == []


def test_look_locker_wins_its_series_against_scalar_and_multivolume(shared_data):
    files = _files(shared_data / "look_locker_native_philips")
    scalars = rules.scalar_volume_loadables([files])
    multivolume = [rules.Loadable("MultiVolumeImporterPlugin", files, rules.MULTIVOLUME_TRIGGER_TIME_CONFIDENCE, True)]
    ours = rules.from_specs(examine_file_lists([files]))
    everything = scalars + multivolume + ours
    rules.select_highest_confidence(everything)
    rules.browser_table(everything)
    assert len(rules.selected(everything, "TINullCorrectionDICOMPlugin")) == 3
    assert rules.selected(everything, "DICOMScalarVolumePlugin") == []
    assert rules.selected(everything, "MultiVolumeImporterPlugin") == []


def _single_image_series(source: str, folder: Path, tis, **attributes) -> list[list[str]]:
    """One single-image series per TI, copied from a real MR image (same geometry, new series/instance UIDs)."""
    import pydicom
    from pydicom.uid import generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    lists = []
    for index, ti in enumerate(tis):
        ds = pydicom.dcmread(source)
        ds.SeriesInstanceUID = generate_uid()
        ds.SOPInstanceUID = generate_uid()
        ds.SeriesNumber = 10 + index
        ds.InversionTime = ti
        for name, value in attributes.items():
            setattr(ds, name, value)
        target = folder / f"ti{index}.dcm"
        ds.save_as(target)
        lists.append([str(target)])
    return lists


LGE_REPEATS = {
    "no inversion marker": dict(ScanningSequence="GR", SequenceVariant="SP", SeriesDescription="sax_3", ProtocolName="sax_3"),
    "labelled LGE": dict(ScanningSequence=["GR", "IR"], SequenceVariant="SP", SeriesDescription="LGE PSIR sax", ProtocolName="LGE PSIR sax"),
    "TIs do not sweep": dict(ScanningSequence=["GR", "IR"], SequenceVariant="SP", SeriesDescription="sax_3", ProtocolName="sax_3"),
}


@pytest.mark.parametrize("case", sorted(LGE_REPEATS))
def test_repeated_lge_slices_are_not_merged_and_preselected(shared_data, tmp_path, case):
    source = _files(shared_data / "ir_t1_phantom" / "philips_1.5T_plate4")[0]
    tis = (250.0, 275.0, 300.0) if case != "no inversion marker" else (150.0, 300.0, 600.0)
    per_series = _single_image_series(source, tmp_path, tis, **LGE_REPEATS[case])
    specs = examine_file_lists(per_series)
    assert len(specs) == 1 and not specs[0].selected and specs[0].confidence < rules.SCALAR_VOLUME_CONFIDENCE
    assert "Not selected" in specs[0].warning
    everything = rules.scalar_volume_loadables(per_series) + rules.from_specs(specs)
    rules.select_highest_confidence(everything)
    rules.browser_table(everything)
    assert rules.selected(everything, "TINullCorrectionDICOMPlugin") == []
    assert len(rules.selected(everything, "DICOMScalarVolumePlugin")) == 3  # they load as the images they are


def test_assembled_ir_series_with_a_sweep_and_markers_are_still_combined(shared_data, tmp_path):
    source = _files(shared_data / "ir_t1_phantom" / "philips_1.5T_plate4")[0]
    per_series = _single_image_series(source, tmp_path, (100.0, 300.0, 900.0), SeriesDescription="T1 relaxometry")
    specs = examine_file_lists(per_series)
    assert specs[0].primary and specs[0].selected and len(specs) == 3


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


def test_examine_reads_no_header_of_a_non_mr_series_and_each_mr_header_once(shared_data, tmp_path, monkeypatch):
    """Slicer's cached tag values filter first (Modality); the MR files' headers are read once in all."""
    import collections

    import pydicom
    from support.dicom_files import write_ct_series
    from TINullCorrectionLib.io.tag_values import PydicomFileValues
    from TINullCorrectionLib.mrml.dicom import PLUGIN_TAGS

    ct = write_ct_series(tmp_path / "ct", 40)
    ir = [[f] for f in _files(shared_data / "ir_t1_phantom" / "philips_1.5T_plate4")]
    look_locker = _files(shared_data / "look_locker_native_philips")
    file_lists = [ct, look_locker, *ir]
    database = PydicomFileValues()  # stands in for Slicer's pre-cached database: filled before counting
    for files in file_lists:
        for path in files:
            for tag in PLUGIN_TAGS.values():
                database(path, tag)
    reads = collections.Counter()
    real_dcmread = pydicom.dcmread

    def counting_dcmread(path, *args, **kwargs):
        reads[str(path)] += 1
        return real_dcmread(path, *args, **kwargs)

    monkeypatch.setattr(pydicom, "dcmread", counting_dcmread)
    specs = examine_file_lists(file_lists, file_value=database)
    assert sum(1 for s in specs if s.primary) == 4  # three Look-Locker slices + the combined IR scout
    assert not any(path in reads for path in ct)
    mr_files = look_locker + [files[0] for files in ir]
    assert {path: reads[path] for path in mr_files} == {path: 1 for path in mr_files}


def test_sequence_and_browser_go_into_the_study_of_the_series_item(slicer_env, shared_data):
    """What the plugin's load does after Slicer's addSeriesInSubjectHierarchy (patient > study > series)."""
    import slicer
    from TINullCorrectionLib.mrml.dicom import place_beside_series

    scene = slicer_env.scene
    spec = examine_file_lists([_files(shared_data / "look_locker_native_philips")])[0]
    sequence, browser, proxy = load_files_as_sequence(scene, spec.files, spec.name, slicer_env.logics["Sequences"])
    sh = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    patient = sh.CreateSubjectItem(sh.GetSceneItemID(), "patient")
    study = sh.CreateStudyItem(patient, "study")
    series = sh.CreateItem(study, proxy)  # as addSeriesInSubjectHierarchy does for the proxy volume
    place_beside_series(scene, proxy, (sequence, browser))
    assert sh.GetItemParent(series) == study
    assert sh.GetItemParent(sh.GetItemByDataNode(sequence)) == study
    assert sh.GetItemParent(sh.GetItemByDataNode(browser)) == study


def test_readme_describes_the_subject_hierarchy_placement_the_plugin_uses():
    from support.paths import REPO_ROOT

    readme = " ".join((REPO_ROOT / "README.md").read_text().split())
    plugin = (REPO_ROOT / "TINullCorrection" / "TINullCorrectionDICOMPlugin.py").read_text()
    assert "place_beside_series(" in plugin and "addSeriesInSubjectHierarchy(loadable, proxyNode)" in plugin
    assert "placed under the series" not in readme
    assert "the frame volume is the series item under its patient and study, with the sequence and its browser in the same study" in readme
