"""The LGE pipeline (segmentation + AHA segments, core) and its files (study.lge_outputs): JSON/CSV/bullseye/masks,
written atomically."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from LGEResolutionQALib.core.lge_quantification import LGEQuantSettings, quantify_lge
from LGEResolutionQALib.io.lge_inputs import read_stack
from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom
from LGEResolutionQALib.study.lge_figures import bullseye_rgb
from LGEResolutionQALib.study.lge_outputs import write_lge_outputs


def _phantom():
    return make_lge_ring_phantom((6, 96, 96), (1.5, 1.5, 10.0), 0.2, 12.0, np.random.default_rng(0))


def _rv_point(p):
    # the phantom's scar is centred at +90° (RAS +A side); put the anterior insertion on the patient's right-anterior
    centre = p.ijk_to_ras @ np.array([47.5, 47.5, 2, 1.0])
    return centre[:3] + 30.0 * np.array([np.cos(np.radians(60)), np.sin(np.radians(60)), 0.0])


def test_pipeline_outputs_and_segments(tmp_path):
    p = _phantom()
    result = quantify_lge(p.image, p.ijk_to_ras, p.myocardium_mask,
                          LGEQuantSettings(method="nsd", n_sd=5, rv_insertion_ras=_rv_point(p)))
    assert result.lge.lge_percent_of_lv == pytest.approx(p.scar_percent_truth, abs=1.5)
    segments = {s.segment: s for s in result.aha.segments}
    total_lge = sum(s.lge_ml for s in result.aha.segments)
    assert total_lge == pytest.approx(result.lge.lge_ml)
    measured = [s for s in segments.values() if s.lge_percent is not None]
    assert max(measured, key=lambda s: s.lge_percent).segment in (1, 7, 13)  # the anterior wall (+A)
    assert segments[17].lge_percent is None and "Segment 17 (apex) has no myocardium" in result.warnings
    paths = write_lge_outputs(result, tmp_path / "out")
    assert sorted(paths) == ["aha_segments", "bullseye", "json", "lge_mask", "remote_mask", "segments_csv",
                             "slices_csv", "transmurality_bullseye"]
    document = json.loads(paths["json"].read_text())
    assert document["summary"]["lge_percent_of_lv"] == pytest.approx(result.lge.lge_percent_of_lv)
    assert len(document["per_slice"]) == 6 and len(document["segments"]["rows"]) == 17
    assert document["segments"]["rv_insertion_ras_mm"] == pytest.approx(list(_rv_point(p)))
    with paths["slices_csv"].open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["slice_index"]) for r in rows] == list(range(6)) and "threshold_au" in rows[0]
    with paths["segments_csv"].open() as handle:
        seg_rows = list(csv.DictReader(handle))
    assert {r["transmurality_class"] for r in seg_rows} <= {"", "0%", "1-25%", "26-50%", "51-75%", "76-100%"}
    assert paths["bullseye"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    mask = read_stack(paths["lge_mask"])
    assert np.array_equal(mask.array.astype(bool), result.lge.scar_mask) and np.allclose(mask.ijk_to_ras, p.ijk_to_ras)
    remote = read_stack(paths["remote_mask"]).array.astype(bool)
    assert remote.any() and not (remote & p.scar_mask_truth).any()
    assert not [f for f in (tmp_path / "out").iterdir() if ".tmp-" in f.name]


def test_without_rv_point_no_segments_and_bullseye_image():
    p = _phantom()
    result = quantify_lge(p.image, p.ijk_to_ras, p.myocardium_mask)
    assert result.aha is None and result.segment_rows() == [] and result.as_json()["segments"] is None
    with_point = quantify_lge(p.image, p.ijk_to_ras, p.myocardium_mask, LGEQuantSettings(rv_insertion_ras=_rv_point(p)))
    rgb = bullseye_rgb(with_point.aha)
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8 and rgb.std() > 10


def test_bad_input_writes_nothing(tmp_path):
    p = _phantom()
    broken = p.myocardium_mask.copy()
    broken[3, 40:56, :] = False  # the ring of a mid slice cut open
    with pytest.raises(ValueError, match="not a closed ring"):
        quantify_lge(p.image, p.ijk_to_ras, broken, LGEQuantSettings(rv_insertion_ras=_rv_point(p)))
    with pytest.raises(ValueError, match="Unknown LGE method"):
        LGEQuantSettings(method="ewa")
    with pytest.raises(ValueError, match="three finite RAS"):
        LGEQuantSettings(rv_insertion_ras=(1.0, 2.0))
    with pytest.raises(ValueError, match="needs the anterior"):
        LGEQuantSettings(inferior_rv_insertion_ras=(1.0, 2.0, 3.0))
    assert not (tmp_path / "out").exists()
