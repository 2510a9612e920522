"""LGE segmentation (n-SD, FWHM, Otsu), MVO, islands and %LV: exact cases and the ring phantom."""

from __future__ import annotations

import numpy as np
import pytest
from LGEResolutionQALib.core.lge_segmentation import otsu_threshold, segment_lge
from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom

SPACING = (1.5, 1.5, 10.0)


def _phantom(seed, snr=10.0, transmural=True, fraction=0.2, mvo=False, shape=(5, 96, 96)):
    return make_lge_ring_phantom(shape, SPACING, fraction, snr, np.random.default_rng(seed),
                                 transmural=transmural, mvo=mvo)


@pytest.mark.parametrize("snr", [10.0, 12.0])
@pytest.mark.parametrize(("transmural", "fraction"), [(True, 0.2), (False, 0.15)])
@pytest.mark.parametrize("auto_remote", [False, True])
def test_5sd_percent_within_one_point(snr, transmural, fraction, auto_remote):
    for seed in range(2):
        p = _phantom(seed, snr, transmural, fraction)
        result = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, method="nsd", n_sd=5,
                             remote_mask=None if auto_remote else p.remote_mask)
        assert result.lge_percent_of_lv == pytest.approx(p.scar_percent_truth, abs=1.0)
        assert result.method == "nsd-5" and result.n_sd == 5
        assert result.remote_source == ("auto-lowest-60deg-sector" if auto_remote else "user")
        # the automatic remote lies in normal myocardium (no scar voxel)
        assert not (result.remote_mask & p.scar_mask_truth).any()
        assert result.lge_ml == pytest.approx(result.lge_percent_of_lv * result.myocardium_ml / 100)
        assert result.myocardium_ml == pytest.approx(p.myocardium_mask.sum() * 1.5 * 1.5 * 10 / 1000)
        assert sum(r["lge_ml"] for r in result.per_slice) == pytest.approx(result.lge_ml)
        assert [r["slice_index"] for r in result.per_slice] == list(range(5))
        for row in result.per_slice:
            assert row["lge_percent"] == pytest.approx(p.scar_percent_truth, abs=3.0)


def test_high_snr_fwhm_accurate_and_nsd_partial_volume_bias():
    """At SNR 40 the 5-SD threshold sits near the remote level, so partial-volume voxels at the
    blood and scar borders count as LGE (n-SD overestimates); FWHM (half max) stays within 1 point."""
    p = _phantom(0, snr=40.0)
    fwhm = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, method="fwhm", remote_mask=p.remote_mask)
    nsd = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, method="nsd", remote_mask=p.remote_mask)
    otsu = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, method="otsu", remote_mask=p.remote_mask)
    assert fwhm.lge_percent_of_lv == pytest.approx(p.scar_percent_truth, abs=1.0)
    assert otsu.lge_percent_of_lv == pytest.approx(p.scar_percent_truth, abs=1.0)
    assert nsd.lge_percent_of_lv > p.scar_percent_truth + 1.0
    assert fwhm.method == "fwhm-max-in-hyperenhanced" and fwhm.threshold == pytest.approx(0.5 * fwhm.fwhm_max)


def test_nsd_threshold_and_volumes_exact():
    image = np.zeros((2, 10, 10))
    myo = np.zeros_like(image, bool)
    myo[:, 2:8, 2:8] = True
    remote = np.zeros_like(myo)
    remote[0, 2:4, 2:8] = True
    values = np.array([10.0, 12.0] * 6)
    image[remote] = values  # μ = 11, σ = sqrt(12/11)
    image[myo & ~remote] = 11.0
    scar = np.zeros_like(myo)
    scar[1, 5:8, 5:8] = True
    image[scar] = 30.0
    image[~myo] = 1000.0  # outside the myocardium: never LGE
    for n in (2, 3, 5, 6):
        result = segment_lge(image, myo, (1.0, 2.0, 8.0), n_sd=n, remote_mask=remote)
        assert result.threshold == pytest.approx(11.0 + n * values.std(ddof=1))
        assert np.array_equal(result.scar_mask, scar)
        assert result.remote_mean == pytest.approx(11.0) and result.remote_voxel_count == 12
        assert result.lge_ml == pytest.approx(9 * 16.0 / 1000)  # voxel 1 x 2 x 8 mm (slice gap included)
        assert result.myocardium_ml == pytest.approx(72 * 16.0 / 1000)
        assert result.lge_percent_of_lv == pytest.approx(100 * 9 / 72)
        assert result.warnings == ()
        assert result.per_slice[1] == {"slice_index": 1, "myocardium_ml": 36 * 0.016, "lge_ml": 9 * 0.016,
                                       "lge_percent": 25.0}
    odd = segment_lge(image, myo, (1.0, 2.0, 8.0), n_sd=4, remote_mask=remote)
    assert "published" in odd.warnings[0]
    assert odd.as_row()["method"] == "nsd-4"


def test_fwhm_max_region_and_otsu_exact():
    image = np.full((1, 20, 20), 10.0)
    myo = np.zeros_like(image, bool)
    myo[0, 2:18, 2:18] = True
    image[0, 2:18, 2:18] += np.tile([0.0, 1.0], 128).reshape(16, 16)  # remote 10/11
    big = np.zeros_like(myo)
    big[0, 3:9, 3:9] = True
    image[big] = 100.0
    image[0, 5, 5] = 120.0  # max of the largest hyperenhanced region
    image[0, 15, 15] = 200.0  # small bright island elsewhere (one voxel)
    image[0, 16, 15] = 100.0
    result = segment_lge(image, myo, (1, 1, 1), method="fwhm")
    assert result.fwhm_max == pytest.approx(120.0) and result.threshold == pytest.approx(60.0)
    assert result.scar_mask.sum() == 36 + 2
    whole = segment_lge(image, myo, (1, 1, 1), method="fwhm", fwhm_max_region="myocardium")
    assert whole.threshold == pytest.approx(100.0) and whole.method == "fwhm-max-in-myocardium"
    islands = segment_lge(image, myo, (1, 1, 1), method="fwhm", min_island_ml=0.005)
    assert islands.islands_removed == 1 and islands.scar_mask.sum() == 36
    assert 11.0 < otsu_threshold(image[myo]) <= 100.0
    assert segment_lge(image, myo, (1, 1, 1), method="otsu").scar_mask.sum() == 38


def test_mvo_included_only_when_asked():
    p = _phantom(4, snr=12.0, mvo=True, shape=(3, 96, 96))
    mvo_percent = 100 * p.mvo_ml_truth / p.myocardium_ml_truth
    without = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, remote_mask=p.remote_mask)
    with_mvo = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, remote_mask=p.remote_mask, include_mvo=True)
    assert without.mvo_included_ml == 0.0
    assert without.lge_percent_of_lv == pytest.approx(p.scar_percent_truth - mvo_percent, abs=1.0)
    assert with_mvo.lge_percent_of_lv == pytest.approx(p.scar_percent_truth, abs=1.0)
    assert with_mvo.mvo_included_ml == pytest.approx(p.mvo_ml_truth, rel=0.3)
    assert not (with_mvo.scar_mask & ~p.myocardium_mask).any()


def test_2d_input_and_input_not_modified():
    p = _phantom(1, shape=(1, 96, 96))
    image = p.image[0].copy()
    myo = p.myocardium_mask[0].copy()
    result = segment_lge(image, myo, p.spacing_mm, remote_mask=p.remote_mask[0])
    assert result.scar_mask.shape == (96, 96)
    assert np.array_equal(image, p.image[0]) and np.array_equal(myo, p.myocardium_mask[0])
    assert result.lge_percent_of_lv == pytest.approx(p.scar_percent_truth, abs=1.5)


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
        ((image, myo, p.spacing_mm), {"n_sd": 0}, "n_sd"),
        ((image, myo, p.spacing_mm), {"method": "ewa"}, "Unknown LGE method"),
        ((image, myo, p.spacing_mm), {"fwhm_max_region": "blood"}, "fwhm_max_region"),
        ((image, myo, (1.5, 1.5, 0.0)), {}, "spacing"),
        ((image, myo, p.spacing_mm), {"min_island_ml": -1.0}, "min_island_ml"),
    ]
    for args, kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            segment_lge(*args, **kwargs)
    bad = image.copy()
    bad[myo] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        segment_lge(bad, myo, p.spacing_mm)
    flat = np.where(myo, 5.0, 0.0)
    with pytest.raises(ValueError, match="zero SD"):
        segment_lge(flat, myo, p.spacing_mm, remote_mask=remote)
    partly_outside = remote | p.air_mask
    result = segment_lge(image, myo, p.spacing_mm, remote_mask=partly_outside)
    assert "outside the myocardium" in result.warnings[0]
