"""Entry point of the ``cardiac-lge`` command line.

Sub-commands live in :mod:`cardiac_lge.commands` (one module each, discovered at start-up) so that
the TI-correction and QA features register themselves without editing this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from cardiac_lge import __version__
from cardiac_lge import commands as commands_package
from cardiac_lge.memory import keep_freed_memory


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cardiac-lge",
        description=(
            "CardiacLGE headless tools: TI null-point correction for TI scouts (Look-Locker) and "
            "image-quality analysis of late gadolinium enhancement (LGE) images."
        ),
    )
    parser.add_argument("--version", action="version", version=f"cardiac-lge {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(commands_package.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands_package.__name__}.{module_info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    keep_freed_memory()  # series after series in one process: see cardiac_lge/memory.py
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError) as error:
        # Library code raises these with user-facing messages (ScoutError, ModelLoadError, OutputError...);
        # the operating system's (permission, full disk, not found) carry the file name: no traceback.
        message = str(error)
        if isinstance(error, OSError) and getattr(error, "filename", None) and str(error.filename) not in message:
            message = f"{message} ({error.filename})"
        print(f"cardiac-lge {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
