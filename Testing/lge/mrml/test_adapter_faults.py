"""The LGEResolutionQA adapters under faults (issue 12 C16), on real MRML nodes (slicer-core): a failure injected
at each write of an analysis (the k-th table / plot / segment / image write, raised before or after that write
did its work) leaves the scene's node set, the user's segmentation (segment IDs, names, colours and every
segment's voxels) and the earlier output nodes (their table contents, images, plot series) exactly as they were."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from CardiacLGECommonLib.mrml.volumes import add_volume_from_array
from LGEResolutionQALib.mrml import lge as mrml_lge
from LGEResolutionQALib.mrml import lines as mrml_lines
from LGEResolutionQALib.mrml import qa as mrml_qa
from LGEResolutionQALib.mrml import segments as mrml_segments
from LGEResolutionQALib.scenarios import add_line_node, add_phantom_nodes
from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom, make_septum_pair
from vtk.util import numpy_support

#: every function of the adapters' lower layers that adds or changes a node (module, name)
WRITERS = ((mrml_lines, "metrics_to_table"), (mrml_lines, "profiles_to_table"), (mrml_lines, "curves_to_table"),
           (mrml_lines, "profile_plot"), (mrml_segments, "add_lge_segment"), (mrml_lge, "add_rgb_image"))


class Injected(RuntimeError):
    pass


class FaultInjector:
    """Counts the writes (WRITERS) of one call; with ``fail_at`` = k raises Injected at the k-th write, before
    it runs (``when="before"``) or after it has done its work (``when="after"``: the worst case)."""

    def __init__(self, monkeypatch, fail_at: int | None = None, when: str = "before"):
        self.count, self.fail_at, self.when, self.names = 0, fail_at, when, []
        for module, name in WRITERS:
            monkeypatch.setattr(module, name, self._wrap(getattr(module, name), name))

    def _wrap(self, original, name):
        def writer(*args, **kwargs):
            self.count += 1
            self.names.append(name)
            if self.count == self.fail_at and self.when == "before":
                raise Injected(f"injected failure before write {self.count} ({name})")
            result = original(*args, **kwargs)
            if self.count == self.fail_at and self.when == "after":
                raise Injected(f"injected failure after write {self.count} ({name})")
            return result

        return writer


def _digest(array) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def _table_content(node):
    table = node.GetTable()
    columns = []
    for c in range(table.GetNumberOfColumns()):
        column = table.GetColumn(c)
        values = [column.GetValue(r) for r in range(column.GetNumberOfValues())]
        columns.append((table.GetColumnName(c), tuple(str(v) for v in values), node.GetColumnUnitLabel(table.GetColumnName(c))))
    return tuple(columns)


def _segmentation_content(node):
    segmentation = node.GetSegmentation()
    segments = []
    for index in range(segmentation.GetNumberOfSegments()):
        segment_id = segmentation.GetNthSegmentID(index)
        segment = segmentation.GetSegment(segment_id)
        labelmap = segment.GetRepresentation("Binary labelmap")
        voxels = ()
        if labelmap is not None and labelmap.GetPointData().GetScalars() is not None:
            array = numpy_support.vtk_to_numpy(labelmap.GetPointData().GetScalars())
            mask = array == segment.GetLabelValue()
            voxels = (tuple(labelmap.GetExtent()), int(mask.sum()), _digest(mask))
        segments.append((segment_id, segment.GetName(), tuple(round(c, 6) for c in segment.GetColor()), voxels))
    return tuple(segments)


def scene_state(scene) -> dict:
    """node ID -> (class, name, content) for every node; content compares what an output holds."""
    state = {}
    for index in range(scene.GetNumberOfNodes()):
        node = scene.GetNthNode(index)
        content = None
        if node.IsA("vtkMRMLTableNode"):
            content = _table_content(node)
        elif node.IsA("vtkMRMLSegmentationNode"):
            content = _segmentation_content(node)
        elif node.IsA("vtkMRMLVolumeNode") and node.GetImageData() is not None:
            content = _digest(numpy_support.vtk_to_numpy(node.GetImageData().GetPointData().GetScalars()))
        elif node.IsA("vtkMRMLPlotChartNode"):
            content = tuple(node.GetNthPlotSeriesNodeID(i) for i in range(node.GetNumberOfPlotSeriesNodes()))
        elif node.IsA("vtkMRMLPlotSeriesNode"):
            content = (node.GetTableNodeID(), node.GetXColumnName(), node.GetYColumnName())
        state[node.GetID()] = (node.GetClassName(), node.GetName(), content)
    return state


@pytest.fixture
def study(slicer_env):
    """One scene with the NR/HR septum pair (lines, bar groups), the ring phantom with its segmentation and an
    RV insertion point, and a slanted-edge volume with an MTF box."""
    scene = slicer_env.scene
    pair = make_septum_pair(np.random.default_rng(5))
    volumes = [add_volume_from_array(scene, pair[k].image, pair[k].ijk_to_ras, k.upper()) for k in ("nr", "hr")]
    septum = add_line_node(scene, "septum", *pair["septum_line_ras"])
    bars = add_line_node(scene, "bars 2mm", *pair["marker_lines_ras"]["2mm"])
    phantom = make_lge_ring_phantom((4, 100, 100), (1.0, 1.0, 8.0), 0.2, 20.0, np.random.default_rng(0))
    volume, segmentation, ids = add_phantom_nodes(scene, phantom)
    rv = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "RV insertion")
    rv.AddControlPoint(*[float(v) for v in (phantom.ijk_to_ras @ np.array([49.5, 49.5, 1, 1.0]))[:3] + [15.0, 26.0, 0.0]])
    roi = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "blood box")
    roi.SetCenter(0.0, 0.0, 12.0)
    roi.SetSize(10.0, 10.0, 40.0)
    n, pixel = 120, 0.5
    rows, cols = np.mgrid[0:n, 0:n]
    theta = np.deg2rad(6.0)
    distance = (cols * pixel - n * pixel / 2) * np.cos(theta) - (rows * pixel - n * pixel / 2) * np.sin(theta)
    edge = (100 + 800 / (1 + np.exp(-distance / 0.6)))[None].astype(np.float32)
    edge_volume = add_volume_from_array(scene, edge, np.diag([pixel, pixel, 4.0, 1.0]), "E")
    mtf_box = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "edge box")
    mtf_box.SetCenter(30.0, 30.0, 0.0)
    mtf_box.SetSize(30.0, 30.0, 4.0)
    analyses = {
        "compare_profiles": lambda: mrml_qa.compare_profiles(scene, volumes, septum),
        "resolution_check": lambda: mrml_qa.resolution_check(scene, volumes, bars, 4, 4.0),
        "compare_regions": lambda: mrml_qa.compare_regions(
            scene, [volume], segmentation, [ids["blood"], ids["remote"], ids["air"]], [roi], remote_region="remote",
            blood_region="blood"),
        "lge_segmentation": lambda: mrml_qa.lge_segmentation(scene, volume, segmentation, ids["myocardium"],
                                                             rv_insertion_node=rv),
        "lge_segmentation replace": lambda: mrml_qa.lge_segmentation(scene, volume, segmentation, ids["myocardium"],
                                                                     rv_insertion_node=rv, method="nsd", replace=True),
        "edge_mtf": lambda: mrml_qa.edge_mtf(scene, [edge_volume], mtf_box),
        "replace args": (volume, segmentation, ids["myocardium"]),
    }
    return scene, analyses


@pytest.mark.parametrize("analysis", ["compare_profiles", "resolution_check", "compare_regions", "lge_segmentation",
                                      "lge_segmentation replace", "edge_mtf"])
def test_a_failure_at_any_write_leaves_scene_segmentation_and_earlier_outputs_unchanged(study, analysis, monkeypatch):
    scene, analyses = study
    run = analyses[analysis]
    analyses["lge_segmentation"]()  # earlier outputs: LGE / LGE remote segments, tables, bullseye (replace overwrites them)
    with monkeypatch.context() as patch:
        counter = FaultInjector(patch)
        run()  # a successful run: more earlier outputs, and the number of writes the analysis makes
    writes = counter.count
    assert writes >= 1, counter.names
    reset = None
    if analysis == "lge_segmentation replace":
        # the earlier LGE segment holds the default method's mask; the failing runs would overwrite it with n-SD's
        def reset():
            mrml_qa.lge_segmentation(scene, *analyses["replace args"], replace=True)

        reset()
        segmentation_id = analyses["replace args"][1].GetID()
        before = scene_state(scene)[segmentation_id]
        run()
        assert scene_state(scene)[segmentation_id] != before, "the replacing run must change the segment (else the test is blind)"
    for k in range(1, writes + 1):
        for when in ("before", "after"):
            if reset is not None:
                reset()
            before = scene_state(scene)
            with monkeypatch.context() as patch:
                FaultInjector(patch, fail_at=k, when=when)
                with pytest.raises(Injected):
                    run()
            after = scene_state(scene)
            assert after.keys() == before.keys(), f"{analysis}: write {k} ({when}): nodes added or removed"
            changed = [node_id for node_id in before if before[node_id] != after[node_id]]
            assert not changed, f"{analysis}: write {k} ({when}) changed {[before[i][:2] for i in changed]}"
