"""Every file Slicer loads is valid on Slicer 5.8's Python 3.9 and on 5.10/5.12's Python 3.12, checked
without those interpreters (vermin + AST checks), and each check is shown to catch a broken copy."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from support.paths import REPO_ROOT
from support.python_versions import OLDEST_PYTHON, SLICER_PYTHON, check_files, slicer_loaded_files


def test_slicer_python_versions_match_slicer_sources():
    """Slicer's top-level CMakeLists.txt pins the embedded CPython: v5.8.1 -> 3.9.10, v5.10.0 and v5.12.0
    -> 3.12.10 (Slicer_REQUIRED_PYTHON_VERSION / python-cmake-buildsystem). If this table changes, the
    target below, ruff's per-file target and requires-python must change with it."""
    assert SLICER_PYTHON == {"5.8": (3, 9, 10), "5.10": (3, 12, 10), "5.12": (3, 12, 10)}
    assert OLDEST_PYTHON == (3, 9)


def test_files_slicer_loads_run_on_python_39_and_312():
    files = slicer_loaded_files(REPO_ROOT)
    names = {p.relative_to(REPO_ROOT).as_posix() for p in files}
    assert "TINullCorrection/TINullCorrectionDICOMPlugin.py" in names
    assert "TINullCorrection/TINullCorrectionLib/io/dicom.py" in names
    assert len(files) > 40
    assert check_files(files) == []


def test_pyproject_tells_the_truth_about_python():
    text = (REPO_ROOT / "pyproject.toml").read_text()
    # The CLI and the test suite need 3.10+ (slicer-core wheels, the CLI's own code); the Lib packages run
    # on 3.9 inside Slicer 5.8 and are linted with ruff's py39 target.
    assert 'requires-python = ">=3.10"' in text
    assert re.search(r'per-file-target-version = \{[^}]*"TINullCorrection/\*\*" = "py39"', text)
    assert '"LGEResolutionQA/**" = "py39"' in text and '"CardiacLGECommon/**" = "py39"' in text
    assert '"LGEReaderStudy/**" = "py39"' in text


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("def f(a, b):\n    return list(zip(a, b, strict=True))\n", "zip(strict)"),
        ("def f(x):\n    match x:\n        case 1:\n            return 1\n", "pattern matching"),
        ("import itertools\n\ndef f(a):\n    return list(itertools.pairwise(a))\n", "pairwise"),
        ("from dataclasses import dataclass\n\n@dataclass(slots=True)\nclass A:\n    x: int = 0\n", "slots"),
        ("def f(x):\n    return isinstance(x, int | float)\n", "isinstance"),
        ("Alias = int | None\n", "type alias"),
        ("def f(x: int | None = None):\n    return x\n", "annotation X | Y"),
        ("import distutils.version\n", "removed in Python 3.12"),
    ],
)
def test_newer_constructs_are_caught(tmp_path, snippet, expected):
    lib = tmp_path / "TINullCorrection" / "TINullCorrectionLib" / "core"
    shutil.copytree(REPO_ROOT / "TINullCorrection" / "TINullCorrectionLib" / "core", lib, ignore=shutil.ignore_patterns("__pycache__"))
    clean = slicer_loaded_files(tmp_path)
    assert check_files(clean) == []
    (lib / "newer.py").write_text(snippet)
    problems = check_files(slicer_loaded_files(tmp_path))
    assert any(expected in p for p in problems), problems


def test_ruff_py39_target_flags_newer_syntax(tmp_path):
    """ruff's per-file target for the Slicer paths (pyproject) reports syntax that 3.9 cannot parse."""
    target = tmp_path / "TINullCorrection" / "TINullCorrectionLib" / "core" / "newer.py"
    target.parent.mkdir(parents=True)
    target.write_text("def f(x):\n    match x:\n        case 1:\n            return 1\n    return 0\n")
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(target)], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0
    assert "match" in (result.stdout + result.stderr).lower()
