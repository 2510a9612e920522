"""``cardiac-lge qa`` and ``cardiac-lge qa-demo``: the NR vs HR LGE image-quality study report, headless.

``qa`` reads two or more volumes of one study (DICOM series folders, NRRD or NIfTI; registered in
the scanner's patient coordinates), lines and ROIs saved from Slicer as markups JSON (.mrk.json) and
segments from a Slicer segmentation file (.seg.nrrd), runs every metric on every volume and writes
report.csv (metrics side by side), report.json, profiles.png and roi_bar.png to --out.

``qa-demo`` renders the project's simulated septum (blood–septum–blood, septal scar, 2 mm and 1 mm
bar markers) at high (0.625 mm) and normal (1.5 mm) resolution, writes it as NRRD + markups JSON
files in --out/inputs, and runs the same report on them.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

DEMO_ROIS = {  # name -> (centre RAS mm, size mm): regions of the simulated septum scene (phantom.make_septum_pair)
    "blood": ((-14.0, 0.0, 0.0), (8.0, 16.0, 4.0)),
    "remote": ((0.0, 0.0, 0.0), (4.0, 16.0, 4.0)),
    "scar": ((0.0, -25.0, 0.0), (4.0, 14.0, 4.0)),
    "air": ((1.5, 33.0, 0.0), (23.0, 22.0, 4.0)),  # between the two bar groups, above the tissue
}


def _add_analysis_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("analysis settings")
    group.add_argument("--noise", choices=("background", "tissue", "difference", "smoothing"), default=None,
                       help="σ method: background (air ROI, Rayleigh/chi correction), tissue (SD of a uniform tissue "
                            "ROI), difference (NEMA, needs --repeat), smoothing (McCann residual). Default: background "
                            "when an air/background region is given, else tissue.")
    group.add_argument("--channels", type=int, default=1, help="receive channels of a sum-of-squares magnitude image "
                       "(background method; default 1 = Rayleigh SD/0.655)")
    group.add_argument("--step-mm", type=float, default=0.1, help="profile sample step (mm, default 0.1)")
    group.add_argument("--interpolation", choices=("linear", "cubic"), default="linear")
    group.add_argument("--modulation-threshold", type=float, default=0.1,
                       help="bar groups: minimum modulation (peak - dip)/(peak + dip) of every dip to call them resolved")
    from LGEResolutionQALib.core.lge_segmentation import DEFAULT_METHOD, METHODS

    group.add_argument("--lge-method", choices=METHODS, default=DEFAULT_METHOD,
                       help=f"LGE threshold per slice (default {DEFAULT_METHOD}: chosen on real infarcts, README "
                            "'LGE quantification on real infarcts')")
    group.add_argument("--n-sd", type=float, default=None, help="n of the n-SD LGE threshold (--lge-method nsd only; "
                       "default 5)")
    group.add_argument("--min-island-ml", type=float, default=0.0)
    group.add_argument("--include-mvo", action="store_true", help="count dark cores enclosed by LGE as LGE")
    group.add_argument("--rv-insertion", metavar="X,Y,Z", help="anterior RV insertion point (RAS mm): AHA segments, "
                       "transmurality and a bullseye per volume")
    group.add_argument("--rv-insertion-file", metavar="MRK_JSON", help="anterior RV insertion point: first point of a "
                       "Slicer markups file")
    group.add_argument("--aha-model", type=int, choices=(16, 17), default=17)
    group.add_argument("--no-figures", action="store_true", help="write the CSV and JSON only")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "qa", help="LGE image-quality report of several volumes of one study (NR vs HR): profiles, SNR/CNR, LGE %%",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volume", action="append", required=True, metavar="NAME=PATH",
                        help="a volume of the study: DICOM series folder, NRRD or NIfTI (repeat for each volume)")
    parser.add_argument("--repeat", action="append", default=[], metavar="NAME=PATH",
                        help="a repeated acquisition of volume NAME (same grid), for --noise difference")
    parser.add_argument("--line", action="append", default=[], metavar="[NAME=]PATH",
                        help="markups line across the septum (blood-myocardium-blood), .mrk.json")
    parser.add_argument("--edge-line", action="append", default=[], metavar="[NAME=]PATH",
                        help="markups line across a single edge")
    parser.add_argument("--bar-line", action="append", default=[], nargs=3, metavar=("PATH", "COUNT", "PITCH_MM"),
                        help="markups line across a bar group of COUNT bars at PITCH_MM")
    parser.add_argument("--roi", action="append", default=[], metavar="[NAME=]PATH", help="markups ROI (.mrk.json)")
    parser.add_argument("--mtf-roi", action="append", default=[], metavar="[NAME=]PATH",
                        help="markups ROI around a slanted edge (2-45 degrees): edge MTF, MTF50 (lp/mm)")
    parser.add_argument("--segmentation", metavar="PATH", help="Slicer segmentation (.seg.nrrd); every segment is a region")
    for role, text in (("lge", "the LGE (scar) region"), ("remote", "remote (normal) myocardium"),
                       ("blood", "blood pool (scar-blood CNR)"), ("myocardium", "the LV myocardium (LGE segmentation)"),
                       ("noise", "the noise region (default: a region called 'background'/'air', or the remote region)")):
        parser.add_argument(f"--{role}-segment", metavar="NAME", help=f"{text}: a segment name or the NAME of a --roi")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--keep-names", action="store_true",
                        help="name a --volume given without NAME= after its file or folder (default: volume1, volume2, "
                             "...: folder names often hold patient names)")
    _add_analysis_options(parser)
    parser.set_defaults(func=run)

    demo = subparsers.add_parser(
        "qa-demo", help="simulated NR vs HR septum written as NRRD + markups JSON, then the qa report on it",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--out", required=True, metavar="DIR")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--figure", metavar="PNG", help="also copy the profile overlay figure to this path")
    _add_analysis_options(demo)
    demo.set_defaults(func=run_demo)


def _named(text: str, what: str):
    from LGEResolutionQALib.io.definitions import parse_named_path

    name, path = parse_named_path(text)
    if not path:
        raise ValueError(f"{what} '{text}' has no path.")
    return name, Path(path)


def _study(args):
    from LGEResolutionQALib.io import definitions as io
    from LGEResolutionQALib.study.report import LGESettings, NoiseSettings, StudyDefinition

    volumes = []
    repeats = {}
    for text in args.repeat:
        name, path = _named(text, "--repeat")
        if not name:
            raise ValueError("--repeat needs NAME=PATH (NAME of the --volume it repeats).")
        repeats[name] = io.read_volume(path, name).array
    for number, text in enumerate(args.volume, start=1):
        name, path = _named(text, "--volume")
        if not name and not getattr(args, "keep_names", False):
            name = f"volume{number}"  # not the file or folder name: it may be a patient's (--keep-names keeps it)
        volume = io.read_volume(path, name)
        if volume.name in repeats:
            volume = io.StudyVolume(volume.name, volume.array, volume.ijk_to_ras, repeats.pop(volume.name), volume.source)
        volumes.append(volume)
    if repeats:
        raise ValueError(f"--repeat names no --volume: {sorted(repeats)}.")
    lines = []
    for text in args.line:
        name, path = _named(text, "--line")
        lines += io.read_markups_lines(path, name, kind="septum")
    for text in args.edge_line:
        name, path = _named(text, "--edge-line")
        lines += io.read_markups_lines(path, name, kind="edge")
    for path, count, pitch in args.bar_line:
        try:
            count_value, pitch_value = int(count), float(pitch)
        except ValueError as error:
            raise ValueError(f"--bar-line {path} {count} {pitch}: COUNT must be an integer and PITCH_MM a number.") from error
        lines += io.read_markups_lines(path, kind="bars", expected_bars=count_value, pitch_mm=pitch_value)
    regions = {}
    if args.segmentation:
        regions.update(io.read_segmentation(args.segmentation))
    for text in args.roi:
        name, path = _named(text, "--roi")
        for region in io.read_markups_rois(path, name):
            if region.name in regions:
                raise ValueError(f"Two regions are called '{region.name}'; name the ROI with NAME=PATH.")
            regions[region.name] = region
    mtf_rois = {}
    for text in getattr(args, "mtf_roi", []) or []:
        name, path = _named(text, "--mtf-roi")
        for region in io.read_markups_rois(path, name):
            mtf_rois[region.name] = region
    lower = {name.lower() for name in regions}
    method = args.noise or ("background" if lower & {"background", "air"} else "tissue")
    myocardium = getattr(args, "myocardium_segment", None)
    definition = StudyDefinition(
        lines=tuple(lines), regions=regions,
        lge_region=getattr(args, "lge_segment", None), remote_region=getattr(args, "remote_segment", None),
        blood_region=getattr(args, "blood_segment", None), myocardium_region=myocardium,
        noise=NoiseSettings(method=method, region=getattr(args, "noise_segment", None), n_channels=args.channels),
        lge=LGESettings(args.lge_method, _n_sd(args), args.min_island_ml, args.include_mvo, aha_model=args.aha_model,
                        rv_insertion_ras=_rv_point(args)) if myocardium else None,
        step_mm=args.step_mm, interpolation=args.interpolation, modulation_threshold=args.modulation_threshold,
        mtf_rois=mtf_rois)
    return volumes, definition


def _n_sd(args) -> float:
    """--n-sd applies to the n-SD method only: refused with another method rather than silently ignored."""
    if args.n_sd is None:
        return 5.0
    if args.lge_method != "nsd":
        raise ValueError(f"--n-sd applies to --lge-method nsd only (the method is {args.lge_method}).")
    return float(args.n_sd)


def _rv_point(args):
    from LGEResolutionQALib.io import lge_inputs

    if getattr(args, "rv_insertion", None) and getattr(args, "rv_insertion_file", None):
        raise ValueError("Give the RV insertion point as --rv-insertion or --rv-insertion-file, not both.")
    if getattr(args, "rv_insertion", None):
        return lge_inputs.parse_point(args.rv_insertion)
    if getattr(args, "rv_insertion_file", None):
        return tuple(lge_inputs.read_markups_point(args.rv_insertion_file))
    return None


def _print_summary(report, paths) -> None:
    names = report.volume_names
    keep = ("20_80", "thickness", "resolved", "lge_percent_of_lv", "mtf50_lp_per_mm")
    print(f"{'section':<14} {'item':<14} {'metric':<38} " + " ".join(f"{n:>12}" for n in names))
    for row in report.wide_rows():
        metric = row["metric"]
        if row["section"] in ("snr", "cnr") and metric not in ("snr", "cnr"):
            continue
        if row["section"] not in ("snr", "cnr") and not any(k in metric for k in keep):
            continue
        cells = []
        for name in names:
            value = row.get(name)
            cells.append(f"{value:>12.4g}" if isinstance(value, float) else f"{value!s:>12}")
        print(f"{row['section']:<14} {row['item']:<14} {metric:<38} " + " ".join(cells))
    for key, path in paths.items():
        print(f"wrote {key}: {path}")


def run(args: argparse.Namespace) -> int:
    from CardiacLGECommonLib.core.files import check_output_folder
    from LGEResolutionQALib.study.report import study_report

    check_output_folder(args.out)  # before any work: a file or an unwritable folder in its place is refused now
    volumes, definition = _study(args)
    if len(volumes) < 1:
        raise ValueError("Give at least one --volume.")
    report = study_report(volumes, definition)
    paths = report.write(args.out, figures=not args.no_figures)
    _print_summary(report, paths)
    return 0


#: the files of the README's ``qa`` example, written by qa-demo into DIR/inputs (so the example runs as written there)
README_EXAMPLE_FILES = ("nr_series", "hr.nrrd", "septum.mrk.json", "bars_1mm.mrk.json", "air.mrk.json", "study.seg.nrrd")


def _demo_segmentation(pair) -> tuple[list, list]:
    """Layers and segment list of the demo's study.seg.nrrd on the HR grid: layer 0 myocardium (the septum, 1.5 mm
    inside its edges) and blood; layer 1 scar and remote (the DEMO_ROIS boxes of the same names)."""
    import numpy as np

    hr = pair["hr"]
    shape = hr.image.shape
    jj, ii = np.meshgrid(np.arange(shape[1]), np.arange(shape[2]), indexing="ij")
    ras = np.stack([ii, jj, np.zeros_like(ii), np.ones_like(ii)], axis=-1).astype(float) @ hr.ijk_to_ras.T
    x, y = ras[..., 0], ras[..., 1]

    def box(name):
        (cx, cy, _), (sx, sy, _) = DEMO_ROIS[name]
        return (np.abs(x - cx) <= sx / 2.0) & (np.abs(y - cy) <= sy / 2.0)

    myocardium = (np.abs(x) <= pair["septum_thickness_mm"] / 2.0 - 1.5) & (y < 20.0)
    layer0 = np.zeros(shape[1:], np.uint8)
    layer0[myocardium] = 1
    layer0[box("blood")] = 2
    layer1 = np.zeros(shape[1:], np.uint8)
    layer1[box("scar")] = 1
    layer1[box("remote")] = 2
    segments = [("myocardium", 0, 1, (0.85, 0.5, 0.4)), ("blood", 0, 2, (0.8, 0.1, 0.1)),
                ("scar", 1, 1, (1.0, 0.9, 0.1)), ("remote", 1, 2, (0.3, 0.6, 1.0))]
    return [layer0[np.newaxis], layer1[np.newaxis]], segments


def write_demo_inputs(out_dir, seed: int = 0) -> dict:
    """Render the simulated septum pair and write NR/HR NRRD + lines and ROIs as markups JSON (LPS), and the files
    of the README's qa example (README_EXAMPLE_FILES: NR also as a DICOM series, the segmentation); each file is
    written atomically."""
    import numpy as np
    from CardiacLGECommonLib.core.files import make_output_folder
    from LGEResolutionQALib.io import definitions as io
    from LGEResolutionQALib.sim.phantom import make_septum_pair
    from LGEResolutionQALib.study.atomic import atomic_path

    folder = make_output_folder(out_dir)
    pair = make_septum_pair(np.random.default_rng(seed))
    files = {"volumes": {}, "rois": {}, "bar_lines": []}
    for key in ("nr", "hr"):
        path = folder / f"{key}_lge.nrrd"
        with atomic_path(path) as temporary:
            io.write_volume(temporary, pair[key].image, pair[key].ijk_to_ras)
        files["volumes"][key.upper()] = path
    files["septum_line"] = folder / "septum.mrk.json"
    io.write_markups_line(files["septum_line"], "septum", *pair["septum_line_ras"])
    for name, ras in pair["marker_lines_ras"].items():
        path = folder / f"bars_{name}.mrk.json"
        io.write_markups_line(path, f"bars {name}", *ras)
        group = pair["marker_groups"][name]
        files["bar_lines"].append((path, group["count"], group["pitch_mm"]))
    for name, (centre, size) in DEMO_ROIS.items():
        path = folder / f"{name}.mrk.json"
        io.write_markups_roi(path, name, centre, size)
        files["rois"][name] = path
    # the README's qa example: NR as a DICOM series folder, HR as hr.nrrd, the segments in study.seg.nrrd
    series = folder / "nr_series"
    if series.is_dir():
        for old in series.glob("*.dcm"):  # a rerun replaces the demo's own series (never mixes two)
            old.unlink()
    files["nr_series"] = series
    io.write_dicom_series(series, pair["nr"].image, pair["nr"].ijk_to_ras, description="simulated NR LGE", seed=seed)
    with atomic_path(folder / "hr.nrrd") as temporary:
        io.write_volume(temporary, pair["hr"].image, pair["hr"].ijk_to_ras)
    layers, segments = _demo_segmentation(pair)
    files["segmentation"] = io.write_segmentation(folder / "study.seg.nrrd", layers, segments, pair["hr"].ijk_to_ras)
    return files


def run_demo(args: argparse.Namespace) -> int:
    from CardiacLGECommonLib.core.files import check_output_file, check_output_folder, write_atomically

    out = check_output_folder(args.out)
    if args.figure:
        check_output_file(args.figure)
    files = write_demo_inputs(out / "inputs", args.seed)
    args.volume = [f"{name}={path}" for name, path in files["volumes"].items()]
    args.repeat = []
    args.line = [str(files["septum_line"])]
    args.edge_line = []
    args.bar_line = [(str(path), str(count), str(pitch)) for path, count, pitch in files["bar_lines"]]
    args.roi = [f"{name}={path}" for name, path in files["rois"].items()]
    args.mtf_roi = []
    args.segmentation = None
    args.lge_segment, args.remote_segment, args.blood_segment = "scar", "remote", "blood"
    args.myocardium_segment = None
    args.keep_names = False
    args.step_mm = min(args.step_mm, 0.05)
    args.noise_segment = "air" if (args.noise or "background") == "background" else None  # else: the remote ROI
    print(f"Simulated septum (seed {args.seed}) written to {out / 'inputs'}; running the report:")
    print("  cardiac-lge qa " + " ".join([*(f"--volume {v}" for v in args.volume), f"--line {args.line[0]}",
                                          *(f"--bar-line {p} {c} {m}" for p, c, m in args.bar_line),
                                          *(f"--roi {r}" for r in args.roi), "--lge-segment scar --remote-segment remote",
                                          "--blood-segment blood",
                                          *([f"--noise-segment {args.noise_segment}"] if args.noise_segment else []),
                                          *([f"--noise {args.noise}"] if args.noise else []),
                                          f"--step-mm {args.step_mm:g}", f"--out {out}"]))
    args.out = str(out)
    status = run(args)
    print(f"The README's qa example runs as written in {out / 'inputs'} (its files: {', '.join(README_EXAMPLE_FILES)}).")
    if args.figure and (out / "profiles.png").exists():
        Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
        write_atomically(args.figure, lambda tmp: shutil.copyfile(out / "profiles.png", tmp))
        print(f"copied the profile figure to {args.figure}", file=sys.stdout)
    return status
