"""Atomic file writes (core: standard library only).

A file is written to a temporary file in the same folder, flushed to disk (``os.fsync``) and then
renamed over the target with ``os.replace`` (atomic on POSIX and Windows for one volume). A crash or
an error therefore leaves either the old file or the new one, never half a file, and a failed write
leaves the old file as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path, suffix: str = ""):
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    For writers that need a file name (matplotlib ``savefig``, csv via ``open``)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix, dir=target.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        with open(temporary, "rb") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8", newline="") as stream:  # newline="": keep the text's own line ends
            stream.write(text)
    return Path(path)


def write_json_atomic(path, document) -> Path:
    """Write a JSON document (no NaN/Infinity: ``allow_nan=False``) atomically."""
    return write_text_atomic(path, json.dumps(document, indent=2, allow_nan=False) + "\n")
