"""The glue against the API of Slicer 5.8.1, 5.10.0 and 5.12.0 (Testing/support/slicer_api_snapshot.json,
generated from Slicer's, CTK's and Qt's sources by scripts/make_slicer_api_snapshot.py), and proof on
deliberately broken copies that a wrong name, keyword, signal or property is caught."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from support import slicer_api
from support.paths import REPO_ROOT

SUPPORTED = ["5.8.1", "5.10.0", "5.12.0"]


@pytest.fixture(scope="module")
def snapshot() -> dict:
    return slicer_api.load_snapshot()


def test_snapshot_covers_the_supported_versions_with_their_facts(snapshot):
    versions = snapshot["versions"]
    assert slicer_api.supported_versions(snapshot) == SUPPORTED
    assert [versions[v]["python"] for v in SUPPORTED] == ["3.9.10", "3.12.10", "3.12.10"]
    assert [versions[v]["bundled_python_packages"]["pydicom"] for v in SUPPORTED] == ["2.4.4", "2.4.4", "3.0.2"]
    assert all("simpleitk" in versions[v]["bundled_python_packages"] for v in SUPPORTED)
    assert versions["5.8.1"]["slicer.packaging"] is None and versions["5.10.0"]["slicer.packaging"] is None
    assert versions["5.12.0"]["slicer.packaging"]["pip_ensure"] == [
        "requirements", "constraints", "skip_packages", "prompt_install", "prompt_restart", "requester",
        "skip_in_testing", "show_progress"]
    assert snapshot["qt"]["qt_version"].startswith("5.15")
    # the parser really read the widget headers
    assert "currentNodeChanged(vtkMRMLNode*)" in versions["5.8.1"]["classes"]["qMRMLNodeComboBox"]["signals"]
    assert "nodeTypes" in versions["5.12.0"]["classes"]["qMRMLNodeComboBox"]["properties"]


@pytest.mark.parametrize(("folder", "file_name"), slicer_api.MODULE_FILES)
def test_glue_uses_only_api_of_every_supported_slicer(snapshot, folder, file_name):
    assert slicer_api.check_module(REPO_ROOT, folder, file_name, snapshot) == []


def test_the_check_sees_the_uses(snapshot):
    uses = slicer_api.api_uses(REPO_ROOT / "LGEResolutionQA" / "LGEResolutionQA.py")
    assert {("slicer.util", "errorDisplay"), ("slicer.util", "tryWithErrorDisplay"), ("slicer.util", "VTKObservationMixin")} <= {
        (u.module, u.name) for u in uses}


def _copy(tmp_path: Path, folder: str) -> Path:
    shutil.copytree(REPO_ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__", "*Lib"))
    return tmp_path / folder


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


def test_wrong_slicer_util_name_and_keyword_are_caught(snapshot, tmp_path):
    module = _copy(tmp_path, "LGEResolutionQA") / "LGEResolutionQA.py"
    _edit(module, "slicer.util.errorDisplay(", "slicer.util.errorDisplayy(")
    _edit(module, "waitCursor=True", "waitcursor=True")
    problems = slicer_api.check_module(tmp_path, "LGEResolutionQA", "LGEResolutionQA.py", snapshot)
    assert sum("slicer.util.errorDisplayy does not exist" in p for p in problems) == 3
    assert sum("tryWithErrorDisplay() has no parameter 'waitcursor'" in p for p in problems) == 3


def test_api_missing_in_older_versions_is_caught_unless_guarded(snapshot, tmp_path):
    module = _copy(tmp_path, "LGEResolutionQA") / "LGEResolutionQA.py"
    _edit(module, "    def onProfileButton(self) -> None:\n",
          "    def onProfileButton(self) -> None:\n        slicer.packaging.pip_ensure(['x'], requester='y')\n"
          "        ensure = getattr(slicer.packaging, 'pip_ensure', None)\n        ensure(['x'], requester='y', prompt=False)\n")
    problems = slicer_api.check_module(tmp_path, "LGEResolutionQA", "LGEResolutionQA.py", snapshot)
    assert [v for v in SUPPORTED if any(p.startswith(f"Slicer {v}:") and "slicer.packaging.pip_ensure does not exist" in p for p in problems)] == ["5.8.1", "5.10.0"]
    assert any(p.startswith("Slicer 5.12.0:") and "pip_ensure() has no parameter 'prompt'" in p for p in problems)


def test_wrong_signal_is_caught(snapshot, tmp_path):
    folder = _copy(tmp_path, "TINullCorrection")
    _edit(folder / "TINullCorrection.py", '"currentSegmentChanged(QString)"', '"currentSegmentChanged(int)"')
    _edit(folder / "TINullCorrection.py", 'runButton.connect("clicked(bool)"', 'runButton.connect("clicked(int)"')
    problems = slicer_api.check_module(tmp_path, "TINullCorrection", "TINullCorrection.py", snapshot)
    assert sum("qMRMLSegmentSelectorWidget 'roiSegmentSelector' has no signal currentSegmentChanged(int)" in p for p in problems) == 3
    assert sum("QPushButton 'runButton' has no signal clicked(int)" in p for p in problems) == 3


def test_signal_through_getattr_loop_is_checked(snapshot, tmp_path):
    module = _copy(tmp_path, "LGEResolutionQA") / "LGEResolutionQA.py"
    _edit(module, '.connect("currentIndexChanged(int)"', '.connect("currentIndexChanged(double)"')
    problems = slicer_api.check_module(tmp_path, "LGEResolutionQA", "LGEResolutionQA.py", snapshot)
    assert sum("has no signal currentIndexChanged(double)" in p for p in problems) == 5 * 3  # 5 combo boxes


def test_wrong_ui_property_and_connection_are_caught(snapshot, tmp_path):
    folder = _copy(tmp_path, "TINullCorrection")
    ui = folder / "Resources" / "UI" / "TINullCorrection.ui"
    _edit(ui, '<property name="segmentationNodeSelectorVisible">', '<property name="segmentationNodeSelectorShown">')
    _edit(ui, "<slot>setMRMLScene(vtkMRMLScene*)</slot>", "<slot>setScene(vtkMRMLScene*)</slot>")
    _edit(folder / "TINullCorrection.py", "self.ui.cancelButton.enabled =", "self.ui.cancelButton.enable =")
    problems = slicer_api.check_module(tmp_path, "TINullCorrection", "TINullCorrection.py", snapshot)
    assert sum("has no property 'segmentationNodeSelectorShown'" in p for p in problems) == 3
    assert sum("has no slot setScene(vtkMRMLScene*)" in p for p in problems) == 3
    assert sum("QPushButton 'cancelButton' has no property enable" in p for p in problems) == 3


def test_extension_cmake_range_is_the_current_template_range(snapshot):
    """Slicer 5.10.0's extension template range (5.8.1: 3.16.3...3.19.7, 5.12.0: 3.28.0...3.28.0)."""
    text = (REPO_ROOT / "CMakeLists.txt").read_text()
    found = re.search(r"cmake_minimum_required\(VERSION\s+(\S+)\s+FATAL_ERROR\)", text)
    assert found and found.group(1) == snapshot["versions"]["5.10.0"]["extension_template_cmake_minimum_required"]


def test_readme_does_not_reinstall_what_slicer_bundles(snapshot):
    readme = (REPO_ROOT / "README.md").read_text()
    flat = " ".join(readme.split())
    assert not re.search(r"SimpleITK[^.]*not part of Slicer", flat) and not re.search(r"pydicom[^.]*not part of Slicer", flat)
    bundled = set.intersection(*(set(snapshot["versions"][v]["bundled_python_packages"]) for v in SUPPORTED))
    for command in re.findall(r"pip_install\(\s*\"([^\"]+)\"", readme):
        packages = {re.split(r"[<>=\[]", word)[0].lower() for word in command.split()}
        assert not packages & bundled, f"README installs {sorted(packages & bundled)}, which Slicer bundles: {command}"


def test_module_help_links_only_to_addresses_that_exist():
    """No module text may send users to an address nobody verified (item 9: the repository URL did not exist)."""
    for folder, file_name in slicer_api.MODULE_FILES:
        text = (REPO_ROOT / folder / file_name).read_text()
        assert re.findall(r"https?://[^\s\"'<>]+", text) == [], file_name
