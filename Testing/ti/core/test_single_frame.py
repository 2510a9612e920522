"""Single-frame mode (core): the input checks, the network input, and the answer from class probabilities."""

import numpy as np
import pytest
from TINullCorrectionLib.core.recommendation import RecommendationSettings
from TINullCorrectionLib.core.single_frame import (
    SingleFrame,
    SingleFramePrediction,
    SingleFramePreprocess,
    assess_single_frame,
    single_frame_channels,
    single_frame_report,
)
from TINullCorrectionLib.core.types import ScoutError
from TINullCorrectionLib.networks.architectures import OffsetBins

BINS = OffsetBins()


def prediction_at(offset_ms: float, ti_ms: float = 300.0, spread_bins: float = 0.6) -> SingleFramePrediction:
    """Class probabilities peaked at ``offset_ms`` (a Gaussian over the bins), as the network returns them."""
    from TINullCorrectionLib.networks.ti_offset import offsets_from_probabilities

    centres = BINS.centers_ms
    p = np.exp(-0.5 * ((centres - offset_ms) / (spread_bins * BINS.bin_width_ms)) ** 2)
    p /= p.sum()
    offset, confidence = offsets_from_probabilities(p[None], BINS)
    return SingleFramePrediction(ti_ms, float(offset[0]), p, centres, BINS.class_names, float(confidence[0]), "test")


@pytest.mark.parametrize(("frame", "ti", "message"), [
    (np.zeros((8, 8)), 300, "at least 16"),
    (np.ones((32, 32)), 300, "blank"),
    (np.random.default_rng(0).random((32, 32)), 0.3, "seconds"),
    (np.random.default_rng(0).random((32, 32)), 5000, "between"),
    (np.full((32, 32), np.nan), 300, "NaN"),
])
def test_bad_single_frames_are_refused(frame, ti, message):
    with pytest.raises(ScoutError, match=message):
        SingleFrame(frame, ti)


def test_channels_are_the_central_crop_normalised():
    frame = np.zeros((200, 300), np.float32)
    frame[60:140, 110:190] = 200.0      # a bright square in the centre
    frame[:, :20] = 255.0               # a bright edge outside the central crop
    config = SingleFramePreprocess(grid=32, crop_fraction=0.6, context_fraction=0.0)  # the crop channels only
    channels = single_frame_channels(frame, config)
    assert channels.shape == (2, 32, 32) and channels.dtype == np.float32
    assert channels[0].max() == pytest.approx(1.0, abs=0.05)          # divided by its own 99th percentile
    assert channels[0, 16, 16] == pytest.approx(1.0, abs=0.05) and channels[0, 1, 1] == pytest.approx(0.0, abs=1e-6)
    # the edge column is outside the crop: the same picture without it gives the same input
    without_edge = frame.copy()
    without_edge[:, :20] = 0.0
    np.testing.assert_allclose(single_frame_channels(without_edge, config), channels, atol=1e-6)


def _psir_like_picture(air_level: float) -> np.ndarray:
    """A phase-sensitive picture as displayed: the body (a disc filling the central crop, the myocardium a ring at
    level 90) and the air outside it at the display's zero level ``air_level`` (set by the series' window)."""
    yy, xx = np.mgrid[0:160, 0:160]
    radius = np.hypot(yy - 79.5, xx - 79.5)
    picture = np.full((160, 160), air_level, np.float32)
    picture[radius < 75] = 140.0                       # body
    picture[(radius > 15) & (radius < 25)] = 90.0      # myocardium
    picture[radius <= 15] = 170.0                      # blood
    return picture


def test_the_zero_level_of_a_phase_sensitive_picture_reaches_the_network():
    """The myocardium at 90 is below zero (before its null) when the air shows 120 and above it (after the null) when
    the air shows 60. The central crop is the same in both pictures: only the context channel, stretched with the
    crop's own levels, can tell them apart (the network input before the context channel was the same for both)."""
    config = SingleFramePreprocess(grid=32, crop_fraction=0.6)
    before, after = single_frame_channels(_psir_like_picture(120.0), config), single_frame_channels(_psir_like_picture(60.0), config)
    assert before.shape == (3, 32, 32) and config.n_channels == 3
    np.testing.assert_allclose(before[:2], after[:2], atol=1e-6)  # the crop cannot see the air
    myocardium_level = (90.0 - 90.0) / (170.0 - 90.0)            # on the crop's 1st..99th percentile stretch
    corner = (slice(0, 3), slice(0, 3))                           # air in the corners of the whole field
    assert before[2][corner].mean() > myocardium_level + 0.25 and after[2][corner].mean() < myocardium_level - 0.25


def test_files_without_a_context_channel_keep_their_input():
    stated = SingleFramePreprocess.from_dict({"grid": 64, "crop_fraction": 0.6})
    assert stated.context_fraction == 0.0 and stated.n_channels == 2
    assert SingleFramePreprocess.from_dict(SingleFramePreprocess().as_dict()) == SingleFramePreprocess()
    with pytest.raises(ValueError, match="context_fraction"):
        SingleFramePreprocess(crop_fraction=0.6, context_fraction=0.3)


def test_answer_follows_the_predicted_offset():
    settings = RecommendationSettings()
    early = assess_single_frame(prediction_at(-40.0, ti_ms=260.0), settings)
    assert early.offset_from_null_ms == pytest.approx(-40.0, abs=2.0)
    assert early.null_ti_ms == pytest.approx(300.0, abs=2.0)
    assert early.recommended_lge_ti_ms == pytest.approx(early.null_ti_ms + settings.target_ms)
    assert early.frame_status == "too early" and not early.frame_in_optimal_range
    assert early.change_ti_to_ms == pytest.approx(early.recommended_lge_ti_ms)
    assert any("inverted contrast" in w for w in early.warnings)
    good = assess_single_frame(prediction_at(5.0, ti_ms=305.0), settings)
    assert good.frame_status == "optimal" and good.change_ti_to_ms == 305.0
    late = assess_single_frame(prediction_at(60.0, ti_ms=360.0), settings, chosen_ti_ms=400.0)
    assert late.frame_status == "too late" and late.chosen.verdict == "too late"
    assert late.chosen.change_to_ms == pytest.approx(late.recommended_lge_ti_ms)


def test_lge_offset_shifts_the_recommendation_not_the_offset():
    shifted = assess_single_frame(prediction_at(5.0, ti_ms=305.0), RecommendationSettings(lge_offset_ms=30.0))
    plain = assess_single_frame(prediction_at(5.0, ti_ms=305.0), RecommendationSettings())
    assert shifted.offset_from_null_ms == plain.offset_from_null_ms
    assert shifted.recommended_lge_ti_ms == pytest.approx(plain.recommended_lge_ti_ms + 30.0)
    assert shifted.change_ti_to_ms == pytest.approx(shifted.recommended_lge_ti_ms)


def test_tail_class_and_low_confidence_are_warned_and_json_has_no_nan():
    from TINullCorrectionLib.networks.ti_offset import offsets_from_probabilities

    p = np.zeros(BINS.n_classes)
    p[-1], p[-2] = 0.9, 0.1  # the "later than +150 ms" class
    offset, confidence = offsets_from_probabilities(p[None], BINS)
    tail = assess_single_frame(SingleFramePrediction(700.0, float(offset[0]), p, BINS.centers_ms, BINS.class_names, float(confidence[0])))
    assert tail.offset_beyond_range == "later"
    assert any("only a bound" in w for w in tail.warnings)
    vague = assess_single_frame(prediction_at(0.0, spread_bins=8.0))
    assert vague.confidence < 0.5 and any("Low confidence" in w for w in vague.warnings)
    out = vague.to_dict()
    assert out["mode"] == "single-frame" and out["optimal_range_ms"] == [-10.0, 20.0]
    import json

    json.dumps(out, allow_nan=False)
    assert "Change TI to" in single_frame_report(vague)
