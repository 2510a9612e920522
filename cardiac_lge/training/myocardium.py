"""Training of the myocardium U-Net (networks/architectures.MyocardiumUNet; inference: networks/myocardium_unet.py)
on simulated TI scouts (torch; not installed into Slicer).

The default weights shipped in TINullCorrectionLib/models/ are made by ``cardiac-lge train-myocardium``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from TINullCorrectionLib.core.preprocessing import PreprocessConfig
from TINullCorrectionLib.networks.architectures import MyocardiumUNet
from TINullCorrectionLib.networks.myocardium_unet import (
    SEGMENTATION_PREPROCESS,
    MyocardiumModel,
    mask_on_grid,
    scout_features,
)
from TINullCorrectionLib.networks.torch_models import save_segmentation_model, torch_myocardium_model  # noqa: F401 - for commands
from torch import nn

from cardiac_lge.training.ti_offset import one_cycle_optimiser


@dataclass(frozen=True)
class SegmentationTrainingConfig:
    n_series: int = 4000
    epochs: int = 24
    batch_size: int = 16
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    photo_fraction: float = 0.3
    validation_fraction: float = 0.1
    seed: int = 20261130

    def __post_init__(self) -> None:
        from cardiac_lge.training.ti_offset import check_training_numbers

        check_training_numbers(n_series=self.n_series, epochs=self.epochs, batch_size=self.batch_size,
                               learning_rate=self.learning_rate, weight_decay=self.weight_decay,
                               photo_fraction=self.photo_fraction, validation_fraction=self.validation_fraction)


def _simulate_one(seed: int, photo_fraction: float, config: PreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    from TINullCorrectionLib.sim.photo import degrade_scout_as_photo
    from TINullCorrectionLib.sim.simulator import simulate_scout

    rng = np.random.default_rng(seed)
    simulated = simulate_scout(rng)
    if rng.random() < photo_fraction:
        simulated = degrade_scout_as_photo(simulated, rng, monitor="4k" if rng.random() < 0.6 else "3mp")
    scout = simulated.scout
    return scout_features(scout, config), mask_on_grid(simulated.myocardium_mask, scout.pixel_spacing_mm, config)


def simulate_segmentation_set(n_series: int, seed: int, photo_fraction: float, config: PreprocessConfig = SEGMENTATION_PREPROCESS,
                              workers: int = 1, show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Features [S, 7, g, g] and target fractions [S, g, g] of ``n_series`` simulated scouts (series i uses seed+i)."""
    seeds = [seed + index for index in range(n_series)]
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor
        from functools import partial

        with ProcessPoolExecutor(workers) as pool:
            results = pool.map(partial(_simulate_one, photo_fraction=photo_fraction, config=config), seeds, chunksize=16)
            items = list(_progress(results, n_series, show_progress))
    else:
        items = [_simulate_one(s, photo_fraction, config) for s in _progress(seeds, n_series, show_progress)]
    return np.stack([f for f, _ in items]), np.stack([m for _, m in items])


def _progress(iterable, total: int, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc="simulating", unit="series")


def _augment(features: torch.Tensor, targets: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random flips / 90-degree turns (anatomy orientation differs between scanners) and intensity scale."""
    if torch.rand(1, generator=generator).item() < 0.5:
        features, targets = features.flip(-1), targets.flip(-1)
    turns = int(torch.randint(0, 4, (1,), generator=generator).item())
    features, targets = torch.rot90(features, turns, (-2, -1)), torch.rot90(targets, turns, (-2, -1))
    scale = 0.8 + 0.4 * torch.rand(features.shape[0], 1, 1, 1, generator=generator)
    features = features.clone()
    features[:, :5] *= scale  # intensity channels only; TI-of-minimum and the PSIR flag are physical
    return features, targets


def _loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Soft-target BCE + soft Dice (1 - 2|PT| / (|P| + |T|))."""
    bce = nn.functional.binary_cross_entropy_with_logits(logits, targets)
    p = torch.sigmoid(logits)
    dice = 1.0 - (2.0 * (p * targets).sum((1, 2, 3)) + 1.0) / (p.sum((1, 2, 3)) + targets.sum((1, 2, 3)) + 1.0)
    return bce + dice.mean()


def train_segmentation(
    config: SegmentationTrainingConfig = SegmentationTrainingConfig(),
    data: tuple[np.ndarray, np.ndarray] | None = None,
    workers: int = 1,
    show_progress: bool = True,
    log: Callable[[str], None] = print,
) -> tuple[MyocardiumModel, list[dict]]:
    """Train the U-Net on simulated scouts; keeps the epoch with the lowest validation loss."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if data is None:
        data = simulate_segmentation_set(config.n_series, config.seed, config.photo_fraction, workers=workers, show_progress=show_progress)
    features, targets = torch.from_numpy(data[0]), torch.from_numpy(data[1])[:, None]
    order = torch.from_numpy(np.random.default_rng(config.seed).permutation(len(features)))
    n_validation = max(1, int(round(config.validation_fraction * len(features))))
    validation, training = order[:n_validation], order[n_validation:]
    network = MyocardiumUNet().to(device)
    optimiser, scheduler, steps = one_cycle_optimiser(network, config, len(training))
    log(f"training the myocardium U-Net on {len(training)} series (validation {len(validation)}), {config.epochs} epochs on {device}")
    best_state, best_loss, history = None, np.inf, []
    for epoch in range(config.epochs):
        network.train()
        started = time.perf_counter()
        permutation = training[torch.randperm(len(training), generator=generator)]
        running = 0.0
        iterator = range(steps)
        if show_progress:
            from tqdm import tqdm

            iterator = tqdm(iterator, total=steps, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch")
        for step in iterator:
            index = permutation[step * config.batch_size:(step + 1) * config.batch_size]
            x, y = _augment(features[index], targets[index], generator)
            loss = _loss(network(x.to(device)), y.to(device))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()
            running += loss.item() * len(index)
        network.eval()
        with torch.inference_mode():
            logits = torch.cat([network(features[validation[i:i + 64]].to(device)) for i in range(0, len(validation), 64)])
            truth = targets[validation].to(device)
            validation_loss = float(_loss(logits, truth))
            predicted, reference = torch.sigmoid(logits) >= 0.5, truth >= 0.5
            dice = float((2 * (predicted & reference).sum() / (predicted.sum() + reference.sum()).clamp(min=1)).cpu())
        record = {"epoch": epoch + 1, "train_loss": running / len(training), "validation_loss": validation_loss,
                  "validation_dice": dice, "seconds": time.perf_counter() - started}
        history.append(record)
        log(f"epoch {epoch + 1}: train {record['train_loss']:.4f}  validation {validation_loss:.4f}  Dice {dice:.3f}  ({record['seconds']:.0f} s)")
        if validation_loss < best_loss:
            best_loss = validation_loss
            best_state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
    network.load_state_dict(best_state)
    network.to("cpu").eval()
    best = min(history, key=lambda r: r["validation_loss"])
    card = {"name": "myocardium_unet", "n_series": config.n_series, "epochs": config.epochs, "seed": config.seed,
            "photo_fraction": config.photo_fraction, "best_epoch": best["epoch"], "validation_dice": best["validation_dice"]}
    return torch_myocardium_model(network, SEGMENTATION_PREPROCESS, card, "myocardium_unet"), history
