"""Self-test scenario shared by the Slicer module's Test class and the pytest suite (slicer-core).

``run_simulated_scout_scenario`` simulates a TI scout with a known myocardial null (the project's
physics simulator), loads it as a TI-indexed sequence, reads it back through the same path as any
user sequence, runs the CNN + recommendation with the simulator's myocardium as the ROI (physics
cross-check), writes the table / plot / text nodes and returns the numbers to assert on.
``simulate_known_null_scout`` is core only (the CLI figure uses it without Slicer); the MRML
adapters are imported inside ``run_simulated_scout_scenario``.
"""

from __future__ import annotations

import time

import numpy as np

from TINullCorrectionLib.core import presentation

#: Acceptance of the self-test (issue): estimated null within this many ms of the simulator's truth.
NULL_TOLERANCE_MS = 15.0
#: A typical magnitude scout at 1.5 T (matrix 128, 20 frames 40 ms apart from 100 ms, SNR 30); anatomy,
#: null position, scar and artefacts are drawn from the seed.
SCENARIO_OVERRIDES = {
    "matrix": 128,
    "n_frames": 20,
    "first_ti_ms": 100.0,
    "ti_step_ms": 40.0,
    "field_strength_t": 1.5,
    "phase_sensitive": False,
    "snr": 30.0,
}


def simulate_known_null_scout(seed: int = 0, **overrides):
    """A simulated scout (SimulatedScout from the core simulator) with fixed, typical settings."""
    from TINullCorrectionLib.sim.simulator import simulate_scout

    options = dict(SCENARIO_OVERRIDES)
    options.update(overrides)
    return simulate_scout(np.random.default_rng(seed), **options)


def run_simulated_scout_scenario(
    scene,
    model_path=None,
    seed: int = 0,
    sequences_logic=None,
    use_roi: bool = True,
    model=None,
    myocardium_model=None,
) -> dict:
    """Run the whole module path on a simulated scout; returns a dict of numbers and node IDs.

    Keys: true_null_ti_ms, estimated_null_ti_ms, null_error_ms, cnn_null_ti_ms, ir_fit_null_ti_ms,
    recommended_lge_ti_ms, n_frames, table_rows, ti_ms, frame_overlay (text, colour of the null
    frame), warnings, seconds, myocardium_source, and the IDs of the sequence, browser, ROI, table, chart,
    text and automatic-myocardium nodes. ``use_roi=False`` with a ``myocardium_model`` runs the path a
    user without an ROI takes: the U-Net finds the myocardium and the IR fit cross-checks the CNN.
    """
    from TINullCorrectionLib.mrml import analysis as mrml_analysis  # MRML adapters: need slicer
    from TINullCorrectionLib.mrml import results as mrml_results
    from TINullCorrectionLib.mrml import roi as mrml_roi
    from TINullCorrectionLib.mrml import sequence as mrml_sequence

    start = time.perf_counter()
    simulated = simulate_known_null_scout(seed)
    true_null = float(simulated.null_ti_ms)
    nodes = mrml_sequence.sequence_from_scout(scene, simulated.scout, f"Simulated TI scout (seed {seed})", sequences_logic=sequences_logic)
    roi_node = None
    if use_roi:
        roi_node = mrml_roi.segmentation_from_mask(scene, simulated.scout, simulated.myocardium_mask, "Simulated myocardium")
    if model is None:
        model = mrml_analysis.load_model_checked(model_path)
    settings = mrml_analysis.make_settings()
    input_node = nodes.browser_node if nodes.browser_node is not None else nodes.sequence_node
    analysis, outputs = mrml_analysis.analyse_ti_scout_node(scene, input_node, model, settings, roi_node=roi_node,
                                                            myocardium_model=myocardium_model)
    # The sequence read back must equal the simulated scout (same path as any user sequence).
    np.testing.assert_allclose(analysis.ti_ms, simulated.scout.ti_ms)
    null_frame = analysis.null_frame_index()
    overlay_text, overlay_colour = presentation.frame_overlay_text(analysis.prediction, null_frame, analysis.optimal_range_ms,
                                                                   analysis.null_ti_ms)
    recommendation = analysis.recommendation
    cnn = recommendation.cnn
    ir_fit = recommendation.ir_fit
    return {
        "true_null_ti_ms": true_null,
        "estimated_null_ti_ms": analysis.null_ti_ms,
        "null_error_ms": analysis.null_ti_ms - true_null,
        "cnn_null_ti_ms": float(cnn.null_ti_ms) if cnn is not None else float("nan"),
        "ir_fit_null_ti_ms": float(ir_fit.null_ti_ms) if ir_fit is not None else float("nan"),
        "method": analysis.final.method,
        "recommended_lge_ti_ms": analysis.recommended_lge_ti_ms,
        "n_frames": int(simulated.scout.n_frames),
        "table_rows": int(outputs.table_node.GetNumberOfRows()),
        "ti_ms": list(analysis.ti_ms),
        "offset_ms": [float(o) for o in analysis.prediction.offset_ms],
        "in_optimal_range": [bool(v) for v in mrml_results.table_column(outputs.table_node, "in_optimal_range")],
        "null_frame_index": null_frame,
        "frame_overlay": (overlay_text, tuple(overlay_colour)),
        "summary": outputs.text_node.GetText(),
        "warnings": recommendation.warnings,
        "seconds": time.perf_counter() - start,
        "sequence_node_id": nodes.sequence_node.GetID(),
        "browser_node_id": nodes.browser_node.GetID() if nodes.browser_node is not None else "",
        "roi_node_id": roi_node.GetID() if roi_node is not None else "",
        "table_node_id": outputs.table_node.GetID(),
        "chart_node_id": outputs.chart_node.GetID(),
        "text_node_id": outputs.text_node.GetID(),
        "myocardium_source": getattr(recommendation, "myocardium_source", ""),
        "myocardium_node_id": outputs.myocardium_node.GetID() if outputs.myocardium_node is not None else "",
    }
