"""``cardiac-lge ti-correct``: per-frame offsets from the myocardial null and the TI to use for LGE.

Inputs: a DICOM folder or files (any vendor; the slices of one scout give one result per slice and a
combined one; different scouts in the inputs are reported separately, never combined), pictures of the
scanner monitor (PNG/JPEG, with --ti-ms or --ti-csv), or one NRRD/NIfTI file.
--batch DIR runs every sub-folder of DIR as one study and writes one CSV row per series slice; a series that
fails becomes a row with its error and the batch goes on; with --workers N the studies are shared by N
processes (each with single-threaded onnxruntime sessions). Studies are numbered (study_001, ... in the sorted
order of the folder names) unless --keep-names writes the folder names.
Pictures: a --ti-csv with a file column is matched to the pictures by file name; a bare list (--ti-ms, or a
one-column CSV) is accepted only when the pictures are given in the natural order of their names
(photo_2 before photo_10: a shell glob gives photo_10 first, and then ti-correct refuses).
Photos taken at the console (the same modes as the web page of ``cardiac-lge serve``, same numbers):
  ti-correct photo.jpg --mosaic [--ti-ms ...| --first-ti-ms 100 --spacing-ms 40]   one photo of the whole mosaic
  ti-correct frame.jpg --single-frame --ti-ms 320                                  one frame and its TI
No patient names or IDs, folder names or series descriptions are printed or written (unless --keep-names).

Everything below the argument handling is the TI pipeline (TINullCorrectionLib.core.pipeline), the same
one the Slicer module, ``evaluate``, ``figure-ti`` and the benchmarks call.
"""

from __future__ import annotations

import argparse
from pathlib import Path

PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
VOLUME_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ti-correct", help="predict per-frame TI offsets and recommend the LGE TI",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="*", type=Path, help="DICOM folder/files, pictures, or one NRRD/NIfTI file")
    parser.add_argument("--model", type=Path, default=None,
                        help="ONNX model file of the TI-offset CNN (default: the shipped ti_offset_sequence.onnx)")
    parser.add_argument("--ti-ms", type=float, nargs="+",
                        help="TIs (ms) of the pictures (in the order given, which must be the natural order of their "
                             "names) or of the volume's frames")
    parser.add_argument("--ti-csv", type=Path, help="CSV with the TIs of the pictures: file,ti_ms rows (matched by file "
                                                     "name) or one ti_ms column (order as for --ti-ms)")
    parser.add_argument("--pixel-spacing-mm", type=float, default=1.5, help="pixel size of pictures (default 1.5 mm)")
    parser.add_argument("--chosen-ti", type=float, help="the LGE TI (ms) you intend to use: is it optimal, and what to use instead")
    parser.add_argument("--roi-mask", type=Path, help="myocardium mask (NRRD/NIfTI, same rows x columns as the frames) for the physics cross-check")
    parser.add_argument("--myocardium-model", type=Path, default=None,
                        help="U-Net that finds the myocardium for the automatic physics cross-check when no --roi-mask "
                             "is given (default: the shipped weights)")
    parser.add_argument("--no-auto-myocardium", action="store_true",
                        help="CNN only when no --roi-mask is given (no automatic inversion-recovery cross-check)")
    parser.add_argument("--optimal-range", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                        help="optimal range around the null in ms (default -10 20)")
    parser.add_argument("--lge-offset-ms", type=float, default=0.0, help="added to the scout null for the LGE sequence (default 0)")
    parser.add_argument("--drift-ms-per-min", type=float, default=0.0, help="gadolinium wash-out drift of the null (ms/min, default 0)")
    parser.add_argument("--minutes-since-scout", type=float, default=0.0, help="minutes between the scout and the LGE acquisition")
    parser.add_argument("--json", type=Path, help="write the results as JSON (units in key names)")
    parser.add_argument("--batch", type=Path, help="run every sub-folder of this folder as one study")
    parser.add_argument("--csv", type=Path, help="with --batch: CSV with one row per series slice")
    parser.add_argument("--workers", type=int, default=1,
                        help="with --batch: processes sharing the studies (default 1; 0 = one per CPU core)")
    parser.add_argument("--keep-names", action="store_true",
                        help="with --batch: write the study folder names into the CSV (default: study_001, ...)")
    parser.add_argument("--assume-inversion-recovery", action="store_true",
                        help="load DICOM series whose TI is a TriggerTime without inversion-recovery evidence in the "
                             "header (default: refused as most likely a cine)")
    parser.add_argument("--quiet", action="store_true", help="do not print the per-frame tables")
    phone = parser.add_argument_group("photos taken at the console")
    phone.add_argument("--mosaic", action="store_true",
                       help="the input is one photo of the console's whole mosaic of frames: tiles found, TIs read from the tiles "
                            "(or --ti-ms, one per tile in reading order, or --first-ti-ms with --spacing-ms)")
    phone.add_argument("--single-frame", action="store_true",
                       help="the input is one picture of one frame; give its TI with --ti-ms (single-frame network)")
    phone.add_argument("--first-ti-ms", type=float, help="--mosaic: TI of the first tile, when the TIs cannot be read")
    phone.add_argument("--spacing-ms", type=float, help="--mosaic: TI step between tiles, with --first-ti-ms")
    phone.add_argument("--field-of-view-mm", type=float, default=None,
                       help="--mosaic: field of view a tile shows (default 340 mm; a photo carries no pixel size)")
    phone.add_argument("--no-ocr", action="store_true", help="--mosaic: do not read the TIs from the tiles")
    phone.add_argument("--single-frame-model", type=Path, default=None, help="single-frame model file (default: the shipped weights)")
    phone.add_argument("--annotated", type=Path, help="write the picture with every tile marked green / amber / red (JPEG)")
    parser.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace):
    from TINullCorrectionLib.core.recommendation import RecommendationSettings
    from TINullCorrectionLib.core.types import DEFAULT_OPTIMAL_RANGE_MS

    optimal = tuple(args.optimal_range) if args.optimal_range is not None else DEFAULT_OPTIMAL_RANGE_MS
    return RecommendationSettings(optimal_range_ms=optimal, lge_offset_ms=args.lge_offset_ms,
                                  drift_ms_per_min=args.drift_ms_per_min, minutes_since_scout=args.minutes_since_scout)


def inputs_are_pictures(inputs: list[Path]) -> bool:
    return bool(inputs) and all(p.is_file() and p.suffix.lower() in PICTURE_SUFFIXES for p in inputs)


def inputs_are_volume(inputs: list[Path]) -> bool:
    return len(inputs) == 1 and inputs[0].is_file() and inputs[0].name.lower().endswith(VOLUME_SUFFIXES)


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse combinations whose parts would be silently ignored (before any model is loaded)."""
    from TINullCorrectionLib.core.recommendation import PLAUSIBLE_CHOSEN_TI_MS

    if args.batch is not None:
        if args.inputs:
            raise ValueError(f"--batch analyses the sub-folders of {args.batch}; the other inputs "
                             f"({', '.join(str(p) for p in args.inputs[:3])}) would be ignored: give one or the other.")
        if args.csv is None:
            raise ValueError("--batch needs --csv for its results.")
        ignored = [flag for flag, value in (("--ti-ms", args.ti_ms), ("--ti-csv", args.ti_csv), ("--roi-mask", args.roi_mask),
                                            ("--chosen-ti", args.chosen_ti), ("--json", args.json)) if value is not None]
        if ignored:
            raise ValueError(f"{', '.join(ignored)} do not apply to --batch (one CSV row per series slice).")
    else:
        if args.csv is not None:
            raise ValueError("--csv writes the rows of a --batch run; for one study use --json.")
        if args.keep_names:
            raise ValueError("--keep-names applies to --batch only.")
        if args.workers != 1:
            raise ValueError("--workers applies to --batch only.")
        if args.ti_ms is not None and args.ti_csv is not None:
            raise ValueError("Give the TIs either with --ti-ms or with --ti-csv, not both.")
        inputs = list(args.inputs)
        if (args.ti_ms is not None or args.ti_csv is not None) and inputs and all(p.exists() for p in inputs) \
                and not (inputs_are_pictures(inputs) or inputs_are_volume(inputs)):
            raise ValueError("--ti-ms / --ti-csv apply to pictures and NRRD/NIfTI volumes only: DICOM files carry their own TIs "
                             "(the field used is reported).")
    if args.chosen_ti is not None:
        low, high = PLAUSIBLE_CHOSEN_TI_MS
        if not low < args.chosen_ti <= high:
            raise ValueError(f"--chosen-ti must be a TI in ({low:g}, {high:g}] ms (docs/METHODS.md §1.7); got {args.chosen_ti:g}.")


def _picture_tis(args: argparse.Namespace, inputs: list[Path]):
    """(TIs of the pictures in input order, warnings): matched by file name when the CSV has a file column,
    else in input order when that order is unambiguous (io.images.check_list_order)."""
    from TINullCorrectionLib.io.images import check_list_order, read_ti_table, ti_for_files

    if args.ti_csv is not None:
        files, values = read_ti_table(args.ti_csv)
        if files is not None:
            return ti_for_files(inputs, files, values, args.ti_csv.name)
    else:
        values = args.ti_ms
    check_list_order(inputs)
    return values, []


def load_inputs(args: argparse.Namespace) -> list:
    """TIScouts from the command-line inputs (raises ScoutError / ValueError with a clear message)."""
    return load_inputs_with_report(args).scouts


def load_inputs_with_report(args: argparse.Namespace):
    """The command-line inputs as a LoadedScouts (scouts, skipped inputs), and the loading warnings in
    ``warnings`` of each scout (raises ScoutError / ValueError with a clear message)."""
    from dataclasses import replace

    from TINullCorrectionLib.io.dicom import LoadedScouts, load_ti_scouts_with_report
    from TINullCorrectionLib.io.images import load_scout_from_images, load_scout_from_volume_file, read_ti_csv

    inputs = list(args.inputs)
    if not inputs:
        raise ValueError("Give a DICOM folder/files, pictures with --ti-ms/--ti-csv, or a NRRD/NIfTI file.")
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise FileNotFoundError(f"Not found: {', '.join(missing)}")
    if inputs_are_pictures(inputs):
        if args.ti_ms is None and args.ti_csv is None:
            raise ValueError("Pictures carry no TI: give --ti-ms or --ti-csv.")
        ti_ms, warnings = _picture_tis(args, inputs)
        spacing = (args.pixel_spacing_mm, args.pixel_spacing_mm)
        scout = load_scout_from_images(inputs, ti_ms, pixel_spacing_mm=spacing)
        return LoadedScouts((replace(scout, warnings=(*scout.warnings, *warnings)),))
    if inputs_are_volume(inputs):
        ti_ms = args.ti_ms if args.ti_ms is not None else (read_ti_csv(args.ti_csv) if args.ti_csv else None)
        return LoadedScouts((load_scout_from_volume_file(inputs[0], ti_ms),))
    return load_ti_scouts_with_report(inputs, require_inversion_evidence=not args.assume_inversion_recovery)


def read_mask(path: Path, shape: tuple[int, int]):
    import numpy as np
    import SimpleITK as sitk
    from TINullCorrectionLib.core.types import ScoutError

    try:
        mask = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
    except RuntimeError as error:
        raise ScoutError(f"Cannot read the ROI mask {path}: {str(error).strip().splitlines()[-1]}") from error
    mask = np.squeeze(mask) > 0
    if mask.shape != shape:
        raise ValueError(f"ROI mask {path.name} has shape {mask.shape}; the scout frames are {shape}.")
    return mask


def load_myocardium_model(args: argparse.Namespace):
    """The myocardium U-Net for the automatic cross-check, or None with --no-auto-myocardium."""
    if getattr(args, "no_auto_myocardium", False):
        return None
    from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model

    return load_segmentation_model(getattr(args, "myocardium_model", None))


def analyse(model, scouts: list, args: argparse.Namespace, pictures: bool = False, myocardium_model=None, skipped=()):
    """The pipeline on the command-line scouts: a StudyResult (one group per scout, combined slices);
    ``skipped`` inputs (io.dicom.LoadedScouts.skipped) are reported with it."""
    from TINullCorrectionLib.core.pipeline import analyse_study
    from TINullCorrectionLib.networks.measured_accuracy import picture_warning

    masks = [read_mask(args.roi_mask, scout.frames.shape[1:]) if args.roi_mask else None for scout in scouts]
    return analyse_study(scouts, model, settings_from_args(args), myocardium_masks=masks, myocardium_model=myocardium_model,
                         chosen_ti_ms=args.chosen_ti, warnings=(picture_warning(),) if pictures else (), skipped=skipped)


# ------------------------------------------------------------------------------------------------ --batch
BATCH_FIELDS = ["study", "slice", "n_frames", "ti_source", "null_ti_ms", "null_uncertainty_ms", "method",
                "recommended_lge_ti_ms", "warnings", "error"]


def _failure_text(error: BaseException, where: str) -> str:
    """A batch row's error: the project's clear messages as they are; anything else named as an internal
    error (type and message) with the file it happened on, so that a crash of one series is reported, not raised."""
    from TINullCorrectionLib.core.types import ScoutError

    if isinstance(error, (ScoutError, ValueError, OSError)) and not isinstance(error, ArithmeticError):
        return str(error)
    if isinstance(error, MemoryError):
        return f"out of memory while analysing {where}"
    return f"internal error while analysing {where} ({type(error).__name__}: {error}); please report it"


def batch_rows(study: Path, study_id: str, model, settings, myocardium_model=None, keep_names: bool = False,
               assume_inversion_recovery: bool = False) -> tuple[list[dict], dict]:
    """The CSV rows of one study folder (one per TI-scout slice found in it, or one row with the error) and the
    counts {"analysed", "failed", "no_scout"}. Every per-series failure is a row, never an exception."""
    from TINullCorrectionLib.core.pipeline import analyse_scout
    from TINullCorrectionLib.io.dicom import examine_dicom_files, load_scout_from_files, why_no_scout

    counts = {"analysed": 0, "failed": 0, "no_scout": 0}

    def hide(text) -> str:
        """The study folder's path and name replaced by its number (no folder name in the CSV by default)."""
        text = str(text)
        return text if keep_names else text.replace(str(study), study_id).replace(study.name, study_id)

    try:
        candidates = examine_dicom_files([study])
    except Exception as error:  # noqa: BLE001 - one unreadable study is a row, not the end of the batch
        counts["failed"] += 1
        return [{"study": study_id, "error": hide(_failure_text(error, study_id))}], counts
    if not candidates:
        try:
            reason = why_no_scout([study])
        except Exception as error:  # noqa: BLE001 - the reason is a courtesy; the row is written anyway
            reason = _failure_text(error, study_id)
        counts["no_scout"] += 1
        return [{"study": study_id, "error": hide(f"no TI scout found ({reason})")}], counts
    rows = []
    for candidate in candidates:
        first = Path(candidate.files[0])
        first_file = hide(first.relative_to(study) if first.is_relative_to(study) else first.name)
        try:
            scout = load_scout_from_files(candidate.files, candidate.slice_index,
                                          require_inversion_evidence=not assume_inversion_recovery)
            result = analyse_scout(scout, model, settings, myocardium_model=myocardium_model)
        except Exception as error:  # noqa: BLE001 - every per-series failure is a row (see the docstring)
            rows.append({"study": study_id, "slice": f"series slice {candidate.slice_index}", "n_frames": candidate.n_frames,
                         "ti_source": candidate.ti_source,
                         "error": hide(f"{_failure_text(error, first_file)} (first file {first_file})")})
            counts["failed"] += 1
            continue
        final = result.final
        rows.append({"study": study_id, "slice": result.slice_label, "n_frames": result.n_frames, "ti_source": result.ti_source,
                     "null_ti_ms": f"{final.null_ti_ms:.1f}", "null_uncertainty_ms": f"{final.uncertainty_ms:.1f}",
                     "method": final.method, "recommended_lge_ti_ms": f"{final.recommended_lge_ti_ms:.1f}",
                     "warnings": hide(" | ".join(result.all_warnings())), "error": ""})
        counts["analysed"] += 1
    return rows, counts


#: The models and options of a batch worker process (loaded once per process by _start_worker).
_WORKER: dict = {}
#: Thread pools of numpy's BLAS and OpenMP in worker processes: one thread each, the processes are the parallelism.
_SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _start_worker(model_path, myocardium_path, auto_myocardium: bool, settings, keep_names: bool, assume_ir: bool) -> None:
    from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model
    from TINullCorrectionLib.networks.ti_offset import load_model

    from cardiac_lge.memory import keep_freed_memory

    keep_freed_memory()  # a spawned worker does not pass through cli.main
    _WORKER.update(model=load_model(model_path, threads=1), settings=settings, keep_names=keep_names, assume_ir=assume_ir,
                   myocardium_model=load_segmentation_model(myocardium_path, threads=1) if auto_myocardium else None)


def _worker_rows(job: tuple[Path, str]) -> tuple[list[dict], dict]:
    study, study_id = job
    return batch_rows(study, study_id, _WORKER["model"], _WORKER["settings"], _WORKER["myocardium_model"],
                      _WORKER["keep_names"], _WORKER["assume_ir"])


def _study_rows(jobs: list[tuple[Path, str]], model, args: argparse.Namespace, myocardium_model=None):
    """(rows, counts) of every study, in order: in this process, or in ``--workers`` processes (spawned, so that no
    onnxruntime session crosses a fork; each loads the models once with one onnxruntime thread)."""
    import os

    from tqdm import tqdm

    settings = settings_from_args(args)
    workers = args.workers if args.workers > 0 else (os.cpu_count() or 1)
    workers = min(workers, len(jobs))
    if workers <= 1:
        for study, study_id in tqdm(jobs, desc="studies", unit="study"):
            yield batch_rows(study, study_id, model, settings, myocardium_model, args.keep_names, args.assume_inversion_recovery)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    saved = {name: os.environ.get(name) for name in _SINGLE_THREAD_ENV}
    os.environ.update(_SINGLE_THREAD_ENV)  # inherited by the spawned workers before they import numpy
    try:
        initargs = (args.model, getattr(args, "myocardium_model", None), myocardium_model is not None, settings,
                    args.keep_names, args.assume_inversion_recovery)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                                 initargs=initargs) as pool:
            yield from tqdm(pool.map(_worker_rows, jobs), total=len(jobs), desc=f"studies ({workers} workers)", unit="study")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run_batch(model, args: argparse.Namespace, myocardium_model=None) -> int:
    """One CSV row per series slice of every sub-folder of --batch. Every per-series failure (the project's
    errors and any other exception of one series) becomes a row with its error and the batch goes on; it ends
    with a summary line. Study folder names are replaced by study_001, ... unless --keep-names."""
    import csv
    import io

    from CardiacLGECommonLib.core.files import write_text_atomically

    if not args.batch.is_dir():
        raise ValueError(f"--batch {args.batch} is not a folder.")
    studies = sorted(p for p in args.batch.iterdir() if p.is_dir())
    if not studies:
        raise ValueError(f"No study folders in {args.batch}.")
    if args.workers < 0:
        raise ValueError("--workers must be 0 (one per CPU core) or more.")
    width = max(3, len(str(len(studies))))
    jobs = [(study, study.name if args.keep_names else f"study_{number:0{width}d}") for number, study in enumerate(studies, start=1)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=BATCH_FIELDS)
    writer.writeheader()
    counts = {"analysed": 0, "failed": 0, "no_scout": 0}
    for rows, study_counts in _study_rows(jobs, model, args, myocardium_model):
        writer.writerows(rows)
        for key, value in study_counts.items():
            counts[key] += value
    write_text_atomically(args.csv, buffer.getvalue())
    print(f"batch of {len(studies)} studies: {counts['analysed']} series slices analysed, {counts['failed']} failed "
          f"(their rows name the error), {counts['no_scout']} studies without a TI scout; wrote {args.csv}")
    return 0


def run(args: argparse.Namespace) -> int:
    from CardiacLGECommonLib.core.files import check_writable, write_json_atomically
    from TINullCorrectionLib.core.presentation import study_report_text
    from TINullCorrectionLib.networks.ti_offset import load_model

    check_arguments(args)
    for output in (args.json, args.csv):
        if output is not None:
            check_writable(output)
    settings_from_args(args)  # bad settings fail before the models load
    if args.mosaic or args.single_frame:
        return _run_photo(args)
    if args.batch is not None:
        return _run_batch(load_model(args.model), args, load_myocardium_model(args))
    loaded = load_inputs_with_report(args)  # bad inputs fail before the models load
    if args.roi_mask is not None:
        for scout in loaded.scouts:
            read_mask(args.roi_mask, scout.frames.shape[1:])
    model = load_model(args.model)
    myocardium_model = load_myocardium_model(args)
    result = analyse(model, list(loaded.scouts), args, pictures=inputs_are_pictures(list(args.inputs)),
                     myocardium_model=myocardium_model, skipped=loaded.skipped)
    print(study_report_text(result, frames=not args.quiet))
    if args.json:
        write_json_atomically(args.json, result.to_dict())
        print(f"\nwrote {args.json}")
    return 0


def _run_photo(args: argparse.Namespace) -> int:
    """--mosaic / --single-frame: one picture taken at the console (cardiac_lge.phone, shared with the web page)."""
    from CardiacLGECommonLib.core.files import check_writable, write_json_atomically

    from cardiac_lge.phone import (
        PhoneModels,
        analyse_mosaic_bytes,
        analyse_single_frame_bytes,
        require_phone_profile,
    )

    if args.mosaic and args.single_frame:
        raise ValueError("Choose one of --mosaic and --single-frame.")
    if args.mosaic:
        require_phone_profile("mosaic")
    if len(args.inputs) != 1 or not args.inputs[0].is_file():
        raise ValueError("Give exactly one picture file with --mosaic / --single-frame.")
    for output in (args.json, args.annotated):
        if output is not None:
            check_writable(output)
    models = PhoneModels(ti_model_path=args.model, myocardium_model_path=args.myocardium_model,
                         single_frame_model_path=args.single_frame_model, use_ocr=not args.no_ocr)
    data = args.inputs[0].read_bytes()
    settings = settings_from_args(args)
    if args.single_frame:
        if args.ti_ms is None or len(args.ti_ms) != 1:
            raise ValueError("--single-frame needs the frame's TI: --ti-ms <one value>.")
        answer = analyse_single_frame_bytes(data, args.ti_ms[0], models, settings, chosen_ti_ms=args.chosen_ti)
    else:
        answer = analyse_mosaic_bytes(data, models, settings, ti_ms=args.ti_ms, first_ti_ms=args.first_ti_ms,
                                      spacing_ms=args.spacing_ms, chosen_ti_ms=args.chosen_ti, field_of_view_mm=args.field_of_view_mm)
    print(answer.report)
    if args.json:
        write_json_atomically(args.json, answer.result)
        print(f"\nwrote {args.json}")
    if args.annotated:
        from CardiacLGECommonLib.core.files import write_atomically

        write_atomically(args.annotated, lambda temporary: temporary.write_bytes(answer.annotated_jpeg))
        print(f"wrote {args.annotated}")
    return 0
