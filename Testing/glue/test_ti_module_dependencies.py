"""TINullCorrection.py's dependency installation and self-test, run under slicer-core with the application-only
parts (qt, ScriptedLoadableModule, parameterNodeWrapper, slicer.app, Slicer's installers) replaced by stand-ins
that behave as Slicer's own code does (read in its sources, tags v5.8.1 / v5.10.0 / v5.12.0):
slicer.util.pip_install raises subprocess.CalledProcessError when pip fails; slicer.packaging (5.12 only)
has pip_ensure(requirements, constraints=None, skip_packages=None, prompt_install=True, prompt_restart=True,
requester=None, skip_in_testing=True, show_progress=True), which raises RuntimeError when the user declines.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import sys
import types
import unittest

import pytest
from support.paths import REPO_ROOT

MODULE_PATH = REPO_ROOT / "TINullCorrection" / "TINullCorrection.py"
ABSENT = "cardiaclge_absent_package"
REQUIREMENT = "cardiaclge-absent-package>=1.0"


@pytest.fixture
def module(monkeypatch):

    qt = types.ModuleType("qt")
    qt.Qt = types.SimpleNamespace(Checked=2, Unchecked=0)
    wrapper = types.ModuleType("slicer.parameterNodeWrapper")
    wrapper.parameterNodeWrapper = lambda cls: cls
    for name in ("Default", "FloatRange", "RangeBounds", "WithinRange"):
        setattr(wrapper, name, lambda *args, _name=name: (_name, args))
    scripted = types.ModuleType("slicer.ScriptedLoadableModule")

    class _Base:
        def __init__(self, *args, **kwargs):
            pass

    for name in ("ScriptedLoadableModule", "ScriptedLoadableModuleWidget", "ScriptedLoadableModuleLogic"):
        setattr(scripted, name, type(name, (_Base,), {}))
    scripted.ScriptedLoadableModuleTest = type("ScriptedLoadableModuleTest", (unittest.TestCase,), {"delayDisplay": lambda self, text: None})
    monkeypatch.setitem(sys.modules, "qt", qt)
    monkeypatch.setitem(sys.modules, "slicer.parameterNodeWrapper", wrapper)
    monkeypatch.setitem(sys.modules, "slicer.ScriptedLoadableModule", scripted)
    spec = importlib.util.spec_from_file_location("TINullCorrection_under_test", MODULE_PATH)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    monkeypatch.setattr(loaded, "PYTHON_REQUIREMENTS", {REQUIREMENT: ABSENT})
    monkeypatch.delitem(sys.modules, ABSENT, raising=False)
    return loaded


class FakeSlicer:
    """slicer.app, slicer.util's dialogs and installers, and (Slicer 5.12) slicer.packaging, as Slicer behaves."""

    def __init__(self, monkeypatch, version: tuple[int, int], testing: bool = False, pip_error: BaseException | None = None,
                 accept: bool = True):
        import slicer

        self.calls, self.dialogs, self.errors = [], [], []
        self.pip_error, self.accept, self.testing = pip_error, accept, testing
        monkeypatch.setattr(slicer, "app", types.SimpleNamespace(testingEnabled=lambda: testing, processEvents=lambda: None,
                                                                 majorVersion=version[0], minorVersion=version[1]), raising=False)
        monkeypatch.setattr(slicer.util, "confirmOkCancelDisplay", self._confirm, raising=False)
        monkeypatch.setattr(slicer.util, "errorDisplay", lambda text, **kwargs: self.errors.append(text), raising=False)
        monkeypatch.setattr(slicer.util, "WaitCursor", _NullContext, raising=False)
        monkeypatch.setattr(slicer.util, "pip_install", self._pip_install, raising=False)
        if version >= (5, 12):
            packaging = types.ModuleType("slicer.packaging")
            packaging.pip_ensure = self._pip_ensure
            monkeypatch.setitem(sys.modules, "slicer.packaging", packaging)
            monkeypatch.setattr(slicer, "packaging", packaging, raising=False)
        else:  # 5.8 / 5.10: no slicer.packaging module
            monkeypatch.setitem(sys.modules, "slicer.packaging", None)
            monkeypatch.delattr(slicer, "packaging", raising=False)

    def _confirm(self, text, windowTitle=None, **kwargs):
        self.dialogs.append(text)
        return self.accept

    def _install(self):
        if self.pip_error is not None:
            raise self.pip_error
        module = types.ModuleType(ABSENT)
        module.__spec__ = importlib.machinery.ModuleSpec(ABSENT, None)
        sys.modules[ABSENT] = module  # "installed": importable from now on

    def _pip_install(self, requirements):
        self.calls.append(("pip_install", requirements))
        self._install()

    def _pip_ensure(self, requirements, constraints=None, skip_packages=None, prompt_install=True, prompt_restart=True,
                    requester=None, skip_in_testing=True, show_progress=True):
        self.calls.append(("pip_ensure", list(requirements), requester))
        self.ensure_options = {"prompt_install": prompt_install, "skip_in_testing": skip_in_testing, "show_progress": show_progress}
        if skip_in_testing and self.testing:
            return None  # Slicer 5.12 installs nothing in testing mode unless told otherwise
        if prompt_install and not self._confirm(f"{len(requirements)} Python package needs to be installed."):
            raise RuntimeError("User declined package installation")
        self._install()


class _NullContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _run_button(module):
    """The widget's Run handler on a stand-in widget: it must stop at the dependency step, with a message."""
    pn = types.SimpleNamespace(statusText="")
    widget = types.SimpleNamespace(_parameterNode=pn)
    module.TINullCorrectionWidget.onRunButton(widget)
    return pn.statusText


def test_a_failed_pip_install_shows_in_the_panel_without_a_traceback(module, monkeypatch):
    """Slicer 5.8/5.10: pip fails (no network) -> CalledProcessError; Run reports it in the panel."""
    fake = FakeSlicer(monkeypatch, (5, 10), pip_error=subprocess.CalledProcessError(1, ["PythonSlicer", "-m", "pip", "install"]))
    status = _run_button(module)
    assert "installing cardiaclge-absent-package>=1.0 failed (pip exit code 1)" in status
    assert "slicer.util.pip_install(" in status
    assert fake.calls == [("pip_install", [REQUIREMENT])] and len(fake.dialogs) == 1  # asked once, then tried
    assert fake.errors and "pip exit code 1" in fake.errors[0]


def test_slicer_5_12_installs_through_pip_ensure(module, monkeypatch):
    fake = FakeSlicer(monkeypatch, (5, 12))
    ready, message = module.installPythonDependencies()
    assert ready and message == ""
    assert fake.calls == [("pip_ensure", [REQUIREMENT], "TINullCorrection")]
    assert len(fake.dialogs) == 1  # pip_ensure's own consent question, no second one of ours


def test_slicer_5_12_pip_failure_and_decline_are_reported(module, monkeypatch):
    FakeSlicer(monkeypatch, (5, 12), pip_error=subprocess.CalledProcessError(2, "pip install"))
    assert "pip exit code 2" in _run_button(module)
    FakeSlicer(monkeypatch, (5, 12), accept=False)
    assert "installation declined" in _run_button(module)


def test_slicer_5_8_asks_before_pip_install_and_then_runs(module, monkeypatch):
    fake = FakeSlicer(monkeypatch, (5, 8))
    ready, message = module.installPythonDependencies()
    assert ready and fake.calls == [("pip_install", [REQUIREMENT])]
    assert "onnxruntime runs the two small networks" in fake.dialogs[0]
    declined = FakeSlicer(monkeypatch, (5, 8), accept=False)
    sys.modules.pop(ABSENT, None)
    ready, message = module.installPythonDependencies()
    assert not ready and "installation declined" in message and declined.calls == []


def test_testing_mode_installs_without_a_dialog(module, monkeypatch):
    """--testing: no dialog; the self-test on a fresh Slicer installs onnxruntime once and then runs."""
    fake = FakeSlicer(monkeypatch, (5, 10), testing=True)
    assert module.installPythonDependencies() == (True, "")
    assert fake.calls == [("pip_install", [REQUIREMENT])] and fake.dialogs == []
    sys.modules.pop(ABSENT, None)
    fake = FakeSlicer(monkeypatch, (5, 12), testing=True)
    assert module.installPythonDependencies() == (True, "")  # pip_ensure told to install in testing mode, silently
    assert fake.calls == [("pip_ensure", [REQUIREMENT], "TINullCorrection")] and fake.dialogs == []
    assert fake.ensure_options == {"prompt_install": False, "skip_in_testing": False, "show_progress": False}


def test_the_self_test_skips_with_a_clear_message_when_it_cannot_install(module, monkeypatch):
    FakeSlicer(monkeypatch, (5, 10), testing=True, pip_error=subprocess.CalledProcessError(1, "pip install"))
    test = module.TINullCorrectionTest()
    for name in ("test_simulated_scout_scenario", "test_automatic_myocardium_scenario"):
        with pytest.raises(unittest.SkipTest, match=r"installing cardiaclge-absent-package>=1.0 failed \(pip exit code 1\).*by hand"):
            getattr(test, name)()


def test_the_module_asks_for_onnxruntime_only():
    source = MODULE_PATH.read_text()
    from TINullCorrectionLib.core.python_dependencies import INFERENCE_REQUIREMENTS

    assert INFERENCE_REQUIREMENTS == {"onnxruntime>=1.19.2": "onnxruntime"}
    assert 'PYTHON_REQUIREMENTS = {"onnxruntime>=1.19.2": "onnxruntime"}' in source
    assert "PyTorchUtils" not in source and "torch>=" not in source
