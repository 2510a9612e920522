"""Training of the single-frame TI-offset network (networks/single_frame.py) on simulated pictures.

Every training picture is one frame of a simulated TI scout (TINullCorrectionLib/sim/simulator.py) as the
technologist would capture it: a screenshot (the series windowed to 8-bit display levels), or a phone photo of
a 4K or a 3 MP monitor (sim/photo.py: perspective, moire, glare, blur, JPEG). Frames within +/-150 ms of the
null are all used, plus two further frames per series (the tails). The crop of each picture is jittered
(fraction 0.5-0.7 of the shorter side, centre +/-4%) to model how a photo is framed. Phase-sensitive scouts are
drawn more often than in the simulator's default mix (``p_phase_sensitive``, our choice), because their pictures
need different cues (the myocardium is mid-grey at its null, and only the air outside the body shows the zero level).
Reproducible: the series are simulated in chunks of ``CHUNK_SERIES``, each from its own seeded generator
(``numpy.random.SeedSequence([seed, chunk])``), so the set is the same whatever the number of worker processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from TINullCorrectionLib.core.single_frame import (
    SingleFramePreprocess,
    single_frame_channels,
    single_frame_scalars,
)
from TINullCorrectionLib.networks.architectures import OffsetBins, SingleFrameTINet
from TINullCorrectionLib.networks.single_frame import SingleFrameModel
from TINullCorrectionLib.networks.torch_models import (  # noqa: F401 - the load / save for commands
    load_torch_single_frame_model,
    save_single_frame_model,
    torch_single_frame_model,
)
from torch import nn

from cardiac_lge.training.ti_offset import _masked_cross_entropy, _progress, one_cycle_optimiser

CONDITIONS = ("screen", "4k", "3mp")
#: Series simulated from one generator (the unit of the parallel simulation).
CHUNK_SERIES = 50


@dataclass(frozen=True)
class SingleFrameTrainingConfig:
    n_series: int = 3000
    epochs: int = 16
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    label_sigma_ms: float = 6.0
    #: probabilities of screenshot / 4K photo / 3 MP photo pictures (our choice)
    condition_mix: tuple[float, float, float] = (0.25, 0.4, 0.35)
    near_ms: float = 150.0
    extra_frames: int = 2
    validation_fraction: float = 0.1
    #: probability of a phase-sensitive scout in training (the simulator's default is 0.25), our choice
    p_phase_sensitive: float = 0.35
    #: processes simulating the pictures (the result does not depend on it)
    workers: int = 1
    seed: int = 20261201
    bins: OffsetBins = field(default_factory=OffsetBins)
    preprocess: SingleFramePreprocess = field(default_factory=SingleFramePreprocess)


@dataclass
class FrameSet:
    """Prepared pictures: channels [M, C, g, g] (float16), scalars [M, 2], true offsets (ms), picture kind, series,
    and whether the scout was phase-sensitive."""

    channels: np.ndarray
    scalars: np.ndarray
    offset_ms: np.ndarray
    condition: np.ndarray
    series: np.ndarray
    phase_sensitive: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.offset_ms.size)

    def subset(self, selected: np.ndarray) -> FrameSet:
        phase = None if self.phase_sensitive is None else self.phase_sensitive[selected]
        return FrameSet(self.channels[selected], self.scalars[selected], self.offset_ms[selected], self.condition[selected],
                        self.series[selected], phase)


def pictures_of_series(simulated, rng: np.random.Generator, condition: str, indices=None) -> np.ndarray:
    """The frames [N, H, W] of a simulated scout (or only ``indices``) as pictures of ``condition`` ("screen", "4k",
    "3mp"); the display window is that of the whole series either way."""
    from TINullCorrectionLib.sim.photo import display_window, photograph_frames

    chosen = np.arange(simulated.scout.frames.shape[0]) if indices is None else np.asarray(indices, dtype=int)
    if condition == "screen":
        return display_window(simulated.scout.frames, rng, (0.85, 1.2)).astype(np.float32)[chosen] * 255.0
    if condition in ("4k", "3mp"):
        return photograph_frames(simulated.scout.frames, rng, condition, chosen)
    raise ValueError(f"condition must be one of {CONDITIONS}; got {condition!r}.")


def choose_frames(offset_ms: np.ndarray, rng: np.random.Generator, near_ms: float, extra: int) -> np.ndarray:
    """Indices of the frames within +/-near_ms of the null plus ``extra`` random others."""
    near = np.flatnonzero(np.abs(offset_ms) <= near_ms)
    others = np.setdiff1d(np.arange(offset_ms.size), near)
    if others.size and extra > 0:
        near = np.concatenate([near, rng.choice(others, size=min(extra, others.size), replace=False)])
    return np.sort(near)


def _simulate_chunk(chunk: int, n_series: int, seed: int, preprocess: SingleFramePreprocess, condition_mix, conditions,
                    near_ms: float, extra_frames: int, jitter_crop: bool, p_phase_sensitive: float | None) -> list[tuple]:
    """Pictures of the series ``chunk * CHUNK_SERIES ...`` (at most n_series in all), from the chunk's own generator."""
    from TINullCorrectionLib.sim.simulator import SimulationRanges, simulate_scout

    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(chunk)]))
    ranges = SimulationRanges() if p_phase_sensitive is None else SimulationRanges(p_phase_sensitive=float(p_phase_sensitive))
    mix = np.asarray(condition_mix, dtype=float)
    out = []
    for index in range(chunk * CHUNK_SERIES, min(n_series, (chunk + 1) * CHUNK_SERIES)):
        simulated = simulate_scout(rng, ranges)
        condition = conditions[index % len(conditions)] if conditions else CONDITIONS[int(rng.choice(3, p=mix / mix.sum()))]
        chosen = choose_frames(simulated.offset_ms, rng, near_ms, extra_frames)
        pictures = pictures_of_series(simulated, rng, condition, chosen)
        for picture, frame in zip(pictures, chosen, strict=True):
            if jitter_crop:
                prepared = single_frame_channels(picture, preprocess, tuple(rng.uniform(-0.04, 0.04, 2)), rng.uniform(0.5, 0.7))
            else:
                prepared = single_frame_channels(picture, preprocess)
            out.append((prepared.astype(np.float16), single_frame_scalars(simulated.scout.ti_ms[frame], True),
                        float(simulated.offset_ms[frame]), CONDITIONS.index(condition), index,
                        bool(simulated.parameters["phase_sensitive"])))
    return out


def _simulate_chunk_in_worker(arguments: tuple) -> list[tuple]:
    torch.set_num_threads(1)
    return _simulate_chunk(*arguments)


def simulate_frame_set(n_series: int, seed: int, preprocess: SingleFramePreprocess = SingleFramePreprocess(),
                       condition_mix=(0.25, 0.4, 0.35), conditions: tuple[str, ...] | None = None, near_ms: float = 150.0,
                       extra_frames: int = 2, jitter_crop: bool = True, show_progress: bool = False,
                       p_phase_sensitive: float | None = None, workers: int = 1) -> FrameSet:
    """Simulate ``n_series`` scouts and prepare the chosen frames of each as single pictures.

    conditions: a fixed condition for every series (e.g. ("4k",) for a test set); else drawn from condition_mix.
    jitter_crop: random crop fraction / centre (training); off: the crop the model uses at run time.
    p_phase_sensitive: probability of a phase-sensitive scout (None: the simulator's default).
    workers: processes (the pictures are the same for any number).
    """
    n_chunks = int(np.ceil(n_series / CHUNK_SERIES))
    jobs = [(chunk, n_series, seed, preprocess, tuple(condition_mix), tuple(conditions) if conditions else None, near_ms,
             extra_frames, jitter_crop, p_phase_sensitive) for chunk in range(n_chunks)]
    rows: list[tuple] = []
    if workers <= 1 or n_chunks == 1:
        for job in _progress(jobs, n_chunks, f"simulating pictures ({CHUNK_SERIES} series each)", show_progress):
            rows += _simulate_chunk(*job)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=int(workers), mp_context=multiprocessing.get_context("spawn")) as pool:
            for part in _progress(pool.map(_simulate_chunk_in_worker, jobs), n_chunks,
                                  f"simulating pictures ({CHUNK_SERIES} series each)", show_progress):
                rows += part
    channels, scalars, offsets, kinds, series, phase = zip(*rows, strict=True)
    return FrameSet(np.stack(channels), np.stack(scalars), np.asarray(offsets), np.asarray(kinds, np.int8), np.asarray(series),
                    np.asarray(phase, bool))


def _augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random flips / 90-degree turns of the batch (the heart's orientation varies between scanners)."""
    if torch.rand(1, generator=generator).item() < 0.5:
        images = images.flip(-1)
    if torch.rand(1, generator=generator).item() < 0.5:
        images = images.flip(-2)
    return torch.rot90(images, int(torch.randint(0, 4, (1,), generator=generator).item()), dims=(-2, -1))


def initialise_from(network: nn.Module, source: nn.Module) -> None:
    """Copy the weights of ``source`` (a single-frame network, e.g. one trained without the context channel) into
    ``network``: equal shapes are copied; a first convolution with more input channels gets the source's weights for
    its first channels and zeros for the others, so the network starts with the source's answers."""
    target = network.state_dict()
    for key, value in source.state_dict().items():
        if key not in target:
            raise ValueError(f"The initial model has a weight {key!r} the single-frame network does not have.")
        if target[key].shape == value.shape:
            target[key] = value.clone()
        elif value.ndim == 4 and target[key].shape[0] == value.shape[0] and target[key].shape[2:] == value.shape[2:] \
                and target[key].shape[1] > value.shape[1]:
            widened = torch.zeros_like(target[key])
            widened[:, : value.shape[1]] = value
            target[key] = widened
        else:
            raise ValueError(f"The initial model's weight {key!r} has shape {tuple(value.shape)}, the network's {tuple(target[key].shape)}.")
    network.load_state_dict(target)


def train_single_frame_model(config: SingleFrameTrainingConfig = SingleFrameTrainingConfig(), frames: FrameSet | None = None,
                             show_progress: bool = True, log: Callable[[str], None] = print,
                             init: SingleFrameModel | None = None) -> tuple[SingleFrameModel, list[dict]]:
    """Train on simulated pictures (starting from ``init``'s weights when given, see initialise_from); returns the
    model of the best validation epoch and the history."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    if frames is None:
        frames = simulate_frame_set(config.n_series, config.seed, config.preprocess, config.condition_mix, near_ms=config.near_ms,
                                    extra_frames=config.extra_frames, show_progress=show_progress,
                                    p_phase_sensitive=config.p_phase_sensitive, workers=config.workers)
    n_series = int(frames.series.max()) + 1
    if n_series < 2:
        raise ValueError("Training needs at least two series (one for validation).")
    order = np.random.default_rng(config.seed).permutation(n_series)
    validation_series = order[: max(1, int(round(config.validation_fraction * n_series)))]
    is_validation = np.isin(frames.series, validation_series)
    train_set, validation_set = frames.subset(~is_validation), frames.subset(is_validation)
    network = SingleFrameTINet(config.bins.n_classes, in_channels=config.preprocess.n_channels)
    if init is not None:
        from TINullCorrectionLib.networks.torch_models import module_of

        if init.bins != config.bins or (init.preprocess.grid, init.preprocess.crop_fraction) != (config.preprocess.grid, config.preprocess.crop_fraction):
            raise ValueError("The initial single-frame model has other offset bins, grid or crop than the training configuration.")
        initialise_from(network, module_of(init))
    optimiser, scheduler, steps = one_cycle_optimiser(network, config, len(train_set))
    targets_all = torch.from_numpy(config.bins.soft_targets(train_set.offset_ms, config.label_sigma_ms))
    log(f"training single-frame network on {len(train_set)} pictures of {n_series - validation_series.size} series "
        f"(validation {len(validation_set)} pictures), {config.epochs} epochs")
    best_state, best_loss, history = None, np.inf, []
    for epoch in range(config.epochs):
        network.train()
        started = time.perf_counter()
        permutation = torch.randperm(len(train_set), generator=generator).numpy()
        running = 0.0
        for step in _progress(range(steps), steps, f"epoch {epoch + 1}/{config.epochs}", show_progress):
            index = permutation[step * config.batch_size:(step + 1) * config.batch_size]
            images = _augment(torch.from_numpy(train_set.channels[index].astype(np.float32)), generator)
            logits = network(images, torch.from_numpy(train_set.scalars[index]))
            loss = _masked_cross_entropy(logits, targets_all[index], torch.ones(len(index), dtype=torch.bool), train_set.offset_ms[index])
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(network.parameters(), 5.0)
            optimiser.step()
            scheduler.step()
            running += loss.item() * len(index)
        validation_loss, validation_mae, optimal = _validate(network, validation_set, config)
        record = {"epoch": epoch + 1, "train_loss": running / len(train_set), "validation_loss": validation_loss,
                  "validation_frame_mae_ms_within_60": validation_mae, **optimal, "seconds": time.perf_counter() - started}
        history.append(record)
        log(f"epoch {epoch + 1}: train loss {record['train_loss']:.4f}, validation loss {validation_loss:.4f}, "
            f"offset MAE (|offset|<=60 ms) {validation_mae:.1f} ms, corrected into null -10..+20 ms: "
            + ", ".join(f"{key.replace('validation_optimal_pct_', '')} {value:.1f}%" for key, value in optimal.items())
            + f", {record['seconds']:.0f} s")
        if validation_loss < best_loss:
            best_loss = validation_loss
            best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
    network.load_state_dict(best_state)
    network.eval()
    card = {"architecture": "single-frame", "n_series": n_series, "n_pictures": len(frames), "epochs": config.epochs,
            "seed": config.seed, "condition_mix": " / ".join(f"{c} {p:g}" for c, p in zip(CONDITIONS, config.condition_mix, strict=True)),
            "best_validation_loss": float(best_loss), "channels": config.preprocess.n_channels,
            "p_phase_sensitive": config.p_phase_sensitive}
    return torch_single_frame_model(network, config.bins, config.preprocess, card, name="ti-offset-single-frame"), history


def _validate(network: nn.Module, frames: FrameSet, config: SingleFrameTrainingConfig) -> tuple[float, float, dict]:
    """Validation loss, offset MAE (ms) of the frames within +/-60 ms of the null, and the share of those frames the
    answer corrects into null -10..+20 ms (TI - offset + 5 ms), for all frames and by kind of scout."""
    from TINullCorrectionLib.networks.ti_offset import offsets_from_probabilities

    network.eval()
    losses, predicted = [], []
    with torch.inference_mode():
        for start in range(0, len(frames), 256):
            part = slice(start, min(start + 256, len(frames)))
            logits = network(torch.from_numpy(frames.channels[part].astype(np.float32)), torch.from_numpy(frames.scalars[part]))
            targets = torch.from_numpy(config.bins.soft_targets(frames.offset_ms[part], config.label_sigma_ms))
            mask = torch.ones(logits.shape[0], dtype=torch.bool)
            losses.append(float(_masked_cross_entropy(logits, targets, mask, frames.offset_ms[part])) * logits.shape[0])
            predicted.append(offsets_from_probabilities(torch.softmax(logits.double(), 1).numpy(), config.bins)[0])
    predicted = np.concatenate(predicted)
    near = np.abs(frames.offset_ms) <= 60
    errors = frames.offset_ms - predicted
    corrected = (errors + 5.0 >= -10.0) & (errors + 5.0 <= 20.0)
    kinds = {"all": near}
    if frames.phase_sensitive is not None:
        kinds.update(magnitude=near & ~frames.phase_sensitive, phase_sensitive=near & frames.phase_sensitive)
    optimal = {f"validation_optimal_pct_{kind}": float(100 * corrected[selected].mean()) for kind, selected in kinds.items() if selected.any()}
    mae = float(np.abs(errors[near]).mean()) if near.any() else float("nan")
    return float(np.sum(losses) / len(frames)), mae, optimal
