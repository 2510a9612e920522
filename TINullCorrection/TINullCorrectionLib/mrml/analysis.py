"""MRML adapter: the TINullCorrection run on scene nodes (what the module's Logic calls).

input node(s) (sequence / browser / multi-volume; one slice, or every slice of the scout) -> TIScout(s) ->
optional ROI mask -> the TI pipeline (core.pipeline: CNN + recommendation with the inversion-recovery fit,
and for several slices their combination) -> table, plot chart and text nodes, and the automatic
myocardium as a segmentation node so that the user can check what the fit used.

This module only converts nodes and writes results; every computation is the core pipeline's. Everything
that can fail on the user's input is checked before the scene is touched, all results are computed before
the first node is written, and the writes are one :class:`SceneChange`: a failure at any write removes what
was added and restores the outputs that were being updated, so the scene keeps its earlier results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import slicer
from CardiacLGECommonLib.mrml.scene_changes import SceneChange

from TINullCorrectionLib.core import presentation
from TINullCorrectionLib.core.pipeline import AnalysisCancelled, analyse_study
from TINullCorrectionLib.core.results import ScoutResult, StudyResult
from TINullCorrectionLib.core.types import DEFAULT_OPTIMAL_RANGE_MS, ScoutError, TIScout
from TINullCorrectionLib.mrml import results as mrml_results
from TINullCorrectionLib.mrml import roi as mrml_roi
from TINullCorrectionLib.mrml import sequence as mrml_sequence

__all__ = ["AnalysisCancelled", "TIOutputNodes", "analyse_ti_scout_node", "analyse_ti_scout_slices", "make_settings",
           "load_model_checked", "load_myocardium_model_checked", "write_study_nodes"]

NULL_ATTRIBUTE = "TINullCorrection.NullTI_ms"


@dataclass(frozen=True)
class SliceOutputNodes:
    """The nodes written for one analysed slice."""

    table_node: slicer.vtkMRMLTableNode
    chart_node: slicer.vtkMRMLPlotChartNode
    #: the automatically found myocardium the IR fit used (None when a user ROI or no fit was used)
    myocardium_node: object = None


@dataclass(frozen=True)
class TIOutputNodes:
    """The nodes of one run: per slice (in the order analysed) and the report text node."""

    slices: tuple[SliceOutputNodes, ...]
    text_node: slicer.vtkMRMLTextNode
    #: index into ``slices`` of the slice the user selected (its table drives the overlay)
    selected: int = 0

    @property
    def table_node(self):
        return self.slices[self.selected].table_node

    @property
    def chart_node(self):
        return self.slices[self.selected].chart_node

    @property
    def myocardium_node(self):
        return self.slices[self.selected].myocardium_node


def make_settings(
    optimal_range_ms=DEFAULT_OPTIMAL_RANGE_MS,
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


def _checked_path(path) -> str | None:
    text = str(path).strip() if path is not None else ""
    return None if text in ("", ".") else text


def load_model_checked(path=None):
    """Load the CNN (default weights when ``path`` is empty); ModelLoadError (a ValueError) if unusable."""
    from TINullCorrectionLib.networks.ti_offset import load_model

    return load_model(_checked_path(path))


def load_myocardium_model_checked(path=None):
    """Load the myocardium U-Net (default weights when ``path`` is empty); ValueError if unusable."""
    from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model

    return load_segmentation_model(_checked_path(path))


def _write_slice(scene, change: SceneChange, result: ScoutResult, scout: TIScout, base_name: str,
                 table_node=None, chart_node=None, myocardium_node=None) -> SliceOutputNodes:
    for node in (table_node, chart_node):
        change.will_modify(node)
    table = mrml_results.write_prediction_table(
        scene, result.prediction, f"{base_name} predictions", result.optimal_range_ms, table_node=table_node, null_ti_ms=result.null_ti_ms
    )
    chart = mrml_results.write_prediction_plot(scene, table, f"{base_name} offsets", chart_node=chart_node)
    for node in (table, chart):
        node.SetAttribute(NULL_ATTRIBUTE, f"{result.null_ti_ms:.1f}")
    automatic = None
    recommendation = result.recommendation
    if recommendation.myocardium_source == "automatic myocardium":
        automatic = mrml_roi.segmentation_from_mask(
            scene, scout, recommendation.myocardium_mask, f"{base_name} automatic myocardium", "myocardium (automatic)"
        )
        automatic.SetAttribute(NULL_ATTRIBUTE, f"{result.null_ti_ms:.1f}")
        if myocardium_node is not None and myocardium_node.GetScene() is scene:
            change.remove_later(myocardium_node)  # replaced only once everything is written
    return SliceOutputNodes(table, chart, automatic)


def write_study_nodes(
    scene: slicer.vtkMRMLScene,
    study: StudyResult,
    scouts: Sequence[TIScout],
    base_names: Sequence[str],
    selected: int = 0,
    table_node=None,
    chart_node=None,
    text_node=None,
    myocardium_node=None,
) -> TIOutputNodes:
    """Write (or update) every slice's prediction table and offset plot, the report text (the same text the
    CLI prints) and the automatic myocardium segmentations. The selected slice updates the given output
    nodes (re-running overwrites the previous results); other slices get new nodes. All or nothing."""
    results = study.slices
    if len(results) != len(scouts) or len(base_names) != len(scouts):
        raise ValueError("write_study_nodes needs one scout and one name per analysed slice.")
    with SceneChange(scene) as change:
        outputs = []
        for index, (result, scout, base_name) in enumerate(zip(results, scouts, base_names)):
            mine = index == selected
            outputs.append(_write_slice(scene, change, result, scout, base_name,
                                        table_node if mine else None, chart_node if mine else None,
                                        myocardium_node if mine else None))
        change.will_modify(text_node)
        text = mrml_results.write_report_text(scene, presentation.study_report_text(study, frames=False),
                                              f"{base_names[selected]} recommendation", text_node=text_node)
        text.SetAttribute(NULL_ATTRIBUTE, f"{results[selected].null_ti_ms:.1f}")
    return TIOutputNodes(tuple(outputs), text, selected)


@dataclass(frozen=True)
class RunInputs:
    """The slices one run of the module analyses (read from the nodes, validated) and where to show results."""

    scouts: tuple[TIScout, ...]
    names: tuple[str, ...]
    selected: int
    browser_node: object


def inputs_for_run(scene: slicer.vtkMRMLScene, input_node, slice_index: int | None = None, all_slices: bool = False) -> RunInputs:
    """Read the selected slice, or with ``all_slices`` every slice of the selected scout
    (sequence.slices_of_scout), into TIScouts; ScoutError on bad input before anything is computed."""
    resolved = mrml_sequence.resolve_input_node(scene, input_node)
    index = slice_index if resolved.n_slices > 1 else None
    if all_slices:
        slices, selected = mrml_sequence.slices_of_scout(scene, resolved, index)
    else:
        slices = [mrml_sequence.ScoutSlice(resolved.node, index, resolved.node.GetName())]
        selected = 0
    scouts = []
    for item in slices:
        scout = mrml_sequence.scout_from_node(item.node, item.slice_index)
        if item.slice_index is not None:
            # the slices of one multi-slice node are one acquisition, whatever its attributes say
            scout = replace(scout, slice_label=scout.slice_label if resolved.n_slices <= 1 else f"slice {item.slice_index}",
                            scout_key=scout.scout_key or f"node {resolved.node.GetID()}")
        scouts.append(scout)
    return RunInputs(tuple(scouts), tuple(s.name for s in slices), selected, resolved.browser_node)


def _mask_for(scout: TIScout, roi_node, segment_id):
    return mrml_roi.mask_from_roi_for_scout(scout, roi_node, segment_id) if roi_node is not None else None


def analyse_ti_scout_slices(
    scene: slicer.vtkMRMLScene,
    scouts: Sequence[TIScout],
    base_names: Sequence[str],
    model,
    settings,
    selected: int = 0,
    roi_node=None,
    segment_id: str | None = None,
    chosen_ti_ms: float | None = None,
    progress: Callable[[int, int], object] | None = None,
    table_node=None,
    chart_node=None,
    text_node=None,
    myocardium_model=None,
    myocardium_node=None,
) -> tuple[StudyResult, TIOutputNodes]:
    """Several slices (of one or several scouts) through the pipeline; slices of one scout are combined.

    The ROI (when given) must cover every slice. Raises ScoutError/ValueError with a user-facing message on
    bad input (the scene is then unchanged) and AnalysisCancelled if ``progress`` cancels.
    """
    if chosen_ti_ms is not None and not np.isfinite(chosen_ti_ms):
        raise ScoutError("The chosen TI must be a number of milliseconds.")
    if not scouts:
        raise ScoutError("No TI scout slice to analyse.")
    masks = [_mask_for(scout, roi_node, segment_id) for scout in scouts]
    study = analyse_study(scouts, model, settings, myocardium_masks=masks, myocardium_model=myocardium_model,
                          chosen_ti_ms=chosen_ti_ms, progress=progress)
    outputs = write_study_nodes(scene, study, scouts, base_names, selected, table_node, chart_node, text_node, myocardium_node)
    return study, outputs


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
) -> tuple[ScoutResult, TIOutputNodes]:
    """One slice of ``input_node`` through the pipeline. Raises ScoutError/ValueError with a user-facing
    message on bad input (the scene is then unchanged) and AnalysisCancelled if ``progress`` cancels.

    scout: the scout already read from ``input_node`` (the caller validated it), else it is read here.
    """
    if scout is None:
        scout = mrml_sequence.scout_from_node(input_node, slice_index)
    base_name = input_node.GetName() if input_node is not None else "TI scout"
    study, outputs = analyse_ti_scout_slices(
        scene, [scout], [base_name], model, settings, 0, roi_node, segment_id, chosen_ti_ms, progress,
        table_node, chart_node, text_node, myocardium_model, myocardium_node,
    )
    return study.slices[0], outputs
