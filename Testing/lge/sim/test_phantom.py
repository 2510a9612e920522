"""Synthetic LGE ring phantom and NR/HR septum pair: geometry, area averaging, noise, truth."""

from __future__ import annotations

import numpy as np
import pytest
from CardiacLGECommonLib.core.geometry import ras_to_ijk
from LGEResolutionQALib.core.snr import noise_from_background, noise_from_difference, noise_from_tissue
from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom, make_septum_pair
from scipy import ndimage

SPACING = (1.5, 1.5, 10.0)


def test_ring_phantom_masks_and_truth():
    p = make_lge_ring_phantom((4, 96, 96), SPACING, 0.2, 15.0, np.random.default_rng(0))
    assert p.image.shape == (4, 96, 96) and p.image.dtype == np.float32
    assert p.sigma_true == pytest.approx(1.0 / 15.0)
    assert not (p.scar_mask_truth & ~p.myocardium_mask).any()
    assert not (p.remote_mask & (p.scar_mask_truth | ~p.myocardium_mask)).any()
    assert not (p.blood_mask & p.myocardium_mask).any() and not (p.air_mask & p.myocardium_mask).any()
    assert p.remote_mask.sum() > 300 and p.air_mask.sum() > 5000 and p.blood_mask.sum() > 2000
    # transmural sector of 360°·f in every slice: area fraction f exactly (up to the 8x8 sub-grid)
    assert p.scar_percent_truth == pytest.approx(20.0, abs=0.1)
    mask_percent = 100 * p.scar_mask_truth.sum() / p.myocardium_mask.sum()
    assert mask_percent == pytest.approx(p.scar_percent_truth, abs=0.5)
    assert p.scar_ml_truth == pytest.approx(p.scar_percent_truth * p.myocardium_ml_truth / 100)
    # myocardial volume: annuli with r_endo 25 -> 18 mm, wall 10 mm, 10 mm slices
    r_endo = np.linspace(25, 18, 4)
    analytic_ml = np.sum(np.pi * ((r_endo + 10) ** 2 - r_endo**2)) * 10 / 1000
    assert p.myocardium_ml_truth == pytest.approx(analytic_ml, rel=0.005)
    # geometry: the in-plane centre of the image is at R = A = 0, slice k at S = 10 k
    assert ras_to_ijk(p.ijk_to_ras, np.array([0.0, 0.0, 20.0])) == pytest.approx([47.5, 47.5, 2.0])


def test_ring_phantom_is_area_averaged_not_point_sampled():
    # noise-free (huge SNR): the sum of voxel values x voxel area equals the integral of the scene
    p = make_lge_ring_phantom((1, 96, 96), SPACING, 0.25, 1e9, np.random.default_rng(0), endo_radius_mm=(22.3, 22.3))
    lv = p.levels
    r_endo, r_epi = 22.3, 32.3
    ring = np.pi * (r_epi**2 - r_endo**2)
    integral = lv["blood"] * np.pi * r_endo**2 + lv["remote"] * 0.75 * ring + lv["scar"] * 0.25 * ring
    assert p.image.sum() * 1.5 * 1.5 == pytest.approx(integral, rel=2e-3)
    values = np.unique(np.round(p.image, 4))
    assert len(values) > 20  # partial-volume voxels have intermediate values


def test_ring_phantom_noise_is_rician_of_known_sigma():
    rng = np.random.default_rng(1)
    p = make_lge_ring_phantom((6, 128, 128), SPACING, 0.2, 12.0, rng)
    sigma = p.sigma_true
    assert noise_from_background(p.image[p.air_mask]).sigma == pytest.approx(sigma, rel=0.05)
    assert noise_from_background(p.image[p.air_mask], statistic="mean").sigma == pytest.approx(sigma, rel=0.05)
    pure_blood = ndimage.binary_erosion(p.blood_mask, iterations=2)
    assert noise_from_tissue(p.image[pure_blood]).sigma == pytest.approx(sigma, rel=0.05)
    q = make_lge_ring_phantom((6, 128, 128), SPACING, 0.2, 12.0, np.random.default_rng(2))
    assert noise_from_difference(p.image, q.image, pure_blood).sigma == pytest.approx(sigma, rel=0.05)


def test_ring_phantom_non_transmural_and_mvo():
    p = make_lge_ring_phantom((3, 96, 96), SPACING, 0.15, 20.0, np.random.default_rng(0), transmural=False, mvo=True)
    assert p.scar_percent_truth == pytest.approx(15.0, abs=0.15)
    assert p.mvo_mask_truth.any() and not (p.mvo_mask_truth & ~p.scar_mask_truth).any()
    assert 0 < p.mvo_ml_truth < 0.3 * p.scar_ml_truth
    # the MVO core is dark and enclosed by bright scar in-plane
    assert p.image[p.mvo_mask_truth].mean() < 0.4
    assert p.image[p.scar_mask_truth & ~ndimage.binary_dilation(p.mvo_mask_truth, iterations=2)].mean() > 0.8
    # non-transmural: no scar in the outer half of the wall
    radius = np.hypot(*(np.indices((96, 96)) - 47.5)) * 1.5
    assert not (p.scar_mask_truth[0] & (radius > 25 + 6)).any()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"scar_fraction": 1.0}, "scar_fraction"), ({"snr": 0.0}, "snr"), ({"shape_kji": (2, 40, 40)}, "does not fit"),
     ({"transmural": False, "scar_fraction": 0.6}, "too large"), ({"spacing_mm": (0, 1, 1)}, "spacing")],
)
def test_ring_phantom_bad_input(kwargs, match):
    args = {"shape_kji": (2, 96, 96), "spacing_mm": SPACING, "scar_fraction": 0.2, "snr": 10.0,
            "rng": np.random.default_rng(0)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        make_lge_ring_phantom(**args)


def _profile(rendered, line_ras, n=400):
    points = np.linspace(line_ras[0], line_ras[1], n)
    ijk = ras_to_ijk(rendered.ijk_to_ras, points)
    values = ndimage.map_coordinates(rendered.image[0].astype(float), [ijk[:, 1], ijk[:, 0]], order=1)
    return np.linalg.norm(points - points[0], axis=1), values


def _dark_band_width(distance, values):
    low, high = values.min(), np.median(np.r_[values[:40], values[-40:]])
    below = np.flatnonzero(values < (low + high) / 2)
    return distance[below[-1]] - distance[below[0]]


def test_septum_pair_same_ras_line_crosses_both():
    pair = make_septum_pair(np.random.default_rng(0), sigma_hr=0.0, sigma_nr=0.0)
    hr, nr = pair["hr"], pair["nr"]
    assert hr.image.shape == (1, 144, 144) and nr.image.shape == (1, 60, 60)
    assert hr.spacing_mm == (0.625, 0.625, 8.0) and nr.spacing_mm == (1.5, 1.5, 8.0)
    # both grids cover the same 90 mm field of view: identical integrals of the scene
    assert hr.image.sum() * 0.625**2 == pytest.approx(nr.image.sum() * 1.5**2, rel=2e-3)
    for rendered, tolerance in ((hr, 0.7), (nr, 1.6)):
        distance, values = _profile(rendered, pair["septum_line_ras"])
        assert values[:20].mean() == pytest.approx(0.8, abs=0.02) and values[-20:].mean() == pytest.approx(0.8, abs=0.02)
        assert values.min() == pytest.approx(0.1, abs=0.05)
        assert _dark_band_width(distance, values) == pytest.approx(pair["septum_thickness_mm"], abs=tolerance)
    # scar line: the septum is bright there
    assert _profile(hr, pair["scar_line_ras"])[1].max() == pytest.approx(1.0, abs=0.01)
    # 1 mm bars at 2 mm pitch: clearly modulated at 0.625 mm, washed out at 1.5 mm pixels
    swing = {key: np.ptp(_profile(pair[key], pair["marker_lines_ras"]["1mm"])[1][100:300]) for key in ("hr", "nr")}
    assert swing["hr"] > 0.6 and swing["nr"] < swing["hr"] - 0.2
    assert set(pair["marker_groups"]) == {"2mm", "1mm"} and pair["marker_groups"]["1mm"]["pitch_mm"] == 2.0


def test_septum_pair_noise_and_errors():
    pair = make_septum_pair(np.random.default_rng(3), sigma_hr=0.05, sigma_nr=0.03, markers=False)
    assert pair["marker_lines_ras"] == {}
    blood = pair["hr"].image[0, 5:60, 5:50]  # A < 20, R < -10: blood only
    assert noise_from_tissue(blood.ravel()).sigma == pytest.approx(0.05, rel=0.08)
    with pytest.raises(ValueError, match="hr_pixel_mm"):
        make_septum_pair(np.random.default_rng(0), hr_pixel_mm=0.0)
    with pytest.raises(ValueError, match="fov_mm"):
        make_septum_pair(np.random.default_rng(0), fov_mm=50.0)
