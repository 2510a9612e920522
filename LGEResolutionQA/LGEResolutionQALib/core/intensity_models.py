"""Intensity-histogram thresholds for LGE: Otsu and a two-Gaussian mixture fitted by EM (core: numpy).

* ``otsu_threshold``: Otsu (1979), the threshold of maximal between-class variance on a 256-bin
  histogram of the values.
* ``fit_two_gaussians``: maximum-likelihood mixture of two 1-D Gaussians by expectation–maximisation
  (Dempster, Laird & Rubin 1977), run on a histogram of the values (at most 128 equal bins over their
  range, whole grey levels per bin for integer data; each bin centre weighted by its count), so its cost does not grow with the voxel count.
  EM has local optima, so it is run from two starts — the two classes of Otsu's threshold (their
  weights, means and SDs) and components at the 25th/90th percentiles (weights 0.7/0.3, each with
  half the overall SD) — and the fit with the higher log-likelihood is kept. Each stops when the
  log-likelihood changes by less than 1e-7 (relative) or after 200 iterations; SDs are floored at
  a quarter of a bin width. ``fit_two_gaussians_batch`` runs one vectorised EM for many slices.
* ``mixture_threshold``: the intensity between the two means where the weighted densities are equal
  (w₀·N(t; μ₀, σ₀) = w₁·N(t; μ₁, σ₁)): a voxel above it is more likely from the bright component.
* ``ashman_d``: separation D = |μ₁ − μ₀| / sqrt((σ₀² + σ₁²)/2) (Ashman, Bird & Zepf, AJ 1994);
  D > 2 is their criterion for two clearly separated modes. A mixture fitted to one mode has D < 2.

This is the simplest relative of Segment's EWA (Heiberg et al., Radiology 2008; Engblom et al.,
JCMR 2016), which also fits the myocardial intensity distribution by EM but weights voxels by
partial volume and uses a-priori information; our mixture is dichotomous (each voxel in or out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ASHMAN_D_SEPARATED = 2.0


@dataclass(frozen=True)
class TwoGaussianFit:
    """Two-component Gaussian mixture (component 0: the darker one). Intensities in the image's units."""

    weight_dark: float
    mean_dark_au: float
    sd_dark_au: float
    weight_bright: float
    mean_bright_au: float
    sd_bright_au: float
    iterations: int
    converged: bool

    @property
    def ashman_d(self) -> float:
        return ashman_d(self.mean_dark_au, self.sd_dark_au, self.mean_bright_au, self.sd_bright_au)


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold (maximal between-class variance) of ``values`` on a ``bins``-bin histogram."""
    data = np.asarray(values, dtype=np.float64).ravel()
    if data.size == 0:
        raise ValueError("Otsu threshold of no values.")
    low, high = float(data.min()), float(data.max())
    if high <= low:
        return high
    counts, edges = np.histogram(data, bins=bins, range=(low, high))
    return _otsu_from_histogram(counts, edges)


def _otsu_from_histogram(counts: np.ndarray, edges: np.ndarray) -> float:
    """Otsu's threshold of an equal-bin histogram (integer ``counts`` over ``edges``)."""
    centres = (edges[:-1] + edges[1:]) / 2.0
    weight0 = np.cumsum(counts)
    weight1 = weight0[-1] - weight0
    sum0 = np.cumsum(counts * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean0 = sum0 / weight0
        mean1 = (sum0[-1] - sum0) / weight1
        between = weight0 * weight1 * (mean0 - mean1) ** 2
    between = np.nan_to_num(between[:-1], nan=-1.0)
    return float(edges[int(np.argmax(between)) + 1])


def ashman_d(mean0: float, sd0: float, mean1: float, sd1: float) -> float:
    """Ashman's D separation of two Gaussian modes (dimensionless)."""
    pooled = np.sqrt((float(sd0) ** 2 + float(sd1) ** 2) / 2.0)
    return float(abs(float(mean1) - float(mean0)) / pooled) if pooled > 0 else float("inf")


def _histogram(data: np.ndarray, bins: int):
    """Bin centres, counts and the SD floor. Integer-valued data (8/16-bit images) get bins of a whole
    number of grey levels, so no bin holds more levels than its neighbour (no comb artefact)."""
    low, high = float(data.min()), float(data.max())
    if np.all(data == np.round(data)):
        uniform = None
        width = float(max(1, int(np.ceil((high - low + 1) / bins))))
        edges = low - 0.5 + width * np.arange(int(np.ceil((high - low + 1) / width)) + 1)
        # integer grey levels: bin of low + d (d = 0, 1, ...) is d // width exactly (edges at half grey levels)
        counts = np.bincount(((data - low) // width).astype(np.intp), minlength=edges.size - 1)
    else:
        # equal bins over [low, high]: numpy's uniform-bin path, the same edges and counts as np.linspace edges
        counts, edges = np.histogram(data, bins=bins, range=(low, high))
        uniform = (counts, edges)  # = otsu_threshold's own histogram of these values
    return (edges[:-1] + edges[1:]) / 2.0, counts.astype(np.float64), (edges[1] - edges[0]) / 4.0, uniform


def _class_start(x: np.ndarray, n: np.ndarray, dark: np.ndarray, floor: float):
    """Weights, means and SDs of the two classes split by the boolean bin mask ``dark``."""
    parts = []
    for part in (dark, ~dark):
        w = n * part
        total = max(w.sum(), 1e-12)
        mean = (w * x).sum() / total
        sd = np.sqrt(max((w * (x - mean) ** 2).sum() / total, 0.0))
        parts.append((total, mean, max(sd, floor)))
    weight = np.array([parts[0][0], parts[1][0]])
    return weight / weight.sum(), np.array([parts[0][1], parts[1][1]]), np.array([parts[0][2], parts[1][2]])


def fit_two_gaussians_batch(value_sets, bins: int = 128, max_iterations: int = 200,
                            tolerance: float = 1e-7) -> list[TwoGaussianFit]:
    """``fit_two_gaussians`` for several value sets at once (one vectorised EM over all of them)."""
    sets = [np.asarray(v, dtype=np.float64).ravel() for v in value_sets]
    for data in sets:
        if data.size < 4:
            raise ValueError(f"A two-Gaussian mixture needs at least 4 values; got {data.size}.")
        if not np.all(np.isfinite(data)):
            raise ValueError("The values of a Gaussian-mixture fit must be finite.")
        if data.max() <= data.min():
            raise ValueError("All values are equal: no mixture to fit.")
    if not sets:
        return []
    xs, ns, floors, starts = [], [], [], []
    for data in sets:
        x, n, floor, uniform = _histogram(data, bins)
        xs.append(x)
        ns.append(n)
        floors.append(floor)
        split = otsu_threshold(data, bins=bins) if uniform is None else _otsu_from_histogram(*uniform)
        otsu = _class_start(x, n, x < split, floor)
        low, high = np.percentile(data, [25.0, 90.0])
        spread = max(float(data.std()) / 2.0, floor)
        percentile = (np.array([0.7, 0.3]), np.array([low, max(high, low + floor)]), np.array([spread, spread]))
        starts.append((otsu, percentile))
    count = len(sets)
    # rows 0..count-1: Otsu start; count..2count-1: percentile start
    length = max(len(v) for v in xs)  # pad to one length: empty bins (count 0) change nothing
    xs = [np.concatenate([v, np.full(length - len(v), v[-1])]) for v in xs]
    ns = [np.concatenate([v, np.zeros(length - len(v))]) for v in ns]
    x = np.vstack(xs + xs)
    n = np.vstack(ns + ns)
    floor = np.array(floors + floors)[:, None]
    weight = np.array([s[0][0] for s in starts] + [s[1][0] for s in starts])
    mean = np.array([s[0][1] for s in starts] + [s[1][1] for s in starts])
    sd = np.array([s[0][2] for s in starts] + [s[1][2] for s in starts])
    total = n.sum(axis=1)
    rows = np.arange(2 * count)  # the rows still iterating (working arrays are compacted to them)
    previous = np.full(2 * count, -np.inf)
    log_likelihood = np.full(2 * count, -np.inf)
    iterations = np.zeros(2 * count, int)
    converged = np.zeros(2 * count, bool)
    final_weight, final_mean, final_sd = weight.copy(), mean.copy(), sd.copy()
    scale = 1.0 / np.sqrt(2.0 * np.pi)
    for iteration in range(1, max_iterations + 1):
        z = (x[:, None, :] - mean[:, :, None]) / sd[:, :, None]
        density = np.exp(-0.5 * z * z) * (weight * scale / sd)[:, :, None]
        mixture = np.maximum(density.sum(axis=1), 1e-300)
        ll = (n * np.log(mixture)).sum(axis=1)
        resp = density * (n / mixture)[:, None, :]
        nk = resp.sum(axis=2)
        ok = nk.min(axis=1) > 0
        nk = np.maximum(nk, 1e-300)
        new_mean = (resp * x[:, None, :]).sum(axis=2) / nk
        new_var = (resp * (x[:, None, :] - new_mean[:, :, None]) ** 2).sum(axis=2) / nk
        weight = np.where(ok[:, None], nk / total[:, None], weight)
        mean = np.where(ok[:, None], new_mean, mean)
        sd = np.where(ok[:, None], np.maximum(np.sqrt(new_var), floor), sd)
        log_likelihood[rows] = ll
        iterations[rows] = iteration
        done = np.abs(ll - previous) <= tolerance * np.abs(ll)
        converged[rows[done & ok]] = True
        previous = ll
        stop = done | ~ok
        if iteration == max_iterations:
            stop[:] = True
        if stop.any():
            final_weight[rows[stop]], final_mean[rows[stop]], final_sd[rows[stop]] = weight[stop], mean[stop], sd[stop]
            keep = ~stop
            rows, x, n, floor, total = rows[keep], x[keep], n[keep], floor[keep], total[keep]
            weight, mean, sd, previous = weight[keep], mean[keep], sd[keep], previous[keep]
            if rows.size == 0:
                break
    weight, mean, sd = final_weight, final_mean, final_sd
    fits = []
    for index in range(count):
        best = index if log_likelihood[index] >= log_likelihood[index + count] else index + count
        order = np.argsort(mean[best])
        w, m, s = weight[best][order], mean[best][order], sd[best][order]
        fits.append(TwoGaussianFit(float(w[0]), float(m[0]), float(s[0]), float(w[1]), float(m[1]), float(s[1]),
                                   int(iterations[best]), bool(converged[best])))
    return fits


def fit_two_gaussians(values: np.ndarray, bins: int = 128, max_iterations: int = 200,
                      tolerance: float = 1e-7) -> TwoGaussianFit:
    """EM fit of a two-Gaussian mixture to ``values`` (see the module docstring)."""
    return fit_two_gaussians_batch([values], bins, max_iterations, tolerance)[0]


def mixture_threshold(fit: TwoGaussianFit) -> float | None:
    """Intensity between the two means where the weighted densities are equal; None if there is none."""
    w0, m0, s0 = fit.weight_dark, fit.mean_dark_au, fit.sd_dark_au
    w1, m1, s1 = fit.weight_bright, fit.mean_bright_au, fit.sd_bright_au
    if not (w0 > 0 and w1 > 0 and m1 > m0):
        return None
    # log(w0 N0(t)) = log(w1 N1(t))  <=>  a t² + b t + c = 0
    a = 1.0 / (2 * s1**2) - 1.0 / (2 * s0**2)
    b = m0 / s0**2 - m1 / s1**2
    c = m1**2 / (2 * s1**2) - m0**2 / (2 * s0**2) - np.log((w1 * s0) / (w0 * s1))
    if abs(a) < 1e-15:
        roots = [-c / b] if b != 0 else []
    else:
        disc = b * b - 4 * a * c
        if disc < 0:
            return None
        root = np.sqrt(disc)
        roots = [(-b + root) / (2 * a), (-b - root) / (2 * a)]
    inside = [float(r) for r in roots if m0 <= r <= m1]
    return min(inside) if inside else None
