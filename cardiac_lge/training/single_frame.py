"""Training of the single-frame TI-offset network (networks/single_frame.py) on simulated pictures.

Every training picture is one frame of a simulated TI scout (TINullCorrectionLib/sim/simulator.py) as the
technologist would capture it: a screenshot (the series windowed to 8-bit display levels), or a phone photo of
a 4K or a 3 MP monitor (sim/photo.py: perspective, moire, glare, blur, JPEG). Frames within +/-150 ms of the
null are all used, plus two further frames per series (the tails). The crop of each picture is jittered
(fraction 0.5-0.7 of the shorter side, centre +/-4%) to model how a photo is framed. Reproducible: every draw
comes from seeded numpy/torch generators.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from TINullCorrectionLib.core.single_frame import (
    N_SINGLE_CHANNELS,
    SingleFramePreprocess,
    single_frame_channels,
    single_frame_scalars,
)
from TINullCorrectionLib.networks.architectures import OffsetBins, SingleFrameTINet
from TINullCorrectionLib.networks.single_frame import SingleFrameModel
from TINullCorrectionLib.networks.torch_models import save_single_frame_model, torch_single_frame_model  # noqa: F401 - for commands
from torch import nn

from cardiac_lge.training.ti_offset import _masked_cross_entropy, _progress, one_cycle_optimiser

CONDITIONS = ("screen", "4k", "3mp")


@dataclass(frozen=True)
class SingleFrameTrainingConfig:
    n_series: int = 2000
    epochs: int = 8
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    label_sigma_ms: float = 6.0
    #: probabilities of screenshot / 4K photo / 3 MP photo pictures (our choice)
    condition_mix: tuple[float, float, float] = (0.25, 0.4, 0.35)
    near_ms: float = 150.0
    extra_frames: int = 2
    validation_fraction: float = 0.1
    seed: int = 20261201
    bins: OffsetBins = field(default_factory=OffsetBins)
    preprocess: SingleFramePreprocess = field(default_factory=SingleFramePreprocess)


@dataclass
class FrameSet:
    """Prepared pictures: channels [M, 2, g, g] (float16), scalars [M, 2], true offsets (ms), picture kind, series."""

    channels: np.ndarray
    scalars: np.ndarray
    offset_ms: np.ndarray
    condition: np.ndarray
    series: np.ndarray

    def __len__(self) -> int:
        return int(self.offset_ms.size)

    def subset(self, selected: np.ndarray) -> FrameSet:
        return FrameSet(self.channels[selected], self.scalars[selected], self.offset_ms[selected], self.condition[selected],
                        self.series[selected])


def pictures_of_series(simulated, rng: np.random.Generator, condition: str) -> np.ndarray:
    """The frames [N, H, W] of a simulated scout as pictures of ``condition`` ("screen", "4k", "3mp")."""
    from TINullCorrectionLib.sim.photo import degrade_scout_as_photo, display_window

    if condition == "screen":
        return display_window(simulated.scout.frames, rng, (0.85, 1.2)).astype(np.float32) * 255.0
    if condition in ("4k", "3mp"):
        return degrade_scout_as_photo(simulated, rng, monitor=condition).scout.frames
    raise ValueError(f"condition must be one of {CONDITIONS}; got {condition!r}.")


def choose_frames(offset_ms: np.ndarray, rng: np.random.Generator, near_ms: float, extra: int) -> np.ndarray:
    """Indices of the frames within +/-near_ms of the null plus ``extra`` random others."""
    near = np.flatnonzero(np.abs(offset_ms) <= near_ms)
    others = np.setdiff1d(np.arange(offset_ms.size), near)
    if others.size and extra > 0:
        near = np.concatenate([near, rng.choice(others, size=min(extra, others.size), replace=False)])
    return np.sort(near)


def simulate_frame_set(n_series: int, seed: int, preprocess: SingleFramePreprocess = SingleFramePreprocess(),
                       condition_mix=(0.25, 0.4, 0.35), conditions: tuple[str, ...] | None = None, near_ms: float = 150.0,
                       extra_frames: int = 2, jitter_crop: bool = True, show_progress: bool = False) -> FrameSet:
    """Simulate ``n_series`` scouts and prepare the chosen frames of each as single pictures.

    conditions: a fixed condition for every series (e.g. ("4k",) for a test set); else drawn from condition_mix.
    jitter_crop: random crop fraction / centre (training); off: the crop the model uses at run time.
    """
    from TINullCorrectionLib.sim.simulator import simulate_scout

    rng = np.random.default_rng(seed)
    mix = np.asarray(condition_mix, dtype=float)
    channels, scalars, offsets, kinds, series = [], [], [], [], []
    for index in _progress(range(n_series), n_series, "simulating pictures", show_progress):
        simulated = simulate_scout(rng)
        condition = conditions[index % len(conditions)] if conditions else CONDITIONS[int(rng.choice(3, p=mix / mix.sum()))]
        pictures = pictures_of_series(simulated, rng, condition)
        for frame in choose_frames(simulated.offset_ms, rng, near_ms, extra_frames):
            if jitter_crop:
                prepared = single_frame_channels(pictures[frame], preprocess, tuple(rng.uniform(-0.04, 0.04, 2)),
                                                 rng.uniform(0.5, 0.7))
            else:
                prepared = single_frame_channels(pictures[frame], preprocess)
            channels.append(prepared.astype(np.float16))
            scalars.append(single_frame_scalars(simulated.scout.ti_ms[frame], True))
            offsets.append(float(simulated.offset_ms[frame]))
            kinds.append(CONDITIONS.index(condition))
            series.append(index)
    return FrameSet(np.stack(channels), np.stack(scalars), np.asarray(offsets), np.asarray(kinds, np.int8), np.asarray(series))


def _augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random flips / 90-degree turns of the batch (the heart's orientation varies between scanners)."""
    if torch.rand(1, generator=generator).item() < 0.5:
        images = images.flip(-1)
    if torch.rand(1, generator=generator).item() < 0.5:
        images = images.flip(-2)
    return torch.rot90(images, int(torch.randint(0, 4, (1,), generator=generator).item()), dims=(-2, -1))


def train_single_frame_model(config: SingleFrameTrainingConfig = SingleFrameTrainingConfig(), frames: FrameSet | None = None,
                             show_progress: bool = True, log: Callable[[str], None] = print) -> tuple[SingleFrameModel, list[dict]]:
    """Train on simulated pictures; returns the model of the best validation epoch and the history."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    if frames is None:
        frames = simulate_frame_set(config.n_series, config.seed, config.preprocess, config.condition_mix, near_ms=config.near_ms,
                                    extra_frames=config.extra_frames, show_progress=show_progress)
    n_series = int(frames.series.max()) + 1
    if n_series < 2:
        raise ValueError("Training needs at least two series (one for validation).")
    order = np.random.default_rng(config.seed).permutation(n_series)
    validation_series = order[: max(1, int(round(config.validation_fraction * n_series)))]
    is_validation = np.isin(frames.series, validation_series)
    train_set, validation_set = frames.subset(~is_validation), frames.subset(is_validation)
    network = SingleFrameTINet(config.bins.n_classes)
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
        validation_loss, validation_mae = _validate(network, validation_set, config)
        record = {"epoch": epoch + 1, "train_loss": running / len(train_set), "validation_loss": validation_loss,
                  "validation_frame_mae_ms_within_60": validation_mae, "seconds": time.perf_counter() - started}
        history.append(record)
        log(f"epoch {epoch + 1}: train loss {record['train_loss']:.4f}, validation loss {validation_loss:.4f}, "
            f"offset MAE (|offset|<=60 ms) {validation_mae:.1f} ms, {record['seconds']:.0f} s")
        if validation_loss < best_loss:
            best_loss = validation_loss
            best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
    network.load_state_dict(best_state)
    network.eval()
    card = {"architecture": "single-frame", "n_series": n_series, "n_pictures": len(frames), "epochs": config.epochs,
            "seed": config.seed, "condition_mix": " / ".join(f"{c} {p:g}" for c, p in zip(CONDITIONS, config.condition_mix, strict=True)),
            "best_validation_loss": float(best_loss), "channels": N_SINGLE_CHANNELS}
    return torch_single_frame_model(network, config.bins, config.preprocess, card, name="ti-offset-single-frame"), history


def _validate(network: nn.Module, frames: FrameSet, config: SingleFrameTrainingConfig) -> tuple[float, float]:
    from TINullCorrectionLib.networks.ti_offset import offsets_from_probabilities

    network.eval()
    losses, errors = [], []
    with torch.inference_mode():
        for start in range(0, len(frames), 256):
            part = slice(start, min(start + 256, len(frames)))
            logits = network(torch.from_numpy(frames.channels[part].astype(np.float32)), torch.from_numpy(frames.scalars[part]))
            targets = torch.from_numpy(config.bins.soft_targets(frames.offset_ms[part], config.label_sigma_ms))
            mask = torch.ones(logits.shape[0], dtype=torch.bool)
            losses.append(float(_masked_cross_entropy(logits, targets, mask, frames.offset_ms[part])) * logits.shape[0])
            predicted, _ = offsets_from_probabilities(torch.softmax(logits.double(), 1).numpy(), config.bins)
            near = np.abs(frames.offset_ms[part]) <= 60
            errors.append(np.abs(predicted[near] - frames.offset_ms[part][near]))
    errors = np.concatenate(errors)
    return float(np.sum(losses) / len(frames)), float(errors.mean()) if errors.size else float("nan")
