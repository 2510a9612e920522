"""The command line entry point: help, version, and the environment self-check."""

import subprocess
import sys

import pytest

from cardiac_lge import __version__
from cardiac_lge.cli import build_parser, main


def test_version_is_printed(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_check_env(capsys):
    assert main([]) == 0
    assert "check-env" in capsys.readouterr().out
    assert "check-env" in build_parser().format_help()


def test_check_env_passes_on_a_complete_install(capsys):
    assert main(["check-env"]) == 0
    out = capsys.readouterr().out
    assert "[FAIL]" not in out
    assert "vtkMRMLScalarVolumeNode" in out
    assert "JPEG-lossless decoder" in out


def test_console_script_help_does_not_import_torch():
    # `cardiac-lge --help` must stay fast: sub-command modules import heavy libraries lazily.
    code = "import sys; from cardiac_lge.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
