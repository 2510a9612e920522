"""Issue 12 A10: when the automatic myocardium is too small to be a heart (an IR phantom once gave 19 pixels and a
null), the answer says that the input does not look like a heart and falls back to the CNN with a warning."""

from __future__ import annotations

import numpy as np
import pytest
from TINullCorrectionLib.core.automatic_myocardium import MIN_MYOCARDIUM_AREA_MM2, check_looks_like_a_heart
from TINullCorrectionLib.core.pipeline import analyse_scout
from TINullCorrectionLib.core.types import ScoutError
from TINullCorrectionLib.io.dicom import load_ti_scouts
from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model
from TINullCorrectionLib.networks.ti_offset import load_model
from TINullCorrectionLib.sim.simulator import simulate_scout

NOT_A_HEART = "does not look like a cardiac short-axis scout"


@pytest.fixture(scope="module")
def models():
    return load_model(), load_segmentation_model()


def test_the_area_rule():
    ring = np.zeros((64, 64), bool)
    y, x = np.mgrid[:64, :64]
    ring[(np.hypot(y - 32, x - 32) > 14) & (np.hypot(y - 32, x - 32) < 22)] = True  # ~ 900 px at 1 mm
    check_looks_like_a_heart(ring, (1.0, 1.0))
    with pytest.raises(ScoutError, match=NOT_A_HEART):
        check_looks_like_a_heart(ring, (0.25, 0.25))  # the same pixels are 56 mm^2 at 0.25 mm
    with pytest.raises(ScoutError, match="0 mm\\^2"):
        check_looks_like_a_heart(np.zeros((8, 8), bool), (1.5, 1.5))


@pytest.mark.realdata
@pytest.mark.parametrize("plate", ["siemens_1.5T_plate5", "philips_1.5T_plate4", "ge_1.5T_plate4"])
def test_real_ir_phantoms_are_said_not_to_look_like_a_heart(models, shared_data, plate):
    model, unet = models
    scout = load_ti_scouts(shared_data / "ir_t1_phantom" / plate)[0]
    result = analyse_scout(scout, model, myocardium_model=unet)
    assert result.recommendation.ir_fit is None and result.final.method == "cnn"
    assert any(NOT_A_HEART in w for w in result.all_warnings())


def test_simulated_hearts_pass_the_rule(models):
    _, unet = models
    rng = np.random.default_rng(998033)  # held out
    for _ in range(6):
        scout = simulate_scout(rng).scout
        mask = unet.myocardium_probability(scout) >= 0.5
        area = mask.sum() * scout.pixel_spacing_mm[0] * scout.pixel_spacing_mm[1]
        assert area >= MIN_MYOCARDIUM_AREA_MM2
