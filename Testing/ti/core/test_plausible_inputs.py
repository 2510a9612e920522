"""Issue 12 A4 / B11: implausible values are refused where every input becomes a TIScout (docs/METHODS.md §1.7),
and no input can make the null search large (a TI of 1e9 ms once built a 24 GB grid)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from TINullCorrectionLib.core.recommendation import (
    MAX_NULL_GRID_POINTS,
    RecommendationSettings,
    combine_frame_offsets,
    null_search_grid_ms,
)
from TINullCorrectionLib.core.types import ScoutError, ScoutPrediction, TIScout

FRAMES = np.ones((5, 16, 16), np.float32)
GOOD_TI = [100.0, 200.0, 300.0, 400.0, 500.0]


@pytest.mark.parametrize("ti, message", [
    ([0.1, 0.2, 0.3, 0.4, 0.5], "look like seconds"),
    ([100, 200, 300, 400, 1e9], "0-6000 ms"),
    ([-50, 100, 200, 300, 400], "0-6000 ms"),
    ([100, 200, 300, 400, 1e12], "0-6000 ms"),
    ([100, 200, 300, 400, float("inf")], "finite"),
])
def test_implausible_tis_are_refused_naming_the_value(ti, message):
    with pytest.raises(ScoutError, match=message):
        TIScout(frames=FRAMES, ti_ms=sorted(ti))


@pytest.mark.parametrize("spacing", [(-1.5, -1.5), (0.0, 0.0), (1.5, 50.0), (0.01, 0.01), (float("nan"), 1.0)])
def test_implausible_pixel_spacing_is_refused(spacing):
    with pytest.raises(ScoutError, match="Pixel spacing must be two numbers in 0.1-10 mm"):
        TIScout(frames=FRAMES, ti_ms=GOOD_TI, pixel_spacing_mm=spacing)


def test_unusual_but_possible_values_only_warn():
    dense = TIScout(frames=np.ones((5, 8, 8), np.float32), ti_ms=[100, 105, 110, 115, 120])
    assert any("5-5 ms apart" in w for w in dense.warnings)
    many = TIScout(frames=np.ones((120, 8, 8), np.float32), ti_ms=np.arange(100.0, 100.0 + 120 * 20, 20))
    assert any("120 frames" in w for w in many.warnings)
    with pytest.raises(ScoutError, match="at most 512 frames"):
        TIScout(frames=np.ones((600, 4, 4), np.float32), ti_ms=np.arange(600.0) * 10 + 10)


@pytest.mark.parametrize("field, value", [("lge_offset_ms", 1e12), ("drift_ms_per_min", -500.0), ("minutes_since_scout", 1e6),
                                          ("optimal_range_ms", (-1e9, 20.0))])
def test_implausible_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=field.replace("optimal_range_ms", "optimal range")):
        RecommendationSettings(**{field: value})


def _prediction(ti_ms) -> ScoutPrediction:
    ti = np.asarray(ti_ms, dtype=float)
    centers = np.concatenate([[-155.0], np.arange(-145.0, 150.0, 10.0), [155.0]])
    probabilities = np.full((ti.size, centers.size), 1.0 / centers.size)
    return ScoutPrediction(ti_ms=ti, offset_ms=np.zeros(ti.size), probabilities=probabilities, bin_centers_ms=centers,
                           class_names=tuple(str(c) for c in centers), confidence=np.full(ti.size, 0.1))


def test_the_null_search_is_bounded_whatever_the_tis():
    """A prediction is not a TIScout (nothing checked it): the search itself refuses a TI of 1e9 ms, quickly and
    without allocating, and never builds more than MAX_NULL_GRID_POINTS candidates."""
    tracemalloc.start()
    try:
        with pytest.raises(ScoutError, match="0-6000 ms"):
            combine_frame_offsets(_prediction([100.0, 200.0, 1e9]))
        with pytest.raises(ScoutError, match="0-6000 ms"):
            combine_frame_offsets(_prediction([100.0, 200.0, 1e12]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # bytes: the old grid was 8 bytes x 1e9 points
    widest = null_search_grid_ms([0.0, 6000.0], 155.0)
    assert widest.size <= MAX_NULL_GRID_POINTS and widest[0] == 0.0 and widest[-1] <= 6155.0
    null, sd = combine_frame_offsets(_prediction([100.0, 900.0, 5990.0]))
    assert np.isfinite(null) and np.isfinite(sd)


def test_non_finite_network_output_is_refused():
    prediction = _prediction(GOOD_TI)
    broken = ScoutPrediction(ti_ms=prediction.ti_ms, offset_ms=prediction.offset_ms,
                             probabilities=np.full_like(prediction.probabilities, np.nan),
                             bin_centers_ms=prediction.bin_centers_ms, class_names=prediction.class_names,
                             confidence=prediction.confidence)
    with pytest.raises(ScoutError, match="non-finite class probabilities"):
        combine_frame_offsets(broken)
