"""Nothing of a hospital's use leaves the machine: onnxruntime imported with its telemetry off.

onnxruntime's official wheels (1.2x and later on Linux and macOS; Windows builds for longer) carry Microsoft's
telemetry: at the first inference session they start an uploader, write a persistent device identifier and an
offline event store under ``~/.cache/Microsoft/DeveloperTools/.onnxruntime`` and a session file in the temporary
folder (measured with onnxruntime 1.32.0). ``ORT_DISABLE_TELEMETRY=1`` set before the runtime starts is the full
opt-out on those platforms (onnxruntime pull request #27379: no uploader, no events, no device identifier, no
cache); ``disable_telemetry_events()`` switches off the Windows provider. Every import of onnxruntime in the
project (the networks, the OCR of console photos, check-env) goes through :func:`import_onnxruntime`.
"""

from __future__ import annotations

import os

TELEMETRY_OPT_OUT = ("ORT_DISABLE_TELEMETRY", "1")


def disable_onnxruntime_telemetry() -> None:
    """Set the opt-out before onnxruntime starts (also before a library that imports it, e.g. the OCR)."""
    name, value = TELEMETRY_OPT_OUT
    os.environ[name] = value


def import_onnxruntime():
    """``import onnxruntime`` with its telemetry off; raises ImportError when it is not installed."""
    disable_onnxruntime_telemetry()
    import onnxruntime

    disable = getattr(onnxruntime, "disable_telemetry_events", None)
    if disable is not None:
        disable()
    return onnxruntime
