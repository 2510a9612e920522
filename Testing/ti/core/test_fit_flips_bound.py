"""The polarity restorations of a magnitude fit are searched by branch and bound (irfit._fit_with_flips with a
monotone lower bound of each restoration's SSE): the chosen restoration, T1*, amplitudes and SSE are bit for bit
those of fitting every restoration (the code before, kept here as the reference), on simulated myocardium
signals, exact curves, pure noise and ties; and it fits fewer restorations than there are frames."""

from __future__ import annotations

import numpy as np
import pytest
from TINullCorrectionLib.core import irfit
from TINullCorrectionLib.core.irfit import _fit_with_flips, _ll_basis, _tau_bounds, _tau_grid, _varpro


def _every_restoration(ti, y, basis_fn, magnitude):
    """The search before the bound: every k fitted, the first clearly lowest SSE kept."""
    bounds = _tau_bounds(ti)
    grid = _tau_grid(ti, basis_fn, bounds)
    best = None
    for k in range(ti.size if magnitude else 1):
        yk = y.copy()
        yk[:k] *= -1.0
        tau, coef, sse = _varpro(ti, yk, basis_fn, bounds, grid)
        if k > 0 and coef[0] <= 0:
            continue
        if best is None or sse < best[3] * (1 - 1e-12):
            best = (k, tau, coef, sse)
    k, tau, coef, sse = best
    if magnitude and coef[0] < 0:
        coef = -coef
        k = ti.size
    return k, tau, coef, sse, bounds


def _signals():
    from TINullCorrectionLib.sim.simulator import simulate_scout

    rng = np.random.default_rng(20261201)
    for seed in range(10):  # ROI means of simulated myocardium (15-30 frames, every field strength and contrast)
        simulated = simulate_scout(np.random.default_rng(seed), phase_sensitive=False, matrix=96)
        ti, y, _ = irfit._validate(simulated.scout.ti_ms, irfit.roi_signal(simulated.scout, simulated.myocardium_mask))
        yield f"simulated {seed}", ti, y / np.abs(y).max()
    ti = np.arange(100.0, 1700.0, 80.0)
    for a, b, t1 in ((1000.0, 1900.0, 350.0), (500.0, 1000.0, 150.0), (1.0, 3.0, 900.0)):  # exact curves: SSE ~ 0
        y = np.abs(a - b * np.exp(-ti / t1))
        yield f"exact {a} {b} {t1}", ti, y / y.max()
    yield "noise", ti, rng.uniform(0.0, 1.0, ti.size)  # no recovery at all
    yield "constant", ti, np.ones(ti.size)  # every restoration's bound ties
    yield "three points", np.array([100.0, 300.0, 900.0]), np.array([0.6, 0.1, 1.0])
    yield "repeated TIs", np.array([100.0, 100.0, 250.0, 400.0, 400.0, 900.0]), np.array([0.8, 0.7, 0.1, 0.35, 0.4, 1.0])


@pytest.mark.parametrize(("name", "ti", "y"), list(_signals()), ids=[name for name, _, _ in _signals()])
def test_branch_and_bound_equals_fitting_every_restoration(name, ti, y):
    expected = _every_restoration(ti, y, _ll_basis, magnitude=True)
    found = _fit_with_flips(ti, y, _ll_basis, magnitude=True, monotone_model=True)
    assert found[0] == expected[0] and found[1] == expected[1] and found[3] == expected[3] and found[4] == expected[4]
    np.testing.assert_array_equal(found[2], expected[2])


def test_a_magnitude_scout_fits_a_few_restorations_not_all(monkeypatch):
    from TINullCorrectionLib.sim.simulator import simulate_scout

    simulated = simulate_scout(np.random.default_rng(4), phase_sensitive=False, n_frames=30, matrix=96)
    ti, y, _ = irfit._validate(simulated.scout.ti_ms, irfit.roi_signal(simulated.scout, simulated.myocardium_mask))
    calls = []
    original = irfit._varpro
    monkeypatch.setattr(irfit, "_varpro", lambda *args: calls.append(1) or original(*args))
    irfit.fit_inversion_recovery(ti, y)
    assert 1 <= len(calls) <= 10  # of 30 restorations


def test_the_bound_never_exceeds_the_best_monotone_fit():
    from scipy.optimize import isotonic_regression

    rng = np.random.default_rng(7)
    ys = np.concatenate([rng.normal(size=(200, 12)), np.cumsum(rng.uniform(0, 1, size=(20, 12)), axis=1), np.ones((3, 12))])
    bound = irfit._monotone_sse_bound(ys)
    for row, value in zip(ys, bound, strict=True):
        best = min(float(((row - isotonic_regression(row, increasing=up).x) ** 2).sum()) for up in (True, False))
        assert value <= best * (1 + 1e-12) + 1e-15
    assert np.all(bound[200:] == 0) and np.all(bound[:200] > 0)
