"""The LGEResolutionQA self-test scenarios under slicer-core (the same functions the module's Test class
runs inside Slicer): scar % within 1 point, SNR within 5%, NR vs HR profiles in one table and plot."""

from __future__ import annotations

import pytest
from LGEResolutionQALib import scenarios


@pytest.mark.parametrize("seed", [0, 1])
def test_lge_phantom_scenario_meets_the_targets(slicer_env, seed):
    result = scenarios.run_lge_phantom_scenario(slicer_env.scene, seed=seed)
    assert abs(result["scar_percent_error"]) <= scenarios.SCAR_PERCENT_TOLERANCE, result["summary"]
    assert abs(result["snr_relative_error"]) <= scenarios.SNR_RELATIVE_TOLERANCE, result["summary"]
    assert result["lge_table_rows"] == result["n_slices"]
    assert result["aha_segment_rows"] == 17
    assert slicer_env.scene.GetNodeByID(result["bullseye_node_id"]).IsA("vtkMRMLVectorVolumeNode")
    assert result["noise_method"] == "background-rayleigh-1ch"
    assert result["lge_method"] == "nsd-5"
    assert result["cnr_lge_remote"] == pytest.approx(result["cnr_lge_remote_truth"], rel=0.1)
    scene = slicer_env.scene
    segmentation = scene.GetNodeByID(result["segmentation_node_id"])
    assert segmentation.GetSegmentation().GetSegment(result["lge_segment_id"]).GetName() == "LGE"


def test_septum_comparison_scenario(slicer_env):
    result = scenarios.run_septum_comparison_scenario(slicer_env.scene, seed=0)
    rows = result["rows"]
    assert set(rows) == set(result["volume_names"]) == {"NR septum", "HR septum"}
    assert rows["HR septum"]["mean_rise_20_80_mm"] < rows["NR septum"]["mean_rise_20_80_mm"]
    for row in rows.values():
        assert row["septal_thickness_fwhm_mm"] == pytest.approx(result["septum_thickness_truth_mm"], abs=0.75)
    chart = slicer_env.scene.GetNodeByID(result["chart_node_id"])
    assert chart.GetNumberOfPlotSeriesNodes() == 2
