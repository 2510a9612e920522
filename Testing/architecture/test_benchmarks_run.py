"""The benchmarks are not tests (they print measurements), but they call the project's own functions and break
silently when those change: the TI benchmark's batch section once passed the models where `batch_rows` now
takes the study id. Each benchmark's cheapest section runs here on a tiny input."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from support.paths import REPO_ROOT


def _benchmark(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", REPO_ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_ti_benchmark_batch_section_runs_on_two_series(capsys):
    bench = _benchmark("bench_ti_correction")
    backends = {"onnxruntime": bench.load_backend("onnxruntime")}
    bench.batch_throughput(2, [1], backends)
    out = capsys.readouterr().out
    assert "[onnxruntime] in one process, models loaded:" in out and "[cardiac-lge --workers 1] whole command:" in out


def test_the_lge_benchmark_cross_validation_never_chooses_on_the_held_out_fold():
    """gmm-pool's parameters are chosen on four folds and measured on the fifth: a grid point that is perfect except
    on one case wins on the folds without that case and pays for it on the held-out case. A selection that saw the
    held-out fold (a leak) would pick "b" everywhere and report 5.0 instead of 14.0."""
    bench = _benchmark("bench_lge_emidec")
    names = [f"Case_P{i:03d}" for i in range(10)]

    def row(name, delta):
        expert = 10.0 + int(name[-3:])
        return {"case": name, "infarct": True, "expert": expert, "refused": None, "percent": expert + delta,
                "dice": 0.5, "warnings": (), "mvo_recall": 0.0, "has_mvo": False}

    grid = {"a": [row(n, 100.0 if i == 3 else 0.0) for i, n in enumerate(names)],
            "b": [row(n, 5.0) for n in names]}
    assert bench.choose_parameters(grid, names) == "b"  # whole set: a 10.0, b 5.0
    summary, chosen = bench.cross_validate(grid, names, folds=5)
    assert chosen == ["b", "b", "b", "a", "b"]  # fold 3 holds out case 3 (and 8): a is perfect on the rest
    assert summary["mad"] == pytest.approx((100.0 + 0.0 + 8 * 5.0) / 10)
    assert sorted(r["case"] for r in summary["rows"]) == names


@pytest.mark.slow
def test_the_ti_benchmark_times_two_trees_in_turns(tmp_path):
    """The interleaved core path of this tree against a baseline tree (here this tree twice) runs both configurations."""
    bench = _benchmark("bench_ti_correction")
    bench._write_30_frame_series(str(tmp_path))
    results = bench.core_path_of_trees({"this tree": REPO_ROOT, "baseline": REPO_ROOT}, str(tmp_path), rounds=1)
    assert set(results) == {(label, configuration) for label in ("this tree", "baseline") for configuration in ("cnn", "auto")}
    assert all(0 < best <= median for median, best in results.values())


def test_the_mosaic_diagnostic_measures_what_glare_left_per_tile():
    """The mosaic diagnostic's level error: tiles that differ from the truth by one tone curve for the whole photo have
    none; an offset added to some tiles (glare left behind) is found on those tiles, in levels."""
    bench = _benchmark("diag_mosaic_tiles")
    rng = np.random.default_rng(5)
    truth = rng.uniform(0, 255, (6, 32, 32))
    photo = 10.0 + 255.0 * (truth / 255.0) ** 0.9 * 0.8
    assert np.abs(bench.level_errors(photo, truth)).max() < 0.5
    offsets = np.array([0.0, 0.0, 6.0, 0.0, -4.0, 0.0])
    found = bench.level_errors(photo + offsets[:, None, None], truth)
    assert np.allclose(found, offsets - np.median(offsets), atol=0.7)
