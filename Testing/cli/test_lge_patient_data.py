"""No identifying text in the LGE side's outputs unless asked (issue 12 D17): ``qa`` names a volume given without
NAME= volume1, volume2, ... (not after its file or folder; ``--keep-names`` keeps them), neither ``qa`` nor
``lge`` writes a source path, a folder name or a DICOM patient name / series description, and the reading
session's unblinding key is marked identifying, readable by its owner only and never overwritten."""

from __future__ import annotations

import json
import stat

import numpy as np
import pytest
from LGEResolutionQALib.io.definitions import write_dicom_series, write_volume
from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom, make_septum_pair
from LGEResolutionQALib.study import reader_session as rs

from cardiac_lge.cli import main
from cardiac_lge.commands.qa import write_demo_inputs

PATIENT = "DOE_JANE_ID12345"


def _texts(folder) -> str:
    return "\n".join(p.read_bytes().decode("latin-1") for p in sorted(folder.rglob("*")) if p.is_file())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    write_demo_inputs(folder / "definitions")
    pair = make_septum_pair(np.random.default_rng(0))
    (folder / PATIENT).mkdir()
    write_volume(folder / PATIENT / "nr.nrrd", pair["nr"].image, pair["nr"].ijk_to_ras)
    write_dicom_series(folder / PATIENT / "hr_series", pair["hr"].image, pair["hr"].ijk_to_ras,
                       description="HR LGE JANE DOE")
    return folder


def test_qa_writes_no_file_folder_or_patient_names_unless_asked(inputs, tmp_path):
    definitions = inputs / "definitions"
    argv = ["qa", "--volume", str(inputs / PATIENT / "nr.nrrd"), "--volume", str(inputs / PATIENT / "hr_series"),
            "--line", str(definitions / "septum.mrk.json"), "--roi", f"air={definitions / 'air.mrk.json'}",
            "--roi", f"remote={definitions / 'remote.mrk.json'}"]
    out = tmp_path / "report"
    assert main([*argv, "--out", str(out)]) == 0
    document = json.loads((out / "report.json").read_text())
    assert [v["name"] for v in document["volumes"]] == ["volume1", "volume2"]
    written = _texts(out)
    for text in (PATIENT, "DOE", "JANE", "SIMULATED", "hr_series", "nr.nrrd", str(inputs)):
        assert text not in written, text
    kept = tmp_path / "kept"
    assert main([*argv, "--keep-names", "--out", str(kept)]) == 0
    assert [v["name"] for v in json.loads((kept / "report.json").read_text())["volumes"]] == ["nr", "hr_series"]


def test_lge_outputs_hold_no_input_names(tmp_path):
    phantom = make_lge_ring_phantom((4, 96, 96), (1.5, 1.5, 10.0), 0.2, 12.0, np.random.default_rng(0))
    folder = tmp_path / PATIENT
    write_dicom_series(folder / "lge", phantom.image, phantom.ijk_to_ras, description="LGE of JANE DOE")
    write_volume(folder / "labels.nrrd", np.where(phantom.myocardium_mask, 2, 0).astype(np.uint8), phantom.ijk_to_ras)
    out = tmp_path / "out"
    assert main(["lge", "--image", str(folder / "lge"), "--labels", str(folder / "labels.nrrd"), "--out", str(out)]) == 0
    written = _texts(out)
    for text in (PATIENT, "DOE", "JANE", "SIMULATED", "labels.nrrd", str(tmp_path)):
        assert text not in written, text


def test_the_unblinding_key_is_identifying_private_and_never_overwritten(tmp_path):
    pair = make_septum_pair(np.random.default_rng(1), markers=False, fov_mm=80.0)
    rows = ["study,sequence,path"]
    for study in ("DOE_JANE", "ROE_RICHARD"):
        for key in ("nr", "hr"):
            path = tmp_path / "data" / study / f"{key}.nrrd"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_volume(path, pair[key].image, pair[key].ijk_to_ras)
            rows.append(f"{study},{key.upper()},data/{study}/{key}.nrrd")
    (tmp_path / "studies.csv").write_text("\n".join(rows) + "\n")
    entries = rs.read_study_list(tmp_path / "studies.csv")
    # blinded copies: session.json and the readers' files hold no study name and no original path
    files = rs.create_session(entries, tmp_path / "blind", blinded_copies=True, readers=["R1"],
                              key_path=tmp_path / "coordinator" / "key.json")
    session_text = files.session.read_text() + "".join(p.read_text() for p in files.readers)
    assert "DOE" not in session_text and "ROE" not in session_text and "data/" not in session_text
    key = json.loads(files.key.read_text())
    assert key["identifying"] is True and "patient data" in key["note"]
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    assert not (tmp_path / "blind" / "key.json").exists()  # kept apart from the readers' folder
    # an existing key unblinds another session: refused, and left as it was
    before = files.key.read_bytes()
    with pytest.raises(rs.SessionError, match="exists already"):
        rs.create_session(entries, tmp_path / "other", key_path=files.key)
    assert files.key.read_bytes() == before and not (tmp_path / "other" / "session.json").exists()
    # without blinded copies the original paths (with the study names) reach session.json: said so
    plain = rs.create_session(entries, tmp_path / "plain")
    assert any("contain their study name" in warning for warning in plain.warnings), plain.warnings
