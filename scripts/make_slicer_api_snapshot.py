#!/usr/bin/env python3
"""Regenerate Testing/support/slicer_api_snapshot.json: the Slicer / CTK / Qt API facts that
Testing/glue/test_slicer_api.py checks the glue against, for each supported Slicer version.

Read from the sources themselves, per Slicer tag:
- ``Base/Python/slicer/util.py`` (and ``slicer/packaging.py`` where it exists): every top-level function
  and class with its parameters (Python ``ast``);
- the Slicer and CTK headers of the widget classes the ``.ui`` files use (CTK at the commit that the
  tag's ``SuperBuild/External_CTK.cmake`` pins): base class, ``Q_PROPERTY`` names, signals, public
  slots and ``Q_INVOKABLE`` methods, as normalised Qt signatures;
- embedded Python (``Slicer_REQUIRED_PYTHON_VERSION``), minimum Qt, the Python packages Slicer bundles
  (``SuperBuild/External_python-*.cmake`` pins; SimpleITK / scipy built from source are listed by name)
  and the extension template's ``cmake_minimum_required`` range.
Qt's own classes (QPushButton, QWidget, ...) come from Qt 5.15's meta-objects through PyQt5 5.15
(Slicer 5.8-5.12 build with Qt 5.15 by default), in a separate Python given by ``--qt-python``.

Steps (documented in the README, "Slicer versions"):
  1. get git checkouts (bare clones are fine) of Slicer/Slicer and commontk/CTK;
  2. ``python3 -m venv /tmp/qtvenv && /tmp/qtvenv/bin/pip install PyQt5==5.15.11``;
  3. ``python scripts/make_slicer_api_snapshot.py --slicer-git <Slicer .git> --ctk-git <CTK .git> --qt-python /tmp/qtvenv/bin/python``.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUT = REPO_ROOT / "Testing" / "support" / "slicer_api_snapshot.json"
SLICER_TAGS = {"5.8.1": "v5.8.1", "5.10.0": "v5.10.0", "5.12.0": "v5.12.0"}
SLICER_HEADERS = {
    "qMRMLWidget": "Libs/MRML/Widgets/qMRMLWidget.h",
    "qMRMLNodeComboBox": "Libs/MRML/Widgets/qMRMLNodeComboBox.h",
    "qMRMLCheckableNodeComboBox": "Libs/MRML/Widgets/qMRMLCheckableNodeComboBox.h",
    "qMRMLSegmentSelectorWidget": "Libs/MRML/Widgets/qMRMLSegmentSelectorWidget.h",
}
CTK_HEADERS = {
    "ctkCollapsibleButton": "Libs/Widgets/ctkCollapsibleButton.h",
    "ctkPathLineEdit": "Libs/Widgets/ctkPathLineEdit.h",
    "ctkRangeWidget": "Libs/Widgets/ctkRangeWidget.h",
}
QT_CLASSES = ("QWidget", "QAbstractButton", "QPushButton", "QCheckBox", "QLabel", "QSpinBox", "QDoubleSpinBox",
              "QProgressBar", "QComboBox", "QLineEdit")
PYTHON_PACKAGE_FILES = ("python-dicom-requirements", "python-numpy", "python-scipy", "python-SimpleITK")


def git_show(git_dir: Path, rev: str, path: str) -> str | None:
    result = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{rev}:{path}"], capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


# ------------------------------------------------------------------------------------------ Python API
def python_api(source: str) -> dict[str, list[str]]:
    """Top-level function name -> parameter names; class name -> its __init__ parameters (without self)."""
    api = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            api[node.name] = _params(node.args)
        elif isinstance(node, ast.ClassDef):
            init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
            api[node.name] = _params(init.args)[1:] if init else []
    return dict(sorted(api.items()))


def _params(args: ast.arguments) -> list[str]:
    names = [a.arg for a in args.posonlyargs + args.args]
    if args.vararg:
        names.append("*" + args.vararg.arg)
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg:
        names.append("**" + args.kwarg.arg)
    return names


# ------------------------------------------------------------------------------------------- C++ headers
_ACCESS = re.compile(r"^\s*(public|protected|private)?\s*(Q_SLOTS|slots|Q_SIGNALS|signals)?\s*:\s*$")


def normalize_type(text: str) -> str:
    """Qt-style normalised parameter type: no names/defaults, 'const T&' -> 'T', 'T *' -> 'T*'."""
    text = re.sub(r"\s+", " ", text.strip())
    const_ref = text.startswith("const ") and text.endswith("&")
    if const_ref:
        text = text[len("const "):-1].strip()
    text = re.sub(r"\s*\*\s*", "*", text)
    text = re.sub(r"\s*&\s*", "&", text)
    text = re.sub(r"\s*<\s*", "<", re.sub(r"\s*>\s*", ">", text))
    return text.strip()


def _split_params(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts


def signatures(declaration: str) -> list[str]:
    """All normalised signatures of one method declaration (one per number of defaulted arguments)."""
    declaration = re.sub(r"//.*", "", declaration)
    match = re.search(r"(\w+)\s*\((.*)\)\s*(const)?\s*(override|=\s*0)?\s*;?\s*$", declaration.strip(), re.S)
    if not match:
        return []
    name, params = match.group(1), match.group(2).strip()
    types, required = [], 0
    for index, param in enumerate(_split_params(params) if params and params != "void" else []):
        default = "=" in param
        param = param.split("=")[0].strip()
        tokens = re.match(r"(.*?)(\w+)?\s*$", param, re.S)
        type_text = param
        if tokens and tokens.group(2) and tokens.group(1).strip() and not tokens.group(1).strip().endswith(("<", ",")):
            type_text = tokens.group(1)  # drop the parameter name
        types.append(normalize_type(type_text))
        if not default:
            required = index + 1
    return [f"{name}({','.join(types[:n])})" for n in range(required, len(types) + 1)]


def _statements(body: str) -> list[tuple[int, str]]:
    """(line number, declaration text) with multi-line declarations joined; comments removed."""
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    out, current, start = [], "", 0
    for number, line in enumerate(body.splitlines()):
        line = re.sub(r"//.*", "", line)
        if not current:
            start = number
        current += " " + line.strip()
        if current.strip().endswith((";", ":", "{", "}")) or _ACCESS.match(current.strip()):
            out.append((start, current.strip()))
            current = ""
    return out


def parse_class(header: str, class_name: str) -> dict:
    header = re.sub(r"/\*.*?\*/", "", header, flags=re.S)
    match = re.search(rf"class\s+(?:\w+_EXPORT\s+)?{class_name}\s*:\s*public\s+(\w+)\s*\{{", header)
    if not match:
        raise ValueError(f"class {class_name} not found")
    body = header[match.end():]
    depth, end = 1, 0
    for index, char in enumerate(body):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            end = index
            break
    body = body[:end]
    properties = sorted(set(re.findall(r"Q_PROPERTY\s*\(\s*[\w:<>*&\s,]+?\s+(\w+)\s+(?:READ|WRITE|MEMBER|NOTIFY)", body)))
    signals, slots, invokables = set(), set(), set()
    section = None
    depth = 0
    for _, statement in _statements(body):
        access = _ACCESS.match(statement)
        if access and depth == 0:
            kind = access.group(2) or ""
            section = "signals" if kind in ("Q_SIGNALS", "signals") else ("slots" if kind in ("Q_SLOTS", "slots") and access.group(1) == "public" else None)
            continue
        opened, closed = statement.count("{"), statement.count("}")
        if depth == 0 and "(" in statement and not statement.startswith(("Q_PROPERTY", "Q_ENUM", "Q_DECLARE", "Q_DISABLE", "typedef", "friend", "enum")):
            decl = statement.split("{")[0]
            if "Q_INVOKABLE" in decl:
                invokables.update(signatures(decl.replace("Q_INVOKABLE", "")))
            elif section == "signals":
                signals.update(signatures(decl))
            elif section == "slots":
                slots.update(signatures(decl))
        depth += opened - closed
        depth = max(depth, 0)
    return {"base": match.group(1), "properties": properties, "signals": sorted(signals),
            "slots": sorted(slots), "invokables": sorted(invokables)}


# --------------------------------------------------------------------------------------------- Qt facts
QT_PROBE = r"""
import json, sys
from PyQt5 import QtCore, QtWidgets
out = {"qt_version": QtCore.QT_VERSION_STR, "pyqt_version": QtCore.PYQT_VERSION_STR, "classes": {}}
kinds = {QtCore.QMetaMethod.Signal: "signals", QtCore.QMetaMethod.Slot: "slots", QtCore.QMetaMethod.Method: "invokables"}
for name in sys.argv[1:]:
    meta = getattr(QtWidgets, name).staticMetaObject
    entry = {"base": meta.superClass().className() if meta.superClass() else "", "properties": [], "signals": [], "slots": [], "invokables": []}
    entry["properties"] = sorted(meta.property(i).name() for i in range(meta.propertyCount()))
    for i in range(meta.methodCount()):
        method = meta.method(i)
        if method.access() == QtCore.QMetaMethod.Public or method.methodType() == QtCore.QMetaMethod.Signal:
            entry[kinds[method.methodType()]].append(bytes(method.methodSignature()).decode())
    for key in ("signals", "slots", "invokables"):
        entry[key] = sorted(set(entry[key]))
    out["classes"][name] = entry
print(json.dumps(out))
"""


def qt_facts(qt_python: str) -> dict:
    """Qt classes from their meta-objects; each keeps only what its (listed) Qt base class lacks."""
    result = subprocess.run([qt_python, "-c", QT_PROBE, *QT_CLASSES], capture_output=True, text=True, check=True)
    facts = json.loads(result.stdout)
    full = facts["classes"]
    for entry in full.values():
        base = full.get(entry["base"])
        if base is not None:
            for key in ("properties", "signals", "slots", "invokables"):
                entry[key] = sorted(set(entry[key]) - set(base[key]))
    return facts


# ------------------------------------------------------------------------------------------ build facts
def build_facts(slicer_git: Path, tag: str) -> dict:
    top = git_show(slicer_git, tag, "CMakeLists.txt") or ""
    python = re.search(r'set\(Slicer_REQUIRED_PYTHON_VERSION "([\d.]+)"\)', top)
    qt = re.findall(r'set\(_required_qt_version "([\d.]+)"\)', top)
    template = git_show(slicer_git, tag, "Utilities/Templates/Extensions/Default/CMakeLists.txt") or ""
    cmake_range = re.search(r"cmake_minimum_required\(VERSION\s+([\d.]+(?:\.\.\.[\d.]+)?)", template)
    packages = {}
    for name in PYTHON_PACKAGE_FILES:
        text = git_show(slicer_git, tag, f"SuperBuild/External_{name}.cmake")
        if text:
            for package, version in re.findall(r"^\s*([A-Za-z0-9_.-]+)==([\w.]+)", text, re.M):
                packages[package.lower()] = version
    if git_show(slicer_git, tag, "SuperBuild/External_SimpleITK.cmake"):
        packages.setdefault("simpleitk", "built from source (SuperBuild/External_SimpleITK.cmake)")
    if git_show(slicer_git, tag, "SuperBuild/External_python-scipy.cmake"):
        packages.setdefault("scipy", "bundled (SuperBuild/External_python-scipy.cmake)")
    ctk = re.search(r'"([0-9a-f]{40})"', git_show(slicer_git, tag, "SuperBuild/External_CTK.cmake") or "")
    return {
        "python": python.group(1) if python else None,
        "qt_minimum": qt,
        "extension_template_cmake_minimum_required": cmake_range.group(1) if cmake_range else None,
        "bundled_python_packages": dict(sorted(packages.items())),
        "ctk_commit": ctk.group(1) if ctk else None,
    }


def _dump(value, indent: int = 0) -> str:
    """JSON with one line per key and lists on one line (small, readable diffs)."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        pad = " " * (indent + 1)
        items = [f"{pad}{json.dumps(k)}: {_dump(v, indent + 1)}" for k, v in sorted(value.items())]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    return json.dumps(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slicer-git", type=Path, required=True, help="git directory of a Slicer/Slicer clone")
    parser.add_argument("--ctk-git", type=Path, required=True, help="git directory of a commontk/CTK clone")
    parser.add_argument("--qt-python", required=True, help="a Python with PyQt5 5.15 installed")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()

    snapshot = {"generated_by": "scripts/make_slicer_api_snapshot.py", "versions": {}, "qt": qt_facts(args.qt_python)}
    for version, tag in SLICER_TAGS.items():
        commit = subprocess.run(["git", "--git-dir", str(args.slicer_git), "rev-list", "-n", "1", tag], capture_output=True, text=True, check=True).stdout.strip()
        facts = build_facts(args.slicer_git, tag)
        facts["slicer_tag"], facts["slicer_commit"] = tag, commit
        facts["slicer.util"] = python_api(git_show(args.slicer_git, tag, "Base/Python/slicer/util.py"))
        packaging = git_show(args.slicer_git, tag, "Base/Python/slicer/packaging.py")
        facts["slicer.packaging"] = python_api(packaging) if packaging else None
        classes = {}
        for name, path in SLICER_HEADERS.items():
            classes[name] = parse_class(git_show(args.slicer_git, tag, path), name)
        for name, path in CTK_HEADERS.items():
            classes[name] = parse_class(git_show(args.ctk_git, facts["ctk_commit"], path), name)
        facts["classes"] = classes
        snapshot["versions"][version] = facts
    args.output.write_text(_dump(snapshot) + "\n")
    print(f"wrote {args.output} ({args.output.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
