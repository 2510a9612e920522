"""Does the reported 1-sigma of the inversion-recovery fit of a user ROI cover its error? (issue 12 A8)

On held-out simulated scouts (seeds not used for training, the benchmark table or the CNN calibration) the
fit of the TRUE remote-myocardium mask (``SimulatedScout.myocardium_mask``: what a careful user draws) is
compared with the analytic null. For each condition it prints the median error, the robust SD (1.4826 MAD)
of error / reported SD, and the share of series whose error lies within the reported 1 sigma (68% is the
target) and 2 sigma (95%), for the raw covariance uncertainty and for the calibrated one
(core/recommendation.py ``calibrated_fit_uncertainty``).

    .venv/bin/python benchmarks/bench_roi_fit_uncertainty.py --seed 998021 --n-series 300          # calibration set
    .venv/bin/python benchmarks/bench_roi_fit_uncertainty.py --seed 998023 --n-series 300          # check set
    .venv/bin/python benchmarks/bench_roi_fit_uncertainty.py --fit-calibration --seed 998021       # fit k and floor

``--automatic`` measures the fit of the automatic myocardium (the U-Net's, as ti-correct without an ROI) instead,
with its own calibration (``calibrated_fit_uncertainty(..., automatic=True)``):

    .venv/bin/python benchmarks/bench_roi_fit_uncertainty.py --automatic --fit-calibration --seed 998021 --conditions plain 4k 3mp
    .venv/bin/python benchmarks/bench_roi_fit_uncertainty.py --automatic --seed 998023 --conditions plain 4k 3mp

``--fit-calibration`` fits sd_calibrated = sqrt((k sd)^2 + floor^2) by maximum likelihood (errors taken as
Gaussian with that SD) per condition and prints k and the floor.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "TINullCorrection"))

from TINullCorrectionLib.core.irfit import fit_scout_roi  # noqa: E402
from TINullCorrectionLib.core.recommendation import RecommendationSettings, calibrated_fit_uncertainty  # noqa: E402
from TINullCorrectionLib.sim.simulator import simulate_scout  # noqa: E402


def measure(n_series: int, seed: int, photo: str | None, unet=None):
    """(errors ms, reported SD ms, screen_capture) of the fits of the true remote-myocardium mask (or, with ``unet``,
    of the automatic myocardium)."""
    from TINullCorrectionLib.core.automatic_myocardium import fit_automatic_myocardium
    from TINullCorrectionLib.sim.photo import degrade_scout_as_photo

    rng = np.random.default_rng(seed)
    errors, sds, screen = [], [], []
    for index in range(n_series):
        simulated = simulate_scout(rng)
        if photo is not None:
            simulated = degrade_scout_as_photo(simulated, rng, monitor=photo)
        scout = simulated.scout
        try:
            if unet is None:
                fit = fit_scout_roi(scout, simulated.myocardium_mask)
            else:
                fit, _ = fit_automatic_myocardium(scout, unet.myocardium_probability(scout))
        except ValueError:
            continue
        if not (math.isfinite(fit.null_ti_ms) and math.isfinite(fit.null_uncertainty_ms) and fit.null_uncertainty_ms > 0):
            continue
        errors.append(fit.null_ti_ms - simulated.null_ti_ms)
        sds.append(fit.null_uncertainty_ms)
        screen.append(bool(scout.screen_capture))
        if (index + 1) % 50 == 0:
            print(f"  {index + 1}/{n_series}", file=sys.stderr, flush=True)
    return np.array(errors), np.array(sds), np.array(screen)


def coverage(errors: np.ndarray, sds: np.ndarray) -> dict:
    z = errors / sds
    mad = float(np.median(np.abs(z - np.median(z))))
    return {"n": int(errors.size), "median_error_ms": float(np.median(errors)), "mae_ms": float(np.mean(np.abs(errors))),
            "median_sd_ms": float(np.median(sds)), "robust_sd_of_z": 1.4826 * mad,
            "within_1sd_pct": 100.0 * float(np.mean(np.abs(z) <= 1.0)), "within_2sd_pct": 100.0 * float(np.mean(np.abs(z) <= 2.0))}


def fit_calibration(errors: np.ndarray, sds: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood (k, floor) of errors ~ N(0, (k sd)^2 + floor^2) (grid search, then refined)."""
    from scipy.optimize import minimize

    def negative_log_likelihood(params):
        k, floor = np.exp(params)
        variance = (k * sds) ** 2 + floor**2
        return float(np.sum(0.5 * np.log(variance) + 0.5 * errors**2 / variance))

    best = minimize(negative_log_likelihood, x0=np.log([2.0, 2.0]), method="Nelder-Mead")
    k, floor = np.exp(best.x)
    return float(k), float(floor)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-series", type=int, default=300)
    parser.add_argument("--seed", type=int, default=998023)
    parser.add_argument("--conditions", nargs="+", default=["plain", "4k"], choices=["plain", "4k", "3mp"])
    parser.add_argument("--fit-calibration", action="store_true")
    parser.add_argument("--automatic", action="store_true", help="the automatic myocardium's fit instead of the true mask")
    args = parser.parse_args()
    settings = RecommendationSettings()
    unet = None
    if args.automatic:
        from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model

        unet = load_segmentation_model()
    for condition in args.conditions:
        errors, sds, screen = measure(args.n_series, args.seed, None if condition == "plain" else condition, unet)
        raw = coverage(errors, sds)
        calibrated_sds = np.array([calibrated_fit_uncertainty(sd, s, settings, automatic=args.automatic)
                                   for sd, s in zip(sds, screen, strict=True)])
        calibrated = coverage(errors, calibrated_sds)
        print(f"{condition} (seed {args.seed}, {raw['n']} series): median error {raw['median_error_ms']:+.1f} ms, "
              f"MAE {raw['mae_ms']:.1f} ms")
        for name, values in (("raw covariance SD", raw), ("calibrated SD", calibrated)):
            print(f"  {name:18s}: median {values['median_sd_ms']:5.1f} ms, robust SD of error/SD {values['robust_sd_of_z']:5.2f}, "
                  f"within 1 SD {values['within_1sd_pct']:5.1f}%, within 2 SD {values['within_2sd_pct']:5.1f}%")
        if args.fit_calibration:
            k, floor = fit_calibration(errors, sds)
            print(f"  maximum-likelihood calibration: sd = sqrt(({k:.2f} sd)^2 + ({floor:.2f} ms)^2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
