"""The README's ``cardiac-lge qa`` example runs as written on the files ``qa-demo`` writes (issue 12 E19): the
command is parsed from README.md itself, run in DIR/inputs through ``cardiac_lge.cli.main``, and its numbers are
checked against the simulation's truth; the demo's segmentation opens in Slicer's own segmentation reader."""

from __future__ import annotations

import json
import re
import shlex

import numpy as np
import pytest
from support.paths import REPO_ROOT

from cardiac_lge.cli import main
from cardiac_lge.commands.qa import README_EXAMPLE_FILES


def readme_qa_example() -> list[str]:
    """The first ``cardiac-lge qa`` command of the README's "Headless: `cardiac-lge qa`" section, as argv."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Headless: `cardiac-lge qa`"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    command = block.replace("\\\n", " ").strip().splitlines()[0]
    argv = shlex.split(command)
    assert argv[:2] == ["cardiac-lge", "qa"], argv
    return argv[1:]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("qa_demo")
    assert main(["qa-demo", "--out", str(out), "--no-figures"]) == 0
    return out


def test_the_readme_qa_example_runs_as_written_on_the_demo_inputs(demo, monkeypatch, capsys):
    argv = readme_qa_example()
    inputs = demo / "inputs"
    for name in README_EXAMPLE_FILES:
        assert (inputs / name).exists(), name
    monkeypatch.chdir(inputs)
    capsys.readouterr()
    assert main(argv) == 0, capsys.readouterr().err
    out = inputs / argv[argv.index("--out") + 1]
    document = json.loads((out / "report.json").read_text())
    assert [v["name"] for v in document["volumes"]] == ["NR", "HR"]
    # the simulated truth: an 8 mm septum, 1 mm bars at 2 mm pitch resolved at 0.625 mm only, a transmural scar
    # over 20 of the 65 mm of septum drawn as myocardium (30.8 %)
    assert document["lines"]["septum"]["results"]["HR"]["septal_thickness_fwhm_mm"] == pytest.approx(8.0, abs=0.3)
    assert document["lines"]["bars 1mm"]["results"]["HR"]["resolved"] is True
    assert document["lines"]["bars 1mm"]["results"]["NR"]["resolved"] is False
    for volume in ("NR", "HR"):
        assert document["lge"][volume]["lge_percent_of_lv"] == pytest.approx(100 * 20 / 65, abs=2.0)
        assert document["snr"][volume]["blood"]["snr"] > 10
    # NR came from the DICOM series: the same numbers as the demo's own NRRD copy of NR
    own = json.loads((demo / "report.json").read_text())
    assert document["snr"]["NR"]["blood"]["snr"] == pytest.approx(own["snr"]["NR"]["blood"]["snr"], rel=1e-3)


def test_the_demo_segmentation_opens_in_slicer_with_its_four_segments(demo, slicer_env):
    from CardiacLGECommonLib.mrml.volumes import add_volume_from_array
    from LGEResolutionQALib.io.definitions import read_segmentation, read_volume, region_mask_on_grid
    from LGEResolutionQALib.mrml.segments import mask_from_segment

    scene = slicer_env.scene
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "study")
    storage = scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
    storage.SetFileName(str(demo / "inputs" / "study.seg.nrrd"))
    assert storage.ReadData(node) == 1
    segmentation = node.GetSegmentation()
    names = {segmentation.GetSegment(segmentation.GetNthSegmentID(i)).GetName(): segmentation.GetNthSegmentID(i)
             for i in range(segmentation.GetNumberOfSegments())}
    assert set(names) == {"myocardium", "blood", "scar", "remote"}
    hr = read_volume(demo / "inputs" / "hr.nrrd", "HR")
    volume = add_volume_from_array(scene, hr.array, hr.ijk_to_ras, "HR")
    ours = read_segmentation(demo / "inputs" / "study.seg.nrrd")
    for name, segment_id in names.items():  # Slicer and the CLI see the same voxels
        np.testing.assert_array_equal(mask_from_segment(node, segment_id, volume),
                                      region_mask_on_grid(ours[name], hr.array.shape, hr.ijk_to_ras))
