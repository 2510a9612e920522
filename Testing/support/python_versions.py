"""Which Python the files that Slicer loads must run on, and the checks that keep them there.

Facts (from Slicer's own sources, see Testing/glue/test_python_versions.py): Slicer 5.8 embeds Python 3.9.10,
Slicer 5.10 and 5.12 embed Python 3.12.10. Every file that Slicer loads (module files, the DICOM plugin,
every ``*Lib`` package) must therefore be valid Python 3.9 *and* 3.12.

Checks:
* ``vermin`` (a well-kept minimum-version checker) with target 3.9: syntax, builtins and stdlib APIs
  newer than 3.9 (``zip(strict=)``, ``match``, ``itertools.pairwise``, ``dataclass(slots=)``...).
* :func:`runtime_union_problems`: PEP 604 unions (``int | None``) evaluated at run time, which vermin
  does not see: in ``isinstance``/``issubclass`` calls and assignments, and in annotations of files
  without ``from __future__ import annotations`` (the module files, whose parameter-node annotations
  Slicer's ``parameterNodeWrapper`` evaluates).
* :func:`removed_in_312_problems`: stdlib modules removed by Python 3.12 (PEP 594, distutils, imp).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SLICER_PYTHON = {"5.8": (3, 9, 10), "5.10": (3, 12, 10), "5.12": (3, 12, 10)}
OLDEST_PYTHON = min(SLICER_PYTHON.values())[:2]
REMOVED_IN_312 = {"distutils", "imp", "asynchat", "asyncore", "smtpd"}
SLICER_LOADED_ROOTS = ("TINullCorrection", "LGEResolutionQA", "CardiacLGECommon", "LGEReaderStudy")


def slicer_loaded_files(repo: Path) -> list[Path]:
    """Module files, the DICOM plugin and every file of every *Lib package (what CMake installs)."""
    files = []
    for root in SLICER_LOADED_ROOTS:
        folder = repo / root
        if not folder.is_dir():
            continue
        files += [p for p in folder.glob("*.py")]
        for lib in folder.glob("*Lib"):
            files += [p for p in lib.rglob("*.py") if "__pycache__" not in p.parts]
    for extra in sorted(repo.glob("*/")):  # further modules added later (e.g. another scripted module)
        if extra.name not in SLICER_LOADED_ROOTS and (extra / "CMakeLists.txt").exists() and (extra / f"{extra.name}.py").exists():
            files += list(extra.glob("*.py")) + [p for lib in extra.glob("*Lib") for p in lib.rglob("*.py") if "__pycache__" not in p.parts]
    return sorted(set(files))


def vermin_problems(files: list[Path]) -> list[str]:
    target = f"{OLDEST_PYTHON[0]}.{OLDEST_PYTHON[1]}"
    result = subprocess.run(
        [sys.executable, "-c", "import sys, vermin; sys.exit(vermin.main())", f"-t={target}-", "--no-tips", "--violations", "--no-parse-comments", "--processes=1",
         *[str(f) for f in files]],
        capture_output=True, text=True,
    )
    if result.returncode == 0:
        return []
    lines = [line for line in result.stdout.splitlines() if line.strip() and not line.startswith(("Detecting", "Analyzing"))]
    return lines or [result.stderr.strip() or f"vermin exited with {result.returncode}"]


def _is_union(node: ast.AST) -> bool:
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr) and any(
        isinstance(side, (ast.Name, ast.Attribute, ast.Subscript)) or (isinstance(side, ast.Constant) and side.value is None)
        for side in (node.left, node.right)
    ) and _looks_like_types(node)


def _looks_like_types(node: ast.AST) -> bool:
    """A ``|`` between type-like operands (names starting upper-case, builtin types, None, subscripts)."""
    builtin_types = {"int", "float", "str", "bytes", "bool", "list", "dict", "tuple", "set", "frozenset", "type", "object"}

    def typelike(side):
        if isinstance(side, ast.BinOp) and isinstance(side.op, ast.BitOr):
            return typelike(side.left) and typelike(side.right)
        if isinstance(side, ast.Constant):
            return side.value is None
        if isinstance(side, ast.Subscript):
            return typelike(side.value)
        if isinstance(side, ast.Name):
            return side.id in builtin_types or side.id[:1].isupper()
        if isinstance(side, ast.Attribute):
            return side.attr[:1].isupper() or side.attr in builtin_types
        return False

    return typelike(node.left) and typelike(node.right)


def runtime_union_problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    future = any(isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
                 for n in tree.body)
    annotation_nodes = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs + [a for a in (node.args.vararg, node.args.kwarg) if a]
            annotation_nodes.update(id(a.annotation) for a in args if a.annotation is not None)
            if node.returns is not None:
                annotation_nodes.add(id(node.returns))
        elif isinstance(node, ast.AnnAssign):
            annotation_nodes.add(id(node.annotation))
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("isinstance", "issubclass"):
            if len(node.args) == 2 and _is_union(node.args[1]):
                problems.append(f"{path}:{node.lineno}: {node.func.id}(..., X | Y) needs Python 3.10 (use a tuple)")
        elif isinstance(node, ast.Assign) and _is_union(node.value):
            problems.append(f"{path}:{node.lineno}: type alias with X | Y is evaluated at run time: needs Python 3.10")
    if not future:
        for node in ast.walk(tree):
            if id(node) in annotation_nodes:
                for sub in ast.walk(node):
                    if _is_union(sub):
                        problems.append(f"{path}:{sub.lineno}: annotation X | Y without 'from __future__ import annotations' "
                                        "needs Python 3.10 (use Optional/Union)")
                        break
    return problems


def removed_in_312_problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    problems = []
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
        for name in names:
            if name.split(".")[0] in REMOVED_IN_312:
                problems.append(f"{path}:{node.lineno}: {name} was removed in Python 3.12")
    return problems


def check_files(files: list[Path]) -> list[str]:
    problems = vermin_problems(files)
    for path in files:
        problems += runtime_union_problems(path) + removed_in_312_problems(path)
    return problems
