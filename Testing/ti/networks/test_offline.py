"""onnxruntime 1.32's official wheel starts Microsoft telemetry at its first session: a device identifier and an
event store in ~/.cache/Microsoft/DeveloperTools and a session file in the temporary folder (and an uploader).
Every network and the OCR run with the opt-out set before onnxruntime starts: nothing is written there."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from support.paths import REPO_ROOT

RUN_EVERY_NETWORK = """
import numpy as np
from TINullCorrectionLib.networks.ti_offset import load_model
from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model
from TINullCorrectionLib.networks.single_frame import load_single_frame_model
from TINullCorrectionLib.scenarios import simulate_known_null_scout
model, unet, single = load_model(), load_segmentation_model(), load_single_frame_model()
scout = simulate_known_null_scout(0).scout
assert np.isfinite(model.predict(scout).offset_ms).all()
try:
    from TINullCorrectionLib.io.ocr import RapidTextRecognizer
    RapidTextRecognizer().read_lines([np.full((32, 96), 255, np.uint8)])
except ImportError:
    pass
print("ran")
"""


@pytest.mark.slow
def test_no_telemetry_files_are_written_by_the_networks_or_the_ocr(tmp_path):
    home, temporary = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    temporary.mkdir()
    environment = {key: value for key, value in os.environ.items() if key != "ORT_DISABLE_TELEMETRY"}
    environment.update(HOME=str(home), TMPDIR=str(temporary), MPLCONFIGDIR=str(tmp_path / "mpl"), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, "-c", RUN_EVERY_NETWORK], cwd=REPO_ROOT, env=environment, capture_output=True,
                          text=True, encoding="utf-8", timeout=300)
    assert done.returncode == 0 and "ran" in done.stdout, done.stderr[-3000:]
    written = sorted(str(p.relative_to(tmp_path)) for folder in (home, temporary) for p in folder.rglob("*"))
    assert written == [], f"written outside the outputs: {written}"
