"""Simulated pictures taken at the console, made once per test session (the same seeds everywhere)."""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from PIL import Image

#: (seed, style, monitor) of mosaic photos whose tiles and TIs the reader finds (checked in Testing/ti/io/test_mosaic.py).
MOSAIC_CASES = ((7001, "siemens", "4k"), (7002, "ge", "4k"), (7003, "philips", "3mp"))


@lru_cache(maxsize=8)
def mosaic_photo(seed: int, style: str, monitor: str, print_ti: bool = True, n_frames: int = 20):
    from TINullCorrectionLib.sim.mosaic import simulate_mosaic_photo

    return simulate_mosaic_photo(np.random.default_rng(seed), style, monitor, print_ti=print_ti, n_frames=n_frames,
                                 matrix=160, phase_sensitive=False)


def jpeg_bytes(image: np.ndarray, quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@lru_cache(maxsize=4)
def single_frame_photo(seed: int = 7101, monitor: str = "4k") -> tuple[bytes, float, float]:
    """(JPEG bytes of a photo of the frame nearest the null, its TI as printed, the true offset from the null in ms)."""
    from TINullCorrectionLib.sim.photo import degrade_scout_as_photo
    from TINullCorrectionLib.sim.simulator import simulate_scout

    rng = np.random.default_rng(seed)
    simulated = simulate_scout(rng, n_frames=20, ti_step_ms=40.0, matrix=160, phase_sensitive=False)
    photo = degrade_scout_as_photo(simulated, rng, monitor)
    index = int(np.argmin(np.abs(simulated.offset_ms)))
    ti = float(round(simulated.scout.ti_ms[index]))
    return jpeg_bytes(np.clip(photo.scout.frames[index], 0, 255)), ti, float(ti - simulated.null_ti_ms)
