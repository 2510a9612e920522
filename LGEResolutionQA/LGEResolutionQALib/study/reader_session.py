"""Blinded reader study of LGE series: sessions, the 5-point scoring form and reader score files (core).

The published normal- vs high-resolution comparison had readers score every series, blinded to the
sequence, on 5-point scales. This module holds everything of such a reading that is not display:

* **The form** (``FORM``): image noise, banding, motion artefacts, resolution, overall quality,
  border sharpness, blurring and presence of LGE, each scored 1–5 with every anchor written out,
  plus free text. For the quality criteria 5 is best; presence of LGE is a confidence scale
  (1 = definitely no LGE … 5 = definitely LGE). The anchors are this project's wording.
* **The study list** (``read_study_list``): CSV or JSON rows of ``study``, ``sequence``, ``path``
  (a DICOM series folder, NRRD or NIfTI; relative to the list's folder), any further columns
  (e.g. ``resolution`` NR/HR, ``reconstruction`` IR/PSIR) kept in the key. Any number of studies
  and of sequences per study.
* **A session** (``create_session``), a folder with
  ``session.json`` — what the reading software needs: a random session id, the form, and per case
  an opaque case code (C001…), an opaque patient group code (G01…) and the path of the series.
  No study name, no sequence name, no acquisition detail. With ``blinded_copies`` each series
  is re-written as ``blinded/<case>.nrrd`` (voxels and geometry only: no DICOM header, no series
  description) and the session points to those copies;
  ``key.json`` — the unblinding key for the study coordinator (case -> study, sequence, original
  path, extra columns). It **identifies** the series (study names and original paths may name
  patients): it is marked ``"identifying": true``, written readable by its owner only (mode 0600),
  never overwritten (an existing key is refused: it unblinds another session), and should be kept
  apart from the readers' copy of the folder (``key_path`` writes it elsewhere). Without blinded
  copies session.json holds the original series paths; a warning names the cases whose path
  contains the study or the sequence name;
  ``readers/<reader>.json`` — one score file per reader (``ReaderScores``).
* **Order**: case codes are assigned in a seeded random order; every reader reads the cases in
  their own seeded random order (session seed + reader name), arranged so that two series of the
  same patient do not follow each other where the greedy pass can avoid it.
* **Scores** are saved after every single score (and comment) with an atomic write
  (``atomic.write_json_atomic``): a crash loses nothing that was clicked. Opening an existing
  reader file resumes it (``first_unscored``); a reader file of another session is refused with a
  ``ReaderFileError`` that says which session it belongs to.
* **Export** (``collect_scores``): the reader files joined with the key -> one row per (reader,
  case, criterion) with study and sequence: the input of ``cohort.py``.

Plain JSON/CSV files, read by the CLI (``cardiac-lge reader-session``) and the Slicer module
LGEReaderStudy alike. Standard library only (Slicer loads this file: Python 3.9).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from CardiacLGECommonLib.core.files import check_output_folder, make_output_folder

from LGEResolutionQALib.study.atomic import atomic_path, write_json_atomic

SESSION_SCHEMA = "cardiaclge-reader-session/1"
KEY_SCHEMA = "cardiaclge-reader-key/1"
READER_SCHEMA = "cardiaclge-reader-scores/1"
FORM_ID = "cardiaclge-lge-quality/1"
SCORES = (1, 2, 3, 4, 5)
#: the unblinding key identifies patients (study names, original paths): only its owner may read it
KEY_FILE_MODE = 0o600
READER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


class SessionError(ValueError):
    """A session, key or study list that cannot be used (the message says why and which file)."""


class ReaderFileError(ValueError):
    """A reader score file that does not belong to the session or is damaged."""


# ------------------------------------------------------------------------------------------ form
@dataclass(frozen=True)
class Criterion:
    """One item of the scoring form: ``anchors[i]`` describes score ``i + 1``."""

    key: str
    label: str
    question: str
    anchors: tuple[str, str, str, str, str]
    scale: str = "quality"  # "quality": 5 is best; "confidence": 5 = most confident the finding is present

    def anchor(self, score: int) -> str:
        return self.anchors[int(score) - 1]

    def as_json(self) -> dict:
        return {"key": self.key, "label": self.label, "question": self.question, "scale": self.scale,
                "anchors": {str(score): text for score, text in zip(SCORES, self.anchors)}}

    @classmethod
    def from_json(cls, data: dict) -> Criterion:
        anchors = data["anchors"]
        return cls(str(data["key"]), str(data["label"]), str(data.get("question", "")),
                   tuple(str(anchors[str(score)]) for score in SCORES), str(data.get("scale", "quality")))


FORM = (
    Criterion("image_noise", "Image noise", "How much does image noise affect the assessment of the myocardium?", (
        "Severe noise: myocardium not assessable (non-diagnostic)",
        "Marked noise: assessment clearly limited",
        "Moderate noise: diagnostic, noise clearly visible",
        "Mild noise: hardly affects the assessment",
        "No perceptible noise")),
    Criterion("banding", "Banding artefacts", "How much do banding (off-resonance) artefacts affect the image?", (
        "Severe banding across the heart: non-diagnostic",
        "Marked banding over the myocardium: assessment limited",
        "Moderate banding, myocardium still assessable",
        "Minor banding away from the myocardium",
        "No banding")),
    Criterion("motion_artefacts", "Motion artefacts",
              "How much do respiratory or cardiac motion artefacts (ghosting, motion blur) affect the image?", (
                  "Severe motion artefacts: non-diagnostic",
                  "Marked motion artefacts: assessment limited",
                  "Moderate motion artefacts, diagnostic",
                  "Minor motion artefacts, not affecting the assessment",
                  "No motion artefacts")),
    Criterion("resolution", "Spatial resolution",
              "How well are fine structures (trabeculae, papillary muscles, thin walls, small scars) delineated?", (
                  "Very poor: anatomy not delineable",
                  "Poor: only coarse anatomy delineable",
                  "Adequate: the main structures are delineated",
                  "Good: fine structures mostly delineated",
                  "Excellent: fine structures clearly delineated")),
    Criterion("overall_quality", "Overall image quality", "Overall image quality for the diagnosis of LGE", (
        "Non-diagnostic",
        "Poor: diagnosis uncertain",
        "Adequate for diagnosis",
        "Good",
        "Excellent")),
    Criterion("border_sharpness", "Border sharpness",
              "How sharp are the borders between blood pool, myocardium and scar?", (
                  "Borders not identifiable",
                  "Borders very blurred, hard to trace",
                  "Borders moderately sharp, traceable",
                  "Borders sharp with minor blur",
                  "Borders perfectly sharp")),
    Criterion("blurring", "Blurring", "How much blurring is there in the image as a whole?", (
        "Severe blurring: non-diagnostic",
        "Marked blurring",
        "Moderate blurring",
        "Slight blurring",
        "No blurring")),
    Criterion("lge_presence", "Presence of LGE", "How confident are you that late gadolinium enhancement is present?", (
        "Definitely no LGE",
        "Probably no LGE",
        "Uncertain",
        "Probably LGE",
        "Definitely LGE"), scale="confidence"),
)


def form_as_json(form=FORM) -> dict:
    return {"id": FORM_ID, "scores": list(SCORES), "criteria": [criterion.as_json() for criterion in form],
            "free_text": "comment"}


def form_from_json(data: dict, source: str = "the session") -> tuple[Criterion, ...]:
    try:
        criteria = tuple(Criterion.from_json(item) for item in data["criteria"])
    except (KeyError, TypeError) as error:
        raise SessionError(f"The scoring form in {source} is incomplete (missing {error}).") from error
    keys = [criterion.key for criterion in criteria]
    if not criteria or len(set(keys)) != len(keys):
        raise SessionError(f"The scoring form in {source} has no criteria or repeated keys: {keys}.")
    return criteria


# ------------------------------------------------------------------------------------ study list
@dataclass(frozen=True)
class SeriesEntry:
    """One series of the study list. ``path`` is absolute; ``extra`` holds further columns."""

    study: str
    sequence: str
    path: str
    extra: dict = field(default_factory=dict)


def _clean(value, what: str, where: str) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        raise SessionError(f"{where}: the {what} is empty.")
    return text


def read_study_list(path, check_paths: bool = True) -> list[SeriesEntry]:
    """Series of a study list (CSV with columns study, sequence, path [, more]; or JSON, see below).

    JSON: either a list of such rows, or ``{"studies": [{"study": "P01", "series": [{"sequence":
    "NR-IR", "path": "..."}, ...]}, ...]}``. Relative paths are relative to the list's folder.
    Raises SessionError for a missing column, an empty field or a study listing a sequence twice, and
    FileNotFoundError (``check_paths``) naming the series whose path does not exist.
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"Study list not found: {source}")
    rows: list[tuple[str, dict]] = []
    if source.suffix.lower() == ".json":
        try:
            document = json.loads(source.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise SessionError(f"Study list {source} is not valid JSON: {error}") from error
        if isinstance(document, dict) and "studies" in document:
            for s, study in enumerate(document["studies"]):
                if not isinstance(study, dict) or "series" not in study:
                    raise SessionError(f"{source}: studies[{s}] needs 'study' and 'series'.")
                for n, series in enumerate(study["series"]):
                    rows.append((f"{source} studies[{s}].series[{n}]", {"study": study.get("study"), **series}))
        elif isinstance(document, list):
            rows = [(f"{source} [{n}]", dict(row)) for n, row in enumerate(document)]
        else:
            raise SessionError(f"Study list {source}: expected a list of series or {{'studies': [...]}}.")
    else:
        with source.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = {name.strip().lower(): name for name in (reader.fieldnames or [])}
            missing = [name for name in ("study", "sequence", "path") if name not in columns]
            if missing:
                raise SessionError(f"Study list {source} has no column {', '.join(missing)} "
                                   f"(it has: {', '.join(reader.fieldnames or []) or 'nothing'}).")
            for line, row in enumerate(reader, start=2):
                rows.append((f"{source} line {line}", {key.strip().lower(): value for key, value in row.items()
                                                        if key is not None}))
    if not rows:
        raise SessionError(f"Study list {source} lists no series.")
    entries, seen, missing_paths = [], {}, []
    for where, row in rows:
        study = _clean(row.get("study"), "study", where)
        sequence = _clean(row.get("sequence"), "sequence", where)
        raw = _clean(row.get("path"), "path", where)
        if (study, sequence) in seen:
            raise SessionError(f"Study '{study}' lists sequence '{sequence}' twice ({seen[(study, sequence)]} and "
                               f"{where}); give each series of a study its own sequence name.")
        seen[(study, sequence)] = where
        resolved = Path(raw) if Path(raw).is_absolute() else (source.parent / raw)
        if check_paths and not resolved.exists():
            missing_paths.append(f"{study}/{sequence}: {resolved}")
        extra = {k: ("" if v is None else str(v)) for k, v in row.items() if k not in ("study", "sequence", "path")}
        entries.append(SeriesEntry(study, sequence, str(resolved.resolve()), extra))
    if missing_paths:
        shown = "; ".join(missing_paths[:5]) + (f"; and {len(missing_paths) - 5} more" if len(missing_paths) > 5 else "")
        raise FileNotFoundError(f"Study list {source}: {len(missing_paths)} series not found: {shown}")
    return entries


# --------------------------------------------------------------------------------------- session
@dataclass(frozen=True)
class SessionCase:
    """One case of a session as the reader sees it: an opaque code, a patient group code, a path."""

    case: str
    group: str
    path: str


@dataclass(frozen=True, eq=False)
class ReaderSession:
    """A loaded ``session.json``. ``folder``: the session folder (relative paths are relative to it)."""

    session_id: str
    created_utc: str
    seed: int
    form: tuple[Criterion, ...]
    cases: tuple[SessionCase, ...]
    folder: Path
    title: str = ""

    @property
    def criteria_keys(self) -> list[str]:
        return [criterion.key for criterion in self.form]

    @property
    def case_codes(self) -> list[str]:
        return [case.case for case in self.cases]

    def case(self, code: str) -> SessionCase:
        for case in self.cases:
            if case.case == code:
                return case
        raise SessionError(f"Case '{code}' is not part of session {self.session_id}.")

    def series_path(self, code: str) -> Path:
        """Absolute path of the series of case ``code``."""
        path = Path(self.case(code).path)
        return path if path.is_absolute() else (self.folder / path)

    def criterion(self, key: str) -> Criterion:
        for criterion in self.form:
            if criterion.key == key:
                return criterion
        raise SessionError(f"'{key}' is not a criterion of this session's form ({', '.join(self.criteria_keys)}).")

    def reader_path(self, reader: str) -> Path:
        return self.folder / "readers" / f"{check_reader_name(reader)}.json"

    def reader_files(self) -> list[Path]:
        return sorted((self.folder / "readers").glob("*.json"))


@dataclass(frozen=True)
class SessionFiles:
    session: Path
    key: Path
    readers: tuple[Path, ...] = ()
    blinded: tuple[Path, ...] = ()
    warnings: tuple[str, ...] = ()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def check_reader_name(reader: str) -> str:
    text = (reader or "").strip()
    if not READER_NAME.match(text):
        raise ReaderFileError(f"Reader name {reader!r}: use 1-40 letters, digits, '.', '_' or '-' (e.g. initials or "
                              "R1); it names the reader's file.")
    return text


def _codes(prefix: str, n: int) -> list[str]:
    width = max(2 if prefix == "G" else 3, len(str(n)))
    return [f"{prefix}{i + 1:0{width}d}" for i in range(n)]


def create_session(entries, out_dir, seed: int = 0, blinded_copies: bool = False, key_path=None,
                   readers=(), title: str = "", form=FORM) -> SessionFiles:
    """Write ``session.json``, ``key.json`` (or ``key_path``) and an empty score file per reader.

    Refuses to overwrite an existing session in ``out_dir`` (its readers' scores would be orphaned).
    ``blinded_copies``: read every series (``io.definitions.read_volume``) and write it as
    ``blinded/<case>.nrrd``; the session then points to the copies.
    """
    entries = list(entries)
    if not entries:
        raise SessionError("No series to read: the study list is empty.")
    folder = Path(out_dir)
    if (folder / "session.json").exists():
        raise SessionError(f"{folder / 'session.json'} exists already: a session folder holds one session "
                           "(choose another folder, or resume the existing session).")
    key_file = Path(key_path) if key_path else folder / "key.json"
    check_output_folder(folder)  # before reading any series (blinded copies take long)
    check_output_folder(key_file.parent)
    if key_file.is_dir():
        raise SessionError(f"The key {key_file} is a folder; give a file name for the unblinding key.")
    if key_file.exists():
        raise SessionError(f"The key {key_file} exists already: it unblinds another session (choose another --key).")
    readers = [check_reader_name(r) for r in readers]
    rng = np.random.default_rng(int(seed))
    studies = list(dict.fromkeys(entry.study for entry in entries))
    group_of = {study: code for study, code in zip([studies[i] for i in rng.permutation(len(studies))],
                                                   _codes("G", len(studies)))}
    shuffled = [entries[i] for i in rng.permutation(len(entries))]
    codes = _codes("C", len(entries))
    session_id = uuid.uuid4().hex
    make_output_folder(folder)
    warnings, blinded, study_in_path = [], [], []
    cases, key_cases = [], {}
    for code, entry in zip(codes, shuffled):
        path = entry.path
        if blinded_copies:
            from LGEResolutionQALib.io.definitions import read_volume, write_volume

            target = folder / "blinded" / f"{code}.nrrd"
            target.parent.mkdir(exist_ok=True)
            volume = read_volume(entry.path, code)
            with atomic_path(target) as temporary:
                write_volume(temporary, volume.array, volume.ijk_to_ras)
            blinded.append(target)
            path = target.relative_to(folder).as_posix()
        elif entry.sequence.lower() in Path(entry.path).as_posix().lower():
            warnings.append(f"the path of case {code} contains its sequence name '{entry.sequence}'")
        if not blinded_copies and entry.study.lower() in Path(entry.path).as_posix().lower():
            study_in_path.append(code)
        cases.append({"case": code, "group": group_of[entry.study], "path": path})
        key_cases[code] = {"study": entry.study, "sequence": entry.sequence, "path": entry.path, **entry.extra}
    if warnings:
        warnings = [f"{len(warnings)} series paths reveal the sequence (e.g. {warnings[0]}): a reader who sees "
                    "the paths is not blinded; use blinded copies (--blinded-copies)."]
    if study_in_path:
        warnings.append(f"{len(study_in_path)} series paths in session.json contain their study name (e.g. case "
                        f"{study_in_path[0]}): readers see it, and a study name may identify the patient; use blinded "
                        "copies (--blinded-copies).")
    created = _now()
    session_doc = {"schema": SESSION_SCHEMA, "session_id": session_id, "title": title, "created_utc": created,
                   "seed": int(seed), "form": form_as_json(form), "cases": sorted(cases, key=lambda c: c["case"])}
    key_doc = {"schema": KEY_SCHEMA, "session_id": session_id, "created_utc": created, "identifying": True,
               "note": "Unblinding key: it maps case codes to study names, sequences and the original paths of the "
                       "series, which may identify patients. Keep it away from the readers and treat it as patient data.",
               "cases": key_cases}
    write_json_atomic(key_file, key_doc, mode=KEY_FILE_MODE)
    session_file = write_json_atomic(folder / "session.json", session_doc)
    session = load_session(session_file)
    reader_paths = tuple(ReaderScores.open(session, reader).path for reader in readers)
    return SessionFiles(session_file, key_file, reader_paths, tuple(blinded), tuple(warnings))


def _load_json(path: Path, what: str, error_type=SessionError) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise error_type(f"{what} {path} is not valid JSON (damaged?): {error}") from error
    if not isinstance(document, dict):
        raise error_type(f"{what} {path} is not a JSON object.")
    return document


def _require(document: dict, keys, path: Path, what: str, error_type=SessionError) -> None:
    missing = [key for key in keys if key not in document]
    if missing:
        raise error_type(f"{what} {path} has no '{missing[0]}' entry: not a CardiacLGE {what.lower()}, or damaged.")


def load_session(path) -> ReaderSession:
    """Read ``session.json`` (``path``: the file or its folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / "session.json"
    document = _load_json(path, "Reading session")
    _require(document, ("schema", "session_id", "form", "cases"), path, "Reading session")
    if document["schema"] != SESSION_SCHEMA:
        raise SessionError(f"{path} is a '{document['schema']}' file, not a reading session ({SESSION_SCHEMA}).")
    try:
        cases = tuple(SessionCase(str(c["case"]), str(c.get("group", "")), str(c["path"])) for c in document["cases"])
    except (KeyError, TypeError) as error:
        raise SessionError(f"Reading session {path}: a case has no {error} entry.") from error
    codes = [case.case for case in cases]
    if not cases or len(set(codes)) != len(codes):
        raise SessionError(f"Reading session {path} has no cases or repeated case codes.")
    return ReaderSession(str(document["session_id"]), str(document.get("created_utc", "")),
                         int(document.get("seed", 0)), form_from_json(document["form"], str(path)), cases,
                         path.parent, str(document.get("title", "")))


def load_key(path, session: ReaderSession) -> dict[str, dict]:
    """The unblinding key (case -> study, sequence, ...) of ``session``; refuses another session's key."""
    path = Path(path)
    document = _load_json(path, "Unblinding key")
    _require(document, ("schema", "session_id", "cases"), path, "Unblinding key")
    if document["session_id"] != session.session_id:
        raise SessionError(f"The key {path} belongs to session {document['session_id']}, not to session "
                           f"{session.session_id} ({session.folder / 'session.json'}).")
    cases = document["cases"]
    missing = [code for code in session.case_codes if code not in cases]
    if missing:
        raise SessionError(f"The key {path} has no entry for case(s) {', '.join(missing[:5])}.")
    for code in session.case_codes:
        for column in ("study", "sequence"):
            if not str(cases[code].get(column, "")).strip():
                raise SessionError(f"The key {path}: case {code} has no {column}.")
    return {code: dict(cases[code]) for code in session.case_codes}


# ---------------------------------------------------------------------------------- reader order
def reader_order(session: ReaderSession, reader: str) -> list[str]:
    """The reading order of ``reader``: seeded by the session seed and the reader's name, then arranged
    so that no two cases of the same patient group follow each other where a greedy pass can avoid it."""
    digest = int.from_bytes(hashlib.sha256(check_reader_name(reader).encode("utf-8")).digest()[:8], "little")
    rng = np.random.default_rng([int(session.seed), digest])
    remaining = [session.cases[i] for i in rng.permutation(len(session.cases))]
    order: list[SessionCase] = []
    while remaining:
        pick = next((i for i, case in enumerate(remaining) if not order or not case.group
                     or case.group != order[-1].group), 0)
        order.append(remaining.pop(pick))
    return [case.case for case in order]


# --------------------------------------------------------------------------------- reader scores
class ReaderScores:
    """One reader's score file (``readers/<reader>.json``), saved atomically after every change.

    ``open`` creates it (with the reader's order) or resumes it. The file holds the session id; a
    file of another session, another form, or with cases this session does not have is refused.
    ``revision`` counts saves: if the file on disk changed since it was read (the same reader open
    in two programs), saving refuses instead of overwriting the other program's scores.
    """

    def __init__(self, session: ReaderSession, path: Path, document: dict):
        self.session = session
        self.path = Path(path)
        self._doc = document

    # ---------------------------------------------------------------- opening
    @classmethod
    def open(cls, session: ReaderSession, reader: str, path=None, create: bool = True) -> ReaderScores:
        reader = check_reader_name(reader)
        path = Path(path) if path else session.reader_path(reader)
        if path.exists():
            scores = cls.load(session, path)
            if scores.reader != reader:
                raise ReaderFileError(f"{path} is the file of reader '{scores.reader}', not of '{reader}'.")
            return scores
        if not create:
            raise FileNotFoundError(f"No score file for reader '{reader}' in this session: {path}")
        now = _now()
        document = {"schema": READER_SCHEMA, "session_id": session.session_id, "form_id": FORM_ID,
                    "criteria": session.criteria_keys, "reader": reader, "created_utc": now, "updated_utc": now,
                    "revision": 0, "order": reader_order(session, reader), "cases": {}}
        scores = cls(session, path, document)
        scores.save()
        return scores

    @classmethod
    def load(cls, session: ReaderSession, path) -> ReaderScores:
        path = Path(path)
        document = _load_json(path, "Reader file", ReaderFileError)
        _require(document, ("schema", "session_id", "reader", "order", "cases"), path, "Reader file", ReaderFileError)
        if document["schema"] != READER_SCHEMA:
            raise ReaderFileError(f"{path} is a '{document['schema']}' file, not a reader score file.")
        if document["session_id"] != session.session_id:
            raise ReaderFileError(
                f"The reader file {path} (reader '{document['reader']}', created {document.get('created_utc', '?')}) "
                f"belongs to another reading session ({document['session_id']}), not to this one "
                f"({session.session_id}, {session.folder / 'session.json'}). Open it with the session it was "
                "made for, or start a new reader file for this session.")
        unknown = [key for key in document.get("criteria", session.criteria_keys) if key not in session.criteria_keys]
        if unknown:
            raise ReaderFileError(f"The reader file {path} scores criteria this session's form does not have: {unknown}.")
        order = [str(code) for code in document["order"]]
        if sorted(order) != sorted(session.case_codes):
            raise ReaderFileError(f"The reader file {path} lists other cases than session {session.session_id} "
                                  f"({len(order)} vs {len(session.cases)}): damaged or edited by hand.")
        for code, entry in document["cases"].items():
            if code not in session.case_codes:
                raise ReaderFileError(f"The reader file {path} has scores for case '{code}', not part of this session.")
            for key, value in entry.get("scores", {}).items():
                if key not in session.criteria_keys or value not in SCORES:
                    raise ReaderFileError(f"The reader file {path}: case {code} has an invalid score {key}={value!r}.")
        return cls(session, path, document)

    # ---------------------------------------------------------------- reading
    @property
    def reader(self) -> str:
        return str(self._doc["reader"])

    @property
    def order(self) -> list[str]:
        return list(self._doc["order"])

    @property
    def revision(self) -> int:
        return int(self._doc.get("revision", 0))

    def scores(self, case: str) -> dict[str, int]:
        return dict(self._doc["cases"].get(case, {}).get("scores", {}))

    def comment(self, case: str) -> str:
        return str(self._doc["cases"].get(case, {}).get("comment", ""))

    def is_complete(self, case: str) -> bool:
        return set(self.session.criteria_keys) <= set(self.scores(case))

    def missing_criteria(self, case: str) -> list[str]:
        done = self.scores(case)
        return [key for key in self.session.criteria_keys if key not in done]

    def progress(self) -> tuple[int, int]:
        """(complete cases, all cases)."""
        return sum(self.is_complete(code) for code in self.order), len(self.order)

    def first_unscored(self, start: int = 0):
        """Index in ``order`` of the first incomplete case at or after ``start`` (wrapping), None when all done."""
        order = self.order
        for offset in range(len(order)):
            index = (start + offset) % len(order)
            if not self.is_complete(order[index]):
                return index
        return None

    # ---------------------------------------------------------------- writing
    def _entry(self, case: str) -> dict:
        self.session.case(case)  # raises for a case of another session
        return self._doc["cases"].setdefault(case, {"scores": {}, "comment": ""})

    def score(self, case: str, criterion: str, value: int) -> None:
        """Record ``value`` (1-5) for ``criterion`` of ``case`` and save at once."""
        self.session.criterion(criterion)
        if isinstance(value, bool) or value not in SCORES:
            raise ValueError(f"A score is an integer 1-5; got {value!r} for {criterion}.")
        entry = self._entry(case)
        entry["scores"][criterion] = int(value)
        entry["updated_utc"] = _now()
        self.save()

    def score_case(self, case: str, scores: dict, comment=None) -> None:
        """Record several scores (criterion -> 1-5) and optionally the comment of ``case``: one save."""
        for criterion, value in scores.items():
            self.session.criterion(criterion)
            if isinstance(value, bool) or value not in SCORES:
                raise ValueError(f"A score is an integer 1-5; got {value!r} for {criterion}.")
        entry = self._entry(case)
        entry["scores"].update({criterion: int(value) for criterion, value in scores.items()})
        if comment is not None:
            entry["comment"] = str(comment)
        entry["updated_utc"] = _now()
        self.save()

    def clear_score(self, case: str, criterion: str) -> None:
        entry = self._entry(case)
        if entry["scores"].pop(criterion, None) is not None:
            self.save()

    def set_comment(self, case: str, text: str) -> None:
        """Free text of ``case`` (saved at once when it changed)."""
        text = "" if text is None else str(text)
        if text == self.comment(case):
            return
        entry = self._entry(case)
        entry["comment"] = text
        entry["updated_utc"] = _now()
        self.save()

    def save(self) -> None:
        if self.path.exists():
            try:
                on_disk = json.loads(self.path.read_text(encoding="utf-8")).get("revision", 0)
            except (OSError, json.JSONDecodeError):
                on_disk = None
            if on_disk != self.revision:
                raise ReaderFileError(f"{self.path} was changed by another program since it was opened (revision "
                                      f"{on_disk}, expected {self.revision}); reopen it to continue.")
        self._doc["revision"] = self.revision + 1
        self._doc["updated_utc"] = _now()
        try:
            write_json_atomic(self.path, self._doc)
        except BaseException:
            self._doc["revision"] = self.revision - 1
            raise


# ---------------------------------------------------------------------------------------- export
SCORE_COLUMNS = ("study", "sequence", "reader", "case", "criterion", "score")


@dataclass(frozen=True)
class ExportedScores:
    rows: tuple[dict, ...]
    comments: tuple[dict, ...]
    incomplete: dict  # reader -> number of incomplete cases


def collect_scores(session: ReaderSession, key: dict, reader_paths=None) -> ExportedScores:
    """Every score of every reader file (default: ``readers/*.json`` of the session), unblinded by ``key``."""
    paths = [Path(p) for p in (reader_paths if reader_paths else session.reader_files())]
    if not paths:
        raise SessionError(f"No reader files in {session.folder / 'readers'}.")
    rows, comments, incomplete, seen = [], [], {}, {}
    for path in paths:
        scores = ReaderScores.load(session, path)
        if scores.reader in seen:
            raise ReaderFileError(f"Reader '{scores.reader}' has two files: {seen[scores.reader]} and {path}.")
        seen[scores.reader] = path
        incomplete[scores.reader] = sum(not scores.is_complete(code) for code in scores.order)
        for code in sorted(scores.order):
            entry = key[code]
            for criterion in session.criteria_keys:
                value = scores.scores(code).get(criterion)
                if value is not None:
                    rows.append({"study": entry["study"], "sequence": entry["sequence"], "reader": scores.reader,
                                 "case": code, "criterion": criterion, "score": int(value)})
            if scores.comment(code):
                comments.append({"study": entry["study"], "sequence": entry["sequence"], "reader": scores.reader,
                                 "case": code, "comment": scores.comment(code)})
    return ExportedScores(tuple(rows), tuple(comments), incomplete)


def write_csv_atomic(path, rows, columns) -> Path:
    with atomic_path(path) as temporary:
        with open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    return Path(path)


def read_scores_csv(path) -> list[dict]:
    """Rows of an exported score table (``SCORE_COLUMNS``); scores checked to be integers 1-5."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Score table not found: {path}")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in SCORE_COLUMNS if c not in (reader.fieldnames or []) and c != "case"]
        if missing:
            raise SessionError(f"Score table {path} has no column {', '.join(missing)} (expected {', '.join(SCORE_COLUMNS)}).")
        rows = []
        for line, row in enumerate(reader, start=2):
            try:
                value = int(str(row["score"]).strip())
            except ValueError:
                value = None
            if value not in SCORES:
                raise SessionError(f"Score table {path} line {line}: score {row['score']!r} is not an integer 1-5.")
            for column in ("study", "sequence", "reader", "criterion"):
                if not str(row.get(column) or "").strip():
                    raise SessionError(f"Score table {path} line {line}: the {column} is empty.")
            rows.append({"study": row["study"].strip(), "sequence": row["sequence"].strip(),
                         "reader": row["reader"].strip(), "case": (row.get("case") or "").strip(),
                         "criterion": row["criterion"].strip(), "score": value})
    if not rows:
        raise SessionError(f"Score table {path} has no scores.")
    return rows
