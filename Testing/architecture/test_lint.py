"""The whole repository passes the project's ruff configuration (pyproject.toml), as `make lint` does."""

import subprocess
import sys

from support.paths import REPO_ROOT


def test_repository_passes_ruff():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(REPO_ROOT)], capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
