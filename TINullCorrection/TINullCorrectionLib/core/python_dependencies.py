"""Which Python packages the Slicer module must install, with which of Slicer's installers, and what to tell the
user when that fails: pure decisions, so that they are tested without the Slicer application
(Testing/ti/core/test_python_dependencies.py); TINullCorrection.py only carries them out.

Facts they rest on (read in Slicer's sources, tags v5.8.1, v5.10.0, v5.12.0):
- ``slicer.packaging`` and its ``pip_ensure(requirements, constraints=None, skip_packages=None,
  prompt_install=True, prompt_restart=True, requester=None, skip_in_testing=True, show_progress=True)``
  first appear in Slicer 5.12 (not 5.10). It asks for consent itself (``RuntimeError`` when the user
  declines), shows a progress dialog, installs nothing in testing mode (``skip_in_testing``) and raises
  ``subprocess.CalledProcessError`` when pip fails.
- Slicer 5.8 and 5.10 have only ``slicer.util.pip_install(requirements)``: no consent dialog of its own; it
  raises ``subprocess.CalledProcessError`` when pip fails (``logProcessOutput``) and ``RuntimeError``
  when PythonSlicer is not found.
- Slicer bundles numpy, scipy, SimpleITK, pydicom, Pillow and packaging (used here to compare versions). Inference needs onnxruntime on
  top: >= 1.19.2, which has wheels for Slicer 5.8's Python 3.9 (1.19.2 is the last release for 3.9) and
  for 5.10/5.12's Python 3.12 (Linux, Windows, macOS) and runs the shipped files (IR 10, opset 18).
- Testing mode (``slicer.app.testingEnabled()``, ``Slicer --testing``): no dialogs. The self-test must
  pass on a fresh Slicer after the one install of onnxruntime, so in testing mode the install runs
  without a consent question (``pip_ensure(..., prompt_install=False, skip_in_testing=False)``, which
  would otherwise skip silently; ``pip_install`` asks nothing anyway); when it fails, the caller says so
  (the self-test skips with that message).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

#: What inference needs beyond Slicer's own packages: pip requirement -> import name (the module's
#: PYTHON_REQUIREMENTS; the CLI gets it from pyproject.toml).
INFERENCE_REQUIREMENTS = {"onnxruntime>=1.19.2": "onnxruntime"}

NOTHING_TO_DO = "nothing"
PIP_ENSURE = "slicer.packaging.pip_ensure"
PIP_INSTALL = "slicer.util.pip_install"


def missing_requirements(
    requirements: Mapping[str, str],
    find_spec: Callable[[str], object] = importlib.util.find_spec,
    installed_version: Callable[[str], str] = importlib.metadata.version,
) -> tuple[str, ...]:
    """The requirements (pip strings) whose module cannot be imported, or whose installed version is too old.

    A module that imports but whose distribution has another name (e.g. onnxruntime-gpu provides
    ``onnxruntime``) counts as present.
    """
    importlib.invalidate_caches()  # a package installed a moment ago must be found
    missing = []
    for requirement, module in requirements.items():
        try:
            present = find_spec(module) is not None
        except (ImportError, ValueError):
            present = False
        if not present:
            missing.append(requirement)
            continue
        parsed = Requirement(requirement)
        if not parsed.specifier:
            continue
        try:
            version = Version(installed_version(parsed.name))
        except (importlib.metadata.PackageNotFoundError, InvalidVersion):
            continue
        if not parsed.specifier.contains(version, prereleases=True):
            missing.append(requirement)
    return tuple(missing)


@dataclass(frozen=True)
class InstallPlan:
    """What to do about ``missing``: ``action`` is NOTHING_TO_DO, PIP_ENSURE or PIP_INSTALL.

    prompt: ask the user first (False in testing mode: no dialogs). message: the consent question the module
    asks before ``pip_install`` (pip_ensure asks its own).
    """

    missing: tuple[str, ...]
    action: str
    prompt: bool = True
    message: str = ""


def _packages(missing) -> str:
    return ", ".join(missing)


def manual_install_hint(missing) -> str:
    return f"slicer.util.pip_install({' '.join(missing)!r})"


def plan_install(missing, requester: str, testing: bool, has_pip_ensure: bool) -> InstallPlan:
    """Decide how to install ``missing`` (pip requirement strings).

    testing: ``slicer.app.testingEnabled()``; has_pip_ensure: ``slicer.packaging.pip_ensure`` exists (Slicer >= 5.12).
    """
    missing = tuple(missing)
    if not missing:
        return InstallPlan(missing, NOTHING_TO_DO, prompt=False)
    action = PIP_ENSURE if has_pip_ensure else PIP_INSTALL
    if testing:
        return InstallPlan(missing, action, prompt=False)
    if action == PIP_ENSURE:
        return InstallPlan(missing, action)
    return InstallPlan(missing, action, message=(
        f"{requester} needs these Python packages, which are not installed yet:\n\n{chr(10).join(missing)}\n\n"
        "onnxruntime runs the two small networks of the module (no PyTorch needed). Install them now? "
        "(This downloads about 15-30 MB and may take a minute.)"))


def declined_message(missing) -> str:
    return f"Not run: {_packages(missing)} was not installed (installation declined)."


def failure_message(error: BaseException, missing) -> str:
    """What the panel (or the skipped self-test) says when installing ``missing`` failed with ``error``."""
    hint = f"Details are in the Python console; to install by hand paste {manual_install_hint(missing)} there."
    if isinstance(error, subprocess.CalledProcessError):
        return (f"Not run: installing {_packages(missing)} failed (pip exit code {error.returncode}). Check the internet "
                f"connection or proxy settings. {hint}")
    if isinstance(error, RuntimeError) and "declined" in str(error).lower():
        return declined_message(missing)
    return f"Not run: installing {_packages(missing)} failed ({type(error).__name__}: {error}). {hint}"


def still_missing_message(missing) -> str:
    return (f"Not run: {_packages(missing)} was installed but cannot be imported yet. Restart Slicer and press Run again.")
