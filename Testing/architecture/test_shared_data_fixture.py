"""Issue 12 E18: a wrong CARDIACLGE_SHARED_DATA skips the real-data tests with the reason instead of failing them."""

from __future__ import annotations

import os
import subprocess
import sys

from support.paths import REPO_ROOT, SHARED_DATASETS, shared_data_problem


def test_the_reason_names_the_folder_and_what_it_lacks(tmp_path, monkeypatch):
    monkeypatch.setenv("CARDIACLGE_SHARED_DATA", str(tmp_path / "nowhere"))
    assert "not found at" in shared_data_problem(tmp_path / "nowhere")
    (tmp_path / "look_locker_native_philips").mkdir()
    reason = shared_data_problem(tmp_path)
    assert "is not the shared data folder" in reason and "ir_t1_phantom" in reason and "CARDIACLGE_SHARED_DATA" in reason
    for name in SHARED_DATASETS:
        (tmp_path / name).mkdir(exist_ok=True)
    assert shared_data_problem(tmp_path) == ""


def test_real_data_tests_skip_with_the_reason_under_a_wrong_setting(tmp_path):
    wrong = tmp_path / "some_other_folder"
    wrong.mkdir()
    (wrong / "README.md").write_text("not the data\n")
    environment = {**os.environ, "CARDIACLGE_SHARED_DATA": str(wrong)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-m", "realdata", "-p", "no:cacheprovider",
                           "Testing/ti/io/test_dicom.py"], cwd=REPO_ROOT, env=environment, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "failed" not in done.stdout and "skipped" in done.stdout
    assert f"{wrong} (CARDIACLGE_SHARED_DATA) is not the shared data folder" in done.stdout
