"""Paths the tests share: the repository root and the real data beside it (../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("CARDIACLGE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))

#: The data sets of ../shared/data/README.md that the tests use (folder names).
SHARED_DATASETS = (
    "look_locker_native_philips",
    "ir_t1_phantom",
    "acr_phantom_siemens",
    "resolution_phantom",
    "snr_pair_siemens",
)


def shared_data_problem(root: Path = SHARED_DATA) -> str:
    """Why the real data cannot be used ('' when they can): the folder is missing, or it is not the shared data
    folder (a wrong CARDIACLGE_SHARED_DATA) because data sets the tests need are absent."""
    origin = "CARDIACLGE_SHARED_DATA" if "CARDIACLGE_SHARED_DATA" in os.environ else "the default ../shared/data"
    if not root.is_dir():
        return f"real test data not found at {root} ({origin}; set CARDIACLGE_SHARED_DATA to the shared data folder)"
    missing = [name for name in SHARED_DATASETS if not (root / name).is_dir()]
    if missing:
        return (f"{root} ({origin}) is not the shared data folder: it lacks {', '.join(missing)} "
                "(set CARDIACLGE_SHARED_DATA to the folder described in ../shared/data/README.md)")
    return ""
