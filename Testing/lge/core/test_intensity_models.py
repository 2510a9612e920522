"""Otsu and the two-Gaussian EM mixture: known mixtures, the equal-density threshold, Ashman's D."""

from __future__ import annotations

import numpy as np
import pytest
from LGEResolutionQALib.core.intensity_models import (
    TwoGaussianFit,
    ashman_d,
    fit_two_gaussians,
    fit_two_gaussians_batch,
    mixture_threshold,
    otsu_threshold,
)


def _sample(rng, n0, m0, s0, n1, m1, s1):
    return np.concatenate([rng.normal(m0, s0, n0), rng.normal(m1, s1, n1)])


@pytest.mark.parametrize(("m1", "s1", "w1"), [(10.0, 1.0, 0.3), (8.0, 2.0, 0.2), (6.0, 1.0, 0.5)])
def test_em_recovers_a_known_mixture(m1, s1, w1):
    rng = np.random.default_rng(1)
    n = 40000
    values = _sample(rng, int(n * (1 - w1)), 0.0, 1.0, int(n * w1), m1, s1)
    fit = fit_two_gaussians(values)
    assert fit.converged
    assert fit.mean_dark_au == pytest.approx(0.0, abs=0.05) and fit.sd_dark_au == pytest.approx(1.0, rel=0.05)
    assert fit.mean_bright_au == pytest.approx(m1, abs=0.1) and fit.sd_bright_au == pytest.approx(s1, rel=0.06)
    assert fit.weight_bright == pytest.approx(w1, abs=0.02)
    assert fit.ashman_d == pytest.approx(ashman_d(0.0, 1.0, m1, s1), rel=0.05)


def test_integer_images_and_batch_give_the_same_fit():
    rng = np.random.default_rng(2)
    values = np.round(_sample(rng, 3000, 140.0, 5.0, 900, 175.0, 6.0))  # 8-bit-like grey levels
    single = fit_two_gaussians(values)
    batch = fit_two_gaussians_batch([values[:1000] + 3, values, values[::2]])
    assert batch[1] == single
    assert single.mean_dark_au == pytest.approx(140.0, abs=0.7) and single.mean_bright_au == pytest.approx(175.0, abs=1.0)
    assert single.ashman_d > 2.0


def test_mixture_threshold_is_where_the_weighted_densities_meet():
    symmetric = TwoGaussianFit(0.5, 0.0, 1.0, 0.5, 4.0, 1.0, 1, True)
    assert mixture_threshold(symmetric) == pytest.approx(2.0)
    unequal = TwoGaussianFit(0.8, 0.0, 1.0, 0.2, 4.0, 1.0, 1, True)
    t = mixture_threshold(unequal)
    assert t == pytest.approx(2.0 + np.log(4.0) / 4.0)  # heavier dark class pushes the threshold up

    def density(w, m, s, x):
        return w * np.exp(-0.5 * ((x - m) / s) ** 2) / s

    wide = TwoGaussianFit(0.7, 0.0, 1.0, 0.3, 5.0, 2.0, 1, True)
    tw = mixture_threshold(wide)
    assert 0.0 < tw < 5.0 and density(0.7, 0, 1, tw) == pytest.approx(density(0.3, 5, 2, tw), rel=1e-9)
    assert mixture_threshold(TwoGaussianFit(0.5, 1.0, 1.0, 0.5, 1.0, 1.0, 1, True)) is None


def test_one_mode_has_a_small_separation():
    values = np.random.default_rng(3).normal(100.0, 5.0, 5000)
    assert fit_two_gaussians(values).ashman_d < 2.0


def test_otsu_and_bad_input():
    values = np.concatenate([np.full(100, 10.0), np.full(50, 30.0)])
    assert 10.0 < otsu_threshold(values) <= 30.0
    for bad, match in (([1.0, 2.0], "at least 4"), ([1.0, 1.0, 1.0, 1.0], "equal"), ([1.0, np.nan, 2.0, 3.0], "finite")):
        with pytest.raises(ValueError, match=match):
            fit_two_gaussians(np.array(bad))
    with pytest.raises(ValueError, match="no values"):
        otsu_threshold(np.array([]))
