"""Bar-group resolution: synthetic bars rendered by area-averaging, and the real resolution phantom.

Real-data ground truth (../shared/data/resolution_phantom/ax_512_resolution.dcm, Siemens 3 T,
512 x 512, 0.488 mm pixels). Looking at the image (saved as PNG and inspected) it holds four groups
of four DARK bars on the bright phantom (and a slanted dark square in the centre). Pixel
coordinates are (column, row) of the DICOM pixel array. For each group the two outer edges were
located (50% crossings between background and the outer bars, fitted along the bar length), which
gives the bar tilt and the group extent = 3.5 x pitch (4 bars of half-pitch width):

=====  ==========================  =========================  ==================  ===========  =============
group  bars                        profile line (col, row)    extent at the line  pitch        bar positions
=====  ==========================  =========================  ==================  ===========  =============
A      vertical, rows ~115-220,     (149.4, 167.0) ->           7.72 px = 3.77 mm   1.08 mm      1.08 mm
       col = 156.3 + 0.0022 row     (171.4, 167.0)
D      horizontal, cols ~112-215,   (164.7, 337.3) ->           7.67 px = 3.74 mm   1.07 mm      1.08 mm
       row = 348.5 - 0.024 col      (165.3, 359.3)
B      horizontal, cols ~288-390,   (339.8, 149.6) ->           14.55 px = 7.10 mm  2.03 mm      2.00 mm
       row = 159.9 - 0.019 col      (340.2, 171.6)
C      vertical, rows ~290-390,     (336.4, 340.3) ->           14.78 px = 7.22 mm  2.06 mm      2.05 mm
       col = 331.1 + 0.028 row      (358.4, 339.7)
=====  ==========================  =========================  ==================  ===========  =============

(last column: mean spacing of the four bars found by ``analyse_bar_group`` on the line below.)
So A and D are ~1 mm markers (pitch 1.07-1.08 mm, 2.2 pixels per period: just above the sampling
limit of 2) and B and C ~2 mm markers. Lines are perpendicular to the bars, 22 px long, centred on
the group; profiles are averaged over 10 mm of bar length (``line_width_mm=10``) and use cubic
interpolation: at 2.2 pixels per period linear interpolation quantises the bar minima to whole
pixels (spacings 2, 2, 3 px), which a +/-25% pitch window cannot follow.
"""

from __future__ import annotations

import numpy as np
import pytest
from CardiacLGECommonLib.core.geometry import ImageGeometry, ijk_to_ras_points
from LGEResolutionQALib.core import profiles, resolution

PIXEL_MM = 0.48828125
GROUPS = {  # name: (start (col, row), end (col, row), pitch mm measured from the group extent)
    "A": ((149.4, 167.0), (171.4, 167.0), 1.08),
    "D": ((164.7, 337.3), (165.3, 359.3), 1.07),
    "B": ((339.8, 149.6), (340.2, 171.6), 2.03),
    "C": ((336.4, 340.3), (358.4, 339.7), 2.06),
}


def render_bars(pixel_mm, n_bars=4, bar_mm=1.0, pitch_mm=2.0, fov_mm=24.0, offset_mm=0.0, bright=True):
    """Bars of ``bar_mm`` at ``pitch_mm`` area-averaged onto ``pixel_mm`` pixels (6-row image)."""
    fine = 0.005
    xf = np.arange(0.0, fov_mm, fine) + fine / 2
    bars = np.zeros_like(xf)
    first = fov_mm / 2 - (n_bars - 1) * pitch_mm / 2 + offset_mm
    for index in range(n_bars):
        bars[np.abs(xf - (first + index * pitch_mm)) <= bar_mm / 2] = 1.0
    values = 20 + 180 * bars if bright else 200 - 180 * bars
    n = int(fov_mm / pixel_mm)
    index = (xf / pixel_mm).astype(int)
    keep = index < n
    row = np.bincount(index[keep], values[keep], n) / np.bincount(index[keep], None, n)
    # pixel i covers [i, i+1) * pixel_mm: its centre is at (i + 0.5) * pixel_mm
    return np.tile(row, (6, 1)), ImageGeometry((pixel_mm, pixel_mm, 5.0), (0.5 * pixel_mm, 0.0, 0.0))


def _profile_across(image, geometry, step_mm=0.05):
    width = image.shape[1] * geometry.spacing_mm[0]
    return profiles.sample_line(image, geometry.ijk_to_ras, (1.0, 2 * geometry.spacing_mm[1], 0.0),
                                (width - 1.0, 2 * geometry.spacing_mm[1], 0.0), step_mm=step_mm)


@pytest.mark.parametrize("offset_mm", [0.0, 0.11, 0.23, 0.31, 0.47])
@pytest.mark.parametrize("bright", [True, False])
def test_synthetic_1mm_bars_2mm_pitch_resolved_at_hr_not_at_nr(offset_mm, bright):
    hr = resolution.analyse_bar_group(_profile_across(*render_bars(0.625, offset_mm=offset_mm, bright=bright)),
                                      4, 2.0, bright_bars=bright)
    assert hr.resolved, hr.reason
    assert hr.found_peaks == 4 and hr.found_dips == 3 and len(hr.modulations) == 3
    assert min(hr.modulations) > 0.4
    assert hr.measured_pitch_mm == pytest.approx(2.0, abs=0.2)
    nr = resolution.analyse_bar_group(_profile_across(*render_bars(1.5, offset_mm=offset_mm, bright=bright)),
                                      4, 2.0, bright_bars=bright)
    assert not nr.resolved and nr.reason
    assert not resolution.sampling_limited(2.0, 0.625) and resolution.sampling_limited(2.0, 1.5)
    # 2 mm markers at 4 mm pitch: resolved in both
    assert resolution.analyse_bar_group(
        _profile_across(*render_bars(1.5, bar_mm=2.0, pitch_mm=4.0, fov_mm=36, offset_mm=offset_mm, bright=bright)),
        4, 4.0, bright_bars=bright).resolved


def test_low_contrast_fails_threshold_and_row():
    image, geometry = render_bars(0.625)
    profile = _profile_across(image, geometry)
    weak = profiles.LineProfile(profile.distance_mm, 1000 + profile.intensity, profile.points_ras, profile.step_mm,
                                "linear")
    result = resolution.analyse_bar_group(weak, 4, 2.0, modulation_threshold=0.1)
    assert result.found_peaks == 4 and result.found_dips == 3 and not result.resolved
    assert "threshold" in result.reason
    row = result.as_row()
    assert row["resolved"] is False and row["min_modulation"] == pytest.approx(min(result.modulations))
    assert row["threshold"] == 0.1 and "Michelson" in row["method"]
    assert resolution.analyse_bar_group(weak, 4, 2.0, modulation_threshold=0.05).resolved


def test_bad_input():
    image, geometry = render_bars(0.625)
    profile = _profile_across(image, geometry)
    with pytest.raises(ValueError, match="expected_bars"):
        resolution.analyse_bar_group(profile, 1, 2.0)
    with pytest.raises(ValueError, match="pitch"):
        resolution.analyse_bar_group(profile, 4, 0.0)
    with pytest.raises(ValueError, match="supersample"):
        resolution.analyse_bar_group(_profile_across(image, geometry, step_mm=0.8), 4, 2.0)
    with pytest.raises(ValueError, match="shorter"):
        resolution.analyse_bar_group(profile, 40, 2.0)
    with pytest.raises(ValueError, match="non-negative"):
        resolution.analyse_bar_group(profiles.LineProfile(profile.distance_mm, profile.intensity - 500,
                                                          profile.points_ras, 0.05, "linear"), 4, 2.0)
    with pytest.raises(ValueError, match="positive"):
        resolution.sampling_limited(2.0, 0.0)


def _dicom_image_and_matrix(path):
    import pydicom

    ds = pydicom.dcmread(path)
    image = ds.pixel_array.astype(float)
    orientation = np.array(ds.ImageOrientationPatient, dtype=float)
    row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
    lps_to_ras = np.diag([-1.0, -1.0, 1.0])
    col_dir, row_dir = lps_to_ras @ orientation[:3], lps_to_ras @ orientation[3:]
    matrix = np.eye(4)
    matrix[:3, 0] = col_dir * col_spacing  # i = column
    matrix[:3, 1] = row_dir * row_spacing  # j = row
    matrix[:3, 2] = np.cross(col_dir, row_dir) * float(ds.get("SliceThickness", 1.0) or 1.0)
    matrix[:3, 3] = lps_to_ras @ np.array(ds.ImagePositionPatient, dtype=float)
    return image, matrix


def _area_downsample(image, ijk_to_ras, pixel_in_mm, pixel_out_mm):
    """Anti-aliased resample: each output pixel = overlap-weighted mean of the input pixels it covers."""
    def weights(n_in):
        factor = pixel_out_mm / pixel_in_mm
        n_out = int(n_in / factor)
        edges_in = np.arange(n_in + 1) - 0.5
        edges_out = -0.5 + np.arange(n_out + 1) * factor
        overlap = np.clip(np.minimum(edges_out[1:, None], edges_in[None, 1:])
                          - np.maximum(edges_out[:-1, None], edges_in[None, :-1]), 0, None)
        return overlap / overlap.sum(axis=1, keepdims=True), factor

    w_rows, factor = weights(image.shape[0])
    w_cols, _ = weights(image.shape[1])
    scale = np.eye(4)
    scale[0, 0] = scale[1, 1] = factor
    scale[0, 3] = scale[1, 3] = 0.5 * factor - 0.5  # output pixel 0 centre in input index units
    return w_rows @ image @ w_cols.T, ijk_to_ras @ scale


def _group_result(image, matrix, name, native_matrix):
    """The group's line (native pixel coordinates -> RAS) sampled on ``image`` (any pixel size)."""
    (c0, r0), (c1, r1), pitch = GROUPS[name]
    start, end = ijk_to_ras_points(native_matrix, np.array([[c0, r0, 0.0], [c1, r1, 0.0]]))
    profile = profiles.sample_line(image, matrix, start, end, step_mm=0.05, interpolation="cubic",
                                   line_width_mm=10.0)
    return resolution.analyse_bar_group(profile, 4, pitch, modulation_threshold=0.1, bright_bars=False)


def test_real_resolution_phantom(shared_data):
    path = shared_data / "resolution_phantom" / "ax_512_resolution.dcm"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    image, matrix = _dicom_image_and_matrix(path)
    assert image.shape == (512, 512)
    assert np.linalg.norm(matrix[:3, 0]) == pytest.approx(PIXEL_MM)
    for name, (_, _, pitch) in GROUPS.items():
        native = _group_result(image, matrix, name, matrix)
        assert native.resolved, f"group {name}: {native.reason}"
        assert native.measured_pitch_mm == pytest.approx(pitch, rel=0.06)
        assert not resolution.sampling_limited(pitch, PIXEL_MM)

    low, low_matrix = _area_downsample(image, matrix, PIXEL_MM, 1.5)
    assert np.linalg.norm(low_matrix[:3, 0]) == pytest.approx(1.5)
    # the downsampled image covers the same field: its pixel centres map to the same RAS as the mean of
    # the input pixel centres they cover
    assert low.mean() == pytest.approx(image[:510, :510].mean(), rel=0.01)
    for name, (_, _, pitch) in GROUPS.items():
        assert pitch < 3.0 and resolution.sampling_limited(pitch, 1.5)
        coarse = _group_result(low, low_matrix, name, matrix)
        assert not coarse.resolved, f"group {name} resolved at 1.5 mm: {coarse.reason}"

    # 0.9 mm pixels: the ~2 mm groups stay resolved, the ~1 mm groups are lost (pixel > pitch/2).
    mid, mid_matrix = _area_downsample(image, matrix, PIXEL_MM, 0.9)
    for name, (_, _, pitch) in GROUPS.items():
        result = _group_result(mid, mid_matrix, name, matrix)
        assert result.resolved == (pitch > 1.8) == (not resolution.sampling_limited(pitch, 0.9)), \
            f"group {name} at 0.9 mm: {result.reason}"
