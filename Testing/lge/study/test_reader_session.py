"""Blinded reader sessions (core): study lists, blinding, seeded orders, score files saved after every
score, resume, several readers, refusal of another session's files, and the unblinded export."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from LGEResolutionQALib.io.definitions import read_volume, write_volume
from LGEResolutionQALib.study import reader_session as rs


def _write_series(folder, studies=("P01", "P02", "P03"), sequences=("NR-IR", "HR-IR")):
    rows = ["study,sequence,path,resolution"]
    rng = np.random.default_rng(0)
    for study in studies:
        for sequence in sequences:
            path = folder / "series" / f"{study}_{sequence}.nrrd"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_volume(path, rng.random((1, 8, 8)).astype(np.float32), np.diag([1.5, 1.5, 8.0, 1.0]))
            rows.append(f"{study},{sequence},series/{path.name},{sequence[:2]}")
    (folder / "studies.csv").write_text("\n".join(rows) + "\n")
    return folder / "studies.csv"


@pytest.fixture
def session(tmp_path):
    entries = rs.read_study_list(_write_series(tmp_path))
    files = rs.create_session(entries, tmp_path / "session", seed=7, readers=("R1", "R2"))
    return rs.load_session(files.session), files


def test_form_has_every_published_criterion_with_five_written_anchors():
    keys = [c.key for c in rs.FORM]
    assert keys == ["image_noise", "banding", "motion_artefacts", "resolution", "overall_quality", "border_sharpness",
                    "blurring", "lge_presence"]
    for criterion in rs.FORM:
        assert len(criterion.anchors) == 5 and all(len(text) > 3 for text in criterion.anchors)
        assert len(set(criterion.anchors)) == 5
    assert rs.FORM[-1].scale == "confidence" and rs.FORM[-1].anchor(5) == "Definitely LGE"
    assert rs.form_from_json(rs.form_as_json()) == rs.FORM


def test_study_list_csv_and_json_with_clear_errors(tmp_path):
    csv_path = _write_series(tmp_path, studies=("P01",))
    entries = rs.read_study_list(csv_path)
    assert [(e.study, e.sequence) for e in entries] == [("P01", "NR-IR"), ("P01", "HR-IR")]
    assert os.path.isabs(entries[0].path) and entries[0].extra == {"resolution": "NR"}
    document = {"studies": [{"study": "P01", "series": [{"sequence": "NR-IR", "path": "series/P01_NR-IR.nrrd"},
                                                       {"sequence": "HR-IR", "path": "series/P01_HR-IR.nrrd"}]}]}
    (tmp_path / "studies.json").write_text(json.dumps(document))
    assert [e.path for e in rs.read_study_list(tmp_path / "studies.json")] == [e.path for e in entries]
    (tmp_path / "bad.csv").write_text("study,path\nP01,x.nrrd\n")
    with pytest.raises(rs.SessionError, match="no column sequence"):
        rs.read_study_list(tmp_path / "bad.csv")
    (tmp_path / "twice.csv").write_text("study,sequence,path\nP01,NR,series/P01_NR-IR.nrrd\nP01,NR,series/P01_HR-IR.nrrd\n")
    with pytest.raises(rs.SessionError, match="lists sequence 'NR' twice"):
        rs.read_study_list(tmp_path / "twice.csv")
    (tmp_path / "gone.csv").write_text("study,sequence,path\nP01,NR,nowhere.nrrd\n")
    with pytest.raises(FileNotFoundError, match="1 series not found: P01/NR"):
        rs.read_study_list(tmp_path / "gone.csv")


def test_session_file_is_blinded_and_the_key_unblinds(session, tmp_path):
    loaded, files = session
    document = json.loads(files.session.read_text())
    assert all(set(case) == {"case", "group", "path"} for case in document["cases"])
    for case in document["cases"]:
        case.pop("path")  # (the paths here name the sequence: see the warning below)
    text = json.dumps(document)
    for hidden in ("P01", "P02", "NR-IR", "HR-IR", "study", "sequence"):
        assert hidden not in text
    assert [c.case for c in loaded.cases] == [f"C{i:03d}" for i in range(1, 7)]
    assert len({c.group for c in loaded.cases}) == 3
    key = rs.load_key(files.key, loaded)
    assert sorted((v["study"], v["sequence"]) for v in key.values()) == sorted(
        (s, q) for s in ("P01", "P02", "P03") for q in ("NR-IR", "HR-IR"))
    # Both series of a patient share a group code, and only that.
    for code, entry in key.items():
        partner = next(c for c, e in key.items() if e["study"] == entry["study"] and c != code)
        assert loaded.case(code).group == loaded.case(partner).group
    # The paths name the sequence here: the session says a reader who sees them is not blinded.
    assert files.warnings and "--blinded-copies" in files.warnings[0]
    with pytest.raises(rs.SessionError, match="exists already"):
        rs.create_session(rs.read_study_list(tmp_path / "studies.csv"), tmp_path / "session")


def test_blinded_copies_hold_the_voxels_and_nothing_else(tmp_path):
    entries = rs.read_study_list(_write_series(tmp_path, studies=("P01",)))
    files = rs.create_session(entries, tmp_path / "s", seed=1, blinded_copies=True)
    session = rs.load_session(files.session)
    key = rs.load_key(files.key, session)
    assert not files.warnings and len(files.blinded) == 2
    for code in session.case_codes:
        path = session.series_path(code)
        assert path.name == f"{code}.nrrd" and path.parent.name == "blinded"
        original, copy = read_volume(key[code]["path"]), read_volume(path)
        np.testing.assert_array_equal(copy.array, original.array)
        np.testing.assert_allclose(copy.ijk_to_ras, original.ijk_to_ras)
        assert b"NR-IR" not in path.read_bytes() and b"P01" not in path.read_bytes()


def test_reader_orders_are_seeded_per_reader_and_keep_a_patient_apart(tmp_path):
    entries = rs.read_study_list(_write_series(tmp_path, studies=[f"P{i:02d}" for i in range(10)]))
    session = rs.load_session(rs.create_session(entries, tmp_path / "s", seed=3).session)
    first, again, other = rs.reader_order(session, "R1"), rs.reader_order(session, "R1"), rs.reader_order(session, "R2")
    assert first == again and first != other and sorted(first) == sorted(session.case_codes)
    for order in (first, other):
        groups = [session.case(code).group for code in order]
        assert all(a != b for a, b in zip(groups, groups[1:], strict=False))


def test_every_score_is_on_disk_at_once_and_a_reader_resumes(session):
    loaded, files = session
    reader = rs.ReaderScores.open(loaded, "R1")
    first = reader.order[0]
    reader.score(first, "image_noise", 4)
    # A "crash" here: nothing but the file survives. The file already holds the score.
    on_disk = json.loads(reader.path.read_text())
    assert on_disk["cases"][first]["scores"] == {"image_noise": 4}
    for criterion in loaded.criteria_keys:
        reader.score(first, criterion, 3)
    reader.set_comment(first, "ghosting at the apex")
    reader.score(reader.order[1], "banding", 5)
    resumed = rs.ReaderScores.open(loaded, "R1")
    assert resumed.is_complete(first) and resumed.comment(first) == "ghosting at the apex"
    assert resumed.first_unscored() == 1 and resumed.missing_criteria(resumed.order[1])[0] == "image_noise"
    assert resumed.progress() == (1, 6)
    with pytest.raises(ValueError, match="integer 1-5"):
        resumed.score(first, "banding", 6)
    with pytest.raises(rs.SessionError, match="not a criterion"):
        resumed.score(first, "sharpness", 3)
    with pytest.raises(rs.SessionError, match="not part of session"):
        resumed.score("C999", "banding", 3)
    # Readers have their own files and orders.
    other = rs.ReaderScores.open(loaded, "R2")
    assert other.path != resumed.path and other.progress() == (0, 6) and other.order != resumed.order


def test_a_failed_write_leaves_the_previous_file(session, monkeypatch):
    loaded, _ = session
    reader = rs.ReaderScores.open(loaded, "R1")
    reader.score(reader.order[0], "banding", 2)
    before = reader.path.read_text()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        reader.score(reader.order[0], "banding", 4)
    monkeypatch.undo()
    assert reader.path.read_text() == before
    assert not [p for p in reader.path.parent.iterdir() if p.name.startswith(".")]  # no temporary file left
    reader.score(reader.order[0], "banding", 4)  # and the reader goes on
    assert rs.ReaderScores.open(loaded, "R1").scores(reader.order[0])["banding"] == 4


def test_another_sessions_reader_file_is_refused(session, tmp_path):
    loaded, files = session
    rs.ReaderScores.open(loaded, "R1").score(loaded.case_codes[0], "banding", 3)
    other = rs.load_session(rs.create_session(rs.read_study_list(tmp_path / "studies.csv"), tmp_path / "other").session)
    with pytest.raises(rs.ReaderFileError, match="belongs to another reading session") as error:
        rs.ReaderScores.open(other, "R1", path=loaded.reader_path("R1"))
    assert loaded.session_id in str(error.value) and other.session_id in str(error.value)
    with pytest.raises(rs.SessionError, match="belongs to session"):
        rs.load_key(files.key, other)
    with pytest.raises(rs.ReaderFileError, match="not of 'R2'"):
        rs.ReaderScores.open(loaded, "R2", path=loaded.reader_path("R1"))
    with pytest.raises(rs.ReaderFileError, match="Reader name"):
        rs.ReaderScores.open(loaded, "../escape")


def test_two_programs_on_one_reader_file_do_not_overwrite_each_other(session):
    loaded, _ = session
    first = rs.ReaderScores.open(loaded, "R1")
    second = rs.ReaderScores.open(loaded, "R1")
    first.score(loaded.case_codes[0], "banding", 3)
    with pytest.raises(rs.ReaderFileError, match="changed by another program"):
        second.score(loaded.case_codes[0], "banding", 1)
    assert rs.ReaderScores.open(loaded, "R1").scores(loaded.case_codes[0]) == {"banding": 3}


def test_damaged_reader_files_are_refused(session):
    loaded, _ = session
    reader = rs.ReaderScores.open(loaded, "R1")
    document = json.loads(reader.path.read_text())
    document["order"] = document["order"][:-1]
    reader.path.write_text(json.dumps(document))
    with pytest.raises(rs.ReaderFileError, match="other cases"):
        rs.ReaderScores.open(loaded, "R1")
    reader.path.write_text("{not json")
    with pytest.raises(rs.ReaderFileError, match="not valid JSON"):
        rs.ReaderScores.open(loaded, "R1")


def test_export_unblinds_every_score_and_round_trips_through_csv(session, tmp_path):
    loaded, files = session
    key = rs.load_key(files.key, loaded)
    for name, value in (("R1", 4), ("R2", 2)):
        reader = rs.ReaderScores.open(loaded, name)
        for code in reader.order[:2]:
            for criterion in loaded.criteria_keys:
                reader.score(code, criterion, value)
        reader.set_comment(reader.order[0], f"note {name}")
    exported = rs.collect_scores(loaded, key)
    assert len(exported.rows) == 2 * 2 * len(loaded.criteria_keys)
    assert exported.incomplete == {"R1": 4, "R2": 4}
    assert {row["study"] for row in exported.rows} <= {"P01", "P02", "P03"}
    assert len(exported.comments) == 2
    path = rs.write_csv_atomic(tmp_path / "scores.csv", exported.rows, rs.SCORE_COLUMNS)
    assert rs.read_scores_csv(path) == list(exported.rows)
    (tmp_path / "bad.csv").write_text("study,sequence,reader,criterion,score\nP01,NR,R1,banding,7\n")
    with pytest.raises(rs.SessionError, match="line 2: score '7' is not an integer 1-5"):
        rs.read_scores_csv(tmp_path / "bad.csv")
