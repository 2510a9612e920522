"""mrml_qa (the widget's adapter glue) on real MRML nodes under slicer-core: compare-volumes profiles,
ROI SNR/CNR table, LGE segment + tables, bar-group resolution; bad input leaves the scene unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from CardiacLGECommonLib.mrml.volumes import add_volume_from_array
from LGEResolutionQALib.core import edges, profiles
from LGEResolutionQALib.mrml import qa as mrml_qa
from LGEResolutionQALib.mrml.segments import add_lge_segment
from LGEResolutionQALib.scenarios import add_line_node, add_phantom_nodes
from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom, make_septum_pair


def _node_count(scene) -> int:
    return scene.GetNumberOfNodes()


@pytest.fixture(scope="module")
def pair():
    return make_septum_pair(np.random.default_rng(5))


def _pair_nodes(scene, pair):
    return [add_volume_from_array(scene, pair[key].image, pair[key].ijk_to_ras, key.upper()) for key in ("nr", "hr")]


def test_compare_profiles_one_table_one_plot(slicer_env, pair):
    scene = slicer_env.scene
    nodes = _pair_nodes(scene, pair)
    line = add_line_node(scene, "septum", *pair["septum_line_ras"])
    outputs = mrml_qa.compare_profiles(scene, nodes, line, step_mm=0.1)
    assert [row["volume"] for row in outputs.rows] == ["NR", "HR"]
    assert outputs.tables["metrics"].GetNumberOfRows() == 2
    assert outputs.chart is not None and outputs.chart.IsA("vtkMRMLPlotChartNode")
    assert outputs.chart.GetNumberOfPlotSeriesNodes() == 2
    for row, key in zip(outputs.rows, ("nr", "hr"), strict=True):
        profile = profiles.sample_line(pair[key].image, pair[key].ijk_to_ras, *pair["septum_line_ras"], step_mm=0.1)
        direct = edges.septal_profile_metrics(profile)
        assert row["septal_thickness_fwhm_mm"] == pytest.approx(direct.thickness_fwhm_mm, abs=1e-3)
    assert outputs.rows[1]["mean_rise_20_80_mm"] < outputs.rows[0]["mean_rise_20_80_mm"]


def test_profile_bad_input_creates_nothing(slicer_env, pair):
    scene = slicer_env.scene
    nodes = _pair_nodes(scene, pair)
    outside = add_line_node(scene, "outside", (300, 300, 0), (330, 300, 0))
    before = _node_count(scene)
    with pytest.raises(ValueError, match="outside"):
        mrml_qa.compare_profiles(scene, nodes, outside)
    zero = add_line_node(scene, "zero", (1, 1, 0), (1, 1, 0))
    before = _node_count(scene)
    with pytest.raises(ValueError):
        mrml_qa.compare_profiles(scene, nodes, zero)
    with pytest.raises(ValueError, match="at least one input volume"):
        mrml_qa.compare_profiles(scene, [], zero)
    with pytest.raises(ValueError, match="markups line"):
        mrml_qa.compare_profiles(scene, nodes, None)
    assert _node_count(scene) == before


def test_regions_snr_cnr_table_matches_core(slicer_env):
    scene = slicer_env.scene
    phantom = make_lge_ring_phantom((4, 100, 100), (1.0, 1.0, 8.0), 0.2, 20.0, np.random.default_rng(0))
    volume, segmentation, ids = add_phantom_nodes(scene, phantom)
    roi = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "blood box")
    roi.SetCenter(0.0, 0.0, 12.0)
    roi.SetSize(10.0, 10.0, 40.0)
    outputs = mrml_qa.compare_regions(scene, [volume], segmentation, [ids["blood"], ids["remote"], ids["air"]], [roi],
                                      noise_method="background", remote_region="remote", blood_region="blood")
    analysis = outputs.results[volume.GetName()]
    assert analysis.noise.method == "background-rayleigh-1ch"
    assert analysis.noise.sigma == pytest.approx(phantom.sigma_true, rel=0.05)
    assert analysis.stats["blood"].mean == pytest.approx(phantom.image[phantom.blood_mask].mean(), rel=1e-6)
    assert analysis.snr["blood box"].snr == pytest.approx(phantom.levels["blood"] / phantom.sigma_true, rel=0.06)
    # stats, noise, SNR (not of air), and every other family of the regions section (uniformity: one per region)
    assert outputs.table.GetNumberOfRows() == len(outputs.rows) == 4 + 1 + 3 + 4
    uniformity = outputs.family_results[volume.GetName()]["uniformity"].regions["blood"]
    assert uniformity.cv_percent == pytest.approx(100 * analysis.stats["blood"].sd / analysis.stats["blood"].mean, rel=1e-9)


def test_regions_bad_input_creates_nothing(slicer_env):
    scene = slicer_env.scene
    phantom = make_lge_ring_phantom((2, 100, 100), (1.0, 1.0, 8.0), 0.2, 20.0, np.random.default_rng(0))
    volume, segmentation, ids = add_phantom_nodes(scene, phantom)
    far = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "far")
    far.SetCenter(900.0, 0.0, 0.0)
    far.SetSize(5.0, 5.0, 5.0)
    empty_id = segmentation.GetSegmentation().AddEmptySegment("", "empty", [0.1, 0.2, 0.3])
    before = _node_count(scene)
    with pytest.raises(ValueError, match="contains no voxel"):
        mrml_qa.compare_regions(scene, [volume], segmentation, [ids["air"]], [far])
    with pytest.raises(ValueError, match="empty"):
        mrml_qa.compare_regions(scene, [volume], segmentation, [ids["air"], empty_id])
    with pytest.raises(ValueError, match="air region"):
        mrml_qa.compare_regions(scene, [volume], segmentation, [ids["blood"]])
    with pytest.raises(ValueError, match="repeated acquisition"):
        mrml_qa.compare_regions(scene, [volume], segmentation, [ids["remote"]], noise_method="difference",
                                remote_region="remote")
    assert _node_count(scene) == before


def test_lge_segmentation_adds_segment_and_tables(slicer_env):
    scene = slicer_env.scene
    phantom = make_lge_ring_phantom((4, 100, 100), (1.0, 1.0, 8.0), 0.2, 20.0, np.random.default_rng(0))
    volume, segmentation, ids = add_phantom_nodes(scene, phantom)
    myocardium_before = segmentation.GetSegmentation().GetSegment(ids["myocardium"]).GetRepresentation("Binary labelmap")
    outputs = mrml_qa.lge_segmentation(scene, volume, segmentation, ids["myocardium"], remote_segment_id=ids["remote"])
    result = outputs.results["lge"]
    assert abs(result.lge_percent_of_lv - phantom.scar_percent_truth) <= 1.0
    assert segmentation.GetSegmentation().GetSegment(outputs.results["segment_id"]).GetName() == "LGE"
    assert segmentation.GetSegmentation().GetSegment(ids["myocardium"]).GetRepresentation("Binary labelmap") is myocardium_before
    assert outputs.tables["per_slice"].GetNumberOfRows() == 4
    assert outputs.tables["lge"].GetNumberOfRows() == 1


def test_lge_bad_input_leaves_segmentation_and_scene_unchanged(slicer_env):
    scene = slicer_env.scene
    phantom = make_lge_ring_phantom((2, 100, 100), (1.0, 1.0, 8.0), 0.2, 20.0, np.random.default_rng(0))
    volume, segmentation, ids = add_phantom_nodes(scene, phantom)
    empty_id = segmentation.GetSegmentation().AddEmptySegment("", "empty myocardium", [0.1, 0.2, 0.3])
    segments = segmentation.GetSegmentation().GetNumberOfSegments()
    before = _node_count(scene)
    with pytest.raises(ValueError, match="No myocardium"):
        mrml_qa.lge_segmentation(scene, volume, segmentation, "")
    with pytest.raises(ValueError):
        mrml_qa.lge_segmentation(scene, volume, segmentation, empty_id)
    # A "remote" reference placed in the bright scar is rejected.
    scar_id = add_lge_segment(segmentation, phantom.scar_mask_truth, volume, name="scar truth")
    segments = segmentation.GetSegmentation().GetNumberOfSegments()
    with pytest.raises(ValueError, match="inside the LGE"):
        mrml_qa.lge_segmentation(scene, volume, segmentation, ids["myocardium"], remote_segment_id=scar_id)
    assert segmentation.GetSegmentation().GetNumberOfSegments() == segments
    assert _node_count(scene) == before


def test_resolution_check_on_simulated_markers(slicer_env, pair):
    scene = slicer_env.scene
    nodes = _pair_nodes(scene, pair)
    verdicts = {}
    for name, group in pair["marker_groups"].items():
        line = add_line_node(scene, f"bars {name}", *pair["marker_lines_ras"][name])
        outputs = mrml_qa.resolution_check(scene, nodes, line, group["count"], group["pitch_mm"])
        assert outputs.tables["resolution"].GetNumberOfRows() == 2 and outputs.chart is not None
        verdicts[name] = {row["volume"]: bool(row["resolved"]) for row in outputs.rows}
    # 2 mm bars (4 mm pitch) resolved at both resolutions; 1 mm bars (2 mm pitch) only at 0.625 mm.
    assert verdicts["2mm"] == {"NR": True, "HR": True}
    assert verdicts["1mm"] == {"NR": False, "HR": True}


def test_edge_mtf_in_the_module_equals_the_cli_report(slicer_env):
    """The module's MTF section (mrml_qa.edge_mtf) runs the same family as `cardiac-lge qa --mtf-roi`."""
    from LGEResolutionQALib.io.definitions import RegionDefinition, StudyVolume
    from LGEResolutionQALib.study.report import StudyDefinition, study_report
    from scipy.special import erf

    scene = slicer_env.scene
    pixel, sigma_mm, n = 0.5, 1.0, 120
    rows, cols = np.mgrid[0:n, 0:n]
    theta = np.deg2rad(6.0)
    distance = (cols * pixel - n * pixel / 2) * np.cos(theta) - (rows * pixel - n * pixel / 2) * np.sin(theta)
    image = (100 + 800 * 0.5 * (1 + erf(distance / (sigma_mm * np.sqrt(2)))))[None].astype(np.float32)
    matrix = np.diag([pixel, pixel, 4.0, 1.0])
    node = add_volume_from_array(scene, image, matrix, "E")
    roi = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "edge box")
    centre = (matrix @ [60.0, 60.0, 0.0, 1.0])[:3]
    roi.SetCenter(*centre)
    roi.SetSize(30.0, 30.0, 4.0)
    before = _node_count(scene)
    outputs = mrml_qa.edge_mtf(scene, [node], roi)
    result = outputs.results["mtf"]["E"]
    assert result.mtf50_per_mm == pytest.approx(np.sqrt(np.log(2) / 2) / (np.pi * sigma_mm), rel=0.1)
    assert outputs.tables["mtf"].GetNumberOfRows() == 1 and outputs.chart is not None
    assert outputs.tables["mtf"].GetColumnUnitLabel("mtf50_lp_per_mm") == "lp/mm"
    region = RegionDefinition("edge box", center_ras=tuple(centre), size_mm=(30.0, 30.0, 4.0))
    report = study_report([StudyVolume("E", image, matrix)], StudyDefinition(mtf_rois={"edge box": region}))
    assert report.mtf["edge box"]["E"].mtf50_per_mm == pytest.approx(result.mtf50_per_mm, rel=1e-9)
    with pytest.raises(ValueError, match="markups ROI"):
        mrml_qa.edge_mtf(scene, [node], None)
    assert _node_count(scene) == before + 4  # metrics table, curve table, chart, one series; the bad call added none
