"""Imports go one way (core <- io/sim/networks <- study <- mrml <- scenarios <- glue / CLI), checked on the
real tree and on deliberately broken copies of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.layers import LIB_PACKAGES, check_file, check_repository, python_files
from support.paths import REPO_ROOT


def test_repository_imports_follow_the_layers():
    assert python_files(REPO_ROOT), "no Lib files found: the layer check would pass vacuously"
    assert [str(v) for v in check_repository(REPO_ROOT)] == []


def test_every_lib_module_is_in_a_layer():
    """A new top-level file in a Lib package would escape the rules: only __init__ and scenarios may sit there."""
    loose = []
    for folder in LIB_PACKAGES.values():
        loose += [p.name for p in (REPO_ROOT / folder).glob("*.py") if p.name not in ("__init__.py", "scenarios.py")]
    assert loose == []


@pytest.fixture
def tree(tmp_path) -> Path:
    for folder in LIB_PACKAGES.values():
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__", "models"))
    shutil.copytree(REPO_ROOT / "cardiac_lge", tmp_path / "cardiac_lge", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


@pytest.mark.parametrize(
    ("relative_path", "line", "rule"),
    [
        ("TINullCorrection/TINullCorrectionLib/core/recommendation.py", "import slicer", "import slicer"),
        ("TINullCorrection/TINullCorrectionLib/core/irfit.py", "from ..mrml import sequence", "core may import only"),
        ("TINullCorrection/TINullCorrectionLib/core/types.py", "from TINullCorrectionLib.networks.ti_offset import TIModel", "core may import only"),
        ("TINullCorrection/TINullCorrectionLib/io/dicom.py", "import torch", "import torch"),
        ("TINullCorrection/TINullCorrectionLib/networks/ti_offset.py", "import torch", "import torch"),
        ("TINullCorrection/TINullCorrectionLib/networks/myocardium_unet.py", "from torch import nn", "import torch"),
        ("TINullCorrection/TINullCorrectionLib/mrml/analysis.py", "from TINullCorrectionLib.networks.torch_models import load_torch_model",
         "import the torch module"),
        ("TINullCorrection/TINullCorrectionLib/networks/ti_offset.py", "from . import architectures", "import the torch module"),
        ("cardiac_lge/commands/ti_correct.py", "import torch", "import torch"),
        ("cardiac_lge/commands/evaluate.py", "from TINullCorrectionLib.networks.architectures import build_network",
         "import the torch module"),
        ("TINullCorrection/TINullCorrectionLib/mrml/analysis.py", "import TINullCorrection", "nothing imports the Slicer glue"),
        ("LGEResolutionQA/LGEResolutionQALib/core/snr.py", "from cardiac_lge.cli import main", "never imports the cardiac_lge CLI"),
        ("LGEResolutionQA/LGEResolutionQALib/study/report.py", "from LGEResolutionQALib import mrml", "study may import only"),
        ("cardiac_lge/cli.py", "from LGEResolutionQA import LGEResolutionQALogic", "nothing imports the Slicer glue"),
    ],
)
def test_broken_copy_is_caught(tree, relative_path, line, rule):
    path = tree / relative_path
    assert check_file(tree, path) == []
    path.write_text(path.read_text() + f"\n\ndef _late():\n    {line}\n")
    problems = [str(v) for v in check_file(tree, path)]
    assert any(rule in p for p in problems), problems
