"""Why the default LGE method misses the expert on the EMIDEC development set: a per-case diagnosis (not a test).

Data and mask as in ``bench_lge_emidec.py`` (expert myocardium, automatic everything else, the core's default
``gmm-pool`` constants). For each infarct case, per short-axis slice where it helps:

* **where the voxels are lost**: LGE % after the threshold alone, after the in-plane rules (``spatial_cleanup``: small
  regions, endocardial contact; without the core fill) and at the end (cores filled, slice-to-slice rule) — so an
  under-call is put on the threshold or on the spatial rules; expert MVO (label 4) left outside the mask, % of LV;
* **whether the references are right**: the mixture's normal mean μ_n against the expert's normal myocardium (label
  2) and the expert infarct's mean, both in units of the slice's contrast B − μ_n (B: the blood pool), i.e. how far
  the expert's infarct lies from normal on the way to the blood pool; the normal SD in the same units;
* **whether a histogram feature predicts the error**: per case the scale s of the threshold above μ_n
  (T' = μ_n + s·(T − μ_n), on the threshold alone) whose LGE % matches the expert, and its Spearman correlation with
  features the method can observe (the 99th percentile, the normal SD, the mixture's bright weight and separation, the
  median and upper quartile, all in B − μ_n units);
* **paired comparison** of a parameter choice (``--compare f,region,g``, default the benchmark's "all" rule choice
  0.60 / 0.03 / 0.40, the default until s21; since s22 the default is the "specific" choice 0.60 / 0.01 / 0.40) against
  the default, case by case: mean difference of |Δ LGE %|, its bootstrap 95% interval,
  how many cases gain or lose more than 0.5 points, and the normals.

Run: ``nice .venv/bin/python benchmarks/diag_lge_emidec.py`` (about a minute), ``--cases Case_P019,Case_P001`` adds
their per-slice tables. Figures are in docs/LGE_METHODS.md §5.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lge_emidec import DEFAULT_DATA, NOMINAL_SPACING, load_cases  # noqa: E402
from LGEResolutionQALib.core.intensity_models import fit_two_gaussians_batch  # noqa: E402
from LGEResolutionQALib.core.lge_segmentation import (  # noqa: E402
    MIN_REGION_FRACTION,
    PEAK_FRACTION,
    POOL_FRACTION,
    segment_lge,
    spatial_cleanup,
)

SCALES = np.round(np.arange(0.20, 1.6001, 0.025), 3)
FEATURES = ("u99", "sd", "bright weight", "separation D", "u median", "u75")


def paired_difference(before: dict, after: dict, resamples: int = 2000, seed: int = 0) -> dict:
    """Case-by-case comparison of two methods' absolute errors ({case: |Δ|} each, same cases): mean of after − before,
    its percentile-bootstrap 95% interval over cases, and how many cases gain / lose more than 0.5 points."""
    if set(before) != set(after) or not before:
        raise ValueError("paired_difference needs the same, non-empty set of cases on both sides")
    cases = sorted(before)
    d = np.array([after[c] - before[c] for c in cases], dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, (resamples, d.size))].mean(axis=1)
    return {"mean": float(d.mean()), "low": float(np.percentile(means, 2.5)), "high": float(np.percentile(means, 97.5)),
            "better": int(np.sum(d < -0.5)), "worse": int(np.sum(d > 0.5)), "n": int(d.size)}


def slice_features(values: np.ndarray, normal: float, blood: float) -> dict:
    """Observable features of one slice's myocardial intensities in units of its contrast B − μ_n."""
    fit = fit_two_gaussians_batch([values])[0]
    scale = blood - normal
    return {"u99": (np.percentile(values, 99) - normal) / scale, "sd": fit.sd_dark_au / scale,
            "bright weight": fit.weight_bright, "separation D": fit.ashman_d,
            "u median": (np.median(values) - normal) / scale, "u75": (np.percentile(values, 75) - normal) / scale}


def diagnose_case(image: np.ndarray, labels: np.ndarray, options: dict) -> dict:
    """Per-slice and per-case figures of the default method on one case (see the module docstring)."""
    myo, expert = labels >= 2, labels >= 3
    result = segment_lge(image, myo, NOMINAL_SPACING, **options)
    n_myo = int(myo.sum())
    raw = np.zeros_like(myo)
    inplane = np.zeros_like(myo)
    slices, matched, features = [], np.zeros(SCALES.size), []
    for row in result.per_slice:
        k = row.slice_index
        values = image[k][myo[k]].astype(np.float64)
        normal = fit_two_gaussians_batch([values])[0].mean_dark_au
        blood, threshold = row.reference_au, row.threshold_au
        if threshold is not None:
            raw[k] = myo[k] & (image[k] >= threshold)
            inplane[k] = spatial_cleanup(raw[k], myo[k], options["min_region_fraction"])[0]
        contrast = blood - normal if blood is not None and blood > normal else None
        normal_expert = image[k][labels[k] == 2]
        infarct_expert = image[k][expert[k]]
        slices.append({
            "k": k, "expert": 100 * expert[k].sum() / myo[k].sum(), "raw": 100 * raw[k].sum() / myo[k].sum(),
            "in-plane": 100 * inplane[k].sum() / myo[k].sum(), "final": row.lge_percent,
            "threshold": threshold, "normal": normal, "blood": blood, "status": row.status,
            "normal_vs_expert": (normal - normal_expert.mean()) / contrast if contrast and normal_expert.size else None,
            "infarct_u": (infarct_expert.mean() - normal) / contrast if contrast and infarct_expert.size else None,
            "expert_normal_sd": normal_expert.std() / contrast if contrast and normal_expert.size > 1 else None})
        if threshold is not None and contrast:
            matched += np.array([(values >= normal + s * (threshold - normal)).sum() for s in SCALES])
            features.append(slice_features(values, normal, blood))
    expert_percent = 100 * expert.sum() / n_myo

    def median(key):
        picked = [s[key] for s in slices if s[key] is not None and s["expert"] > 0]
        return float(np.median(picked)) if picked else float("nan")

    return {
        "expert": expert_percent, "found": result.lge_percent_of_lv, "raw": 100 * raw.sum() / n_myo,
        "in-plane": 100 * inplane.sum() / n_myo, "mvo_missed": 100 * ((labels == 4) & ~result.scar_mask).sum() / n_myo,
        "normal_vs_expert": median("normal_vs_expert"), "infarct_u": median("infarct_u"),
        "best_scale": float(SCALES[np.argmin(np.abs(100 * matched / n_myo - expert_percent))]) if features else None,
        "features": {name: float(np.median([f[name] for f in features])) for name in FEATURES} if features else None,
        "slices": slices, "tp_fp": {stage: (int((mask & expert).sum()), int((mask & ~expert).sum()))
                                    for stage, mask in (("threshold", raw), ("in-plane rules", inplane),
                                                        ("final", result.scar_mask))}}


def main(argv=None) -> int:
    from scipy.stats import spearmanr

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cases", default="", help="comma-separated case names for per-slice tables")
    parser.add_argument("--compare", default="0.60,0.03,0.40", help="f,minimum region,g compared with the default")
    args = parser.parse_args(argv)
    if not (args.data / "images").is_dir():
        print(f"EMIDEC development set not found at {args.data}", file=sys.stderr)
        return 1
    cases = load_cases(args.data)
    default = {"pool_fraction": POOL_FRACTION, "min_region_fraction": MIN_REGION_FRACTION, "peak_fraction": PEAK_FRACTION}
    f, a, g = (float(x) for x in args.compare.split(","))
    other = {"pool_fraction": f, "min_region_fraction": a, "peak_fraction": g}
    out = {name: diagnose_case(image, labels, default) for name, (image, labels) in cases.items()}
    infarct = {n: d for n, d in out.items() if n.startswith("Case_P")}
    print(f"Default gmm-pool (f {POOL_FRACTION}, minimum region {MIN_REGION_FRACTION}, g {PEAK_FRACTION}); infarct cases "
          "by error. LGE % of LV: expert, after the threshold, after the in-plane rules, final; expert MVO outside the "
          "mask; medians over the slices with expert LGE, in units of B - mu_n: mu_n - expert normal mean, expert "
          "infarct mean - mu_n, and the threshold scale s that matches the expert %.")
    print("| case | expert | threshold | in-plane | final | Δ | MVO missed | μ_n − expert normal | expert infarct u | s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, d in sorted(infarct.items(), key=lambda item: item[1]["found"] - item[1]["expert"]):
        print(f"| {name} | {d['expert']:.1f} | {d['raw']:.1f} | {d['in-plane']:.1f} | {d['found']:.1f} | "
              f"{d['found'] - d['expert']:+.1f} | {d['mvo_missed']:.1f} | {d['normal_vs_expert']:+.2f} | "
              f"{d['infarct_u']:.2f} | {d['best_scale'] if d['best_scale'] is not None else '—'} |")
    totals = {stage: np.sum([d["tp_fp"][stage] for d in out.values()], axis=0) for stage in ("threshold", "in-plane rules", "final")}
    print("\nVoxels inside / outside the expert LGE, all 55 cases: " + "; ".join(
        f"{stage} {tp} / {fp}" for stage, (tp, fp) in totals.items()))
    usable = [d for d in infarct.values() if d["features"] is not None]
    scales = [d["best_scale"] for d in usable]
    print(f"Spearman ρ of the matching scale s with observable features ({len(usable)} infarct cases): " + ", ".join(
        f"{name} {spearmanr(scales, [d['features'][name] for d in usable])[0]:+.2f}" for name in FEATURES))
    print(f"  and with the expert's own extent (not observable): "
          f"{spearmanr(scales, [d['expert'] for d in usable])[0]:+.2f}")
    alternative = {name: diagnose_case(image, labels, other) for name, (image, labels) in cases.items()}
    paired = paired_difference({n: abs(d["found"] - d["expert"]) for n, d in infarct.items()},
                               {n: abs(alternative[n]["found"] - alternative[n]["expert"]) for n in infarct})
    normals = [alternative[n]["found"] for n in out if not n.startswith("Case_P")]
    print(f"\nPaired, f {f} / minimum region {a} / g {g} against the default, {paired['n']} infarct cases: mean change of "
          f"|Δ| {paired['mean']:+.2f} points (bootstrap 95% {paired['low']:+.2f} to {paired['high']:+.2f}); "
          f"{paired['better']} cases better, {paired['worse']} worse by more than 0.5; normals mean "
          f"{np.mean(normals):.2f}%, max {max(normals):.1f}%, {sum(x > 3 for x in normals)} > 3%")
    for name in filter(None, args.cases.split(",")):
        print(f"\n{name} per slice (LGE % of the slice; grey levels; u = units of B − μ_n):")
        print("| k | expert | threshold | in-plane | final | T | μ_n | B | status | μ_n − expert normal (u) | "
              "expert infarct (u) | expert normal SD (u) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for s in out[name]["slices"]:
            def u(x):
                return "—" if x is None else f"{x:+.2f}"
            print(f"| {s['k']} | {s['expert']:.1f} | {s['raw']:.1f} | {s['in-plane']:.1f} | {s['final']:.1f} | "
                  f"{'—' if s['threshold'] is None else format(s['threshold'], '.1f')} | {s['normal']:.1f} | "
                  f"{'—' if s['blood'] is None else format(s['blood'], '.1f')} | {s['status']} | "
                  f"{u(s['normal_vs_expert'])} | {u(s['infarct_u'])} | {u(s['expert_normal_sd'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
