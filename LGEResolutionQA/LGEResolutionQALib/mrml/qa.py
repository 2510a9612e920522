"""MRML adapter that the LGEResolutionQA widget calls: nodes -> core inputs -> the registered metric families
(``metrics.registry``, the same ones the CLI report runs) -> tables, plot charts and the LGE segment.

Imports only ``slicer``, ``vtk``, ``numpy`` and the project's lower layers; every function takes the scene and
the nodes, so it runs under the ``slicer-core`` wheel in pytest as well as in Slicer.

* ``compare_profiles``: one markups line on N volumes ("compare volumes" mode: NR and HR of a study registered
  in RAS) -> profile table (distance + one intensity column per volume), one plot chart with every curve, and a
  metrics table (one row per volume) from every line family of that kind.
* ``resolution_check``: a line across a bar group on N volumes -> resolved / not table + profile plot.
* ``compare_regions``: every family of the "regions" panel section (ROI statistics, sigma by a named method,
  SNR of every region, CNR LGE-remote / LGE-blood, and any family registered there) on N volumes -> one table.
* ``lge_segmentation``: LGE and remote segments added to the user's segmentation (myocardium untouched),
  summary / per-slice / per-AHA-segment tables and the bullseye image.
* ``edge_mtf``: slanted-edge MTF in a markups ROI box on N volumes -> table + MTF plot.

Every input is checked and every number computed before the first node is created; the writes are one
``SceneChange`` (a failure removes what was added): a ValueError leaves the scene as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from CardiacLGECommonLib.mrml.scene_changes import SceneChange
from CardiacLGECommonLib.mrml.volumes import array_from_volume, ijk_to_world_matrix

from LGEResolutionQALib.core.aha_segments import SegmentLGE
from LGEResolutionQALib.core.lge_segmentation import DEFAULT_METHOD
from LGEResolutionQALib.io.definitions import LineDefinition, StudyVolume
from LGEResolutionQALib.metrics import registry
from LGEResolutionQALib.metrics.base import (
    AnalysisSettings,
    LGESettings,
    MTFTarget,
    NoiseSettings,
    RegionInputs,
    RegionRoles,
    resolve_noise_region,
)
from LGEResolutionQALib.mrml import lge as mrml_lge
from LGEResolutionQALib.mrml import lines as mrml_lines
from LGEResolutionQALib.mrml import segments as mrml_segments
from LGEResolutionQALib.study.report import run_family


@dataclass(eq=False)
class QAOutputs:
    """Nodes created by one analysis and the numbers behind them."""

    tables: dict = field(default_factory=dict)  # role -> vtkMRMLTableNode
    chart: object = None  # vtkMRMLPlotChartNode or None
    rows: list = field(default_factory=list)
    results: dict = field(default_factory=dict)
    #: volume -> family name -> the family's result (every registered family that ran)
    family_results: dict = field(default_factory=dict)

    @property
    def table(self):
        return next(iter(self.tables.values()), None)


def _check_volumes(volume_nodes) -> list:
    nodes = [node for node in (volume_nodes or []) if node is not None]
    if not nodes:
        raise ValueError("Select at least one input volume.")
    for node in nodes:
        if not node.IsA("vtkMRMLScalarVolumeNode") or node.GetImageData() is None:
            raise ValueError(f"'{node.GetName()}' is not a scalar volume with image data.")
    names = [node.GetName() for node in nodes]
    if len(set(names)) != len(names):
        raise ValueError(f"The selected volumes must have different names; got {names}.")
    return nodes


def _check_line(line_node):
    if line_node is None or not line_node.IsA("vtkMRMLMarkupsLineNode"):
        raise ValueError("Select a markups line (two control points).")
    if line_node.GetNumberOfDefinedControlPoints() < 2:
        raise ValueError(f"Line '{line_node.GetName()}' needs two placed control points.")
    return line_node


def study_volume_from_node(volume_node, repeat_node=None) -> StudyVolume:
    """A core ``StudyVolume`` (array + IJK->world RAS incl. parent transforms) from a volume node."""
    repeat = None
    if repeat_node is not None:
        repeat = array_from_volume(repeat_node)
        if not np.allclose(ijk_to_world_matrix(repeat_node), ijk_to_world_matrix(volume_node), atol=1e-4):
            raise ValueError(f"The repeated acquisition '{repeat_node.GetName()}' is not on the grid of "
                             f"'{volume_node.GetName()}': the NEMA difference needs the same geometry.")
    return StudyVolume(volume_node.GetName(), array_from_volume(volume_node), ijk_to_world_matrix(volume_node), repeat)


def line_from_node(line_node, kind: str, expected_bars=None, pitch_mm=None) -> LineDefinition:
    """The markups line in world RAS (its parent transforms applied) as a core LineDefinition."""
    start, end = mrml_lines.line_endpoints_world(_check_line(line_node))
    return LineDefinition(line_node.GetName(), tuple(start), tuple(end), kind, expected_bars, pitch_mm)


def _table_rows(results: dict) -> tuple[list[dict], dict]:
    """One table row per (volume, section, item) of the families' rows; units per column from the rows."""
    rows, units = [], {}
    for volume_name, family_results in results.items():
        grouped: dict[tuple, dict] = {}
        for result in family_results:
            for row in result.rows():
                entry = grouped.setdefault((row.section, row.item), {"volume": volume_name, "section": row.section,
                                                                     "item": row.item, "method": row.method})
                entry[row.metric] = row.value
                units[row.metric] = row.unit
        rows.extend(grouped.values())
    return rows, units


def _uniform(rows: list[dict]) -> list[dict]:
    """Rows with the union of keys (missing values empty), so they fit one table."""
    keys = list(dict.fromkeys(key for row in rows for key in row))
    return [{key: row.get(key, "") for key in keys} for row in rows]


def _run_line_families(nodes, line: LineDefinition, settings: AnalysisSettings) -> dict:
    results = {}
    families = [f for f in registry.families("line") if line.kind in f.LINE_KINDS]
    for node in nodes:
        volume = study_volume_from_node(node)
        results[node.GetName()] = [r for f in families if (r := run_family(f, volume, line, settings, f"Line '{line.name}'")) is not None]
    return results


def _line_outputs(scene, results: dict, line_node, base: str, role: str, title: str) -> QAOutputs:
    rows, units = _table_rows(results)
    profiles = {volume: next(r.profile for r in family_results) for volume, family_results in results.items()}
    with SceneChange(scene):
        metrics_table = mrml_lines.metrics_to_table(scene, _uniform(rows), base if role == "resolution" else f"{base} metrics", units)
        profile_table = mrml_lines.profiles_to_table(scene, profiles, f"{base} profiles" if role == "resolution" else base)
        chart = mrml_lines.profile_plot(scene, profile_table, title)
    tables = {role: metrics_table, "profiles": profile_table} if role == "resolution" else {"profiles": profile_table, "metrics": metrics_table}
    return QAOutputs(tables, chart, rows, {"profiles": profiles, "families": results})


# ----------------------------------------------------------------------------------------- profiles
def compare_profiles(scene, volume_nodes, line_node, step_mm: float = 0.1, interpolation: str = "linear",
                     kind: str = "septum", dark_band: bool = True, name: str | None = None) -> QAOutputs:
    """Sample ``line_node`` on every volume; the line families of ``kind`` (septum or edge); tables + one plot."""
    nodes = _check_volumes(volume_nodes)
    if kind not in ("septum", "edge"):
        raise ValueError(f"Profile kind must be 'septum' or 'edge'; got {kind!r}.")
    line = line_from_node(line_node, kind)
    settings = AnalysisSettings(step_mm=float(step_mm), interpolation=interpolation, dark_band=dark_band)
    results = _run_line_families(nodes, line, settings)
    return _line_outputs(scene, results, line_node, name or f"{line_node.GetName()} profiles", "profiles",
                         f"{line_node.GetName()}: {', '.join(results)}")


def resolution_check(scene, volume_nodes, line_node, expected_bars: int, pitch_mm: float,
                     modulation_threshold: float = 0.1, step_mm: float = 0.05, interpolation: str = "linear",
                     name: str | None = None) -> QAOutputs:
    """Is the bar group under ``line_node`` resolved on each volume? Table (one row per volume) + plot."""
    nodes = _check_volumes(volume_nodes)
    if int(expected_bars) != expected_bars or expected_bars < 2:
        raise ValueError(f"Expected number of bars must be an integer ≥ 2; got {expected_bars}.")
    if not (np.isfinite(pitch_mm) and pitch_mm > 0):
        raise ValueError(f"Bar pitch must be a positive number of mm; got {pitch_mm}.")
    line = line_from_node(line_node, "bars", int(expected_bars), float(pitch_mm))
    settings = AnalysisSettings(step_mm=float(step_mm), interpolation=interpolation, modulation_threshold=float(modulation_threshold))
    results = _run_line_families(nodes, line, settings)
    outputs = _line_outputs(scene, results, line_node, name or f"{line_node.GetName()} resolution", "resolution",
                            f"{line_node.GetName()}: {expected_bars} bars at {pitch_mm:g} mm")
    return outputs


# ------------------------------------------------------------------------------------------ regions
def region_masks(volume_node, segmentation_node=None, segment_ids=(), roi_nodes=()) -> dict:
    """name -> bool mask on ``volume_node``'s grid for the chosen segments and markups ROIs."""
    masks = {}
    for segment_id in segment_ids or ():
        name = segmentation_node.GetSegmentation().GetSegment(segment_id).GetName() if (
            segmentation_node is not None and segmentation_node.GetSegmentation().GetSegment(segment_id)) else segment_id
        masks[name] = mrml_segments.mask_from_segment(segmentation_node, segment_id, volume_node)
    for roi in roi_nodes or ():
        if roi is None:
            continue
        if roi.GetName() in masks:
            raise ValueError(f"Two regions are called '{roi.GetName()}'; rename one.")
        masks[roi.GetName()] = mrml_segments.mask_from_markups_roi(roi, volume_node)
    if not masks:
        raise ValueError("Select at least one region (segments of a segmentation, or markups ROIs).")
    return masks


def compare_regions(scene, volume_nodes, segmentation_node=None, segment_ids=(), roi_nodes=(),
                    noise_method: str = "background", noise_region: str | None = None, n_channels: int = 1,
                    lge_region: str | None = None, remote_region: str | None = None, blood_region: str | None = None,
                    repeat_volume_nodes: dict | None = None, name: str = "ROI SNR CNR") -> QAOutputs:
    """Every family of the "regions" section on every volume -> one table (rows: volume x result).

    Regions are named by their segment / ROI names; ``noise_region`` defaults to a region called
    background/air (any case; background method) or the remote region (metrics.base.resolve_noise_region,
    the rule the CLI uses). ``repeat_volume_nodes``: volume name -> repeated acquisition node (NEMA difference).
    """
    nodes = _check_volumes(volume_nodes)
    settings = AnalysisSettings(noise=NoiseSettings(method=noise_method, region=noise_region, n_channels=int(n_channels)))
    families = registry.families("regions", section="regions")
    analyses, results = {}, {}
    # Exporting segments may add helper nodes (e.g. a labelmap colour table): the change removes whatever a
    # failing call added.
    with SceneChange(scene):
        for node in nodes:
            masks = region_masks(node, segmentation_node, segment_ids, roi_nodes)
            noise = resolve_noise_region(masks, settings.noise, remote_region)
            inputs = RegionInputs(masks, RegionRoles(lge_region, remote_region, blood_region, None, noise))
            repeat = (repeat_volume_nodes or {}).get(node.GetName())
            volume = study_volume_from_node(node, repeat)
            by_family = {f.NAME: r for f in families if (r := run_family(f, volume, inputs, settings)) is not None}
            results[node.GetName()] = list(by_family.values())
            analyses[node.GetName()] = by_family
        rows, units = _table_rows(results)
        table = mrml_lines.metrics_to_table(scene, _uniform(rows), name, units)
    return QAOutputs({"regions": table}, None, rows, {v: fams["regions"] for v, fams in analyses.items()}, analyses)


# ---------------------------------------------------------------------------------------------- LGE
def lge_segmentation(scene, volume_node, segmentation_node, myocardium_segment_id: str,
                     remote_segment_id: str | None = None, remote_roi_node=None, method: str = DEFAULT_METHOD,
                     n_sd: float = 5.0, min_island_ml: float = 0.0, include_mvo: bool = False,
                     lge_segment_name: str = "LGE", replace: bool = False, name: str | None = None,
                     rv_insertion_node=None, inferior_rv_insertion_node=None, aha_model: int = 17,
                     remote_segment_name: str = "LGE remote", bullseye: bool = True) -> QAOutputs:
    """Segment LGE in the myocardium segment (the "lge" family) and write the results:

    * segments "LGE" and "LGE remote" (where the remote reference was taken: inspect it; an automatic
      remote is one sector per slice) in the user's segmentation (other segments untouched);
    * tables: summary, per slice (threshold, remote mean/SD, the slice the remote came from, status),
      and — with ``rv_insertion_node`` (a markups point: the anterior RV insertion) — per AHA segment
      (LGE %, transmurality %, class);
    * with the RV point and ``bullseye``: the bullseye as an RGB image node.

    Everything is computed before the first node is written; any error leaves the scene and the
    segmentation as they were.
    """
    _check_volumes([volume_node])
    if segmentation_node is None:
        raise ValueError("Select the segmentation holding the LV myocardium.")
    if not myocardium_segment_id:
        raise ValueError("No myocardium: select the LV myocardium segment.")
    family = registry.family("lge")
    segmentation = segmentation_node.GetSegmentation()
    before = [segmentation.GetNthSegmentID(i) for i in range(segmentation.GetNumberOfSegments())]
    with SceneChange(scene) as change:
        masks = {"myocardium": mrml_segments.mask_from_segment(segmentation_node, myocardium_segment_id, volume_node)}
        if remote_segment_id:
            masks["remote"] = mrml_segments.mask_from_segment(segmentation_node, remote_segment_id, volume_node)
        elif remote_roi_node is not None:
            masks["remote"] = mrml_segments.mask_from_markups_roi(remote_roi_node, volume_node)
        inputs = RegionInputs(masks, RegionRoles(myocardium="myocardium", remote="remote" if "remote" in masks else None))
        anterior = inferior = None
        if rv_insertion_node is not None:
            anterior = mrml_lge.point_from_markups(rv_insertion_node, "anterior RV insertion point")
        if inferior_rv_insertion_node is not None:
            inferior = mrml_lge.point_from_markups(inferior_rv_insertion_node, "inferior RV insertion point")
        settings = AnalysisSettings(lge=LGESettings(method, float(n_sd), float(min_island_ml), bool(include_mvo),
                                                    aha_model=int(aha_model), rv_insertion_ras=anterior,
                                                    inferior_rv_insertion_ras=inferior))
        metric = run_family(family, study_volume_from_node(volume_node), inputs, settings)
        result = metric.result
        base = name or f"{volume_node.GetName()} LGE"
        rgb = None
        if bullseye and metric.aha is not None:
            from LGEResolutionQALib.study.lge_figures import bullseye_rgb

            rgb = bullseye_rgb(metric.aha, "lge_percent", f"{volume_node.GetName()}: LGE % per AHA segment ({result.method})")
        change.will_modify(segmentation_node)
        try:
            segment_id = mrml_segments.add_lge_segment(segmentation_node, result.scar_mask, volume_node,
                                                       name=lge_segment_name, replace=replace)
            remote_id = mrml_segments.add_lge_segment(segmentation_node, result.remote_mask, volume_node,
                                                      name=remote_segment_name, color=(0.3, 0.6, 1.0), replace=replace)
            rows = metric.rows()
            lge_rows = [r for r in rows if r.section == "lge"]
            summary = {"volume": volume_node.GetName(), "method": lge_rows[0].method if lge_rows else "",
                       **{r.metric: r.value for r in lge_rows}}
            tables = {"lge": mrml_lines.metrics_to_table(scene, [summary], base, {r.metric: r.unit for r in lge_rows})}
            per_slice = metric.per_slice_rows() or [{key: "" for key in result.PER_SLICE_UNITS}]
            tables["per_slice"] = mrml_lines.metrics_to_table(scene, per_slice, f"{base} per slice", dict(result.PER_SLICE_UNITS))
            image = None
            if metric.aha is not None:
                tables["segments"] = mrml_lines.metrics_to_table(scene, metric.segment_rows(), f"{base} AHA segments",
                                                                 dict(SegmentLGE.ROW_UNITS))
                if rgb is not None:
                    image = mrml_lge.add_rgb_image(scene, rgb, f"{base} bullseye")
        except Exception:
            for added in [segmentation.GetNthSegmentID(i) for i in range(segmentation.GetNumberOfSegments())]:
                if added not in before:
                    segmentation.RemoveSegment(added)
            raise
    return QAOutputs(tables, None, [summary],
                     {"lge": result, "segment_id": segment_id, "remote_segment_id": remote_id, "aha": metric.aha,
                      "bullseye_node": image})


# ---------------------------------------------------------------------------------------------- MTF
def edge_mtf(scene, volume_nodes, roi_node, name: str | None = None) -> QAOutputs:
    """Slanted-edge MTF inside the markups ROI box on every volume -> table (MTF50, effective resolution) + plot."""
    nodes = _check_volumes(volume_nodes)
    if roi_node is None or not roi_node.IsA("vtkMRMLMarkupsROINode"):
        raise ValueError("Select a markups ROI box around a slanted edge (2-45 degrees off the pixel axes).")
    families = registry.families("mtf_roi")
    results = {}
    for node in nodes:
        target = MTFTarget(roi_node.GetName(), mrml_segments.mask_from_markups_roi(roi_node, node))
        volume = study_volume_from_node(node)
        results[node.GetName()] = [run_family(f, volume, target, AnalysisSettings(), f"MTF ROI '{roi_node.GetName()}'") for f in families]
    rows, units = _table_rows(results)
    base = name or f"{roi_node.GetName()} MTF"
    curves = {volume: family_results[0].result for volume, family_results in results.items()}
    with SceneChange(scene):
        table = mrml_lines.metrics_to_table(scene, _uniform(rows), base, units)
        curve_table = mrml_lines.curves_to_table(scene, {v: (r.frequencies_per_mm, r.mtf) for v, r in curves.items()},
                                                 f"{base} curves", x_name="frequency_lp_per_mm", x_unit="lp/mm")
        chart = mrml_lines.profile_plot(scene, curve_table, f"{roi_node.GetName()}: MTF", x_column="frequency_lp_per_mm",
                                        x_title="Spatial frequency (lp/mm)", y_title="MTF")
    return QAOutputs({"mtf": table, "curves": curve_table}, chart, rows, {"mtf": curves})
