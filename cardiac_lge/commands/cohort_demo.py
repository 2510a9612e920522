"""``cardiac-lge cohort-demo``: a simulated normal- vs high-resolution cohort, run through the whole workflow.

For every simulated patient the project's septum scene (``phantom.make_septum_pair``: blood – septum –
blood with a septal scar; the septal thickness drawn per patient, 6–12 mm) is rendered per sequence,
written as NRRD, and measured with the study report (``cardiac-lge qa``'s report.json: septal profile,
ROI SNR/CNR). A blinded reading session is created from the study list (``reader-session create``),
simulated readers score every case through the same score files a real reader writes, the scores are
exported, and ``cohort-stats`` runs on the reports and the scores.

Designs (``--design``):
* ``published`` (default): NR-IR and NR-PSIR at 1.5 mm, HR-IR and HR-PSIR at 0.625 mm (σ as in
  make_septum_pair: NR 0.03, HR 0.05; PSIR 1.3× noisier), reference NR-IR;
* ``nr-hr``: NR (1.5 mm) and HR (0.625 mm);
* ``same-resolution``: NR-A and NR-B, both 1.5 mm with the same σ, differing by noise only
  (a true null: the clean images are identical).

Simulated readers (our assumptions, not measurements): a latent score per series = 3 + a patient
effect N(0, 0.6²) (presence of LGE: 4.3) + for HR series (pixel < 1 mm) a shift per criterion
(resolution +1.2, border sharpness +1.0, blurring +0.8, overall quality +0.6, image noise −0.3,
presence of LGE +0.2, banding and motion 0); each reader adds a bias N(0, 0.2²) and noise N(0, 0.4²),
rounded to the nearest integer within 1–5.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

DESIGNS = {  # name -> [(first name, second name, first pixel mm, second pixel mm, first sigma, second sigma)]
    "published": [("NR-IR", "HR-IR", 1.5, 0.625, 0.03, 0.05), ("NR-PSIR", "HR-PSIR", 1.5, 0.625, 0.039, 0.065)],
    "nr-hr": [("NR", "HR", 1.5, 0.625, 0.03, 0.05)],
    "same-resolution": [("NR-A", "NR-B", 1.5, 1.5, 0.03, 0.03)],
}
HR_SHIFT = {"resolution": 1.2, "border_sharpness": 1.0, "blurring": 0.8, "overall_quality": 0.6, "image_noise": -0.3,
            "lge_presence": 0.2, "banding": 0.0, "motion_artefacts": 0.0}
README_METRICS = ("septal_sharpness_20_80_per_mm", "septal_rise_20_80_mm", "snr_lge", "cnr_lge_remote")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cohort-demo", help="simulated NR vs HR cohort: reports, a blinded reading by simulated readers, cohort statistics",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (must not hold a session yet)")
    parser.add_argument("--patients", type=int, default=24, help="number of simulated patients (default 24)")
    parser.add_argument("--readers", type=int, default=2, help="number of simulated readers (default 2)")
    parser.add_argument("--design", choices=sorted(DESIGNS), default="published")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--metric", action="append", default=None, metavar="NAME",
                        help="metrics in the statistics and figure (default: every default metric)")
    parser.add_argument("--figure", metavar="PNG", help="also copy the cohort figure to this path")
    parser.set_defaults(func=run)


def _septum_definition(pair):
    from LGEResolutionQALib.io.definitions import LineDefinition, RegionDefinition
    from LGEResolutionQALib.study.report import NoiseSettings, StudyDefinition

    from cardiac_lge.commands.qa import DEMO_ROIS

    regions = {name: RegionDefinition(name, center_ras=centre, size_mm=size) for name, (centre, size) in DEMO_ROIS.items()}
    return StudyDefinition(lines=(LineDefinition("septum", *pair["septum_line_ras"]),), regions=regions,
                           lge_region="scar", remote_region="remote", blood_region="blood",
                           noise=NoiseSettings("background", "air"))


def simulate_cohort(out_dir, n_patients: int = 24, seed: int = 0, design: str = "published", n_readers: int = 2,
                    supersample_mm: float = 0.1, blinded_copies: bool = True, metrics=None, figure: bool = True,
                    progress=print) -> dict:
    """Run the whole workflow on a simulated cohort (see the module docstring); returns paths and the
    ``CohortResult``. Deterministic for a given seed (except the random session id)."""
    import numpy as np
    from CardiacLGECommonLib.core.files import make_output_folder
    from LGEResolutionQALib.io.definitions import StudyVolume, write_volume
    from LGEResolutionQALib.sim.phantom import make_septum_pair
    from LGEResolutionQALib.study import cohort
    from LGEResolutionQALib.study import reader_session as rs
    from LGEResolutionQALib.study.atomic import atomic_path, write_text_atomic
    from LGEResolutionQALib.study.report import study_report

    if design not in DESIGNS:
        raise ValueError(f"design must be one of {sorted(DESIGNS)}; got {design!r}.")
    if n_patients < 2 or n_readers < 1:
        raise ValueError("A cohort needs at least 2 patients and 1 reader.")
    out = make_output_folder(out_dir)  # refused at once when it cannot be written (not after the simulation)
    if (out / "session" / "session.json").exists():
        raise rs.SessionError(f"{out / 'session' / 'session.json'} exists already: give cohort-demo a new folder.")
    rng = np.random.default_rng(seed)
    rows, pixel_of, sources = ["study,sequence,path"], {}, []
    for index in range(n_patients):
        study = f"SIM{index + 1:02d}"
        thickness = float(rng.uniform(6.0, 12.0))
        volumes = []
        for first, second, first_mm, second_mm, first_sigma, second_sigma in DESIGNS[design]:
            pair = make_septum_pair(rng, hr_pixel_mm=second_mm, nr_pixel_mm=first_mm, sigma_hr=second_sigma,
                                    sigma_nr=first_sigma, septum_thickness_mm=thickness, fov_mm=80.0, markers=False,
                                    supersample_mm=supersample_mm)
            for name, image in ((first, pair["nr"]), (second, pair["hr"])):
                path = out / "series" / study / f"{name}.nrrd"
                with atomic_path(path) as temporary:
                    write_volume(temporary, image.image, image.ijk_to_ras)
                rows.append(f"{study},{name},{path.relative_to(out).as_posix()}")
                volumes.append(StudyVolume(name, image.image, image.ijk_to_ras, source=f"simulated {study}"))
                pixel_of[name] = image.pixel_mm
        report = study_report(volumes, _septum_definition(pair))
        report.write(out / "reports" / study, figures=False)
        sources.append(cohort.ReportSource(study, out / "reports" / study / "report.json"))
        progress(f"patient {index + 1}/{n_patients}: {study} rendered and measured ({len(volumes)} series)")
    write_text_atomic(out / "studies.csv", "\n".join(rows) + "\n")

    files = rs.create_session(rs.read_study_list(out / "studies.csv"), out / "session", seed=seed,
                              blinded_copies=blinded_copies, readers=[f"R{r + 1}" for r in range(n_readers)],
                              title="simulated cohort")
    session = rs.load_session(files.session)
    key = rs.load_key(files.key, session)
    studies = sorted({entry["study"] for entry in key.values()})
    patient_effect = {study: float(rng.normal(0.0, 0.6)) for study in studies}
    for path in files.readers:
        scores = rs.ReaderScores.load(session, path)
        bias = float(rng.normal(0.0, 0.2))
        for case in scores.order:
            entry = key[case]
            high_resolution = pixel_of[entry["sequence"]] < 1.0
            values = {}
            for criterion in session.criteria_keys:
                latent = (4.3 if criterion == "lge_presence" else 3.0) + patient_effect[entry["study"]] + bias
                latent += HR_SHIFT.get(criterion, 0.0) if high_resolution else 0.0
                values[criterion] = int(np.clip(np.rint(latent + rng.normal(0.0, 0.4)), 1, 5))
            scores.score_case(case, values)
        progress(f"simulated reader {scores.reader} scored {len(scores.order)} cases")
    exported = rs.collect_scores(session, key)
    scores_csv = rs.write_csv_atomic(out / "scores.csv", exported.rows, rs.SCORE_COLUMNS)

    specs = [cohort.metric_spec(name) for name in metrics] if metrics else None
    observations, missing, notes = cohort.load_report_observations(sources, specs)
    observations += cohort.score_observations(rs.read_scores_csv(scores_csv))
    reference = DESIGNS[design][0][0]
    result = cohort.cohort_analysis(observations, reference, missing=missing, notes=notes)
    paths = result.write(out / "cohort", figure=figure)
    return {"result": result, "paths": paths, "session": files.session, "key": files.key, "scores": scores_csv,
            "studies": out / "studies.csv", "reports": out / "reports"}


def run(args: argparse.Namespace) -> int:
    from CardiacLGECommonLib.core.files import check_output_file, check_output_folder, write_atomically

    from cardiac_lge.commands.cohort_stats import print_comparisons

    out = check_output_folder(args.out)
    if args.figure:
        check_output_file(args.figure)
    outcome = simulate_cohort(out, args.patients, args.seed, args.design, args.readers, metrics=args.metric,
                              progress=lambda text: print(text, flush=True))
    result = outcome["result"]
    print(f"\nSimulated cohort ({args.design}, seed {args.seed}); the same statistics from the files:")
    metrics = "".join(f" --metric {name}" for name in args.metric or ())
    print(f"  cardiac-lge cohort-stats --reports-dir {outcome['reports']} --scores {outcome['scores']} "
          f"--reference {result.reference}{metrics} --out {out / 'cohort'}")
    print_comparisons(result)
    for key, path in outcome["paths"].items():
        print(f"wrote {key}: {path}")
    if args.figure and "figure" in outcome["paths"]:
        Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
        write_atomically(args.figure, lambda tmp: shutil.copyfile(outcome["paths"]["figure"], tmp))
        print(f"copied the cohort figure to {args.figure}")
    return 0
