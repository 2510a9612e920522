"""MRML adapter: the whole TINullCorrection run on scene nodes (what the module's Logic calls).

input node (sequence / browser / multi-volume) -> TIScout -> optional ROI mask -> CNN prediction ->
recommendation (with the inversion-recovery fit of the ROI or, without one, of the automatically found
myocardium) -> table, plot chart and text nodes, and the automatic myocardium as a segmentation node so
that the user can check what the fit used. Everything that can fail on the user's input is
checked before the scene is touched; the writers roll back the nodes they created if they fail, so a
bad input leaves the scene as it was. ``torch`` is imported only when a model is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import slicer

from TINullCorrectionLib.core import presentation
from TINullCorrectionLib.core.types import ScoutError, ScoutPrediction, TIScout
from TINullCorrectionLib.mrml import results as mrml_results
from TINullCorrectionLib.mrml import roi as mrml_roi
from TINullCorrectionLib.mrml import sequence as mrml_sequence


class AnalysisCancelled(RuntimeError):
    """Raised from the progress callback when the user cancels; nothing is written."""


@dataclass(frozen=True)
class TIAnalysis:
    """Result of one analysed TI scout slice (core objects only; no nodes)."""

    scout: TIScout
    prediction: ScoutPrediction
    recommendation: object
    settings: object
    mask: np.ndarray | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def optimal_range_ms(self) -> tuple[float, float]:
        return presentation.optimal_range_of(self.settings)

    @property
    def final(self):
        return self.recommendation.final

    @property
    def null_ti_ms(self) -> float:
        return float(self.recommendation.final.null_ti_ms)

    @property
    def recommended_lge_ti_ms(self) -> float:
        return float(self.recommendation.final.recommended_lge_ti_ms)

    def null_frame_index(self) -> int:
        """Frame whose TI is closest to the estimated null."""
        return int(np.argmin(np.abs(np.asarray(self.scout.ti_ms) - self.null_ti_ms)))


@dataclass(frozen=True)
class TIOutputNodes:
    table_node: slicer.vtkMRMLTableNode
    chart_node: slicer.vtkMRMLPlotChartNode
    text_node: slicer.vtkMRMLTextNode
    #: the automatically found myocardium the IR fit used (None when a user ROI or no fit was used)
    myocardium_node: object = None


def make_settings(
    optimal_range_ms=presentation.DEFAULT_OPTIMAL_RANGE_MS,
    lge_offset_ms: float = 0.0,
    drift_ms_per_min: float = 0.0,
    minutes_since_scout: float = 0.0,
):
    """RecommendationSettings from the module's parameters (validated by the core)."""
    from TINullCorrectionLib.core.recommendation import RecommendationSettings

    low, high = (float(v) for v in optimal_range_ms)
    if not low <= high:
        raise ValueError(f"Optimal range: minimum {low} ms must not exceed maximum {high} ms.")
    return RecommendationSettings(
        optimal_range_ms=(low, high),
        lge_offset_ms=float(lge_offset_ms),
        drift_ms_per_min=float(drift_ms_per_min),
        minutes_since_scout=float(minutes_since_scout),
    )


def load_model_checked(path=None):
    """Load the CNN (default weights when ``path`` is empty); ScoutError-like ValueError if unusable."""
    from TINullCorrectionLib.networks.ti_offset import load_model

    text = str(path).strip() if path is not None else ""
    if text in ("", "."):
        return load_model(None)
    return load_model(text)


def load_myocardium_model_checked(path=None):
    """Load the myocardium U-Net (default weights when ``path`` is empty); ValueError if unusable."""
    from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model

    text = str(path).strip() if path is not None else ""
    return load_segmentation_model(None if text in ("", ".") else text)


def analyse_scout(
    scout: TIScout,
    model,
    settings,
    mask=None,
    chosen_ti_ms: float | None = None,
    progress: Callable[[int, int], object] | None = None,
    myocardium_model=None,
) -> TIAnalysis:
    """Predict per-frame offsets and build the recommendation for one scout (no scene access).

    progress(done, total) is called during inference; raise AnalysisCancelled from it to stop.
    """
    from TINullCorrectionLib.core.recommendation import recommend

    if model is None:
        raise ValueError("No model loaded: select a model file or use the default model.")
    prediction = model.predict(scout, progress=progress) if progress is not None else model.predict(scout)
    recommendation = recommend(
        scout, prediction, settings, myocardium_mask=mask, chosen_ti_ms=None if chosen_ti_ms is None else float(chosen_ti_ms),
        myocardium_model=myocardium_model if mask is None else None,
    )
    return TIAnalysis(scout=scout, prediction=prediction, recommendation=recommendation, settings=settings, mask=mask)


def write_analysis_nodes(
    scene: slicer.vtkMRMLScene,
    analysis: TIAnalysis,
    base_name: str = "TI scout",
    table_node=None,
    chart_node=None,
    text_node=None,
    myocardium_node=None,
) -> TIOutputNodes:
    """Write (or update) the prediction table, the offset plot, the recommendation text and, when the fit
    used the automatically found myocardium, that myocardium as a segmentation node (replacing
    ``myocardium_node``'s content when given)."""
    before = mrml_sequence.scene_node_ids(scene)
    try:
        table = mrml_results.write_prediction_table(
            scene, analysis.prediction, f"{base_name} predictions", analysis.optimal_range_ms, table_node=table_node,
            null_ti_ms=analysis.null_ti_ms,
        )
        chart = mrml_results.write_prediction_plot(scene, table, f"{base_name} offsets", chart_node=chart_node)
        text = mrml_results.write_recommendation_text(
            scene, analysis.recommendation, f"{base_name} recommendation", scout=analysis.scout, text_node=text_node
        )
        for node in (table, chart, text):
            node.SetAttribute("TINullCorrection.NullTI_ms", f"{analysis.null_ti_ms:.1f}")
        automatic = None
        recommendation = analysis.recommendation
        if getattr(recommendation, "myocardium_source", "") == "automatic myocardium":
            if myocardium_node is not None and myocardium_node.GetScene() is scene:
                for index in reversed(range(myocardium_node.GetNumberOfDisplayNodes())):
                    scene.RemoveNode(myocardium_node.GetNthDisplayNode(index))
                scene.RemoveNode(myocardium_node)
            automatic = mrml_roi.segmentation_from_mask(
                scene, analysis.scout, recommendation.myocardium_mask, f"{base_name} automatic myocardium", "myocardium (automatic)"
            )
            automatic.SetAttribute("TINullCorrection.NullTI_ms", f"{analysis.null_ti_ms:.1f}")
    except Exception:
        mrml_sequence.remove_nodes_added_since(scene, before)
        raise
    return TIOutputNodes(table, chart, text, automatic)


def analyse_ti_scout_node(
    scene: slicer.vtkMRMLScene,
    input_node,
    model,
    settings,
    roi_node=None,
    segment_id: str | None = None,
    chosen_ti_ms: float | None = None,
    slice_index: int | None = None,
    progress: Callable[[int, int], object] | None = None,
    table_node=None,
    chart_node=None,
    text_node=None,
    scout: TIScout | None = None,
    myocardium_model=None,
    myocardium_node=None,
) -> tuple[TIAnalysis, TIOutputNodes]:
    """Full run on scene nodes. Raises ScoutError/ValueError with a user-facing message on bad input
    (the scene is then unchanged) and AnalysisCancelled if ``progress`` cancels.

    scout: the scout already read from ``input_node`` (the caller validated it), else it is read here.
    """
    if scout is None:
        scout = mrml_sequence.scout_from_node(input_node, slice_index)
    mask = mrml_roi.mask_from_roi_for_scout(scout, roi_node, segment_id) if roi_node is not None else None
    if chosen_ti_ms is not None and not np.isfinite(chosen_ti_ms):
        raise ScoutError("The chosen TI must be a number of milliseconds.")
    analysis = analyse_scout(scout, model, settings, mask=mask, chosen_ti_ms=chosen_ti_ms, progress=progress,
                             myocardium_model=myocardium_model)
    base_name = input_node.GetName() if input_node is not None else "TI scout"
    outputs = write_analysis_nodes(scene, analysis, base_name, table_node, chart_node, text_node, myocardium_node)
    return analysis, outputs
