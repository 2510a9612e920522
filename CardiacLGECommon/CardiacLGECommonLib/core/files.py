"""Writing result files so that a reader sees the old file or the new one, never half of one.

:func:`write_atomically` writes to a temporary file in the same folder and renames it over the target
(``os.replace`` is atomic on POSIX and Windows within one file system). On any failure (full disk,
permission, an exception while producing the content) the temporary file is removed and the earlier
file, if any, is left untouched. :func:`check_writable` lets a long job refuse an unwritable output
before it starts.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from CardiacLGECommonLib.core.quantities import json_ready


class OutputError(OSError):
    """An output file cannot be written (clear, user-facing message naming the file)."""


def check_writable(path: str | os.PathLike) -> Path:
    """Raise OutputError unless ``path`` can be created or replaced (its folder exists and is writable,
    and it is not a folder itself)."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give a file name for the output.")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"Cannot write {path}: the folder {folder} does not exist.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"Cannot write {path}: no permission to write in {folder}.")
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"Cannot write {path}: the file is read-only.")
    return path


def write_atomically(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)`` and rename the result over ``path``; returns ``path``.

    ``write`` receives a path in the target's folder (so the rename stays on one file system) and must
    create the file there (e.g. ``figure.savefig(tmp)``, ``tmp.write_text(...)``).
    """
    path = check_writable(path)
    # the temporary name keeps the suffix (writers such as matplotlib choose the format from it)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=path.parent)
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        write(temporary_path)
        if path.exists():
            os.chmod(temporary_path, path.stat().st_mode & 0o777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary_path, 0o666 & ~umask)
        os.replace(temporary_path, path)
    except OSError as error:
        temporary_path.unlink(missing_ok=True)
        raise OutputError(f"Cannot write {path}: {error.strerror or error}.") from error
    except BaseException:
        temporary_path.unlink(missing_ok=True)
        raise
    return path


def write_text_atomically(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding=encoding))


def write_json_atomically(path: str | os.PathLike, value, indent: int = 1) -> Path:
    """JSON without NaN/Infinity (non-finite numbers become null; ``allow_nan=False`` double-checks)."""
    text = json.dumps(json_ready(value), indent=indent, allow_nan=False)
    return write_text_atomically(path, text + "\n")
