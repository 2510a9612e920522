"""The bad-input matrix of issue 12 (F22): the inputs a new or a hostile user can give the TI side of the
command line, each with the exact class of outcome it must get.

Every row (:class:`Case`) names the issue item whose promise it checks, builds its input in a fresh folder from
shared base data (:class:`BaseData`: simulated scouts written as DICOM, pictures of them, a TI table), runs
``cardiac-lge`` in-process and classifies what happened (:func:`run_case`):

* ``error``   exit status 2 and a one-line message (no traceback) matching ``pattern`` (a message that does
  not match is an ``unclear error``: e.g. not naming the file);
* ``warning`` exit status 0, the answer given, and ``pattern`` found in the printed report, the JSON's
  warnings or its ``skipped`` list (or the batch CSV);
* ``result``  exit status 0 and ``check`` confirms the numbers (e.g. the null within 25 ms of the truth).

An outcome of another class is a broken promise: a ``traceback`` (an exception escaped ``main``), or
``silent wrong`` (exit 0 where an error or a warning was due, or a result whose numbers are wrong).
``absent`` lists text that must appear in no output (patient-like names: issue item D17).

Testing/cli/test_bad_input_matrix.py runs every row as one parametrised test; run that file as a script for
the counts (cases, clear errors, warnings, results, tracebacks, silent wrong).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np
import pydicom

#: The simulated scouts' null must come out within this many ms (the shipped models on held-out series: the
#: series null is within 25 ms for all but a few %; these seeds are fixed).
NULL_TOLERANCE_MS = 25.0


@dataclass
class Run:
    """What one invocation did."""

    status: int | None
    stdout: str
    stderr: str
    error: BaseException | None
    workdir: Path
    json: dict | None = None
    csv_rows: list[dict] | None = None

    @property
    def text(self) -> str:
        """Everything a user sees or gets: printed output, the JSON and the CSV."""
        parts = [self.stdout, self.stderr]
        if self.json is not None:
            parts.append(json.dumps(self.json))
        if self.csv_rows is not None:
            parts.append(json.dumps(self.csv_rows))
        return "\n".join(parts)


@dataclass(frozen=True)
class Case:
    id: str
    item: str
    build: Callable[[Path, BaseData], list[str]]
    outcome: str  # "error" | "warning" | "result"
    pattern: str = ""
    check: Callable[[Run, BaseData], bool] | None = None
    absent: tuple[str, ...] = ()
    #: (target, attribute, replacement factory(workdir, data)) applied with unittest.mock.patch.object while the case runs
    patches: tuple = field(default=())


@dataclass(frozen=True)
class Observed:
    kind: str  # "error" | "warning" | "result" | "unclear error" | "traceback" | "silent wrong"
    detail: str


# --------------------------------------------------------------------------------------------- base data
class BaseData:
    """Inputs shared by the rows, written once into ``root``: simulated scouts as DICOM (Siemens: InversionTime;
    Philips: TriggerTime with the inversion-recovery markers), an inversion-recovery phantom that is no heart,
    pictures with unpadded names and their TI table."""

    def __init__(self, root: Path) -> None:
        from TINullCorrectionLib.sim.dicom_writer import write_scout_dicom
        from TINullCorrectionLib.sim.simulator import simulate_scout

        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.simulated = simulate_scout(np.random.default_rng(2026), n_frames=14, ti_step_ms=45.0, matrix=112,
                                        phase_sensitive=False)
        self.true_null_ms = float(self.simulated.null_ti_ms)
        self.siemens = root / "siemens"
        write_scout_dicom(self.simulated.scout, self.siemens, vendor="siemens", series_number=3, uid_entropy="matrix-siemens")
        self.philips = root / "philips"
        write_scout_dicom(self.simulated.scout, self.philips, vendor="philips", series_number=4, uid_entropy="matrix-philips")
        # a second, unrelated scout (another study): combining it with the first would be wrong (item A2)
        other = simulate_scout(np.random.default_rng(77), n_frames=14, ti_step_ms=45.0, matrix=112, phase_sensitive=False)
        self.other = root / "other"
        write_scout_dicom(other.scout, self.other, vendor="siemens", series_number=9, uid_entropy="matrix-other")
        # a null beyond the last frame (item A7)
        late = simulate_scout(np.random.default_rng(5), ti_ms=np.arange(60.0, 60.0 + 8 * 25.0, 25.0), matrix=112,
                              null_ti_ms=330.0, phase_sensitive=False)
        self.late = root / "late"
        write_scout_dicom(late.scout, self.late, vendor="siemens", series_number=5, uid_entropy="matrix-late")
        # two slices of one series (item E18: the batch labels each slice)
        self.two_slices = root / "two_slices"
        for number, shift in enumerate((0.0, 8.0)):
            matrix = self.simulated.scout.ijk_to_ras.copy()
            matrix[:3, 3] += shift * matrix[:3, 2] / np.linalg.norm(matrix[:3, 2])
            from dataclasses import replace

            write_scout_dicom(replace(self.simulated.scout, ijk_to_ras=matrix), self.two_slices, vendor="siemens",
                              series_number=6, uid_entropy="matrix-two", first_instance=1 + 20 * number)
        self.phantom = root / "phantom"
        write_scout_dicom(_ir_phantom_scout(), self.phantom, vendor="siemens", series_number=7, uid_entropy="matrix-phantom")
        self.pictures = root / "pictures"
        self.pictures.mkdir()
        self.picture_paths = []
        frames = self.simulated.scout.frames
        from PIL import Image

        for index, frame in enumerate(frames, start=1):
            path = self.pictures / f"photo_{index}.png"  # unpadded: a shell glob sorts photo_10 before photo_2
            Image.fromarray(np.clip(255 * frame / frames.max(), 0, 255).astype(np.uint8)).save(path)
            self.picture_paths.append(path)
        self.picture_ti = [float(t) for t in self.simulated.scout.ti_ms]
        order = np.random.default_rng(3).permutation(len(self.picture_paths))
        self.ti_csv = root / "tis.csv"
        self.ti_csv.write_text("file,ti_ms\n" + "".join(f"{self.picture_paths[i].name},{self.picture_ti[i]}\n" for i in order))
        self.picture_spacing = str(self.simulated.scout.pixel_spacing_mm[0])

    def glob_order(self) -> list[str]:
        """The pictures as `photo_*.png` expands in a shell (text order)."""
        return sorted(str(p) for p in self.picture_paths)

    def natural_order(self) -> list[str]:
        return [str(p) for p in self.picture_paths]


def _ir_phantom_scout():
    """An inversion-recovery phantom: uniform discs of one T1 in air, magnitude, no heart (item A10)."""
    from TINullCorrectionLib.core.types import TIScout

    ti = np.arange(100.0, 100.0 + 14 * 60.0, 60.0)
    y, x = np.mgrid[:112, :112]
    image = np.zeros((112, 112))
    for cy, cx in ((35, 35), (35, 77), (77, 35), (77, 77)):
        image[(y - cy) ** 2 + (x - cx) ** 2 <= 12**2] = 1.0
    rng = np.random.default_rng(11)
    frames = np.stack([800.0 * image * abs(1 - 2 * np.exp(-t / 450.0)) + rng.normal(0, 4, image.shape) for t in ti])
    return TIScout(frames=np.abs(frames).astype(np.float32), ti_ms=ti, pixel_spacing_mm=(1.5, 1.5), slice_thickness_mm=8.0)


# ------------------------------------------------------------------------------------------------- helpers
def copy_of(folder: Path, workdir: Path, name: str | None = None) -> Path:
    target = workdir / (name or folder.name)
    shutil.copytree(folder, target)
    for path in target.rglob("*"):
        path.chmod(0o644 if path.is_file() else 0o755)
    return target


def edit(folder: Path, index: int | None, change: Callable[[pydicom.Dataset], None]) -> None:
    """Apply ``change`` to the header of file ``index`` (sorted) of ``folder``, or of every file (None)."""
    files = sorted(folder.glob("*.dcm"))
    for path in files if index is None else [files[index]]:
        ds = pydicom.dcmread(path)
        change(ds)
        ds.save_as(path)


def truncate(path: Path, keep_bytes: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:keep_bytes])


def _json(run: Run) -> dict:
    return run.json or {}


def _slices(run: Run) -> list[dict]:
    return _json(run).get("slices", [])


def null_near_truth(run: Run, data: BaseData) -> bool:
    slices = _slices(run)
    return bool(slices) and all(np.isfinite(s["null_ti_ms"]) and abs(s["null_ti_ms"] - data.true_null_ms) < NULL_TOLERANCE_MS
                                for s in slices)


def finite_answer(run: Run, data: BaseData) -> bool:
    slices = _slices(run)
    return bool(slices) and all(np.isfinite(s["null_ti_ms"]) and np.isfinite(s["recommended_lge_ti_ms"]) for s in slices)


def ti_correct(*arguments: str, json_name: str | None = "r.json", workdir: Path | None = None) -> list[str]:
    argv = ["ti-correct", *arguments]
    if json_name and workdir is not None:
        argv += ["--json", str(workdir / json_name)]
    return argv


def _full_disk_write_text(original):
    """A Path.write_text that writes half of the text and then fails as a full disk does."""

    def write_text(self, data, *args, **kwargs):
        original(self, data[: len(data) // 2], *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    return write_text


# ---------------------------------------------------------------------------------------------- the rows
def _cases() -> list[Case]:
    cases: list[Case] = []

    def add(*args, **kwargs):
        cases.append(Case(*args, **kwargs))

    # A1: which TI belongs to which picture
    add("A1 --ti-csv file,ti_ms (rows shuffled) with pictures in shell-glob order: matched by name", "A1",
        lambda w, d: ti_correct(*d.glob_order(), "--ti-csv", str(d.ti_csv), "--pixel-spacing-mm", d.picture_spacing,
                                "--quiet", workdir=w),
        "result", check=null_near_truth)
    add("A1 --ti-ms with pictures in shell-glob order of unpadded names: ambiguous, refused", "A1",
        lambda w, d: ti_correct(*d.glob_order(), "--ti-ms", *map(str, d.picture_ti), workdir=w),
        "error", r"ambiguous.*--ti-csv")
    add("A1 --ti-ms with pictures in natural order: accepted", "A1",
        lambda w, d: ti_correct(*d.natural_order(), "--ti-ms", *map(str, d.picture_ti), "--pixel-spacing-mm", d.picture_spacing,
                                "--quiet", workdir=w),
        "result", check=null_near_truth)
    add("A1 one-column TI csv with pictures in shell-glob order: refused", "A1",
        lambda w, d: [*ti_correct(*d.glob_order(), "--ti-csv", str(_one_column_csv(w, d)), workdir=w)],
        "error", r"ambiguous")
    add("A1 --ti-csv lacking one picture's row", "A1",
        lambda w, d: ti_correct(*d.glob_order(), "--ti-csv", str(_csv_without_first(w, d)), workdir=w),
        "error", r"tis_short\.csv has no TI for photo_\d+\.png")
    # A2 (lead, kept as a row): unrelated series reported separately
    add("A2 a folder with two unrelated scouts: not combined", "A2",
        lambda w, d: ti_correct(str(d.siemens), str(d.other), "--no-auto-myocardium", "--quiet", workdir=w),
        "warning", r"2 different scouts.*not combined")
    # A3: damaged frames among good ones are named, in the output and in the JSON's skipped list
    add("A3 one file with a truncated header among good ones", "A3",
        lambda w, d: ti_correct(str(_damaged(w, d, lambda p: truncate(p, 1200))), "--no-auto-myocardium", "--quiet", workdir=w),
        "warning", r"SKIPPED: IM_0005\.dcm: damaged or truncated", check=lambda r, d: _skipped(r) == ["IM_0005.dcm"])
    add("A3 one file with truncated pixel data among good ones", "A3",
        lambda w, d: ti_correct(str(_damaged(w, d, lambda p: truncate(p, p.stat().st_size - 3000))), "--no-auto-myocardium",
                                "--quiet", workdir=w),
        "warning", r"SKIPPED: IM_0005\.dcm: .*pixel data", check=lambda r, d: _skipped(r) == ["IM_0005.dcm"])
    add("A3 one file of random bytes with a DICOM name among good ones", "A3",
        lambda w, d: ti_correct(str(_damaged(w, d, lambda p: p.write_bytes(np.random.default_rng(1).bytes(5000)))),
                                "--no-auto-myocardium", "--quiet", workdir=w),
        "warning", r"SKIPPED: IM_0005\.dcm: not a readable DICOM file", check=lambda r, d: _skipped(r) == ["IM_0005.dcm"])
    add("A3 a README among the DICOM files is no DICOM: ignored without a report", "A3",
        lambda w, d: ti_correct(str(_with_readme(w, d)), "--no-auto-myocardium", "--quiet", workdir=w),
        "result", check=lambda r, d: finite_answer(r, d) and _skipped(r) == [])
    # A4: implausible values at the boundary (docs/METHODS.md §1.7)
    add("A4 pictures with TIs in seconds", "A4",
        lambda w, d: ti_correct(*d.natural_order(), "--ti-ms", *(str(t / 1000) for t in d.picture_ti), workdir=w),
        "error", r"look like seconds")
    add("A4 a picture TI of 1e9 ms", "A4",
        lambda w, d: ti_correct(*d.natural_order(), "--ti-ms", *map(str, d.picture_ti[:-1]), "1e9", workdir=w),
        "error", r"0-6000 ms")
    add("A4 DICOM InversionTime in seconds on every frame", "A4",
        lambda w, d: ti_correct(str(_edited(w, d, None, lambda ds: setattr(ds, "InversionTime", float(ds.InversionTime) / 1000))),
                                workdir=w),
        "error", r"look like seconds")
    add("A4 DICOM negative PixelSpacing", "A4",
        lambda w, d: ti_correct(str(_edited(w, d, None, lambda ds: setattr(ds, "PixelSpacing", [-1.5, -1.5]))), workdir=w),
        "error", r"PixelSpacing \(0028,0030\) of IM_0001\.dcm is -1\.5")
    add("A4 DICOM PixelSpacing 0 (once a ZeroDivisionError in the batch)", "A4",
        lambda w, d: ti_correct(str(_edited(w, d, None, lambda ds: setattr(ds, "PixelSpacing", [0, 0]))), workdir=w),
        "error", r"PixelSpacing .* outside 0\.1-10 mm")
    add("A4 pictures with a negative --pixel-spacing-mm", "A4",
        lambda w, d: ti_correct(*d.natural_order(), "--ti-ms", *map(str, d.picture_ti), "--pixel-spacing-mm", "-1.5", workdir=w),
        "error", r"[Pp]ixel spacing")
    add("A4 --chosen-ti 1e12", "A4",
        lambda w, d: ti_correct(str(d.siemens), "--chosen-ti", "1e12", workdir=w), "error", r"--chosen-ti must be a TI")
    add("A4 --lge-offset-ms 1e12", "A4",
        lambda w, d: ti_correct(str(d.siemens), "--lge-offset-ms", "1e12", workdir=w), "error", r"lge_offset_ms must be")
    add("A4 a cine series (TriggerTime, no inversion-recovery marker) through the CLI", "A4",
        lambda w, d: ti_correct(str(_cine(w, d)), workdir=w), "error", r"looks like a cine series")
    add("A4 the same with --assume-inversion-recovery (documented override)", "A4",
        lambda w, d: ti_correct(str(_cine(w, d)), "--assume-inversion-recovery", "--no-auto-myocardium", "--quiet", workdir=w),
        "result", check=finite_answer)
    add("A4 NRRD with negative TIs in its metadata", "A4",
        lambda w, d: ti_correct(str(_nrrd(w, d, -1.0)), workdir=w), "error", r"non-negative|0-6000 ms")
    add("A4 evaluate with a label of -50 ms", "A4",
        lambda w, d: ["evaluate", "--dicom-dir", str(d.root), "--labels", str(_labels(w, "siemens", "-50"))],
        "error", r"labels\.csv line 2 \(siemens\): null_ti_ms '-50' is not a TI")
    add("A4 evaluate with a label of 1e9 ms", "A4",
        lambda w, d: ["evaluate", "--dicom-dir", str(d.root), "--labels", str(_labels(w, "siemens", "1e9"))],
        "error", r"null_ti_ms '1e9' is not a TI")
    # A6 / A7 (lead, kept as rows)
    add("A6 the frame table shows the offset from the reported null and the CNN's, labelled", "A6",
        lambda w, d: ti_correct(str(d.siemens), "--no-auto-myocardium", workdir=w),
        "result", check=lambda r, d: "from null ms" in r.stdout and "CNN offset ms" in r.stdout and finite_answer(r, d))
    add("A7 null beyond the last frame: the chosen TI is not judged", "A7",
        lambda w, d: ti_correct(str(d.late), "--chosen-ti", "250", "--no-auto-myocardium", "--quiet", workdir=w),
        "warning", r"cannot judge", check=lambda r, d: _slices(r)[0]["chosen"]["verdict"] == "cannot judge")
    # A8: a user ROI's fit reports a calibrated uncertainty
    add("A8 the true myocardium as --roi-mask: the reported 1 sigma is calibrated (>= the 8.3 ms floor)", "A8",
        lambda w, d: ti_correct(str(d.siemens), "--roi-mask", str(_mask(w, d)), "--quiet", workdir=w),
        "result", check=_roi_uncertainty_calibrated)
    # A10: no heart
    add("A10 an inversion-recovery phantom (no heart): said so, the CNN alone with a warning", "A10",
        lambda w, d: ti_correct(str(d.phantom), "--quiet", workdir=w), "warning", r"does not look like a cardiac short-axis scout")
    # B11: no input takes the memory down
    add("B11 one DICOM frame with InversionTime 1e9 (once a 24 GB null search): the frame is left out and named", "B11",
        lambda w, d: ti_correct(str(_edited(w, d, 6, lambda ds: setattr(ds, "InversionTime", 1e9))), "--no-auto-myocardium",
                                "--quiet", workdir=w),
        "warning", r"IM_0007\.dcm.*invalid value 1000000000", check=finite_answer)
    add("B11 every DICOM TI 1e12 (once a MemoryError): no TI, named", "B11",
        lambda w, d: ti_correct(str(_edited(w, d, None, lambda ds: setattr(ds, "InversionTime", 1e12))), workdir=w),
        "error", r"no valid TI in any field.*InversionTime.*1000000000000")
    # B12: one bad series must not abort a batch
    add("B12 batch: a good study, PixelSpacing 0, TIs 1e12, and an injected ZeroDivisionError and MemoryError", "B12",
        lambda w, d: ["ti-correct", "--batch", str(_batch(w, d)), "--csv", str(w / "batch.csv"), "--no-auto-myocardium"],
        "result", check=_batch_rows_and_summary, patches=(("TINullCorrectionLib.core.pipeline", "analyse_scout", _crashing_analysis),))
    # B13: messages instead of tracebacks, each naming the file
    add("B13 --json into a folder that does not exist", "B13",
        lambda w, d: ["ti-correct", str(d.siemens), "--json", str(w / "missing" / "r.json")], "error", r"missing/r\.json.*does not exist")
    add("B13 --json naming a folder", "B13", lambda w, d: ["ti-correct", str(d.siemens), "--json", str(w)], "error", r"is a folder")
    add("B13 --json into a read-only folder", "B13",
        lambda w, d: ["ti-correct", str(d.siemens), "--json", str(w / "r.json")], "error", r"r\.json: no permission",
        patches=(("os", "access", lambda w, d: (lambda path, mode, _access=__import__("os").access: False
                                                  if Path(path) == w else _access(path, mode))),))
    add("B13 --json on a full disk: message, the earlier file intact, no partial file", "B13",
        lambda w, d: _with_old_result(w, d), "error", r"Cannot write .*r\.json: No space left on device",
        check=_old_result_intact, patches=(("pathlib.Path", "write_text", lambda w, d: _full_disk_write_text(Path.write_text)),))
    add("B13 --batch --csv naming a folder", "B13",
        lambda w, d: ["ti-correct", "--batch", str(d.root), "--csv", str(w)], "error", r"is a folder")
    add("B13 --roi-mask that is no image names the file", "B13",
        lambda w, d: ti_correct(str(d.siemens), "--roi-mask", str(_text_file(w, "mask.nrrd")), workdir=w), "error",
        r"Cannot read the ROI mask .*mask\.nrrd")
    add("B13 train --batch-size 0", "B13", lambda w, d: ["train", "--out", str(w / "m.pt"), "--batch-size", "0"], "error",
        r"--batch-size must be a whole number >= 1")
    add("B13 train --out unwritable is found before training", "B13",
        lambda w, d: ["train", "--out", str(w / "missing" / "m.pt"), "--n-series", "2", "--epochs", "1"], "error",
        r"m\.pt.*does not exist",
        patches=(("cardiac_lge.training.ti_offset", "simulate_series_set", lambda w, d: _must_not_run),))
    add("B13 simulate --matrix 20000", "B13", lambda w, d: ["simulate", str(w / "sim"), "--matrix", "20000"], "error",
        r"--matrix must be 16-1024")
    add("B13 simulate OUT_DIR is a file", "B13", lambda w, d: ["simulate", str(_text_file(w, "out")), "--n-series", "1"], "error",
        r"is a file; give a folder")
    add("B13 evaluate --json naming a folder is found before the evaluation", "B13",
        lambda w, d: ["evaluate", "--simulated", "1", "--json", str(w)], "error", r"is a folder")
    # B15: a frame without a valid TI is named
    add("B15 one frame of 14 without InversionTime: left out and named", "B15",
        lambda w, d: ti_correct(str(_edited(w, d, 6, lambda ds: delattr(ds, "InversionTime"))), "--no-auto-myocardium", "--quiet",
                                workdir=w),
        "warning", r"IM_0007\.dcm.*no valid TI: InversionTime \(0018,0082\) absent",
        check=lambda r, d: finite_answer(r, d) and _skipped(r) == ["IM_0007.dcm"])
    add("B15 half the frames without InversionTime: the error names them", "B15",
        lambda w, d: ti_correct(str(_half_without_ti(w, d)), workdir=w), "error",
        r"InversionTime \(0018,0082\) is missing or invalid on 7 of 14 frames: IM_0001\.dcm \(absent\)")
    # D17: no identifying text in outputs unless asked
    add("D17 batch: study folder names replaced by numbers, no series description in errors", "D17",
        lambda w, d: ["ti-correct", "--batch", str(_named_batch(w, d)), "--csv", str(w / "batch.csv"), "--no-auto-myocardium"],
        "result", check=lambda r, d: [row["study"] for row in r.csv_rows] == ["study_001", "study_002"],
        absent=("DOE", "JANE", "ID12345"))
    add("D17 batch --keep-names writes the folder names (opt-in)", "D17",
        lambda w, d: ["ti-correct", "--batch", str(_named_batch(w, d)), "--csv", str(w / "batch.csv"), "--keep-names",
                      "--no-auto-myocardium"],
        "result", check=lambda r, d: r.csv_rows[0]["study"] == "DOE_JANE_ID12345")
    add("D17 duplicate TIs in a series described with a patient name: the error does not echo it", "D17",
        lambda w, d: ti_correct(str(_duplicate_ti_named(w, d)), workdir=w), "error", r"duplicate inversion times",
        absent=("JANE",))
    # E18: a newcomer's first hour
    add("E18 batch CSV labels each slice of a two-slice series", "E18",
        lambda w, d: ["ti-correct", "--batch", str(_batch_of(w, d.two_slices)), "--csv", str(w / "batch.csv"), "--no-auto-myocardium"],
        "result", check=lambda r, d: [row["slice"].split(" (")[0] for row in r.csv_rows] == ["series 6 slice 0", "series 6 slice 1"])
    add("E18 --csv without --batch", "E18", lambda w, d: ["ti-correct", str(d.siemens), "--csv", str(w / "x.csv")], "error",
        r"--csv writes the rows of a --batch run")
    add("E18 --ti-ms with DICOM", "E18", lambda w, d: ["ti-correct", str(d.siemens), "--ti-ms", "100", "200", "300"], "error",
        r"DICOM files carry their own TIs")
    add("E18 inputs with --batch", "E18",
        lambda w, d: ["ti-correct", str(d.siemens), "--batch", str(d.root), "--csv", str(w / "x.csv")], "error", r"would be ignored")
    add("E18 evaluate --chosen-ti-csv with --simulated", "E18",
        lambda w, d: ["evaluate", "--simulated", "2", "--chosen-ti-csv", str(_text_file(w, "c.csv"))], "error",
        r"apply to --dicom-dir")
    add("E18 evaluate --chosen-ti-csv lacking a labelled series (once a KeyError)", "E18",
        lambda w, d: ["evaluate", "--dicom-dir", str(d.root), "--labels", str(_labels(w, "siemens", "300", extra="philips,310\n")),
                      "--chosen-ti-csv", str(_chosen(w, "siemens", "280"))],
        "error", r"chosen\.csv has no chosen_ti_ms for 1 labelled series: philips")
    # E19: the numbers are explained where printed
    add("E19 the report explains the method, R^2 and the tail bounds", "E19",
        lambda w, d: ti_correct(str(d.siemens), workdir=w), "result", check=_explained)
    return cases


# ------------------------------------------------------------------------------------ builders of inputs
def _one_column_csv(workdir: Path, data: BaseData) -> Path:
    path = workdir / "tis_list.csv"
    path.write_text("ti_ms\n" + "".join(f"{t}\n" for t in data.picture_ti))
    return path


def _csv_without_first(workdir: Path, data: BaseData) -> Path:
    path = workdir / "tis_short.csv"
    path.write_text("file,ti_ms\n" + "".join(f"{p.name},{t}\n" for p, t in list(zip(data.picture_paths, data.picture_ti, strict=True))[1:]))
    return path


def _damaged(workdir: Path, data: BaseData, damage: Callable[[Path], None]) -> Path:
    folder = copy_of(data.siemens, workdir)
    damage(sorted(folder.glob("*.dcm"))[4])
    return folder


def _with_readme(workdir: Path, data: BaseData) -> Path:
    folder = copy_of(data.siemens, workdir)
    (folder / "README.txt").write_text("exported from the scanner\n")
    return folder


def _edited(workdir: Path, data: BaseData, index: int | None, change) -> Path:
    folder = copy_of(data.siemens, workdir)
    edit(folder, index, change)
    return folder


def _half_without_ti(workdir: Path, data: BaseData) -> Path:
    folder = copy_of(data.siemens, workdir)
    for index in range(0, 14, 2):
        edit(folder, index, lambda ds: delattr(ds, "InversionTime"))
    return folder


def _cine(workdir: Path, data: BaseData) -> Path:
    folder = copy_of(data.philips, workdir, "cine")

    def as_cine(ds):
        ds.ScanningSequence, ds.SequenceVariant = "GR", "SS"
        ds.SeriesDescription = ds.ProtocolName = "sax cine"
    edit(folder, None, as_cine)
    return folder


def _nrrd(workdir: Path, data: BaseData, sign: float) -> Path:
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(data.simulated.scout.frames)
    image.SetMetaData("ti_ms", " ".join(str(sign * t) for t in data.simulated.scout.ti_ms))
    path = workdir / "scout.nrrd"
    sitk.WriteImage(image, str(path))
    return path


def _labels(workdir: Path, series: str, value: str, extra: str = "") -> Path:
    path = workdir / "labels.csv"
    path.write_text(f"series_dir,null_ti_ms\n{series},{value}\n{extra}")
    return path


def _chosen(workdir: Path, series: str, value: str) -> Path:
    path = workdir / "chosen.csv"
    path.write_text(f"series_dir,chosen_ti_ms\n{series},{value}\n")
    return path


def _mask(workdir: Path, data: BaseData) -> Path:
    import SimpleITK as sitk

    path = workdir / "myocardium.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(data.simulated.myocardium_mask.astype(np.uint8)), str(path))
    return path


def _text_file(workdir: Path, name: str) -> Path:
    path = workdir / name
    path.write_text("not what it claims to be\n")
    return path


def _batch_of(workdir: Path, *folders: Path, names: tuple[str, ...] = ()) -> Path:
    batch = workdir / "studies"
    batch.mkdir()
    for number, folder in enumerate(folders):
        copy_of(folder, batch, names[number] if names else f"s{number}_{folder.name}")
    return batch


def _batch(workdir: Path, data: BaseData) -> Path:
    batch = _batch_of(workdir, data.siemens, data.siemens, data.siemens, data.siemens, data.siemens,
                      names=("a_good", "b_spacing0", "c_ti1e12", "d_crash", "e_memory"))
    edit(batch / "b_spacing0", None, lambda ds: setattr(ds, "PixelSpacing", [0, 0]))
    edit(batch / "c_ti1e12", None, lambda ds: setattr(ds, "InversionTime", 1e12))
    for name, drop in (("d_crash", 1), ("e_memory", 2)):  # 13 and 12 frames: _crashing_analysis fails on them
        for path in sorted((batch / name).glob("*.dcm"))[-drop:]:
            path.unlink()
    return batch


def _crashing_analysis(workdir: Path, data: BaseData):
    """analyse_scout that raises ZeroDivisionError on a 13-frame scout and MemoryError on a 12-frame one."""
    from TINullCorrectionLib.core import pipeline

    original = pipeline.analyse_scout

    def analyse_scout(scout, *args, **kwargs):
        if scout.n_frames == 13:
            raise ZeroDivisionError("float division by zero")
        if scout.n_frames == 12:
            raise MemoryError()
        return original(scout, *args, **kwargs)

    return analyse_scout


def _batch_rows_and_summary(run: Run, data: BaseData) -> bool:
    rows = {row["study"]: row for row in run.csv_rows}
    good = rows["study_001"]
    return (len(rows) == 5 and not good["error"] and abs(float(good["null_ti_ms"]) - data.true_null_ms) < NULL_TOLERANCE_MS
            and "PixelSpacing" in rows["study_002"]["error"] and "no valid TI" in rows["study_003"]["error"]
            and "ZeroDivisionError" in rows["study_004"]["error"] and "IM_0001.dcm" in rows["study_004"]["error"]
            and "out of memory" in rows["study_005"]["error"]
            and "1 series slices analysed, 3 failed" in run.stdout and "1 studies without a TI scout" in run.stdout)


def _named_batch(workdir: Path, data: BaseData) -> Path:
    batch = _batch_of(workdir, data.siemens, data.siemens, names=("DOE_JANE_ID12345", "SMITH_JOHN"))
    edit(batch / "DOE_JANE_ID12345", None, lambda ds: setattr(ds, "SeriesDescription", "DOE^JANE TI scout"))
    first = float(pydicom.dcmread(sorted((batch / "SMITH_JOHN").glob("*.dcm"))[0]).InversionTime)
    edit(batch / "SMITH_JOHN", 1, lambda ds: setattr(ds, "InversionTime", first))  # duplicate TI: an error row
    edit(batch / "SMITH_JOHN", None, lambda ds: setattr(ds, "SeriesDescription", "DOE^JANE ID12345"))
    return batch


def _duplicate_ti_named(workdir: Path, data: BaseData) -> Path:
    folder = copy_of(data.siemens, workdir)
    first = float(pydicom.dcmread(sorted(folder.glob("*.dcm"))[0]).InversionTime)
    edit(folder, 1, lambda ds: setattr(ds, "InversionTime", first))
    edit(folder, None, lambda ds: setattr(ds, "SeriesDescription", "DOE^JANE TI scout"))
    return folder


def _with_old_result(workdir: Path, data: BaseData) -> list[str]:
    (workdir / "r.json").write_text('{"old": true}\n')
    return ["ti-correct", str(data.siemens), "--no-auto-myocardium", "--quiet", "--json", str(workdir / "r.json")]


def _old_result_intact(run: Run, data: BaseData) -> bool:
    return (run.workdir / "r.json").read_text() == '{"old": true}\n' and sorted(p.name for p in run.workdir.iterdir()) == ["r.json"]


def _must_not_run(*args, **kwargs):
    raise AssertionError("training data were made before the output was checked")


def _skipped(run: Run) -> list[str]:
    return [entry["input"] for entry in _json(run).get("skipped", [])]


def _roi_uncertainty_calibrated(run: Run, data: BaseData) -> bool:
    entry = _slices(run)[0]
    fit = entry["ir_fit"]
    return (fit["myocardium_source"] == "user ROI" and fit["null_uncertainty_ms"] >= 8.3
            and fit["null_uncertainty_covariance_ms"] < fit["null_uncertainty_ms"]
            and abs(fit["null_ti_ms"] - data.true_null_ms) <= 3 * fit["null_uncertainty_ms"])


def _explained(run: Run, data: BaseData) -> bool:
    from TINullCorrectionLib.core.presentation import FRAME_TABLE_LEGEND, METHOD_EXPLANATIONS

    method = _slices(run)[0]["method"]
    return (METHOD_EXPLANATIONS[method] in run.stdout and FRAME_TABLE_LEGEND in run.stdout
            and ("R^2" not in run.stdout or "1 = the signal follows the recovery curve exactly" in run.stdout))


CASES = _cases()


# ------------------------------------------------------------------------------------------------ runner
def _resolve(target: str):
    import importlib

    try:
        return importlib.import_module(target)
    except ImportError:
        parent, _, name = target.rpartition(".")
        return getattr(importlib.import_module(parent), name)


def run_case(case: Case, workdir: Path, data: BaseData) -> tuple[Observed, Run]:
    """Run one row in ``workdir`` and classify the outcome (module docstring)."""
    from cardiac_lge.cli import main

    workdir.mkdir(parents=True, exist_ok=True)
    argv = case.build(workdir, data)
    stdout, stderr = io.StringIO(), io.StringIO()
    status, error = None, None
    with contextlib.ExitStack() as stack:
        for target, attribute, factory in case.patches:
            stack.enter_context(mock.patch.object(_resolve(target), attribute, factory(workdir, data)))
        stack.enter_context(contextlib.redirect_stdout(stdout))
        stack.enter_context(contextlib.redirect_stderr(stderr))
        try:
            status = main(argv)
        except SystemExit as exit_:  # argparse's own usage errors are clear errors too
            status = exit_.code if isinstance(exit_.code, int) else 2
        except BaseException as escaped:  # noqa: BLE001 - the matrix classifies it as a traceback
            error = escaped
    run = Run(status, stdout.getvalue(), stderr.getvalue(), error, workdir)
    if "--json" in argv:
        path = Path(argv[argv.index("--json") + 1])
        if path.is_file():
            try:
                run.json = json.loads(path.read_text())
            except ValueError:
                run.json = None
    if "--csv" in argv:
        path = Path(argv[argv.index("--csv") + 1])
        if path.is_file():
            run.csv_rows = list(csv.DictReader(io.StringIO(path.read_text())))
    return classify(case, run, data), run


def classify(case: Case, run: Run, data: BaseData) -> Observed:
    if run.error is not None:
        return Observed("traceback", f"{type(run.error).__name__}: {run.error}")
    leaked = [text for text in case.absent if text in run.text]
    if leaked:
        return Observed("silent wrong", f"identifying text in the outputs: {leaked}")
    if run.status != 0:
        lines = run.stderr.replace("\r", "\n").splitlines()  # progress bars share stderr: keep the messages
        message = "\n".join(line for line in lines if line.startswith(("cardiac-lge", "usage:"))) or run.stderr.strip()[-500:]
        if "Traceback (most recent call last)" in run.stderr:
            return Observed("traceback", run.stderr.strip()[-500:])
        if case.outcome != "error":
            return Observed("error", message)
        if not re.search(case.pattern, message, re.S):
            return Observed("unclear error", f"(message does not match {case.pattern!r}) {message}")
        if case.check is not None and not case.check(run, data):
            return Observed("silent wrong", f"clear error but its promise failed: {message}")
        return Observed("error", message)
    if case.outcome == "error":
        return Observed("silent wrong", "accepted (exit 0) where a clear error was due")
    if case.outcome == "warning" and not re.search(case.pattern, run.text, re.S):
        return Observed("silent wrong", f"answer given without the warning {case.pattern!r}")
    if case.check is not None and not case.check(run, data):
        return Observed("silent wrong", "the numbers or rows are not what they must be")
    return Observed(case.outcome, case.pattern)


def summary(observed: list[tuple[Case, Observed]]) -> str:
    counts = {kind: sum(1 for _, o in observed if o.kind == kind)
              for kind in ("error", "warning", "result", "unclear error", "traceback", "silent wrong")}
    broken = sum(1 for case, o in observed if o.kind != case.outcome)
    return (f"bad-input matrix: {len(observed)} cases; clear errors {counts['error']}, explicit warnings {counts['warning']}, "
            f"correct results {counts['result']}; errors not saying what the table promises {counts['unclear error']}, "
            f"tracebacks {counts['traceback']}, silent wrong {counts['silent wrong']}; "
            f"rows whose outcome differs from the table: {broken}")
