"""`cardiac-lge ti-correct` end to end on generated DICOM and pictures, with the shipped weights."""

import json

import numpy as np
import pytest
from PIL import Image
from TINullCorrectionLib.networks.ti_offset import DEFAULT_MODEL_PATH, load_model
from TINullCorrectionLib.sim.dicom_writer import write_scout_dicom
from TINullCorrectionLib.sim.simulator import simulate_scout

from cardiac_lge.cli import main

# Measured with the shipped weights on held-out simulated series (benchmarks/bench_ti_correction.py):
# the series null is within this many ms for all but a few % of series; the cases below use fixed seeds.
NULL_TOLERANCE_MS = 25.0


@pytest.fixture(scope="module")
def simulated_dicom(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scout")
    simulated = simulate_scout(np.random.default_rng(2026), n_frames=24, ti_step_ms=40.0, matrix=160, phase_sensitive=False)
    write_scout_dicom(simulated.scout, folder, vendor="philips")
    return folder, simulated


def test_shipped_weights_load_with_a_model_card():
    model = load_model()
    assert DEFAULT_MODEL_PATH.exists()
    assert model.architecture == "sequence"
    assert "training_command" in model.card


def test_ti_correct_prints_table_and_writes_json_with_units(simulated_dicom, tmp_path, capsys):
    folder, simulated = simulated_dicom
    out = tmp_path / "result.json"
    assert main(["ti-correct", str(folder), "--chosen-ti", str(simulated.null_ti_ms - 40.0), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "recommended LGE TI" in printed and "too early" in printed
    assert "SIMULATED" not in printed  # no patient names
    result = json.loads(out.read_text())
    entry = result["slices"][0]
    assert entry["ti_source"].startswith("TriggerTime")
    assert len(entry["frames"]) == 24
    assert {"ti_ms", "predicted_offset_ms", "corrected_ti_ms", "confidence"} <= set(entry["frames"][0])
    assert abs(entry["null_ti_ms"] - simulated.null_ti_ms) < NULL_TOLERANCE_MS
    assert entry["recommended_lge_ti_ms"] == pytest.approx(entry["null_ti_ms"] + 5.0)
    assert entry["chosen"]["verdict"] == "too early"
    assert not any("Pictures of the monitor" in w for w in entry["warnings"])


def test_ti_correct_on_pictures_of_the_monitor(simulated_dicom, tmp_path, capsys):
    _, simulated = simulated_dicom
    frames = simulated.scout.frames
    paths = []
    for index, frame in enumerate(frames):
        path = tmp_path / f"frame_{index:02d}.png"
        Image.fromarray(np.clip(255 * frame / frames.max(), 0, 255).astype(np.uint8)).save(path)
        paths.append(str(path))
    ti = [str(t) for t in simulated.scout.ti_ms]
    spacing = str(simulated.scout.pixel_spacing_mm[0])
    assert main(["ti-correct", *paths, "--ti-ms", *ti, "--pixel-spacing-mm", spacing, "--json", str(tmp_path / "p.json"), "--quiet"]) == 0
    entry = json.loads((tmp_path / "p.json").read_text())["slices"][0]
    assert abs(entry["null_ti_ms"] - simulated.null_ti_ms) < NULL_TOLERANCE_MS
    assert any("Pictures of the monitor" in w for w in entry["warnings"])


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    assert main(["ti-correct", str(tmp_path / "missing")]) == 2
    assert "Not found" in capsys.readouterr().err
    picture = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(picture)
    assert main(["ti-correct", str(picture)]) == 2
    assert "--ti-ms" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["ti-correct", str(tmp_path / "empty")]) == 2


def test_batch_writes_one_row_per_series(simulated_dicom, tmp_path):
    folder, _ = simulated_dicom
    batch = tmp_path / "studies"
    batch.mkdir()
    (batch / "study_a").symlink_to(folder, target_is_directory=True)
    (batch / "study_b").mkdir()
    out = tmp_path / "batch.csv"
    assert main(["ti-correct", "--batch", str(batch), "--csv", str(out)]) == 0
    lines = out.read_text().strip().splitlines()
    assert lines[0].startswith("study,slice")
    assert len(lines) == 3
    assert "no TI scout found" in lines[2]


def test_batch_workers_give_the_rows_of_one_process(simulated_dicom, tmp_path, capsys):
    """--workers 2 shares the studies between two processes; the CSV is the same, row for row, in order."""
    folder, simulated = simulated_dicom
    batch = tmp_path / "studies"
    batch.mkdir()
    (batch / "a_study").symlink_to(folder, target_is_directory=True)
    (batch / "b_empty").mkdir()
    other = batch / "c_study"
    write_scout_dicom(simulate_scout(np.random.default_rng(77), n_frames=16, matrix=128).scout, other, vendor="ge")
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    assert main(["ti-correct", "--batch", str(batch), "--csv", str(one)]) == 0
    assert main(["ti-correct", "--batch", str(batch), "--csv", str(two), "--workers", "2"]) == 0
    assert "2 workers" in capsys.readouterr().err
    rows = one.read_text().splitlines()
    # studies numbered in the sorted order of their folders (no folder names by default)
    assert len(rows) == 4 and rows[1].startswith("study_001") and "no TI scout found" in rows[2] and rows[3].startswith("study_003")
    assert "a_study" not in one.read_text() and "c_study" not in one.read_text()
    assert two.read_text() == one.read_text()
    assert main(["ti-correct", "--batch", str(batch), "--csv", str(two), "--workers", "2", "--keep-names"]) == 0
    named = two.read_text().splitlines()
    assert named[1].startswith("a_study") and named[3].startswith("c_study")
    assert main(["ti-correct", "--batch", str(batch), "--csv", str(two), "--workers", "-1"]) == 2


def test_without_roi_the_automatic_myocardium_cross_checks_the_cnn(simulated_dicom, tmp_path):
    folder, simulated = simulated_dicom
    out = tmp_path / "auto.json"
    assert main(["ti-correct", str(folder), "--json", str(out), "--quiet"]) == 0
    result = json.loads(out.read_text())
    assert result["myocardium_model"]
    fit = result["slices"][0]["ir_fit"]
    assert fit["myocardium_source"] == "automatic myocardium" and fit["myocardium_pixels"] >= 8
    assert abs(fit["null_ti_ms"] - simulated.null_ti_ms) < 15.0
    assert result["slices"][0]["method"] in ("combined", "ir-fit")
    assert abs(result["slices"][0]["null_ti_ms"] - simulated.null_ti_ms) < 15.0

    cnn_only = tmp_path / "cnn.json"
    assert main(["ti-correct", str(folder), "--json", str(cnn_only), "--quiet", "--no-auto-myocardium"]) == 0
    entry = json.loads(cnn_only.read_text())["slices"][0]
    assert "ir_fit" not in entry and entry["method"] == "cnn"


def test_evaluate_prints_the_published_table_for_the_final_answer_and_the_cnn(tmp_path, capsys):
    out = tmp_path / "evaluation.json"
    assert main(["evaluate", "--simulated", "4", "--seed", "424242", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "optimal range: null -10..+20 ms" in printed and "CNN alone" in printed
    result = json.loads(out.read_text())
    assert result["n_series"] == 4 and sum(result["methods"].values()) == 4
    assert result["frames_cnn"]["n"] == result["frames"]["n"] > 0
    assert main(["evaluate", "--simulated", "2", "--seed", "424242", "--cnn-only"]) == 0
    assert "CNN alone" not in capsys.readouterr().out
