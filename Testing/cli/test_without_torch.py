"""The default install runs without torch (and without the test-only slicer-core / vtk): ti-correct (DICOM,
pictures, --batch), evaluate, simulate, qa-demo and check-env run in a fresh interpreter in which torch,
onnx, onnxscript, slicer and vtk cannot be imported. Every attempt to import them is recorded, so an import
that a command would swallow still fails the test."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
from PIL import Image
from support.paths import REPO_ROOT
from TINullCorrectionLib.sim.dicom_writer import write_scout_dicom
from TINullCorrectionLib.sim.simulator import simulate_scout

BLOCKED = ("torch", "onnx", "onnxscript", "slicer", "vtk")

RUNNER = textwrap.dedent('''
    import builtins, importlib, json, sys
    BLOCKED = set(json.loads(sys.argv[1]))
    attempts = []

    class Blocker:
        """First on sys.meta_path: the blocked packages are not found, as in an environment without them."""

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
            return None

    sys.meta_path.insert(0, Blocker())
    real_import, real_import_module = builtins.__import__, importlib.import_module

    def guarded(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name.split(".")[0] in BLOCKED:
            attempts.append(name)  # recorded even if the caller swallows the ImportError
        return real_import(name, globals, locals, fromlist, level)

    def guarded_module(name, package=None):
        if not name.startswith(".") and name.split(".")[0] in BLOCKED:
            attempts.append(name)
        return real_import_module(name, package)

    builtins.__import__, importlib.import_module = guarded, guarded_module
    from cardiac_lge.cli import main

    codes = [main(argv) for argv in json.loads(sys.argv[2])]
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED and sys.modules[m] is not None)
    print("RESULT " + json.dumps({"codes": codes, "attempts": attempts, "loaded": loaded}))
''')


def test_the_default_profile_commands_run_with_torch_unimportable(tmp_path):
    simulated = simulate_scout(np.random.default_rng(41), n_frames=20, matrix=128)
    study = tmp_path / "batch" / "study1"
    write_scout_dicom(simulated.scout, study, vendor="siemens")
    pictures = []
    for index, frame in enumerate(simulated.scout.frames):
        path = tmp_path / f"frame_{index:02d}.png"
        Image.fromarray(np.clip(255 * frame / simulated.scout.frames.max(), 0, 255).astype(np.uint8)).save(path)
        pictures.append(str(path))
    commands = [
        ["ti-correct", str(study), "--quiet", "--json", str(tmp_path / "dicom.json")],
        ["ti-correct", *pictures, "--ti-ms", *[str(t) for t in simulated.scout.ti_ms], "--quiet"],
        ["ti-correct", "--batch", str(tmp_path / "batch"), "--csv", str(tmp_path / "batch.csv")],
        ["evaluate", "--simulated", "2", "--seed", "5"],
        ["simulate", str(tmp_path / "sim"), "--n-series", "1", "--seed", "3"],
        ["qa-demo", "--out", str(tmp_path / "qa")],
        ["check-env"],
    ]
    process = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(BLOCKED), json.dumps(commands)], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=600)
    lines = [line for line in process.stdout.splitlines() if line.startswith("RESULT ")]
    assert process.returncode == 0 and lines, process.stdout[-3000:] + process.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["codes"] == [0] * len(commands), process.stdout[-3000:] + process.stderr[-3000:]
    assert result["attempts"] == [] and result["loaded"] == []
    entry = json.loads((tmp_path / "dicom.json").read_text())["slices"][0]
    assert abs(entry["null_ti_ms"] - simulated.null_ti_ms) < 25.0
    assert entry["ir_fit"]["myocardium_source"] == "automatic myocardium"
    assert "not installed (only the [train] profile needs it)" in process.stdout
    assert "not installed (only the [test] profile needs it)" in process.stdout


PHONE_ONLY = ("cv2", "fastapi", "uvicorn", "qrcode", "rapidocr_onnxruntime", "starlette")


def test_without_the_phone_profile_single_frames_run_and_the_mosaic_and_serve_say_what_to_install(tmp_path):
    """The default install leaves out the [phone] extra (OpenCV, RapidOCR, FastAPI, uvicorn, qrcode: ~0.2 GB):
    --single-frame needs none of it; --mosaic and serve refuse with the install command, not a traceback."""
    from support.phone_photos import single_frame_photo

    data, ti, _ = single_frame_photo()
    photo = tmp_path / "frame.jpg"
    photo.write_bytes(data)
    commands = [
        ["ti-correct", str(photo), "--single-frame", "--ti-ms", f"{ti:g}"],
        ["ti-correct", str(photo), "--mosaic"],
        ["serve"],
    ]
    process = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(BLOCKED + PHONE_ONLY), json.dumps(commands)],
                             cwd=REPO_ROOT, capture_output=True, text=True, encoding="utf-8", timeout=600)
    lines = [line for line in process.stdout.splitlines() if line.startswith("RESULT ")]
    assert process.returncode == 0 and lines, process.stdout[-3000:] + process.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["codes"] == [0, 2, 2], process.stdout[-3000:] + process.stderr[-3000:]
    assert "Traceback" not in process.stderr
    assert "ti-correct --mosaic needs opencv-python" in process.stderr
    assert "cardiac-lge serve needs opencv-python, fastapi, uvicorn, qrcode" in process.stderr
    assert process.stderr.count("pip install 'cardiac-lge[phone]'") == 2
    assert result["loaded"] == []
