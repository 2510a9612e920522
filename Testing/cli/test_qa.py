"""``cardiac-lge qa`` / ``qa-demo`` end to end on files: NRRD volumes, markups JSON lines/ROIs and a
.seg.nrrd written by Slicer's own storage node (slicer-core); outputs and error handling."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from LGEResolutionQALib.io import definitions as io
from LGEResolutionQALib.scenarios import add_phantom_nodes
from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom

from cardiac_lge.cli import main


def _wide(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_qa_demo_writes_report_and_figures(tmp_path, capsys):
    assert main(["qa-demo", "--out", str(tmp_path), "--figure", str(tmp_path / "copy.png")]) == 0
    for name in ("report.csv", "report.json", "profiles.png", "roi_bar.png", "copy.png", "inputs/nr_lge.nrrd",
                 "inputs/hr_lge.nrrd", "inputs/septum.mrk.json", "inputs/air.mrk.json"):
        assert (tmp_path / name).is_file(), name
    rows = _wide(tmp_path / "report.csv")
    rise = next(r for r in rows if r["item"] == "septum" and r["metric"] == "mean_rise_20_80_mm")
    assert float(rise["HR"]) < float(rise["NR"])
    document = json.loads((tmp_path / "report.json").read_text())
    assert [v["name"] for v in document["volumes"]] == ["NR", "HR"]
    assert document["lines"]["bars 2mm"]["results"]["NR"]["resolved"] is True
    assert document["lines"]["bars 1mm"]["results"]["NR"]["resolved"] is False
    assert document["lines"]["bars 1mm"]["results"]["HR"]["resolved"] is True
    assert "mean_rise_20_80_mm" in capsys.readouterr().out


def test_qa_on_slicer_segmentation_file(slicer_env, tmp_path):
    scene = slicer_env.scene
    phantom = make_lge_ring_phantom((4, 100, 100), (1.0, 1.0, 8.0), 0.2, 20.0, np.random.default_rng(4))
    _, segmentation, _ = add_phantom_nodes(scene, phantom)
    storage = segmentation.CreateDefaultStorageNode()
    scene.AddNode(storage)
    segmentation.SetAndObserveStorageNodeID(storage.GetID())
    storage.SetFileName(str(tmp_path / "phantom.seg.nrrd"))
    assert storage.WriteData(segmentation) == 1
    io.write_volume(tmp_path / "lge.nii.gz", phantom.image, phantom.ijk_to_ras)
    out = tmp_path / "out"
    code = main(["qa", "--volume", f"LGE={tmp_path / 'lge.nii.gz'}", "--segmentation", str(tmp_path / "phantom.seg.nrrd"),
                 "--myocardium-segment", "myocardium", "--remote-segment", "remote", "--blood-segment", "blood",
                 "--noise-segment", "air", "--noise", "background", "--no-figures", "--out", str(out)])
    assert code == 0
    document = json.loads((out / "report.json").read_text())
    assert abs(document["lge"]["LGE"]["lge_percent_of_lv"] - phantom.scar_percent_truth) <= 1.0
    snr_blood = document["snr"]["LGE"]["blood"]["snr"]
    assert snr_blood == pytest.approx(phantom.levels["blood"] / phantom.sigma_true, rel=0.05)
    assert document["noise"]["LGE"]["method"] == "background-rayleigh-1ch"
    assert not (out / "profiles.png").exists()


def test_qa_errors_are_clear_and_write_nothing(tmp_path, capsys):
    volume = tmp_path / "v.nrrd"
    io.write_volume(volume, np.ones((1, 20, 20), np.float32), np.eye(4))
    io.write_markups_line(tmp_path / "far.mrk.json", "far", (200, 200, 0), (230, 200, 0))
    out = tmp_path / "out"
    assert main(["qa", "--volume", f"A={volume}", "--line", str(tmp_path / "far.mrk.json"), "--out", str(out)]) == 2
    assert "Line 'far' on volume 'A'" in capsys.readouterr().err
    assert not out.exists()
    assert main(["qa", "--volume", f"A={tmp_path / 'missing.nrrd'}", "--line", str(tmp_path / "far.mrk.json"),
                 "--out", str(out)]) == 2
    assert "not found" in capsys.readouterr().err
    io.write_markups_roi(tmp_path / "roi.mrk.json", "box", (0, 0, 0), (4, 4, 4))
    assert main(["qa", "--volume", f"A={volume}", "--roi", str(tmp_path / "roi.mrk.json"), "--lge-segment", "scar",
                 "--out", str(out)]) == 2
    assert "not among the regions" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.realdata
def test_qa_nema_difference_on_real_siemens_pair(shared_data, tmp_path):
    from LGEResolutionQALib.core.snr import central_phantom_roi, noise_from_difference

    first = shared_data / "snr_pair_siemens" / "tra_250_2meas_1.IMA"
    second = shared_data / "snr_pair_siemens" / "tra_250_2meas_2.IMA"
    volume = io.read_volume(first, "S")
    jj, ii = np.nonzero(central_phantom_roi(volume.array[0]))
    centre = (volume.ijk_to_ras @ [ii.mean(), jj.mean(), 0.0, 1.0])[:3]
    io.write_markups_roi(tmp_path / "phantom.mrk.json", "phantom", centre, (100.0, 100.0, 4.0))
    out = tmp_path / "out"
    assert main(["qa", "--volume", f"S={first}", "--repeat", f"S={second}", "--roi", str(tmp_path / "phantom.mrk.json"),
                 "--noise", "difference", "--noise-segment", "phantom", "--out", str(out)]) == 0
    document = json.loads((out / "report.json").read_text())
    (region,) = io.read_markups_rois(tmp_path / "phantom.mrk.json")
    mask = io.region_mask_on_grid(region, volume.array.shape, volume.ijk_to_ras)
    direct = noise_from_difference(volume.array, io.read_volume(second).array, mask)
    assert document["noise"]["S"]["method"] == "nema-difference"
    assert document["noise"]["S"]["sigma_au"] == pytest.approx(direct.sigma, rel=1e-6)
    assert document["snr"]["S"]["phantom"]["snr"] == pytest.approx(volume.array[mask].mean() / direct.sigma, rel=1e-6)
    assert document["snr"]["S"]["phantom"]["snr"] > 10
