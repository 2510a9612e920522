"""``cardiac-lge export-onnx``: make the ONNX files that inference runs from the PyTorch (.pt) weights.

Without arguments it regenerates the shipped ``TINullCorrectionLib/models/ti_offset_sequence.onnx``,
``ti_offset_single_frame.onnx`` and
``myocardium_unet.onnx`` from the shipped ``.pt`` files and rewrites ``models/MODEL_CARD.json`` (the sha256
that the loader checks; copy them into MODEL_CARD.md). With .pt files (either network) it writes each
``.onnx`` beside its ``.pt``. Every export is loaded back through the inference checks and must reproduce
the torch logits (max |delta| <= 1e-4) before it replaces a file. Needs the training profile
(pip install -e .[train]: torch, onnx, onnxscript).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export-onnx", help="export .pt weights to the ONNX files inference runs (training profile)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", type=Path, help=".pt files to export (default: the three shipped models)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cardiac_lge.training.onnx_export import check_exporter, export_file, export_shipped

    check_exporter()
    if not args.models:
        card = export_shipped()
        for name, entry in card["files"].items():
            print(f"{name}: sha256 {entry['sha256']} ({entry['bytes'] / 1e6:.1f} MB)")
        print("wrote TINullCorrectionLib/models/MODEL_CARD.json")
        return 0
    for path in args.models:
        if not path.is_file():
            raise FileNotFoundError(f"Not found: {path}")
        onnx_path, sha = export_file(path)
        print(f"wrote {onnx_path} (sha256 {sha})")
    return 0
