"""The NR vs HR study report (core): every metric side by side, computed by the project's metric
functions (checked against direct calls), CSV/JSON/PNG outputs, and clear errors on bad input."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from LGEResolutionQALib.core import edges, profiles
from LGEResolutionQALib.io.definitions import LineDefinition, RegionDefinition, StudyVolume
from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom, make_septum_pair
from LGEResolutionQALib.study.report import (
    LGESettings,
    NoiseSettings,
    StudyDefinition,
    study_report,
)

BOXES = {  # the simulated septum scene of phantom.make_septum_pair (RAS mm)
    "blood": ((-14.0, 0.0, 0.0), (8.0, 16.0, 4.0)),
    "remote": ((0.0, 0.0, 0.0), (4.0, 16.0, 4.0)),
    "scar": ((0.0, -25.0, 0.0), (4.0, 14.0, 4.0)),
    "air": ((1.5, 33.0, 0.0), (23.0, 22.0, 4.0)),
}


@pytest.fixture(scope="module")
def pair():
    return make_septum_pair(np.random.default_rng(3))


def _septum_study(pair, **kwargs):
    volumes = [StudyVolume(key.upper(), pair[key].image, pair[key].ijk_to_ras) for key in ("nr", "hr")]
    regions = {name: RegionDefinition(name, center_ras=c, size_mm=s) for name, (c, s) in BOXES.items()}
    options = {"lines": (LineDefinition("septum", *pair["septum_line_ras"]),), "regions": regions,
               "lge_region": "scar", "remote_region": "remote", "blood_region": "blood",
               "noise": NoiseSettings("background", "air"), **kwargs}
    return volumes, StudyDefinition(**options)


def test_septum_pair_report_side_by_side(pair, tmp_path):
    volumes, definition = _septum_study(pair)
    report = study_report(volumes, definition)
    # The report runs the project's metric functions: same numbers as calling them directly.
    for volume in volumes:
        profile = profiles.sample_line(volume.array, volume.ijk_to_ras, *pair["septum_line_ras"], step_mm=0.1)
        direct = edges.septal_profile_metrics(profile).as_row()
        assert report.value(volume.name, "line:septum", "septum", "septal_thickness_fwhm_mm") == pytest.approx(
            direct["septal_thickness_fwhm_mm"])
        assert report.value(volume.name, "line:septum", "septum", "mean_rise_20_80_mm") == pytest.approx(
            direct["mean_rise_20_80_mm"])
    # HR has the sharper edges; both see an ~8 mm septum.
    hr_rise = report.value("HR", "line:septum", "septum", "mean_rise_20_80_mm")
    nr_rise = report.value("NR", "line:septum", "septum", "mean_rise_20_80_mm")
    assert hr_rise < nr_rise
    assert report.value("HR", "line:septum", "septum", "septal_thickness_fwhm_mm") == pytest.approx(8.0, abs=0.5)
    # SNR of blood = mean / sigma (background Rayleigh), near the simulated truth (level 0.8 / sigma).
    for volume, key in (("NR", "nr"), ("HR", "hr")):
        stats = report.region_stats[volume]["blood"]
        noise = report.noise[volume]
        assert noise.method == "background-rayleigh-1ch"
        assert report.snr[volume]["blood"].snr == pytest.approx(stats.mean / noise.sigma)
        assert noise.sigma == pytest.approx(pair[key].sigma, rel=0.12)
        assert "air" not in report.snr[volume]  # no SNR of the noise region itself
        assert report.cnr[volume]["lge-remote"].cnr > 0
    wide = report.wide_rows()
    thickness = next(r for r in wide if r["metric"] == "septal_thickness_fwhm_mm")
    assert {"NR", "HR"} <= set(thickness) and thickness["unit"] == "mm"

    paths = report.write(tmp_path)
    with paths["csv"].open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows and list(rows[0])[:4] == ["section", "item", "metric", "unit"] and "NR" in rows[0] and "HR" in rows[0]
    document = json.loads(paths["json"].read_text())
    assert document["lines"]["septum"]["results"]["HR"]["septal_thickness_fwhm_mm"] == pytest.approx(
        report.value("HR", "line:septum", "septum", "septal_thickness_fwhm_mm"))
    assert "mean_au" in document["regions"]["blood"]["NR"] and "volume_ml" in document["regions"]["blood"]["NR"]
    assert "sigma_au" in document["noise"]["HR"]
    from PIL import Image

    for key in ("profiles", "roi_bar"):
        with Image.open(paths[key]) as image:
            assert image.size[0] > 400 and image.size[1] > 200


def test_ring_phantom_lge_percent_and_snr_from_labelmaps():
    phantom = make_lge_ring_phantom((6, 100, 100), (1.0, 1.0, 8.0), 0.2, 20.0, np.random.default_rng(1))
    regions = {name: RegionDefinition(name, mask=mask, ijk_to_ras=phantom.ijk_to_ras) for name, mask in (
        ("myocardium", phantom.myocardium_mask), ("remote", phantom.remote_mask), ("blood", phantom.blood_mask),
        ("air", phantom.air_mask))}
    definition = StudyDefinition(regions=regions, remote_region="remote", blood_region="blood",
                                 myocardium_region="myocardium", noise=NoiseSettings("background"),
                                 lge=LGESettings("nsd", 5))
    report = study_report([StudyVolume("LGE", phantom.image, phantom.ijk_to_ras)], definition)
    lge = report.lge["LGE"]
    assert abs(lge.lge_percent_of_lv - phantom.scar_percent_truth) <= 1.0
    assert report.value("LGE", "lge", "myocardium", "lge_percent_of_lv") == pytest.approx(lge.lge_percent_of_lv)
    truth = phantom.levels["blood"] / phantom.sigma_true
    assert report.snr["LGE"]["blood"].snr == pytest.approx(truth, rel=0.05)


def test_nema_difference_needs_and_uses_a_repeat():
    rng = np.random.default_rng(2)
    clean = np.full((1, 60, 60), 100.0)
    first, second = clean + rng.normal(0, 4.0, clean.shape), clean + rng.normal(0, 4.0, clean.shape)
    mask = np.zeros(clean.shape, bool)
    mask[0, 5:55, 5:55] = True
    regions = {"phantom": RegionDefinition("phantom", mask=mask, ijk_to_ras=np.eye(4))}
    definition = StudyDefinition(regions=regions, noise=NoiseSettings("difference", "phantom"))
    report = study_report([StudyVolume("S", first, np.eye(4), repeat_array=second)], definition)
    assert report.noise["S"].method == "nema-difference"
    assert report.noise["S"].sigma == pytest.approx(4.0, rel=0.05)
    with pytest.raises(ValueError, match="no repeated acquisition"):
        study_report([StudyVolume("S", first, np.eye(4))], definition)


def test_bad_input_is_named_and_nothing_is_written(pair, tmp_path):
    volumes, definition = _septum_study(pair)
    outside = StudyDefinition(lines=(LineDefinition("far", (300, 300, 0), (320, 300, 0)),))
    with pytest.raises(ValueError, match="Line 'far' on volume 'NR'"):
        study_report(volumes, outside)
    far_roi = {"blood": RegionDefinition("blood", center_ras=(500, 0, 0), size_mm=(5, 5, 5))}
    with pytest.raises(ValueError, match="Region 'blood' contains no voxel of volume 'NR'"):
        study_report(volumes, StudyDefinition(regions=far_roi, noise=NoiseSettings("tissue", "blood")))
    with pytest.raises(ValueError, match="not among the regions"):
        StudyDefinition(regions=far_roi, lge_region="scar")
    with pytest.raises(ValueError, match="zero length"):
        LineDefinition("dot", (1, 2, 3), (1, 2, 3))
    with pytest.raises(ValueError, match="Background noise needs an air"):
        study_report(volumes, StudyDefinition(regions={"blood": RegionDefinition("blood", center_ras=(-14, 0, 0),
                                                                                  size_mm=(8, 16, 4))}))
    with pytest.raises(ValueError, match="unique"):
        study_report([volumes[0], volumes[0]], definition)
    assert not any(tmp_path.iterdir())


def test_every_row_carries_the_unit_its_result_class_declares(pair):
    """Units come from the result classes (ROW_UNITS), not from key suffixes: spot-check them in the report."""
    volumes, definition = _septum_study(pair)
    report = study_report(volumes, definition)
    units = {(r["section"], r["metric"]): r["unit"] for r in report.rows}
    assert units[("line:septum", "left_rise_20_80_mm")] == "mm"
    assert units[("line:septum", "mean_sharpness_20_80_per_mm")] == "1/mm"
    assert units[("line:septum", "band_level")] == "au"
    assert units[("region", "volume_ml")] == "mL" and units[("region", "mean")] == "au"
    assert units[("snr", "snr")] == "ratio" and units[("cnr", "cnr")] == "ratio"
    assert all(r["unit"] is not None for r in report.rows)


def test_cubic_interpolation_and_single_edge_lines(pair):
    volumes, _ = _septum_study(pair)
    start, end = pair["septum_line_ras"]
    half = (np.asarray(start) + np.asarray(end)) / 2.0
    definition = StudyDefinition(lines=(LineDefinition("septum", start, end), LineDefinition("left edge", start, half, "edge")),
                                 interpolation="cubic", step_mm=0.05)
    report = study_report(volumes, definition)
    assert report.profiles["septum"]["HR"].interpolation == "cubic"
    assert report.value("HR", "line:septum", "septum", "septal_thickness_fwhm_mm") == pytest.approx(8.0, abs=0.5)
    hr_edge = report.value("HR", "line:edge", "left edge", "rise_20_80_mm")
    nr_edge = report.value("NR", "line:edge", "left edge", "rise_20_80_mm")
    assert 0 < hr_edge < nr_edge


def test_edge_mtf_roi_uses_the_mtf_module():
    from LGEResolutionQALib.core import mtf
    from scipy import ndimage

    pixel, sigma_mm = 0.5, 0.6
    jj, ii = np.mgrid[0:120, 0:120]
    angle = np.deg2rad(5.0)
    fine = ((ii - 60) * np.cos(angle) + (jj - 60) * np.sin(angle) > 0).astype(float)  # slanted step
    image = ndimage.gaussian_filter(fine, sigma_mm / pixel)[np.newaxis] * 100.0 + 10.0
    matrix = np.diag([pixel, pixel, 5.0, 1.0])
    roi = RegionDefinition("edge", center_ras=(30.0, 30.0, 0.0), size_mm=(30.0, 30.0, 4.0))
    report = study_report([StudyVolume("E", image, matrix)], StudyDefinition(mtf_rois={"edge": roi}))
    result = report.mtf["edge"]["E"]
    direct = mtf.slanted_edge_mtf(image[0], (pixel, pixel), roi=(30, 91, 30, 91))
    assert result.mtf50_per_mm == pytest.approx(direct.mtf50_per_mm, rel=1e-6)
    assert result.mtf50_per_mm == pytest.approx(np.sqrt(np.log(2) / 2) / (np.pi * sigma_mm), rel=0.1)
    assert report.value("E", "mtf", "edge", "mtf50_lp_per_mm") == pytest.approx(result.mtf50_per_mm)
