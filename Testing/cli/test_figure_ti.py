"""Issue 12 E19: the committed README figure of TINullCorrection shows what the code renders today.

``cardiac-lge figure-ti`` writes the PNG and, beside it, the numbers it shows (``.json``, with the PNG's sha256).
This test re-computes those numbers (the analysis only, no drawing: a few seconds) and compares them with the
committed sidecar, and checks that the committed PNG is the one the sidecar was written with. After a change
to the models or the pipeline, re-render: ``.venv/bin/cardiac-lge figure-ti``."""

from __future__ import annotations

import hashlib
import json

import pytest
from support.paths import REPO_ROOT

from cardiac_lge.commands.figure_ti import DEFAULT_OUT, figure_analysis, sidecar_path

PNG = REPO_ROOT / DEFAULT_OUT


def test_the_committed_screenshot_shows_the_numbers_the_code_gives_today():
    stored = json.loads(sidecar_path(PNG).read_text(encoding="utf-8"))
    assert hashlib.sha256(PNG.read_bytes()).hexdigest() == stored["png_sha256"], "PNG and its sidecar were not written together"
    _, _, _, numbers = figure_analysis(seed=stored["seed"], n_montage=len(stored["montage"]))
    assert numbers["method"] == stored["method"]
    for key in ("true_null_ti_ms", "estimated_null_ti_ms", "recommended_lge_ti_ms"):
        assert numbers[key] == pytest.approx(stored[key], abs=0.5), f"{key}: re-render with cardiac-lge figure-ti"
    assert [f["status"] for f in numbers["montage"]] == [f["status"] for f in stored["montage"]]
    for now, then in zip(numbers["montage"], stored["montage"], strict=True):
        assert now["ti_ms"] == pytest.approx(then["ti_ms"], abs=0.05)
        assert now["offset_from_null_ms"] == pytest.approx(then["offset_from_null_ms"], abs=0.5)
        assert now["cnn_offset_ms"] == pytest.approx(then["cnn_offset_ms"], abs=0.5)


def test_the_readme_shows_that_figure():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert f"]({DEFAULT_OUT.as_posix()})" in readme
