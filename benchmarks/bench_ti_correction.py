"""Benchmark of TI null-point correction: accuracy, speed ratios and memory, measured in one run.

    .venv/bin/python benchmarks/bench_ti_correction.py [--n-series 500] [--compare-vgg]

1. Accuracy of the shipped models (the CNN, and the CNN with the inversion-recovery fit of the myocardium
   found by the U-Net: the answer `ti-correct` gives without an ROI) on held-out simulated series (seed 777001, never a training seed;
   both field strengths, magnitude + phase-sensitive, with/without scar, as the simulator draws them),
   plain and as phone photos of a 4K and a 3 MP monitor, in the layout of the published table; with
   ``--conditions ... native`` also on native (pre-contrast) scouts, outside the post-contrast test set.
2. Speed of `ti-correct` on a 30-frame DICOM series (load + inference + recommendation, after warm-up),
   and per-frame inference time of the default (sequence), the compact per-frame and the VGG-16
   configurations on the same 30-frame input in the same run.
3. Peak resident memory of the `cardiac-lge ti-correct` command.
4. With --compare-vgg: the default (sequence) and the VGG-16 configuration trained the same way on the
   same small simulated set (budget below), evaluated on the same held-out series, side by side.
Prints ratios and figures; it asserts nothing (tests are not timers).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]


def held_out_cases(n: int, seed: int, photo: str | None = None, native: bool = False):
    from TINullCorrectionLib.sim.simulator import SimulationRanges, simulate_scout

    rng = np.random.default_rng(seed)
    ranges = SimulationRanges(p_native=1.0 if native else 0.0)
    cases = []
    for _ in range(n):
        simulated = simulate_scout(rng, ranges)
        if photo is not None:
            from TINullCorrectionLib.sim.photo import degrade_scout_as_photo

            simulated = degrade_scout_as_photo(simulated, rng, monitor=photo)
        cases.append((simulated.scout, simulated.null_ti_ms, bool(simulated.parameters["phase_sensitive"])))
    return cases


def accuracy(model, n_series: int, seed: int, myocardium_model=None, conditions=(None, "4k", "3mp")) -> None:
    from cardiac_lge.training.evaluation import (
        evaluate,
        format_table,
        series_breakdown,
        simulated_operator_choices,
    )

    for condition in conditions:
        started = time.perf_counter()
        native = condition == "native"
        photo = None if native else condition
        try:
            cases = held_out_cases(n_series, seed, photo, native=native)
        except ImportError as error:
            print(f"\n(photo degradation unavailable: {error})")
            continue
        chosen = simulated_operator_choices([null for _, null, _ in cases], seed + 1)
        result = evaluate(model, [(scout, null) for scout, null, _ in cases], chosen_ti_ms=chosen,
                          myocardium_model=myocardium_model)
        label = "native (pre-contrast)" if native else ("plain" if photo is None else f"phone photo of a {photo} monitor")
        print(f"\n{format_table(result, f'[{label}] {model.name}, {n_series} held-out simulated series, seed {seed}')}")
        phase_sensitive = np.array([kind for _, _, kind in cases])
        for name, selected in (("magnitude", ~phase_sensitive), ("phase-sensitive", phase_sensitive)):
            b = series_breakdown(result, selected)
            print(f"series estimate, {name} scouts only: {b.optimal_pct:.1f}% optimal "
                  f"({b.above_pct:.1f}% above, {b.below_pct:.1f}% below; n = {b.n})")
        print(f"({time.perf_counter() - started:.0f} s)")


def ti_correct_speed(model, myocardium_model=None) -> float:
    from TINullCorrectionLib.core.pipeline import analyse_scout
    from TINullCorrectionLib.io.dicom import load_ti_scouts
    from TINullCorrectionLib.sim.dicom_writer import write_scout_dicom
    from TINullCorrectionLib.sim.simulator import simulate_scout

    simulated = simulate_scout(np.random.default_rng(4), n_frames=30, matrix=192)
    with tempfile.TemporaryDirectory() as folder:
        write_scout_dicom(simulated.scout, folder, vendor="siemens")

        def once() -> None:
            for scout in load_ti_scouts([folder]):
                analyse_scout(scout, model, myocardium_model=myocardium_model)

        once()  # warm-up
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            once()
            timings.append(time.perf_counter() - started)
    seconds = float(np.median(timings))
    path = "load + CNN + U-Net + IR fit + recommendation" if myocardium_model is not None else "load + CNN + recommendation"
    print(f"\nti-correct core path on a 30-frame 192x192 DICOM series ({path}): median {seconds:.3f} s of 5")
    return seconds


def per_frame_speed() -> None:
    from TINullCorrectionLib.core.preprocessing import N_CHANNELS, N_SCALARS, PreprocessConfig
    from TINullCorrectionLib.networks.architectures import OffsetBins, build_network

    grid = PreprocessConfig().grid
    images, scalars = torch.randn(1, 30, N_CHANNELS, grid, grid), torch.randn(1, 30, N_SCALARS)
    mask = torch.ones(1, 30, dtype=torch.bool)
    per_frame = {}
    for architecture in ("sequence", "compact", "vgg16"):
        network = build_network(architecture, OffsetBins().n_classes).eval()
        with torch.inference_mode():
            network(images, scalars, mask)
            started = time.perf_counter()
            for _ in range(5):
                network(images, scalars, mask)
        per_frame[architecture] = (time.perf_counter() - started) / (5 * 30)
        n_parameters = sum(p.numel() for p in network.parameters())
        print(f"{architecture:8s}: {1000 * per_frame[architecture]:.2f} ms per frame, {n_parameters / 1e6:.2f} M parameters")
    print(f"default (sequence) is {per_frame['vgg16'] / per_frame['sequence']:.1f}x faster per frame than the VGG-16 configuration "
          f"({torch.get_num_threads()} threads)")


def cli_peak_memory() -> None:
    """Peak RSS of the command, read from /proc/<pid>/status VmHWM while it runs (the high-water mark of
    the command's own address space; rusage of children would include the forked benchmark's pages)."""
    from TINullCorrectionLib.sim.dicom_writer import write_scout_dicom
    from TINullCorrectionLib.sim.simulator import simulate_scout

    simulated = simulate_scout(np.random.default_rng(8), n_frames=30, matrix=256)
    with tempfile.TemporaryDirectory() as folder:
        write_scout_dicom(simulated.scout, folder, vendor="philips")
        process = subprocess.Popen([sys.executable, "-m", "cardiac_lge.cli", "ti-correct", folder, "--quiet"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak_kb = 0
        while process.poll() is None:
            try:
                status = Path(f"/proc/{process.pid}/status").read_text()
                peak_kb = max(peak_kb, int(status.split("VmHWM:")[1].split()[0]))
            except (FileNotFoundError, IndexError, ProcessLookupError):
                pass
            time.sleep(0.01)
    if process.returncode != 0:
        raise RuntimeError("cardiac-lge ti-correct failed in the memory benchmark")
    print(f"\ncardiac-lge ti-correct peak resident memory: {peak_kb / 1024:.0f} MB (30 frames, 256x256; VmHWM)")


def real_philips_look_locker(model, myocardium_model=None) -> None:
    """The real native Philips Look-Locker in ../shared/data: CNN null vs inversion-recovery fit of the septum."""
    import os

    from TINullCorrectionLib.core.irfit import fit_scout_roi
    from TINullCorrectionLib.core.pipeline import analyse_scout
    from TINullCorrectionLib.io.dicom import load_ti_scouts

    folder = Path(os.environ.get("CARDIACLGE_SHARED_DATA", REPO.parent / "shared" / "data")) / "look_locker_native_philips"
    if not folder.is_dir():
        print(f"\n(real Philips Look-Locker not found at {folder})")
        return
    scouts = load_ti_scouts([folder])
    print(f"\nreal Philips native Look-Locker: {len(scouts)} slices x {scouts[0].n_frames} frames, TI {scouts[0].ti_ms[0]:.0f}-{scouts[0].ti_ms[-1]:.0f} ms")
    middle = scouts[len(scouts) // 2]
    mask = np.zeros(middle.frames.shape[1:], bool)
    mask[118:134, 123:127] = True  # septum of the middle slice (rows 118-133, columns 123-126)
    fit = fit_scout_roi(middle, mask)
    result = analyse_scout(middle, model).recommendation
    print(f"middle slice septum: IR-fit null {fit.null_ti_ms:.0f} +/- {fit.null_uncertainty_ms:.0f} ms (T1 {fit.t1_ms:.0f} ms, R^2 {fit.r_squared:.3f}); "
          f"CNN null {result.cnn.null_ti_ms:.0f} +/- {result.cnn.uncertainty_ms:.0f} ms; difference {result.cnn.null_ti_ms - fit.null_ti_ms:+.0f} ms")
    for scout in scouts:
        cnn = analyse_scout(scout, model).recommendation.cnn
        line = f"  {scout.slice_label}: CNN null {cnn.null_ti_ms:.0f} +/- {cnn.uncertainty_ms:.0f} ms"
        if myocardium_model is not None:
            automatic = analyse_scout(scout, model, myocardium_model=myocardium_model).recommendation
            if automatic.ir_fit is not None:
                line += (f"; IR fit of the automatic myocardium ({int(automatic.myocardium_mask.sum())} px) "
                         f"{automatic.ir_fit.null_ti_ms:.0f} ms (R^2 {automatic.ir_fit.r_squared:.3f}); final {automatic.final.null_ti_ms:.0f} ms "
                         f"({automatic.final.method})")
            else:
                line += f"; automatic myocardium: {'; '.join(automatic.warnings)}"
        print(line)


def compare_vgg(n_train: int, epochs: int, n_test: int, seed: int) -> None:
    from cardiac_lge.training.evaluation import evaluate, format_table
    from cardiac_lge.training.ti_offset import TrainingConfig, simulate_series_set, train_model

    series = simulate_series_set(n_train, seed=31337, photo_fraction=0.0)
    cases = [(scout, null) for scout, null, _ in held_out_cases(n_test, seed)]
    for architecture in ("sequence", "vgg16"):
        started = time.perf_counter()
        config = TrainingConfig(architecture=architecture, n_series=n_train, epochs=epochs, seed=31337,
                                learning_rate=2e-3 if architecture == "sequence" else 5e-4)
        model, _ = train_model(config, series=series, show_progress=False, log=lambda _: None)
        seconds = time.perf_counter() - started
        result = evaluate(model, cases)
        print(f"\n{format_table(result, f'{architecture}: trained on {n_train} series x {epochs} epochs in {seconds:.0f} s')}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-series", type=int, default=500)
    parser.add_argument("--seed", type=int, default=777001)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--compare-vgg", action="store_true")
    parser.add_argument("--compare-train-series", type=int, default=300)
    parser.add_argument("--compare-epochs", type=int, default=2)
    parser.add_argument("--compare-test-series", type=int, default=150)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--conditions", nargs="+", default=["plain", "4k", "3mp"], choices=["plain", "4k", "3mp", "native"],
                        help="test sets: post-contrast DICOM-quality (plain), photos of a 4K / 3 MP monitor, native scouts")
    parser.add_argument("--cnn-only", action="store_true", help="without the automatic myocardium + IR fit")
    args = parser.parse_args()
    from TINullCorrectionLib.networks.ti_offset import load_model

    model = load_model(args.model)
    print(f"model {model.name}: {model.card}")
    myocardium_model = None
    if not args.cnn_only:
        from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model

        myocardium_model = load_segmentation_model()
        print(f"myocardium model {myocardium_model.name}: {myocardium_model.card}")
    if not args.skip_accuracy:
        conditions = [None if c == "plain" else c for c in args.conditions]
        accuracy(model, args.n_series, args.seed, myocardium_model, conditions)
    real_philips_look_locker(model, myocardium_model)
    ti_correct_speed(model)
    if myocardium_model is not None:
        ti_correct_speed(model, myocardium_model)
    per_frame_speed()
    cli_peak_memory()
    if args.compare_vgg:
        compare_vgg(args.compare_train_series, args.compare_epochs, args.compare_test_series, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
