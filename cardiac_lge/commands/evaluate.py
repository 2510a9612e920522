"""``cardiac-lge evaluate``: accuracy of a TI-offset model in the layout of the published table.

On a held-out simulated set (seeds not used in training) or on a site's labelled DICOM series
(CSV series_dir,null_ti_ms). Optionally with operator-chosen TIs (CSV series_dir,chosen_ti_ms, or
simulated around the true null) to report "before -> after" correction.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from TINullCorrectionLib.core.types import DEFAULT_OPTIMAL_RANGE_MS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="accuracy table of a TI-offset model (simulated or labelled DICOM)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="model file (default: the shipped weights)")
    parser.add_argument("--myocardium-model", type=Path, default=None,
                        help="myocardium U-Net for the automatic inversion-recovery cross-check (default: the shipped weights)")
    parser.add_argument("--cnn-only", action="store_true", help="evaluate the CNN alone (no automatic cross-check)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--simulated", type=int, metavar="N", help="evaluate on N freshly simulated series")
    source.add_argument("--dicom-dir", type=Path, help="folder of labelled TI scout series (with --labels)")
    parser.add_argument("--labels", type=Path, help="CSV series_dir,null_ti_ms for --dicom-dir")
    parser.add_argument("--seed", type=int, default=777001, help="seed of the simulated test set (default 777001, not a training seed)")
    parser.add_argument("--photo", choices=("4k", "3mp"), help="degrade every simulated series as a phone photo of this monitor")
    parser.add_argument("--optimal-range", type=float, nargs=2, default=DEFAULT_OPTIMAL_RANGE_MS, metavar=("LOW", "HIGH"),
                        help="optimal range around the null in ms (default -10 20)")
    parser.add_argument("--near-ms", type=float, default=60.0, help="frames within this many ms of the null are scored (default 60)")
    parser.add_argument("--chosen-ti-csv", type=Path, help="CSV series_dir,chosen_ti_ms of operator-chosen TIs (DICOM mode)")
    parser.add_argument("--json", type=Path, help="also write the result as JSON")
    parser.set_defaults(func=run)


def _simulated_cases(n: int, seed: int, photo: str | None):
    import numpy as np
    from TINullCorrectionLib.sim.simulator import simulate_scout

    rng = np.random.default_rng(seed)
    for _ in range(n):
        simulated = simulate_scout(rng)
        if photo is not None:
            from TINullCorrectionLib.sim.photo import degrade_scout_as_photo

            simulated = degrade_scout_as_photo(simulated, rng, monitor=photo)
        yield simulated.scout, simulated.null_ti_ms


def _read_csv(path: Path, value_column: str, plausible_ms: tuple[float, float]) -> dict[str, float]:
    """{series_dir: value} from a CSV with the columns series_dir,<value_column>; every value a number of ms in
    ``plausible_ms`` (docs/METHODS.md §1.7), else a ValueError naming the file and line."""
    import csv
    import math

    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"Cannot read {path}: {error}") from error
    if not rows or not {"series_dir", value_column} <= set(rows[0]):
        raise ValueError(f"{path} needs the columns series_dir,{value_column}.")
    values: dict[str, float] = {}
    low, high = plausible_ms
    for line, row in enumerate(rows, start=2):
        name = (row.get("series_dir") or "").strip()
        text = (row.get(value_column) or "").strip()
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not name:
            raise ValueError(f"{path} line {line}: no series_dir.")
        if not (math.isfinite(value) and low < value <= high):
            raise ValueError(f"{path} line {line} ({name}): {value_column} {text!r} is not a TI in ({low:g}, {high:g}] ms "
                             "(docs/METHODS.md §1.7).")
        if name in values:
            raise ValueError(f"{path} line {line}: {name} is listed twice.")
        values[name] = value
    return values


def run(args: argparse.Namespace) -> int:
    from CardiacLGECommonLib.core.files import check_writable, write_json_atomically
    from TINullCorrectionLib.core.recommendation import PLAUSIBLE_CHOSEN_TI_MS, RecommendationSettings
    from TINullCorrectionLib.core.types import PLAUSIBLE_TI_MS
    from TINullCorrectionLib.io.dicom import load_ti_scouts
    from TINullCorrectionLib.networks.ti_offset import load_model
    from tqdm import tqdm

    from cardiac_lge.training.evaluation import evaluate, format_table, simulated_operator_choices

    if args.simulated is not None:
        if args.chosen_ti_csv is not None or args.labels is not None:
            raise ValueError("--chosen-ti-csv and --labels apply to --dicom-dir; with --simulated the true nulls and the "
                             "operators' TIs are simulated.")
        if args.simulated < 1:
            raise ValueError(f"--simulated needs at least 1 series; got {args.simulated}.")
    elif args.photo is not None:
        raise ValueError("--photo degrades simulated series; it does not apply to --dicom-dir.")
    if args.json is not None:
        check_writable(args.json)
    settings = RecommendationSettings(optimal_range_ms=tuple(args.optimal_range))
    if not 0 < args.near_ms <= 1000:
        raise ValueError(f"--near-ms must be in (0, 1000] ms; got {args.near_ms:g}.")
    model = load_model(args.model)
    myocardium_model = None
    if not args.cnn_only:
        from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model

        myocardium_model = load_segmentation_model(args.myocardium_model)
    if args.simulated is not None:
        cases = list(tqdm(_simulated_cases(args.simulated, args.seed, args.photo), total=args.simulated, desc="simulating"))
        chosen = simulated_operator_choices([null for _, null in cases], args.seed + 1)
        title = f"{model.name} on {args.simulated} simulated series (seed {args.seed}{', photo ' + args.photo if args.photo else ''})"
    else:
        if args.labels is None:
            raise ValueError("--dicom-dir needs --labels (CSV series_dir,null_ti_ms).")
        labels = _read_csv(args.labels, "null_ti_ms", PLAUSIBLE_TI_MS)
        chosen_by_series = _read_csv(args.chosen_ti_csv, "chosen_ti_ms", PLAUSIBLE_CHOSEN_TI_MS) if args.chosen_ti_csv else None
        if chosen_by_series is not None:
            missing = [name for name in labels if name not in chosen_by_series]
            if missing:
                raise ValueError(f"{args.chosen_ti_csv} has no chosen_ti_ms for {len(missing)} labelled series: "
                                 f"{', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else "") + ".")
        cases, chosen = [], [] if chosen_by_series else None
        for series_dir, null in tqdm(labels.items(), desc="loading"):
            for scout in load_ti_scouts([args.dicom_dir / series_dir]):
                cases.append((scout, null))
                if chosen is not None:
                    chosen.append(chosen_by_series[series_dir])
        title = f"{model.name} on {len(cases)} labelled series from {args.dicom_dir}"
    with tqdm(total=len(cases), desc="evaluating") as bar:
        result = evaluate(model, cases, settings, args.near_ms, chosen, progress=lambda _: bar.update(1),
                          myocardium_model=myocardium_model)
    print(format_table(result, title))
    if args.json:
        write_json_atomically(args.json, result.to_dict())
    return 0
