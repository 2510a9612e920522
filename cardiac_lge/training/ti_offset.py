"""Training of the TI-offset CNN on simulated TI scouts and/or a site's labelled series.

Reproducible: every random draw comes from seeded numpy/torch generators; the default weights are
made by ``cardiac-lge train`` with the defaults below (see models/MODEL_CARD.md). Frames are stored
once per series on the working grid; the 5-channel context of each frame is gathered per batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from TINullCorrectionLib.core.preprocessing import (
    N_CHANNELS,
    N_SCALARS,
    PreprocessConfig,
    context_indices,
    frame_scalars,
    prepare_series,
)
from TINullCorrectionLib.core.types import TIScout
from TINullCorrectionLib.networks.architectures import OffsetBins, build_network
from TINullCorrectionLib.networks.ti_offset import TIModel
from TINullCorrectionLib.networks.torch_models import load_torch_model, module_of, save_model, torch_ti_model  # noqa: F401 - for commands
from torch import nn


@dataclass(frozen=True)
class TrainingConfig:
    architecture: str = "sequence"
    n_series: int = 2000
    epochs: int = 12
    batch_size: int = 8  # series per batch
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    label_sigma_ms: float = 6.0
    photo_fraction: float = 0.15
    native_fraction: float = 0.0
    validation_fraction: float = 0.1
    seed: int = 20261124
    bins: OffsetBins = field(default_factory=OffsetBins)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)

    def __post_init__(self) -> None:
        check_training_numbers(n_series=self.n_series, epochs=self.epochs, batch_size=self.batch_size,
                               learning_rate=self.learning_rate, weight_decay=self.weight_decay,
                               photo_fraction=self.photo_fraction, native_fraction=self.native_fraction,
                               validation_fraction=self.validation_fraction, label_sigma_ms=self.label_sigma_ms)


def check_training_numbers(**values) -> None:
    """ValueError naming the option for training settings that cannot work (before any data is made):
    counts (n_series >= 0, epochs and batch_size >= 1), positive finite rates, fractions in [0, 1]."""
    import math

    for name, value in values.items():
        option = "--" + name.replace("_", "-")
        if name in ("epochs", "batch_size") and not (isinstance(value, int) and value >= 1):
            raise ValueError(f"{option} must be a whole number >= 1; got {value}.")
        if name == "n_series" and not (isinstance(value, int) and value >= 0):
            raise ValueError(f"{option} must be a whole number >= 0; got {value}.")
        if name in ("learning_rate", "label_sigma_ms") and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{option} must be a positive number; got {value}.")
        if name == "weight_decay" and not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{option} must be a number >= 0; got {value}.")
        if name.endswith("_fraction") and not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(f"{option} must be a fraction in [0, 1]; got {value}.")
        if name == "validation_fraction" and not 0.0 < value < 1.0:
            raise ValueError(f"{option} must be in (0, 1); got {value}.")


@dataclass
class SeriesSet:
    """Prepared series: frames on the working grid with TIs, true offsets and the PSIR flag."""

    frames: list[np.ndarray] = field(default_factory=list)  # each [N, g, g]
    ti_ms: list[np.ndarray] = field(default_factory=list)
    offset_ms: list[np.ndarray] = field(default_factory=list)
    phase_sensitive: list[bool] = field(default_factory=list)

    def add(self, scout: TIScout, null_ti_ms: float, preprocess: PreprocessConfig) -> None:
        self.frames.append(prepare_series(scout, preprocess))
        self.ti_ms.append(scout.ti_ms.copy())
        self.offset_ms.append(scout.ti_ms - float(null_ti_ms))
        self.phase_sensitive.append(bool(scout.phase_sensitive))

    def __len__(self) -> int:
        return len(self.frames)

    def extend(self, other: SeriesSet) -> None:
        self.frames += other.frames
        self.ti_ms += other.ti_ms
        self.offset_ms += other.offset_ms
        self.phase_sensitive += other.phase_sensitive

    def subset(self, indices: Iterable[int]) -> SeriesSet:
        out = SeriesSet()
        for i in indices:
            out.frames.append(self.frames[i])
            out.ti_ms.append(self.ti_ms[i])
            out.offset_ms.append(self.offset_ms[i])
            out.phase_sensitive.append(self.phase_sensitive[i])
        return out


def one_cycle_optimiser(network, config, n_items: int):
    """(AdamW optimiser, one-cycle LR schedule over all epochs, steps per epoch) of every training command:
    ``config`` gives learning_rate, weight_decay, batch_size and epochs; ``n_items`` the training set's size."""
    optimiser = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps = int(np.ceil(n_items / config.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.learning_rate, total_steps=config.epochs * steps)
    return optimiser, scheduler, steps


def _progress(iterable, total: int, description: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=description, unit="series" if "simul" in description else "it")


def simulate_series_set(
    n_series: int, seed: int, preprocess: PreprocessConfig = PreprocessConfig(), photo_fraction: float = 0.0,
    show_progress: bool = False, native_fraction: float = 0.0, **overrides,
) -> SeriesSet:
    """Simulate and prepare ``n_series`` TI scouts (a fraction degraded as monitor photos, a fraction
    native, i.e. pre-contrast: simulator.SimulationRanges.p_native)."""
    from TINullCorrectionLib.sim.simulator import SimulationRanges, simulate_scout

    if not 0.0 <= native_fraction <= 1.0:
        raise ValueError(f"native_fraction must be in [0, 1]; got {native_fraction}.")
    ranges = SimulationRanges(p_native=native_fraction)
    rng = np.random.default_rng(seed)
    series = SeriesSet()
    for _ in _progress(range(n_series), n_series, "simulating", show_progress):
        simulated = simulate_scout(rng, ranges, **overrides)
        if photo_fraction > 0 and rng.random() < photo_fraction:
            from TINullCorrectionLib.sim.photo import degrade_scout_as_photo

            simulated = degrade_scout_as_photo(simulated, rng, monitor="4k" if rng.random() < 0.6 else "3mp")
        series.add(simulated.scout, simulated.null_ti_ms, preprocess)
    return series


def labelled_dicom_series_set(dicom_dir: str | Path, labels_csv: str | Path, preprocess: PreprocessConfig = PreprocessConfig()) -> SeriesSet:
    """A site's labelled series: CSV with columns series_dir,null_ti_ms (series_dir relative to dicom_dir)."""
    import csv

    from TINullCorrectionLib.io.dicom import load_ti_scouts

    dicom_dir = Path(dicom_dir)
    series = SeriesSet()
    with open(labels_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"series_dir", "null_ti_ms"} <= set(rows[0]):
        raise ValueError(f"{labels_csv} needs the columns series_dir,null_ti_ms.")
    for row in rows:
        for scout in load_ti_scouts([dicom_dir / row["series_dir"]]):
            series.add(scout, float(row["null_ti_ms"]), preprocess)
    return series


def _batch(series: SeriesSet, indices, bins: OffsetBins, label_sigma_ms: float):
    """Padded tensors of a batch of series: images [B,N,5,g,g], scalars [B,N,4], mask, soft targets, offsets."""
    n_max = max(series.frames[i].shape[0] for i in indices)
    grid = series.frames[indices[0]].shape[-1]
    images = np.zeros((len(indices), n_max, N_CHANNELS, grid, grid), np.float32)
    scalars = np.zeros((len(indices), n_max, N_SCALARS), np.float32)
    mask = np.zeros((len(indices), n_max), bool)
    targets = np.zeros((len(indices), n_max, bins.n_classes), np.float32)
    offsets = np.zeros((len(indices), n_max))
    for row, i in enumerate(indices):
        n = series.frames[i].shape[0]
        images[row, :n] = series.frames[i][context_indices(n)]
        scalars[row, :n] = frame_scalars(series.ti_ms[i], series.phase_sensitive[i])
        mask[row, :n] = True
        targets[row, :n] = bins.soft_targets(series.offset_ms[i], label_sigma_ms)
        offsets[row, :n] = series.offset_ms[i]
    return (torch.from_numpy(images), torch.from_numpy(scalars), torch.from_numpy(mask), torch.from_numpy(targets), offsets)


def set_threads(threads: int) -> None:
    """CPU threads torch may use (0: torch's choice)."""
    if threads:
        torch.set_num_threads(threads)


def train_model(
    config: TrainingConfig = TrainingConfig(),
    series: SeriesSet | None = None,
    init: TIModel | None = None,
    checkpoint_dir: str | Path | None = None,
    show_progress: bool = True,
    log: Callable[[str], None] = print,
) -> tuple[TIModel, list[dict]]:
    """Train (or fine-tune ``init``) and return the model with the best validation loss and the history."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if series is None:
        series = simulate_series_set(config.n_series, config.seed, config.preprocess, config.photo_fraction, show_progress,
                                     native_fraction=config.native_fraction)
    if len(series) < 2:
        raise ValueError("Training needs at least two series (one for validation).")
    order = np.random.default_rng(config.seed).permutation(len(series))
    n_validation = max(1, int(round(config.validation_fraction * len(series))))
    train_set, validation_set = series.subset(order[n_validation:]), series.subset(order[:n_validation])
    if init is not None:
        if init.bins != config.bins or init.preprocess != config.preprocess or init.architecture != config.architecture:
            raise ValueError("The initial model's architecture, bins or preprocessing differ from the training configuration.")
        network = module_of(init)
    else:
        network = build_network(config.architecture, config.bins.n_classes)
    network.to(device)
    optimiser, scheduler, steps_per_epoch = one_cycle_optimiser(network, config, len(train_set))
    n_frames = sum(f.shape[0] for f in train_set.frames)
    log(f"training {config.architecture} on {len(train_set)} series / {n_frames} frames "
        f"(validation {len(validation_set)} series), {config.epochs} epochs on {device}")

    best_state, best_loss, history = None, np.inf, []
    for epoch in range(config.epochs):
        network.train()
        started = time.perf_counter()
        permutation = torch.randperm(len(train_set), generator=generator).numpy()
        running, seen = 0.0, 0
        batches = _progress(range(steps_per_epoch), steps_per_epoch, f"epoch {epoch + 1}/{config.epochs}", show_progress)
        for step in batches:
            indices = permutation[step * config.batch_size:(step + 1) * config.batch_size]
            images, scalars, mask, targets, offsets = _batch(train_set, indices, config.bins, config.label_sigma_ms)
            images = _augment(images, generator)
            logits = network(images.to(device), scalars.to(device), mask.to(device))
            loss = _masked_cross_entropy(logits, targets.to(device), mask.to(device), offsets)
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(network.parameters(), 5.0)
            optimiser.step()
            scheduler.step()
            running += loss.item() * int(mask.sum())
            seen += int(mask.sum())
        validation_loss, validation_mae = _validate(network, validation_set, config, device)
        record = {"epoch": epoch + 1, "train_loss": running / seen, "validation_loss": validation_loss,
                  "validation_frame_mae_ms_within_60": validation_mae, "seconds": time.perf_counter() - started}
        history.append(record)
        log(f"epoch {epoch + 1}: train loss {record['train_loss']:.4f}, validation loss {validation_loss:.4f}, "
            f"frame offset MAE (|offset|<=60 ms) {validation_mae:.1f} ms, {record['seconds']:.0f} s")
        if validation_loss < best_loss:
            best_loss = validation_loss
            best_state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
        if checkpoint_dir is not None:
            checkpoint = torch_ti_model(network, config.architecture, config.bins, config.preprocess, {"name": f"checkpoint-epoch{epoch + 1}"})
            save_model(checkpoint, Path(checkpoint_dir) / f"checkpoint_epoch{epoch + 1:02d}.pt")
    network.load_state_dict(best_state)
    network.to("cpu").eval()
    card = {"architecture": config.architecture, "n_series": len(series), "epochs": config.epochs, "seed": config.seed,
            "photo_fraction": config.photo_fraction, "native_fraction": config.native_fraction,
            "best_validation_loss": float(best_loss)}
    return torch_ti_model(network, config.architecture, config.bins, config.preprocess, card, name=f"ti-offset-{config.architecture}"), history


def _augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random flips / 90-degree rotations of the whole batch and an intensity scale per series ([B,N,C,g,g])."""
    if torch.rand(1, generator=generator).item() < 0.5:
        images = images.flip(-1)
    if torch.rand(1, generator=generator).item() < 0.5:
        images = images.flip(-2)
    images = torch.rot90(images, int(torch.randint(0, 4, (1,), generator=generator).item()), dims=(-2, -1))
    return images * (0.85 + 0.3 * torch.rand(images.shape[0], 1, 1, 1, 1, generator=generator))


def _masked_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, offsets_ms=None) -> torch.Tensor:
    """Mean soft-target cross-entropy over real frames; frames near the null weigh up to 3x
    (weight 1 + 2 exp(-(offset/60 ms)^2)), because the optimal-range decision is made there."""
    log_probabilities = torch.log_softmax(logits, dim=-1)
    per_frame = -(targets * log_probabilities).sum(-1)
    weights = mask.float()
    if offsets_ms is not None:
        near = torch.exp(-((torch.as_tensor(offsets_ms, dtype=torch.float32, device=logits.device) / 60.0) ** 2))
        weights = weights * (1.0 + 2.0 * near)
    return (per_frame * weights).sum() / weights.sum().clamp(min=1e-6)


def _validate(network, series: SeriesSet, config: TrainingConfig, device: str) -> tuple[float, float]:
    from TINullCorrectionLib.networks.ti_offset import offsets_from_probabilities

    network.eval()
    total, count, errors = 0.0, 0, []
    with torch.inference_mode():
        for start in range(0, len(series), 16):
            indices = list(range(start, min(start + 16, len(series))))
            images, scalars, mask, targets, offsets = _batch(series, indices, config.bins, config.label_sigma_ms)
            logits = network(images.to(device), scalars.to(device), mask.to(device))
            total += float(_masked_cross_entropy(logits, targets.to(device), mask.to(device))) * int(mask.sum())
            count += int(mask.sum())
            probabilities = torch.softmax(logits.double(), -1).cpu().numpy()[mask.numpy()]
            predicted, _ = offsets_from_probabilities(probabilities, config.bins)
            true = offsets[mask.numpy()]
            near = np.abs(true) <= 60
            errors.append(np.abs(predicted[near] - true[near]))
    errors = np.concatenate(errors)
    return total / count, float(errors.mean()) if errors.size else float("nan")
