"""Issue 12 B13/B14: every file the TI commands write is written atomically and checked before the work.

A full disk is simulated by making the low-level writer write part of its content and then fail with ENOSPC.
Each command must then stop with a one-line message naming the file, leave the earlier file exactly as it was,
and leave no partial file behind; unwritable outputs are found before any work is done.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
import torch
from TINullCorrectionLib.sim.dicom_writer import write_scout_dicom
from TINullCorrectionLib.sim.simulator import simulate_scout

from cardiac_lge.cli import main

OLD = "earlier result\n"


def _enospc(path) -> OSError:
    return OSError(errno.ENOSPC, "No space left on device", str(path))


def full_disk_text(monkeypatch):
    original = Path.write_text

    def write_text(self, data, *args, **kwargs):
        original(self, data[: len(data) // 2], *args, **kwargs)
        raise _enospc(self)

    monkeypatch.setattr(Path, "write_text", write_text)


def full_disk_bytes(monkeypatch):
    original = Path.write_bytes

    def write_bytes(self, data):
        original(self, data[: len(data) // 2])
        raise _enospc(self)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)


def full_disk_torch(monkeypatch):
    def save(payload, path, *args, **kwargs):
        Path(path).write_bytes(b"PK\x03\x04 half a zip")
        raise _enospc(path)

    monkeypatch.setattr(torch, "save", save)


def full_disk_dicom(monkeypatch):
    def save_as(self, path, *args, **kwargs):
        Path(path).write_bytes(b"\0" * 128 + b"DICM half")
        raise _enospc(path)

    monkeypatch.setattr(pydicom.dataset.Dataset, "save_as", save_as)


@pytest.fixture(scope="module")
def scout_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scout")
    simulated = simulate_scout(np.random.default_rng(2026), n_frames=12, ti_step_ms=50.0, matrix=96, phase_sensitive=False)
    write_scout_dicom(simulated.scout, folder / "series", vendor="siemens")
    return folder


def _fake_training(monkeypatch):
    """train's data and training replaced by the shipped torch model (the write is under test, not the training)."""
    import cardiac_lge.training.ti_offset as training

    monkeypatch.setattr(training, "simulate_series_set", lambda *a, **k: training.SeriesSet())
    monkeypatch.setattr(training, "train_model", lambda *a, **k: (training.load_torch_model(), [{"epoch": 1}]))


CASES = {
    "ti-correct --json": (lambda f, o: ["ti-correct", str(f / "series"), "--no-auto-myocardium", "--quiet", "--json", str(o / "r.json")],
                          "r.json", full_disk_text, None),
    "ti-correct --batch --csv": (lambda f, o: ["ti-correct", "--batch", str(f), "--csv", str(o / "rows.csv"), "--no-auto-myocardium"],
                                 "rows.csv", full_disk_text, None),
    "evaluate --json": (lambda f, o: ["evaluate", "--simulated", "1", "--cnn-only", "--json", str(o / "e.json")],
                        "e.json", full_disk_text, None),
    "simulate labels.csv": (lambda f, o: ["simulate", str(o), "--n-series", "1", "--matrix", "32", "--overwrite"],
                            "labels.csv", full_disk_text, None),
    "simulate DICOM files": (lambda f, o: ["simulate", str(o), "--n-series", "1", "--matrix", "32", "--overwrite"],
                             "labels.csv", full_disk_dicom, None),
    "train --out": (lambda f, o: ["train", "--out", str(o / "m.pt"), "--n-series", "2", "--epochs", "1"],
                    "m.pt", full_disk_torch, _fake_training),
    "figure-ti --out": (lambda f, o: ["figure-ti", "--out", str(o / "figure.png")], "figure.png", full_disk_bytes, None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_full_disk_keeps_the_earlier_file_and_leaves_no_partial_file(name, scout_folder, tmp_path, monkeypatch, capsys):
    argv, output, fault, prepare = CASES[name]
    named = {"simulate labels.csv": "parameters.json", "simulate DICOM files": "IM_0001.dcm"}.get(name, output)
    out = tmp_path / "out"
    out.mkdir()
    (out / output).write_text(OLD)
    if prepare is not None:
        prepare(monkeypatch)
    fault(monkeypatch)
    assert main(argv(scout_folder, out)) == 2
    error = capsys.readouterr().err
    messages = [line for line in error.replace("\r", "\n").splitlines() if line.startswith("cardiac-lge")]
    assert "Traceback" not in error and len(messages) == 1 and "No space left on device" in messages[0], error
    assert named in messages[0]  # the file that could not be written
    assert (out / output).read_text() == OLD
    leftovers = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != output]
    assert not [p for p in leftovers if ".part" in p or p.endswith(".json") and p != "parameters.json"], leftovers
    for dicom in out.rglob("*.dcm"):  # the series written before the failure are complete files
        pydicom.dcmread(dicom)


def test_train_out_unwritable_is_found_before_any_data_is_made(tmp_path, monkeypatch, capsys):
    import cardiac_lge.training.ti_offset as training

    def must_not_run(*args, **kwargs):
        raise AssertionError("training data were simulated before the output was checked")

    monkeypatch.setattr(training, "simulate_series_set", must_not_run)
    assert main(["train", "--out", str(tmp_path / "no" / "m.pt"), "--n-series", "2", "--epochs", "1"]) == 2
    assert "m.pt" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path), "--n-series", "2"]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_a_fine_tuned_model_card_keeps_no_site_data_paths(tmp_path, monkeypatch):
    """Issue 12 D17: the card's training command names the options, never the folders of a site's data (in the
    .pt for fine-tuning and in the .onnx that inference reads)."""
    from TINullCorrectionLib.networks.ti_offset import load_model

    import cardiac_lge.training.ti_offset as training

    _fake_training(monkeypatch)
    monkeypatch.setattr(training, "labelled_dicom_series_set", lambda *a, **k: training.SeriesSet())
    site = tmp_path / "DOE_JANE_ID12345"
    site.mkdir()
    (site / "labels.csv").write_text("series_dir,null_ti_ms\n")
    out = tmp_path / "fine_tuned.pt"
    assert main(["train", "--out", str(out), "--n-series", "0", "--epochs", "1", "--dicom-dir", str(site), "--labels",
                 str(site / "labels.csv")]) == 0
    for card in (training.load_torch_model(out).card, load_model(out.with_suffix(".onnx")).card):
        assert "DOE_JANE" not in json.dumps(card) and str(tmp_path) not in json.dumps(card)
        assert "--dicom-dir <site data> --labels <site data>" in card["training_command"]
        assert "--out fine_tuned.pt" in card["training_command"] and card["trained_on_site_series"] is True
