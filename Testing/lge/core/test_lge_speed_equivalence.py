"""The faster LGE step gives exactly the results of the code before the speed-up (issue 13, 512 x 512 x 40 in ≤ 0.5 s).

``EXPECTED`` holds fingerprints computed with the code of main at e931cf2 (before the speed-up: whole-slice arrays,
``ndimage`` morphology, histograms on ``np.linspace`` edges, ``np.roll`` sector windows) on the volumes built below:
a SHA-256 over the scar, MVO and remote masks and the exact floats of every result (% of LV, per-slice thresholds,
remote means and SDs). Any change of a single voxel or of the last bit of a threshold changes it. The helpers that
replaced library calls are also checked against those calls directly. gmm-pool's peak term (s21, an intended change
of the default) is off in run 0, which must still equal e931cf2; run 7 is the s21 default with it, pinned at that
commit. Stage 23 changed the default minimum region from 0.03 to 0.01 (the benchmark's "specific" rule): run 0 now
passes 0.03 explicitly (the value at e931cf2); run 7, the default, was recomputed at the s22 commit and is
bit-identical to s21 — on these five volumes no in-plane LGE component between 1% and 3% of a slice's myocardium
survives the threshold, so the smaller minimum removes nothing more or less. The change itself is guarded by
``test_the_default_keeps_a_true_region_between_one_and_three_percent_of_the_myocardium``
(Testing/lge/core/test_lge_spatial_rules.py)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from LGEResolutionQALib.core import intensity_models, lge_segmentation
from LGEResolutionQALib.core.lge_segmentation import LGEMethodNotApplicable, segment_lge
from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom
from scipy import ndimage

SPACING = (1.25, 1.25, 8.0)


def _volumes() -> dict:
    """name -> (image, myocardium, remote ROI or None): rings of varying scar, noise, grey levels and position."""
    out = {}
    p = make_lge_ring_phantom((6, 112, 112), SPACING, 0.2, 8.0, np.random.default_rng(0), supersample=2)
    out["transmural-float"] = (p.image, p.myocardium_mask, None)
    p = make_lge_ring_phantom((6, 112, 112), SPACING, 0.15, 6.0, np.random.default_rng(1), transmural=False, mvo=True,
                              supersample=2)
    out["subendocardial-mvo-integer"] = (np.round(p.image * 200.0), p.myocardium_mask, None)  # 8-bit-like levels
    # the ring cut by the image border (the crop box meets the edge), integer levels with an offset
    p = make_lge_ring_phantom((5, 112, 112), SPACING, 0.25, 10.0, np.random.default_rng(2), supersample=2)
    out["at-the-border"] = (np.round(p.image[:, 30:, :90] * 150.0) + 40.0, p.myocardium_mask[:, 30:, :90], None)
    p = make_lge_ring_phantom((6, 112, 112), SPACING, 0.0, 5.0, np.random.default_rng(3), supersample=2)
    out["normal-noisy"] = (p.image, p.myocardium_mask, None)
    p = make_lge_ring_phantom((6, 112, 112), SPACING, 0.2, 8.0, np.random.default_rng(4), supersample=2)
    jj, ii = np.mgrid[0:112, 0:112]
    sector = (np.degrees(np.arctan2(jj - 56, ii - 56)) % 360.0 > 225) & (np.degrees(np.arctan2(jj - 56, ii - 56)) % 360.0 < 300)
    out["user-remote"] = (p.image, p.myocardium_mask, np.broadcast_to(sector, p.image.shape) & p.myocardium_mask)
    return out


RUNS = (
    # gmm-pool before its peak term (s21) and at the minimum region of then (0.03): must stay as at e931cf2
    ("gmm-pool", {"peak_fraction": 0.0, "min_region_fraction": 0.03}),
    ("gmm", {}),
    ("nsd", {"n_sd": 5}),
    ("nsd", {"n_sd": 3, "include_mvo": True, "min_island_ml": 0.05}),
    ("gmm", {"include_mvo": True}),
    ("otsu", {}),
    ("fwhm", {}),
    ("gmm-pool", {}),  # the default with its peak term (s21) and, since s22, minimum region 0.01 (see below)
)


def fingerprint(result) -> str:
    digest = hashlib.sha256()
    for mask in (result.scar_mask, result.mvo_mask, result.remote_mask):
        digest.update(np.packbits(np.asarray(mask, bool)).tobytes())
    numbers = [result.lge_percent_of_lv, result.lge_ml, result.mvo_included_ml, result.islands_removed]
    for row in result.per_slice:
        numbers += [row.threshold_au, row.remote_mean_au, row.remote_sd_au, row.remote_voxel_count,
                    row.remote_slice_index, row.status, row.reference_au, row.lge_ml]
    digest.update(repr((result.method, numbers, result.warnings)).encode())
    return digest.hexdigest()[:16]


def compute() -> dict:
    """(volume, run index) -> fingerprint, or the refusal's message for FWHM."""
    out = {}
    for name, (image, myo, remote) in _volumes().items():
        for index, (method, options) in enumerate(RUNS):
            try:
                out[name, index] = fingerprint(segment_lge(image, myo, SPACING, method=method, remote_mask=remote,
                                                           **options))
            except LGEMethodNotApplicable as error:
                out[name, index] = "refused: " + hashlib.sha256(str(error).encode()).hexdigest()[:16]
    return out


# computed with main at e931cf2 (the code before the speed-up) by ``compute()``
EXPECTED = {
    ('transmural-float', 0): 'a57b9714683c37d8',
    ('transmural-float', 1): '2b3575cfdb17bdbc',
    ('transmural-float', 2): '4de401b3a650b2bd',
    ('transmural-float', 3): 'acae19fcf2c6fbea',
    ('transmural-float', 4): 'c07c1d76257a434d',
    ('transmural-float', 5): 'c42a1a6f179db079',
    ('transmural-float', 6): '3023835bf03ee228',
    ('subendocardial-mvo-integer', 0): '08c1f005fc6f6684',
    ('subendocardial-mvo-integer', 1): '1852010726ab4214',
    ('subendocardial-mvo-integer', 2): '2fbe8f283eabf25a',
    ('subendocardial-mvo-integer', 3): '858819d45ceafd62',
    ('subendocardial-mvo-integer', 4): '4c546bec703f706e',
    ('subendocardial-mvo-integer', 5): 'c348af022e8df234',
    ('subendocardial-mvo-integer', 6): 'd8d5ea5f1e00bc64',
    ('at-the-border', 0): 'fe512529ad634da8',
    ('at-the-border', 1): '91fe3443009c4abf',
    ('at-the-border', 2): '7fd021af42cfc691',
    ('at-the-border', 3): 'c4773a38167a7d94',
    ('at-the-border', 4): '91fe3443009c4abf',
    ('at-the-border', 5): 'a9daea132c8bfc82',
    ('at-the-border', 6): 'f0c465b9f7f9b5b9',
    ('normal-noisy', 0): '19148c80a8ebf7be',
    ('normal-noisy', 1): '4069c5909b78af06',
    ('normal-noisy', 2): '424c08eeff1777e9',
    ('normal-noisy', 3): '5ae115a12ee12430',
    ('normal-noisy', 4): '4069c5909b78af06',
    ('normal-noisy', 5): '854d600927973c89',
    ('normal-noisy', 6): '2cfdc645afe2858f',
    ('user-remote', 0): '8c7098327e17a23f',
    ('user-remote', 1): '0a9a0149db6756a6',
    ('user-remote', 2): '9655cc3f978feca1',
    ('user-remote', 3): '4682deefd5d715aa',
    ('user-remote', 4): '0a9a0149db6756a6',
    ('user-remote', 5): 'd094f06a11d338d2',
    ('user-remote', 6): '34560838a1e7e76b',
    # run 7, the default gmm-pool with its peak term (an intended change, s21): computed by ``compute()`` at the commit
    # that added the term; run 0 (the term off) still equals e931cf2, so the term changes nothing else. Recomputed at
    # s22 (default minimum region 0.03 -> 0.01): identical, as no component between 1% and 3% survives here
    ('transmural-float', 7): '7480272664a99472',
    ('subendocardial-mvo-integer', 7): '9f5e95c13f01ace4',
    ('at-the-border', 7): '1020f176bbb6e3d6',
    ('normal-noisy', 7): '19148c80a8ebf7be',
    ('user-remote', 7): 'c71ec80eb06157e3',
}


def test_masks_and_figures_equal_those_of_the_code_before_the_speed_up():
    got = compute()
    assert EXPECTED and set(got) == set(EXPECTED)
    changed = {key: (got[key], EXPECTED[key]) for key in EXPECTED if got[key] != EXPECTED[key]}
    assert not changed


def test_the_separable_3x3_morphology_equals_ndimage():
    rng = np.random.default_rng(5)
    square = np.ones((3, 3), bool)
    for _ in range(300):
        mask = rng.random(tuple(rng.integers(1, 14, 2))) < rng.random()
        assert np.array_equal(lge_segmentation._erode8(mask), ndimage.binary_erosion(mask, structure=square))
        assert np.array_equal(lge_segmentation._dilate8(mask), ndimage.binary_dilation(mask, structure=square))


@pytest.mark.parametrize("integer", [False, True])
def test_the_mixture_histogram_equals_numpy_on_explicit_edges(integer):
    rng = np.random.default_rng(6)
    for _ in range(200):
        data = rng.normal(rng.uniform(-100, 2000), rng.uniform(0.3, 300), int(rng.integers(4, 3000)))
        data = np.round(data) if integer else data
        if data.max() <= data.min():
            continue
        low, high = data.min(), data.max()
        if integer:
            width = float(max(1, int(np.ceil((high - low + 1) / 128))))
            edges = low - 0.5 + width * np.arange(int(np.ceil((high - low + 1) / width)) + 1)
        else:
            edges = np.linspace(low, high, 129)
        counts, edges = np.histogram(data, bins=edges)
        x, n, floor, uniform = intensity_models._histogram(data, 128)
        assert np.array_equal(x, (edges[:-1] + edges[1:]) / 2.0) and np.array_equal(n, counts)
        assert floor == (edges[1] - edges[0]) / 4.0
        if uniform is not None:
            assert intensity_models._otsu_from_histogram(*uniform) == intensity_models.otsu_threshold(data, bins=128)
