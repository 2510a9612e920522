"""Exact two-label Potts (Ising) segmentation of one image slice by a minimum s-t cut.

Energy over the labels l_v ∈ {0 normal, 1 enhanced} of the voxels of ``domain``:

    E(l) = Σ_v  −e_v · l_v  +  β · Σ_{u~v} w_uv · [l_u ≠ l_v],

with ``e_v`` the voxel's evidence for "enhanced" (positive: the data prefer enhanced; dimensionless, the caller's
units), u ~ v the in-plane 8-neighbours inside ``domain`` (w = 1 for the 4 edge neighbours, 1/√2 for the 4 diagonal
ones: the 8-neighbourhood weights that approximate the Euclidean boundary length, Boykov & Kolmogorov, ICCV 2003) and
β ≥ 0 the smoothness weight (evidence units per unit of boundary length). Voxels of ``domain`` outside ``allowed`` are
fixed to "normal" (their pairwise terms still count); voxels outside ``domain`` take no part (free boundary).

A binary energy with these (submodular) pairwise terms is minimised **exactly** by a minimum cut of the graph of
Greig, Porteous & Seheult (J R Stat Soc B 1989), the construction Boykov & Jolly (ICCV 2001) use for interactive
segmentation: terminal edges carry the unary costs, neighbour edges β·w. Voxels whose evidence outweighs all their pair weights
(|e_v| > β·Σ_u w_uv) take their preferred label in every minimiser, so they are fixed first and only the rest forms the
graph (exact; most voxels leave it when β is small). The max-flow is scipy's ``scipy.sparse.csgraph.maximum_flow``
(Dinic's algorithm), which needs integer capacities: costs are scaled and rounded (resolution at most 1e-3 of an
evidence unit, finer where the graph is small). β = 0 is exactly the per-voxel decision ``allowed & (e ≥ 0)`` (ties count as enhanced, as ``image ≥
threshold`` does).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

__all__ = ["potts_binary_labels", "NEIGHBOUR_WEIGHT_SUM"]

_DIAGONAL = 1.0 / np.sqrt(2.0)
#: (dj, di, weight) of the 4 "forward" in-plane 8-neighbour offsets (the other 4 are their reverses)
_OFFSETS = ((0, 1, 1.0), (1, 0, 1.0), (1, 1, _DIAGONAL), (1, -1, _DIAGONAL))
#: Σ of the pairwise weights around one voxel (4 · 1 + 4 · 1/√2)
NEIGHBOUR_WEIGHT_SUM = 4.0 + 4.0 * _DIAGONAL
_MAX_RESOLUTION = 1000.0  # integer capacity units per evidence unit, at most
_CAPACITY_BUDGET = 2 ** 30  # bound on the total terminal capacity (int32 flows cannot overflow)


def _pairs(domain: np.ndarray, index: np.ndarray):
    """(node u, node v, weight) for every unordered in-plane 8-neighbour pair of ``domain`` voxels."""
    rows, cols = domain.shape
    us, vs, ws = [], [], []
    for dj, di, weight in _OFFSETS:
        j0, j1 = 0, rows - dj
        i0, i1 = max(0, -di), cols - max(0, di)
        a = domain[j0:j1, i0:i1] & domain[j0 + dj:j1 + dj, i0 + di:i1 + di]
        us.append(index[j0:j1, i0:i1][a])
        vs.append(index[j0 + dj:j1 + dj, i0 + di:i1 + di][a])
        ws.append(np.full(int(np.count_nonzero(a)), weight))
    return np.concatenate(us), np.concatenate(vs), np.concatenate(ws)


def potts_binary_labels(evidence2d, domain2d, allowed2d, beta: float) -> np.ndarray:
    """The labelling of ``domain2d`` that minimises the Potts energy of the module docstring -> bool mask (True =
    enhanced, only inside ``allowed2d & domain2d``).

    ``evidence2d``: float array, evidence for enhanced per voxel (read only inside ``domain2d``; must be finite there);
    ``domain2d``: the voxels segmented (e.g. one slice's myocardium); ``allowed2d``: the voxels that may be enhanced
    (the rest of the domain is fixed to normal); ``beta`` ≥ 0: the smoothness weight. Where several labellings have
    the same minimal energy, the one with the most enhanced voxels (the largest sink side of the minimum cuts) is returned (β = 0:
    ties e = 0 are enhanced)."""
    e = np.asarray(evidence2d, dtype=np.float64)
    domain = np.asarray(domain2d, bool)
    allowed = np.asarray(allowed2d, bool) & domain
    if e.ndim != 2 or e.shape != domain.shape or allowed.shape != domain.shape:
        raise ValueError(f"evidence, domain and allowed must be 2D arrays of one shape; got {e.shape}, "
                         f"{domain.shape}, {allowed.shape}.")
    if isinstance(beta, bool) or not np.isfinite(beta) or beta < 0:
        raise ValueError(f"beta must be a finite number ≥ 0; got {beta!r}.")
    if not np.all(np.isfinite(e[domain])):
        raise ValueError("The evidence has NaN or infinite values inside the domain.")
    if beta == 0 or not allowed.any():
        return allowed & (e >= 0)
    # Voxels whose evidence outweighs all their pair weights (|e_v| > β·W_v) take their preferred label in every
    # minimiser (Greig et al. 1989's persistency argument); they, and the voxels fixed to normal, leave the graph and
    # act on their free neighbours through the unary terms. Exact, and most voxels leave when β is small.
    index = np.full(domain.shape, -1, dtype=np.int64)
    count = int(np.count_nonzero(domain))
    index[domain] = np.arange(count)
    u, v, w = _pairs(domain, index)
    total = np.bincount(u, weights=w, minlength=count) + np.bincount(v, weights=w, minlength=count)
    evidence = e[domain]
    may = allowed[domain]
    enhanced = may & (evidence > beta * total)
    free = may & ~enhanced & (evidence >= -beta * total)
    out = np.zeros(domain.shape, bool)
    if not free.any():
        out[domain] = enhanced
        return out
    node = np.full(count, -1, dtype=np.int64)
    n = int(np.count_nonzero(free))
    node[free] = np.arange(n)
    # net preference for enhanced of each free voxel: its evidence, + β·w per enhanced fixed neighbour, − β·w per
    # normal fixed neighbour
    du = free[u] & ~free[v]
    dv = free[v] & ~free[u]
    sign_v = np.where(enhanced[v], 1.0, -1.0)
    sign_u = np.where(enhanced[u], 1.0, -1.0)
    pull = (np.bincount(node[u[du]], weights=beta * w[du] * sign_v[du], minlength=n)
            + np.bincount(node[v[dv]], weights=beta * w[dv] * sign_u[dv], minlength=n))
    net = evidence[free] + pull
    bound = float(np.max(np.abs(net))) + 1.0
    scale = min(_MAX_RESOLUTION, _CAPACITY_BUDGET / (n * 2.0 * bound + beta * NEIGHBOUR_WEIGHT_SUM * n))
    both = free[u] & free[v]
    u, v, w = node[u[both]], node[v[both]], w[both]
    # graph: node n = source, n + 1 = sink; sink side = enhanced. v on the source side (normal) cuts v -> t, which
    # carries the cost of normal (max(net, 0)); v on the sink side (enhanced) cuts s -> v, the cost of enhanced.
    cost_normal = np.rint(np.maximum(net, 0.0) * scale).astype(np.int64)
    cost_enhanced = np.rint(np.maximum(-net, 0.0) * scale).astype(np.int64)
    pair = np.rint(beta * w * scale).astype(np.int64)
    source, sink = n, n + 1
    nodes = np.arange(n)
    heads = np.concatenate([np.full(n, source), nodes, u, v])
    tails = np.concatenate([nodes, np.full(n, sink), v, u])
    capacity = np.concatenate([cost_enhanced, cost_normal, pair, pair])
    graph = sparse.csr_matrix((capacity.astype(np.int32), (heads, tails)), shape=(n + 2, n + 2))
    flow = maximum_flow(graph, source, sink, method="dinic").flow
    residual = (graph - flow.tocsr()).tocsr()
    residual.data = np.where(residual.data > 0, 1, 0).astype(np.int8)
    residual.eliminate_zeros()
    reached = breadth_first_order(residual, source, directed=True, return_predecessors=False)
    normal = np.zeros(n + 2, bool)
    normal[reached] = True
    labels = enhanced.copy()
    labels[free] = ~normal[:n]
    out[domain] = labels
    return out
