"""One source for the measured accuracy of the shipped models (issue 12 A9): models/measured_accuracy.json.

The picture warning of ti-correct, the model card and the README quote the same figures; the benchmark's
``--write-accuracy`` writes that file (atomically, merging the conditions it did not measure)."""

from __future__ import annotations

import importlib.util
import json
import re
from types import SimpleNamespace

import pytest
from support.paths import REPO_ROOT
from TINullCorrectionLib.networks.measured_accuracy import ACCURACY_PATH, measured_accuracy, picture_warning

# Row labels of the two tables (README and model card) -> the condition in the JSON, and which figure.
ROWS = {
    ("plain", "final"): ("DICOM frames, **final**", "DICOM-quality frames, **final**"),
    ("plain", "cnn"): ("DICOM frames, CNN alone", "DICOM-quality frames, CNN alone"),
    ("4k", "final"): ("phone photo, 4K monitor, **final**",) * 2,
    ("4k", "cnn"): ("phone photo, 4K monitor, CNN alone",) * 2,
    ("3mp", "final"): ("phone photo, 3 MP monitor, **final**",) * 2,
    ("3mp", "cnn"): ("phone photo, 3 MP monitor, CNN alone",) * 2,
}


def _table_row(text: str, label: str) -> list[str]:
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == label:
            return cells
    raise AssertionError(f"no table row {label!r}")


def _first_number(cell: str) -> float:
    return float(re.search(r"(\d+(?:\.\d+)?)", cell.replace("*", "")).group(1))


@pytest.mark.parametrize("document", ["README.md", "TINullCorrection/TINullCorrectionLib/models/MODEL_CARD.md"])
def test_model_card_and_readme_quote_the_measured_accuracy_file(document):
    data = measured_accuracy()
    text = (REPO_ROOT / document).read_text(encoding="utf-8")
    column = 0 if document == "README.md" else 1
    mae_cell = 2 if document == "README.md" else 3
    for (condition, kind), labels in ROWS.items():
        cells = _table_row(text, labels[column])
        figures = data["conditions"][condition]
        key = "final_frames_optimal_pct" if kind == "final" else "cnn_frames_optimal_pct"
        assert _first_number(cells[1]) == pytest.approx(figures[key]), (document, labels[column])
        if kind == "final":
            assert _first_number(cells[mae_cell]) == pytest.approx(figures["final_series_mae_ms"]), (document, labels[column])
    low, high = data["optimal_range_ms"]
    assert f"null −{abs(low):g}…+{high:g} ms" in text or f"null {low:+g}..{high:+g} ms" in text


def test_the_picture_warning_quotes_the_file():
    data = measured_accuracy()
    warning = picture_warning()
    for condition in ("4k", "3mp"):
        assert f"{data['conditions'][condition]['final_frames_optimal_pct']:.1f}%" in warning
    assert f"{data['conditions']['4k']['cnn_frames_optimal_pct']:.1f}%" in warning
    assert "84%" not in warning  # the old hard-coded figure


def _benchmark_module():
    spec = importlib.util.spec_from_file_location("bench_ti_correction", REPO_ROOT / "benchmarks" / "bench_ti_correction.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result(final_pct, cnn_pct, mae):
    breakdown = SimpleNamespace
    return SimpleNamespace(frames=breakdown(optimal_pct=final_pct), frames_cnn=breakdown(optimal_pct=cnn_pct), null_mae_ms=mae,
                           optimal_range_ms=(-10.0, 20.0))


def test_write_accuracy_rewrites_the_file_atomically_and_keeps_unmeasured_conditions(tmp_path):
    bench = _benchmark_module()
    path = tmp_path / "measured_accuracy.json"
    path.write_text(ACCURACY_PATH.read_text(encoding="utf-8"))
    previous = json.loads(path.read_text())
    record = bench.accuracy_record({"4k": _result(91.23, 50.04, 5.55)}, previous["n_series"], previous["seed"], "cmd", "2030-01-01")
    bench.write_accuracy(path, record)
    written = json.loads(path.read_text())
    assert written["conditions"]["4k"] == {"final_frames_optimal_pct": 91.2, "cnn_frames_optimal_pct": 50.0, "final_series_mae_ms": 5.5}
    assert written["conditions"]["plain"] == previous["conditions"]["plain"]  # not measured now: kept
    assert written["command"] == "cmd" and written["measured_on"] == "2030-01-01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["measured_accuracy.json"]  # no temporary file left
    with pytest.raises(ValueError, match="cnn-only"):
        bench.accuracy_record({"plain": SimpleNamespace(frames_cnn=None)}, 1, 1, "", "")
