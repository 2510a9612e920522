"""The ``gmm-pool`` LGE method: blood-pool-referenced threshold, its peak term and its a-priori spatial rules (small
regions, endocardial contact, enclosed cores, slice-to-slice consistency), on exact synthetic rings and the ring
phantom."""

from __future__ import annotations

import numpy as np
import pytest
from LGEResolutionQALib.core.lge_quantification import LGEQuantSettings, quantify_lge
from LGEResolutionQALib.core.lge_segmentation import (
    MIN_REGION_FRACTION,
    PEAK_FRACTION,
    PEAK_PERCENTILE,
    POOL_FRACTION,
    blood_pool_reference,
    lv_cavity,
    remove_single_slice_regions,
    segment_lge,
    spatial_cleanup,
)
from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom

SPACING = (1.5, 1.5, 10.0)


def _ring(shape=(64, 64), centre=(32, 32), r_in=14.0, r_out=22.0):
    jj, ii = np.mgrid[0:shape[0], 0:shape[1]]
    radius = np.hypot(jj - centre[0], ii - centre[1])
    angle = np.degrees(np.arctan2(jj - centre[0], ii - centre[1])) % 360.0
    return (radius >= r_in) & (radius < r_out), angle, radius


def _candidates():
    """A ring with: a subendocardial infarct (inner 4 voxels of the wall, 0-60°) with a 2 x 2 dark hole inside, a
    3-voxel piece touching the endocardium (too small), a large epicardial region off the endocardium and a speck."""
    myo, angle, radius = _ring()
    infarct = myo & (radius < 18.5) & (angle < 60.0)
    hole = np.zeros_like(myo)
    hole[33:35, 47:49] = True  # radius ~15.5-16.6 at ~5°: inside the infarct band
    assert (hole <= infarct).all()
    small = myo & (radius < 15.0) & (angle > 178.0) & (angle < 182.0)
    epicardial = myo & (radius >= 19.0) & (angle > 250.0) & (angle < 300.0)
    speck = myo & (radius >= 20.0) & (radius < 21.5) & (angle > 120.0) & (angle < 126.0)
    lge = (infarct & ~hole) | small | epicardial | speck
    return myo, infarct, hole, small, epicardial, speck, lge


def test_spatial_cleanup_keeps_the_subendocardial_infarct_and_fills_its_hole_exactly():
    myo, infarct, hole, small, epicardial, speck, lge = _candidates()
    n_myo = int(myo.sum())
    assert 0 < small.sum() < 0.03 * n_myo < epicardial.sum() and 0 < speck.sum() < 0.03 * n_myo
    kept, cores = spatial_cleanup(lge, myo, 0.03)
    assert kept.sum() == infarct.sum() - 4 and cores.sum() == 4  # exact voxel counts
    assert np.array_equal(kept | cores, infarct) and np.array_equal(cores, hole)
    # without the size rule the small piece on the endocardium stays; the epicardial region and speck do not
    kept0, _ = spatial_cleanup(lge, myo, 0.0)
    assert np.array_equal(kept0, (infarct & ~hole) | small)


def test_spatial_cleanup_on_an_open_ring_applies_only_the_size_rule():
    myo, infarct, hole, small, epicardial, speck, lge = _candidates()
    _, angle, _ = _ring()
    open_ring = myo & ~((angle > 200.0) & (angle < 210.0))  # no cavity: no endocardial border to touch
    assert not lv_cavity(open_ring).any()
    kept, _ = spatial_cleanup(lge & open_ring, open_ring, 0.03)
    assert np.array_equal(kept, ((infarct & ~hole) | epicardial) & open_ring)


def test_regions_on_one_slice_only_are_removed():
    scar = np.zeros((3, 12, 12), bool)
    scar[0, 2:5, 2:5] = True  # continues on slice 1 (overlap at [1, 4, 4])
    scar[1, 4:7, 4:7] = True
    scar[1, 9:11, 9:11] = True  # slice 1 only (nothing above or below at these voxels)
    scar[2, 0:2, 8:11] = True  # slice 2 only
    scar[2, 5, 0] = True  # diagonal neighbour of nothing on slice 1: alone
    out, removed = remove_single_slice_regions(scar)
    expected = np.zeros_like(scar)
    expected[0, 2:5, 2:5] = True
    expected[1, 4:7, 4:7] = True
    assert removed == 3 and np.array_equal(out, expected) and out.sum() == 18


def test_blood_pool_reference_is_the_eroded_cavity_median():
    myo, _, radius = _ring()
    image = np.where(myo, 100.0, 0.0)
    cavity = lv_cavity(myo)
    image[cavity] = 200.0
    image[cavity & (radius >= 13.0)] = 150.0  # partial volume with the myocardium along the border
    assert blood_pool_reference(image, myo) == 200.0
    _, angle, _ = _ring()
    assert blood_pool_reference(image, myo & ~((angle > 200.0) & (angle < 210.0))) is None


def _phantom(seed, snr=10.0, transmural=True, fraction=0.2, mvo=False, shape=(5, 96, 96)):
    return make_lge_ring_phantom(shape, SPACING, fraction, snr, np.random.default_rng(seed),
                                 transmural=transmural, mvo=mvo)


@pytest.mark.parametrize(("transmural", "fraction", "mvo"), [(True, 0.2, False), (False, 0.15, False),
                                                              (True, 0.25, True)])
def test_gmm_pool_on_the_phantom_with_known_lge_percent(transmural, fraction, mvo):
    for seed in range(2):
        p = _phantom(seed, 10.0, transmural, fraction, mvo)
        result = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, method="gmm-pool")
        assert result.method == "gmm-pool-per-slice"
        assert result.lge_percent_of_lv == pytest.approx(p.scar_percent_truth, abs=1.5)
        assert not (result.scar_mask & ~p.myocardium_mask).any()
        for row in result.per_slice:
            # T = max(normal + f (blood - normal), normal + g (peak - normal)): the blood level 0.7, normal myocardium
            # 0.1 (RING_LEVELS), the peak the slice's 99th percentile of the myocardium (scar 1.0 plus noise)
            k = row.slice_index
            peak = np.percentile(p.image[k][p.myocardium_mask[k]], PEAK_PERCENTILE)
            assert row.status == "measured" and row.reference_au == pytest.approx(0.7, abs=0.05)
            assert row.threshold_au == pytest.approx(max(0.1 + POOL_FRACTION * 0.6, 0.1 + PEAK_FRACTION * (peak - 0.1)),
                                                     abs=0.05)
        if mvo:  # the dark core is filled (it is part of the infarct)
            assert result.mvo_included_ml > 0.5 * p.mvo_ml_truth


def test_gmm_pool_counts_no_lge_on_a_normal_phantom_with_a_bright_epicardial_speck():
    p = _phantom(3, 10.0, fraction=0.0)
    image = p.image.copy()
    k, j, i = np.argwhere(p.myocardium_mask)[0]  # an outermost myocardial voxel of slice k
    image[k, j:j + 2, i:i + 2] = 1.0
    result = segment_lge(image, p.myocardium_mask, p.spacing_mm, method="gmm-pool")
    assert result.lge_percent_of_lv == 0.0 and any(w.startswith("No LGE found") for w in result.warnings)


def test_gmm_pool_with_a_user_remote_uses_it_as_the_normal_myocardium():
    p = _phantom(1, 12.0)
    result = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, method="gmm-pool", remote_mask=p.remote_mask,
                         pool_fraction=0.5)
    for row in result.per_slice:
        k = row.slice_index
        peak = np.percentile(p.image[k][p.myocardium_mask[k]], PEAK_PERCENTILE)
        mean = row.remote_mean_au
        assert row.threshold_au == pytest.approx(max(mean + 0.5 * (row.reference_au - mean),
                                                     mean + PEAK_FRACTION * (peak - mean)))
    assert result.remote_source == "user"


def test_gmm_pool_takes_the_nearest_slices_blood_pool_and_without_any_ring_says_it_used_gmm():
    myo, angle, radius = _ring()
    image = np.where(myo, 100.0, 0.0) + np.random.default_rng(0).normal(0, 2.0, myo.shape)
    image[lv_cavity(myo)] = 300.0
    image[myo & (radius < 17.0) & (angle < 90.0)] += 150.0
    open_ring = myo & ~((angle > 200.0) & (angle < 210.0))
    stack_myo = np.stack([myo, open_ring, myo])
    stack = np.stack([image, image, image])
    result = segment_lge(stack, stack_myo, SPACING, method="gmm-pool")
    assert any("used the blood pool of slice 0" in w for w in result.warnings)
    assert result.per_slice[1].reference_au == result.per_slice[0].reference_au
    # no ring anywhere (e.g. an LGE box in the QA report): the Gaussian mixture's result, saying so
    no_ring = segment_lge(stack, np.stack([open_ring] * 3), SPACING, method="gmm-pool")
    plain = segment_lge(stack, np.stack([open_ring] * 3), SPACING, method="gmm")
    assert no_ring.method == "gmm-per-slice" and np.array_equal(no_ring.scar_mask, plain.scar_mask)
    assert no_ring.warnings[0].startswith("gmm-pool needs the LV blood pool but the myocardium encloses no LV cavity")


@pytest.mark.parametrize("options", [{"pool_fraction": 0.0}, {"pool_fraction": 1.0}, {"pool_fraction": float("nan")},
                                     {"min_region_fraction": -0.1}, {"min_region_fraction": 1.0},
                                     {"peak_fraction": -0.1}, {"peak_fraction": 1.0}])
def test_bad_gmm_pool_parameters_are_clear_errors(options):
    p = _phantom(0, shape=(2, 96, 96))
    with pytest.raises(ValueError, match=next(iter(options))):
        segment_lge(p.image, p.myocardium_mask, p.spacing_mm, method="gmm-pool", **options)
    if not np.isnan(next(iter(options.values()))):
        with pytest.raises(ValueError, match=next(iter(options))):
            LGEQuantSettings(**options)


def _dense_infarct_stack(n_slices=3):
    """Exact rings (normal wall 100 ± 1, blood 200): a dense subendocardial infarct core at 400 (inner 3 voxels of the
    wall, 20-70°) and, around it in the wall, a one-voxel rim at 190 — between the blood-referenced threshold
    (100 + 0.6 x 100 = 160) and the peak term (100 + 0.4 x (400 - 100) = 220), like partial volume around a bright
    core. Returns (image, myocardium, core, rim) stacked over ``n_slices`` identical slices."""
    myo, angle, radius = _ring()
    core = myo & (radius < 17.0) & (angle > 20.0) & (angle < 70.0)
    grown = core.copy()
    grown[1:, :] |= core[:-1, :]
    grown[:-1, :] |= core[1:, :]
    grown[:, 1:] |= core[:, :-1]
    grown[:, :-1] |= core[:, 1:]
    rim = grown & myo & ~core
    image = np.where(myo, 100.0, 0.0)
    image[lv_cavity(myo)] = 200.0
    jj, ii = np.mgrid[0:myo.shape[0], 0:myo.shape[1]]
    image += np.where((jj + ii) % 2 == 0, 1.0, -1.0) * myo  # a deterministic ±1 texture: two distinct grey levels
    image[core] = 400.0
    image[rim] = 190.0
    stack = lambda a: np.stack([a] * n_slices)  # noqa: E731
    return stack(image), stack(myo), stack(core), stack(rim)


def test_the_peak_term_keeps_the_dense_core_and_drops_its_dim_rim_exactly():
    image, myo, core, rim = _dense_infarct_stack()
    assert 0.03 * myo[0].sum() < core[0].sum() and rim[0].sum() > 0
    result = segment_lge(image, myo, SPACING, method="gmm-pool", peak_fraction=0.4, pool_fraction=0.6)
    assert np.array_equal(result.scar_mask, core)  # exactly the core: its rim (190 < 220) is not LGE
    for row in result.per_slice:
        assert row.threshold_au == pytest.approx(100.0 + 0.4 * 300.0, abs=2.0)  # the peak term, above 160
    # the rule switched off: the blood-referenced threshold alone (≈ 160) also counts the rim
    without = segment_lge(image, myo, SPACING, method="gmm-pool", peak_fraction=0.0, pool_fraction=0.6)
    assert np.array_equal(without.scar_mask, core | rim)
    assert all(row.threshold_au == pytest.approx(160.0, abs=2.0) for row in without.per_slice)


def test_the_peak_term_alone_where_the_blood_pool_is_not_brighter_than_the_normal_myocardium():
    image, myo, core, rim = _dense_infarct_stack()
    image = image.copy()
    cavity = np.stack([lv_cavity(m) for m in myo])
    image[cavity] = 90.0  # blood darker than the normal wall (e.g. a poorly chosen inversion time)
    image[rim] = 150.0
    remote = myo & ~core & ~rim & (np.stack([_ring()[1]] * 3) > 180.0)  # the user's normal wall, mean ≈ 100
    result = segment_lge(image, myo, SPACING, method="gmm-pool", remote_mask=remote, peak_fraction=0.4)
    assert np.array_equal(result.scar_mask, core)
    assert all(row.status == "peak-threshold" for row in result.per_slice)
    assert any("only the peak-referenced threshold was used" in w for w in result.warnings)
    without = segment_lge(image, myo, SPACING, method="gmm-pool", remote_mask=remote, peak_fraction=0.0)
    assert not without.scar_mask.any()
    assert all(row.status == "blood-not-above-myocardium" for row in without.per_slice)


def test_peak_fraction_is_a_quantification_setting_and_reaches_the_json():
    image, myo, core, rim = _dense_infarct_stack()
    ijk_to_ras = np.diag([SPACING[0], SPACING[1], SPACING[2], 1.0])
    default = quantify_lge(image, ijk_to_ras, myo)
    off = quantify_lge(image, ijk_to_ras, myo, LGEQuantSettings(peak_fraction=0.0))
    assert np.array_equal(default.lge.scar_mask, core) and np.array_equal(off.lge.scar_mask, core | rim)
    assert default.as_json()["settings"]["peak_fraction"] == PEAK_FRACTION
    assert off.as_json()["settings"]["peak_fraction"] == 0.0
    assert quantify_lge(image, ijk_to_ras, myo, LGEQuantSettings(method="gmm")).as_json()["settings"]["peak_fraction"] is None


def _small_true_region_stack():
    """Three identical slices of the exact ring: normal myocardium 100, blood 200, a bright (200) subendocardial
    region of 23 voxels = 2.5% of the slice's 904 myocardial voxels, on every slice (so the slice rule keeps it);
    Gaussian noise SD 3."""
    myo2, angle, radius = _ring()
    region2 = myo2 & (radius < 17.5) & (angle < 20.0)
    myo, region = np.repeat(myo2[None], 3, 0), np.repeat(region2[None], 3, 0)
    cavity = np.repeat((radius < 14.0)[None], 3, 0)
    image = (np.where(myo, 100.0, 20.0) + np.where(cavity, 180.0, 0.0) + np.where(region, 100.0, 0.0)
             + np.random.default_rng(0).normal(0.0, 3.0, myo.shape))
    return image, myo, region


def test_the_default_keeps_a_true_region_between_one_and_three_percent_of_the_myocardium():
    """Stage 23: the default minimum region is the "specific" rule's choice, 1% of the slice's myocardium (it was
    3%, the "all" rule's). A true 2.5% subendocardial region is kept exactly by the default and the default
    settings, and removed (0%, "No LGE found" warning) by the old 3%."""
    image, myo, region = _small_true_region_stack()
    share = region[0].sum() / myo[0].sum()
    assert 0.01 <= MIN_REGION_FRACTION < share < 0.03
    result = segment_lge(image, myo, SPACING)
    assert np.array_equal(result.scar_mask, region)
    assert result.lge_percent_of_lv == pytest.approx(100.0 * share) and not result.warnings
    assert all(row.threshold_au == pytest.approx(160.0, abs=1.0) for row in result.per_slice)  # 100 + 0.6 (200 - 100)
    ijk_to_ras = np.diag([SPACING[0], SPACING[1], SPACING[2], 1.0])
    quantified = quantify_lge(image, ijk_to_ras, myo)
    assert np.array_equal(quantified.lge.scar_mask, region)
    assert quantified.as_json()["settings"]["min_region_fraction"] == MIN_REGION_FRACTION
    old = segment_lge(image, myo, SPACING, min_region_fraction=0.03)
    assert not old.scar_mask.any() and any("No LGE found" in w for w in old.warnings)
