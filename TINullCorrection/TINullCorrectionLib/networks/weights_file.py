"""The weights-only PyTorch file format (.pt) shared by both networks, for training and fine-tuning (torch).

Inference reads the ONNX files exported from these (onnx_runtime.py). Model files are written as a plain dict of tensors, numbers and strings and read with
``torch.load(..., weights_only=True)`` (no arbitrary unpickling). A missing, corrupt or mismatched
file raises :class:`ModelLoadError` with a message for the user.
"""

from __future__ import annotations

from pathlib import Path

import torch

from TINullCorrectionLib.networks.model_files import MODELS_DIR, ModelLoadError, file_sha256  # noqa: F401 - re-exported


def write_weights_file(path: str | Path, file_format: str, version: int, network: torch.nn.Module, card: dict, **fields) -> str:
    """Write ``{format, version, **fields, card, state_dict}`` as a weights-only torch file; returns its sha256.

    Only plain values of ``card`` are kept, so the file loads with ``torch.load(..., weights_only=True)``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": file_format,
        "version": version,
        **fields,
        "card": {str(k): v for k, v in card.items() if isinstance(v, (str, int, float, bool))},
        "state_dict": {k: v.detach().cpu() for k, v in network.state_dict().items()},
    }
    torch.save(payload, path)
    return file_sha256(path)


def read_weights_file(path: Path, file_format: str, version: int, description: str, error: type[ValueError] = ModelLoadError,
                      device: str = "cpu") -> dict:
    """Read a file written by :func:`write_weights_file` safely (``weights_only=True``), or raise ``error``."""
    if not path.is_file():
        raise error(f"Model file not found: {path}")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to read is a corrupt file for the user
        raise error(f"Model file {path.name} is corrupt or not a weights-only PyTorch file ({type(exc).__name__}).") from exc
    if not isinstance(payload, dict) or payload.get("format") != file_format:
        raise error(f"{path.name} is not a CardiacLGE {description} file.")
    if payload.get("version") != version:
        raise error(f"{path.name} has model-file version {payload.get('version')}; this software reads version {version}.")
    state = payload.get("state_dict")
    if isinstance(state, dict):
        bad = [key for key, value in state.items() if torch.is_tensor(value) and value.is_floating_point() and not bool(torch.isfinite(value).all())]
        if bad:
            raise error(f"{path.name} contains non-finite weights (NaN or infinity) in {len(bad)} tensor(s), e.g. '{bad[0]}': "
                        "it is damaged or was trained badly; it is not used.")
    return payload
