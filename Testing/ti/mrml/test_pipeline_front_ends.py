"""One pipeline, every front end: the CLI (`ti-correct`) and the Slicer module's path (DICOM plugin load ->
sequences -> mrml.analysis, what TINullCorrectionLogic.run calls) give identical results for a multi-slice
scout, the module combines the slices of one scout, and a second scout in the same folder stays apart."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from TINullCorrectionLib.mrml import analysis as mrml_analysis
from TINullCorrectionLib.mrml import dicom as mrml_dicom
from TINullCorrectionLib.mrml import results as mrml_results
from TINullCorrectionLib.sim.dicom_writer import write_scout_dicom
from TINullCorrectionLib.sim.simulator import simulate_scout

from cardiac_lge.cli import main

N_FRAMES = 20


def _slice(seed: int, offset_mm: float, geometry_seed: int = 11):
    """A simulated slice on the geometry of ``geometry_seed``'s scout, moved ``offset_mm`` along the normal
    (the slices of one scout share orientation and pixel size)."""
    options = {"n_frames": N_FRAMES, "ti_step_ms": 40.0, "matrix": 128, "phase_sensitive": False, "field_strength_t": 1.5}
    base = simulate_scout(np.random.default_rng(geometry_seed), **options).scout
    simulated = simulate_scout(np.random.default_rng(seed), **options)
    matrix = base.ijk_to_ras.copy()
    normal = matrix[:3, 2] / np.linalg.norm(matrix[:3, 2])
    matrix[:3, 3] = matrix[:3, 3] + offset_mm * normal
    return replace(simulated.scout, ijk_to_ras=matrix, pixel_spacing_mm=base.pixel_spacing_mm), simulated.null_ti_ms


@pytest.fixture(scope="module")
def study_folder(tmp_path_factory):
    """Three slices of one Look-Locker series (one study) + one slice of another study's scout."""
    folder = tmp_path_factory.mktemp("study")
    for index, seed in enumerate((11, 12, 13)):
        scout, _ = _slice(seed, 10.0 * index)
        write_scout_dicom(scout, folder / "scout", vendor="philips", series_number=5, study_uid="1.2.826.0.1.3680043.8.498.1",
                          uid_entropy="one-scout", first_instance=1 + N_FRAMES * index)
    other, _ = _slice(21, 0.0, geometry_seed=21)
    write_scout_dicom(other, folder / "other", vendor="siemens", series_number=9, uid_entropy="other-study")
    return folder


@pytest.fixture(scope="module")
def cli_result(study_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "result.json"
    assert main(["ti-correct", str(study_folder), "--chosen-ti", "300", "--json", str(out), "--quiet"]) == 0
    return json.loads(out.read_text())


def test_cli_combines_only_the_slices_of_one_scout(cli_result):
    assert len(cli_result["slices"]) == 4
    sizes = sorted(len(s["slices"]) for s in cli_result["scouts"])
    assert sizes == [1, 3]
    combined = next(s["combined"] for s in cli_result["scouts"] if len(s["slices"]) == 3)
    nulls = [cli_result["slices"][i]["null_ti_ms"] for i in next(s["slices"] for s in cli_result["scouts"] if len(s["slices"]) == 3)]
    assert min(nulls) <= combined["null_ti_ms"] <= max(nulls)
    assert combined["n_slices"] == 3 and combined["chosen"]["chosen_ti_ms"] == 300.0
    assert any("2 different scouts" in w for w in cli_result["warnings"])


def test_module_path_gives_the_cli_numbers_and_combines_the_slices(slicer_env, study_folder, cli_result):
    scene = slicer_env.scene
    files = sorted(str(p) for p in study_folder.rglob("*.dcm"))
    specs = mrml_dicom.examine_file_lists([files])
    assert len(specs) == 4
    loaded = [mrml_dicom.load_files_as_sequence(scene, spec.files, spec.name, slicer_env.logics["Sequences"],
                                               slice_index=spec.candidate.slice_index) for spec in specs]
    # the user selects one slice of the three-slice scout; "all slices of this scout, combined" is on
    three = [n for n in loaded if n.sequence_node.GetAttribute("TINullCorrection.ScoutKey")
             and sum(m.sequence_node.GetAttribute("TINullCorrection.ScoutKey") == n.sequence_node.GetAttribute("TINullCorrection.ScoutKey")
                     for m in loaded) == 3]
    selected_browser = three[1].browser_node
    inputs = mrml_analysis.inputs_for_run(scene, selected_browser, all_slices=True)
    assert len(inputs.scouts) == 3 and inputs.scouts[inputs.selected].slice_label in {s["slice"] for s in cli_result["slices"]}
    model = mrml_analysis.load_model_checked(None)
    myocardium = mrml_analysis.load_myocardium_model_checked(None)
    settings = mrml_analysis.make_settings()
    study, outputs = mrml_analysis.analyse_ti_scout_slices(scene, inputs.scouts, inputs.names, model, settings, inputs.selected,
                                                           chosen_ti_ms=300.0, myocardium_model=myocardium)
    assert len(study.groups) == 1 and study.groups[0].combined is not None
    by_label = {s["slice"]: s for s in cli_result["slices"]}
    for result in study.slices:
        cli = by_label[result.slice_label]
        assert result.null_ti_ms == pytest.approx(cli["null_ti_ms"], abs=1e-6)
        assert result.final.uncertainty_ms == pytest.approx(cli["null_uncertainty_ms"], abs=1e-6)
        assert result.final.method == cli["method"]
    cli_combined = next(s["combined"] for s in cli_result["scouts"] if len(s["slices"]) == 3)
    assert study.groups[0].combined.null_ti_ms == pytest.approx(cli_combined["null_ti_ms"], abs=1e-6)
    assert study.groups[0].combined.uncertainty_ms == pytest.approx(cli_combined["uncertainty_ms"], abs=1e-6)
    # one table per slice; the text node is the CLI's report (without the frame tables)
    assert len(outputs.slices) == 3
    assert all(o.table_node.GetNumberOfRows() == N_FRAMES for o in outputs.slices)
    assert "all 3 slices of this scout" in outputs.text_node.GetText()
    np.testing.assert_allclose(mrml_results.table_column(outputs.table_node, "ti_ms"), study.slices[inputs.selected].ti_ms)
    # without "all slices" only the selected slice is analysed
    alone = mrml_analysis.inputs_for_run(scene, selected_browser, all_slices=False)
    assert len(alone.scouts) == 1
