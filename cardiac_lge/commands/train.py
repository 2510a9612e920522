"""``cardiac-lge train``: train the TI-offset CNN on simulated scouts and/or a site's labelled DICOM series.

The default weights shipped in TINullCorrectionLib/models/ are made by exactly:
    cardiac-lge train --out TINullCorrection/TINullCorrectionLib/models/ti_offset_sequence.pt
(defaults: sequence architecture, 2000 simulated series of which 15% phone photos, 14 epochs, seed 20261124).
Writes the weights-only PyTorch file (--out, for fine-tuning) and the ONNX file beside it (same name,
.onnx) that `ti-correct`, `evaluate` and the Slicer module run. Needs the training profile
(pip install -e .[train]: torch, onnx, onnxscript).
The single-frame network (one picture + its TI, the published per-image mode): the command that made the shipped
weights is in their model card (``training_command``; ``initialised_from`` and its sha256 when it continued an
earlier file).
Defaults with --single-frame: 3000 simulated series (35% phase-sensitive), every frame within +/-150 ms of the null
and two more per series as a screenshot (25%) or a phone photo of a 4K (40%) or 3 MP (35%) monitor, 16 epochs, seed
20261201; --init continues a single-frame .pt (input channels it lacks start at zero), --workers simulates in
parallel processes (the pictures do not depend on it).
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
    parser.add_argument("--n-series", type=int, default=None, help="simulated series to train on (default 2000; 3000 with --single-frame; 0 = none)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default 14; 8 with --single-frame)")
    parser.add_argument("--batch-size", type=int, default=8, help="series per batch (default 8)")
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--photo-fraction", type=float, default=0.15,
                        help="fraction of simulated series degraded as phone photos of the monitor (default 0.15)")
    parser.add_argument("--native-fraction", type=float, default=0.0,
                        help="fraction of simulated series that are native (pre-contrast) scouts (default 0: the "
                             "shipped weights; 0.15 fixes native scouts at a cost in post-contrast accuracy, see the model card)")
    parser.add_argument("--seed", type=int, default=None, help="seed of every random draw (default 20261124; 20261201 with --single-frame)")
    parser.add_argument("--dicom-dir", type=Path, help="folder of a site's labelled TI scout series (fine-tuning data)")
    parser.add_argument("--labels", type=Path, help="CSV with columns series_dir,null_ti_ms for --dicom-dir")
    parser.add_argument("--init", type=Path, help="start from this .pt model file (fine-tuning)")
    parser.add_argument("--checkpoint-dir", type=Path, help="write a checkpoint after every epoch here")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes simulating the single-frame pictures (default 1; the pictures do not depend on it)")
    parser.add_argument("--single-frame", action="store_true",
                        help="train the single-frame network (one picture + its TI) instead of the series CNN; "
                             "uses --n-series, --epochs, --learning-rate, --seed (defaults 3000, 16, 0.002, 20261201), "
                             "--init (a single-frame .pt to start from; input channels it lacks start at zero) and --workers")
    parser.set_defaults(func=run)


TRAIN_OPTIONS = ("out", "arch", "n_series", "epochs", "batch_size", "learning_rate", "photo_fraction", "native_fraction",
                 "seed", "dicom_dir", "labels", "init")


def run(args: argparse.Namespace) -> int:
    from cardiac_lge.commands._outputs import (
        check_output_folder,
        check_outputs,
        public_command,
        write_model_files,
    )
    from cardiac_lge.training.ti_offset import check_training_numbers

    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1; got {args.workers}.")
    if args.single_frame:
        args.n_series = 3000 if args.n_series is None else args.n_series
        args.epochs = 16 if args.epochs is None else args.epochs
        args.seed = 20261201 if args.seed is None else args.seed
        if args.dicom_dir is not None or args.n_series <= 0:
            raise ValueError("--single-frame trains on simulated pictures only: give --n-series > 0, no --dicom-dir.")
    else:
        args.n_series = 2000 if args.n_series is None else args.n_series
        args.epochs = 14 if args.epochs is None else args.epochs
        args.seed = 20261124 if args.seed is None else args.seed
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
    if args.single_frame:
        return _run_single_frame(args, history_path, onnx_path)
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
    write_model_files(args.out, history_path, onnx_path, history, lambda temporary: save_model(model, temporary),
                      lambda temporary, sha: export_ti_model(model, temporary, sha))
    return 0


SINGLE_FRAME_OPTIONS = ("single_frame", "out", "init", "n_series", "epochs", "learning_rate", "seed")


def _run_single_frame(args: argparse.Namespace, history_path: Path, onnx_path: Path) -> int:
    from TINullCorrectionLib.networks.model_files import file_sha256

    from cardiac_lge.commands._outputs import public_command, write_model_files
    from cardiac_lge.training.onnx_export import export_single_frame_model
    from cardiac_lge.training.single_frame import (
        SingleFrameTrainingConfig,
        load_torch_single_frame_model,
        save_single_frame_model,
        train_single_frame_model,
    )

    config = SingleFrameTrainingConfig(n_series=args.n_series, epochs=args.epochs, learning_rate=args.learning_rate, seed=args.seed,
                                       workers=args.workers)
    init = load_torch_single_frame_model(args.init) if args.init is not None else None
    init_sha256 = file_sha256(args.init) if args.init is not None else None  # read before --out may replace it
    model, history = train_single_frame_model(config, init=init)
    model.card.update({"training_command": public_command("cardiac-lge train", args, SINGLE_FRAME_OPTIONS)})
    if init is not None:  # plain values only (the card of a weights-only file)
        model.card.update({"initialised_from": Path(args.init).name, "initialised_from_sha256": init_sha256,
                           "initialised_from_training_command": str(init.card.get("training_command", ""))})
    write_model_files(args.out, history_path, onnx_path, history, lambda temporary: save_single_frame_model(model, temporary),
                      lambda temporary, sha: export_single_frame_model(model, temporary, sha))
    return 0
