"""``cardiac-lge simulate``: DICOM series + labels.csv that the loader reads back with the same TIs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from TINullCorrectionLib.sim.simulator import simulate_scout

from cardiac_lge.cli import main


def test_simulate_writes_labelled_dicom_folders(tmp_path, capsys):
    out = tmp_path / "sim"
    assert main(["simulate", str(out), "--n-series", "2", "--seed", "5", "--vendor", "philips",
                 "--matrix", "32", "--field-strength", "3"]) == 0
    assert "[2/2]" in capsys.readouterr().out
    with open(out / "labels.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["series_dir"] for r in rows] == ["series_001", "series_002"]
    parameters = json.loads((out / "parameters.json").read_text())
    assert parameters["series_001"]["field_strength_t"] == 3.0
    # series i is the simulator drawn from SeedSequence([seed, i]): its null is the label
    expected = simulate_scout(np.random.default_rng(np.random.SeedSequence([5, 0])), phase_sensitive=False,
                              field_strength_t=3.0, matrix=32)
    assert float(rows[0]["null_ti_ms"]) == pytest.approx(expected.null_ti_ms, abs=0.01)
    assert len(list((out / "series_001").glob("*.dcm"))) == expected.scout.n_frames
    from TINullCorrectionLib.io import dicom as dicom_io
    (loaded,) = dicom_io.load_ti_scouts(out / "series_001")
    np.testing.assert_allclose(loaded.ti_ms, expected.scout.ti_ms, atol=1e-6)
    # a second run into the same folder refuses to overwrite the labels
    assert main(["simulate", str(out), "--n-series", "1"]) == 2


def test_simulate_photo_and_phase_sensitive(tmp_path):
    out = tmp_path / "photo"
    assert main(["simulate", str(out), "--n-series", "1", "--matrix", "32", "--photo", "3mp"]) == 0
    assert (out / "series_001").is_dir()
    out = tmp_path / "ps"
    assert main(["simulate", str(out), "--n-series", "1", "--matrix", "32", "--phase-sensitive"]) == 0
    from TINullCorrectionLib.io import dicom as dicom_io
    (loaded,) = dicom_io.load_ti_scouts(out / "series_001")
    assert loaded.phase_sensitive
