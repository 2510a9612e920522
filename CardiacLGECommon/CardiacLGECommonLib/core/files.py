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


def check_output_folder(folder: str | os.PathLike) -> Path:
    """Raise OutputError unless ``folder`` is, or can be created as, a writable folder; creates nothing.

    For a check before long work: the folder itself, or its nearest existing parent, must be a folder
    this process may write in (a file in its place or on its path, or no permission, is refused)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is a file; give a folder for the outputs.")
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise OutputError(f"Cannot create the folder {folder}: {existing} is a file.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"Cannot write in {folder}: no permission to write in {existing}.")
    return folder


def check_output_file(path: str | os.PathLike) -> Path:
    """Raise OutputError unless ``path`` can be written, creating its folder if needed; creates nothing."""
    path = Path(path)
    check_output_folder(path.parent if str(path.parent) else Path("."))
    if path.parent.is_dir() or not str(path.parent):
        check_writable(path)
    return path


def make_output_folder(folder: str | os.PathLike) -> Path:
    """Create ``folder`` (and its parents) for outputs, or raise OutputError naming it."""
    folder = check_output_folder(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"Cannot create the folder {folder}: {error.strerror or error}.") from error
    return folder


class FileSet:
    """Files that are replaced together (see :func:`write_files_together`)."""

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []

    def write(self, path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
        """Call ``write(temporary_path)`` now; the file replaces ``path`` when the whole set is complete."""
        path = check_writable(path)
        try:
            handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=path.parent)
            os.close(handle)
            self._staged.append((path, Path(temporary)))
            write(Path(temporary))
        except OSError as error:
            raise OutputError(f"Cannot write {path}: {error.strerror or error}.") from error
        return path

    def write_text(self, path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
        return self.write(path, lambda tmp: tmp.write_text(text, encoding=encoding))

    def write_bytes(self, path: str | os.PathLike, data: bytes) -> Path:
        return self.write(path, lambda tmp: tmp.write_bytes(data))

    def write_json(self, path: str | os.PathLike, value, indent: int = 1) -> Path:
        """JSON without NaN/Infinity (as :func:`write_json_atomically`)."""
        text = json.dumps(json_ready(value), indent=indent, allow_nan=False)
        return self.write_text(path, text + "\n")

    def _discard(self) -> None:
        for _, temporary in self._staged:
            temporary.unlink(missing_ok=True)
        self._staged.clear()

    def _commit(self) -> None:
        umask = os.umask(0)
        os.umask(umask)
        try:
            for path, temporary in self._staged:
                with open(temporary, "rb") as stream:
                    os.fsync(stream.fileno())
                os.chmod(temporary, (path.stat().st_mode & 0o777) if path.exists() else (0o666 & ~umask))
        except OSError as error:
            self._discard()
            raise OutputError(f"Cannot write {path}: {error.strerror or error}.") from error
        for path, temporary in self._staged:
            try:
                os.replace(temporary, path)
            except OSError as error:
                self._discard()
                raise OutputError(f"Cannot write {path}: {error.strerror or error}.") from error
        self._staged.clear()


class write_files_together:  # noqa: N801 - used as a context manager, like open()
    """``with write_files_together() as files: files.write_text(a, ...); files.write(b, savefig)``

    Every file is first written completely to a temporary file beside its target; only when the block
    has finished without error are they renamed over their targets (``os.replace``, atomic each). A
    failure while producing any of them (full disk, permission, an exception) removes every temporary
    file and leaves every earlier file of the set exactly as it was: a reader never sees a new report.csv
    next to an old report.json, nor half a file.
    """

    def __enter__(self) -> FileSet:
        self._files = FileSet()
        return self._files

    def __exit__(self, exc_type, exc, traceback) -> bool:
        if exc_type is None:
            self._files._commit()
        else:
            self._files._discard()
        return False
