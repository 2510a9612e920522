"""MRML adapter glue that the LGEResolutionQA widget calls (one function per analysis section).

Imports only ``slicer``, ``vtk``, ``numpy`` and the project's core/adapters; every function takes the
scene and the nodes, so it runs under the ``slicer-core`` wheel in pytest as well as in Slicer.

* ``compare_profiles``: one markups line on N volumes ("compare volumes" mode: NR and HR of a study
  registered in RAS) -> profile table (one distance + intensity column pair per volume), one plot
  chart with every curve, and a metrics table (one row per volume: septal edges, thickness, ...).
* ``compare_regions``: ROI statistics, σ (named method), SNR of every region and CNR LGE–remote /
  LGE–blood on N volumes -> one table (one row per volume and region / noise / CNR result).
* ``lge_segmentation``: LGE segment added to the user's segmentation (myocardium untouched) and a
  table (summary row + one row per slice).
* ``resolution_check``: a line across a bar group on N volumes -> resolved / not table + profile plot.

Every input is checked and every number computed before the first node is created; if creating
the outputs fails half-way, the nodes created so far are removed. A ValueError therefore leaves
the scene as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from CardiacLGECommonLib.mrml.volumes import array_from_volume, ijk_to_world_matrix

from LGEResolutionQALib.core import edges
from LGEResolutionQALib.io.definitions import StudyVolume
from LGEResolutionQALib.mrml import lines as mrml_lines
from LGEResolutionQALib.mrml import segments as mrml_segments
from LGEResolutionQALib.study.report import NoiseSettings, RegionAnalysis, analyse_regions, flat_row


@dataclass(eq=False)
class QAOutputs:
    """Nodes created by one analysis and the numbers behind them."""

    tables: dict = field(default_factory=dict)  # role -> vtkMRMLTableNode
    chart: object = None  # vtkMRMLPlotChartNode or None
    rows: list = field(default_factory=list)
    results: dict = field(default_factory=dict)

    @property
    def table(self):
        return next(iter(self.tables.values()), None)


class _NodeTransaction:
    """Removes the nodes added to ``scene`` inside the ``with`` block when it raises."""

    def __init__(self, scene):
        self.scene = scene

    def __enter__(self):
        self.before = {self.scene.GetNthNode(i).GetID() for i in range(self.scene.GetNumberOfNodes())}
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            added = [self.scene.GetNthNode(i) for i in range(self.scene.GetNumberOfNodes())]
            for node in reversed(added):
                if node is not None and node.GetID() not in self.before and node.GetScene() is not None:
                    self.scene.RemoveNode(node)
        return False


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


def _pixel_mm(volume_node) -> float:
    spacing = np.linalg.norm(ijk_to_world_matrix(volume_node)[:3, :3], axis=0)
    return float(max(spacing[0], spacing[1]))


def _sample_all(volume_nodes, line_node, step_mm, interpolation) -> dict:
    profiles = {}
    for node in volume_nodes:
        try:
            profiles[node.GetName()] = mrml_lines.sample_volume_along_line(node, line_node, step_mm=step_mm,
                                                                           interpolation=interpolation)
        except ValueError as error:
            raise ValueError(f"Line '{line_node.GetName()}' on volume '{node.GetName()}': {error}") from error
    return profiles


# ----------------------------------------------------------------------------------------- profiles
def compare_profiles(scene, volume_nodes, line_node, step_mm: float = 0.1, interpolation: str = "linear",
                     kind: str = "septum", dark_band: bool = True, name: str | None = None) -> QAOutputs:
    """Sample ``line_node`` on every volume; septal (or single-edge) metrics; tables + one plot."""
    nodes = _check_volumes(volume_nodes)
    _check_line(line_node)
    if kind not in ("septum", "edge"):
        raise ValueError(f"Profile kind must be 'septum' or 'edge'; got {kind!r}.")
    profiles = _sample_all(nodes, line_node, step_mm, interpolation)
    rows, results = [], {}
    for node in nodes:
        profile = profiles[node.GetName()]
        try:
            if kind == "septum":
                result = edges.septal_profile_metrics(profile, dark_band=dark_band)
            else:
                result = edges.edge_metrics(profile.distance_mm, profile.intensity)
        except ValueError as error:
            raise ValueError(f"Profile of '{node.GetName()}': {error}") from error
        results[node.GetName()] = result
        rows.append({"volume": node.GetName(), "pixel_mm": _pixel_mm(node), "interpolation": interpolation,
                     "step_mm": float(step_mm), **flat_row(result)})
    base = name or f"{line_node.GetName()} profiles"
    with _NodeTransaction(scene):
        profile_table = mrml_lines.profiles_to_table(scene, profiles, base)
        metrics_table = mrml_lines.metrics_to_table(scene, rows, f"{base} metrics")
        chart = mrml_lines.profile_plot(scene, profile_table, f"{line_node.GetName()}: {', '.join(profiles)}")
    return QAOutputs({"profiles": profile_table, "metrics": metrics_table}, chart, rows,
                     {"profiles": profiles, "metrics": results})


def resolution_check(scene, volume_nodes, line_node, expected_bars: int, pitch_mm: float,
                     modulation_threshold: float = 0.1, step_mm: float = 0.05, interpolation: str = "linear",
                     name: str | None = None) -> QAOutputs:
    """Is the bar group under ``line_node`` resolved on each volume? Table (one row per volume) + plot."""
    nodes = _check_volumes(volume_nodes)
    _check_line(line_node)
    if int(expected_bars) != expected_bars or expected_bars < 2:
        raise ValueError(f"Expected number of bars must be an integer ≥ 2; got {expected_bars}.")
    if not (np.isfinite(pitch_mm) and pitch_mm > 0):
        raise ValueError(f"Bar pitch must be a positive number of mm; got {pitch_mm}.")
    from LGEResolutionQALib.core import resolution

    profiles = _sample_all(nodes, line_node, step_mm, interpolation)
    rows, results = [], {}
    for node in nodes:
        result = resolution.analyse_bar_group(profiles[node.GetName()], int(expected_bars), float(pitch_mm),
                                              modulation_threshold=modulation_threshold)
        pixel = _pixel_mm(node)
        results[node.GetName()] = result
        rows.append({"volume": node.GetName(), "pixel_mm": pixel, "expected_bars": int(expected_bars),
                     "pitch_mm": float(pitch_mm), "modulation_threshold": float(modulation_threshold),
                     **flat_row(result), **flat_row(resolution.sampling_limited(float(pitch_mm), pixel), "sampling_limited.")})
    base = name or f"{line_node.GetName()} resolution"
    with _NodeTransaction(scene):
        metrics_table = mrml_lines.metrics_to_table(scene, rows, base)
        profile_table = mrml_lines.profiles_to_table(scene, profiles, f"{base} profiles")
        chart = mrml_lines.profile_plot(scene, profile_table, f"{line_node.GetName()}: {expected_bars} bars at {pitch_mm:g} mm")
    return QAOutputs({"resolution": metrics_table, "profiles": profile_table}, chart, rows, {"bars": results})


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
    """ROI statistics, σ, SNR and CNR on every volume -> one table (rows: volume × result).

    Regions are named by their segment / ROI names; ``noise_region`` defaults to "background"/"air"
    (background method) or the remote region. ``repeat_volume_nodes``: volume name -> repeated
    acquisition node (NEMA difference).
    """
    nodes = _check_volumes(volume_nodes)
    settings = NoiseSettings(method=noise_method, region=noise_region, n_channels=int(n_channels))
    analyses: dict[str, RegionAnalysis] = {}
    rows = []
    # Exporting segments may add helper nodes (e.g. a labelmap colour table): the transaction removes
    # whatever a failing call added.
    with _NodeTransaction(scene):
        for node in nodes:
            masks = region_masks(node, segmentation_node, segment_ids, roi_nodes)
            region = noise_region or _default_noise_region(masks, noise_method, remote_region)
            repeat = (repeat_volume_nodes or {}).get(node.GetName())
            analysis = analyse_regions(study_volume_from_node(node, repeat), masks, settings, region, lge_region,
                                       remote_region, blood_region)
            analyses[node.GetName()] = analysis
            for row in analysis.rows():
                rows.append({"volume": node.GetName(), **row})
        table = mrml_lines.metrics_to_table(scene, _uniform(rows), name)
    return QAOutputs({"regions": table}, None, rows, analyses)


def _default_noise_region(masks, method, remote_region):
    if method == "background":
        for candidate in masks:
            if candidate.lower() in ("background", "air"):
                return candidate
        raise ValueError("Background noise needs an air region: choose the noise region (a segment or ROI in air).")
    if remote_region:
        return remote_region
    raise ValueError(f"{method} noise needs a region: choose the noise region or a remote region.")


def _uniform(rows: list[dict]) -> list[dict]:
    """Rows with the union of keys (missing values empty), so they fit one table."""
    keys = list(dict.fromkeys(key for row in rows for key in row))
    return [{key: row.get(key, "") for key in keys} for row in rows]


# ---------------------------------------------------------------------------------------------- LGE
def lge_segmentation(scene, volume_node, segmentation_node, myocardium_segment_id: str,
                     remote_segment_id: str | None = None, remote_roi_node=None, method: str = "nsd",
                     n_sd: float = 5.0, min_island_ml: float = 0.0, include_mvo: bool = False,
                     lge_segment_name: str = "LGE", replace: bool = False, name: str | None = None) -> QAOutputs:
    """Segment LGE in the myocardium segment; add the "LGE" segment; summary + per-slice tables."""
    _check_volumes([volume_node])
    if segmentation_node is None:
        raise ValueError("Select the segmentation holding the LV myocardium.")
    if not myocardium_segment_id:
        raise ValueError("No myocardium: select the LV myocardium segment.")
    segmentation = segmentation_node.GetSegmentation()
    segment_count = segmentation.GetNumberOfSegments()
    with _NodeTransaction(scene):
        result, segment_id = mrml_segments.run_lge_segmentation(
            volume_node, segmentation_node, myocardium_segment_id, remote_segment_id=remote_segment_id or None,
            remote_roi_node=remote_roi_node, lge_segment_name=lge_segment_name, replace=replace, method=method,
            n_sd=n_sd, min_island_ml=min_island_ml, include_mvo=include_mvo)
        try:
            base = name or f"{volume_node.GetName()} LGE"
            summary = {"volume": volume_node.GetName(), **flat_row(result)}
            summary_table = mrml_lines.metrics_to_table(scene, [summary], base)
            per_slice = [flat_row(row) for row in result.per_slice] or [{"slice_index": "", "lge_ml": ""}]
            slice_table = mrml_lines.metrics_to_table(scene, per_slice, f"{base} per slice")
        except Exception:
            if segmentation.GetNumberOfSegments() > segment_count:
                segmentation.RemoveSegment(segment_id)
            raise
    return QAOutputs({"lge": summary_table, "per_slice": slice_table}, None, [summary],
                     {"lge": result, "segment_id": segment_id})
