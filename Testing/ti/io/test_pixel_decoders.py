"""'Install the JPEG decoders, then load again' in ONE session, with pydicom 2.4.4 (Slicer 5.8 and
5.10 ship it) and with this environment's pydicom 3.x (Slicer 5.12 ships 3.0.2), on the real
JPEG-lossless Philips Look-Locker. Each scenario runs in a fresh subprocess (Testing/support/decoder_session.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import REPO_ROOT

pytestmark = pytest.mark.realdata
SLICER_5_8_PYDICOM = "pydicom==2.4.4"  # Slicer 5.8.1 and 5.10.0: SuperBuild/External_python-dicom-requirements.cmake
SESSION_SCRIPT = REPO_ROOT / "Testing" / "support" / "decoder_session.py"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"


@pytest.fixture(scope="session")
def pydicom_244(request) -> Path:
    """pydicom 2.4.4 alone in a folder (pip --target), kept in pytest's cache between runs."""
    target = Path(request.config.cache.mkdir("pydicom-2.4.4"))
    if not (target / "pydicom" / "__init__.py").exists():
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), SLICER_5_8_PYDICOM],
            capture_output=True, text=True, timeout=300,
        )
        if result.returncode != 0 or not (target / "pydicom" / "__init__.py").exists():
            pytest.skip(f"pip could not fetch {SLICER_5_8_PYDICOM}: {result.stderr.strip()[-300:]}")
    return target


def _slice_files(shared_data) -> list[str]:
    from TINullCorrectionLib.io.dicom import examine_dicom_files

    return list(examine_dicom_files(shared_data / "look_locker_native_philips")[0].files)


def _session(mode: str, files: list[str], pythonpath: Path | None) -> dict:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, str(SESSION_SCRIPT), mode, *files], capture_output=True, text=True, env=env, timeout=300)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stderr[-2000:]
    return json.loads(lines[-1][len("RESULT "):])


@pytest.mark.parametrize("which", ["pydicom 2.4.4", "pydicom 3.x"])
def test_decoders_installed_after_import_are_used_in_the_same_session(shared_data, pydicom_244, which):
    out = _session("io", _slice_files(shared_data), pydicom_244 if which == "pydicom 2.4.4" else None)
    assert out["pydicom"].startswith("2.4.4" if which == "pydicom 2.4.4" else "3.")
    assert out["syntax"] == JPEG_LOSSLESS_SV1
    assert out["before_install"].startswith("ScoutError") and "codec" in out["before_install"]
    # pydicom decided at import that there is no decoder: installing alone does not help ...
    assert out["installed_not_refreshed"].startswith("ScoutError"), out
    # ... re-evaluating its decoder plugins does.
    assert out["refreshed"] == "loaded", out


def test_plugin_load_path_installs_refreshes_and_loads_with_pydicom_244(shared_data, pydicom_244):
    out = _session("mrml", _slice_files(shared_data), pydicom_244)
    assert out["pydicom"] == "2.4.4"
    assert out["declined"].startswith("ScoutError") and out["nodes_after_declined"] == 0
    assert out["installed"] == "loaded" and out["sequences"] == 1, out
