"""Atomic file writes of the LGE study layer, on top of ``CardiacLGECommonLib.core.files``.

A file is written to a temporary file in the same folder, flushed to disk (``os.fsync``) and then
renamed over the target with ``os.replace`` (atomic on POSIX and Windows for one volume). A crash or
an error therefore leaves either the old file or the new one, never half a file, and a failed write
leaves the old file as it was. Every failure (full disk, no permission, a folder in the file's place)
is an ``OutputError`` naming the file. Several files that belong together (a report's CSV, JSON and
figures) are written with ``CardiacLGECommonLib.core.files.write_files_together``: all or none.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from CardiacLGECommonLib.core.files import OutputError, check_writable, make_output_folder

__all__ = ["OutputError", "atomic_path", "write_json_atomic", "write_text_atomic"]


@contextlib.contextmanager
def atomic_path(path, suffix: str = "", mode: int | None = None):
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    For writers that need a file name (matplotlib ``savefig``, csv via ``open``). ``mode``: the file's
    permission bits (e.g. 0o600 for a file only its owner may read); default: those of the file it
    replaces, else the umask's."""
    target = Path(path)
    make_output_folder(target.parent)
    check_writable(target)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix, dir=target.parent)
        os.close(handle)
    except OSError as error:
        raise OutputError(f"Cannot write {target}: {error.strerror or error}.") from error
    try:
        yield Path(temporary)
        with open(temporary, "rb") as stream:
            os.fsync(stream.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = (target.stat().st_mode & 0o777) if target.exists() else (0o666 & ~umask)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        if isinstance(error, OutputError):
            raise
        raise OutputError(f"Cannot write {target}: {error.strerror or error}.") from error
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def write_text_atomic(path, text: str, mode: int | None = None) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path, mode=mode) as temporary:
        with open(temporary, "w", encoding="utf-8", newline="") as stream:  # newline="": keep the text's own line ends
            stream.write(text)
    return Path(path)


def write_json_atomic(path, document, mode: int | None = None) -> Path:
    """Write a JSON document (no NaN/Infinity: ``allow_nan=False``) atomically."""
    return write_text_atomic(path, json.dumps(document, indent=2, allow_nan=False) + "\n", mode=mode)
