"""LGE segmentation per slice (n-SD, FWHM, Otsu, Gaussian mixture), the automatic remote and its guard,
fallbacks, MVO, islands and %LV: exact cases and the ring phantom."""

from __future__ import annotations

import numpy as np
import pytest
from LGEResolutionQALib.core.lge_segmentation import (
    AUTO_REMOTE_SOURCE,
    LGEMethodNotApplicable,
    automatic_remote_mask,
    segment_lge,
)
from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom

SPACING = (1.5, 1.5, 10.0)


def _phantom(seed, snr=10.0, transmural=True, fraction=0.2, mvo=False, shape=(5, 96, 96)):
    return make_lge_ring_phantom(shape, SPACING, fraction, snr, np.random.default_rng(seed),
                                 transmural=transmural, mvo=mvo)


def _ring(shape=(64, 64), centre=(32, 32), r_in=14.0, r_out=22.0):
    jj, ii = np.mgrid[0:shape[0], 0:shape[1]]
    radius = np.hypot(jj - centre[0], ii - centre[1])
    angle = np.degrees(np.arctan2(jj - centre[0], ii - centre[1])) % 360.0
    return (radius >= r_in) & (radius < r_out), angle, radius


@pytest.mark.parametrize("snr", [10.0, 12.0])
@pytest.mark.parametrize(("transmural", "fraction"), [(True, 0.2), (False, 0.15)])
@pytest.mark.parametrize("auto_remote", [False, True])
def test_5sd_percent_within_one_point(snr, transmural, fraction, auto_remote):
    for seed in range(2):
        p = _phantom(seed, snr, transmural, fraction)
        result = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, method="nsd", n_sd=5,
                             remote_mask=None if auto_remote else p.remote_mask)
        # per-slice references rest on fewer voxels than one pooled over the stack: 1.5 points automatic
        assert result.lge_percent_of_lv == pytest.approx(p.scar_percent_truth, abs=1.5 if auto_remote else 1.0)
        assert result.method == "nsd-5" and result.n_sd == 5
        assert result.remote_source == (AUTO_REMOTE_SOURCE if auto_remote else "user")
        # the remote lies in normal myocardium, on every slice
        assert not (result.remote_mask & p.scar_mask_truth).any()
        assert all(result.remote_mask[k].any() for k in range(5))
        assert result.lge_ml == pytest.approx(result.lge_percent_of_lv * result.myocardium_ml / 100)
        assert result.myocardium_ml == pytest.approx(p.myocardium_mask.sum() * 1.5 * 1.5 * 10 / 1000)
        assert sum(r.lge_ml for r in result.per_slice) == pytest.approx(result.lge_ml)
        assert [r.slice_index for r in result.per_slice] == list(range(5))
        for row in result.per_slice:
            assert row.lge_percent == pytest.approx(p.scar_percent_truth, abs=3.0)
            assert row.remote_slice_index == row.slice_index and row.status == "measured"
            assert row.threshold_au == pytest.approx(row.remote_mean_au + 5 * row.remote_sd_au)


def test_thresholds_are_per_slice_with_exact_values():
    """Slice 1 is slice 0 exported with twice the scale and an offset: each slice's threshold comes from
    its own remote, so the same scar is found on both (one pooled reference would miss or over-call one)."""
    base = np.full((10, 10), 11.0)
    myo = np.zeros((10, 10), bool)
    myo[2:8, 2:8] = True
    remote = np.zeros_like(myo)
    remote[2:4, 2:8] = True
    base[remote] = np.tile([10.0, 12.0], 6)  # μ = 11, σ = sqrt(12/11)
    scar = np.zeros_like(myo)
    scar[5:8, 5:8] = True
    base[scar] = 20.0
    image = np.stack([base, 2.0 * base + 50.0])
    image[:, ~myo] = 1000.0  # outside the myocardium: never LGE
    sd0 = np.std(np.tile([10.0, 12.0], 6), ddof=1)
    for n in (2, 3, 5, 6):
        result = segment_lge(image, np.stack([myo, myo]), (1.0, 2.0, 8.0), n_sd=n, remote_mask=np.stack([remote, remote]), method="nsd")
        first, second = result.per_slice
        assert first.threshold_au == pytest.approx(11.0 + n * sd0)
        assert second.remote_mean_au == pytest.approx(72.0) and second.remote_sd_au == pytest.approx(2 * sd0)
        assert second.threshold_au == pytest.approx(72.0 + 2 * n * sd0)
        assert np.array_equal(result.scar_mask, np.stack([scar, scar]))
        assert result.lge_ml == pytest.approx(18 * 16.0 / 1000)  # voxel 1 x 2 x 8 mm (slice gap included)
        assert result.lge_percent_of_lv == pytest.approx(100 * 9 / 36)
        assert (first.lge_percent, second.lge_percent) == (25.0, 25.0)
        assert result.warnings == () and result.remote_fallback_slices == ()
    # the old pooled reference (one μ, σ over both slices) is wrong here: it finds slice 1 everywhere
    pooled = image[np.stack([remote, remote])]
    pooled_threshold = pooled.mean() + 5 * pooled.std(ddof=1)
    assert (image[0][scar] < pooled_threshold).all()
    odd = segment_lge(image, np.stack([myo, myo]), (1.0, 2.0, 8.0), n_sd=4, remote_mask=np.stack([remote, remote]), method="nsd")
    assert "published" in odd.warnings[0] and odd.as_row()["method"] == "nsd-4"


def test_user_remote_on_one_slice_falls_back_to_the_nearest_slice():
    p = _phantom(3, shape=(4, 96, 96))
    remote = p.remote_mask.copy()
    remote[1:] = False
    result = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, remote_mask=remote, method="nsd")
    assert result.remote_fallback_slices == (1, 2, 3)
    assert [r.remote_slice_index for r in result.per_slice] == [0, 0, 0, 0]
    assert result.per_slice[3].remote_mean_au == result.per_slice[0].remote_mean_au
    assert "No usable remote myocardium on slice(s) 1 (no remote ROI on this slice; used slice 0)" in result.warnings[0]
    assert result.lge_percent_of_lv == pytest.approx(p.scar_percent_truth, abs=1.5)


def test_automatic_remote_falls_back_where_a_slice_is_too_small():
    p = _phantom(5, shape=(3, 96, 96))
    myo = p.myocardium_mask.copy()
    myo[2] = False
    myo[2, 40:42, 20:24] = True  # 8 voxels: no usable remote on this slice
    result = segment_lge(p.image, myo, p.spacing_mm, method="nsd")
    assert result.remote_fallback_slices == (2,)
    assert result.per_slice[2].remote_slice_index == 1 and not result.remote_mask[2].any()
    assert "fewer than 10 remote voxels" in result.warnings[0]


def _mvo_slice(seed=0):
    """A ring with a 200° bright infarct whose middle 80° is a dark core (MVO) spanning the wall inside a
    one-voxel bright rim: the darkest 60° sector of the eroded myocardium is the core itself."""
    rng = np.random.default_rng(seed)
    myo, angle, radius = _ring((72, 72), (36, 36), 14.0, 23.0)
    infarct = myo & (angle >= 80) & (angle < 280)
    core = infarct & (angle >= 140) & (angle < 220) & (radius >= 15.0) & (radius < 22.0)
    image = np.where(myo, 0.3, 0.8)
    image[infarct] = 1.0
    image[core] = 0.0
    image = image + rng.normal(0.0, 0.02, image.shape)
    return image[None], myo[None], (infarct | core)[None], core[None]


def test_automatic_remote_cannot_sit_on_a_dark_mvo_core():
    image, myo, infarct, core = _mvo_slice()
    unguarded = automatic_remote_mask(image, myo, (1.5, 1.5, 8.0))
    assert (unguarded & core).sum() > 0.5 * unguarded.sum()  # the plain darkest sector is on the core
    result = segment_lge(image, myo, (1.5, 1.5, 8.0), include_mvo=True, method="nsd")
    assert result.remote_mask.any() and not (result.remote_mask & infarct).any()
    assert result.remote_fallback_slices == ()
    truth = 100 * infarct.sum() / myo.sum()
    assert result.lge_percent_of_lv == pytest.approx(truth, abs=2.0)
    assert result.mvo_included_ml == pytest.approx(core.sum() * 1.5 * 1.5 * 8 / 1000, rel=0.1)
    assert np.array_equal(result.mvo_mask, result.scar_mask & core)


def test_fwhm_per_slice_and_refusal_with_an_intensity_offset():
    p = _phantom(0, snr=40.0)
    fwhm = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, method="fwhm", remote_mask=p.remote_mask)
    assert fwhm.method == "fwhm-per-slice"
    assert fwhm.lge_percent_of_lv == pytest.approx(p.scar_percent_truth, abs=1.0)
    for row in fwhm.per_slice:
        assert row.threshold_au == pytest.approx(0.5 * row.reference_au) and row.status == "measured"
        assert row.reference_au == pytest.approx(p.image[row.slice_index][p.myocardium_mask[row.slice_index]].max())
    # the same image with an intensity offset: half the maximum falls below the remote mean -> refuse
    offset = p.image + 2.0
    with pytest.raises(LGEMethodNotApplicable, match=r"FWHM does not apply.*slice 0: half the maximum.*not above the "
                                                     r"remote mean.*n-SD or Gaussian-mixture"):
        segment_lge(offset, p.myocardium_mask, p.spacing_mm, method="fwhm", remote_mask=p.remote_mask)
    # a slice without a bright core has no LGE by FWHM (not 100%)
    normal = _phantom(1, fraction=0.0, shape=(2, 96, 96))
    none = segment_lge(normal.image, normal.myocardium_mask, normal.spacing_mm, method="fwhm")
    assert none.lge_percent_of_lv == 0.0
    assert {r.status for r in none.per_slice} == {"no-hyperenhancement"}
    assert any(w.startswith("No LGE found: no hyperenhanced core") for w in none.warnings)


def test_gmm_and_otsu_per_slice():
    p = _phantom(2, snr=12.0)
    gmm = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, method="gmm")
    assert gmm.method == "gmm-per-slice" and gmm.n_sd is None
    assert gmm.lge_percent_of_lv == pytest.approx(p.scar_percent_truth, abs=1.5)
    assert {r.status for r in gmm.per_slice} == {"measured"}
    otsu = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, method="otsu")
    assert otsu.lge_percent_of_lv == pytest.approx(p.scar_percent_truth, abs=1.5)
    # normal myocardium (one mode): the mixture finds no separate bright class -> 0% with the reason
    normal = _phantom(3, fraction=0.0, shape=(3, 96, 96))
    flat = segment_lge(normal.image, normal.myocardium_mask, normal.spacing_mm, method="gmm")
    assert flat.lge_percent_of_lv == 0.0
    assert {r.status for r in flat.per_slice} == {"unimodal"}
    assert any("unimodal on every slice" in w for w in flat.warnings)


def test_mvo_enclosed_against_the_blood_pool_is_filled_only_when_asked():
    p = _phantom(4, snr=12.0, mvo=True, shape=(3, 96, 96))
    mvo_percent = 100 * p.mvo_ml_truth / p.myocardium_ml_truth
    without = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, remote_mask=p.remote_mask, method="nsd")
    with_mvo = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, remote_mask=p.remote_mask, include_mvo=True, method="nsd")
    assert without.mvo_included_ml == 0.0
    assert without.lge_percent_of_lv == pytest.approx(p.scar_percent_truth - mvo_percent, abs=1.0)
    assert with_mvo.lge_percent_of_lv == pytest.approx(p.scar_percent_truth, abs=1.0)
    assert with_mvo.mvo_included_ml == pytest.approx(p.mvo_ml_truth, rel=0.3)
    assert not (with_mvo.scar_mask & ~p.myocardium_mask).any()
    # a dark core lying against the cavity (LGE on both sides and towards the epicardium) is filled
    myo, angle, radius = _ring()
    lge = myo & (angle >= 60) & (angle < 150)
    core = lge & (angle >= 85) & (angle < 125) & (radius < 19.0)
    image = np.where(myo, 0.1, 0.7) + np.where(lge, 0.9, 0.0)
    image[core] = 0.05
    image += np.random.default_rng(0).normal(0, 0.01, image.shape)
    result = segment_lge(image, myo, (1.5, 1.5, 8.0), include_mvo=True, method="nsd")
    assert np.array_equal(result.scar_mask, lge)
    # a thin bright rim along the epicardium does not turn the wall inside it into "MVO"
    rim = myo & (radius >= 21.0)
    image = np.where(myo, 0.1, 0.7) + np.where(rim, 0.9, 0.0)
    image += np.random.default_rng(1).normal(0, 0.01, image.shape)
    rimmed = segment_lge(image, myo, (1.5, 1.5, 8.0), include_mvo=True, method="nsd")
    assert rimmed.mvo_included_ml == 0.0 and np.array_equal(rimmed.scar_mask, rim)


def test_islands_and_exact_fwhm_core():
    image = np.full((1, 20, 20), 10.0)
    myo = np.zeros_like(image, bool)
    myo[0, 2:18, 2:18] = True
    image[0, 2:18, 2:18] += np.tile([0.0, 1.0], 128).reshape(16, 16)  # remote 10/11
    big = np.zeros_like(myo)
    big[0, 3:9, 3:9] = True
    image[big] = 100.0
    image[0, 5, 5] = 120.0  # max of the bright core
    image[0, 15, 15] = 200.0  # a one-voxel bright island elsewhere: not a core (< 5 voxels)
    image[0, 16, 15] = 100.0
    remote = np.zeros_like(myo)
    remote[0, 12:18, 2:8] = True
    result = segment_lge(image, myo, (1, 1, 1), method="fwhm", remote_mask=remote)
    assert result.per_slice[0].reference_au == pytest.approx(120.0)
    assert result.per_slice[0].threshold_au == pytest.approx(60.0)
    assert result.scar_mask.sum() == 36 + 2
    islands = segment_lge(image, myo, (1, 1, 1), method="fwhm", remote_mask=remote, min_island_ml=0.005)
    assert islands.islands_removed == 1 and islands.scar_mask.sum() == 36
    assert segment_lge(image, myo, (1, 1, 1), method="otsu", remote_mask=remote).scar_mask.sum() == 38


def test_2d_input_and_input_not_modified():
    p = _phantom(1, shape=(1, 96, 96))
    image = p.image[0].copy()
    myo = p.myocardium_mask[0].copy()
    result = segment_lge(image, myo, p.spacing_mm, remote_mask=p.remote_mask[0], method="nsd")
    assert result.scar_mask.shape == (96, 96) and result.remote_mask.shape == (96, 96)
    assert np.array_equal(image, p.image[0]) and np.array_equal(myo, p.myocardium_mask[0])
    assert result.lge_percent_of_lv == pytest.approx(p.scar_percent_truth, abs=1.5)


def test_no_lge_and_near_total_lge_carry_a_warning():
    p = _phantom(6, fraction=0.0, shape=(2, 96, 96))
    none = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, n_sd=6, remote_mask=p.remote_mask, method="nsd")
    if none.lge_ml == 0.0:
        assert any(w.startswith("No LGE found") for w in none.warnings)
    myo, _, _ = _ring()
    image = np.where(myo, 1.0, 0.0) + np.random.default_rng(0).normal(0, 0.01, myo.shape)
    remote = np.zeros_like(myo)
    remote[32:34, 12:14] = True
    image[remote] = np.array([0.1, 0.12, 0.1, 0.12])
    result = segment_lge(image, myo, (1.5, 1.5, 8.0), remote_mask=remote, method="nsd")
    assert result.lge_percent_of_lv >= 90.0
    assert any("covers" in w and "check the remote reference" in w for w in result.warnings)


def test_bad_input_is_a_clear_error():
    p = _phantom(2, shape=(2, 96, 96))
    image, myo, remote = p.image, p.myocardium_mask, p.remote_mask
    cases = [
        ((image, np.zeros_like(myo), p.spacing_mm), {}, "No myocardium"),
        ((image, myo[:, :-1], p.spacing_mm), {}, "another geometry"),
        ((image, myo, p.spacing_mm), {"remote_mask": remote[:1]}, "another geometry"),
        ((image, myo, p.spacing_mm), {"remote_mask": p.scar_mask_truth}, "inside the LGE"),
        ((image, myo, p.spacing_mm), {"remote_mask": np.zeros_like(myo)}, "empty"),
        ((image, myo, p.spacing_mm), {"remote_mask": p.air_mask}, "does not overlap"),
        ((image, myo, p.spacing_mm), {"n_sd": 0, "method": "nsd"}, "n_sd"),
        ((image, myo, p.spacing_mm), {"method": "ewa"}, "Unknown LGE method"),
        ((image, myo, (1.5, 1.5, 0.0)), {}, "spacing"),
        ((image, myo, p.spacing_mm), {"min_island_ml": -1.0}, "min_island_ml"),
    ]
    for args, kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            segment_lge(*args, **kwargs)
    bad = image.copy()
    bad[myo] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        segment_lge(bad, myo, p.spacing_mm, method="nsd")
    flat = np.where(myo, 5.0, 0.0)
    with pytest.raises(ValueError, match="No slice has usable remote myocardium.*zero SD"):
        segment_lge(flat, myo, p.spacing_mm, remote_mask=remote, method="nsd")
    partly_outside = remote | p.air_mask
    result = segment_lge(image, myo, p.spacing_mm, remote_mask=partly_outside, method="nsd")
    assert "outside the myocardium" in result.warnings[0]


def test_default_method_is_the_benchmark_choice():
    from LGEResolutionQALib.core.lge_segmentation import DEFAULT_METHOD

    p = _phantom(7, snr=12.0, shape=(3, 96, 96))
    assert DEFAULT_METHOD == "gmm-pool"  # chosen by benchmarks/bench_lge_emidec.py; change README and notes with it
    result = segment_lge(p.image, p.myocardium_mask, p.spacing_mm)
    assert result.method == "gmm-pool-per-slice"
    assert result.lge_percent_of_lv == pytest.approx(p.scar_percent_truth, abs=1.5)


def test_mixture_that_splits_off_a_dark_tail_counts_no_lge():
    """Normal myocardium with scattered dark voxels (10%): the mixture's "bright" class is the normal
    myocardium and its threshold lies below the remote mean -> no LGE there, not 90% of the slice."""
    rng = np.random.default_rng(0)
    myo, _, _ = _ring((72, 72), (36, 36), 14.0, 23.0)
    image = np.where(myo, rng.normal(100.0, 2.0, myo.shape), 150.0)
    dark = myo & (rng.random(myo.shape) < 0.1)
    image[dark] = rng.normal(80.0, 2.0, dark.sum())
    result = segment_lge(image[None], myo[None], (1.5, 1.5, 8.0), method="gmm")
    assert result.per_slice[0].status == "threshold-not-above-remote" and result.lge_percent_of_lv == 0.0
    assert any("threshold is not above the remote mean" in w for w in result.warnings)


def test_every_row_key_has_a_declared_unit():
    from LGEResolutionQALib.core.lge_segmentation import LGEResult, SliceLGE

    p = _phantom(8, shape=(2, 96, 96))
    result = segment_lge(p.image, p.myocardium_mask, p.spacing_mm)
    assert set(result.as_row()) == set(LGEResult.ROW_UNITS)
    assert set(result.per_slice[0].as_row()) == set(SliceLGE.ROW_UNITS) == set(LGEResult.PER_SLICE_UNITS)


def test_fill_holes_matches_scipy():
    from LGEResolutionQALib.core.lge_segmentation import fill_holes
    from scipy import ndimage

    rng = np.random.default_rng(0)
    for density in (0.3, 0.5, 0.7):
        mask = rng.random((40, 50)) < density
        assert np.array_equal(fill_holes(mask), ndimage.binary_fill_holes(mask))
    assert not fill_holes(np.zeros((5, 5), bool)).any() and fill_holes(np.ones((5, 5), bool)).all()
