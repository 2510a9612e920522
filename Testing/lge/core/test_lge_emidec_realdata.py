"""Real LGE of infarct patients (EMIDEC development set, expert labels): a handful of cases, with the
expert myocardium as the mask. Regression bounds from benchmarks/bench_lge_emidec.py (README table)."""

from __future__ import annotations

import numpy as np
import pytest
from LGEResolutionQALib.core.lge_segmentation import LGEMethodNotApplicable, segment_lge
from LGEResolutionQALib.io.lge_inputs import read_stack

pytestmark = pytest.mark.realdata
SPACING = (1.5, 1.5, 10.0)  # nominal: the PNGs carry none; % and Dice do not depend on it


@pytest.fixture(scope="module")
def emidec(shared_data):
    folder = shared_data / "lge_emidec_dev"
    if not (folder / "images").is_dir():
        pytest.skip(f"EMIDEC development set not found in {folder}")

    def load(case):
        image = read_stack(str(folder / "images" / f"{case}_slice*.png"), SPACING).array.astype(np.float32)
        labels = read_stack(str(folder / "labels" / f"{case}_slice*.png"), SPACING).array
        return image, labels

    return load


def _dice(a, b):
    return 2.0 * (a & b).sum() / (a.sum() + b.sum())


#: the first eight infarct cases in name order (a fixed rule, not picked by result)
HANDFUL = ("Case_P001", "Case_P003", "Case_P005", "Case_P007", "Case_P009", "Case_P011", "Case_P015", "Case_P017")


def test_default_method_mean_error_over_a_fixed_handful_of_infarcts(emidec):
    """Measured (gmm-pool, s22 default: f 0.60 / g 0.40 / minimum region 0.01): mean |Δ| 5.93 points, median Dice
    0.761 on these eight (s21 default, minimum region 0.03: 6.20 / 0.753; without the peak term 6.4 / 0.72); the
    previous default (gmm) gave 11.6 / 0.58 and n-SD 6 11.0 / 0.60. The mean bound fails with the s21 minimum region,
    the Dice bound if the default falls back to those methods."""
    deltas, dices = [], []
    for case in HANDFUL:
        image, labels = emidec(case)
        myo, expert = labels >= 2, labels >= 3
        result = segment_lge(image, myo, SPACING)
        deltas.append(abs(result.lge_percent_of_lv - 100.0 * expert.sum() / myo.sum()))
        dices.append(_dice(result.scar_mask, expert))
        assert len(result.per_slice) == image.shape[0] and not (result.scar_mask & ~myo).any()
    assert np.mean(deltas) <= 6.1, np.round(deltas, 2)
    assert np.median(dices) >= 0.74, np.round(dices, 3)


@pytest.mark.parametrize("case", ["Case_P047", "Case_P009", "Case_P005"])
def test_automatic_remote_lies_off_the_infarct(emidec, case):
    image, labels = emidec(case)
    myo, expert = labels >= 2, labels >= 3
    result = segment_lge(image, myo, SPACING)
    # the automatic remote lies off the expert infarct (a few voxels may touch its hand-drawn border)
    assert result.remote_mask.any() and (result.remote_mask & expert).sum() <= 0.05 * result.remote_mask.sum()


@pytest.mark.parametrize("case", ["Case_N040", "Case_N058", "Case_N075", "Case_N070", "Case_N083"])
def test_default_method_on_normal_hearts(emidec, case):
    """N075: 16.6% with gmm (the spatial rules remove its off-endocardial regions). N070 / N083: 4.7% / 5.1% without
    gmm-pool's peak term (blood pool barely brighter than the myocardium, coil shading), 0.0% with it (s21). With the
    s22 minimum region (0.01) N075 measures 1.7%, the other four 0.0%; the bound is the issue's target."""
    image, labels = emidec(case)
    result = segment_lge(image, labels >= 2, SPACING)
    assert result.lge_percent_of_lv <= 3.0


def test_fwhm_refuses_on_offset_images_instead_of_returning_the_myocardium(emidec):
    image, labels = emidec("Case_P047")
    with pytest.raises(LGEMethodNotApplicable, match="FWHM does not apply.*not above the remote mean"):
        segment_lge(image, labels >= 2, SPACING, method="fwhm")


def test_mvo_inclusion_recovers_expert_mvo(emidec):
    image, labels = emidec("Case_P001")
    myo, mvo = labels >= 2, labels == 4
    without = segment_lge(image, myo, SPACING, method="gmm")  # gmm-pool always fills enclosed cores
    with_mvo = segment_lge(image, myo, SPACING, method="gmm", include_mvo=True)
    recall = [float((r.scar_mask & mvo).sum() / mvo.sum()) for r in (without, with_mvo)]
    assert recall[1] > recall[0] + 0.05
    assert with_mvo.mvo_included_ml > 0 and not (with_mvo.scar_mask & ~myo).any()
