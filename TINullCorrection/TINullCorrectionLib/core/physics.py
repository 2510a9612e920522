"""Look-Locker inversion-recovery relations, written once (core: numpy only). See docs/METHODS.md §1.

For the signal S(TI) = A - B exp(-TI / T1*) (A = recovered signal, B = A plus the inverted magnetisation):

* apparent null      TI_null = T1* ln(B / A)            (only when A > 0 and B > A: the curve crosses zero)
* corrected T1       T1 = T1* (B / A - 1)               (Deichmann & Haase, JMR 1992; Messroghli, MRM 2004)
* and back           T1* = T1 / (B / A - 1)

Every fit, the simulator and the pixel-wise maps call these functions; scalars give floats (NaN when the
curve does not cross zero), arrays give arrays.
"""

from __future__ import annotations

import numpy as np


def look_locker_null_ms(a, b, t1_star_ms):
    """Apparent null T1* ln(B/A) (ms); NaN where A <= 0 or B <= A (no zero crossing)."""
    a, b, tau = (np.asarray(v, dtype=float) for v in (a, b, t1_star_ms))
    crosses = (a > 0) & (b > a) & np.isfinite(a) & np.isfinite(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        null = np.where(crosses, tau * np.log(np.where(crosses, b / np.where(a > 0, a, 1.0), 1.0)), np.nan)
    return float(null) if null.ndim == 0 else null


def look_locker_t1_ms(a, b, t1_star_ms):
    """Look-Locker corrected T1 = T1* (B/A - 1) (ms); NaN where A == 0."""
    a, b, tau = (np.asarray(v, dtype=float) for v in (a, b, t1_star_ms))
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(a != 0, tau * (b / np.where(a != 0, a, 1.0) - 1.0), np.nan)
    return float(t1) if t1.ndim == 0 else t1


def t1_star_ms(t1_ms, b_over_a: float):
    """Apparent relaxation time T1* = T1 / (B/A - 1) (ms)."""
    if not b_over_a > 1.0:
        raise ValueError(f"B/A must be > 1 for an inversion recovery; got {b_over_a}.")
    return t1_ms / (b_over_a - 1.0)
