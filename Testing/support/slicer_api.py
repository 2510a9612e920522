"""Check the Slicer glue against the API of every supported Slicer version, without Slicer.

The facts come from Testing/support/slicer_api_snapshot.json, generated from Slicer's, CTK's and Qt's
own sources by scripts/make_slicer_api_snapshot.py. Checked, for each version:

- every ``slicer.util.<name>`` / ``slicer.packaging.<name>`` the module files use exists, and every
  keyword argument they pass is a parameter of it; a name read with ``getattr(slicer.<module>, "name",
  default)`` is optional (it must exist in at least one version, and its keywords are checked where it
  exists);
- every signal string passed to ``<widget>.connect(...)`` is a signal of the widget's class (the
  ``.ui`` file gives the class; base classes included);
- every property a ``.ui`` file sets on a widget is a property of its class (dynamic properties such as
  ``SlicerParameterName``, ``stdset="0"``, excepted), every ``<connection>`` in a ``.ui`` names a signal
  of the sender and a slot of the receiver, and every ``self.ui.<name>.<property> = ...`` in a module
  file sets a property of the widget's class.

Each check returns human-readable problems (empty when all is well).
"""

from __future__ import annotations

import ast
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SNAPSHOT = Path(__file__).with_name("slicer_api_snapshot.json")
MODULE_FILES = (
    ("TINullCorrection", "TINullCorrection.py"),
    ("TINullCorrection", "TINullCorrectionDICOMPlugin.py"),
    ("LGEResolutionQA", "LGEResolutionQA.py"),
    ("CardiacLGECommon", "CardiacLGECommon.py"),
)
PYTHON_MODULES = ("slicer.util", "slicer.packaging")


@lru_cache(maxsize=4)
def load_snapshot(path: Path = SNAPSHOT) -> dict:
    return json.loads(Path(path).read_text())


def supported_versions(snapshot: dict) -> list[str]:
    return sorted(snapshot["versions"], key=lambda v: tuple(int(p) for p in v.split(".")))


# ------------------------------------------------------------------------------------------- classes
def class_members(snapshot: dict, version: str, class_name: str, kind: str) -> set[str] | None:
    """Properties/signals/slots/invokables of a widget class and its bases; None when the class is unknown."""
    found: set[str] = set()
    name, seen = class_name, set()
    known = False
    while name and name not in seen:
        seen.add(name)
        entry = snapshot["versions"][version]["classes"].get(name) or snapshot["qt"]["classes"].get(name)
        if entry is None:
            break
        known = True
        found |= set(entry[kind])
        name = entry["base"]
    return found if known else None


def _normalize_signature(text: str) -> str:
    text = re.sub(r"\s+", "", text)
    return re.sub(r"const([\w:<>]+)&", r"\1", text)


# ------------------------------------------------------------------------------------------ .ui files
def ui_widgets(ui_path: Path) -> dict[str, str]:
    root = ET.parse(ui_path).getroot()
    return {w.get("name"): w.get("class") for w in root.iter("widget") if w.get("name")}


def check_ui_file(ui_path: Path, snapshot: dict) -> list[str]:
    root = ET.parse(ui_path).getroot()
    classes = ui_widgets(ui_path)
    problems = []
    for version in supported_versions(snapshot):
        for widget in root.iter("widget"):
            cls, name = widget.get("class"), widget.get("name")
            properties = class_members(snapshot, version, cls, "properties")
            if properties is None:
                problems.append(f"{ui_path.name}: widget '{name}' has class {cls}, which the snapshot does not know")
                continue
            for prop in widget.findall("property"):
                if prop.get("stdset") == "0":
                    continue  # dynamic property (e.g. SlicerParameterName)
                if prop.get("name") not in properties:
                    problems.append(f"Slicer {version}: {ui_path.name}: {cls} '{name}' has no property '{prop.get('name')}'")
        for connection in root.iter("connection"):
            sender, receiver = connection.findtext("sender"), connection.findtext("receiver")
            signal, slot = _normalize_signature(connection.findtext("signal") or ""), _normalize_signature(connection.findtext("slot") or "")
            signals = class_members(snapshot, version, classes.get(sender, ""), "signals") or set()
            slots = (class_members(snapshot, version, classes.get(receiver, ""), "slots") or set()) | (
                class_members(snapshot, version, classes.get(receiver, ""), "invokables") or set())
            if signal not in signals:
                problems.append(f"Slicer {version}: {ui_path.name}: {classes.get(sender)} '{sender}' has no signal {signal}")
            if slot not in slots:
                problems.append(f"Slicer {version}: {ui_path.name}: {classes.get(receiver)} '{receiver}' has no slot {slot}")
    return problems


# ------------------------------------------------------------------------------------------- .py files
@dataclass(frozen=True)
class ApiUse:
    module: str  # "slicer.util" or "slicer.packaging"
    name: str
    keywords: tuple[str, ...]
    optional: bool
    line: int


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def api_uses(py_path: Path) -> list[ApiUse]:
    tree = ast.parse(py_path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    uses: list[ApiUse] = []
    aliases: dict[str, tuple[str, str]] = {}  # variable -> (module, name) for getattr(slicer.x, "name", default)

    def keywords_of(call) -> tuple[str, ...]:
        return tuple(k.arg for k in call.keywords if k.arg)

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in PYTHON_MODULES:
            uses.extend(ApiUse(node.module, a.name, (), False, node.lineno) for a in node.names)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
            if len(node.args) >= 2 and _dotted(node.args[0]) in PYTHON_MODULES and isinstance(node.args[1], ast.Constant):
                module, name = _dotted(node.args[0]), str(node.args[1].value)
                uses.append(ApiUse(module, name, (), len(node.args) >= 3, node.lineno))
                parent = parents.get(node)
                if isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name):
                    aliases[parent.targets[0].id] = (module, name)
        elif isinstance(node, ast.Attribute) and _dotted(node.value) in PYTHON_MODULES:
            parent = parents.get(node)
            if isinstance(parent, ast.Attribute) and _dotted(parent) in PYTHON_MODULES:
                continue
            keywords = keywords_of(parent) if isinstance(parent, ast.Call) and parent.func is node else ()
            uses.append(ApiUse(_dotted(node.value), node.attr, keywords, False, node.lineno))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in aliases:
            module, name = aliases[node.func.id]
            uses.append(ApiUse(module, name, keywords_of(node), True, node.lineno))
    return uses


def check_api_uses(py_path: Path, snapshot: dict) -> list[str]:
    problems = []
    versions = supported_versions(snapshot)
    for use in api_uses(py_path):
        present = []
        for version in versions:
            api = snapshot["versions"][version].get(use.module)
            params = None if api is None else api.get(use.name)
            if params is None:
                if not use.optional:
                    problems.append(f"Slicer {version}: {py_path.name}:{use.line}: {use.module}.{use.name} does not exist")
                continue
            present.append(version)
            if any(p.startswith("**") for p in params):
                continue
            for keyword in use.keywords:
                if keyword not in params:
                    problems.append(f"Slicer {version}: {py_path.name}:{use.line}: {use.module}.{use.name}() has no parameter '{keyword}'")
        if use.optional and not present:
            problems.append(f"{py_path.name}:{use.line}: {use.module}.{use.name} exists in no supported Slicer version")
    return problems


def _ui_name(node, loop_names: dict[str, list[str]]) -> list[str]:
    """Widget names for ``self.ui.NAME`` or ``getattr(self.ui, VAR)`` (VAR iterating a literal)."""
    if isinstance(node, ast.Attribute) and _dotted(node.value) == "self.ui":
        return [node.attr]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" and len(node.args) >= 2:
        if _dotted(node.args[0]) == "self.ui" and isinstance(node.args[1], ast.Name):
            return loop_names.get(node.args[1].id, [])
    return []


def _loop_names(tree) -> dict[str, list[str]]:
    """``for VAR in self.ATTR`` / ``for VAR in ATTR`` over a literal dict, list or tuple of strings in the file."""
    literals: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            keys = value.keys if isinstance(value, ast.Dict) else (value.elts if isinstance(value, (ast.List, ast.Tuple)) else [])
            strings = [k.value for k in keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
            if strings:
                literals[node.targets[0].id] = strings
    loops: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name):
            iterated = node.iter.func.value if isinstance(node.iter, ast.Call) and isinstance(node.iter.func, ast.Attribute) else node.iter
            source = _dotted(iterated).split(".")[-1]
            if source in literals:
                loops[node.target.id] = literals[source]
    return loops


def check_connections_and_properties(py_path: Path, ui_path: Path | None, snapshot: dict) -> list[str]:
    if ui_path is None or not ui_path.exists():
        return []
    tree = ast.parse(py_path.read_text(encoding="utf-8"))
    classes = ui_widgets(ui_path)
    loops = _loop_names(tree)
    problems = []
    for node in ast.walk(tree):
        checks = []
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "connect":
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                signal = _normalize_signature(node.args[0].value)
                checks = [(name, "signals", signal) for name in _ui_name(node.func.value, loops)]
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute):
                    checks += [(name, "properties", target.attr) for name in _ui_name(target.value, loops)]
        for widget, kind, member in checks:
            cls = classes.get(widget)
            if cls is None:
                continue  # a missing widget is reported by glue_checks.check_ui_names
            for version in supported_versions(snapshot):
                members = class_members(snapshot, version, cls, kind)
                if members is None:
                    problems.append(f"{py_path.name}:{node.lineno}: class {cls} of '{widget}' is not in the snapshot")
                elif member not in members:
                    what = "signal" if kind == "signals" else "property"
                    problems.append(f"Slicer {version}: {py_path.name}:{node.lineno}: {cls} '{widget}' has no {what} {member}")
    return problems


def check_module(repo_root: Path, folder: str, file_name: str, snapshot: dict | None = None) -> list[str]:
    snapshot = snapshot or load_snapshot()
    py_path = repo_root / folder / file_name
    ui_path = repo_root / folder / "Resources" / "UI" / f"{Path(file_name).stem}.ui"
    problems = check_api_uses(py_path, snapshot)
    problems += check_connections_and_properties(py_path, ui_path if ui_path.exists() else None, snapshot)
    if ui_path.exists():
        problems += check_ui_file(ui_path, snapshot)
    return problems
