"""``cardiac-lge ti-correct``: per-frame offsets from the myocardial null and the TI to use for LGE.

Inputs: a DICOM folder or files (any vendor; several slices give one result per slice and a combined
one), pictures of the scanner monitor (PNG/JPEG, with --ti-ms or --ti-csv), or one NRRD/NIfTI file.
--batch DIR runs every sub-folder of DIR as one study and writes one CSV row per series slice.
No patient names or IDs are printed or written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
VOLUME_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")
PICTURE_WARNING = (
    "Pictures of the monitor: accuracy is lower than on DICOM (measured on simulated 4K-monitor photos: "
    "84% of frames corrected into the optimal range with the automatic myocardium, 55% by the CNN alone; "
    "photos of phase-sensitive scouts are the weakest, see the model card); check the frames by eye."
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ti-correct", help="predict per-frame TI offsets and recommend the LGE TI",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="*", type=Path, help="DICOM folder/files, pictures, or one NRRD/NIfTI file")
    parser.add_argument("--model", type=Path, default=None, help="model file (default: the shipped weights)")
    parser.add_argument("--ti-ms", type=float, nargs="+", help="TIs (ms) of the pictures / volume frames, in file order")
    parser.add_argument("--ti-csv", type=Path, help="CSV with the TIs of the pictures (ti_ms column or file,ti_ms)")
    parser.add_argument("--pixel-spacing-mm", type=float, default=1.5, help="pixel size of pictures (default 1.5 mm)")
    parser.add_argument("--chosen-ti", type=float, help="the LGE TI (ms) you intend to use: is it optimal, and what to use instead")
    parser.add_argument("--roi-mask", type=Path, help="myocardium mask (NRRD/NIfTI, same rows x columns as the frames) for the physics cross-check")
    parser.add_argument("--myocardium-model", type=Path, default=None,
                        help="U-Net that finds the myocardium for the automatic physics cross-check when no --roi-mask "
                             "is given (default: the shipped weights)")
    parser.add_argument("--no-auto-myocardium", action="store_true",
                        help="CNN only when no --roi-mask is given (no automatic inversion-recovery cross-check)")
    parser.add_argument("--optimal-range", type=float, nargs=2, default=(-10.0, 20.0), metavar=("LOW", "HIGH"),
                        help="optimal range around the null in ms (default -10 20)")
    parser.add_argument("--lge-offset-ms", type=float, default=0.0, help="added to the scout null for the LGE sequence (default 0)")
    parser.add_argument("--drift-ms-per-min", type=float, default=0.0, help="gadolinium wash-out drift of the null (ms/min, default 0)")
    parser.add_argument("--minutes-since-scout", type=float, default=0.0, help="minutes between the scout and the LGE acquisition")
    parser.add_argument("--json", type=Path, help="write the results as JSON (units in key names)")
    parser.add_argument("--batch", type=Path, help="run every sub-folder of this folder as one study")
    parser.add_argument("--csv", type=Path, help="with --batch: CSV with one row per series slice")
    parser.add_argument("--quiet", action="store_true", help="do not print the per-frame tables")
    parser.set_defaults(func=run)


def load_inputs(args: argparse.Namespace) -> list:
    """TIScouts from the command-line inputs (raises ScoutError / ValueError with a clear message)."""
    from TINullCorrectionLib.io.dicom import load_ti_scouts
    from TINullCorrectionLib.io.images import load_scout_from_images, load_scout_from_volume_file, read_ti_csv

    inputs = list(args.inputs)
    if not inputs:
        raise ValueError("Give a DICOM folder/files, pictures with --ti-ms/--ti-csv, or a NRRD/NIfTI file.")
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise FileNotFoundError(f"Not found: {', '.join(missing)}")
    ti_ms = args.ti_ms if args.ti_ms is not None else (read_ti_csv(args.ti_csv) if args.ti_csv else None)
    if all(p.is_file() and p.suffix.lower() in PICTURE_SUFFIXES for p in inputs):
        if ti_ms is None:
            raise ValueError("Pictures carry no TI: give --ti-ms or --ti-csv.")
        spacing = (args.pixel_spacing_mm, args.pixel_spacing_mm)
        return [load_scout_from_images(inputs, ti_ms, pixel_spacing_mm=spacing)]
    if len(inputs) == 1 and inputs[0].is_file() and inputs[0].name.lower().endswith(VOLUME_SUFFIXES):
        return [load_scout_from_volume_file(inputs[0], ti_ms)]
    return load_ti_scouts(inputs)


def _read_mask(path: Path, shape: tuple[int, int]):
    import numpy as np
    import SimpleITK as sitk

    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
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


def analyse(model, scouts: list, args: argparse.Namespace, pictures: bool = False, myocardium_model=None) -> dict:
    """Recommendation per slice and, for several slices, a combined one (inverse-variance weighted)."""
    import numpy as np
    from TINullCorrectionLib.core.recommendation import RecommendationSettings, assess_chosen_ti, recommend

    settings = RecommendationSettings(optimal_range_ms=tuple(args.optimal_range), lge_offset_ms=args.lge_offset_ms,
                                      drift_ms_per_min=args.drift_ms_per_min, minutes_since_scout=args.minutes_since_scout)
    slices = []
    for scout in scouts:
        mask = _read_mask(args.roi_mask, scout.frames.shape[1:]) if args.roi_mask else None
        recommendation = recommend(scout, model.predict(scout), settings, myocardium_mask=mask, chosen_ti_ms=args.chosen_ti,
                                   myocardium_model=myocardium_model)
        entry = {"slice": scout.slice_label or "slice", "ti_source": scout.ti_source, "vendor": scout.vendor,
                 "n_frames": scout.n_frames, **recommendation.to_dict()}
        if pictures:
            entry["warnings"].append(PICTURE_WARNING)
        slices.append(entry)
    result = {"model": model.name, "myocardium_model": myocardium_model.name if myocardium_model is not None else None,
              "slices": slices}
    if len(slices) > 1:
        nulls = np.array([s["null_ti_ms"] for s in slices])
        weights = 1.0 / np.maximum(np.array([s["null_uncertainty_ms"] for s in slices]), 1.0) ** 2
        null = float(np.dot(weights, nulls) / weights.sum())
        combined = {"null_ti_ms": null, "null_uncertainty_ms": float(1 / np.sqrt(weights.sum())),
                    "slice_spread_ms": float(nulls.max() - nulls.min()),
                    "recommended_lge_ti_ms": null + settings.target_ms + settings.lge_shift_ms}
        if args.chosen_ti is not None:
            from dataclasses import asdict

            combined["chosen"] = asdict(assess_chosen_ti(args.chosen_ti, null, settings))
        result["combined"] = combined
    return result


def _print_result(result: dict, quiet: bool) -> None:
    for entry in result["slices"]:
        print(f"\n== {entry['slice']} ({entry['n_frames']} frames, TI from {entry['ti_source']})")
        if not quiet:
            print(f"{'frame':>5s} {'TI ms':>8s} {'offset ms':>10s} {'corrected TI ms':>16s} {'confidence':>10s}  optimal")
            for row in entry["frames"]:
                offset, corrected = f"{row['predicted_offset_ms']:+10.1f}", f"{row['corrected_ti_ms']:16.1f}"
                if row["offset_beyond_range"]:  # a tail class: only a bound is known
                    bound = row["offset_bound_ms"]
                    later = bound > 0
                    offset = f"{'>' if later else '<'} {bound:+.0f}".rjust(10)
                    corrected = f"{'<' if later else '>'} {row['ti_ms'] - bound:.0f}".rjust(16)
                print(f"{row['frame']:5d} {row['ti_ms']:8.1f} {offset} {corrected} "
                      f"{100 * row['confidence']:9.0f}%  {'yes' if row['in_optimal_range'] else ''}")
        print(f"null TI {entry['null_ti_ms']:.0f} +/- {entry['null_uncertainty_ms']:.0f} ms ({entry['method']}); "
              f"recommended LGE TI {entry['recommended_lge_ti_ms']:.0f} ms "
              f"(optimal range null {entry['optimal_range_ms'][0]:+g}..{entry['optimal_range_ms'][1]:+g} ms)")
        if "ir_fit" in entry and entry["ir_fit"]["null_ti_ms"] is not None:
            fit = entry["ir_fit"]
            print(f"inversion-recovery fit of the {fit['myocardium_source']} ({fit['myocardium_pixels']} pixels): "
                  f"null {fit['null_ti_ms']:.0f} ms, R^2 {fit['r_squared']:.3f}")
        if "chosen" in entry:
            chosen = entry["chosen"]
            advice = "keep it" if chosen["in_optimal_range"] else f"change to {chosen['change_to_ms']:.0f} ms ({chosen['change_by_ms']:+.0f} ms)"
            print(f"your TI {chosen['chosen_ti_ms']:.0f} ms: {chosen['verdict']} ({chosen['offset_from_null_ms']:+.0f} ms from the null): {advice}")
        for warning in entry["warnings"]:
            print(f"WARNING: {warning}")
    if "combined" in result:
        combined = result["combined"]
        print(f"\n== all {len(result['slices'])} slices: null TI {combined['null_ti_ms']:.0f} +/- {combined['null_uncertainty_ms']:.0f} ms "
              f"(slices differ by up to {combined['slice_spread_ms']:.0f} ms); recommended LGE TI {combined['recommended_lge_ti_ms']:.0f} ms")


def _run_batch(model, args: argparse.Namespace, myocardium_model=None) -> int:
    import csv

    from TINullCorrectionLib.core.types import ScoutError
    from TINullCorrectionLib.io.dicom import examine_dicom_files, load_scout_from_files
    from tqdm import tqdm

    studies = sorted(p for p in args.batch.iterdir() if p.is_dir())
    if not studies:
        raise ValueError(f"No study folders in {args.batch}.")
    if args.csv is None:
        raise ValueError("--batch needs --csv for its results.")
    fields = ["study", "slice", "n_frames", "ti_source", "null_ti_ms", "null_uncertainty_ms", "method", "recommended_lge_ti_ms", "warnings", "error"]
    n_rows = 0
    with open(args.csv, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for study in tqdm(studies, desc="studies", unit="study"):
            candidates = examine_dicom_files([study])
            if not candidates:
                writer.writerow({"study": study.name, "error": "no TI scout found"})
                continue
            for candidate in candidates:
                try:
                    entry = analyse(model, [load_scout_from_files(candidate.files)], args, myocardium_model=myocardium_model)["slices"][0]
                except (ScoutError, ValueError) as error:
                    writer.writerow({"study": study.name, "slice": candidate.slice_index, "error": str(error)})
                    continue
                writer.writerow({"study": study.name, "slice": entry["slice"], "n_frames": entry["n_frames"], "ti_source": entry["ti_source"],
                                 "null_ti_ms": f"{entry['null_ti_ms']:.1f}", "null_uncertainty_ms": f"{entry['null_uncertainty_ms']:.1f}",
                                 "method": entry["method"], "recommended_lge_ti_ms": f"{entry['recommended_lge_ti_ms']:.1f}",
                                 "warnings": " | ".join(entry["warnings"]), "error": ""})
                n_rows += 1
    print(f"wrote {n_rows} series rows for {len(studies)} studies to {args.csv}")
    return 0


def run(args: argparse.Namespace) -> int:
    import json

    from TINullCorrectionLib.networks.ti_offset import load_model

    model = load_model(args.model)
    myocardium_model = load_myocardium_model(args)
    if args.batch is not None:
        return _run_batch(model, args, myocardium_model)
    pictures = bool(args.inputs) and all(p.suffix.lower() in PICTURE_SUFFIXES for p in args.inputs)
    result = analyse(model, load_inputs(args), args, pictures=pictures, myocardium_model=myocardium_model)
    _print_result(result, args.quiet)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
        print(f"\nwrote {args.json}")
    return 0
