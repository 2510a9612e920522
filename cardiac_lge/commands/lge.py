"""``cardiac-lge lge``: LGE % of the LV, per slice and per AHA segment, with transmurality and a bullseye.

Inputs as people have them, without rewriting files:
  --image   a volume file (NRRD, NIfTI, MetaImage), a DICOM series folder, a folder of slice pictures
            (PNG/TIFF/JPEG) or a quoted glob pattern of slice files ("images/Case_P001_slice*.png");
            slice files are ordered by a natural sort of their names.
  --labels  a label map in the same form (same grid); --myocardium-labels names the labels whose union
            is the LV myocardium (e.g. 2,3,4 or 2-4 for EMIDEC: 2 normal myocardium, 3 infarct, 4 MVO).
            --remote-labels optionally names a remote (normal) myocardium label for the reference.
Spacing comes from the file (DICOM/NRRD/NIfTI); pictures carry none: give --spacing-mm si,sj,sk
(slice distance = thickness + gap) or pixel,slice. Picture stacks get the standard short-axis geometry
(columns to the patient's left, rows to posterior: RV on the image's left).

The AHA 16/17-segment model needs the anterior RV insertion point: --rv-insertion X,Y,Z in RAS mm
(Slicer's coordinates), --rv-insertion-ijk I,J,K in voxel indices (column, row, slice; 0-based), or
--rv-insertion-file with a Slicer markups point (.mrk.json). Without it, only the LGE % and the per-slice
table are computed. --inferior-rv-insertion(-ijk) optionally fixes the septal side.

Outputs in --out (each written atomically): lge_summary.json, lge_slices.csv, lge_segments.csv,
lge_bullseye.png, lge_transmurality_bullseye.png, lge_mask.nrrd, lge_remote_mask.nrrd (where the
remote reference was taken) and lge_aha_segments.nrrd. No patient names, IDs or file names are written.
"""

from __future__ import annotations

import argparse

import numpy as np


def register(subparsers: argparse._SubParsersAction) -> None:
    from LGEResolutionQALib.core.lge_segmentation import DEFAULT_METHOD, METHODS

    parser = subparsers.add_parser("lge", help="LGE %% of LV per slice and per AHA segment (transmurality, bullseye)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", required=True, metavar="SPEC", help="LGE stack: volume file, DICOM folder, "
                        "folder of slice pictures or a quoted glob of slice files")
    parser.add_argument("--labels", required=True, metavar="SPEC", help="label map (same forms, same grid)")
    parser.add_argument("--myocardium-labels", metavar="LIST",
                        help="labels whose union is the LV myocardium, e.g. 2,3,4 (default: the only non-zero label)")
    parser.add_argument("--remote-labels", metavar="LIST", help="label(s) of a remote (normal) myocardium ROI; "
                        "default: automatic remote per slice")
    parser.add_argument("--reference-labels", metavar="LIST",
                        help="label(s) of a reference LGE (e.g. an expert's 3,4): prints and stores Δ %% and Dice")
    parser.add_argument("--spacing-mm", metavar="SI,SJ,SK", help="spacing of picture stacks (mm): si,sj,sk or "
                        "pixel,slice (files with their own spacing keep it)")
    parser.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD,
                        help=f"threshold method, per slice (default {DEFAULT_METHOD}: chosen on real infarcts, see README)")
    parser.add_argument("--n-sd", type=float, default=None, help="n of the n-SD method (--method nsd only; default 5)")
    parser.add_argument("--pool-fraction", type=float, default=None,
                        help="gmm-pool only: threshold this fraction of the way from normal myocardium to the blood pool "
                             "(default: the benchmark's choice, README)")
    parser.add_argument("--peak-fraction", type=float, default=None,
                        help="gmm-pool only: threshold at least this fraction of the slice's peak myocardial enhancement "
                             "above normal; 0 switches the peak term off (default: the benchmark's choice, README)")
    parser.add_argument("--min-island-ml", type=float, default=0.0, help="remove LGE islands smaller than this (mL)")
    parser.add_argument("--include-mvo", action="store_true", help="count dark cores enclosed by LGE (MVO) as LGE")
    point = parser.add_mutually_exclusive_group()
    point.add_argument("--rv-insertion", metavar="X,Y,Z", help="anterior RV insertion point, RAS mm")
    point.add_argument("--rv-insertion-ijk", metavar="I,J,K", help="anterior RV insertion point, voxel indices "
                       "(column, row, slice; 0-based)")
    point.add_argument("--rv-insertion-file", metavar="MRK_JSON", help="anterior RV insertion point: first point of "
                       "a Slicer markups file")
    inferior = parser.add_mutually_exclusive_group()
    inferior.add_argument("--inferior-rv-insertion", metavar="X,Y,Z", help="inferior RV insertion point, RAS mm")
    inferior.add_argument("--inferior-rv-insertion-ijk", metavar="I,J,K", help="inferior RV insertion point, voxels")
    parser.add_argument("--aha-model", type=int, choices=(16, 17), default=17)
    parser.add_argument("--base-end", choices=("auto", "first", "last"), default="auto",
                        help="which end of the stack is the base (default: the end with the larger cavity)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--no-figures", action="store_true", help="no bullseye PNGs")
    parser.add_argument("--no-masks", action="store_true", help="no NRRD masks")
    parser.set_defaults(func=run)


def _point(args, ras_name: str, ijk_name: str, matrix, file_name: str | None = None):
    from LGEResolutionQALib.io import lge_inputs as li

    if getattr(args, ras_name, None):
        return np.asarray(li.parse_point(getattr(args, ras_name)))
    if getattr(args, ijk_name, None):
        return li.point_to_ras(li.parse_point(getattr(args, ijk_name)), matrix)
    if file_name and getattr(args, file_name, None):
        return li.read_markups_point(getattr(args, file_name))
    return None


def _myocardium_labels(args, labels: np.ndarray):
    from LGEResolutionQALib.io.lge_inputs import parse_labels

    if args.myocardium_labels:
        return parse_labels(args.myocardium_labels)
    present = [int(v) for v in np.unique(labels) if v != 0]
    if len(present) == 1:
        return tuple(present)
    shown = ", ".join(map(str, present[:12])) + (f" and {len(present) - 12} more" if len(present) > 12 else "")
    raise ValueError(f"The label map holds labels {shown}: say which form the myocardium with --myocardium-labels "
                     "(e.g. 2,3,4).")


def run(args: argparse.Namespace) -> int:
    from CardiacLGECommonLib.core.files import check_output_folder
    from LGEResolutionQALib.core.lge_quantification import LGEQuantSettings, quantify_lge
    from LGEResolutionQALib.io import lge_inputs as li
    from LGEResolutionQALib.study.lge_outputs import write_lge_outputs

    check_output_folder(args.out)  # before any work: a file or an unwritable folder in its place is refused now
    if args.n_sd is not None and args.method != "nsd":
        raise ValueError(f"--n-sd applies to --method nsd only (the method is {args.method}).")
    if args.pool_fraction is not None and args.method != "gmm-pool":
        raise ValueError(f"--pool-fraction applies to --method gmm-pool only (the method is {args.method}).")
    if args.peak_fraction is not None and args.method != "gmm-pool":
        raise ValueError(f"--peak-fraction applies to --method gmm-pool only (the method is {args.method}).")
    spacing = li.parse_spacing(args.spacing_mm) if args.spacing_mm else None
    image = li.read_stack(args.image, spacing)
    labels = li.read_labels(args.labels, image)
    myo_labels = _myocardium_labels(args, labels.array)
    myocardium = li.mask_of_labels(labels.array, myo_labels, "myocardium")
    remote = None
    if args.remote_labels:
        remote = li.mask_of_labels(labels.array, li.parse_labels(args.remote_labels), "remote")
    anterior = _point(args, "rv_insertion", "rv_insertion_ijk", image.ijk_to_ras, "rv_insertion_file")
    inferior = _point(args, "inferior_rv_insertion", "inferior_rv_insertion_ijk", image.ijk_to_ras)
    if inferior is not None and anterior is None:
        raise ValueError("--inferior-rv-insertion needs the anterior RV insertion point too (--rv-insertion...).")
    settings = LGEQuantSettings(method=args.method, n_sd=5.0 if args.n_sd is None else args.n_sd, min_island_ml=args.min_island_ml,
                                include_mvo=args.include_mvo, aha_model=args.aha_model, base_end=args.base_end,
                                rv_insertion_ras=anterior, inferior_rv_insertion_ras=inferior,
                                **({} if args.pool_fraction is None else {"pool_fraction": args.pool_fraction}),
                                **({} if args.peak_fraction is None else {"peak_fraction": args.peak_fraction}))
    result = quantify_lge(image.array.astype(np.float32), image.ijk_to_ras, myocardium, settings, remote_mask=remote)
    extra = {"inputs": {"shape_kji": list(image.array.shape), "spacing_source": image.spacing_source,
                        "myocardium_labels": list(myo_labels),
                        "remote_labels": list(li.parse_labels(args.remote_labels)) if args.remote_labels else None}}
    if args.reference_labels:
        reference_labels = li.parse_labels(args.reference_labels)
        reference = np.isin(labels.array, reference_labels) & myocardium
        reference_percent = 100.0 * reference.sum() / myocardium.sum()
        total = reference.sum() + result.lge.scar_mask.sum()
        extra["reference"] = {"labels": list(reference_labels), "lge_percent_of_lv": float(reference_percent),
                              "delta_percent_points": float(result.lge.lge_percent_of_lv - reference_percent),
                              "dice": float(2.0 * (reference & result.lge.scar_mask).sum() / total) if total else 1.0}
    paths = write_lge_outputs(result, args.out, figures=not args.no_figures, masks=not args.no_masks, extra=extra)
    _print(result, extra, paths, image.warnings + labels.warnings)
    return 0


def _print(result, extra, paths, input_warnings) -> None:
    lge = result.lge
    print(f"LGE {lge.lge_percent_of_lv:.1f}% of LV ({lge.lge_ml:.2f} mL of {lge.myocardium_ml:.2f} mL), method "
          f"{lge.method}, remote {lge.remote_source}")
    if "reference" in extra:
        ref = extra["reference"]
        print(f"reference {ref['lge_percent_of_lv']:.1f}%: Δ {ref['delta_percent_points']:+.1f} points, "
              f"Dice {ref['dice']:.2f}")
    print(f"{'slice':>5} {'LGE %':>7} {'LGE mL':>7} {'threshold':>10} {'remote':>14} {'from':>5}  status")
    for row in lge.per_slice:
        threshold = "" if row.threshold_au is None else f"{row.threshold_au:.4g}"
        print(f"{row.slice_index:>5} {row.lge_percent:>7.1f} {row.lge_ml:>7.2f} {threshold:>10} "
              f"{row.remote_mean_au:>7.4g}±{row.remote_sd_au:<6.3g} {row.remote_slice_index:>5}  {row.status}")
    if result.aha is not None:
        print(f"AHA {result.aha.model} segments (base at the {result.aha.base_end} slice; septal side from "
              f"{result.aha.rotation_source}):")
        for s in result.aha.segments:
            lge_text = "" if s.lge_percent is None else f"{s.lge_percent:5.1f}%"
            trans = "" if s.transmurality_percent is None else f"{s.transmurality_percent:5.1f}% ({s.transmurality_class})"
            print(f"  {s.segment:>2} {s.name:<22} LGE {lge_text:>7}  transmurality {trans}")
    else:
        print("No AHA segments: give the anterior RV insertion point (--rv-insertion / -ijk / -file).")
    for warning in (*input_warnings, *result.warnings):
        print(f"warning: {warning}")
    for role, path in paths.items():
        print(f"wrote {role}: {path}")
