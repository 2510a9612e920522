"""Paths the tests share: the repository root and the real data beside it (../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("CARDIACLGE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
