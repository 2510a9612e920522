"""Offset classes of the TI-offset CNN (numpy only; shared by the ONNX runtime and training).

Classes (our choice, a parameter): offset bins of ``bin_width_ms`` covering [-range_ms, +range_ms],
plus two tails "earlier than -range_ms" and "later than +range_ms". Offsets in ms = frame TI - null TI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
