"""The layers of the Lib packages and the imports each may make (checked by test_layers.py).

Layers, in the one direction imports may go (README "Layout"):

* ``core``     algorithms on numpy arrays and typed results: numpy, scipy, SimpleITK, pydicom, Pillow only;
* ``io``       reading files into core types (+ core);
* ``sim``      simulators and synthetic phantoms (+ core, io);
* ``networks`` the neural networks: ONNX inference on onnxruntime (+ core), and the torch definitions for
  training and export (``TORCH_MODULES``);
* ``metrics``  metric families (one file each) and their registry (+ core, io);
* ``study``    study-level pipelines that read files and write reports (+ core, io, metrics);
* ``mrml``     MRML adapters: nodes <-> core types (+ core, io, networks, metrics, study; slicer, vtk);
* ``scenarios`` (a Lib's ``scenarios.py``) the self-test scenarios run by Slicer and pytest (+ everything above);
* the Slicer glue (module files, DICOM plugin) and the ``cardiac_lge`` CLI sit on top; no Lib module
  imports them, and ``cardiac_lge`` never imports the glue.

torch is for training only: only ``TORCH_MODULES`` (the nn.Modules, the .pt files and their torch runners)
and ``cardiac_lge/training`` import torch; no other Lib module imports a torch module, and the rest of
``cardiac_lge`` reaches them only through ``cardiac_lge/training`` (so inference, the CLI and Slicer run
without torch; Testing/cli/test_without_torch.py runs them with torch made unimportable).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

LIB_PACKAGES = {
    "TINullCorrectionLib": "TINullCorrection/TINullCorrectionLib",
    "LGEResolutionQALib": "LGEResolutionQA/LGEResolutionQALib",
    "CardiacLGECommonLib": "CardiacLGECommon/CardiacLGECommonLib",
    "LGEReaderStudyLib": "LGEReaderStudy/LGEReaderStudyLib",
}
GLUE_MODULES = {"TINullCorrection", "TINullCorrectionDICOMPlugin", "LGEResolutionQA", "CardiacLGECommon", "LGEReaderStudy"}
APPLICATION_ONLY = {"slicer", "vtk", "qt", "ctk", "DICOMLib", "sitkUtils"}

#: layer -> layers (of any Lib package) it may import
ALLOWED_LAYERS = {
    "core": {"core"},
    "io": {"core", "io"},
    "sim": {"core", "io", "sim"},
    "networks": {"core", "networks"},
    "metrics": {"core", "io", "metrics"},
    "study": {"core", "io", "metrics", "study"},
    "mrml": {"core", "io", "networks", "metrics", "study", "mrml"},
    "scenarios": {"core", "io", "sim", "networks", "metrics", "study", "mrml", "scenarios"},
    "package": {"core", "io", "sim", "networks", "metrics", "study", "mrml", "scenarios", "package"},
}
#: layers that may import slicer / vtk (the MRML adapter and what runs it)
APPLICATION_LAYERS = {"mrml", "scenarios"}
#: the only Lib modules that may import torch (nothing else in the Libs imports them)
TORCH_MODULES = {
    "TINullCorrectionLib.networks.architectures",
    "TINullCorrectionLib.networks.weights_file",
    "TINullCorrectionLib.networks.torch_models",
}
#: outside the Libs, torch (and the TORCH_MODULES) only in training code
TORCH_PACKAGES_OUTSIDE_LIBS = ("cardiac_lge.training",)


def may_import_torch(module: str) -> bool:
    return module in TORCH_MODULES or any(module == p or module.startswith(p + ".") for p in TORCH_PACKAGES_OUTSIDE_LIBS)


def _is_torch_module(imported: str) -> bool:
    return any(imported == m or imported.startswith(m + ".") for m in TORCH_MODULES)


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: imports {self.imported} ({self.rule})"


def layer_of_module(module: str) -> str | None:
    """'core', 'io', ... for a module of a Lib package ('package' for the package itself); None otherwise."""
    parts = module.split(".")
    if parts[0] not in LIB_PACKAGES:
        return None
    if len(parts) == 1 or parts[1] == "__init__":
        return "package"
    return "scenarios" if parts[1] == "scenarios" else parts[1]


def module_name(repo: Path, path: Path) -> str:
    for package, folder in LIB_PACKAGES.items():
        root = repo / folder
        if root in path.parents or path.parent == root:
            rest = path.relative_to(root).with_suffix("").as_posix().replace("/", ".")
            return package if rest == "__init__" else f"{package}.{rest}"
    return path.relative_to(repo).with_suffix("").as_posix().replace("/", ".")


def imports_of(path: Path, module: str) -> list[tuple[int, str]]:
    """Every module imported anywhere in the file (lazy imports inside functions included), absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package_parts = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names
                      if layer_of_module(f"{target}.{alias.name}") not in (None, "package")]
    return found


def check_file(repo: Path, path: Path) -> list[Violation]:
    module = module_name(repo, path)
    layer = layer_of_module(module)
    rel = path.relative_to(repo).as_posix()
    problems = []
    for line, imported in imports_of(path, module):
        top = imported.split(".")[0]
        if top in GLUE_MODULES:
            problems.append(Violation(rel, line, imported, "nothing imports the Slicer glue"))
            continue
        torch_import = top == "torch" or _is_torch_module(imported)
        if torch_import and not may_import_torch(module):
            what = "torch" if top == "torch" else f"the torch module {imported}"
            problems.append(Violation(rel, line, imported, f"only {sorted(TORCH_MODULES)} and cardiac_lge.training import {what} "
                                                           "(torch is for training only)"))
            continue
        if layer is None:  # the CLI, benchmarks, scripts
            continue
        if top == "cardiac_lge":
            problems.append(Violation(rel, line, imported, "a Lib package never imports the cardiac_lge CLI"))
        elif top in APPLICATION_ONLY and layer not in APPLICATION_LAYERS:
            problems.append(Violation(rel, line, imported, f"only {sorted(APPLICATION_LAYERS)} import {top}"))
        else:
            target_layer = layer_of_module(imported)
            if target_layer not in (None, "package") and target_layer not in ALLOWED_LAYERS[layer]:
                problems.append(Violation(rel, line, imported, f"{layer} may import only {sorted(ALLOWED_LAYERS[layer])}"))
    return problems


def python_files(repo: Path) -> list[Path]:
    roots = [repo / folder for folder in LIB_PACKAGES.values()] + [repo / "cardiac_lge"]
    files = [p for root in roots for p in root.rglob("*.py") if "__pycache__" not in p.parts]
    return sorted(files)


def check_repository(repo: Path) -> list[Violation]:
    return [v for path in python_files(repo) for v in check_file(repo, path)]
