"""Atomic output files (core: stdlib): write to a temporary file beside the target, then rename.

A reader never sees a half-written file, and a failure (disk full, an exception while rendering)
leaves an existing file of that name as it was. The temporary file keeps the target's suffix
(``.report.tmp-xxxx.png``) so writers that pick the format from the name (SimpleITK, matplotlib)
still work; it is removed when writing fails.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` (``os.replace``)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(target.suffixes) or ".tmp"
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name.split('.')[0]}.tmp-", suffix=suffix,
                                         dir=str(target.parent))
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_text_atomic(path, text: str, encoding: str = "utf-8") -> Path:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding=encoding)
    return Path(path)


def write_bytes_atomic(path, data: bytes) -> Path:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)
