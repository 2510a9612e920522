"""``cardiac-lge simulate``: write simulated TI scouts as DICOM series with their true null TI.

OUT_DIR/series_001/IM_0001.dcm ... one DICOM series per simulated scout (vendor's TI field), plus
OUT_DIR/labels.csv (columns ``series_dir,null_ti_ms``; series_dir relative to OUT_DIR) — the labelled
folder format that ``cardiac-lge train`` / ``evaluate`` read — and OUT_DIR/parameters.json (every drawn
simulation parameter per series, for debugging). Series i is drawn from the seed sequence
``(seed, i)``: the same seed gives the same series whatever ``--n-series`` is.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="write simulated TI scouts (DICOM) with their true myocardial null TI (labels.csv)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="folder to write the series into")
    parser.add_argument("--n-series", type=int, default=10, help="number of series (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--field-strength", type=float, choices=(1.5, 3.0), default=None,
                        help="field strength in T (default: drawn, 1.5 or 3)")
    parser.add_argument("--vendor", choices=("siemens", "philips", "ge"), default="siemens",
                        help="DICOM layout: Siemens/GE InversionTime, Philips TriggerTime (default siemens)")
    parser.add_argument("--phase-sensitive", action="store_true",
                        help="phase-sensitive (signed) reconstructions instead of magnitude")
    parser.add_argument("--photo", choices=("4k", "3mp"), default=None,
                        help="degrade every series as a smartphone photo of a 4K or 3 MP monitor")
    parser.add_argument("--matrix", type=int, default=None, help="image matrix (default: drawn, 128-256)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing labels.csv in OUT_DIR")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import io

    import numpy as np
    from CardiacLGECommonLib.core.files import write_json_atomically, write_text_atomically
    from pydicom.uid import generate_uid
    from TINullCorrectionLib.sim.dicom_writer import write_scout_dicom
    from TINullCorrectionLib.sim.simulator import MAX_MATRIX, simulate_scout

    from cardiac_lge.commands._outputs import check_output_folder, check_outputs

    if args.n_series < 1:
        raise ValueError(f"--n-series must be at least 1; got {args.n_series}.")
    if args.matrix is not None and not 16 <= args.matrix <= MAX_MATRIX:
        raise ValueError(f"--matrix must be 16-{MAX_MATRIX} pixels (TI scouts are 128-256); got {args.matrix}.")
    out_dir: Path = args.out_dir
    labels_path = out_dir / "labels.csv"
    if labels_path.exists() and not args.overwrite:
        raise ValueError(f"{labels_path} exists; use another OUT_DIR or --overwrite.")
    check_output_folder(out_dir)  # before the first series is simulated
    check_outputs(labels_path, out_dir / "parameters.json")
    overrides: dict = {"phase_sensitive": bool(args.phase_sensitive)}
    if args.field_strength is not None:
        overrides["field_strength_t"] = float(args.field_strength)
    if args.matrix is not None:
        overrides["matrix"] = int(args.matrix)
    run_key = f"{args.seed}-{args.vendor}-{args.field_strength}-{args.phase_sensitive}-{args.photo}-{args.matrix}"
    study_uid = generate_uid(entropy_srcs=[run_key, "study"])
    rows, parameters = [], {}
    width = max(3, len(str(args.n_series)))
    for index in range(args.n_series):
        rng = np.random.default_rng(np.random.SeedSequence([args.seed, index]))
        simulated = simulate_scout(rng, **overrides)
        if args.photo:
            from TINullCorrectionLib.sim.photo import degrade_scout_as_photo

            simulated = degrade_scout_as_photo(simulated, rng, args.photo)
        name = f"series_{index + 1:0{width}d}"
        write_scout_dicom(
            simulated.scout, out_dir / name, vendor=args.vendor, series_number=index + 1,
            study_uid=study_uid, field_strength_t=simulated.field_strength_t, uid_entropy=f"{run_key}-{index}",
        )
        rows.append((name, f"{simulated.null_ti_ms:.2f}"))
        parameters[name] = {key: value for key, value in simulated.parameters.items() if key != "motion_shift_px"}
        ti = simulated.scout.ti_ms
        print(
            f"[{index + 1}/{args.n_series}] {name}: {simulated.field_strength_t:g} T, "
            f"{'phase-sensitive' if simulated.scout.phase_sensitive else 'magnitude'}, {ti.size} frames "
            f"TI {ti[0]:.0f}-{ti[-1]:.0f} ms, true null {simulated.null_ti_ms:.1f} ms",
            flush=True,
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["series_dir", "null_ti_ms"])
    writer.writerows(rows)
    write_json_atomically(out_dir / "parameters.json", json.loads(json.dumps(parameters, default=str)))
    write_text_atomically(labels_path, buffer.getvalue())  # last: labels.csv marks a complete set
    print(f"wrote {args.n_series} series ({args.vendor} DICOM) and {labels_path}")
    return 0
