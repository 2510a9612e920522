"""The ``gmm-mrf`` LGE method: the exact two-label Potts graph cut (``potts_graph_cut``) and its data term on gmm-pool's
threshold (``mrf_evidence`` / ``mrf_lge``), on brute-forced small grids and an exact synthetic ring."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from LGEResolutionQALib.core.lge_segmentation import mrf_evidence, mrf_lge, segment_lge
from LGEResolutionQALib.core.potts_graph_cut import _OFFSETS, potts_binary_labels
from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom


def _energies(evidence, domain, allowed, beta):
    """The Potts energy of every labelling of the allowed voxels (the rest of the domain normal) -> (labellings as
    [count, voxels] over the flattened grid, energies)."""
    rows, cols = domain.shape
    free = np.flatnonzero(allowed.ravel())
    labels = np.zeros((2 ** free.size, rows * cols))
    labels[:, free] = np.array(list(itertools.product((0, 1), repeat=free.size)))
    energy = -labels @ np.where(domain, evidence, 0.0).ravel()
    for dj, di, weight in _OFFSETS:
        for j, i in itertools.product(range(rows), range(cols)):
            j2, i2 = j + dj, i + di
            if 0 <= j2 < rows and 0 <= i2 < cols and domain[j, i] and domain[j2, i2]:
                energy += beta * weight * (labels[:, j * cols + i] != labels[:, j2 * cols + i2])
    return labels, energy


def test_the_graph_cut_finds_the_minimum_potts_energy_found_by_brute_force():
    rng = np.random.default_rng(3)
    for trial in range(40):
        evidence = rng.normal(0.0, 1.0, (3, 4))
        domain = rng.random((3, 4)) < 0.9
        allowed = domain & (rng.random((3, 4)) < 0.85)
        beta = float(rng.choice([0.05, 0.2, 0.5, 1.0, 3.0]))
        labels, energy = _energies(evidence, domain, allowed, beta)
        got = potts_binary_labels(evidence, domain, allowed, beta)
        assert not (got & ~allowed).any()
        mine = energy[np.flatnonzero((labels == got.ravel()).all(axis=1))[0]]
        assert mine == pytest.approx(energy.min(), abs=1e-2), (trial, beta)


def test_beta_zero_is_the_per_voxel_decision_and_bad_input_is_refused():
    rng = np.random.default_rng(0)
    evidence = np.round(rng.normal(0.0, 1.0, (20, 20)), 1)  # exact zeros occur: ties count as enhanced
    domain = rng.random((20, 20)) < 0.8
    assert np.array_equal(potts_binary_labels(evidence, domain, domain, 0.0), domain & (evidence >= 0))
    with pytest.raises(ValueError, match="beta"):
        potts_binary_labels(evidence, domain, domain, -0.1)
    with pytest.raises(ValueError, match="NaN"):
        potts_binary_labels(np.where(domain, np.nan, 0.0), domain, domain, 0.1)
    with pytest.raises(ValueError, match="one shape"):
        potts_binary_labels(evidence[:5], domain, domain, 0.1)


def _ring_slice():
    """An exact ring (normal myocardium 100, remote mean 100) with gmm-pool's threshold T = 150 and μ_n = 100: a
    transmural bright infarct (200) over 0-80° with a dim gap (140, below T) across the wall at 35-45°, a dim region of
    the same 140 far from it (180-200°), single bright voxels (200) in the normal wall, and a dark voxel (90, below the
    remote mean) inside the infarct."""
    jj, ii = np.mgrid[0:64, 0:64]
    radius = np.hypot(jj - 32, ii - 32)
    angle = np.degrees(np.arctan2(jj - 32, ii - 32)) % 360.0
    myo = (radius >= 14) & (radius < 22)
    image = np.full(myo.shape, 100.0)
    infarct = myo & (angle < 80)
    gap = myo & (angle >= 35) & (angle < 45)
    far = myo & (angle >= 180) & (angle < 200)
    image[infarct] = 200.0
    image[gap | far] = 140.0
    specks = np.zeros_like(myo)
    for a in (120.0, 250.0, 300.0):
        j, i = int(round(32 + 18 * np.sin(np.radians(a)))), int(round(32 + 18 * np.cos(np.radians(a))))
        specks[j, i] = True
    assert (specks & myo).sum() == 3 and not (specks & (infarct | far)).any()
    image[specks] = 200.0
    dark = np.zeros_like(myo)
    dark[tuple(np.argwhere(infarct & (radius > 17) & (radius < 19) & (angle > 15) & (angle < 25))[0])] = True
    image[dark] = 90.0
    return image, myo, infarct, gap, far, specks, dark


def test_the_mrf_joins_a_dim_gap_in_an_infarct_drops_specks_and_never_calls_dark_voxels_enhanced():
    image, myo, infarct, gap, far, specks, dark = _ring_slice()
    per_voxel = mrf_lge(image, myo, 150.0, 100.0, 100.0, beta=0.0, scale=1.0)
    assert np.array_equal(per_voxel, myo & (image >= 150.0))  # β = 0: gmm-pool's decision
    assert not (per_voxel & gap).any() and (per_voxel & specks).sum() == 3
    # the gap (evidence (140 - 100) / 50 - 1 = -0.2 per voxel) is bridged: cutting around it costs more boundary than
    # its voxels' evidence; a speck (evidence +1) has 6.8 β of boundary all round; the dark voxel may not be enhanced
    smooth = mrf_lge(image, myo, 150.0, 100.0, 100.0, beta=0.3, scale=1.0)
    assert (smooth & gap).sum() == gap.sum()
    assert not (smooth & (far | specks | dark)).any()
    assert np.array_equal(smooth, infarct & ~dark)
    # without the remote constraint the smoothing would call the dark voxel enhanced (the constraint matters)
    evidence = mrf_evidence(image, 150.0, 100.0, 1.0)
    assert potts_binary_labels(evidence, myo, myo, 0.3)[dark].all()


def test_gmm_mrf_at_beta_zero_is_gmm_pool_and_smoothing_changes_the_result_on_the_phantom():
    p = make_lge_ring_phantom((3, 72, 72), (1.5, 1.5, 8.0), 0.2, 12.0, np.random.default_rng(1))
    pool = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, method="gmm-pool")
    same = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, method="gmm-mrf", mrf_beta=0.0,
                       mrf_threshold_scale=1.0)
    assert np.array_equal(same.scar_mask, pool.scar_mask) and same.lge_percent_of_lv == pool.lge_percent_of_lv
    assert same.method == "gmm-mrf-per-slice"
    lower = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, method="gmm-mrf", mrf_beta=0.0,
                        mrf_threshold_scale=0.7)
    assert lower.lge_percent_of_lv > pool.lge_percent_of_lv
    for bad in ({"mrf_beta": -1.0}, {"mrf_beta": float("nan")}, {"mrf_threshold_scale": 0.0}):
        with pytest.raises(ValueError, match="mrf_"):
            segment_lge(p.image, p.myocardium_mask, p.spacing_mm, method="gmm-mrf", **bad)
