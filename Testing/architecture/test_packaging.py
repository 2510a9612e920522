"""The package builds without setuptools warnings (issue 12 E20: the license table and the undeclared data
folders warned on every install) and the wheel holds what the default install runs: every model file, the
web page's static files and the licence."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest
from support.paths import REPO_ROOT

NOT_PART_OF_THE_BUILD = (".git", ".venv", ".venv-runtime", "demo_output", "build", "dist", "*.egg-info", "__pycache__",
                         ".pytest_cache", ".ruff_cache", ".hypothesis")


@pytest.mark.slow
def test_the_wheel_builds_without_warnings_and_holds_the_models_and_the_page(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(*NOT_PART_OF_THE_BUILD))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                           "--wheel-dir", str(tmp_path / "dist"), "-v"], capture_output=True, text=True, encoding="utf-8",
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert "BuildBackendWarning" not in output and "SetuptoolsDeprecationWarning" not in output, \
        [line for line in output.splitlines() if "Warning" in line]
    (wheel,) = (tmp_path / "dist").glob("cardiac_lge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    models = REPO_ROOT / "TINullCorrection" / "TINullCorrectionLib" / "models"
    for path in models.iterdir():
        assert f"TINullCorrectionLib/models/{path.name}" in names, path.name
    for path in (REPO_ROOT / "cardiac_lge" / "serve" / "static").iterdir():
        assert f"cardiac_lge/serve/static/{path.name}" in names, path.name
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
