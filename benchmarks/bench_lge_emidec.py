"""Every LGE method side by side on real infarcts: EMIDEC development set with the expert myocardium.

Data: ``../shared/data/lge_emidec_dev`` (37 infarct cases P*, 18 normal cases N*; per-slice 8-bit PNG
and expert labels 1 cavity, 2 normal myocardium, 3 infarct, 4 MVO). The expert myocardium (2 ∪ 3 ∪ 4)
is the mask, so only the LGE step is measured; expert LGE = 3 ∪ 4 (MVO is part of the infarct).
Slices are read with the project's reader (``io.lge_inputs.read_stack``) at a nominal spacing of
1.5 × 1.5 × 10 mm (the PNGs carry none; percentages and Dice do not depend on it).

Per method (each per slice, automatic remote): on the infarct cases mean |Δ LGE %| against the
expert, bias (mean Δ), SD of Δ, Bland–Altman 95% limits (bias ± 1.96 SD), Pearson r, median Dice of
the LGE mask against the expert infarct; on the normal cases the mean and maximum "false-positive"
LGE % and how many exceed 3%; cases refused (with the reason), and cases where the method returned
0% or ≥ 95% while the expert marks > 5%, and whether a warning said why.

Choice of the default (rule fixed before the final run, after exploratory runs on this same set,
which the issue note reports): the method with the lowest mean |Δ LGE %| over **all** 55 cases (the
normal cases count with expert 0%, so false positives are penalised on the same scale); a method
that refuses any case is not eligible. Nothing is tuned here: n ∈ {2, 3, 5, 6} are the published
choices, the mixture's separation rule (Ashman's D ≥ 2) and the FWHM core (5 SD) are fixed. As a
check of the choice, the rule is applied to the two halves of the cases (alternate cases in name
order) separately; the table says whether both halves pick the same method.

``gmm-pool`` has three parameters (the threshold fraction f between normal myocardium and the blood
pool, the least fraction g of the slice's peak enhancement above normal — 0 is the method without that
term — and the smallest LGE region kept); they are the only numbers fitted to this set (the peak is the
slice's 99th percentile, fixed a priori). Rule, fixed in code (``choose_parameters``, ``DEFAULT_RULE``):
on the grid ``POOL_GRID`` × ``PEAK_GRID`` × ``MIN_REGION_GRID``, the **"specific"** rule — the point with the
lowest infarct mean |Δ LGE %| among the points that meet the issue's normal-case targets (mean FP ≤ 1%,
no normal > 3%), i.e. the issue's targets read as constraints on the normals plus an error target on the
infarcts. The "all" rule (lowest mean |Δ| over all cases, normals at 0%) is reported beside it with its
own cross-validation, as the alternative. History, to be honest about it: "all" fixed the default from
s20 to s21 and "specific" was reported beside it; at s22 the lead switched the default to
"specific" — one binary choice made knowing both rules' results (the cross-validated figures include the
parameter choice inside the folds, not this choice of rule). The core's constants must equal the whole-set
choice of ``DEFAULT_RULE`` (the run says so). Because the same set then judges the method, the run also reports
**5-fold cross-validated** figures (``cross_validate``: fold = case index in name order mod 5;
parameters chosen by the same rule on four folds, the fifth measured, held-out rows pooled) — the
figures to expect on new cases; and the halves check chooses the parameters on each half too.
(For gmm-pool the enclosed dark cores are always filled, so "with include_mvo" changes nothing.)

Also: MVO — with ``include_mvo`` the default's recall of the expert MVO voxels (share of label-4
voxels inside the LGE mask) with and without; and the time of the LGE step on a 512 × 512 × 40
ring phantom (median of ``--repeats`` runs, 5 by default; target ≤ 0.5 s). ``--timing-only`` runs that part alone
(gmm-pool, gmm, nsd-5; seconds, with the load average), without the data set.

Run: ``nice .venv/bin/python benchmarks/bench_lge_emidec.py`` (about 4 min on the loaded 2 cores);
``nice .venv/bin/python benchmarks/bench_lge_emidec.py --timing-only`` (about 20 s); with ``--baseline DIR`` (another
checkout, e.g. ``git worktree add /tmp/lge-main main``) both are timed interleaved and the ratio printed.
Writes the Bland–Altman figure to ``Resources/Screenshots/lge_bland_altman.png`` (``--figure``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
from LGEResolutionQALib.core.lge_segmentation import (
    DEFAULT_METHOD,
    MIN_REGION_FRACTION,
    PEAK_FRACTION,
    POOL_FRACTION,
    LGEMethodNotApplicable,
    segment_lge,
)
from LGEResolutionQALib.io.lge_inputs import read_stack
from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom
from LGEResolutionQALib.study.atomic import atomic_path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "lge_emidec_dev"
NOMINAL_SPACING = (1.5, 1.5, 10.0)
METHODS = [("nsd-2", "nsd", 2.0), ("nsd-3", "nsd", 3.0), ("nsd-5", "nsd", 5.0), ("nsd-6", "nsd", 6.0),
           ("fwhm", "fwhm", 5.0), ("otsu", "otsu", 5.0), ("gmm", "gmm", 5.0), ("gmm-pool", "gmm-pool", 5.0)]
#: the grid of gmm-pool's two parameters (fixed before the final run): threshold fraction f of the way from normal
#: myocardium to the blood pool, and the smallest in-plane LGE component kept (fraction of the slice's myocardium).
#: (A third, a noise floor of n SD of the normal myocardium, n in {0, 1, 2}, was tried and dropped: the rule chose
#: n = 1 on the whole set but the cross-validated mean abs Δ rose from 7.3 to 8.1 points, i.e. it only overfitted.)
#: s21 added the peak term g (0 = without it) and, to keep the run short, narrowed the other two axes: f 0.50-0.70 (the
#: s20 folds chose 0.60-0.70, exploration with the peak term 0.50-0.60; 0.45 and 0.75 never won) and minimum region
#: 0.01-0.05 (0.03 won in every s20 fold, 0.08 never).
POOL_GRID = tuple(round(0.50 + 0.05 * i, 2) for i in range(5))  # 0.50 .. 0.70
PEAK_GRID = (0.0, 0.3, 0.4, 0.5)
MIN_REGION_GRID = (0.01, 0.03, 0.05)
FOLDS = 5
#: the rule that fixes the default's parameters (``choose_parameters``); the other one is reported beside it.
#: "all" until s21, "specific" since s22 (see the module docstring).
DEFAULT_RULE = "specific"
ALTERNATIVE_RULE = "all"
RULES = ("specific", "all")


def load_cases(folder: Path) -> dict:
    names = sorted({re.sub(r"_slice\d+\.png$", "", p.name) for p in (folder / "images").glob("*.png")})
    cases = {}
    for name in names:
        image = read_stack(str(folder / "images" / f"{name}_slice*.png"), NOMINAL_SPACING)
        labels = read_stack(str(folder / "labels" / f"{name}_slice*.png"), NOMINAL_SPACING)
        cases[name] = (image.array.astype(np.float32), labels.array)
    return cases


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return 2.0 * float((a & b).sum()) / float(total) if total else 1.0


def evaluate(cases: dict, method: str, n_sd: float, include_mvo: bool = False, expert_remote: bool = False,
             **options) -> dict:
    """``expert_remote``: the expert's normal myocardium (label 2) as the user remote (a reference, not a method);
    ``options``: further keywords of ``segment_lge`` (gmm-pool's ``pool_fraction``, ``min_region_fraction``,
    ``peak_fraction``)."""
    rows = []
    for name, (image, labels) in cases.items():
        myo = labels >= 2
        expert = labels >= 3
        expert_percent = 100.0 * expert.sum() / myo.sum()
        row = {"case": name, "infarct": name.startswith("Case_P"), "expert": expert_percent}
        try:
            result = segment_lge(image, myo, NOMINAL_SPACING, method=method, n_sd=n_sd, include_mvo=include_mvo,
                                 remote_mask=(labels == 2) if expert_remote else None, **options)
        except LGEMethodNotApplicable as error:
            row.update(refused=str(error))
            rows.append(row)
            continue
        row.update(refused=None, percent=result.lge_percent_of_lv, dice=dice(result.scar_mask, expert),
                   warnings=result.warnings, mvo_recall=(float((result.scar_mask & (labels == 4)).sum()) /
                                                          max(int((labels == 4).sum()), 1)),
                   has_mvo=bool((labels == 4).any()))
        rows.append(row)
    return summarise(rows)


def summarise(rows: list[dict]) -> dict:
    done = [r for r in rows if r["refused"] is None]
    infarct = [r for r in done if r["infarct"]]
    normal = [r for r in done if not r["infarct"]]
    out = {"rows": rows, "refused": [r for r in rows if r["refused"]], "n": len(rows)}
    if infarct:
        delta = np.array([r["percent"] - r["expert"] for r in infarct])
        sd = float(delta.std(ddof=1)) if delta.size > 1 else 0.0
        out.update(mad=float(np.abs(delta).mean()), bias=float(delta.mean()), sd=sd,
                   loa=(float(delta.mean() - 1.96 * sd), float(delta.mean() + 1.96 * sd)),
                   r=float(np.corrcoef([r["percent"] for r in infarct], [r["expert"] for r in infarct])[0, 1])
                   if len(infarct) > 2 and np.std([r["percent"] for r in infarct]) > 0 else float("nan"),
                   dice=float(np.median([r["dice"] for r in infarct])))
        extreme = [r for r in infarct if r["expert"] > 5.0 and (r["percent"] == 0.0 or r["percent"] >= 95.0)]
        out["extreme"] = len(extreme)
        out["extreme_unwarned"] = sum(1 for r in extreme if not any(
            w.startswith(("No LGE found", "LGE covers")) for w in r["warnings"]))
        mvo_rows = [r for r in infarct if r["has_mvo"]]
        out["mvo_recall"] = float(np.mean([r["mvo_recall"] for r in mvo_rows])) if mvo_rows else float("nan")
    if normal:
        fp = np.array([r["percent"] for r in normal])
        out.update(fp_mean=float(fp.mean()), fp_max=float(fp.max()), fp_over3=int((fp > 3.0).sum()))
    if done and not out["refused"]:
        out["mad_all"] = float(np.mean([abs(r["percent"] - r["expert"]) for r in done]))
    return out


def oracle_threshold(cases: dict) -> dict:
    """Upper bound of any per-slice threshold: on every slice the threshold (tried at every grey level of the
    slice's myocardium) with the best Dice against the expert infarct of that slice."""
    rows = []
    for name, (image, labels) in cases.items():
        if not name.startswith("Case_P"):
            continue
        myo, expert = labels >= 2, labels >= 3
        scar = np.zeros_like(myo)
        for k in range(image.shape[0]):
            if not myo[k].any() or not expert[k].any():
                continue
            values = image[k][myo[k]]
            best, best_mask = -1.0, None
            for threshold in np.unique(values):
                mask = myo[k] & (image[k] >= threshold)
                score = dice(mask, expert[k])
                if score > best:
                    best, best_mask = score, mask
            scar[k] = best_mask
        rows.append({"case": name, "infarct": True, "expert": 100.0 * expert.sum() / myo.sum(), "refused": None,
                     "percent": 100.0 * scar.sum() / myo.sum(), "dice": dice(scar, expert), "warnings": (),
                     "mvo_recall": 0.0, "has_mvo": False})
    return summarise(rows)


def mvo_rule_on_expert_infarct(cases: dict) -> tuple[int, int, int]:
    """The MVO rule alone: holes filled in the expert infarct (label 3) -> (expert MVO voxels recovered, expert MVO
    voxels, filled voxels that are not expert MVO)."""
    from LGEResolutionQALib.core.lge_segmentation import _mvo_fill

    found = total = outside = 0
    for _image, labels in cases.values():
        for k in range(labels.shape[0]):
            filled = _mvo_fill(labels[k] == 3, labels[k] >= 2)
            mvo = labels[k] == 4
            found += int((filled & mvo).sum())
            total += int(mvo.sum())
            outside += int((filled & ~mvo).sum())
    return found, total, outside


def pool_options(key) -> dict:
    return {"pool_fraction": key[0], "min_region_fraction": key[1], "peak_fraction": key[2]}


def pool_grid(cases: dict) -> dict:
    """Per-case rows of gmm-pool at every grid point: {(pool_fraction, min_region_fraction, peak_fraction): rows}."""
    grid, total = {}, len(POOL_GRID) * len(MIN_REGION_GRID) * len(PEAK_GRID)
    for f in POOL_GRID:
        for a in MIN_REGION_GRID:
            for g in PEAK_GRID:
                grid[f, a, g] = evaluate(cases, "gmm-pool", 5.0, **pool_options((f, a, g)))["rows"]
        print(f"  gmm-pool grid: {len(grid)} of {total} points", flush=True)
    return grid


def choose_parameters(grid: dict, names, rule: str = DEFAULT_RULE) -> tuple:
    """The rule that fixes gmm-pool's parameters on the cases ``names`` (ties to the earlier grid point).

    ``specific`` (the default's rule since s22): the lowest mean |Δ| over the infarcts among the points that
    meet the issue's targets on the normals (mean FP ≤ 1%, none > 3%); the ``all`` choice where no point meets
    them. ``all`` (the default's rule until s21, now the alternative reported beside it): the lowest mean
    |Δ LGE %| over all of them (normals at expert 0%, the same criterion as the choice of the default method)."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}; got {rule!r}")
    chosen = set(names)

    def rows(key):
        return [r for r in grid[key] if r["case"] in chosen]

    def score(key):
        return float(np.mean([abs(r["percent"] - r["expert"]) for r in rows(key)]))

    if rule == "specific":
        def specific(key):
            fp = [r["percent"] for r in rows(key) if not r["infarct"]]
            return not fp or (np.mean(fp) <= 1.0 and max(fp) <= 3.0)

        def infarct_score(key):
            return float(np.mean([abs(r["percent"] - r["expert"]) for r in rows(key) if r["infarct"]]))

        meeting = [key for key in grid if specific(key)]
        if meeting:
            return min(meeting, key=infarct_score)
    return min(grid, key=score)


def cross_validate(grid: dict, names: list, folds: int = FOLDS, rule: str = DEFAULT_RULE) -> tuple[dict, list]:
    """``folds``-fold cross-validation over cases (fold of the i-th case in name order = i mod folds): parameters
    chosen by ``choose_parameters`` on the other folds, the held-out fold measured with them; the held-out rows of
    all folds pooled -> (summary, chosen parameters per fold)."""
    held_rows, chosen = [], []
    for fold in range(folds):
        held = set(names[fold::folds])
        key = choose_parameters(grid, [n for n in names if n not in held], rule)
        chosen.append(key)
        held_rows += [r for r in grid[key] if r["case"] in held]
    return summarise(held_rows), chosen


def choose(summaries: dict) -> str | None:
    eligible = {name: s for name, s in summaries.items() if not s["refused"] and "mad_all" in s}
    return min(eligible, key=lambda name: eligible[name]["mad_all"]) if eligible else None


_TIMING_PHANTOM: list = []


def timing_phantom():
    """The 512 x 512 x 40 ring phantom of the timing (built once)."""
    if not _TIMING_PHANTOM:
        _TIMING_PHANTOM.append(make_lge_ring_phantom((40, 512, 512), (0.625, 0.625, 2.5), 0.2, 12.0,
                                                     np.random.default_rng(0), endo_radius_mm=(25.0, 15.0),
                                                     supersample=2))
    return _TIMING_PHANTOM[0]


def timing(method: str, n_sd: float, repeats: int = 5) -> float:
    """Median seconds of ``segment_lge`` on the 512 x 512 x 40 ring phantom (one warm-up run first)."""
    phantom = timing_phantom()
    segment_lge(phantom.image, phantom.myocardium_mask, phantom.spacing_mm, method=method, n_sd=n_sd)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        segment_lge(phantom.image, phantom.myocardium_mask, phantom.spacing_mm, method=method, n_sd=n_sd)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def load_baseline(root: Path):
    """``segment_lge`` of another checkout (e.g. ``git worktree add /tmp/lge-main main``), loaded beside this one's
    (the package's modules are swapped out of ``sys.modules`` for the import and put back after)."""
    def ours():
        return [n for n in sys.modules if n == "LGEResolutionQALib" or n.startswith("LGEResolutionQALib.")]

    package = Path(root).resolve() / "LGEResolutionQA"
    if not (package / "LGEResolutionQALib" / "core" / "lge_segmentation.py").is_file():
        raise SystemExit(f"--baseline {root}: no LGEResolutionQA/LGEResolutionQALib/core/lge_segmentation.py there")
    saved = {n: sys.modules.pop(n) for n in ours()}
    sys.path.insert(0, str(package))
    try:
        module = importlib.import_module("LGEResolutionQALib.core.lge_segmentation")
    finally:
        sys.path.remove(str(package))
        for n in ours():
            del sys.modules[n]
        sys.modules.update(saved)
    if not Path(module.__file__).resolve().is_relative_to(package):
        raise SystemExit(f"--baseline {root}: imported {module.__file__} instead")
    return module.segment_lge


def timing_side_by_side(baseline, method: str, n_sd: float, repeats: int) -> tuple[float, float, bool]:
    """Median seconds of the baseline's and this checkout's ``segment_lge`` on the timing phantom, runs interleaved
    (so both see the same machine load), and whether their masks and LGE % are identical."""
    phantom = timing_phantom()
    args = (phantom.image, phantom.myocardium_mask, phantom.spacing_mm)
    times: dict = {"baseline": [], "this": []}
    identical = True
    for _ in range(repeats + 1):  # the first round warms up and is not timed
        out = {}
        for label, function in (("baseline", baseline), ("this", segment_lge)):
            start = time.perf_counter()
            out[label] = function(*args, method=method, n_sd=n_sd)
            times[label].append(time.perf_counter() - start)
        identical &= (np.array_equal(out["baseline"].scar_mask, out["this"].scar_mask)
                      and out["baseline"].lge_percent_of_lv == out["this"].lge_percent_of_lv)
    return float(np.median(times["baseline"][1:])), float(np.median(times["this"][1:])), bool(identical)


def bland_altman_figure(results: dict, path: Path, default: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [name for name, s in results.items() if "mad" in s]
    columns = min(3, len(shown))
    rows_n = int(np.ceil(len(shown) / columns))
    fig, axes = plt.subplots(rows_n, columns, figsize=(4.2 * columns, 3.4 * rows_n), dpi=100, squeeze=False)
    for ax, name in zip(axes.ravel(), shown, strict=False):
        s = results[name]
        infarct = [r for r in s["rows"] if r["infarct"] and r["refused"] is None]
        mean = np.array([(r["percent"] + r["expert"]) / 2 for r in infarct])
        delta = np.array([r["percent"] - r["expert"] for r in infarct])
        ax.scatter(mean, delta, s=12, color="tab:red" if name == default else "tab:blue")
        for value, style in ((s["bias"], "-"), (s["loa"][0], "--"), (s["loa"][1], "--")):
            ax.axhline(value, color="black", lw=1, ls=style)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_title(f"{name}{' (default)' if name == default else ''}: bias {s['bias']:+.1f}, "
                     f"LoA {s['loa'][0]:+.1f}..{s['loa'][1]:+.1f}", fontsize=8)
        ax.set_xlabel("mean of method and expert (% LV)", fontsize=8)
        ax.set_ylabel("method - expert (% LV)", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(shown):]:
        ax.axis("off")
    refused = [name for name, s in results.items() if "mad" not in s]
    fig.suptitle("LGE % of LV vs expert, EMIDEC development set (37 infarcts, expert myocardium)"
                 + (f"; refused on every case: {', '.join(refused)}" if refused else ""), fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as temporary:
        fig.savefig(temporary)
    plt.close(fig)
    return path


def _fmt(value, spec=".1f") -> str:
    return "—" if value is None or (isinstance(value, float) and not np.isfinite(value)) else format(value, spec)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--figure", type=Path, default=REPO / "Resources" / "Screenshots" / "lge_bland_altman.png")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--timing-only", action="store_true",
                        help="only the time of the LGE step on the 512 x 512 x 40 phantom (no data set needed)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per method (median reported)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="with --timing-only: another checkout's root (e.g. a git worktree of main), timed "
                             "interleaved with this one; prints the ratio and whether the results are identical")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.baseline is not None and not args.timing_only:
        parser.error("--baseline needs --timing-only")
    if args.timing_only:
        baseline = load_baseline(args.baseline) if args.baseline is not None else None
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        for label in ("gmm-pool", "gmm", "nsd-5"):
            method, n_sd = dict((lab, (m, n)) for lab, m, n in METHODS)[label]
            if baseline is None:
                seconds = timing(method, n_sd, args.repeats)
                print(f"LGE step ({label}) on a 512 x 512 x 40 ring phantom: median of {args.repeats} {seconds:.3f} s "
                      f"(target 0.5 s, ratio {seconds / 0.5:.2f})", flush=True)
                continue
            before, seconds, identical = timing_side_by_side(baseline, method, n_sd, args.repeats)
            print(f"LGE step ({label}) on a 512 x 512 x 40 ring phantom, median of {args.repeats} interleaved: "
                  f"baseline {before:.3f} s, this checkout {seconds:.3f} s (ratio {seconds / before:.2f}; target 0.5 s, "
                  f"ratio {seconds / 0.5:.2f}); identical results: {'yes' if identical else 'NO'}", flush=True)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return 0
    if not (args.data / "images").is_dir():
        print(f"EMIDEC development set not found at {args.data}", file=sys.stderr)
        return 1
    start = time.perf_counter()
    cases = load_cases(args.data)
    names = list(cases)
    print(f"{len(cases)} cases ({sum(n.startswith('Case_P') for n in names)} infarct) read in "
          f"{time.perf_counter() - start:.1f} s", flush=True)
    t0 = time.perf_counter()
    grid = pool_grid(cases)
    pool_key = choose_parameters(grid, names, DEFAULT_RULE)
    cv_summary, cv_keys = cross_validate(grid, names, rule=DEFAULT_RULE)
    other_key = choose_parameters(grid, names, ALTERNATIVE_RULE)
    other_summary = summarise(grid[other_key])
    cv_other, cv_other_keys = cross_validate(grid, names, rule=ALTERNATIVE_RULE)
    print(f"  gmm-pool grid ({len(grid)} points) done in {time.perf_counter() - t0:.1f} s", flush=True)
    chosen_options = pool_options(pool_key)
    results = {}
    for label, method, n_sd in METHODS:
        t0 = time.perf_counter()
        results[label] = evaluate(cases, method, n_sd, **(chosen_options if method == "gmm-pool" else {}))
        print(f"  {label:<8} done in {time.perf_counter() - t0:.1f} s", flush=True)
    default = choose(results)
    halves = []
    for half in (0, 1):
        subset = {n: cases[n] for n in names[half::2]}
        half_key = choose_parameters(grid, list(subset), DEFAULT_RULE)
        halves.append(choose({label: evaluate(subset, method, n_sd, **(
            pool_options(half_key) if method == "gmm-pool" else {})) for label, method, n_sd in METHODS}))
    core_default = {"nsd": "nsd-5", "gmm": "gmm", "otsu": "otsu", "fwhm": "fwhm"}.get(DEFAULT_METHOD, DEFAULT_METHOD)

    print("\n| method | mean abs Δ (points) | bias | SD of Δ | Bland–Altman 95% limits | r | median Dice | "
          "normals: mean FP % | max FP % | > 3% | refused | 0%/≥95% with expert > 5% (unwarned) | "
          "mean abs Δ, all 55 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for label, s in results.items():
        refused = len(s["refused"])
        if "mad" not in s:
            reason = s["refused"][0]["refused"].split(" (")[0] if refused else ""
            print(f"| {label} | — | — | — | — | — | — | — | — | — | {refused}/{s['n']} ({reason}) | — | — |")
            continue
        print(f"| {label}{' **(chosen)**' if label == default else ''} | {s['mad']:.1f} | {s['bias']:+.1f} | "
              f"{s['sd']:.1f} | {s['loa'][0]:+.1f} to {s['loa'][1]:+.1f} | {_fmt(s['r'], '.2f')} | {s['dice']:.2f} | "
              f"{_fmt(s.get('fp_mean'), '.2f')} | {_fmt(s.get('fp_max'))} | {s.get('fp_over3', '—')} | {refused}/{s['n']} | "
              f"{s['extreme']} ({s['extreme_unwarned']}) | {_fmt(s.get('mad_all'))} |")
    print(f"\nChoice rule (lowest mean abs Δ over all cases, no refusals): {default}; "
          f"halves (alternate cases): {halves[0]} / {halves[1]} -> "
          f"{'stable' if halves[0] == halves[1] == default else 'NOT stable'}. "
          f"Core default now: {core_default}{'' if core_default == default else ' (differs: update DEFAULT_METHOD)'}")
    core_key = (POOL_FRACTION, MIN_REGION_FRACTION, PEAK_FRACTION)

    def key_text(key):
        return f"f {key[0]:.2f} / minimum region {key[1]:.2f} / g {key[2]:.2f}"

    def line(s):
        return (f"mean abs Δ {s['mad']:.1f}, bias {s['bias']:+.1f}, SD {s['sd']:.1f}, limits {s['loa'][0]:+.1f} to "
                f"{s['loa'][1]:+.1f}, r {s['r']:.2f}, median Dice {s['dice']:.2f}; normals mean FP {s['fp_mean']:.2f}%, "
                f"max {s['fp_max']:.1f}%, {s['fp_over3']} > 3%; all 55 mean abs Δ {s['mad_all']:.1f}")

    print(f"\ngmm-pool parameters by the default's rule '{DEFAULT_RULE}' (lowest infarct mean abs Δ among grid points "
          f"meeting the normal-case targets: mean FP <= 1%, none > 3%; grid f {POOL_GRID} x minimum region "
          f"{MIN_REGION_GRID} x g {PEAK_GRID}): {key_text(pool_key)}; core constants now {key_text(core_key)}"
          f"{'' if tuple(pool_key) == core_key else ' (differ: update POOL_FRACTION / MIN_REGION_FRACTION / PEAK_FRACTION)'}")
    print(f"  whole set: {line(summarise(grid[pool_key]))}")
    without = {key: rows for key, rows in grid.items() if key[2] == 0.0}
    old_key = choose_parameters(without, names, "all")
    old_cv, old_keys = cross_validate(without, names, rule="all")
    print(f"Without the peak term (g = 0, the s20 method; the s20 rule 'all' on its part of the grid): {key_text(old_key)}: "
          f"{line(summarise(grid[old_key]))}")
    print(f"  cross-validated (per fold: {'; '.join(key_text(k) for k in old_keys)}): {line(old_cv)}")
    print(f"gmm-pool (default), {FOLDS}-fold cross-validated (parameters chosen by the rule '{DEFAULT_RULE}' on 4 folds, "
          f"measured on the held-out fold; per fold: {'; '.join(key_text(k) for k in cv_keys)}): {line(cv_summary)}")
    print(f"Alternative rule '{ALTERNATIVE_RULE}' (lowest mean abs Δ over all 55 cases, normals at 0%; the default's rule "
          f"until s21): {key_text(other_key)}: {line(other_summary)}")
    print(f"  cross-validated (per fold: {'; '.join(key_text(k) for k in cv_other_keys)}): {line(cv_other)}")
    target = (results[default]["mad"] <= 3.0 and results[default]["dice"] >= 0.70 and results[default]["fp_mean"] <= 1.0
              and results[default]["fp_over3"] == 0) if default else False
    print(f"Issue targets for the default ({default}; mean abs Δ ≤ 3, median Dice ≥ 0.70, normals mean FP ≤ 1%, none "
          f"> 3%): {'met' if target else 'NOT met'}")
    print("\nWith the expert's help (upper bounds, not methods):")
    for label, summary in (("n-SD 1.5, expert normal myocardium as remote", evaluate(cases, "nsd", 1.5, expert_remote=True)),
                           ("n-SD 2, expert normal myocardium as remote", evaluate(cases, "nsd", 2.0, expert_remote=True)),
                           ("best threshold per slice (chosen with the expert)", oracle_threshold(cases))):
        fp = f", normals mean FP {summary['fp_mean']:.2f}%" if "fp_mean" in summary else ""
        print(f"  {label}: mean abs Δ {summary['mad']:.1f}, bias {summary['bias']:+.1f}, median Dice {summary['dice']:.2f}{fp}")
    found, total, outside = mvo_rule_on_expert_infarct(cases)
    print(f"MVO rule on the expert infarct: {found} of {total} expert MVO voxels filled ({100 * found / total:.0f}%), "
          f"{outside} filled voxels outside the expert MVO")
    by_label = dict((label, (method, n_sd)) for label, method, n_sd in METHODS)
    if default:
        method, n_sd = by_label[default]
        with_mvo = evaluate(cases, method, n_sd, include_mvo=True, **(chosen_options if method == "gmm-pool" else {}))
        print(f"MVO ({default}): expert MVO voxels inside the LGE mask {100 * results[default]['mvo_recall']:.0f}% without, "
              f"{100 * with_mvo['mvo_recall']:.0f}% with include_mvo; mean abs Δ {results[default]['mad']:.1f} -> "
              f"{with_mvo['mad']:.1f}, median Dice {results[default]['dice']:.2f} -> {with_mvo['dice']:.2f}, "
              f"normals mean FP {results[default]['fp_mean']:.2f} -> {with_mvo['fp_mean']:.2f}%")
        path = bland_altman_figure(results, args.figure, default)
        print(f"wrote {path}")
        if not args.no_timing:
            seconds = timing(method, n_sd, args.repeats)  # gmm-pool at the core's constants
            print(f"LGE step ({default}) on a 512 x 512 x 40 ring phantom: {seconds:.3f} s (target 0.5 s, ratio "
                  f"{seconds / 0.5:.2f})")
            for label in results:
                if label != default and label in ("nsd-5", "gmm", "gmm-pool"):
                    other = timing(*by_label[label], args.repeats)
                    print(f"  {label}: {other:.3f} s (ratio {other / 0.5:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
