"""CNN that classifies each TI-scout frame by the offset of its TI from the myocardial null.

Classes (our choice, a parameter): offset bins of ``bin_width_ms`` covering
[-range_ms, +range_ms], plus two tails "earlier than -range_ms" and "later than +range_ms".
The published model (Eur Radiol 2023;33:4688) classified single frames with an ImageNet-pretrained
VGG-16 over about -60..+60 ms; no ImageNet weights can be downloaded here, so both architectures
below are trained from scratch on the project's simulator, the same way.

Every network maps a batch of series, images [B, N, 5, g, g] + scalars [B, N, 4] + a frame mask
[B, N], to logits [B, N, classes]; per-frame networks treat the frames independently.

Architectures:
- ``sequence`` (default): the compact CNN encodes every frame (with its context channels), then a
  bidirectional GRU over the frames in TI order lets every frame's class depend on the whole
  recovery curve (in the spirit of Bahrami 2019 / Xie 2024: CNN + recurrent layer over frames).
- ``compact``: 4 conv blocks (24-32-48-64 channels) on the 5-channel 48x48 context input,
  a 4x4 spatial summary, and a small head that also sees the TI-gap scalars.
- ``vgg16``: the VGG-16 layout (13 3x3 convs in 5 blocks, 64-128-256-512-512 channels, 3 FC
  layers) on the same input; FC widths reduced from 4096 to 512 for the 48x48 input (documented).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from TINullCorrectionLib.core.preprocessing import N_CHANNELS, N_SCALARS

ARCHITECTURES = ("sequence", "compact", "vgg16")


@dataclass(frozen=True)
class OffsetBins:
    """Offset classes: [tail_early, bins..., tail_late]; offsets in ms = frame TI - null TI."""

    range_ms: float = 150.0
    bin_width_ms: float = 10.0

    def __post_init__(self) -> None:
        if self.bin_width_ms <= 0 or self.range_ms <= 0:
            raise ValueError("Offset bins need a positive range and bin width (ms).")
        ratio = 2 * self.range_ms / self.bin_width_ms
        if abs(ratio - round(ratio)) > 1e-6:
            raise ValueError("2 x range_ms must be a multiple of bin_width_ms.")

    @property
    def n_inner(self) -> int:
        return int(round(2 * self.range_ms / self.bin_width_ms))

    @property
    def n_classes(self) -> int:
        return self.n_inner + 2

    @property
    def centers_ms(self) -> np.ndarray:
        """Representative offset of each class; tails at +/-(range + half a bin)."""
        inner = -self.range_ms + self.bin_width_ms * (np.arange(self.n_inner) + 0.5)
        half = self.bin_width_ms / 2
        return np.concatenate([[-self.range_ms - half], inner, [self.range_ms + half]])

    @property
    def class_names(self) -> tuple[str, ...]:
        names = [f"< {-self.range_ms:g} ms"]
        edges = -self.range_ms + self.bin_width_ms * np.arange(self.n_inner + 1)
        names += [f"{lo:+g}..{hi:+g} ms" for lo, hi in zip(edges[:-1], edges[1:])]
        names.append(f"> {self.range_ms:+g} ms")
        return tuple(names)

    def soft_targets(self, offset_ms: np.ndarray, sigma_ms: float = 6.0) -> np.ndarray:
        """Gaussian-smoothed one-hot targets [M, n_classes] (ordinal label smoothing; tails hard)."""
        offsets = np.asarray(offset_ms, dtype=np.float64)[:, None]
        centers = self.centers_ms[None, 1:-1]
        weights = np.exp(-0.5 * ((offsets - centers) / sigma_ms) ** 2)
        targets = np.zeros((offsets.shape[0], self.n_classes))
        targets[:, 1:-1] = weights
        early = offsets[:, 0] < -self.range_ms
        late = offsets[:, 0] > self.range_ms
        targets[early] = 0.0
        targets[late] = 0.0
        targets[early, 0] = 1.0
        targets[late, -1] = 1.0
        # Near the edges part of the Gaussian leaks outside: give it to the tail.
        inside = ~(early | late)
        targets[inside, 0] += np.clip(1.0 - targets[inside].sum(1), 0, None) * (offsets[inside, 0] < 0)
        targets[inside, -1] += np.clip(1.0 - targets[inside].sum(1), 0, None) * (offsets[inside, 0] >= 0)
        return (targets / targets.sum(1, keepdims=True)).astype(np.float32)

    def as_dict(self) -> dict:
        return {"range_ms": self.range_ms, "bin_width_ms": self.bin_width_ms}


def _conv_block(c_in: int, c_out: int, n_convs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for index in range(n_convs):
        layers += [nn.Conv2d(c_in if index == 0 else c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class CompactTINet(nn.Module):
    """Default: small CNN over the 5-channel context input + TI-gap scalars."""

    def __init__(self, n_classes: int, widths: tuple[int, ...] = (24, 32, 48, 64), convs: tuple[int, ...] = (1, 1, 2, 1)):
        super().__init__()
        blocks, c_in = [], N_CHANNELS
        for width, n_convs in zip(widths, convs):
            blocks.append(_conv_block(c_in, width, n_convs))
            c_in = width
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(4))
        self.head = nn.Sequential(
            nn.Linear(c_in * 16 + N_SCALARS, 192), nn.ReLU(inplace=True), nn.Dropout(0.2), nn.Linear(192, n_classes)
        )

    def forward(self, images: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.features(images).flatten(1), scalars], dim=1))


class VGG16TINet(nn.Module):
    """VGG-16 layout (13 convs: 2-2-3-3-3 at 64-128-256-512-512) with a 3-layer head."""

    def __init__(self, n_classes: int, fc_width: int = 512):
        super().__init__()
        config = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
        blocks, c_in = [], N_CHANNELS
        for width, n_convs in config:
            blocks.append(_conv_block(c_in, width, n_convs))
            c_in = width
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1))
        self.head = nn.Sequential(
            nn.Linear(512 + N_SCALARS, fc_width), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(fc_width, fc_width), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(fc_width, n_classes),
        )

    def forward(self, images: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.features(images).flatten(1), scalars], dim=1))


class PerFrame(nn.Module):
    """Applies a per-frame network to every frame of a batch of series."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, images: torch.Tensor, scalars: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, frames = images.shape[:2]
        return self.network(images.flatten(0, 1), scalars.flatten(0, 1)).view(batch, frames, -1)


class SequenceTINet(nn.Module):
    """Compact CNN frame encoder + bidirectional GRU over the frames of the series."""

    def __init__(self, n_classes: int, widths: tuple[int, ...] = (24, 32, 48, 64), convs: tuple[int, ...] = (1, 1, 2, 1),
                 embedding: int = 96, hidden: int = 96):
        super().__init__()
        blocks, c_in = [], N_CHANNELS
        for width, n_convs in zip(widths, convs):
            blocks.append(_conv_block(c_in, width, n_convs))
            c_in = width
        self.encoder = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(3), nn.Flatten(), nn.Linear(c_in * 9, embedding), nn.ReLU(inplace=True))
        self.recurrent = nn.GRU(embedding + N_SCALARS, hidden, num_layers=2, batch_first=True, bidirectional=True, dropout=0.1)
        self.head = nn.Sequential(nn.Linear(2 * hidden + embedding, 128), nn.ReLU(inplace=True), nn.Linear(128, n_classes))

    def forward(self, images: torch.Tensor, scalars: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, frames = images.shape[:2]
        embedded = self.encoder(images.flatten(0, 1)).view(batch, frames, -1)
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(torch.cat([embedded, scalars], 2), lengths, batch_first=True, enforce_sorted=False)
        context, _ = self.recurrent(packed)
        context, _ = nn.utils.rnn.pad_packed_sequence(context, batch_first=True, total_length=frames)
        return self.head(torch.cat([context, embedded], 2))


def build_network(architecture: str, n_classes: int) -> nn.Module:
    if architecture == "sequence":
        return SequenceTINet(n_classes)
    if architecture == "compact":
        return PerFrame(CompactTINet(n_classes))
    if architecture == "vgg16":
        return PerFrame(VGG16TINet(n_classes))
    raise ValueError(f"Unknown architecture '{architecture}'; choose one of {ARCHITECTURES}.")
