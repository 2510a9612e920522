"""Benchmark of TI null-point correction: accuracy, speed ratios and memory, measured in one run.

    .venv/bin/python benchmarks/bench_ti_correction.py [--n-series 500] [--backends onnxruntime torch]
        [--batch-series 200 --workers 1 2 --baseline-tree DIR [--tree-rounds 9]] [--compare-vgg] [--write-accuracy]

Inference runs on onnxruntime (the shipped .onnx files); ``--backends onnxruntime torch`` evaluates the same
held-out series with both the ONNX files and the torch .pt weights they were exported from, table beside
table (needs the [train] profile for torch).

1. Accuracy of the shipped models (the CNN, and the CNN with the inversion-recovery fit of the myocardium
   found by the U-Net: the answer `ti-correct` gives without an ROI) on held-out simulated series (seed 777001, never a training seed;
   both field strengths, magnitude + phase-sensitive, with/without scar, as the simulator draws them),
   plain and as phone photos of a 4K and a 3 MP monitor, in the layout of the published table; with
   ``--conditions ... native`` also on native (pre-contrast) scouts, outside the post-contrast test set.
2. Speed, side by side in one run: per-frame time of both networks on onnxruntime and torch (1 thread and
   the runtime's default); the 30-frame `ti-correct` core path (load + CNN + U-Net + IR fits +
   recommendation, after warm-up) on each backend with its breakdown; the per-frame time of the compact
   per-frame and VGG-16 configurations (torch); with ``--batch-series N`` the `ti-correct --batch` throughput
   over N simulated series for each ``--workers`` count, and, with ``--baseline-tree DIR`` (a checkout of an
   earlier commit, e.g. ``git archive main``), the same core path and batch run of that code.
3. Peak resident memory of the `cardiac-lge ti-correct` command.
4. With --compare-vgg: the default (sequence) and the VGG-16 configuration trained the same way on the
   same small simulated set (budget below), evaluated on the same held-out series, side by side.
Prints ratios and figures; it asserts nothing (tests are not timers).
With --write-accuracy the accuracy figures of the conditions measured are written into
TINullCorrectionLib/models/measured_accuracy.json (atomically), the one file that every user-facing text about
the shipped models' accuracy quotes; Testing/ti/networks/test_measured_accuracy.py then checks that the model
card and the README quote the same figures (update their tables with the printed numbers).
"""

from __future__ import annotations

import argparse
import inspect
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("onnxruntime", "torch")


def load_backend(backend: str, model_path=None, threads: int | None = None, myocardium: bool = True):
    """(TI model, myocardium model or None) of one backend: the shipped .onnx files, or the .pt files they
    were exported from (torch; the [train] profile)."""
    if backend == "onnxruntime":
        from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model
        from TINullCorrectionLib.networks.ti_offset import load_model

        return load_model(model_path, threads=threads), (load_segmentation_model(threads=threads) if myocardium else None)
    import torch
    from TINullCorrectionLib.networks.torch_models import load_torch_model, load_torch_segmentation_model

    if threads:
        torch.set_num_threads(threads)
    pt_path = None if model_path is None else Path(model_path).with_suffix(".pt")
    return load_torch_model(pt_path), (load_torch_segmentation_model() if myocardium else None)


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


def accuracy(backends: dict, n_series: int, seed: int, conditions=(None, "4k", "3mp")) -> dict:
    """The accuracy table of every backend ({name: (model, myocardium model)}) on the same held-out series;
    returns {condition name (plain, 4k, 3mp, native): EvaluationResult} of the first backend."""
    from cardiac_lge.training.evaluation import (
        evaluate,
        format_table,
        series_breakdown,
        simulated_operator_choices,
    )

    results = {}
    for condition in conditions:
        native = condition == "native"
        photo = None if native else condition
        try:
            cases = held_out_cases(n_series, seed, photo, native=native)
        except ImportError as error:
            print(f"\n(photo degradation unavailable: {error})")
            continue
        chosen = simulated_operator_choices([null for _, null, _ in cases], seed + 1)
        label = "native (pre-contrast)" if native else ("plain" if photo is None else f"phone photo of a {photo} monitor")
        for backend, (model, myocardium_model) in backends.items():
            started = time.perf_counter()
            result = evaluate(model, [(scout, null) for scout, null, _ in cases], chosen_ti_ms=chosen,
                              myocardium_model=myocardium_model)
            print(f"\n{format_table(result, f'[{label}] [{backend}] {model.name}, {n_series} held-out simulated series, seed {seed}')}")
            phase_sensitive = np.array([kind for _, _, kind in cases])
            for name, selected in (("magnitude", ~phase_sensitive), ("phase-sensitive", phase_sensitive)):
                b = series_breakdown(result, selected)
                print(f"series estimate, {name} scouts only: {b.optimal_pct:.1f}% optimal "
                      f"({b.above_pct:.1f}% above, {b.below_pct:.1f}% below; n = {b.n})")
            print(f"({backend}: {time.perf_counter() - started:.0f} s)")
            results.setdefault("native" if native else (photo or "plain"), result)
    return results


def accuracy_record(results: dict, n_series: int, seed: int, command: str, measured_on: str) -> dict:
    """The measured_accuracy.json content for evaluation results {condition: EvaluationResult} (with the
    automatic myocardium: final and CNN-alone figures)."""
    conditions = {}
    for name, result in results.items():
        if result.frames_cnn is None:
            raise ValueError("--write-accuracy needs the final answer (CNN + automatic myocardium): drop --cnn-only.")
        conditions[name] = {"final_frames_optimal_pct": round(result.frames.optimal_pct, 1),
                            "cnn_frames_optimal_pct": round(result.frames_cnn.optimal_pct, 1),
                            "final_series_mae_ms": round(result.null_mae_ms, 1)}
    ranges = {tuple(r.optimal_range_ms) for r in results.values()}
    if len(ranges) != 1:
        raise ValueError("All conditions must use one optimal range.")
    return {
        "about": ("Accuracy of the shipped models measured by benchmarks/bench_ti_correction.py; the figures every "
                  "user-facing text quotes (ti-correct's picture warning, the model card, the README). Rewrite with --write-accuracy."),
        "command": command,
        "measured_on": measured_on,
        "seed": seed,
        "n_series": n_series,
        "optimal_range_ms": list(ranges.pop()),
        "conditions": conditions,
    }


def write_accuracy(path: Path, record: dict) -> None:
    """Merge ``record`` into the accuracy file (conditions not measured now are kept) and write it atomically."""
    import json

    from CardiacLGECommonLib.core.files import write_json_atomically

    if path.is_file():
        previous = json.loads(path.read_text(encoding="utf-8"))
        if previous.get("seed") == record["seed"] and previous.get("n_series") == record["n_series"]:
            record = {**record, "conditions": {**previous.get("conditions", {}), **record["conditions"]}}
    write_json_atomically(path, record)


def _write_30_frame_series(folder: str) -> None:
    from TINullCorrectionLib.sim.dicom_writer import write_scout_dicom
    from TINullCorrectionLib.sim.simulator import simulate_scout

    write_scout_dicom(simulate_scout(np.random.default_rng(4), n_frames=30, matrix=192).scout, folder, vendor="siemens")


def machine_speed_ms() -> float:
    """Milliseconds of a fixed pure-Python loop: the speed the machine runs at just now. On this project's 2-core
    virtual machine it is bimodal (about 5.9 ms and 9.9 ms, the host switching between two speeds for seconds at a
    time, with nothing else running), so every absolute time measured here depends on which state its rounds ran in."""
    started = time.perf_counter()
    total = 0
    for i in range(100_000):
        total += i * i
    return 1000.0 * (time.perf_counter() - started)


#: The core path, timed the same way for this tree and a baseline tree: only API names both have. A worker: after
#: warm-up it prints "ready", then runs the core path once per line read ("cnn": CNN only, "auto": with the automatic
#: myocardium) and prints the seconds with :func:`machine_speed_ms` (its source inserted) timed just before and after,
#: so that two trees' workers can take turns (interleaved rounds).
CORE_PATH_WORKER = """
import sys, time
if sys.argv[2] == "cli":  # the process as cardiac-lge runs it (freed memory kept; trees before it had no such step)
    import importlib.util, os
    import cardiac_lge
    spec = importlib.util.find_spec("cardiac_lge.memory")  # of this tree only, not an editable install's
    if spec is not None and os.path.dirname(spec.origin) == os.path.dirname(cardiac_lge.__file__):
        from cardiac_lge.memory import keep_freed_memory
        keep_freed_memory()
from TINullCorrectionLib.core.pipeline import analyse_scout
from TINullCorrectionLib.io.dicom import load_ti_scouts
from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model
from TINullCorrectionLib.networks.ti_offset import load_model
folder = sys.argv[1]
model, unet = load_model(), load_segmentation_model()
configurations = {"cnn": None, "auto": unet}
def once(myocardium):
    for scout in load_ti_scouts([folder]):
        analyse_scout(scout, model, myocardium_model=myocardium)
for myocardium in configurations.values():
    once(myocardium)
print("ready", flush=True)
MACHINE_SPEED_MS
for line in sys.stdin:  # machine_speed_ms timed in this process, on the core the run uses
    before = machine_speed_ms()
    started = time.perf_counter()
    once(configurations[line.strip()])
    elapsed = time.perf_counter() - started
    print(elapsed, before, machine_speed_ms(), flush=True)
""".replace("MACHINE_SPEED_MS", inspect.getsource(machine_speed_ms))


def tree_env(tree: Path) -> dict:
    """Environment that imports the Lib packages and the CLI from ``tree`` (a checkout of this repository)."""
    import os

    roots = [tree / "TINullCorrection", tree / "LGEResolutionQA", tree / "CardiacLGECommon", tree]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(str(r) for r in roots)}


#: A run is in the machine's fast state when the calibration loop before and after it took at most this multiple
#: of the fastest calibration of the measurement (the two states are about 1.7x apart).
FAST_STATE_FACTOR = 1.25


def core_path_of_trees(trees: dict, folder: str, rounds: int = 9, by_state: dict | None = None) -> dict:
    """{(tree label, "cnn" or "auto"): (median, best) seconds} of the core path as each tree's code runs it, one
    worker process per tree (onnxruntime's default threads, as ti-correct runs), the trees and configurations
    taking turns in every round, so that a change of load on a shared machine hits all of them alike.

    trees: label -> a checkout, or (checkout, process) where process is "cli" (the default: the process set up
    as cardiac-lge sets itself up, cardiac_lge/memory.py) or "default" (the C allocator's defaults, as in Slicer).
    by_state: filled with {(tree label, configuration): {"fast": median or None, "slow": median or None}} and
    {"rounds": {"fast": n, "slow": n}}: the runs split by the machine's speed state (:func:`machine_speed_ms`, timed in
    the worker before and after each run; runs that straddle a change are in neither)."""
    workers = {}
    try:
        for label, tree in trees.items():
            tree, process = tree if isinstance(tree, tuple) else (tree, "cli")
            workers[label] = subprocess.Popen([sys.executable, "-c", CORE_PATH_WORKER, folder, process], env=tree_env(Path(tree)),
                                              cwd=tempfile.gettempdir(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                              stderr=subprocess.PIPE, text=True)
        for label, worker in workers.items():
            if worker.stdout.readline().strip() != "ready":
                raise RuntimeError(f"core path of {trees[label]} failed: {worker.stderr.read()[-2000:]}")
        timings = {(label, configuration): [] for label in workers for configuration in ("cnn", "auto")}
        keys = list(timings)
        calibrations = {key: [] for key in keys}
        for round_index in range(rounds):
            # the order rotates every round: no worker always runs first, or right after the same other one
            shift = round_index % len(keys)
            for label, configuration in keys[shift:] + keys[:shift]:
                workers[label].stdin.write(configuration + "\n")
                workers[label].stdin.flush()
                seconds, before, after = (float(v) for v in workers[label].stdout.readline().split())
                timings[(label, configuration)].append(seconds)
                calibrations[(label, configuration)].append((before, after))
    finally:
        for worker in workers.values():
            if worker.stdin:
                worker.stdin.close()
            worker.wait(timeout=120)
    if by_state is not None:
        cut = FAST_STATE_FACTOR * min(min(pair) for pairs in calibrations.values() for pair in pairs)
        by_state["rounds"] = {"fast": 0, "slow": 0}
        for key, values in timings.items():
            states = ["fast" if max(pair) <= cut else "slow" if min(pair) > cut else "" for pair in calibrations[key]]
            for state in ("fast", "slow"):
                by_state["rounds"][state] += states.count(state)
            by_state[key] = {state: float(np.median([v for v, s in zip(values, states, strict=True) if s == state])) if state in states else None
                             for state in ("fast", "slow")}
    return {key: (float(np.median(values)), float(np.min(values))) for key, values in timings.items()}


def _median_seconds(function, repeats: int = 7) -> float:
    return _interleaved_seconds({"": function}, repeats)[""][0]


def _interleaved_seconds(functions: dict, repeats: int = 9) -> dict:
    """{label: (median, minimum) seconds}: every function once per round, the rounds repeated, so that a
    change of load on a shared machine hits all of them alike (one warm-up round first)."""
    for function in functions.values():
        function()
    timings = {label: [] for label in functions}
    for _ in range(repeats):
        for label, function in functions.items():
            started = time.perf_counter()
            function()
            timings[label].append(time.perf_counter() - started)
    return {label: (float(np.median(values)), float(np.min(values))) for label, values in timings.items()}


def _core_path(folder: str, model, myocardium_model):
    from TINullCorrectionLib.core.pipeline import analyse_scout
    from TINullCorrectionLib.io.dicom import load_ti_scouts

    def once() -> None:
        for scout in load_ti_scouts([folder]):
            analyse_scout(scout, model, myocardium_model=myocardium_model)

    return once


def _core_path_parts(folder: str, model, unet) -> dict:
    """Median seconds of each part of the core path (profiled: these dominate it)."""
    from TINullCorrectionLib.core.preprocessing import frame_inputs, prepare_series
    from TINullCorrectionLib.core.recommendation import recommend
    from TINullCorrectionLib.io.dicom import load_ti_scouts
    from TINullCorrectionLib.networks.myocardium_unet import scout_features

    scout = load_ti_scouts([folder])[0]
    prediction = model.predict(scout)
    channels, scalars = frame_inputs(prepare_series(scout, model.preprocess), scout.ti_ms, scout.phase_sensitive)
    features = scout_features(scout, unet.preprocess)[None]
    parts = {
        "loading + decoding 30 files": lambda: load_ti_scouts([folder]),
        "CNN preprocessing (48 x 48 grid)": lambda: frame_inputs(prepare_series(scout, model.preprocess), scout.ti_ms, False),
        "CNN network": lambda: model.network(channels, scalars),
        "U-Net features (96 x 96 grid)": lambda: scout_features(scout, unet.preprocess),
        "U-Net network": lambda: unet.network(features),
        "U-Net + pixel-wise and ROI IR fits + recommendation": lambda: recommend(scout, prediction, myocardium_model=unet),
    }
    return {name: _median_seconds(function) for name, function in parts.items()}


def core_path_speed(backends: dict, baseline_tree: Path | None = None, tree_rounds: int = 9) -> dict:
    """The 30-frame ti-correct core path on every backend (rounds interleaved), with the breakdown of its
    parts; {label: (median, minimum) seconds}."""
    with tempfile.TemporaryDirectory() as folder:
        _write_30_frame_series(folder)
        functions = {}
        for backend, (model, unet) in backends.items():
            functions[f"{backend}, CNN only"] = _core_path(folder, model, None)
            functions[f"{backend}, automatic myocardium"] = _core_path(folder, model, unet)
        results = _interleaved_seconds(functions, repeats=9)
        print("\n30-frame 192x192 DICOM series, ti-correct core path (load + CNN [+ U-Net + IR fits] + recommendation; "
              "median and best of 9 interleaved rounds after warm-up):")
        for label, (median, best) in results.items():
            print(f"  [{label:36s}] median {median:.3f} s, best {best:.3f} s")
        for backend, (model, unet) in backends.items():
            print(f"  {backend} breakdown (median):")
            for name, seconds in _core_path_parts(folder, model, unet).items():
                print(f"      {name:55s} {1000 * seconds:7.1f} ms")
        trees = {"this tree": REPO, "this tree, default allocator": (REPO, "default")}
        if baseline_tree is not None:
            trees["baseline"] = baseline_tree
        states: dict = {}
        trees = core_path_of_trees(trees, folder, rounds=tree_rounds, by_state=states)
        print("  one process each (onnxruntime, default threads), rounds interleaved; 'this tree' is the process as "
              "cardiac-lge runs it (freed memory kept, cardiac_lge/memory.py), 'default allocator' the C library's "
              f"defaults as in Slicer{'' if baseline_tree is None else f', baseline {baseline_tree}'}:")
        for (label, configuration), (median, best) in trees.items():
            name = "CNN only" if configuration == "cnn" else "automatic myocardium"
            split = "; ".join(f"{state} state {states[(label, configuration)][state]:.3f} s" for state in ("fast", "slow")
                              if states[(label, configuration)][state] is not None)
            print(f"  [{label:28s}, {name:20s}] median {median:.3f} s, best {best:.3f} s ({split})")
            results[f"{label}, {name}"] = (median, best)
        print(f"  runs in the machine's fast / slow speed state (a fixed pure-Python loop timed in the worker before and after "
              f"each run; the states are about 1.7x apart; runs that straddle a change in neither): "
              f"{states['rounds']['fast']} / {states['rounds']['slow']}")
    key = "automatic myocardium"
    kept, default = results[f"this tree, {key}"][0], results[f"this tree, default allocator, {key}"][0]
    print(f"  with the automatic myocardium, keeping freed memory is {default / kept:.2f}x faster than the default allocator "
          "(medians of the same rounds)")
    if f"baseline, {key}" in results:
        print(f"  with the automatic myocardium, this tree is {results[f'baseline, {key}'][0] / results[f'this tree, {key}'][0]:.2f}x "
              "faster than the baseline (medians of the same rounds)")
    if all(f"{b}, {key}" in results for b in BACKENDS):
        print(f"  onnxruntime vs torch, with the automatic myocardium: {results[f'torch, {key}'][0] / results[f'onnxruntime, {key}'][0]:.2f}x "
              "(medians of the same rounds)")
    return results


def network_speed() -> None:
    """Per-frame time of both networks on onnxruntime and torch, one thread and the runtime's default
    (rounds interleaved)."""
    from TINullCorrectionLib.core.preprocessing import N_CHANNELS, N_SCALARS, PreprocessConfig

    grid = PreprocessConfig().grid
    rng = np.random.default_rng(0)
    images, scalars = rng.random((30, N_CHANNELS, grid, grid), dtype=np.float32), rng.random((30, N_SCALARS), dtype=np.float32)
    features = rng.random((1, 7, 96, 96), dtype=np.float32)
    functions = {}
    onnx = {threads: load_backend("onnxruntime", threads=threads) for threads in (1, None)}
    for threads, (model, unet) in onnx.items():
        label = f"onnxruntime, {'1 thread' if threads == 1 else 'default threads'}"
        functions[(label, "cnn")] = lambda m=model: m.network(images, scalars)
        functions[(label, "unet")] = lambda u=unet: u.network(features)
    if _available("torch"):
        import torch

        default_threads = torch.get_num_threads()
        model, unet = load_backend("torch")
        for threads in (1, default_threads):
            label = f"torch, {'1 thread' if threads == 1 else 'default threads'}"

            def with_threads(function, n=threads):
                def run():
                    torch.set_num_threads(n)
                    function()
                return run
            functions[(label, "cnn")] = with_threads(lambda m=model: m.network(images, scalars))
            functions[(label, "unet")] = with_threads(lambda u=unet: u.network(features))
    results = _interleaved_seconds(functions, repeats=9)
    if _available("torch"):
        torch.set_num_threads(default_threads)
    print("\nnetworks on a 30-frame series (median of 9 interleaved rounds after warm-up):")
    labels = dict.fromkeys(label for label, _ in functions)
    for label in labels:
        cnn, segmentation = results[(label, "cnn")][0], results[(label, "unet")][0]
        print(f"  [{label:30s}] TI-offset CNN {1000 * cnn / 30:.2f} ms per frame ({1000 * cnn:.1f} ms per series); "
              f"U-Net {1000 * segmentation:.1f} ms per series ({1000 * segmentation / 30:.2f} ms per frame)")
    for threads in ("1 thread", "default threads"):
        a, b = (f"onnxruntime, {threads}", f"torch, {threads}")
        if (b, "cnn") in results:
            print(f"  {threads}: onnxruntime is {results[(b, 'cnn')][0] / results[(a, 'cnn')][0]:.1f}x (CNN) and "
                  f"{results[(b, 'unet')][0] / results[(a, 'unet')][0]:.1f}x (U-Net) faster than torch")


def simulate_batch(folder: Path, n_series: int, seed: int = 424242) -> None:
    """``n_series`` study folders of one simulated scout each (vendors and frame counts vary)."""
    from TINullCorrectionLib.sim.dicom_writer import write_scout_dicom
    from TINullCorrectionLib.sim.simulator import simulate_scout

    rng = np.random.default_rng(seed)
    vendors = ("siemens", "ge", "philips")
    for index in range(n_series):
        write_scout_dicom(simulate_scout(rng).scout, folder / f"study_{index:04d}", vendor=vendors[index % 3])


def batch_throughput(n_series: int, workers: list[int], backends: dict, baseline_tree: Path | None = None) -> None:
    """Series per second of ti-correct --batch over ``n_series`` simulated studies: the command (a fresh
    process: start-up and model loading included) for each worker count, the baseline tree's command, and the
    in-process loop of each backend (what one process spends per series)."""
    import os

    from TINullCorrectionLib.core.recommendation import RecommendationSettings

    from cardiac_lge.commands.ti_correct import batch_rows

    with tempfile.TemporaryDirectory() as root:
        folder = Path(root) / "studies"
        started = time.perf_counter()
        simulate_batch(folder, n_series)
        print(f"\nti-correct --batch over {n_series} simulated series ({time.perf_counter() - started:.0f} s to simulate; "
              f"{os.cpu_count()} CPU cores):")
        studies = sorted(folder.iterdir())
        for backend, (model, unet) in backends.items():
            started = time.perf_counter()
            for number, study in enumerate(studies, 1):
                batch_rows(study, f"study_{number:03d}", model, RecommendationSettings(), unet)
            seconds = time.perf_counter() - started
            print(f"  [{backend:11s}] in one process, models loaded: {n_series / seconds:.2f} series/s")
        runs = [(f"cardiac-lge --workers {w}", [sys.executable, "-m", "cardiac_lge.cli", "ti-correct", "--batch", str(folder),
                                                "--csv", str(Path(root) / f"w{w}.csv"), "--workers", str(w)], None) for w in workers]
        if baseline_tree is not None:
            runs.append(("baseline cardiac-lge", [sys.executable, "-m", "cardiac_lge.cli", "ti-correct", "--batch", str(folder),
                                                  "--csv", str(Path(root) / "baseline.csv")], tree_env(baseline_tree)))
        rates = {}
        for label, command, env in runs:
            started = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                           cwd=tempfile.gettempdir() if env else None)
            rates[label] = n_series / (time.perf_counter() - started)
            print(f"  [{label:22s}] whole command: {rates[label]:.2f} series/s")
        if "baseline cardiac-lge" in rates:
            for label, rate in rates.items():
                if label != "baseline cardiac-lge":
                    print(f"  {label}: {rate / rates['baseline cardiac-lge']:.2f}x the baseline's throughput")


def per_frame_speed() -> None:
    """Per-frame time of the three TI architectures (torch, untrained weights: speed only)."""
    import torch
    from TINullCorrectionLib.core.preprocessing import N_CHANNELS, N_SCALARS, PreprocessConfig
    from TINullCorrectionLib.networks.architectures import OffsetBins, build_network

    grid = PreprocessConfig().grid
    images, scalars = torch.randn(1, 30, N_CHANNELS, grid, grid), torch.randn(1, 30, N_SCALARS)
    mask = torch.ones(1, 30, dtype=torch.bool)
    per_frame = {}
    print("\narchitectures (torch, 30-frame input):")
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
    parser.add_argument("--backends", nargs="+", default=["onnxruntime"], choices=BACKENDS,
                        help="accuracy of the ONNX files (default) and/or the torch .pt weights they were exported from")
    parser.add_argument("--skip-speed", action="store_true", help="no speed, memory or real-data section")
    parser.add_argument("--batch-series", type=int, default=0, help="ti-correct --batch throughput over this many simulated series")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="--workers counts of the batch run (default 1 2)")
    parser.add_argument("--baseline-tree", type=Path, help="a checkout of an earlier commit: its core path and batch run, side by side")
    parser.add_argument("--tree-rounds", type=int, default=9,
                        help="interleaved rounds of the core path of this tree and the baseline tree (more for a small difference)")
    parser.add_argument("--write-accuracy", action="store_true",
                        help="write the measured accuracy into TINullCorrectionLib/models/measured_accuracy.json")
    args = parser.parse_args()
    from cardiac_lge.memory import keep_freed_memory

    print(f"freed memory kept for the next series, as cardiac-lge runs (cardiac_lge/memory.py): {keep_freed_memory()}")
    if args.write_accuracy and (args.cnn_only or args.skip_accuracy):
        parser.error("--write-accuracy needs the accuracy measurement with the automatic myocardium.")
    backends = {}
    for backend in args.backends:
        model, myocardium_model = load_backend(backend, args.model, myocardium=not args.cnn_only)
        backends[backend] = (model, myocardium_model)
        print(f"[{backend}] model {model.name}: {model.card}")
        if myocardium_model is not None:
            print(f"[{backend}] myocardium model {myocardium_model.name}: {myocardium_model.card}")
    if not args.skip_accuracy:
        conditions = [None if c == "plain" else c for c in args.conditions]
        results = accuracy(backends, args.n_series, args.seed, conditions)
        if args.write_accuracy:
            import datetime

            from TINullCorrectionLib.networks.measured_accuracy import ACCURACY_PATH

            command = (f".venv/bin/python benchmarks/bench_ti_correction.py --n-series {args.n_series} --conditions "
                       f"{' '.join(args.conditions)} --write-accuracy")
            record = accuracy_record({k: v for k, v in results.items() if k != "native"}, args.n_series, args.seed, command,
                                     datetime.date.today().isoformat())
            write_accuracy(ACCURACY_PATH, record)
            print(f"\nwrote {ACCURACY_PATH}: update the tables of the model card and the README with these figures")
    if args.skip_speed:
        return 0
    model, myocardium_model = backends[args.backends[0]]
    real_philips_look_locker(model, myocardium_model)
    speed_backends = {name: load_backend(name) for name in BACKENDS if name in args.backends or _available(name)}
    network_speed()
    core_path_speed(speed_backends, args.baseline_tree, args.tree_rounds)
    if args.batch_series > 0:
        batch_throughput(args.batch_series, args.workers, speed_backends, args.baseline_tree)
    if _available("torch"):
        per_frame_speed()
    cli_peak_memory()
    if args.compare_vgg:
        compare_vgg(args.compare_train_series, args.compare_epochs, args.compare_test_series, args.seed)
    return 0


def _available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    sys.exit(main())
