"""The benchmarks are not tests (they print measurements), but they call the project's own functions and break
silently when those change: the TI benchmark's batch section once passed the models where `batch_rows` now
takes the study id. Each benchmark's cheapest section runs here on a tiny input."""

from __future__ import annotations

import importlib.util

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


@pytest.mark.slow
def test_the_ti_benchmark_times_two_trees_in_turns(tmp_path):
    """The interleaved core path of this tree against a baseline tree (here this tree twice) runs both configurations."""
    bench = _benchmark("bench_ti_correction")
    bench._write_30_frame_series(str(tmp_path))
    results = bench.core_path_of_trees({"this tree": REPO_ROOT, "baseline": REPO_ROOT}, str(tmp_path), rounds=1)
    assert set(results) == {(label, configuration) for label in ("this tree", "baseline") for configuration in ("cnn", "auto")}
    assert all(0 < best <= median for median, best in results.values())
