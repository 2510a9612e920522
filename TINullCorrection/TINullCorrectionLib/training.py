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
from torch import nn

from .inference import TIModel, save_model
from .model import OffsetBins, build_network
from .preprocessing import PreprocessConfig, context_indices, frame_scalars, prepare_series
from .types import TIScout


@dataclass(frozen=True)
class TrainingConfig:
    architecture: str = "compact"
    n_series: int = 2000
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    label_sigma_ms: float = 6.0
    photo_fraction: float = 0.15
    validation_fraction: float = 0.1
    seed: int = 20261124
    bins: OffsetBins = field(default_factory=OffsetBins)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)


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


def _progress(iterable, total: int, description: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=description, unit="series" if "simul" in description else "it")


def simulate_series_set(
    n_series: int, seed: int, preprocess: PreprocessConfig = PreprocessConfig(), photo_fraction: float = 0.0,
    show_progress: bool = False, **overrides,
) -> SeriesSet:
    """Simulate and prepare ``n_series`` TI scouts (a fraction degraded as monitor photos)."""
    from .simulator import simulate_scout

    rng = np.random.default_rng(seed)
    series = SeriesSet()
    for _ in _progress(range(n_series), n_series, "simulating", show_progress):
        simulated = simulate_scout(rng, **overrides)
        if photo_fraction > 0 and rng.random() < photo_fraction:
            from .photo import degrade_scout_as_photo

            simulated = degrade_scout_as_photo(simulated, rng, monitor="4k" if rng.random() < 0.6 else "3mp")
        series.add(simulated.scout, simulated.null_ti_ms, preprocess)
    return series


def labelled_dicom_series_set(dicom_dir: str | Path, labels_csv: str | Path, preprocess: PreprocessConfig = PreprocessConfig()) -> SeriesSet:
    """A site's labelled series: CSV with columns series_dir,null_ti_ms (series_dir relative to dicom_dir)."""
    import csv

    from .dicom_io import load_ti_scouts

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


def _frame_index(series: SeriesSet) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All frames stacked, the global indices of each frame's 5 context frames, scalars and offsets."""
    stacked, contexts, scalars, offsets = [], [], [], []
    start = 0
    for frames, ti, offset, psir in zip(series.frames, series.ti_ms, series.offset_ms, series.phase_sensitive, strict=True):
        contexts.append(context_indices(frames.shape[0]) + start)
        scalars.append(frame_scalars(ti, psir))
        offsets.append(offset)
        stacked.append(frames)
        start += frames.shape[0]
    return (np.concatenate(stacked).astype(np.float32), np.concatenate(contexts), np.concatenate(scalars).astype(np.float32),
            np.concatenate(offsets))


def _augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random flips / 90-degree rotations and intensity scaling (the same for all 5 channels)."""
    if torch.rand(1, generator=generator).item() < 0.5:
        images = images.flip(-1)
    if torch.rand(1, generator=generator).item() < 0.5:
        images = images.flip(-2)
    k = int(torch.randint(0, 4, (1,), generator=generator).item())
    images = torch.rot90(images, k, dims=(-2, -1))
    scale = 0.85 + 0.3 * torch.rand(images.shape[0], 1, 1, 1, generator=generator)
    return images * scale


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
        series = simulate_series_set(config.n_series, config.seed, config.preprocess, config.photo_fraction, show_progress)
    if len(series) < 2:
        raise ValueError("Training needs at least two series (one for validation).")
    order = np.random.default_rng(config.seed).permutation(len(series))
    n_validation = max(1, int(round(config.validation_fraction * len(series))))
    train_set, validation_set = series.subset(order[n_validation:]), series.subset(order[:n_validation])
    frames, contexts, scalars, offsets = _frame_index(train_set)
    v_frames, v_contexts, v_scalars, v_offsets = _frame_index(validation_set)
    targets = torch.from_numpy(config.bins.soft_targets(offsets, config.label_sigma_ms))
    v_targets = torch.from_numpy(config.bins.soft_targets(v_offsets, config.label_sigma_ms))
    frames_t, v_frames_t = torch.from_numpy(frames), torch.from_numpy(v_frames)

    if init is not None:
        if init.bins != config.bins or init.preprocess != config.preprocess or init.architecture != config.architecture:
            raise ValueError("The initial model's architecture, bins or preprocessing differ from the training configuration.")
        network = init.network
    else:
        network = build_network(config.architecture, config.bins.n_classes)
    network.to(device)
    optimiser = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = int(np.ceil(len(offsets) / config.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.learning_rate, total_steps=config.epochs * steps_per_epoch)
    loss_function = nn.CrossEntropyLoss()
    log(f"training {config.architecture} on {len(train_set)} series / {len(offsets)} frames "
        f"(validation {len(validation_set)} series), {config.epochs} epochs on {device}")

    best_state, best_loss, history = None, np.inf, []
    for epoch in range(config.epochs):
        network.train()
        started = time.perf_counter()
        permutation = torch.randperm(len(offsets), generator=generator)
        running = 0.0
        batches = _progress(range(steps_per_epoch), steps_per_epoch, f"epoch {epoch + 1}/{config.epochs}", show_progress)
        for step in batches:
            index = permutation[step * config.batch_size:(step + 1) * config.batch_size]
            images = _augment(frames_t[torch.from_numpy(contexts[index.numpy()])], generator)
            logits = network(images.to(device), torch.from_numpy(scalars[index.numpy()]).to(device))
            loss = loss_function(logits, targets[index].to(device))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()
            running += loss.item() * len(index)
        validation_loss, validation_mae = _validate(network, v_frames_t, v_contexts, v_scalars, v_targets, v_offsets, config.bins, device)
        record = {"epoch": epoch + 1, "train_loss": running / len(offsets), "validation_loss": validation_loss,
                  "validation_frame_mae_ms_within_60": validation_mae, "seconds": time.perf_counter() - started}
        history.append(record)
        log(f"epoch {epoch + 1}: train loss {record['train_loss']:.4f}, validation loss {validation_loss:.4f}, "
            f"frame offset MAE (|offset|<=60 ms) {validation_mae:.1f} ms, {record['seconds']:.0f} s")
        if validation_loss < best_loss:
            best_loss = validation_loss
            best_state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
        if checkpoint_dir is not None:
            checkpoint = TIModel(network, config.architecture, config.bins, config.preprocess, {"name": f"checkpoint-epoch{epoch + 1}"})
            save_model(checkpoint, Path(checkpoint_dir) / f"checkpoint_epoch{epoch + 1:02d}.pt")
    network.load_state_dict(best_state)
    network.to("cpu").eval()
    card = {"architecture": config.architecture, "n_series": len(series), "epochs": config.epochs, "seed": config.seed,
            "photo_fraction": config.photo_fraction, "best_validation_loss": float(best_loss)}
    return TIModel(network, config.architecture, config.bins, config.preprocess, card, name=f"ti-offset-{config.architecture}"), history


def _validate(network, frames_t, contexts, scalars, targets, offsets, bins: OffsetBins, device: str) -> tuple[float, float]:
    from .inference import offsets_from_probabilities

    network.eval()
    losses, predictions = [], []
    with torch.inference_mode():
        for start in range(0, len(offsets), 512):
            stop = min(start + 512, len(offsets))
            logits = network(frames_t[torch.from_numpy(contexts[start:stop])].to(device), torch.from_numpy(scalars[start:stop]).to(device))
            losses.append(float(nn.functional.cross_entropy(logits, targets[start:stop].to(device))) * (stop - start))
            predictions.append(torch.softmax(logits.double(), 1).cpu().numpy())
    probabilities = np.concatenate(predictions)
    predicted, _ = offsets_from_probabilities(probabilities, bins)
    near = np.abs(offsets) <= 60
    mae = float(np.mean(np.abs(predicted[near] - offsets[near]))) if near.any() else float("nan")
    return sum(losses) / len(offsets), mae

