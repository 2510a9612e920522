"""``cardiac-lge cohort-stats``: group statistics of a normal- vs high-resolution LGE study.

Inputs: the per-study QA reports (report.json of ``cardiac-lge qa``, one volume per sequence: the
volume names are the sequence names, e.g. --volume NR-IR=... --volume HR-IR=...) and/or the reader
scores exported by ``cardiac-lge reader-session export``. The studies are matched by name.

Reports: ``--report STUDY=PATH`` (repeat; ``STUDY@READER=PATH`` for a report measured by one of
several readers), ``--reports-dir DIR`` (DIR/<study>/report.json, or DIR/<study>/<reader>/report.json),
or ``--reports LIST.csv`` (columns study, report [, reader]).

Output (--out): cohort_summary.csv (median, IQR per measure and sequence), cohort_comparisons.csv
(each sequence vs --reference: test and why, n, statistic, p, Holm-corrected p, effect size),
cohort_agreement.csv (weighted kappa between readers per criterion; ICC(2,1) for metrics measured by
several readers), cohort.json (all of it) and cohort.png (box/strip plots), written as one set (all or none).
Study names (often folder names) are replaced by study01, study02, ... (sorted names) unless --keep-names.
Test rule: reader scores -> Wilcoxon signed-rank; metrics -> Shapiro-Wilk on the paired differences,
p >= 0.05 -> paired t-test, else Wilcoxon (--test forces one). Holm over the sequences of one measure.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cohort-stats", help="cohort statistics of QA reports and reader scores: median (IQR), paired tests vs a "
                             "reference sequence with Holm correction, kappa/ICC, box plots",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", required=True, metavar="SEQUENCE", help="the reference sequence, e.g. NR-IR")
    parser.add_argument("--report", action="append", default=[], metavar="STUDY[@READER]=PATH",
                        help="report.json of one study (repeat)")
    parser.add_argument("--reports-dir", metavar="DIR", help="DIR/<study>/report.json (or DIR/<study>/<reader>/report.json)")
    parser.add_argument("--reports", metavar="CSV", help="list of reports: columns study, report [, reader]")
    parser.add_argument("--scores", action="append", default=[], metavar="CSV",
                        help="reader scores from 'reader-session export' (repeat)")
    parser.add_argument("--metric", action="append", default=None, metavar="NAME[=TEMPLATE]",
                        help="metrics to analyse (default: every default metric the reports have); TEMPLATE: report.json "
                             "keys joined by '/', e.g. 'mtf50=mtf/edge/{sequence}/mtf50_lp_per_mm'")
    parser.add_argument("--test", choices=("auto", "wilcoxon", "t"), default="auto",
                        help="paired test for metrics (scores always use Wilcoxon); default auto (Shapiro-Wilk rule)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level after Holm correction (0.05)")
    parser.add_argument("--drop-incomplete", action="store_true",
                        help="drop studies without the reference or the compared sequence from that comparison "
                             "(default: refuse, naming them)")
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--no-figure", action="store_true")
    parser.add_argument("--keep-names", action="store_true",
                        help="write the study names into cohort.json and cohort_comparisons.csv (default: study01, "
                             "study02, ... in sorted name order; names are often folder names that identify patients)")
    parser.set_defaults(func=run)


def report_sources(args) -> list:
    from LGEResolutionQALib.study.cohort import CohortError, ReportSource

    sources = []
    for text in args.report:
        if "=" not in text:
            raise CohortError(f"--report {text}: give STUDY=PATH.")
        name, path = text.split("=", 1)
        study, _, reader = name.partition("@")
        if not study.strip():
            raise CohortError(f"--report {text}: the study name is empty.")
        sources.append(ReportSource(study.strip(), Path(path), reader.strip()))
    if args.reports_dir:
        folder = Path(args.reports_dir)
        if not folder.is_dir():
            raise FileNotFoundError(f"Reports folder not found: {folder}")
        for study_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            if (study_dir / "report.json").is_file():
                sources.append(ReportSource(study_dir.name, study_dir / "report.json"))
            else:
                sources += [ReportSource(study_dir.name, reader_dir / "report.json", reader_dir.name)
                            for reader_dir in sorted(study_dir.iterdir()) if (reader_dir / "report.json").is_file()]
        if not sources:
            raise CohortError(f"No <study>/report.json found in {folder}.")
    if args.reports:
        listing = Path(args.reports)
        with listing.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if not {"study", "report"} <= set(reader.fieldnames or []):
                raise CohortError(f"Report list {listing} needs the columns study and report (and optionally reader).")
            for row in reader:
                path = Path(row["report"])
                sources.append(ReportSource(row["study"].strip(), path if path.is_absolute() else listing.parent / path,
                                            (row.get("reader") or "").strip()))
    return sources


def analyse(args):
    from LGEResolutionQALib.study import cohort
    from LGEResolutionQALib.study.reader_session import read_scores_csv

    observations, missing, notes = [], [], []
    sources = report_sources(args)
    if sources:
        metrics = [cohort.metric_spec(text) for text in args.metric] if args.metric else None
        observations, missing, notes = cohort.load_report_observations(sources, metrics)
    for path in args.scores:
        observations += cohort.score_observations(read_scores_csv(path))
    if not observations:
        raise cohort.CohortError("Nothing to analyse: give QA reports (--report/--reports-dir/--reports) and/or "
                                 "reader scores (--scores).")
    return cohort.cohort_analysis(observations, args.reference, test=args.test, alpha=args.alpha,
                                  drop_incomplete=args.drop_incomplete, missing=missing, notes=notes)


def print_comparisons(result) -> None:
    print(f"{'measure':<30} {'sequence':<10} {'n':>3} {'median (IQR) ref -> seq':<34} {'test':<22} {'p':>8} {'p Holm':>8}"
          f" {'effect':>14}")
    medians = {(r["measure"], r["sequence"]): r for r in result.descriptives}
    for row in result.comparisons:
        ref = medians[(row["measure"], result.reference)]
        seq = medians[(row["measure"], row["sequence"])]
        span = (f"{ref['median']:.3g} ({ref['q1']:.3g}-{ref['q3']:.3g}) -> {seq['median']:.3g} "
                f"({seq['q1']:.3g}-{seq['q3']:.3g})")
        effect = "" if row["effect_size"] is None else f"{row['effect_size_name'].split('_')[-1]} {row['effect_size']:+.2f}"
        test = "paired t" if row["test"] == "paired t-test" else "Wilcoxon" + (" exact" if "exact" in row["test"] else "")
        star = "*" if row["significant_holm"] else ""
        print(f"{row['measure']:<30} {row['sequence']:<10} {row['n']:>3} {span:<34} {test:<22} {row['p_value']:>8.2g} "
              f"{row['p_holm']:>7.2g}{star:1} {effect:>14}")
    for row in result.agreement:
        value = "" if row.get("value") is None else f"{row['value']:.2f}"
        print(f"agreement {row['measure']:<28} {row['statistic']:<30} {row['readers']:<14} n={row['n']:<4} {value}")
    for note in result.notes:
        print(f"note: {note}")


def run(args: argparse.Namespace) -> int:
    from CardiacLGECommonLib.core.files import check_output_folder

    check_output_folder(args.out)  # before any work: a file or an unwritable folder in its place is refused now
    result = analyse(args)
    paths = result.write(args.out, figure=not args.no_figure, keep_names=args.keep_names)
    print(f"Cohort: reference {result.reference}; sequences {', '.join(result.sequences)}")
    print_comparisons(result)
    for key, path in paths.items():
        print(f"wrote {key}: {path}")
    return 0
