"""Line profiles (RAS sampling) and edge / septal metrics against analytic blurred edges."""

from __future__ import annotations

import numpy as np
import pytest
from CardiacLGECommonLib.core.geometry import ImageGeometry, ijk_to_ras_points
from LGEResolutionQALib.core import edges, profiles
from scipy.special import erf

D2080, D1090 = 1.683, 2.563  # x sigma, ideal step blurred by a Gaussian


def blurred_step(x, sigma, x0=0.0, low=20.0, high=180.0):
    return low + (high - low) * 0.5 * (1.0 + erf((np.asarray(x) - x0) / (sigma * np.sqrt(2.0))))


def rotation(axis, angle_deg):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    a = np.deg2rad(angle_deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def assert_analytic(metrics, sigma, tol=0.05):
    assert metrics.rise_20_80_mm == pytest.approx(D2080 * sigma, rel=tol)
    assert metrics.rise_10_90_mm == pytest.approx(D1090 * sigma, rel=tol)
    assert metrics.sharpness_20_80_per_mm == pytest.approx(1 / metrics.rise_20_80_mm)
    assert metrics.max_gradient_per_mm == pytest.approx(1 / (sigma * np.sqrt(2 * np.pi)), rel=tol)


@pytest.mark.parametrize("sigma", [0.4, 1.0, 1.7, 3.0])
def test_blurred_step_analytic(sigma):
    x = np.arange(0.0, 30.0, 0.05)
    rising = edges.edge_metrics(x, blurred_step(x, sigma, 12.3))
    assert_analytic(rising, sigma, tol=0.01)
    assert rising.direction == "rising" and rising.position_mm == pytest.approx(12.3, abs=0.01)
    assert rising.low_plateau == pytest.approx(20, abs=0.1) and rising.high_plateau == pytest.approx(180, abs=0.1)
    falling = edges.edge_metrics(x, blurred_step(x, sigma, 17.0, low=300, high=50))
    assert falling.direction == "falling"
    assert_analytic(falling, sigma, tol=0.01)
    assert "20-80%" in rising.method and rising.as_row()["rise_20_80_mm"] == rising.rise_20_80_mm


def test_noisy_edge_and_given_plateaus():
    rng = np.random.default_rng(1)
    x = np.arange(0.0, 30.0, 0.1)
    y = blurred_step(x, 1.5, 15.0) + rng.normal(0, 2.0, x.size)  # SNR of the step 80
    m = edges.edge_metrics(x, y)
    assert m.rise_20_80_mm == pytest.approx(D2080 * 1.5, rel=0.1)
    given = edges.edge_metrics(x, blurred_step(x, 1.5, 15.0), low=20.0, high=180.0)
    assert_analytic(given, 1.5, tol=0.01)
    assert "given" in given.method


@pytest.mark.parametrize("interpolation", ["linear", "cubic"])
@pytest.mark.parametrize("sigma", [1.5, 2.5, 4.0])
def test_edge_through_sample_line_oblique_anisotropic(sigma, interpolation):
    # Oblique anisotropic 3D volume; the blurred edge is defined in RAS along an in-plane direction.
    directions = rotation((0.3, -0.5, 0.8), 37.0)
    geometry = ImageGeometry((0.7, 0.9, 2.5), (-40.0, 25.0, 10.0), directions)
    shape_kji = (6, 90, 110)
    k, j, i = np.meshgrid(*[np.arange(n) for n in shape_kji], indexing="ij")
    ras = ijk_to_ras_points(geometry.ijk_to_ras, np.stack([i, j, k], axis=-1))
    in_plane = directions[:, 0] * np.cos(0.5) + directions[:, 1] * np.sin(0.5)  # ⟂ slice normal
    centre = ijk_to_ras_points(geometry.ijk_to_ras, np.array([55.0, 45.0, 2.5]))
    volume = blurred_step((ras - centre) @ in_plane, sigma)
    start, end = centre - 20 * in_plane, centre + 20 * in_plane
    profile = profiles.sample_line(volume, geometry.ijk_to_ras, start, end, step_mm=0.1, interpolation=interpolation)
    assert profile.distance_mm[-1] == pytest.approx(40.0)
    assert np.allclose(profile.points_ras[0], start) and np.allclose(profile.points_ras[-1], end)
    m = edges.edge_metrics(profile.distance_mm, profile.intensity)
    assert_analytic(m, sigma, tol=0.05)
    assert m.position_mm == pytest.approx(20.0, abs=0.1)
    # A line width averages along the edge: same edge.
    wide = profiles.sample_line(volume, geometry.ijk_to_ras, start, end, step_mm=0.1, line_width_mm=4.0)
    assert_analytic(edges.edge_metrics(wide.distance_mm, wide.intensity), sigma, tol=0.05)


def test_single_slice_and_2d_sampling_matches_exact_linear_values():
    image = np.arange(60 * 80, dtype=float).reshape(60, 80)  # linear in i and j: bilinear is exact
    geometry = ImageGeometry((0.5, 0.8, 5.0), (10.0, -3.0, 7.0))
    start = ijk_to_ras_points(geometry.ijk_to_ras, np.array([14.0, 15.0, 0.2]))
    end = ijk_to_ras_points(geometry.ijk_to_ras, np.array([60.0, 41.0, -0.3]))
    for interpolation, atol in (("linear", 1e-6), ("cubic", 1e-4)):  # cubic: spline boundary >= 14 px away
        for array in (image, image[np.newaxis]):
            p = profiles.sample_line(array, geometry.ijk_to_ras, start, end, step_mm=0.25, interpolation=interpolation)
            frac = p.distance_mm / p.distance_mm[-1]
            i, j = 14 + 46 * frac, 15 + 26 * frac
            assert np.allclose(p.intensity, 80 * j + i, atol=atol)
    # the crop used for the cubic prefilter gives the full-image spline values
    from scipy import ndimage
    noise = np.random.default_rng(0).normal(size=(60, 80))
    p = profiles.sample_line(noise, geometry.ijk_to_ras, start, end, step_mm=0.25, interpolation="cubic")
    full = ndimage.map_coordinates(noise, [15 + 26 * frac, 14 + 46 * frac], order=3, mode="nearest")
    assert np.allclose(p.intensity, full, atol=1e-5)


def test_dark_band_fwhm_within_half_pixel():
    # Septum of known width rendered by area-averaging on 1.25 mm pixels (blood 200, myocardium 40).
    pixel, fine = 1.25, 50
    for width, left in ((9.3, 20.4), (7.0, 18.9), (12.6, 21.7)):
        xf = (np.arange(48 * fine) + 0.5) * pixel / fine
        row = np.where((xf >= left) & (xf <= left + width), 40.0, 200.0).reshape(48, fine).mean(axis=1)
        image = np.tile(row, (8, 1))
        geometry = ImageGeometry((pixel, pixel, 6.0))
        profile = profiles.sample_line(image, geometry.ijk_to_ras, (5.0, 4.0, 0.0), (50.0, 4.0, 0.0), step_mm=0.05)
        result = edges.septal_profile_metrics(profile)
        # pixel centre i sits at x = i * pixel, the fine grid at (i - 0.5) * pixel .. (i + 0.5) * pixel
        assert result.thickness_fwhm_mm == pytest.approx(width, abs=pixel / 2)
        assert result.left_edge.position_mm + 5.0 == pytest.approx(left - pixel / 2, abs=pixel / 2)
        assert result.band_level == pytest.approx(40, abs=1) and result.blood_level == pytest.approx(200, abs=1)
        assert result.left_edge.direction == "falling" and result.right_edge.direction == "rising"


def test_hr_septum_sharper_than_nr():
    # One septum (10.4 mm, blood 200 / myocardium 40, blurred by 0.4 mm) area-averaged onto 0.625 mm (HR)
    # and 1.5 mm (NR) pixels, plus noise: HR edges are sharper, both thicknesses within half a pixel.
    rng = np.random.default_rng(3)
    fine = 0.005
    xf = np.arange(0.0, 48.0, fine) + fine / 2
    septum = 200 - 160 * 0.5 * (erf((xf - 18.3) / (0.4 * np.sqrt(2))) - erf((xf - 28.7) / (0.4 * np.sqrt(2))))
    results = {}
    for name, pixel in (("HR", 0.625), ("NR", 1.5)):
        n = int(48.0 / pixel)
        index = (xf / pixel).astype(int)
        row = np.bincount(index, septum, n + 1)[:n] / np.bincount(index, None, n + 1)[:n]
        rows = int(14.0 / pixel)
        image = np.tile(row, (rows, 1)) + rng.normal(0, 4.0, (rows, n))
        geometry = ImageGeometry((pixel, pixel, 8.0), (pixel / 2, 0.0, 0.0))
        profile = profiles.sample_line(image, geometry.ijk_to_ras, (4.0, 6.5, 0.0), (44.0, 6.5, 0.0),
                                       line_width_mm=6.0)
        results[name] = edges.septal_profile_metrics(profile)
        assert results[name].thickness_fwhm_mm == pytest.approx(10.4, abs=pixel / 2)
    hr, nr = results["HR"], results["NR"]
    assert hr.mean_sharpness_20_80_per_mm > 1.3 * nr.mean_sharpness_20_80_per_mm  # measured 1.21 vs 0.76
    assert hr.mean_max_gradient_per_mm > 1.3 * nr.mean_max_gradient_per_mm  # measured 0.82 vs 0.49


def test_septal_blurred_band_edges_and_row():
    x = np.arange(0.0, 40.0, 0.1)
    sigma, width = 1.2, 10.0
    y = 150 - 110 * 0.5 * (erf((x - 14) / (sigma * np.sqrt(2))) - erf((x - 14 - width) / (sigma * np.sqrt(2))))
    y = y + 20.0 * 0.5 * (1 + erf((x - 24) / (sigma * np.sqrt(2))))  # RV blood brighter than LV blood
    profile = profiles.LineProfile(x, y, np.zeros((x.size, 3)), 0.1, "linear")
    r = edges.septal_profile_metrics(profile)
    assert r.thickness_fwhm_mm == pytest.approx(width, abs=0.1)
    for edge in (r.left_edge, r.right_edge):
        assert edge.rise_20_80_mm == pytest.approx(D2080 * sigma, rel=0.05)
    row = r.as_row()
    for key in ("left_rise_20_80_mm", "right_sharpness_20_80_per_mm", "mean_sharpness_20_80_per_mm",
                "septal_thickness_fwhm_mm", "left_max_gradient_per_mm", "right_rise_10_90_mm", "method"):
        assert key in row
    assert row["septal_thickness_fwhm_mm"] == r.thickness_fwhm_mm
    # bright band (e.g. scar between dark regions)
    bright = edges.septal_profile_metrics(profiles.LineProfile(x, 200 - y, profile.points_ras, 0.1, "linear"),
                                          dark_band=False)
    assert bright.thickness_fwhm_mm == pytest.approx(width, abs=0.1)


def test_bad_profiles_raise():
    x = np.arange(0.0, 20.0, 0.1)
    flat = profiles.LineProfile(x, np.full(x.size, 5.0), np.zeros((x.size, 3)), 0.1, "linear")
    with pytest.raises(ValueError, match="Flat"):
        edges.septal_profile_metrics(flat)
    with pytest.raises(ValueError, match="Flat"):
        edges.edge_metrics(x, np.full(x.size, 5.0))
    step = profiles.LineProfile(x, blurred_step(x, 1.0, 10.0), flat.points_ras, 0.1, "linear")
    with pytest.raises(ValueError, match="No dark band"):
        edges.septal_profile_metrics(step)
    with pytest.raises(ValueError, match="too short"):
        edges.septal_profile_metrics(profiles.LineProfile(x[:4], x[:4], flat.points_ras[:4], 0.1, "linear"))
    with pytest.raises(ValueError, match="both"):
        edges.edge_metrics(x, x, low=1.0)


def test_sample_line_bad_input():
    volume = np.zeros((3, 40, 50))
    geometry = ImageGeometry((1.0, 1.0, 2.0), (0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="zero length"):
        profiles.sample_line(volume, geometry.ijk_to_ras, (5, 5, 2), (5, 5, 2))
    with pytest.raises(ValueError, match="positive"):
        profiles.sample_line(volume, geometry.ijk_to_ras, (5, 5, 2), (9, 5, 2), step_mm=0)
    with pytest.raises(ValueError, match=r"end point.*outside the image.*i in \[-0.5, 49.5\]"):
        profiles.sample_line(volume, geometry.ijk_to_ras, (5, 5, 2), (60, 5, 2))
    with pytest.raises(ValueError, match="start point.*outside"):
        profiles.sample_line(volume, geometry.ijk_to_ras, (5, 5, 9), (6, 5, 2))
    with pytest.raises(ValueError, match="Line width"):
        profiles.sample_line(volume, geometry.ijk_to_ras, (5, 1, 2), (20, 1, 2), line_width_mm=4.0)
    with pytest.raises(ValueError, match="Interpolation"):
        profiles.sample_line(volume, geometry.ijk_to_ras, (5, 5, 2), (9, 5, 2), interpolation="nearest")
    single = np.zeros((1, 40, 50))
    with pytest.raises(ValueError, match="outside"):
        profiles.sample_line(single, geometry.ijk_to_ras, (5, 5, 1.5), (9, 5, 0.0))  # k = 0.75 > 0.5
