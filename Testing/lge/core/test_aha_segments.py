"""AHA 16/17-segment geometry on a synthetic LV with a known RV insertion angle, levels, transmurality."""

from __future__ import annotations

import numpy as np
import pytest
from LGEResolutionQALib.core.aha_segments import aha_segments, transmurality_class

PIXEL = 1.5
SLICE = 8.0
N = 96
CENTRE = (N - 1) / 2.0


def _lps_identity(pixel=PIXEL, slice_mm=SLICE):
    """Columns to the patient's left, rows to posterior: the standard short-axis display (RV on the left)."""
    return np.diag([-pixel, -pixel, slice_mm, 1.0])


def _rotated(theta_deg, pixel=PIXEL, slice_mm=SLICE):
    """An oblique short-axis orientation: the in-plane axes rotated by theta about the slice normal."""
    t = np.radians(theta_deg)
    rotation = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1.0]])
    matrix = np.eye(4)
    matrix[:3, :3] = np.diag([-1.0, -1.0, 1.0]) @ rotation @ np.diag([pixel, pixel, slice_mm])
    matrix[:3, 3] = (10.0, -20.0, 30.0)
    return matrix


def _lv(n_ring=9, apex_caps=0, base_first=True):
    """Rings whose cavity shrinks from base to apex; optional solid apical caps (no cavity)."""
    jj, ii = np.mgrid[0:N, 0:N]
    radius_mm = np.hypot(jj - CENTRE, ii - CENTRE) * PIXEL
    slices = []
    for n in range(n_ring):
        inner = 28.0 - 1.5 * n
        slices.append((radius_mm >= inner) & (radius_mm < inner + 10.0))
    for _ in range(apex_caps):
        slices.append(radius_mm < 10.0)
    stack = np.stack(slices)
    return stack if base_first else stack[::-1]


def _display_angle(matrix, k, jj, ii, centre_ras, anterior_dir, septal_dir):
    ras = (matrix @ np.stack([ii, jj, np.full_like(ii, k), np.ones_like(ii)]).reshape(4, -1).astype(float))[:3].T
    offset = ras - centre_ras
    return np.degrees(np.arctan2(offset @ septal_dir, offset @ anterior_dir)) % 360.0


def _expected(level, phi):
    if level == "apical":
        return np.array([14, 15, 16, 13])[(((phi - 15.0) % 360) // 90).astype(int)]
    first = 2 if level == "basal" else 8
    order = np.array([first, first + 1, first + 2, first + 3, first + 4, first - 1])
    return order[(phi // 60).astype(int)]


@pytest.mark.parametrize("insertion_deg", [20.0, 110.0, 250.0])
@pytest.mark.parametrize("oblique", [False, True])
def test_segment_of_every_voxel_follows_the_rv_insertion_angle(insertion_deg, oblique):
    """The anterior RV insertion is placed at a known in-plane angle; every voxel's segment must follow
    from its angle to that point (0° there, increasing towards the septum on the patient's right)."""
    matrix = _rotated(35.0) if oblique else _lps_identity()
    myo = _lv()
    k_ref = 4
    centre_ras = (matrix @ np.array([CENTRE, CENTRE, k_ref, 1.0]))[:3]
    e_i, e_j = matrix[:3, 0] / PIXEL, matrix[:3, 1] / PIXEL
    t = np.radians(insertion_deg)
    anterior_dir = np.cos(t) * e_i + np.sin(t) * e_j
    point = centre_ras + 30.0 * anterior_dir
    result = aha_segments(myo, matrix, point)
    normal = np.cross(e_i, e_j)
    septal_dir = np.cross(normal, anterior_dir)
    # the septum is the side whose mid-point faces the patient's right (+R)
    mid_plus = np.cos(np.radians(60)) * anterior_dir + np.sin(np.radians(60)) * septal_dir
    mid_minus = np.cos(np.radians(60)) * anterior_dir - np.sin(np.radians(60)) * septal_dir
    if mid_minus[0] > mid_plus[0]:
        septal_dir = -septal_dir
    levels = dict(result.slice_levels)
    assert [levels[k] for k in range(9)] == ["basal"] * 3 + ["mid"] * 3 + ["apical"] * 3
    checked = 0
    for k in range(9):
        jj, ii = np.nonzero(myo[k])
        phi = _display_angle(matrix, k, jj, ii, centre_ras, anterior_dir, septal_dir)
        width = 90.0 if levels[k] == "apical" else 60.0
        start = 15.0 if levels[k] == "apical" else 0.0
        away = np.minimum((phi - start) % width, width - (phi - start) % width) > 2.0  # off the sector borders
        expected = _expected(levels[k], phi[away])
        assert np.array_equal(result.segment_map[k, jj[away], ii[away]], expected)
        checked += away.sum()
    assert checked > 0.9 * myo.sum()
    assert result.rotation_source.startswith("septum faces the patient's right")
    assert result.reference_slice_index == k_ref and result.base_end == "first"
    assert [s.segment for s in result.segments] == list(range(1, 18))
    total = sum(s.myocardium_ml for s in result.segments)
    assert total == pytest.approx(myo.sum() * PIXEL * PIXEL * SLICE / 1000)
    assert all(s.lge_ml is None and s.transmurality_class == "" for s in result.segments)
    assert set(result.segments[0].as_row()) == set(type(result.segments[0]).ROW_UNITS)


def test_standard_display_puts_anterior_on_top_and_septum_on_the_left():
    """In the standard display (RV on the image's left) with the anterior insertion up-left, the basal
    anterior segment is at the top, the septum on the left, inferior at the bottom, lateral on the right."""
    matrix = _lps_identity()
    myo = _lv()
    t = np.radians(120.0)  # up-left on the screen (rows grow downwards)
    ijk = np.array([CENTRE + 25 * np.cos(t), CENTRE - 25 * np.sin(t), 1.0, 1.0])
    result = aha_segments(myo, matrix, (matrix @ ijk)[:3])
    c = int(round(CENTRE))
    r = int(round(30.0 / PIXEL))  # mid-wall of slice 1 (cavity radius 26.5 mm, wall 10 mm)
    top, bottom = result.segment_map[1, c - r, c], result.segment_map[1, c + r, c]
    left, right = result.segment_map[1, c, c - r], result.segment_map[1, c, c + r]
    assert (top, bottom) == (1, 4)
    assert left in (2, 3) and right in (5, 6)


def test_inferior_insertion_point_sets_the_sense_of_rotation():
    matrix = _lps_identity()
    myo = _lv()
    centre = (matrix @ np.array([CENTRE, CENTRE, 4, 1.0]))[:3]
    anterior = centre + np.array([0.0, 30.0, 0.0])  # anterior (+A)
    # put the "inferior insertion" on the patient's left: the septum is then taken to be on the left
    left_inferior = centre + 30.0 * np.array([-np.sin(np.radians(120)), np.cos(np.radians(120)), 0.0])
    right_inferior = centre + 30.0 * np.array([np.sin(np.radians(120)), np.cos(np.radians(120)), 0.0])
    default = aha_segments(myo, matrix, anterior)
    same = aha_segments(myo, matrix, anterior, inferior_rv_insertion_ras=right_inferior)
    mirrored = aha_segments(myo, matrix, anterior, inferior_rv_insertion_ras=left_inferior)
    assert same.rotation_source == "inferior RV insertion point"
    assert np.array_equal(default.segment_map, same.segment_map)
    assert not np.array_equal(default.segment_map, mirrored.segment_map)
    # a voxel on the patient's right (image left, smaller column) is septal by default, lateral mirrored
    j, i = int(CENTRE), int(CENTRE - 24.0 / PIXEL)
    assert default.segment_map[4, j, i] in (8, 9) and mirrored.segment_map[4, j, i] in (11, 12)


def test_apex_levels_base_detection_and_16_segment_model():
    matrix = _lps_identity()
    myo = _lv(n_ring=7, apex_caps=2, base_first=False)  # apex at slices 0-1, base at slice 8
    point = (matrix @ np.array([CENTRE, CENTRE - 25, 5, 1.0]))[:3]
    result = aha_segments(myo, matrix, point)
    levels = dict(result.slice_levels)
    assert result.base_end == "last"
    assert [levels[k] for k in range(9)] == ["apex"] * 2 + ["apical"] * 2 + ["mid"] * 2 + ["basal"] * 3
    assert set(np.unique(result.segment_map[0])) == {0, 17}
    sixteen = aha_segments(myo, matrix, point, model=16)
    assert [s.segment for s in sixteen.segments] == list(range(1, 17))
    assert not sixteen.segment_map[:2].any() and "16-segment model" in sixteen.warnings[0]
    # told that the base is at slice 0, the solid caps sit at the base: not a closed ring there
    with pytest.raises(ValueError, match=r"slice\(s\) 0, 1 is not a closed ring"):
        aha_segments(myo, matrix, point, base_end="first")
    assert aha_segments(myo[2:], matrix, point, base_end="first").base_end == "first"


def test_transmurality_per_segment_and_classes():
    """Scar in the inner half of the wall of the mid inferoseptal sector, transmural in the mid inferior
    sector, none elsewhere: transmurality ≈ 50% and 100%, classes 26-50% and 76-100%."""
    matrix = _lps_identity()
    myo = _lv()
    centre = (matrix @ np.array([CENTRE, CENTRE, 4, 1.0]))[:3]
    anterior_dir = np.array([0.0, 1.0, 0.0])
    point = centre + 30.0 * anterior_dir
    plain = aha_segments(myo, matrix, point)
    jj, ii = np.mgrid[0:N, 0:N]
    radius_mm = np.hypot(jj - CENTRE, ii - CENTRE) * PIXEL
    lge = np.zeros_like(myo)
    for k in (3, 4, 5):  # mid slices
        inner = 28.0 - 1.5 * k
        lge[k] = (plain.segment_map[k] == 9) & (radius_mm < inner + 5.0)
        lge[k] |= plain.segment_map[k] == 10
    result = aha_segments(myo, matrix, point, lge_mask=lge)
    nine, ten, eight = result.segment(9), result.segment(10), result.segment(8)
    assert nine.transmurality_percent == pytest.approx(50.0, abs=8.0) and nine.transmurality_class == "26-50%"
    assert ten.transmurality_percent == pytest.approx(100.0, abs=1.0) and ten.transmurality_class == "76-100%"
    assert eight.transmurality_percent == 0.0 and eight.transmurality_class == "0%" and eight.lge_percent == 0.0
    assert ten.lge_percent == pytest.approx(100.0) and ten.ray_count > 100
    assert nine.lge_ml == pytest.approx((lge & (result.segment_map == 9)).sum() * PIXEL * PIXEL * SLICE / 1000)
    assert result.segment(17).transmurality_percent is None  # no apex slices here


def test_transmurality_class_boundaries():
    assert [transmurality_class(v) for v in (0.0, 0.1, 25.0, 25.01, 50.0, 50.5, 75.0, 75.1, 100.0)] == [
        "0%", "1-25%", "1-25%", "26-50%", "26-50%", "51-75%", "51-75%", "76-100%", "76-100%"]
    assert transmurality_class(None) == ""
    for bad in (-1.0, 101.0, float("nan")):
        with pytest.raises(ValueError, match="0-100"):
            transmurality_class(bad)


def test_bad_input_is_a_clear_error():
    matrix = _lps_identity()
    myo = _lv()
    centre = (matrix @ np.array([CENTRE, CENTRE, 4, 1.0]))[:3]
    point = centre + np.array([0.0, 30.0, 0.0])
    with pytest.raises(ValueError, match="need the anterior RV insertion point"):
        aha_segments(myo, matrix, None)
    with pytest.raises(ValueError, match="three finite RAS"):
        aha_segments(myo, matrix, (1.0, np.nan, 2.0))
    with pytest.raises(ValueError, match="lies at the LV centre"):
        aha_segments(myo, matrix, centre)
    broken = myo.copy()
    broken[4, int(CENTRE) - 2:int(CENTRE) + 3, :] = False  # cut the mid ring open
    with pytest.raises(ValueError, match=r"slice\(s\) 4 is not a closed ring"):
        aha_segments(broken, matrix, point)
    with pytest.raises(ValueError, match="at least 3 slices"):
        aha_segments(myo[:2], matrix, point)
    with pytest.raises(ValueError, match="16 or 17"):
        aha_segments(myo, matrix, point, model=18)
    with pytest.raises(ValueError, match="outside the myocardium"):
        aha_segments(myo, matrix, point, lge_mask=~myo)
    with pytest.raises(ValueError, match="empty"):
        aha_segments(np.zeros_like(myo), matrix, point)
