"""Static checks of the Slicer glue that cannot run here (no Slicer application), and proof that
each check catches a deliberately broken copy of a module."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from support.glue_checks import (
    ALL_CHECKS,
    MODULE_FOLDERS,
    check_cmake_lists_every_python_file,
    check_compiles_and_ruff,
    check_parameter_names,
    check_ui_names,
    module_file,
    parameter_node_fields,
    ui_file,
    ui_parameter_names,
    used_ui_names,
)
from support.paths import REPO_ROOT

GUI_MODULES = ("TINullCorrection", "LGEResolutionQA", "LGEReaderStudy")


@pytest.mark.parametrize("module_name", MODULE_FOLDERS)
@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda check: check.__name__)
def test_module_glue_is_consistent(module_name, check):
    module_dir = REPO_ROOT / module_name
    assert module_file(module_dir).exists(), f"{module_file(module_dir)} is missing"
    assert check(module_dir) == []


def test_top_level_cmake_adds_every_module():
    text = (REPO_ROOT / "CMakeLists.txt").read_text()
    for required in ("find_package(Slicer REQUIRED)", "include(${Slicer_USE_FILE})", "Slicer_EXTENSION_GENERATE_CONFIG", "Slicer_EXTENSION_CPACK"):
        assert required in text
    added = set(re.findall(r"add_subdirectory\((\w+)\)", text))
    assert added == set(MODULE_FOLDERS)


@pytest.mark.parametrize("module_name", GUI_MODULES)
def test_gui_modules_use_a_parameter_node_bound_in_the_ui(module_name):
    module_dir = REPO_ROOT / module_name
    assert parameter_node_fields(module_file(module_dir)), "no @parameterNodeWrapper class found"
    assert ui_parameter_names(ui_file(module_dir)), "no widget is bound with SlicerParameterName"


@pytest.fixture(params=GUI_MODULES)
def module_copy(request, tmp_path) -> Path:
    source = REPO_ROOT / request.param
    target = tmp_path / request.param
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pt", "*.safetensors"))
    return target


def test_broken_ui_name_is_caught(module_copy):
    ui_path = ui_file(module_copy)
    used = sorted(n for n in used_ui_names(module_file(module_copy)))
    assert used, "module file uses no self.ui names"
    text = ui_path.read_text()
    ui_path.write_text(text.replace(f'name="{used[0]}"', f'name="{used[0]}Renamed"'))
    problems = check_ui_names(module_copy)
    assert any(f"self.ui.{used[0]}" in p for p in problems)


def test_unlisted_python_file_is_caught(module_copy):
    lib_dir = next(p for p in module_copy.iterdir() if p.is_dir() and p.name.endswith("Lib"))
    (lib_dir / "forgotten_helper.py").write_text("VALUE = 1\n")
    problems = check_cmake_lists_every_python_file(module_copy)
    assert any("forgotten_helper.py is not listed" in p for p in problems)


def test_listing_of_missing_file_is_caught(module_copy):
    lib_dir = next(p for p in module_copy.iterdir() if p.is_dir() and p.name.endswith("Lib"))
    (lib_dir / "__init__.py").unlink()
    problems = check_cmake_lists_every_python_file(module_copy)
    assert any("__init__.py, which does not exist" in p for p in problems)


def test_wrong_parameter_name_is_caught(module_copy):
    ui_path = ui_file(module_copy)
    bound = ui_parameter_names(ui_path)
    widget, parameter = sorted(bound.items())[0]
    text = ui_path.read_text()
    pattern = re.compile(r'(<property name="SlicerParameterName"[^>]*>\s*<string>)' + re.escape(parameter) + r"(</string>)")
    assert pattern.search(text)
    ui_path.write_text(pattern.sub(r"\g<1>noSuchParameter\g<2>", text, count=1))
    problems = check_parameter_names(module_copy)
    assert any("noSuchParameter" in p for p in problems)


def test_syntax_error_and_undefined_name_are_caught(module_copy):
    path = module_file(module_copy)
    path.write_text(path.read_text() + "\n\ndef broken():\n    return undefined_name_xyz\n")
    assert any("F821" in p or "undefined" in p for p in check_compiles_and_ruff(module_copy))
    path.write_text(path.read_text() + "\ndef (:\n")
    assert any("does not compile" in p for p in check_compiles_and_ruff(module_copy))


def test_hidden_helper_that_registers_a_self_test_is_caught(tmp_path):
    from support.glue_checks import check_self_test_registration

    for name in ("CardiacLGECommon", "TINullCorrection"):
        shutil.copytree(REPO_ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.pt", "*Lib"))
    plugin = tmp_path / "TINullCorrection" / "TINullCorrectionDICOMPlugin.py"
    text = plugin.read_text()
    plugin.write_text(text.replace("class TINullCorrectionDICOMPlugin:", "class TINullCorrectionDICOMPlugin(ScriptedLoadableModule):"))
    assert any("TINullCorrectionDICOMPlugin subclasses ScriptedLoadableModule" in p for p in check_self_test_registration(tmp_path / "TINullCorrection"))
    gui = tmp_path / "TINullCorrection" / "TINullCorrection.py"
    gui.write_text(gui.read_text().replace("class TINullCorrectionTest(", "class SomethingElseTest("))
    assert any("no class TINullCorrectionTest" in p for p in check_self_test_registration(tmp_path / "TINullCorrection"))
