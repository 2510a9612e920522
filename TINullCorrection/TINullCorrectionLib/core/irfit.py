"""Inversion-recovery signal fits: apparent null TI, T1*, T1 and an uncertainty (numpy/scipy only).

Models (docs/METHODS.md §1):
- Look-Locker, phase-sensitive: ``S(TI) = A - B*exp(-TI/T1*)``; magnitude: ``|A - B*exp(-TI/T1*)|``.
  Apparent null ``TI_null = T1* * ln(B/A)``; Look-Locker corrected ``T1 = T1* * (B/A - 1)``
  (Deichmann & Haase, JMR 1992; Messroghli et al., MRM 2004).
- IR spin echo with finite recovery (per-frame TR):
  ``S = |M0 * (1 - (1+eff)*exp(-TI/T1) + exp(-TR/T1))|``, eff = inversion efficiency (1 = perfect);
  null where ``(1+eff)*exp(-TI/T1) = 1 + exp(-TR/T1)``.

Method: both models are linear in two amplitudes for a fixed time constant, so the time constant is found
by variable projection (Golub & Pereyra 1973): a log-spaced grid search of the residual followed by a
bounded 1-D refinement; this gives the global least-squares optimum without starting values. Magnitude
data use polarity restoration: the first k points are negated (k = 0..N-1) and the k with the smallest
residual is kept (Nekolla et al. 1992; the MOLLI/ShMOLLI practice). Parameter covariance
``s^2 (J^T J)^-1`` (s^2 = SSE/(N-3)); null uncertainty by the delta method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import minimize_scalar

from TINullCorrectionLib.core.physics import look_locker_null_ms, look_locker_t1_ms
from TINullCorrectionLib.core.types import ScoutError, TIScout

MODEL_LL_MAGNITUDE = "look-locker magnitude |A - B exp(-TI/T1*)|"
MODEL_LL_PHASE = "look-locker phase-sensitive A - B exp(-TI/T1*)"
MODEL_LL_BASELINE = "look-locker magnitude on a display baseline c + |A - B exp(-TI/T1*)|"
MODEL_IR_SE = "ir spin-echo |M0 (1 - (1+eff) exp(-TI/T1) + exp(-TR/T1))|"

#: Range of B/A outside of which a Look-Locker fit is flagged (our choice; ideal inversion without readout
#: gives 2, Look-Locker readouts give 1 + T1/T1*, typically 2-3).
PLAUSIBLE_B_OVER_A = (1.2, 4.0)
#: Inversion efficiency range outside of which the spin-echo fit is flagged (our choice).
PLAUSIBLE_EFFICIENCY = (0.6, 1.15)
_GRID_POINTS = 240


@dataclass(frozen=True)
class IRFitResult:
    """Result of one inversion-recovery fit.

    Look-Locker models: a = A, b = B, t1_star_ms = T1*, t1_ms = T1* (B/A - 1).
    Spin-echo model: a = M0, b = M0 (1 + eff), t1_star_ms = t1_ms = fitted T1, inversion_efficiency = eff.
    null_ti_ms: TI of the zero crossing; NaN only when the fitted curve never crosses zero (B <= A), and
        then ``warnings`` says so.
    null_uncertainty_ms / t1_uncertainty_ms: 1-sigma from the fit covariance (inf when N = 3: no
        residual degrees of freedom).
    rmse, r_squared: of the data against the fitted curve in the data's own form (magnitude or signed).
    baseline: display level of zero signal for screen captures (the data are ``baseline + |predict()|``
        or, for a phase-sensitive display, ``baseline + predict()``); 0 for scanner data.
    n_flipped: number of leading points whose sign was restored (0 for phase-sensitive data).
    """

    a: float
    b: float
    t1_star_ms: float
    null_ti_ms: float
    t1_ms: float
    null_uncertainty_ms: float
    rmse: float
    r_squared: float
    n_flipped: int
    model: str
    warnings: tuple[str, ...] = ()
    t1_uncertainty_ms: float = math.inf
    inversion_efficiency: float | None = None
    baseline: float = 0.0

    def predict(self, ti_ms, tr_ms=None) -> np.ndarray:
        """Signed model signal at ``ti_ms`` (take ``abs`` for magnitude data)."""
        ti = np.asarray(ti_ms, dtype=float)
        if self.model == MODEL_IR_SE:
            if tr_ms is None:
                raise ValueError("The spin-echo model needs tr_ms to predict the signal.")
            tr = np.broadcast_to(np.asarray(tr_ms, dtype=float), ti.shape)
            return self.a * (1.0 + np.exp(-tr / self.t1_ms)) - self.b * np.exp(-ti / self.t1_ms)
        return self.a - self.b * np.exp(-ti / self.t1_star_ms)


# ------------------------------------------------------------------------------------------ validation
def _validate(ti_ms, signal) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float arrays sorted by TI plus the sort order; clear errors for unusable input."""
    ti = np.asarray(ti_ms, dtype=float).ravel()
    y = np.asarray(signal, dtype=float).ravel()
    if ti.size != y.size:
        raise ScoutError(f"Got {ti.size} TI values for {y.size} signal values.")
    if ti.size < 3:
        raise ScoutError(f"An inversion-recovery fit needs at least 3 points; got {ti.size}.")
    if not (np.all(np.isfinite(ti)) and np.all(np.isfinite(y))):
        raise ScoutError("TI and signal values must be finite numbers (no NaN or infinity).")
    if np.any(ti < 0):
        raise ScoutError("Inversion times must not be negative.")
    if np.unique(ti).size < 3:
        raise ScoutError("An inversion-recovery fit needs at least 3 distinct TI values.")
    if not np.any(y != 0):
        raise ScoutError("The signal is zero at every TI: nothing to fit (empty ROI or blank frames?).")
    order = np.argsort(ti, kind="stable")
    return ti[order], y[order], order


# ------------------------------------------------------------------------------- variable projection core
def _ll_basis(ti: np.ndarray, tau: float, with_derivative: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Columns [1, -exp(-TI/T1*)] and their derivative with respect to T1* (None without ``with_derivative``)."""
    e = np.exp(-ti / tau)
    basis = np.empty(e.shape + (2,))
    basis[..., 0] = 1.0
    basis[..., 1] = -e
    if not with_derivative:
        return basis, None
    d_basis = np.zeros_like(basis)
    d_basis[..., 1] = -e * ti / tau**2
    return basis, d_basis


def _se_basis_factory(tr: np.ndarray):
    def basis_fn(ti: np.ndarray, tau: float, with_derivative: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Columns [1 + exp(-TR/T1), -exp(-TI/T1)] (amplitudes M0, M0(1+eff)) and d/dT1 (always computed)."""
        e = np.exp(-ti / tau)
        e_tr = np.exp(-tr / tau)
        basis = np.stack([np.broadcast_to(1.0 + e_tr, e.shape), -e], axis=-1)
        d_basis = np.stack([np.broadcast_to(e_tr * tr / tau**2, e.shape), -e * ti / tau**2], axis=-1)
        return basis, d_basis

    return basis_fn


def _projection(basis: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares amplitudes of a basis [N, K] and the residual sum of squares.

    For K = 2 the normal equations are solved in closed form and the residual formed explicitly (as
    ``lstsq`` does; several times faster, and this runs inside every 1-D search); ``lstsq`` (SVD) for
    other K and when the two columns are nearly collinear (det < 1e-10 of the product of the norms).
    """
    if basis.shape[1] != 2:
        coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
        residual = y - basis @ coef
        return coef, float(residual @ residual)
    u, v = basis[:, 0], basis[:, 1]
    g00, g01, g11 = float(u @ u), float(u @ v), float(v @ v)
    det = g00 * g11 - g01 * g01
    if det > 1e-10 * (g00 * g11) and det > 0:
        b0, b1 = float(u @ y), float(v @ y)
        coef = np.array([(g11 * b0 - g01 * b1) / det, (g00 * b1 - g01 * b0) / det])
    else:
        coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    residual = y - basis @ coef
    return coef, float(residual @ residual)


def _tau_grid(ti: np.ndarray, basis_fn, tau_bounds: tuple[float, float]):
    """(log T1* grid, basis [G, N, 2], pseudo-inverse of each grid point's Gram matrix [G, 2, 2]): the part of
    the grid search that does not depend on the data, computed once per fit (not once per polarity)."""
    log_grid = np.linspace(math.log(tau_bounds[0]), math.log(tau_bounds[1]), _GRID_POINTS)
    basis = basis_fn(ti[np.newaxis, :], np.exp(log_grid)[:, np.newaxis])[0]  # [G, N, 2]
    return log_grid, basis, np.linalg.pinv(np.einsum("gni,gnj->gij", basis, basis))


def _varpro(
    ti: np.ndarray, y: np.ndarray, basis_fn, tau_bounds: tuple[float, float], grid=None
) -> tuple[float, np.ndarray, float]:
    """Global least-squares (tau, amplitudes, SSE) for a model linear in 2 amplitudes given tau.

    grid: :func:`_tau_grid` of the same ti, basis_fn and bounds (computed here when None).
    """
    log_grid, basis, inverse = grid if grid is not None else _tau_grid(ti, basis_fn, tau_bounds)
    xty = np.einsum("gni,n->gi", basis, y)
    sse = float(y @ y) - np.einsum("gi,gij,gj->g", xty, inverse, xty)
    best = int(np.argmin(sse))
    lo = log_grid[max(best - 1, 0)]
    hi = log_grid[min(best + 1, _GRID_POINTS - 1)]
    result = minimize_scalar(
        lambda g: _projection(basis_fn(ti, math.exp(g), False)[0], y)[1],
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-7},
    )
    tau = math.exp(float(result.x)) if result.fun <= sse[best] else math.exp(float(log_grid[best]))
    coef, value = _projection(basis_fn(ti, tau, False)[0], y)
    return tau, coef, value


def _covariance(ti: np.ndarray, basis_fn, tau: float, coef: np.ndarray, sse: float) -> np.ndarray:
    """Covariance of (c1, c2, tau): s^2 (J^T J)^-1 with s^2 = SSE / (N - 3); inf when N = 3."""
    n = ti.size
    basis, d_basis = basis_fn(ti, tau)
    jac = np.column_stack([basis[:, 0], basis[:, 1], d_basis @ coef])
    if n <= 3:
        return np.full((3, 3), np.inf)
    s2 = sse / (n - 3)
    return s2 * np.linalg.pinv(jac.T @ jac)


def _delta_sd(func, params: np.ndarray, cov: np.ndarray) -> float:
    """1-sigma of func(params) by the delta method (central differences for the gradient)."""
    if not np.all(np.isfinite(cov)):
        return math.inf
    grad = np.zeros(params.size)
    for i in range(params.size):
        step = 1e-6 * max(abs(params[i]), 1e-12)
        up, down = params.copy(), params.copy()
        up[i] += step
        down[i] -= step
        f_up, f_down = func(up), func(down)
        if not (math.isfinite(f_up) and math.isfinite(f_down)):
            return math.inf
        grad[i] = (f_up - f_down) / (2 * step)
    variance = float(grad @ cov @ grad)
    return math.sqrt(variance) if variance >= 0 and math.isfinite(variance) else math.inf


def _tau_bounds(ti: np.ndarray) -> tuple[float, float]:
    """Search range of the time constant: from a fifth of the shortest spacing to 20x the longest TI."""
    steps = np.diff(np.unique(ti))
    low = max(0.2 * float(steps.min()), 1.0)
    high = max(20.0 * float(ti.max()), 10.0 * low)
    return low, high


def _monotone_sse_bound(ys: np.ndarray) -> np.ndarray:
    """A lower bound [K] of the residual sum of squares of each row of ``ys`` [K, N] against any monotone
    sequence. Every curve A - B exp(-TI/T1*) is monotone in TI (TI sorted), so no fit of a row does better.

    A non-decreasing fit m of y must give, for the worst pair i < j with y_i > y_j,
    (y_i - m_i)^2 + (y_j - m_j)^2 >= (y_i - y_j)^2 / 2; the worst drop is max_j (max_{i<=j} y_i - y_j). Likewise
    the worst rise for a non-increasing fit; the bound is the smaller of the two.
    """
    drop = (np.maximum.accumulate(ys, axis=1) - ys).max(axis=1)
    rise = (ys - np.minimum.accumulate(ys, axis=1)).max(axis=1)
    return np.minimum(drop, rise) ** 2 / 2.0


#: A polarity restoration is not fitted when the lower bound of its SSE exceeds the best SSE found by these
#: margins (relative, and absolute for the data normalised to max |y| = 1): far beyond the rounding of both
#: figures and the 1e-12 tie tolerance of the choice, so the choice is exactly the one of fitting them all.
_BOUND_RELATIVE_MARGIN = 1e-6
_BOUND_ABSOLUTE_MARGIN = 1e-9


def _fit_with_flips(ti, y, basis_fn, magnitude: bool, monotone_model: bool = False):
    """Best (k, tau, amplitudes, SSE) over polarity restorations k = 0..N-1 (k = 0 only when signed).

    The best is the first k, in increasing order, whose SSE is lower than every earlier one's by more than
    a relative 1e-12. ``monotone_model`` (the Look-Locker basis: every fitted curve is monotone in TI): the
    restorations are fitted in the order of a lower bound of their SSE (:func:`_monotone_sse_bound`), and
    those whose bound lies clearly above the best SSE already found are left out (branch and bound): they
    cannot be chosen (their SSE is higher than the chosen one's by far more than the tie tolerance), so the
    answer is the same as fitting all of them (Testing/ti/core/test_irfit.py compares the two), in a few
    fits instead of N for a magnitude scout.
    """
    bounds = _tau_bounds(ti)
    grid = _tau_grid(ti, basis_fn, bounds)
    flips = range(ti.size if magnitude else 1)
    restored = {}
    for k in flips:
        yk = y.copy()
        yk[:k] *= -1.0
        restored[k] = yk
    order, lower = list(flips), None
    if monotone_model and len(order) > 1:
        lower = dict(zip(order, _monotone_sse_bound(np.stack([restored[k] for k in order])).tolist()))
        order.sort(key=lambda k: lower[k])
    fitted, best_sse = {}, math.inf
    for k in order:
        if lower is not None and lower[k] * (1 - 1e-9) > best_sse * (1 + _BOUND_RELATIVE_MARGIN) + _BOUND_ABSOLUTE_MARGIN:
            break  # the rest have higher bounds still
        tau, coef, sse = _varpro(ti, restored[k], basis_fn, bounds, grid)
        if k > 0 and coef[0] <= 0:
            continue  # negative asymptote after restoring leading points: not a recovery curve
        fitted[k] = (k, tau, coef, sse)
        best_sse = min(best_sse, sse)
    best = None
    for k in sorted(fitted):
        if best is None or fitted[k][3] < best[3] * (1 - 1e-12):
            best = fitted[k]
    k, tau, coef, sse = best
    if magnitude and coef[0] < 0:  # k = 0 fitted by -(A - B e): every point lies before the null
        coef = -coef
        k = ti.size
    return k, tau, coef, sse, bounds


def _quality(y: np.ndarray, fitted: np.ndarray) -> tuple[float, float]:
    residual = y - fitted
    sse = float(residual @ residual)
    sst = float(((y - y.mean()) ** 2).sum())
    rmse = math.sqrt(sse / y.size)
    r_squared = 1.0 - sse / sst if sst > 0 else (1.0 if sse == 0 else 0.0)
    return rmse, r_squared


def _range_warnings(null_ti_ms: float, ti: np.ndarray) -> list[str]:
    if not math.isfinite(null_ti_ms):
        return []
    if null_ti_ms < ti[0]:
        return [f"The null ({null_ti_ms:.0f} ms) lies before the first TI ({ti[0]:.0f} ms): extrapolated."]
    if null_ti_ms > ti[-1]:
        return [f"The null ({null_ti_ms:.0f} ms) lies after the last TI ({ti[-1]:.0f} ms): extrapolated."]
    return []


# ----------------------------------------------------------------------------------------- public fits
def fit_inversion_recovery(ti_ms, signal, phase_sensitive: bool = False) -> IRFitResult:
    """Fit ``A - B exp(-TI/T1*)`` (phase-sensitive) or its magnitude with polarity restoration.

    Returns the apparent null ``T1* ln(B/A)``, T1*, the Look-Locker corrected T1 ``T1* (B/A - 1)``, fit
    quality and the null's 1-sigma uncertainty. Raises :class:`ScoutError` for < 3 points, non-finite
    values or an all-zero signal.
    """
    ti, y, _ = _validate(ti_ms, signal)
    scale = float(np.max(np.abs(y)))
    yn = y / scale
    magnitude = not phase_sensitive
    if magnitude and np.any(yn < 0):
        raise ScoutError("Magnitude signal has negative values: pass phase_sensitive=True for signed data.")
    k, tau, coef, sse, bounds = _fit_with_flips(ti, yn, _ll_basis, magnitude, monotone_model=True)
    yk = yn.copy()
    yk[:k] *= -1.0
    sse = float(((yk - _ll_basis(ti, tau)[0] @ coef) ** 2).sum())
    cov = _covariance(ti, _ll_basis, tau, coef, sse)
    a, b = float(coef[0]), float(coef[1])
    warnings: list[str] = []

    def null_of(p: np.ndarray) -> float:
        return look_locker_null_ms(p[0], p[1], p[2])

    def t1_of(p: np.ndarray) -> float:
        return look_locker_t1_ms(p[0], p[1], p[2])

    params = np.array([a, b, tau])
    null_ti_ms = null_of(params)
    if not math.isfinite(null_ti_ms):
        warnings.append(
            f"The fitted curve never crosses zero (A = {a * scale:.4g}, B = {b * scale:.4g}): no null TI; "
            "is this an inversion-recovery signal?"
        )
        null_sd = math.inf
    else:
        null_sd = _delta_sd(null_of, params, cov)
        warnings.extend(_range_warnings(null_ti_ms, ti))
    ratio = b / a if a != 0 else math.inf
    if a > 0 and not (PLAUSIBLE_B_OVER_A[0] <= ratio <= PLAUSIBLE_B_OVER_A[1]):
        warnings.append(
            f"B/A = {ratio:.2f} is outside the plausible range {PLAUSIBLE_B_OVER_A} for an inversion "
            "(check the ROI, the inversion and the TI values)."
        )
    if not (bounds[0] * 1.01 < tau < bounds[1] / 1.01):
        warnings.append(f"T1* ({tau:.0f} ms) hit the search limit {bounds}: the curve is poorly determined.")
    if ti.size <= 3:
        warnings.append("Only 3 points: the fit is exact and has no uncertainty estimate.")
    t1_ms = t1_of(params)
    fitted = _ll_basis(ti, tau)[0] @ coef
    rmse, r_squared = _quality(yn, np.abs(fitted) if magnitude else fitted)
    return IRFitResult(
        a=a * scale,
        b=b * scale,
        t1_star_ms=float(tau),
        null_ti_ms=float(null_ti_ms),
        t1_ms=float(t1_ms),
        null_uncertainty_ms=float(null_sd),
        rmse=rmse * scale,
        r_squared=float(r_squared),
        n_flipped=int(k),
        model=MODEL_LL_MAGNITUDE if magnitude else MODEL_LL_PHASE,
        warnings=tuple(warnings),
        t1_uncertainty_ms=_delta_sd(t1_of, params, cov),
    )


def _null_spin_echo(c1: float, c2: float, t1: float, ti: np.ndarray, tr: np.ndarray) -> float:
    """Zero crossing of c1 (1 + exp(-TR/T1)) - c2 exp(-TI/T1), TR(TI) interpolated between the frames."""
    if not (c1 > 0 and c2 > 0 and t1 > 0):
        return math.nan
    null = t1 * math.log(2.0)
    for _ in range(50):
        tr_null = float(np.interp(null, ti, tr))
        ratio = c2 / (c1 * (1.0 + math.exp(-tr_null / t1)))
        if ratio <= 1.0:
            return math.nan
        new = t1 * math.log(ratio)
        if abs(new - null) < 1e-9:
            break
        null = new
    return float(new)


def fit_ir_spin_echo(ti_ms, signal, tr_ms, phase_sensitive: bool = False) -> IRFitResult:
    """Fit the finite-TR inversion-recovery spin-echo model with polarity restoration.

    ``S = |M0 (1 - (1+eff) exp(-TI/T1) + exp(-TR/T1))|`` with per-point TR (array) or one TR (scalar);
    M0, T1 and the inversion efficiency eff are free. The null uses TR interpolated at the null's TI.
    """
    ti, y, order = _validate(ti_ms, signal)
    tr_all = np.asarray(tr_ms, dtype=float)
    if tr_all.ndim == 0:
        tr_all = np.full(ti.size, float(tr_all))
    else:
        tr_all = tr_all.ravel()
        if tr_all.size != ti.size:
            raise ScoutError(f"Got {tr_all.size} TR values for {ti.size} TI values.")
        tr_all = tr_all[order]
    if not np.all(np.isfinite(tr_all)) or np.any(tr_all <= 0):
        raise ScoutError("TR values must be positive finite numbers (ms).")
    if np.any(tr_all <= ti):
        raise ScoutError("Each TR must be longer than its TI for an inversion-recovery spin-echo series.")
    scale = float(np.max(np.abs(y)))
    yn = y / scale
    magnitude = not phase_sensitive
    if magnitude and np.any(yn < 0):
        raise ScoutError("Magnitude signal has negative values: pass phase_sensitive=True for signed data.")
    basis_fn = _se_basis_factory(tr_all)
    k, t1, coef, _, bounds = _fit_with_flips(ti, yn, basis_fn, magnitude)
    yk = yn.copy()
    yk[:k] *= -1.0
    fitted = basis_fn(ti, t1)[0] @ coef
    sse = float(((yk - fitted) ** 2).sum())
    cov = _covariance(ti, basis_fn, t1, coef, sse)
    c1, c2 = float(coef[0]), float(coef[1])
    params = np.array([c1, c2, t1])
    warnings: list[str] = []
    null_ti_ms = _null_spin_echo(c1, c2, t1, ti, tr_all)
    if math.isfinite(null_ti_ms):
        null_sd = _delta_sd(lambda p: _null_spin_echo(p[0], p[1], p[2], ti, tr_all), params, cov)
        warnings.extend(_range_warnings(null_ti_ms, ti))
    else:
        null_sd = math.inf
        warnings.append("The fitted curve never crosses zero: no null TI.")
    efficiency = c2 / c1 - 1.0 if c1 != 0 else math.nan
    if not (PLAUSIBLE_EFFICIENCY[0] <= efficiency <= PLAUSIBLE_EFFICIENCY[1]):
        warnings.append(f"Inversion efficiency {efficiency:.2f} is implausible (expected about 1).")
    if not (bounds[0] * 1.01 < t1 < bounds[1] / 1.01):
        warnings.append(f"T1 ({t1:.0f} ms) hit the search limit {bounds}: the curve is poorly determined.")
    if ti.size <= 3:
        warnings.append("Only 3 points: the fit is exact and has no uncertainty estimate.")
    t1_sd = math.sqrt(cov[2, 2]) if np.isfinite(cov[2, 2]) and cov[2, 2] >= 0 else math.inf
    rmse, r_squared = _quality(yn, np.abs(fitted) if magnitude else fitted)
    return IRFitResult(
        a=c1 * scale,
        b=c2 * scale,
        t1_star_ms=float(t1),
        null_ti_ms=float(null_ti_ms),
        t1_ms=float(t1),
        null_uncertainty_ms=float(null_sd),
        rmse=rmse * scale,
        r_squared=float(r_squared),
        n_flipped=int(k),
        model=MODEL_IR_SE,
        warnings=tuple(warnings),
        t1_uncertainty_ms=float(t1_sd),
        inversion_efficiency=float(efficiency),
    )


def _baseline_basis(ti: np.ndarray, tau: float, signs: np.ndarray) -> np.ndarray:
    """Columns [1, s, -s exp(-TI/T1*)] of ``c + s (A - B exp(-TI/T1*))`` (s = -1 before the null)."""
    e = np.exp(-ti / tau)
    return np.stack([np.ones_like(e), np.broadcast_to(signs, e.shape), -signs * e], axis=-1)


def fit_magnitude_with_baseline(ti_ms, signal) -> IRFitResult:
    """Fit ``c + |A - B exp(-TI/T1*)|`` to display levels (screenshots, photos of the monitor).

    The baseline ``c`` absorbs the monitor's black level, ambient light and glare, which a plain magnitude
    fit would read as a shallower dip (its null moves early). Null ``T1* ln(B/A)`` as for the magnitude
    model. Polarity restoration over k = 0..N-1 as in :func:`fit_inversion_recovery`; the null
    uncertainty is taken from the profile of the residual (delta method on A, B, T1* with c fixed).
    """
    ti, y, _ = _validate(ti_ms, signal)
    scale = float(np.max(np.abs(y)))
    yn = y / scale
    n = ti.size
    if n < 5:
        raise ScoutError(f"A fit with a free baseline needs at least 5 frames; got {n}.")
    low, high = _tau_bounds(ti)
    log_grid = np.linspace(math.log(low), math.log(high), _GRID_POINTS)
    best = None
    for k in range(n):
        signs = np.where(np.arange(n) < k, -1.0, 1.0)
        basis = _baseline_basis(ti[np.newaxis, :], np.exp(log_grid)[:, np.newaxis], signs)  # [G, N, 3]
        gram = np.einsum("gni,gnj->gij", basis, basis)
        xty = np.einsum("gni,n->gi", basis, yn)
        sse = float(yn @ yn) - np.einsum("gi,gij,gj->g", xty, np.linalg.pinv(gram), xty)
        g = int(np.argmin(sse))
        result = minimize_scalar(
            lambda lg, signs=signs: _projection(_baseline_basis(ti, math.exp(lg), signs), yn)[1],
            bounds=(log_grid[max(g - 1, 0)], log_grid[min(g + 1, _GRID_POINTS - 1)]), method="bounded",
        )
        tau = math.exp(float(result.x)) if result.fun <= sse[g] else math.exp(float(log_grid[g]))
        coef, value = _projection(_baseline_basis(ti, tau, signs), yn)
        if k > 0 and coef[1] <= 0:
            continue
        if best is None or value < best[3] * (1 - 1e-12):
            best = (k, tau, coef, value, signs)
    k, tau, coef, sse, signs = best
    c, a, b = (float(v) for v in coef)
    if a < 0:  # every point before the null
        a, b, k = -a, -b, n
    warnings: list[str] = []
    null_ti_ms = look_locker_null_ms(a, b, tau)
    cov = _covariance(ti, _ll_basis, tau, np.array([a, b]), sse) if n > 3 else np.full((3, 3), np.inf)
    if n > 4:
        cov = cov * (n - 3) / (n - 4)  # one more parameter (the baseline) than the plain model
    if math.isfinite(null_ti_ms):
        null_sd = _delta_sd(lambda p: look_locker_null_ms(p[0], p[1], p[2]), np.array([a, b, tau]), cov)
        warnings.extend(_range_warnings(null_ti_ms, ti))
    else:
        null_sd = math.inf
        warnings.append("The fitted curve never crosses zero above its baseline: no null TI.")
    if not (low * 1.01 < tau < high / 1.01):
        warnings.append(f"T1* ({tau:.0f} ms) hit the search limit {(low, high)}: the curve is poorly determined.")
    fitted = c + np.abs(a - b * np.exp(-ti / tau))
    rmse, r_squared = _quality(yn, fitted)
    return IRFitResult(
        a=a * scale, b=b * scale, t1_star_ms=float(tau), null_ti_ms=float(null_ti_ms),
        t1_ms=look_locker_t1_ms(a, b, tau) if a > 0 else math.nan, null_uncertainty_ms=float(null_sd),
        rmse=rmse * scale, r_squared=float(r_squared), n_flipped=int(k), model=MODEL_LL_BASELINE,
        warnings=tuple(warnings), baseline=c * scale,
    )


_MIN_STATIC_PIXELS = 30


def static_pixels(frames: np.ndarray, margin: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of a screen capture that show no signal at any TI, as (quiet, steady) boolean maps.

    quiet: away from the picture's edge (``margin`` of each side: a hand-held photo's perspective fills
    the edges with the monitor's bezel), temporal SD within 1.5x the 1st percentile of all SDs (noise
    only) plus 0.5% of the display range. steady: quiet and without a trend over the frames
    (|least-squares slope| <= its standard error: lung, with a long T1, rises slowly). Air and lung are
    steady; a picture cropped to the heart has (almost) no steady pixels.
    """
    n, rows, cols = frames.shape
    r0, c0 = int(round(margin * rows)), int(round(margin * cols))
    inner = np.zeros((rows, cols), bool)
    inner[r0:rows - r0, c0:cols - c0] = True
    spread = frames.std(axis=0)
    floor = float(np.quantile(spread[inner], 0.01))
    quiet = inner & (spread <= 1.5 * floor + 0.005 * float(np.ptp(frames)))
    if n < 4:
        return quiet, quiet
    t = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    slope = np.tensordot(t, frames, axes=(0, 0)) / float(t @ t)
    residual = frames - frames.mean(axis=0) - slope[np.newaxis] * t[:, np.newaxis, np.newaxis]
    slope_se = np.sqrt((residual**2).sum(axis=0) / (n - 2) / float(t @ t))
    return quiet, quiet & (np.abs(slope) <= slope_se)


def display_zero_level(frames: np.ndarray, near=None, margin: float = 0.08, smooth_px: float = 2.0,
                       n_nodes: int = 400) -> float:
    """Display level of zero signal in screen captures, at the ROI ``near``: the level of static pixels.

    Air and lung give no (or a slowly recovering) signal, so their display level does not change from
    frame to frame: black for magnitude images, mid-grey for phase-sensitive ones (:func:`static_pixels`
    finds them; the quiet ones stand in when fewer than 30 are steady). Glare and ambient light add a
    smooth level that varies across a photo, so the level at the ROI is interpolated (our method): the static pixels' time-averaged levels are smoothed among
    themselves (normalised Gaussian convolution, sigma ``smooth_px``), ``n_nodes`` of them (a fixed,
    seeded subset) are interpolated by a thin-plate spline (scipy RBFInterpolator, linear trend, light
    smoothing), and the spline is averaged over the ROI, kept within the static levels' range. Without
    ``near``: the median level of all static pixels. Measured on simulated 4K monitor photos of
    phase-sensitive scouts (60 series, see models/MODEL_CARD.md): mean absolute error 1.4 display
    levels at the ROI, against 3.2 for the median of the 200 nearest static pixels.
    """
    return _display_zero(frames, near, margin, smooth_px, n_nodes)[0]


def _display_zero(frames, near, margin: float = 0.08, smooth_px: float = 2.0, n_nodes: int = 400) -> tuple[float, int]:
    """:func:`display_zero_level` and the number of steady static pixels it could use."""
    from scipy import ndimage
    from scipy.interpolate import RBFInterpolator

    frames = np.asarray(frames, dtype=np.float64)
    quiet, steady = static_pixels(frames, margin)
    n_steady = int(np.count_nonzero(steady))
    static = steady if n_steady >= _MIN_STATIC_PIXELS else quiet
    level = frames.mean(axis=0)
    values = level[static]
    if near is None or not np.any(near) or values.size < _MIN_STATIC_PIXELS:
        return (float(np.median(values)) if values.size else float(np.min(level))), n_steady
    near = np.asarray(near, dtype=bool)
    weight = ndimage.gaussian_filter(static.astype(np.float64), smooth_px)
    smoothed = ndimage.gaussian_filter(np.where(static, level, 0.0), smooth_px) / np.maximum(weight, 1e-6)
    points = np.argwhere(static)
    if len(points) > n_nodes:
        points = points[np.random.default_rng(0).choice(len(points), n_nodes, replace=False)]
    size = float(max(level.shape))
    spline = RBFInterpolator(points / size, smoothed[points[:, 0], points[:, 1]], kernel="thin_plate_spline",
                             smoothing=1e-3, degree=1)
    at_roi = float(spline(np.argwhere(near) / size).mean())
    return float(np.clip(at_roi, values.min(), values.max())), n_steady


def is_phase_sensitive_display(curve: np.ndarray, zero_level: float) -> bool:
    """A screen-captured curve of a phase-sensitive image: it starts clearly *below* the display level of
    zero signal (5% of its span above it) and has its minimum in the first two frames."""
    curve = np.asarray(curve, dtype=float)
    span = max(float(curve.max() - zero_level), 1e-9)
    return int(np.argmin(curve)) <= 1 and curve[0] < zero_level - 0.05 * span


def refine_null_near_crossing(ti_ms, signal, fit: IRFitResult, half_window_ms: float = 150.0) -> IRFitResult:
    """Refine the null of a signed fit from the frames around the data's own zero crossing.

    A screen's tone curve (display gamma, the camera's curve) bends a phase-sensitive curve far from the
    zero level but is nearly linear across it, so the crossing is better located by the frames near it.
    Our method: with T1* fixed from the full fit, A and B are refitted by least squares to the frames
    within ``half_window_ms`` of the last upward zero crossing of ``signal`` (at least the 3 nearest
    frames); the result keeps the full fit's quality figures and names the refinement in ``warnings``.
    Returns ``fit`` unchanged when the data do not cross zero or the local fit has no null.
    """
    ti = np.asarray(ti_ms, dtype=float)
    y = np.asarray(signal, dtype=float)
    upward = np.flatnonzero((y[:-1] < 0) & (y[1:] >= 0))
    tau = fit.t1_star_ms
    if upward.size == 0 or not math.isfinite(tau) or tau <= 0:
        return fit
    i = int(upward[-1])
    crossing = ti[i] + (0.0 - y[i]) * (ti[i + 1] - ti[i]) / (y[i + 1] - y[i])
    distance = np.abs(ti - crossing)
    local = distance <= half_window_ms
    if np.count_nonzero(local) < 3:
        local = np.zeros(ti.size, bool)
        local[np.argsort(distance)[:3]] = True
    e = np.exp(-ti[local] / tau)
    a, b = np.linalg.lstsq(np.stack([np.ones_like(e), -e], axis=1), y[local], rcond=None)[0]
    if not (a > 0 and b > a):
        return fit
    null_ti_ms = look_locker_null_ms(a, b, tau)
    note = (f"null refined from the {np.count_nonzero(local)} frames within {half_window_ms:.0f} ms of the zero "
            f"crossing ({fit.null_ti_ms:.0f} -> {null_ti_ms:.0f} ms; the display's tone curve bends the rest)")
    return replace(fit, a=float(a), b=float(b), null_ti_ms=float(null_ti_ms), t1_ms=look_locker_t1_ms(a, b, tau),
                   warnings=(*fit.warnings, note))


def fit_display_roi(scout: TIScout, signal: np.ndarray, mask=None) -> IRFitResult:
    """Fit a screen-captured ROI curve: phase-sensitive display or magnitude display, decided from the data.

    A phase-sensitive image on a screen shows zero signal as mid-grey: the myocardium starts *below* the
    zero level and rises monotonically. Then the zero level is measured at the ROI
    (:func:`display_zero_level`), the signed model is fitted to ``signal - zero`` and its null refined
    near the crossing (:func:`refine_null_near_crossing`). Otherwise the curve has a dip: magnitude with
    a free baseline (:func:`fit_magnitude_with_baseline`).
    """
    y = np.asarray(signal, dtype=float)
    zero, n_steady = _display_zero(scout.frames, mask)
    if is_phase_sensitive_display(y, zero):
        result = fit_inversion_recovery(scout.ti_ms, y - zero, phase_sensitive=True)
        result = refine_null_near_crossing(scout.ti_ms, y - zero, result)
        notes = [f"screen capture read as a phase-sensitive display (zero signal at display level {zero:.1f})"]
        if n_steady < _MIN_STATIC_PIXELS:
            notes.append(
                f"only {n_steady} pixels of air or lung in the picture: the display level of zero signal, and "
                "so the null, is uncertain; capture the background around the body too"
            )
        return replace(result, warnings=(*result.warnings, *notes), baseline=zero)
    return fit_magnitude_with_baseline(scout.ti_ms, y)


# ------------------------------------------------------------------------------------------ scout level
def _check_mask(scout: TIScout, mask) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != scout.frames.shape[1:]:
        raise ScoutError(
            f"The ROI mask has shape {mask.shape}; the scout frames are {scout.frames.shape[1:]}."
        )
    if mask.dtype != bool:
        if not np.all(np.isin(mask, (0, 1))):
            raise ScoutError("The ROI mask must be boolean (or 0/1).")
        mask = mask.astype(bool)
    if not mask.any():
        raise ScoutError("The ROI mask is empty: draw a region on the myocardium first.")
    return mask


def roi_signal(scout: TIScout, mask) -> np.ndarray:
    """Mean signal of the ROI in every frame, float64 [N]."""
    mask = _check_mask(scout, mask)
    return scout.frames[:, mask].astype(np.float64).mean(axis=1)


def fit_scout_roi(scout: TIScout, mask, model: str = "auto") -> IRFitResult:
    """Fit the ROI-mean signal of a scout (mask [H, W], bool).

    model: "look-locker", "spin-echo" (needs ``scout.tr_ms``) or "auto" (spin-echo when the scout has a
    recovery TR per frame, as IR spin-echo series loaded from DICOM do; Look-Locker otherwise).
    """
    signal = roi_signal(scout, mask)
    if model == "auto" and scout.screen_capture:
        return fit_display_roi(scout, signal, _check_mask(scout, mask))
    if model == "auto":
        model = "spin-echo" if scout.tr_ms is not None else "look-locker"
    if model == "look-locker":
        return fit_inversion_recovery(scout.ti_ms, signal, phase_sensitive=scout.phase_sensitive)
    if model == "spin-echo":
        if scout.tr_ms is None:
            raise ScoutError("The spin-echo model needs the TR of each frame; this scout has none.")
        return fit_ir_spin_echo(scout.ti_ms, signal, scout.tr_ms, phase_sensitive=scout.phase_sensitive)
    raise ValueError(f"Unknown model {model!r}: use 'auto', 'look-locker' or 'spin-echo'.")


def _closed_form_ab(yk: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row least squares of yk ~ a - b e (rows = pixels): a, b and the residual sum of squares."""
    n = yk.shape[1]
    s_e, s_ee = e.sum(axis=1), (e * e).sum(axis=1)
    s_y, s_ey = yk.sum(axis=1), (e * yk).sum(axis=1)
    det = n * s_ee - s_e**2
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (s_ee * s_y - s_e * s_ey) / det
        b = (s_e * s_y - n * s_ey) / det
    residual = yk - (a[:, None] - b[:, None] * e)
    return a, b, (residual**2).sum(axis=1)


def _grid_search(ys: np.ndarray, sum_sq: np.ndarray, ti: np.ndarray, log_grid: np.ndarray, chunk: int = 2048):
    """Best SSE and grid index [F, P] of ``ys`` [F, P, N] over the T1* grid of the basis [1, -exp(-TI/T1*)].

    All grid points at once: the Gram matrices of every grid point are pseudo-inverted in one batched call,
    and the projections of every pixel onto every grid point's basis are one matrix product per block of
    ``chunk`` pixels (memory O(F x chunk x G), not O(F x P x G)).
    """
    basis = _ll_basis(ti[np.newaxis, :], np.exp(log_grid)[:, np.newaxis])[0]  # [G, N, 2]
    inverse = np.linalg.pinv(np.einsum("gni,gnj->gij", basis, basis))  # [G, 2, 2]
    c00, c01, c11 = (np.ascontiguousarray(inverse[:, i, j]) for i, j in ((0, 0), (0, 1), (1, 1)))
    columns = np.ascontiguousarray(basis[:, :, 1].T)  # [N, G]: the -exp(-TI/T1*) column of every grid point
    n_flips, n_pixels, n_frames = ys.shape
    s_y = ys.sum(axis=2)  # projection on the constant column: the same for every grid point
    best_sse = np.empty((n_flips, n_pixels))
    best_g = np.empty((n_flips, n_pixels), dtype=int)
    for start in range(0, n_pixels, chunk):
        stop = min(start + chunk, n_pixels)
        s_ey = (np.ascontiguousarray(ys[:, start:stop]).reshape(-1, n_frames) @ columns).reshape(n_flips, stop - start, -1)
        sy = s_y[:, start:stop, np.newaxis]
        quadratic = c11 * s_ey  # (c00 sy^2 + 2 c01 sy s_ey + c11 s_ey^2) without large temporaries
        quadratic += 2.0 * c01 * sy
        quadratic *= s_ey
        quadratic += c00 * sy**2
        best = np.argmax(quadratic, axis=2)  # SSE = sum of squares - quadratic: the smallest SSE
        best_g[:, start:stop] = best
        best_sse[:, start:stop] = sum_sq[:, start:stop] - np.take_along_axis(quadratic, best[..., np.newaxis], axis=2)[..., 0]
    return best_sse, best_g


def fit_pixelwise(scout: TIScout, mask=None, n_grid: int = 120) -> dict[str, np.ndarray]:
    """Vectorised Look-Locker fit of every pixel (inside ``mask``, default all).

    Magnitude data try the polarity restorations k = 0, m and m+1 per pixel (m = index of the pixel's
    minimum), phase-sensitive data k = 0. T1* is found on a log grid (``n_grid`` points) and refined by a
    parabola through the best grid point and its neighbours. Returns float32 maps [H, W]: "a", "b",
    "t1_star_ms", "null_ti_ms", "t1_ms", "r_squared", "n_flipped", plus bool "valid" (inside the mask,
    B > A > 0, T1* inside the grid). Maps are NaN where "valid" is False.
    """
    n, h, w = scout.frames.shape
    mask = np.ones((h, w), bool) if mask is None else _check_mask(scout, mask)
    ti = scout.ti_ms
    y = scout.frames[:, mask].astype(np.float64).T  # [P, N]: only the pixels fitted converted (float32 -> float64 is exact)
    p = y.shape[0]
    scale = np.max(np.abs(y), axis=1, keepdims=True)
    scale[scale == 0] = 1.0
    y = y / scale
    if scout.phase_sensitive:
        flips = np.zeros((1, p), dtype=int)
    else:
        m = np.argmin(y, axis=1)
        flips = np.stack([np.zeros(p, int), m, np.minimum(m + 1, n - 1)])
    index = np.arange(n)[np.newaxis, :]
    ys = np.stack([np.where(index < k[:, None], -y, y) for k in flips])  # [F, P, N]
    sum_sq = (ys**2).sum(axis=2)
    low, high = _tau_bounds(ti)
    log_grid = np.linspace(math.log(low), math.log(high), n_grid)
    best_sse, best_g = _grid_search(ys, sum_sq, ti, log_grid)
    cols = np.arange(p)
    f_best = np.argmin(best_sse, axis=0)
    g_best = best_g[f_best, cols]
    yk = ys[f_best, cols]  # [P, N]
    gi = np.clip(g_best, 1, n_grid - 2)
    sse3 = [
        _closed_form_ab(yk, np.exp(-ti[None, :] / np.exp(log_grid[gi + o])[:, None]))[2] for o in (-1, 0, 1)
    ]
    denom = sse3[0] - 2 * sse3[1] + sse3[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(denom > 0, 0.5 * (sse3[0] - sse3[2]) / denom, 0.0)
    tau = np.exp(log_grid[gi] + np.clip(shift, -1.0, 1.0) * (log_grid[1] - log_grid[0]))
    e = np.exp(-ti[None, :] / tau[:, None])
    a, b, _ = _closed_form_ab(yk, e)
    k_used = flips[f_best, cols]
    mirror = a < 0
    physical = ~mirror | (k_used == 0)  # a negative asymptote after restoring points is no recovery
    a = np.where(mirror, -a, a)
    b = np.where(mirror, -b, b)
    k_used = np.where(mirror & (k_used == 0), n, k_used)
    fitted = a[:, None] - b[:, None] * e
    model_values = fitted if scout.phase_sensitive else np.abs(fitted)
    resid = ((y - model_values) ** 2).sum(axis=1)
    total = ((y - y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1 - resid / total, 0.0)
        ok = (
            physical
            & (a > 0)
            & (b > a)
            & (g_best > 0)
            & (g_best < n_grid - 1)
            & np.isfinite(a)
            & np.isfinite(b)
        )
        null = np.where(ok, look_locker_null_ms(a, b, tau), np.nan)
        t1 = np.where(ok, look_locker_t1_ms(a, b, tau), np.nan)
    values = {
        "a": np.where(ok, a * scale[:, 0], np.nan),
        "b": np.where(ok, b * scale[:, 0], np.nan),
        "t1_star_ms": np.where(ok, tau, np.nan),
        "null_ti_ms": null,
        "t1_ms": t1,
        "r_squared": np.where(ok, r2, np.nan),
        "n_flipped": np.where(ok, k_used, np.nan),
    }
    maps = {}
    for name, vals in values.items():
        full = np.full((h, w), np.nan, dtype=np.float32)
        full[mask] = vals
        maps[name] = full
    valid = np.zeros((h, w), bool)
    valid[mask] = ok
    maps["valid"] = valid
    return maps
