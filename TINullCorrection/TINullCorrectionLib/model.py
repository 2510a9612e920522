"""CNN that classifies each TI-scout frame by the offset of its TI from the myocardial null.

Classes (our choice, a parameter): offset bins of ``bin_width_ms`` covering
[-range_ms, +range_ms], plus two tails "earlier than -range_ms" and "later than +range_ms".
The published model (Eur Radiol 2023;33:4688) classified single frames with an ImageNet-pretrained
VGG-16 over about -60..+60 ms; no ImageNet weights can be downloaded here, so both architectures
below are trained from scratch on the project's simulator, the same way.

Architectures:
- ``compact`` (default): 4 conv blocks (24-32-48-64 channels) on the 5-channel 48x48 context input,
  a 4x4 spatial summary, and a small head that also sees the TI-gap scalars.
- ``vgg16``: the VGG-16 layout (13 3x3 convs in 5 blocks, 64-128-256-512-512 channels, 3 FC
  layers) on the same input; FC widths reduced from 4096 to 512 for the 48x48 input (documented).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .preprocessing import N_CHANNELS, N_SCALARS

ARCHITECTURES = ("compact", "vgg16")


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
        names += [f"{lo:+g}..{hi:+g} ms" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
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
        for width, n_convs in zip(widths, convs, strict=True):
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


def build_network(architecture: str, n_classes: int) -> nn.Module:
    if architecture == "compact":
        return CompactTINet(n_classes)
    if architecture == "vgg16":
        return VGG16TINet(n_classes)
    raise ValueError(f"Unknown architecture '{architecture}'; choose one of {ARCHITECTURES}.")
