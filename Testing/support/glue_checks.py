"""Static checks of the Slicer glue (module files, .ui, CMakeLists.txt) that run without Slicer.

Each check returns a list of human-readable problems (empty when all is well) so the tests can both
assert a clean tree and show that a deliberately broken copy is caught.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

MODULE_FOLDERS = ("TINullCorrection", "LGEResolutionQA", "CardiacLGECommon", "LGEReaderStudy")


def module_file(module_dir: Path) -> Path:
    return module_dir / f"{module_dir.name}.py"


def ui_file(module_dir: Path) -> Path:
    return module_dir / "Resources" / "UI" / f"{module_dir.name}.ui"


def ui_object_names(ui_path: Path) -> set[str]:
    root = ET.parse(ui_path).getroot()
    return {element.get("name") for element in root.iter() if element.tag in ("widget", "layout", "action") and element.get("name")}


def ui_parameter_names(ui_path: Path) -> dict[str, str]:
    """objectName -> SlicerParameterName for every widget carrying that dynamic property."""
    root = ET.parse(ui_path).getroot()
    names = {}
    for widget in root.iter("widget"):
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                value = prop.find("string")
                names[widget.get("name")] = (value.text or "").strip() if value is not None else ""
    return names


def used_ui_names(py_path: Path) -> set[str]:
    """Names used as ``self.ui.<name>`` (or ``ui.<name>``) in a module file."""
    tree = ast.parse(py_path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "ui":
            if isinstance(node.value.value, ast.Name) and node.value.value.id == "self":
                names.add(node.attr)
    return names


def parameter_node_fields(py_path: Path) -> set[str]:
    """Annotated fields of every class decorated with ``@parameterNodeWrapper`` (and its bases in the file)."""
    tree = ast.parse(py_path.read_text(encoding="utf-8"))
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}

    def decorated(cls: ast.ClassDef) -> bool:
        for decorator in cls.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            if name == "parameterNodeWrapper":
                return True
        return False

    def fields(cls: ast.ClassDef) -> set[str]:
        own = {stmt.target.id for stmt in cls.body if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)}
        for base in cls.bases:
            if isinstance(base, ast.Name) and base.id in classes:
                own |= fields(classes[base.id])
        return own

    result: set[str] = set()
    for cls in classes.values():
        if decorated(cls):
            result |= fields(cls)
    return result


def cmake_listed_files(cmake_path: Path, variable: str = "MODULE_PYTHON_SCRIPTS") -> set[str]:
    """Files listed in ``set(<variable> ...)`` with ${MODULE_NAME} expanded."""
    text = re.sub(r"#.*", "", cmake_path.read_text(encoding="utf-8"))
    module_name = re.search(r"set\(\s*MODULE_NAME\s+(\S+?)\s*\)", text)
    match = re.search(rf"set\(\s*{variable}\s+(.*?)\)", text, re.S)
    if not match:
        return set()
    entries = match.group(1).split()
    if module_name:
        entries = [entry.replace("${MODULE_NAME}", module_name.group(1)) for entry in entries]
    return set(entries)


def check_ui_names(module_dir: Path) -> list[str]:
    py_path, ui_path = module_file(module_dir), ui_file(module_dir)
    used = used_ui_names(py_path)
    if not ui_path.exists():
        return [f"{py_path.name} uses self.ui.{sorted(used)} but {ui_path} does not exist"] if used else []
    missing = used - ui_object_names(ui_path)
    return [f"{py_path.name}: self.ui.{name} has no widget named '{name}' in {ui_path.name}" for name in sorted(missing)]


def check_cmake_lists_every_python_file(module_dir: Path) -> list[str]:
    cmake_path = module_dir / "CMakeLists.txt"
    if not cmake_path.exists():
        return [f"{cmake_path} is missing"]
    listed = cmake_listed_files(cmake_path)
    present = {path.relative_to(module_dir).as_posix() for path in module_dir.rglob("*.py") if "__pycache__" not in path.parts}
    problems = [f"{cmake_path.relative_to(module_dir.parent)}: {name} is not listed in MODULE_PYTHON_SCRIPTS" for name in sorted(present - listed)]
    problems += [f"{cmake_path.relative_to(module_dir.parent)}: lists {name}, which does not exist" for name in sorted(listed - present)]
    resources = cmake_listed_files(cmake_path, "MODULE_PYTHON_RESOURCES")
    problems += [f"{cmake_path.relative_to(module_dir.parent)}: resource {name} does not exist" for name in sorted(resources) if not (module_dir / name).exists()]
    return problems


def check_parameter_names(module_dir: Path) -> list[str]:
    ui_path = ui_file(module_dir)
    if not ui_path.exists():
        return []
    fields = parameter_node_fields(module_file(module_dir))
    problems = []
    for widget, parameter in sorted(ui_parameter_names(ui_path).items()):
        if parameter not in fields:
            problems.append(f"{ui_path.name}: widget '{widget}' has SlicerParameterName '{parameter}', not a field of the parameter node class")
    return problems


def check_compiles_and_ruff(module_dir: Path) -> list[str]:
    files = [module_file(module_dir)] + sorted(module_dir.glob("*.py"))
    problems = []
    for path in dict.fromkeys(files):
        if not path.exists():
            problems.append(f"{path} is missing")
            continue
        try:
            compile(path.read_text(encoding="utf-8"), str(path), "exec")
        except SyntaxError as error:
            problems.append(f"{path.name}: does not compile: {error}")
    existing = [str(path) for path in dict.fromkeys(files) if path.exists()]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "--select", "E9,F", "--ignore", "F403,F405", *existing],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        problems.append(f"ruff error rules failed:\n{result.stdout}{result.stderr}")
    return problems


ALL_CHECKS = (check_ui_names, check_cmake_lists_every_python_file, check_parameter_names, check_compiles_and_ruff)


# --------------------------------------------------------------------------------- self-test registration
def module_files_slicer_discovers(module_dir: Path) -> list[Path]:
    """Top-level .py files of a module folder: Slicer creates a scripted module for each of them."""
    return sorted(p for p in module_dir.glob("*.py") if p.is_file())


def check_self_test_registration(module_dir: Path) -> list[str]:
    """A module class that subclasses ScriptedLoadableModule registers ``<Name>.runTest`` in
    ``slicer.selfTests`` (Slicer's Base/Python/slicer/ScriptedLoadableModule.py); SelfTests "Run All"
    then fails for it unless the file defines ``<Name>Test``. Hidden helper modules (the DICOM plugin,
    the shared library) must be plain classes that set ``parent.hidden``, as Slicer's DICOMPlugins do."""
    problems = []
    for path in module_files_slicer_discovers(module_dir):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
        module_class = classes.get(path.stem)
        if module_class is None:
            problems.append(f"{path.name}: no class {path.stem} (Slicer instantiates the class named after the file)")
            continue
        bases = {b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in module_class.bases}
        source = ast.get_source_segment(path.read_text(encoding="utf-8"), module_class) or ""
        hidden = "hidden = True" in source
        if "ScriptedLoadableModule" in bases:
            if f"{path.stem}Test" not in classes:
                problems.append(
                    f"{path.name}: {path.stem} subclasses ScriptedLoadableModule, which registers a self-test, "
                    f"but there is no class {path.stem}Test (SelfTests 'Run All' would fail)"
                )
        elif not hidden:
            problems.append(f"{path.name}: {path.stem} is not a ScriptedLoadableModule; a helper module must set parent.hidden = True")
    return problems


ALL_CHECKS = ALL_CHECKS + (check_self_test_registration,)


# ------------------------------------------------------------------------------ empty path field shows "."
def parameter_node_annotations(py_path: Path) -> dict[str, str]:
    """Field -> annotation source of the ``@parameterNodeWrapper`` classes of a module file."""
    text = py_path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    annotations = {}
    for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
        if any("parameterNodeWrapper" in ast.get_source_segment(text, d) for d in cls.decorator_list):
            for stmt in cls.body:
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    annotations[stmt.target.id] = ast.get_source_segment(text, stmt.annotation)
    return annotations


def ui_widget_classes(ui_path: Path) -> dict[str, str]:
    root = ET.parse(ui_path).getroot()
    return {w.get("name"): w.get("class") for w in root.iter("widget") if w.get("name")}


def check_path_line_edits_show_empty(module_dir: Path) -> list[str]:
    """A ctkPathLineEdit bound to a pathlib.Path field shows "." when empty: Slicer's
    ctkPathLineEditToPathConnector writes ``str(value)`` and the default ``Path()`` is ``.``."""
    ui_path = ui_file(module_dir)
    if not ui_path.exists():
        return []
    annotations = parameter_node_annotations(module_file(module_dir))
    classes = ui_widget_classes(ui_path)
    problems = []
    for widget, parameter in sorted(ui_parameter_names(ui_path).items()):
        annotation = annotations.get(parameter, "")
        if classes.get(widget) == "ctkPathLineEdit" and re.search(r"\b(pathlib\.)?(Pure)?(Posix|Windows)?Path\b", annotation):
            problems.append(f"{ui_path.name}: '{widget}' (ctkPathLineEdit) is bound to {parameter}: {annotation}, which shows '.' when empty")
    return problems


ALL_CHECKS = ALL_CHECKS + (check_path_line_edits_show_empty,)
