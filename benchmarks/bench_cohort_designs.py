"""How often the simulated cohort designs of ``cardiac-lge cohort-demo`` give p < 0.05 (Holm), over seeds.

The end-to-end test (Testing/cli/test_cohort_workflow.py) runs each design with seed 0. This script
repeats them for ``--seeds`` seeds and prints, per measure, in how many runs the comparison against the
reference was significant: for "nr-hr" (a known difference) the sharpness, rise distance and the
resolution-related scores should be significant in every run; for "same-resolution" (a true null)
about 5% of runs per measure. Run: ``.venv/bin/python benchmarks/bench_cohort_designs.py --seeds 20``.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from cardiac_lge.commands.cohort_demo import simulate_cohort


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--designs", nargs="+", default=["nr-hr", "same-resolution"])
    args = parser.parse_args()
    for design in args.designs:
        counts, seen, start = {}, {}, time.perf_counter()
        for seed in range(args.seeds):
            with tempfile.TemporaryDirectory() as folder:
                result = simulate_cohort(folder, args.patients, seed=seed, design=design, n_readers=2,
                                         supersample_mm=0.2, blinded_copies=False, figure=False,
                                         progress=lambda text: None)["result"]
            for row in result.comparisons:
                key = row["measure"]
                seen[key] = seen.get(key, 0) + 1
                counts[key] = counts.get(key, 0) + int(row["p_holm"] < 0.05)
            print(f"{design}: seed {seed + 1}/{args.seeds} done", flush=True)
        print(f"\n{design}: runs with Holm p < 0.05 out of {args.seeds} seeds ({args.patients} patients, "
              f"{time.perf_counter() - start:.0f} s)")
        for key in seen:
            print(f"  {key:<32} {counts[key]:>3} / {seen[key]}")
        if design == "same-resolution":
            total, runs = sum(counts.values()), sum(seen.values())
            print(f"  all measures: {total} / {runs} = {100 * total / runs:.1f}% (nominal 5%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
