"""Outputs of ``cardiac-lge qa`` and ``cardiac-lge lge`` under faults (issue 12 B13/B14): a disk that fills up in
the middle of any file of a rerun leaves the earlier report.csv / report.json (and every other file of the set)
byte for byte as they were and no partial or temporary file; an output folder that cannot be written is refused
with a message naming it before any work is done."""

from __future__ import annotations

import errno
import io
import os
import pathlib
import re

import matplotlib.figure
import numpy as np
import pytest
import SimpleITK as sitk
from LGEResolutionQALib.io.definitions import write_volume
from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom

from cardiac_lge.cli import main
from cardiac_lge.commands.qa import write_demo_inputs


class DiskFull:
    """Patches every way the LGE writers put bytes on disk (Path.write_text / write_bytes, matplotlib savefig,
    SimpleITK.WriteImage). Counts the writes; with ``fail_at`` = k the k-th write puts half of its content into its
    file and then fails as a full disk does (OSError ENOSPC)."""

    def __init__(self, monkeypatch, fail_at: int | None = None):
        self.count, self.fail_at, self.files = 0, fail_at, []
        write_text, write_bytes = pathlib.Path.write_text, pathlib.Path.write_bytes
        savefig, write_image = matplotlib.figure.Figure.savefig, sitk.WriteImage

        def fails(path) -> bool:
            self.count += 1
            self.files.append(os.fspath(path))
            return self.count == self.fail_at

        def full(path):
            return OSError(errno.ENOSPC, "No space left on device", os.fspath(path))

        def patched_write_text(path, data, *args, **kwargs):
            if fails(path):
                write_text(path, data[: len(data) // 2], *args, **kwargs)
                raise full(path)
            return write_text(path, data, *args, **kwargs)

        def patched_write_bytes(path, data):
            if fails(path):
                write_bytes(path, data[: len(data) // 2])
                raise full(path)
            return write_bytes(path, data)

        def patched_savefig(figure, path, *args, **kwargs):
            if isinstance(path, io.IOBase) or not fails(path):
                return savefig(figure, path, *args, **kwargs)
            buffer = io.BytesIO()
            savefig(figure, buffer, *args, **{"format": "png", **kwargs})
            write_bytes(pathlib.Path(path), buffer.getvalue()[: len(buffer.getvalue()) // 2])
            raise full(path)

        def patched_write_image(image, path, *args, **kwargs):
            result = write_image(image, path, *args, **kwargs)
            if fails(path):
                with open(path, "r+b") as stream:
                    stream.truncate(os.path.getsize(path) // 2)
                raise RuntimeError(f"Exception thrown in SimpleITK WriteImage: No space left on device ({path})")
            return result

        monkeypatch.setattr(pathlib.Path, "write_text", patched_write_text)
        monkeypatch.setattr(pathlib.Path, "write_bytes", patched_write_bytes)
        monkeypatch.setattr(matplotlib.figure.Figure, "savefig", patched_savefig)
        monkeypatch.setattr(sitk, "WriteImage", patched_write_image)


def _files(folder: pathlib.Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def demo_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qa_inputs")
    write_demo_inputs(folder)
    return folder


def _qa(inputs, out, step: str):
    return ["qa", "--volume", f"NR={inputs / 'nr_lge.nrrd'}", "--volume", f"HR={inputs / 'hr_lge.nrrd'}",
            "--line", str(inputs / "septum.mrk.json"), "--roi", f"air={inputs / 'air.mrk.json'}",
            "--roi", f"remote={inputs / 'remote.mrk.json'}", "--step-mm", step, "--out", str(out)]


def _lge_case(folder: pathlib.Path):
    phantom = make_lge_ring_phantom((4, 96, 96), (1.5, 1.5, 10.0), 0.2, 12.0, np.random.default_rng(0))
    labels = np.where(phantom.myocardium_mask, 2, 0).astype(np.uint8)
    labels[phantom.blood_mask] = 1
    write_volume(folder / "lge.nrrd", phantom.image, phantom.ijk_to_ras)
    write_volume(folder / "labels.nrrd", labels, phantom.ijk_to_ras)
    centre = (phantom.ijk_to_ras @ np.array([47.5, 47.5, 2, 1.0]))[:3]
    return phantom, ",".join(f"{v:.3f}" for v in centre + np.array([15.0, 26.0, 0.0]))


def _lge(folder, out, method: str, rv: str):
    return ["lge", "--image", str(folder / "lge.nrrd"), "--labels", str(folder / "labels.nrrd"), "--myocardium-labels",
            "2", "--method", method, "--rv-insertion", rv, "--out", str(out)]


def _check_full_disk_at_every_write(monkeypatch, capsys, out, first, second):
    assert main(first) == 0
    earlier = _files(out)
    with monkeypatch.context() as patch:
        counter = DiskFull(patch)
        assert main(second) == 0  # a rerun that changes every file: the number of writes
    writes = counter.count
    rerun = _files(out)
    assert rerun.keys() == earlier.keys() and all(rerun[name] != earlier[name] for name in ("report.json",) if name in earlier)
    assert main(first) == 0 and _files(out) == earlier  # back to the earlier files (runs are reproducible)
    capsys.readouterr()
    for k in range(1, writes + 1):
        with monkeypatch.context() as patch:
            disk = DiskFull(patch, fail_at=k)
            assert main(second) == 2, f"write {k}"
        message = capsys.readouterr().err
        failed = pathlib.Path(disk.files[k - 1]).name
        assert re.search(rf"error: Cannot write {re.escape(str(out))}/[\w.]+: .*No space left on device", message), message
        assert "Traceback" not in message, message
        assert _files(out) == earlier, f"a full disk at write {k} ({failed}) changed or left files"
    return writes


def test_full_disk_during_a_qa_rerun_keeps_the_earlier_report_exactly(demo_inputs, tmp_path, monkeypatch, capsys):
    out = tmp_path / "report"
    writes = _check_full_disk_at_every_write(monkeypatch, capsys, out, _qa(demo_inputs, out, "0.1"),
                                             _qa(demo_inputs, out, "0.05"))
    assert writes >= 4  # report.csv, report.json, profiles.png, roi_bar.png
    assert {"report.csv", "report.json", "profiles.png", "roi_bar.png"} <= set(_files(out))


def test_full_disk_during_an_lge_rerun_keeps_the_earlier_outputs_exactly(tmp_path, monkeypatch, capsys):
    _, rv = _lge_case(tmp_path)
    out = tmp_path / "lge_out"
    writes = _check_full_disk_at_every_write(monkeypatch, capsys, out, _lge(tmp_path, out, "nsd", rv),
                                             _lge(tmp_path, out, "otsu", rv))
    assert writes == 8  # summary JSON, two CSVs, two bullseyes, three NRRD label maps


def test_unwritable_output_is_refused_before_any_work(demo_inputs, tmp_path, monkeypatch, capsys):
    from LGEResolutionQALib.study import report

    def must_not_run(*args, **kwargs):
        raise AssertionError("the study was measured although its output cannot be written")

    monkeypatch.setattr(report, "study_report", must_not_run)
    a_file = tmp_path / "a_file"
    a_file.write_text("mine")
    for out, message in ((a_file, "is a file; give a folder"), (a_file / "sub", "is a file")):
        assert main(_qa(demo_inputs, out, "0.1")) == 2
        err = capsys.readouterr().err
        assert message in err and str(a_file) in err and "Traceback" not in err, err
    assert a_file.read_text() == "mine"
    # a folder this process may not write in (running as root ignores chmod: the permission answer is simulated)
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if pathlib.Path(path) == locked else real_access(path, mode, **kw))
    assert main(_qa(demo_inputs, locked / "report", "0.1")) == 2
    err = capsys.readouterr().err
    assert f"no permission to write in {locked}" in err, err
    assert not any(locked.iterdir())


def test_permission_denied_while_writing_keeps_the_earlier_lge_outputs(tmp_path, monkeypatch, capsys):
    _, rv = _lge_case(tmp_path)
    out = tmp_path / "lge_out"
    assert main(_lge(tmp_path, out, "nsd", rv)) == 0
    earlier = _files(out)
    real = pathlib.Path.write_bytes

    def denied(path, data):
        if path.suffix == ".png":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", denied)
    assert main(_lge(tmp_path, out, "otsu", rv)) == 2
    err = capsys.readouterr().err
    assert "Permission denied" in err and "lge_bullseye.png" in err, err
    assert _files(out) == earlier
