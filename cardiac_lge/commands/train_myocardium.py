"""``cardiac-lge train-myocardium``: train the U-Net that finds the myocardium in a TI scout (for the
automatic inversion-recovery cross-check) on simulated scouts.

The default weights shipped in TINullCorrectionLib/models/ are made by exactly:
    cardiac-lge train-myocardium --out TINullCorrection/TINullCorrectionLib/models/myocardium_unet.pt
(defaults: 4000 simulated series of which 30% phone photos, 24 epochs, seed 20261130, 2 worker processes).
Writes the weights-only PyTorch file (--out) and the ONNX file beside it (.onnx) that inference runs.
Needs the training profile (pip install -e .[train]).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train-myocardium", help="train the myocardium U-Net used by the automatic IR-fit cross-check",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True,
                        help="model file to write (.pt, weights only; the .onnx for inference is written beside it)")
    parser.add_argument("--n-series", type=int, default=4000, help="simulated series (default 4000)")
    parser.add_argument("--epochs", type=int, default=24, help="epochs (default 24)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--photo-fraction", type=float, default=0.3, help="fraction degraded as phone photos (default 0.3)")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--workers", type=int, default=2, help="processes simulating the training data (default 2)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for torch (default: torch's choice)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cardiac_lge.commands._outputs import check_outputs, public_command, write_model_files
    from cardiac_lge.training.ti_offset import check_training_numbers

    if args.n_series < 2 or args.epochs < 1:
        raise ValueError("Training needs --n-series >= 2 and --epochs >= 1.")
    check_training_numbers(n_series=args.n_series, epochs=args.epochs, batch_size=args.batch_size,
                           learning_rate=args.learning_rate, photo_fraction=args.photo_fraction)
    if args.workers < 1 or args.threads < 0:
        raise ValueError(f"--workers must be >= 1 and --threads >= 0; got {args.workers}, {args.threads}.")
    history_path = args.out.with_suffix(".history.json")
    onnx_path = args.out.with_suffix(".onnx")
    check_outputs(args.out, history_path, onnx_path)  # before the training, not after it

    from cardiac_lge.training.myocardium import (
        SegmentationTrainingConfig,
        save_segmentation_model,
        train_segmentation,
    )
    from cardiac_lge.training.onnx_export import check_exporter, export_myocardium_model
    from cardiac_lge.training.ti_offset import set_threads

    check_exporter()
    set_threads(args.threads)
    config = SegmentationTrainingConfig(n_series=args.n_series, epochs=args.epochs, batch_size=args.batch_size,
                                        learning_rate=args.learning_rate, photo_fraction=args.photo_fraction, seed=args.seed)
    model, history = train_segmentation(config, workers=args.workers)
    model.card["training_command"] = public_command(
        "cardiac-lge train-myocardium", args, ("out", "n_series", "epochs", "batch_size", "learning_rate", "photo_fraction", "seed"))
    write_model_files(args.out, history_path, onnx_path, history, lambda temporary: save_segmentation_model(model, temporary),
                      lambda temporary, sha: export_myocardium_model(model, temporary, sha))
    return 0
