"""``cardiac-lge reader-session``: blinded 5-point reader scoring of LGE series (create, status, score, export).

``create`` builds a reading session from a study list (CSV with columns study, sequence, path [, more]
— or JSON): every series gets an opaque case code; ``session.json`` holds what the readers' software
needs (no study or sequence names), ``key.json`` the unblinding key; ``--blinded-copies`` re-writes
every series as blinded/<case>.nrrd (voxels and geometry only). ``--reader`` creates a score file per
reader (readers/<name>.json, each with its own seeded random order); a reader can also be added later.

``score`` reads the cases of one reader in the terminal (open the printed file in any viewer, or use
the Slicer module LGE Reader Study on the same session): each score is saved the moment it is typed;
stop at any time (q, or Ctrl-D) and run the same command again to resume.

``status`` shows every reader's progress; ``export`` joins the reader files with the key into one
table (study, sequence, reader, case, criterion, score) for ``cardiac-lge cohort-stats``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reader-session", help="blinded reader study: create a session, score series 1-5, export the scores",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="a new session from a study list (CSV/JSON)")
    create.add_argument("--studies", required=True, metavar="LIST", help="study list: CSV (study,sequence,path[,...]) or JSON")
    create.add_argument("--out", required=True, metavar="DIR", help="the session folder (must not hold a session yet)")
    create.add_argument("--seed", type=int, default=0, help="seed of the case codes and reading orders (default 0)")
    create.add_argument("--blinded-copies", action="store_true",
                        help="write every series as DIR/blinded/<case>.nrrd (no DICOM header, no names)")
    create.add_argument("--key", metavar="PATH", help="where to write the unblinding key (default DIR/key.json)")
    create.add_argument("--reader", action="append", default=[], metavar="NAME", help="create this reader's file (repeat)")
    create.add_argument("--title", default="", help="a title for the session (shown to readers; no patient data)")
    create.set_defaults(func=run_create)

    status = actions.add_parser("status", help="progress of every reader")
    status.add_argument("--session", required=True, metavar="DIR")
    status.set_defaults(func=run_status)

    score = actions.add_parser("score", help="score the cases of one reader in the terminal (resumes where it stopped)")
    score.add_argument("--session", required=True, metavar="DIR")
    score.add_argument("--reader", required=True, metavar="NAME")
    score.add_argument("--file", metavar="PATH", help="the reader's file (default DIR/readers/NAME.json)")
    score.set_defaults(func=run_score)

    export = actions.add_parser("export", help="unblinded score table for cohort-stats")
    export.add_argument("--session", required=True, metavar="DIR")
    export.add_argument("--key", metavar="PATH", help="the unblinding key (default DIR/key.json)")
    export.add_argument("--reader-file", action="append", default=[], metavar="PATH",
                        help="reader files to export (default: every DIR/readers/*.json)")
    export.add_argument("--out", required=True, metavar="CSV", help="score table (study,sequence,reader,case,criterion,score)")
    export.add_argument("--comments", metavar="CSV", help="also write the free-text comments here")
    export.set_defaults(func=run_export)


def run_create(args: argparse.Namespace) -> int:
    from LGEResolutionQALib.study import reader_session as rs

    entries = rs.read_study_list(args.studies)
    files = rs.create_session(entries, args.out, seed=args.seed, blinded_copies=args.blinded_copies,
                              key_path=args.key, readers=args.reader, title=args.title)
    studies = len({e.study for e in entries})
    sequences = sorted({e.sequence for e in entries})
    print(f"Session of {len(entries)} series ({studies} studies; sequences {', '.join(sequences)}) written to {files.session}")
    print(f"unblinding key: {files.key} (it identifies the series: readable by you only; keep it away from the readers)")
    if files.blinded:
        print(f"blinded copies: {len(files.blinded)} NRRD files in {Path(args.out) / 'blinded'}")
    for path in files.readers:
        print(f"reader file: {path}")
    for warning in files.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def run_status(args: argparse.Namespace) -> int:
    from LGEResolutionQALib.study import reader_session as rs

    session = rs.load_session(args.session)
    print(f"session {session.session_id}: {len(session.cases)} cases, {len(session.form)} criteria")
    paths = session.reader_files()
    if not paths:
        print("no reader files yet")
    for path in paths:
        scores = rs.ReaderScores.load(session, path)
        done, total = scores.progress()
        print(f"  {scores.reader:<12} {done:>4} of {total} cases complete ({path.name})")
    return 0


def _ask(prompt: str):
    try:
        return input(prompt)
    except EOFError:
        return None


def run_score(args: argparse.Namespace) -> int:
    from LGEResolutionQALib.study import reader_session as rs

    session = rs.load_session(args.session)
    scores = rs.ReaderScores.open(session, args.reader, path=args.file)
    index = scores.first_unscored()
    if index is None:
        print(f"All {len(scores.order)} cases of reader {scores.reader} are scored ({scores.path}).")
        return 0
    print(f"Reader {scores.reader}: {scores.progress()[0]} of {len(scores.order)} cases complete; every score is saved "
          "at once. Type 1-5, s to skip the case, q to stop.")
    while index is not None:
        case = scores.order[index]
        print(f"\nCase {case} ({index + 1} of {len(scores.order)}): {session.series_path(case)}")
        for key in scores.missing_criteria(case):
            criterion = session.criterion(key)
            print(f"  {criterion.label}: {criterion.question}")
            for value in rs.SCORES:
                print(f"    {value} = {criterion.anchor(value)}")
            while True:
                answer = _ask("  score: ")
                if answer is None or answer.strip().lower() == "q":
                    done, total = scores.progress()
                    print(f"\nStopped: {done} of {total} cases complete, saved in {scores.path}. Run the same command "
                          "to resume.")
                    return 0
                answer = answer.strip().lower()
                if answer == "s":
                    break
                if answer in {str(v) for v in rs.SCORES}:
                    scores.score(case, key, int(answer))
                    break
                print("  type 1, 2, 3, 4 or 5 (s: skip the case, q: stop)")
            if answer == "s":
                break
        else:
            comment = _ask("  comment (Enter for none): ")
            if comment:
                scores.set_comment(case, comment.strip())
        following = scores.first_unscored((index + 1) % len(scores.order))
        if following == index:  # only the skipped case is left
            break
        index = following
    done, total = scores.progress()
    print(f"\n{done} of {total} cases complete ({scores.path}).")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from CardiacLGECommonLib.core.files import check_output_file
    from LGEResolutionQALib.study import reader_session as rs

    for path in filter(None, (args.out, args.comments)):  # before reading: an unwritable output is refused now
        check_output_file(path)
    session = rs.load_session(args.session)
    key = rs.load_key(args.key or (session.folder / "key.json"), session)
    exported = rs.collect_scores(session, key, args.reader_file or None)
    path = rs.write_csv_atomic(args.out, exported.rows, rs.SCORE_COLUMNS)
    print(f"wrote {len(exported.rows)} scores of {len(exported.incomplete)} reader(s) to {path}")
    if args.comments:
        rs.write_csv_atomic(args.comments, exported.comments, ("study", "sequence", "reader", "case", "comment"))
        print(f"wrote {len(exported.comments)} comments to {args.comments}")
    for reader, count in sorted(exported.incomplete.items()):
        if count:
            print(f"warning: reader {reader} has {count} incomplete case(s); their scores so far are exported",
                  file=sys.stderr)
    return 0
