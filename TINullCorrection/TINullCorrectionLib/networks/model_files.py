"""Where the shipped model files live, their checksums, and the error every model loader raises (no torch).

``models/MODEL_CARD.json`` is the machine-readable twin of ``models/MODEL_CARD.md``: the sha256 of every
shipped file (the same values as the human-readable card; Testing/ti/networks/test_onnx_models.py checks
that both agree with the files). A shipped file that does not match it is refused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

#: The shipped model files and their model cards (TINullCorrectionLib/models/).
MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
MODEL_CARD_JSON = MODELS_DIR / "MODEL_CARD.json"


class ModelLoadError(ValueError):
    """The model file is missing, unreadable, or not a CardiacLGE model of the expected kind."""


def sha256_of_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path) -> str:
    return sha256_of_bytes(Path(path).read_bytes())


def shipped_files(card_path: Path | None = None) -> dict:
    """{file name: {"sha256": ..., ...}} of the shipped model files (empty when the card is absent)."""
    card_path = Path(card_path) if card_path is not None else MODEL_CARD_JSON
    if not card_path.is_file():
        return {}
    try:
        return dict(json.loads(card_path.read_text(encoding="utf-8"))["files"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelLoadError(f"The model card {card_path.name} is unreadable ({type(error).__name__}): reinstall CardiacLGE.") from error


def expected_sha256(path: str | Path, card_path: Path | None = None) -> str | None:
    """The sha256 the model card gives for ``path`` when it is one of the shipped files (a file in the card's
    folder that the card lists), else None."""
    card_path = Path(card_path) if card_path is not None else MODEL_CARD_JSON
    path = Path(path).resolve()
    if path.parent != card_path.resolve().parent:
        return None
    entry = shipped_files(card_path).get(path.name)
    return None if entry is None else str(entry["sha256"])
