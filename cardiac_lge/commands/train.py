"""``cardiac-lge train``: train the TI-offset CNN on simulated scouts and/or a site's labelled DICOM series.

The default weights shipped in TINullCorrectionLib/models/ are made by exactly:
    cardiac-lge train --out TINullCorrection/TINullCorrectionLib/models/ti_offset_sequence.pt
(defaults: sequence architecture, 2000 simulated series of which 15% phone photos, 14 epochs, seed 20261124).
Writes the weights-only PyTorch file (--out, for fine-tuning) and the ONNX file beside it (same name,
.onnx) that `ti-correct`, `evaluate` and the Slicer module run. Needs the training profile
(pip install -e .[train]: torch, onnx, onnxscript).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train the TI-offset CNN (simulated data and/or labelled DICOM)", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True,
                        help="model file to write (.pt, weights only; the .onnx for inference is written beside it)")
    parser.add_argument("--arch", choices=("sequence", "compact", "vgg16"), default="sequence",
                        help="network architecture (default sequence: CNN per frame + GRU over frames)")
    parser.add_argument("--n-series", type=int, default=2000, help="simulated series to train on (default 2000; 0 = none)")
    parser.add_argument("--epochs", type=int, default=14, help="epochs (default 14)")
    parser.add_argument("--batch-size", type=int, default=8, help="series per batch (default 8)")
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--photo-fraction", type=float, default=0.15,
                        help="fraction of simulated series degraded as phone photos of the monitor (default 0.15)")
    parser.add_argument("--native-fraction", type=float, default=0.0,
                        help="fraction of simulated series that are native (pre-contrast) scouts (default 0: the "
                             "shipped weights; 0.15 fixes native scouts at a cost in post-contrast accuracy, see the model card)")
    parser.add_argument("--seed", type=int, default=20261124, help="seed of every random draw (default 20261124)")
    parser.add_argument("--dicom-dir", type=Path, help="folder of a site's labelled TI scout series (fine-tuning data)")
    parser.add_argument("--labels", type=Path, help="CSV with columns series_dir,null_ti_ms for --dicom-dir")
    parser.add_argument("--init", type=Path, help="start from this .pt model file (fine-tuning)")
    parser.add_argument("--checkpoint-dir", type=Path, help="write a checkpoint after every epoch here")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for torch (default: torch's choice)")
    parser.set_defaults(func=run)


TRAIN_OPTIONS = ("out", "arch", "n_series", "epochs", "batch_size", "learning_rate", "photo_fraction", "native_fraction",
                 "seed", "dicom_dir", "labels", "init")


def run(args: argparse.Namespace) -> int:
    from CardiacLGECommonLib.core.files import write_json_atomically

    from cardiac_lge.commands._outputs import (
        check_output_folder,
        check_outputs,
        public_command,
        save_atomically,
    )
    from cardiac_lge.training.ti_offset import check_training_numbers

    if (args.dicom_dir is None) != (args.labels is None):
        raise ValueError("--dicom-dir and --labels go together.")
    if args.n_series <= 0 and args.dicom_dir is None:
        raise ValueError("Nothing to train on: give --n-series > 0 and/or --dicom-dir with --labels.")
    check_training_numbers(n_series=args.n_series, epochs=args.epochs, batch_size=args.batch_size,
                           learning_rate=args.learning_rate, photo_fraction=args.photo_fraction,
                           native_fraction=args.native_fraction)
    if args.threads < 0:
        raise ValueError(f"--threads must be >= 0; got {args.threads}.")
    # every output is checked before any data is made (training takes minutes to hours)
    history_path = args.out.with_suffix(".history.json")
    onnx_path = args.out.with_suffix(".onnx")
    check_outputs(args.out, history_path, onnx_path)
    if args.checkpoint_dir is not None:
        check_output_folder(args.checkpoint_dir)

    from cardiac_lge.training.onnx_export import check_exporter, export_ti_model
    from cardiac_lge.training.ti_offset import (
        SeriesSet,
        TrainingConfig,
        labelled_dicom_series_set,
        load_torch_model,
        save_model,
        set_threads,
        simulate_series_set,
        train_model,
    )

    check_exporter()  # before hours of training, not after
    set_threads(args.threads)
    config = TrainingConfig(architecture=args.arch, n_series=args.n_series, epochs=args.epochs, batch_size=args.batch_size,
                            learning_rate=args.learning_rate, photo_fraction=args.photo_fraction,
                            native_fraction=args.native_fraction, seed=args.seed)
    init = load_torch_model(args.init) if args.init is not None else None
    series = SeriesSet()
    if args.n_series > 0:
        series = simulate_series_set(args.n_series, args.seed, config.preprocess, args.photo_fraction, show_progress=True,
                                     native_fraction=args.native_fraction)
    if args.dicom_dir is not None:
        site = labelled_dicom_series_set(args.dicom_dir, args.labels, config.preprocess)
        print(f"loaded {len(site)} labelled site series")
        series.extend(site)
    model, history = train_model(config, series=series, init=init, checkpoint_dir=args.checkpoint_dir)
    # the card keeps the options and model file names, never the paths of a site's data (README "Patient data")
    model.card.update({"training_command": public_command("cardiac-lge train", args, TRAIN_OPTIONS),
                       "trained_on_site_series": args.dicom_dir is not None})
    sha = save_atomically(args.out, lambda temporary: save_model(model, temporary))
    write_json_atomically(history_path, history)
    print(f"wrote {args.out} (sha256 {sha})")
    onnx_sha = save_atomically(onnx_path, lambda temporary: export_ti_model(model, temporary, sha))
    print(f"wrote {onnx_path} (sha256 {onnx_sha})")
    return 0
