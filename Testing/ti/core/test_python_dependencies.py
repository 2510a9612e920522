"""The module's install decisions (pure; TINullCorrection.py carries them out): what is missing, which of Slicer's
installers to use, and what the panel says when installing fails."""

from __future__ import annotations

import importlib.metadata
import subprocess

import pytest
from TINullCorrectionLib.core import python_dependencies as deps

#: What each supported Slicer has (read in Slicer's sources): slicer.packaging.pip_ensure first appears in 5.12.
SLICER_HAS_PIP_ENSURE = {(5, 8): False, (5, 10): False, (5, 12): True}


def test_inference_needs_onnxruntime_only():
    assert deps.INFERENCE_REQUIREMENTS == {"onnxruntime>=1.19.2": "onnxruntime"}


@pytest.mark.parametrize(("version", "has_pip_ensure", "action"), [
    ((5, 8), False, deps.PIP_INSTALL), ((5, 10), False, deps.PIP_INSTALL), ((5, 12), True, deps.PIP_ENSURE)])
def test_installer_for_each_supported_slicer(version, has_pip_ensure, action):
    assert SLICER_HAS_PIP_ENSURE[version] == has_pip_ensure
    plan = deps.plan_install(("onnxruntime>=1.19.2",), "TINullCorrection", testing=False, has_pip_ensure=has_pip_ensure)
    assert plan.action == action and plan.missing == ("onnxruntime>=1.19.2",) and plan.prompt
    if action == deps.PIP_INSTALL:  # 5.8/5.10's pip_install asks nothing: the module asks first
        assert "onnxruntime>=1.19.2" in plan.message and "Install them now?" in plan.message


def test_testing_mode_installs_without_a_dialog():
    for has_pip_ensure, action in ((False, deps.PIP_INSTALL), (True, deps.PIP_ENSURE)):
        plan = deps.plan_install(("onnxruntime>=1.19.2",), "TINullCorrection self-test", testing=True, has_pip_ensure=has_pip_ensure)
        assert plan.action == action and plan.prompt is False and plan.message == ""
    assert deps.plan_install((), "x", testing=True, has_pip_ensure=False).action == deps.NOTHING_TO_DO


def test_failure_messages_name_the_cause_and_the_manual_fix():
    missing = ("onnxruntime>=1.19.2",)
    pip_failed = deps.failure_message(subprocess.CalledProcessError(1, ["PythonSlicer", "-m", "pip", "install"]), missing)
    assert "failed (pip exit code 1)" in pip_failed and "internet" in pip_failed
    assert "slicer.util.pip_install('onnxruntime>=1.19.2')" in pip_failed
    assert "declined" in deps.failure_message(RuntimeError("User declined package installation"), missing)
    other = deps.failure_message(RuntimeError("PythonSlicer executable not found"), missing)
    assert "PythonSlicer executable not found" in other and "Traceback" not in other
    assert "Restart Slicer" in deps.still_missing_message(missing)


def test_missing_requirements_checks_presence_and_minimum_version():
    present = {"onnxruntime", "numpy"}

    def find_spec(name):
        return object() if name in present else None

    versions = {"onnxruntime": "1.18.1", "numpy": "2.0.2"}

    def installed_version(name):
        if name not in versions:
            raise importlib.metadata.PackageNotFoundError(name)
        return versions[name]

    requirements = {"onnxruntime>=1.19.2": "onnxruntime", "numpy>=1.24": "numpy", "absent>=1": "absent_module"}
    assert deps.missing_requirements(requirements, find_spec, installed_version) == ("onnxruntime>=1.19.2", "absent>=1")
    versions["onnxruntime"] = "1.20.0rc1"
    assert deps.missing_requirements(requirements, find_spec, installed_version) == ("absent>=1",)
    del versions["onnxruntime"]  # imports, but installed under another distribution name (onnxruntime-gpu): present
    assert deps.missing_requirements(requirements, find_spec, installed_version) == ("absent>=1",)


def test_missing_requirements_of_this_environment():
    assert deps.missing_requirements(deps.INFERENCE_REQUIREMENTS) == ()
    assert deps.missing_requirements({"onnxruntime>=999": "onnxruntime"}) == ("onnxruntime>=999",)
