"""Output rules shared by the sub-commands (not a sub-command: the leading underscore keeps it out of the
command discovery in cardiac_lge.cli).

* Every output is checked before the work starts (:func:`check_outputs`), so an unwritable ``--out`` is found
  in a second, not after a 25-minute training run.
* Every file is written atomically (CardiacLGECommonLib.core.files: temporary file + rename), so a reader
  sees the old file or the new one, never half of one; model files too (:func:`save_atomically`).
* What a model card keeps of the command that made it (:func:`public_command`): the options and the names of
  the model files, never the paths of a site's data.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable
from pathlib import Path

#: Options whose value is a site's data: written as a placeholder into model cards.
SITE_DATA_OPTIONS = ("dicom_dir", "labels")
#: Options naming model files: only the file name is kept.
MODEL_FILE_OPTIONS = ("out", "init")


def check_outputs(*paths: Path | None) -> None:
    """OutputError (naming the file) unless every given output can be written (None entries are skipped)."""
    from CardiacLGECommonLib.core.files import check_writable

    for path in paths:
        if path is not None:
            check_writable(path)


def check_output_folder(folder: Path) -> Path:
    """Create ``folder`` (and parents) or raise OutputError naming it (a file in its place, no permission)."""
    from CardiacLGECommonLib.core.files import OutputError

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is a file; give a folder for the output.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"Cannot create the folder {folder}: {error.strerror or error}.") from error
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"Cannot write in {folder}: no permission.")
    return folder


def save_atomically(path: Path, save: Callable[[Path], str]) -> str:
    """``save(temporary_path) -> sha256`` (e.g. networks.ti_offset.save_model), renamed over ``path`` only when
    complete; returns the sha256."""
    from CardiacLGECommonLib.core.files import write_atomically

    result: list[str] = []
    write_atomically(path, lambda temporary: result.append(save(temporary)))
    return result[0]


def write_model_files(out: Path, history_path: Path, onnx_path: Path, history, save: Callable[[Path], str],
                      export: Callable[[Path, str], str]) -> None:
    """What every training command writes, each file atomically: the weights-only .pt (``save(path) -> sha256``),
    its training history (JSON) and the .onnx exported from it (``export(path, pt_sha256) -> sha256``)."""
    from CardiacLGECommonLib.core.files import write_json_atomically

    sha = save_atomically(out, save)
    write_json_atomically(history_path, history)
    print(f"wrote {out} (sha256 {sha})")
    onnx_sha = save_atomically(onnx_path, lambda temporary: export(temporary, sha))
    print(f"wrote {onnx_path} (sha256 {onnx_sha})")


def public_command(program: str, args: argparse.Namespace, options: Iterable[str]) -> str:
    """The command line for a model card: ``options`` (argparse destinations) with their values, model files by
    name only, a site's data as ``<site data>`` (no folder or file names of patients' data)."""
    parts = [program]
    for key in options:
        value = getattr(args, key, None)
        if value is None or value is False:
            continue
        flag = f"--{key.replace('_', '-')}"
        if value is True:
            parts.append(flag)
        elif key in SITE_DATA_OPTIONS:
            parts += [flag, "<site data>"]
        elif key in MODEL_FILE_OPTIONS:
            parts += [flag, Path(value).name]
        else:
            parts += [flag, str(value)]
    return " ".join(parts)
