"""The metric-family registry: well formed, units declared by every result class, one rule for the noise
region in the CLI and the module, and a family added by one file + one registry line reaches both front ends."""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
from CardiacLGECommonLib.mrml.volumes import add_volume_from_array
from LGEResolutionQALib.core import edges, lge_segmentation, mtf, profiles, resolution, roi_stats, snr
from LGEResolutionQALib.io.definitions import RegionDefinition, StudyVolume
from LGEResolutionQALib.metrics import registry
from LGEResolutionQALib.metrics.base import MetricRow, NoiseSettings, resolve_noise_region, rows_of
from LGEResolutionQALib.mrml import qa as mrml_qa
from LGEResolutionQALib.sim.phantom import make_septum_pair
from LGEResolutionQALib.study.report import StudyDefinition, study_report


def test_registry_is_well_formed():
    assert registry.check_registry() == []
    assert [f.NAME for f in registry.families("line")] == ["line_profiles", "bar_resolution"]
    assert {f.NAME for f in registry.families("regions", section="regions")} == {"regions", "uniformity"}


@pytest.mark.parametrize(
    "cls",
    [edges.EdgeMetrics, edges.SeptalProfileMetrics, resolution.BarGroupResult, roi_stats.ROIStatistics, snr.NoiseEstimate,
     snr.SNRResult, snr.CNRResult, lge_segmentation.LGEResult, mtf.MTFResult, profiles.LineProfile],
)
def test_every_row_key_of_a_result_class_has_a_declared_unit(cls):
    """ROW_UNITS lists exactly the keys as_row() emits (a new field without a unit fails here)."""
    import inspect

    source = inspect.getsource(cls.as_row)
    assert "ROW_UNITS" in cls.__dict__, f"{cls.__name__} declares no ROW_UNITS"
    emitted = _example_row_keys(cls)
    assert emitted is None or set(emitted) <= set(cls.ROW_UNITS), sorted(set(emitted) - set(cls.ROW_UNITS))
    assert source  # as_row exists


def _example_row_keys(cls):
    x = np.arange(0, 30, 0.1)
    y = np.where(np.abs(x - 15) < 5, 40.0, 200.0)
    profile = profiles.LineProfile(x, y, np.zeros((x.size, 3)), 0.1, "linear")
    if cls is edges.SeptalProfileMetrics:
        return edges.septal_profile_metrics(profile).as_row()
    if cls is edges.EdgeMetrics:
        return edges.septal_profile_metrics(profile).left_edge.as_row()
    if cls is profiles.LineProfile:
        return profile.as_row()
    if cls is roi_stats.ROIStatistics:
        return roi_stats.roi_statistics(np.arange(8.0).reshape(2, 2, 2), np.ones((2, 2, 2), bool), 1.0, name="r").as_row()
    if cls is snr.NoiseEstimate:
        return snr.noise_from_tissue(np.random.default_rng(0).normal(10, 1, 100)).as_row()
    return None  # constructed in the report test below (rows_of raises on an undeclared key)


def _pair_study(regions=None, **kwargs):
    pair = make_septum_pair(np.random.default_rng(3))
    volumes = [StudyVolume(key.upper(), pair[key].image, pair[key].ijk_to_ras) for key in ("nr", "hr")]
    boxes = regions or {"blood": ((-14.0, 0.0, 0.0), (8.0, 16.0, 4.0)), "remote": ((0.0, 0.0, 0.0), (4.0, 16.0, 4.0)),
                        "AIR": ((1.5, 33.0, 0.0), (23.0, 22.0, 4.0))}
    definition = StudyDefinition(regions={n: RegionDefinition(n, center_ras=c, size_mm=s) for n, (c, s) in boxes.items()},
                                 remote_region="remote", **kwargs)
    return pair, volumes, definition


def test_a_region_called_AIR_is_the_background_noise_region_in_the_cli_and_the_module(slicer_env):
    """Issue 16.3: 'AIR' worked in Slicer (case-insensitive) but not in the CLI (exact 'air'/'Air')."""
    assert resolve_noise_region(["blood", "AIR"], NoiseSettings("background")) == "AIR"
    pair, volumes, definition = _pair_study()
    report = study_report(volumes, definition)
    assert report.noise["HR"].method.startswith("background") and "AIR" not in report.snr["HR"]
    scene = slicer_env.scene
    node = add_volume_from_array(scene, pair["hr"].image, pair["hr"].ijk_to_ras, "HR")
    rois = []
    for name, (centre, size) in {"blood": ((-14.0, 0.0, 0.0), (8.0, 16.0, 4.0)), "AIR": ((1.5, 33.0, 0.0), (23.0, 22.0, 4.0))}.items():
        roi = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", name)
        roi.SetCenter(*centre)
        roi.SetSize(*size)
        rois.append(roi)
    outputs = mrml_qa.compare_regions(scene, [node], roi_nodes=rois, noise_method="background")
    assert outputs.results["HR"].noise_region == "AIR"
    assert outputs.results["HR"].noise.sigma == pytest.approx(report.noise["HR"].sigma, rel=1e-6)


@dataclass(frozen=True)
class _Contrast:
    name: str
    ratio: float
    ROW_UNITS: ClassVar[dict] = {"name": "", "ratio": "ratio"}

    def as_row(self) -> dict:
        return {"ratio": self.ratio}


def _toy_family() -> types.ModuleType:
    """A family written as its own module would be: blood-to-remote mean ratio."""
    module = types.ModuleType("toy_contrast")
    module.NAME, module.INPUT, module.SECTION = "toy_contrast", "regions", "regions"

    @dataclass(frozen=True, eq=False)
    class Result:
        value: _Contrast

        def rows(self) -> list[MetricRow]:
            return rows_of(self.value, "toy", "blood/remote")

        def json_fields(self) -> dict:
            return {"ratio": self.value.ratio}

    def run(volume, inputs, settings):
        blood = float(volume.array[inputs.masks["blood"]].mean())
        remote = float(volume.array[inputs.masks["remote"]].mean())
        return Result(_Contrast("blood/remote", blood / remote))

    module.run = run
    return module


def test_a_family_added_to_the_registry_reaches_the_report_and_the_module(monkeypatch, slicer_env, tmp_path):
    toy = _toy_family()
    monkeypatch.setattr(registry, "FAMILIES", (*registry.FAMILIES, toy))
    assert registry.check_registry() == []
    pair, volumes, definition = _pair_study()
    report = study_report(volumes, definition)
    expected = float(volumes[1].array[report_masks(volumes[1], definition)["blood"]].mean()
                     / volumes[1].array[report_masks(volumes[1], definition)["remote"]].mean())
    assert report.value("HR", "toy", "blood/remote", "ratio") == pytest.approx(expected)
    assert next(r for r in report.wide_rows() if r["section"] == "toy")["unit"] == "ratio"
    paths = report.write(tmp_path, figures=False)
    import json

    assert json.loads(paths["json"].read_text())["toy_contrast"]["regions"]["HR"]["ratio"] == pytest.approx(expected)
    scene = slicer_env.scene
    node = add_volume_from_array(scene, pair["hr"].image, pair["hr"].ijk_to_ras, "HR")
    rois = []
    for name in ("blood", "remote", "AIR"):
        region = definition.regions[name]
        roi = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", name)
        roi.SetCenter(*region.center_ras)
        roi.SetSize(*region.size_mm)
        rois.append(roi)
    outputs = mrml_qa.compare_regions(scene, [node], roi_nodes=rois, noise_method="background", remote_region="remote")
    row = next(r for r in outputs.rows if r["section"] == "toy")
    assert row["ratio"] == pytest.approx(expected, rel=1e-6)


def report_masks(volume, definition):
    from LGEResolutionQALib.io.definitions import region_mask_on_grid

    return {n: region_mask_on_grid(r, volume.array.shape, volume.ijk_to_ras, volume.name) for n, r in definition.regions.items()}
