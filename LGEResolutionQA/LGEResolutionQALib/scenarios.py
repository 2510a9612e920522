"""Self-test scenarios shared by the Slicer module's Test class and the pytest suite (slicer-core).

``run_lge_phantom_scenario`` builds a synthetic short-axis LGE stack (``phantom.make_lge_ring_phantom``:
LV myocardial ring, transmural scar of known volume, Rician noise of known σ) in a real scene — a
volume node and a segmentation with "myocardium", "remote", "blood" and "air" segments, written
through the same adapter as any user segmentation — then runs the widget's adapter path
(``mrml_qa.lge_segmentation`` and ``mrml_qa.compare_regions``) and returns the numbers with their
truth. Acceptance (issue 5): LGE % of LV within ``SCAR_PERCENT_TOLERANCE`` points of the truth
(5-SD, SNR ≥ 10) and SNR within ``SNR_RELATIVE_TOLERANCE`` of the truth.

``run_septum_comparison_scenario`` renders the simulated septum at HR (0.625 mm) and NR (1.5 mm)
(``phantom.make_septum_pair``), adds a markups line across the septum and runs ``compare_profiles``
(compare-volumes mode): the expected outcome is a sharper (shorter 20–80%) edge at HR.
"""

from __future__ import annotations

import numpy as np

#: Acceptance of the self-test (issue 5 targets).
SCAR_PERCENT_TOLERANCE = 1.0
SNR_RELATIVE_TOLERANCE = 0.05
#: Phantom settings (documented in the README): 8 slices of 100 x 100 voxels of 1 x 1 x 8 mm,
#: transmural scar = 20% of the myocardium, SNR of scar = 20 (σ = 0.05, blood SNR 14).
PHANTOM_SETTINGS = {"shape_kji": (8, 100, 100), "spacing_mm": (1.0, 1.0, 8.0), "scar_fraction": 0.20, "snr": 20.0}


def add_phantom_nodes(scene, phantom, name: str = "LGE phantom"):
    """Volume node + segmentation node (myocardium, remote, blood, air) of an ``LGEPhantom``."""
    from CardiacLGECommonLib.mrml.volumes import add_volume_from_array

    from LGEResolutionQALib.mrml.segments import add_lge_segment

    volume = add_volume_from_array(scene, phantom.image, phantom.ijk_to_ras, name)
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", scene.GenerateUniqueName(f"{name} segments"))
    segmentation.CreateDefaultDisplayNodes()
    segmentation.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    ids = {}
    for segment_name, mask, colour in (("myocardium", phantom.myocardium_mask, (0.8, 0.3, 0.3)),
                                       ("remote", phantom.remote_mask, (0.2, 0.5, 0.9)),
                                       ("blood", phantom.blood_mask, (0.9, 0.1, 0.1)),
                                       ("air", phantom.air_mask, (0.5, 0.5, 0.5))):
        ids[segment_name] = add_lge_segment(segmentation, mask, volume, name=segment_name, color=colour)
    return volume, segmentation, ids


def run_lge_phantom_scenario(scene, seed: int = 0, n_sd: float = 5.0, **overrides) -> dict:
    """Build the ring phantom in ``scene`` and run the module's LGE and SNR paths; returns numbers.

    An anterior RV insertion point is placed, so the AHA segment table and the bullseye image are made too.
    Keys: scar_percent_truth, scar_percent, scar_percent_error, lge_ml, lge_ml_truth, myocardium_ml,
    sigma_true, sigma_estimate, noise_method, snr_blood_truth, snr_blood, snr_relative_error,
    cnr_lge_remote (scar region = the LGE segment found), table / segment IDs, aha_segment_rows,
    bullseye_node_id, remote_segment_id, node counts.
    """
    from LGEResolutionQALib.mrml import qa as mrml_qa
    from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom

    settings = {**PHANTOM_SETTINGS, **overrides}
    phantom = make_lge_ring_phantom(settings["shape_kji"], settings["spacing_mm"], settings["scar_fraction"],
                                    settings["snr"], np.random.default_rng(seed))
    volume, segmentation, ids = add_phantom_nodes(scene, phantom)
    # the anterior RV insertion: 30 mm from the LV centre, towards the patient's right-anterior
    centre = phantom.ijk_to_ras @ np.array([(phantom.image.shape[2] - 1) / 2.0, (phantom.image.shape[1] - 1) / 2.0, 0, 1])
    rv_point = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", scene.GenerateUniqueName("RV insertion"))
    rv_point.AddControlPoint(float(centre[0] + 15.0), float(centre[1] + 26.0), float(centre[2]))
    lge = mrml_qa.lge_segmentation(scene, volume, segmentation, ids["myocardium"], remote_segment_id=ids["remote"],
                                   method="nsd", n_sd=n_sd, rv_insertion_node=rv_point)
    result = lge.results["lge"]
    regions = mrml_qa.compare_regions(
        scene, [volume], segmentation, [ids["blood"], ids["remote"], ids["air"], lge.results["segment_id"]],
        noise_method="background", noise_region="air", n_channels=1, lge_region="LGE", remote_region="remote",
        blood_region="blood")
    analysis = regions.results[volume.GetName()]
    blood_level = phantom.levels["blood"]
    snr_truth = blood_level / phantom.sigma_true
    snr_blood = analysis.snr["blood"].snr
    return {
        "scar_percent_truth": phantom.scar_percent_truth,
        "scar_percent": result.lge_percent_of_lv,
        "scar_percent_error": result.lge_percent_of_lv - phantom.scar_percent_truth,
        "lge_ml": result.lge_ml,
        "lge_ml_truth": phantom.scar_ml_truth,
        "myocardium_ml": result.myocardium_ml,
        "lge_method": result.method,
        "sigma_true": phantom.sigma_true,
        "sigma_estimate": analysis.noise.sigma,
        "noise_method": analysis.noise.method,
        "snr_blood_truth": snr_truth,
        "snr_blood": snr_blood,
        "snr_relative_error": snr_blood / snr_truth - 1.0,
        "cnr_lge_remote": analysis.cnr["lge-remote"].cnr,
        "cnr_lge_remote_truth": (phantom.levels["scar"] - phantom.levels["remote"]) / phantom.sigma_true,
        "lge_table_rows": int(lge.tables["per_slice"].GetNumberOfRows()),
        "aha_segment_rows": int(lge.tables["segments"].GetNumberOfRows()),
        "bullseye_node_id": lge.results["bullseye_node"].GetID(),
        "remote_segment_id": lge.results["remote_segment_id"],
        "n_slices": int(phantom.image.shape[0]),
        "region_table_rows": int(regions.table.GetNumberOfRows()),
        "volume_node_id": volume.GetID(),
        "segmentation_node_id": segmentation.GetID(),
        "lge_segment_id": lge.results["segment_id"],
        "lge_table_node_id": lge.tables["lge"].GetID(),
        "region_table_node_id": regions.table.GetID(),
        "summary": (f"LGE {result.lge_percent_of_lv:.2f}% of LV (truth {phantom.scar_percent_truth:.2f}%), "
                    f"blood SNR {snr_blood:.2f} (truth {snr_truth:.2f}), σ {analysis.noise.sigma:.4f} "
                    f"(truth {phantom.sigma_true:.4f}, {analysis.noise.method})"),
    }


def add_line_node(scene, name: str, start_ras, end_ras):
    """A markups line node with two control points at ``start_ras`` and ``end_ras`` (RAS mm)."""
    import vtk

    line = scene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", scene.GenerateUniqueName(name))
    line.AddControlPoint(vtk.vtkVector3d(*map(float, start_ras)))
    line.AddControlPoint(vtk.vtkVector3d(*map(float, end_ras)))
    return line


def run_septum_comparison_scenario(scene, seed: int = 0, interpolation: str = "linear") -> dict:
    """HR vs NR simulated septum, one line, compare-volumes mode; returns the per-volume metric rows."""
    from CardiacLGECommonLib.mrml.volumes import add_volume_from_array

    from LGEResolutionQALib.mrml import qa as mrml_qa
    from LGEResolutionQALib.sim.phantom import make_septum_pair

    pair = make_septum_pair(np.random.default_rng(seed))
    nodes = [add_volume_from_array(scene, pair[key].image, pair[key].ijk_to_ras, f"{key.upper()} septum")
             for key in ("nr", "hr")]
    line = add_line_node(scene, "septum", *pair["septum_line_ras"])
    outputs = mrml_qa.compare_profiles(scene, nodes, line, step_mm=0.1, interpolation=interpolation)
    return {
        "rows": {row["volume"]: row for row in outputs.rows},
        "septum_thickness_truth_mm": pair["septum_thickness_mm"],
        "chart_node_id": outputs.chart.GetID() if outputs.chart is not None else None,
        "profile_table_node_id": outputs.tables["profiles"].GetID(),
        "metrics_table_node_id": outputs.tables["metrics"].GetID(),
        "volume_names": [node.GetName() for node in nodes],
    }
