"""Cost of the TI scout DICOM plugin's examine step, before and after issue 11, measured in one run.

Two inputs: a large non-MR series (``--ct-files`` small CT files written with pydicom into a temporary
folder) and the real Philips Look-Locker (../shared/data/look_locker_native_philips, 60 files), each
examined (a) alone and (b) selected together with the IR-phantom series (6 one-image series), as the
DICOM browser hands them to the plugin (one file list per series).

- before: the call pattern of the plugin up to commit 5617729: every list examined on its own with full
  pydicom header reads, all lists examined again together when several are selected, and the first
  file of each candidate read once more for the inversion-recovery evidence;
- after: ``examine_file_lists`` with a ``file_value`` cache (Slicer: ``slicer.dicomDatabase.fileValue``
  of pre-cached tags). The cache is filled before the timer starts, as Slicer's database is at import;
  the header reads of the files (pydicom, no pixel data) are counted.

Run: ``.venv/bin/python benchmarks/bench_dicom_examine.py`` (``--ct-files 500 --repeats 3`` by default).
Prints the median time of each variant, the number of header reads and the ratio before/after.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from TINullCorrectionLib.io import dicom as dicom_io
from TINullCorrectionLib.io.tag_values import PydicomFileValues
from TINullCorrectionLib.mrml.dicom import PLUGIN_TAGS, examine_file_lists

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def write_ct(folder: Path, n: int) -> list[str]:
    study, series, paths = generate_uid(), generate_uid(), []
    for index in range(n):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CTImageStorage, generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = folder / f"ct{index:04d}.dcm"
        ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, meta.MediaStorageSOPInstanceUID, "CT"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SeriesNumber, ds.InstanceNumber = study, series, 2, index + 1
        ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, float(index)], [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness, ds.Rows, ds.Columns = [0.7, 0.7], 1.0, 64, 64
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelData = np.zeros((64, 64), np.int16).tobytes()
        ds.save_as(path, enforce_file_format=True)
        paths.append(str(path))
    return paths


class _CountingReads:
    """Counts pydicom.dcmread calls while active (header reads of any kind)."""

    def __enter__(self):
        self.count, self._real = 0, pydicom.dcmread

        def counting(*args, **kwargs):
            self.count += 1
            return self._real(*args, **kwargs)

        pydicom.dcmread = counting
        return self

    def __exit__(self, *exc):
        pydicom.dcmread = self._real


def examine_before(file_lists) -> int:
    """The plugin's examine call pattern before issue 11 (see the module docstring)."""
    candidates = []
    for files in file_lists:
        candidates.extend(dicom_io.examine_dicom_files(files))
    if len(file_lists) > 1:
        candidates.extend(dicom_io.examine_dicom_files([f for files in file_lists for f in files]))
    for candidate in candidates:
        pydicom.dcmread(candidate.files[0], stop_before_pixels=True)  # evidence read
    return len(candidates)


def filled_cache(file_lists) -> PydicomFileValues:
    cache = PydicomFileValues()
    for files in file_lists:
        for path in files:
            for tag in PLUGIN_TAGS.values():
                cache(path, tag)
    return cache


def measure(name: str, file_lists, repeats: int) -> None:
    cache = filled_cache(file_lists)
    results = {}
    for variant, run in (("before", lambda: examine_before(file_lists)), ("after", lambda: examine_file_lists(file_lists, file_value=cache))):
        times, reads = [], 0
        for _ in range(repeats):
            with _CountingReads() as counter:
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
            reads = counter.count
        results[variant] = (statistics.median(times), reads)
    (tb, rb), (ta, ra) = results["before"], results["after"]
    n_files = sum(len(f) for f in file_lists)
    ratio = f"{tb / ta:7.1f}x" if ta >= 1e-4 else "   n/a (after < 0.1 ms: nothing read)"
    print(f"{name:<44} {n_files:>5} files | before {tb * 1000:8.1f} ms, {rb:5d} header reads | "
          f"after {ta * 1000:8.2f} ms, {ra:5d} header reads | before/after {ratio}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ct-files", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    look_locker = sorted(str(p) for p in (SHARED / "look_locker_native_philips").iterdir())
    ir = [[str(p)] for p in sorted((SHARED / "ir_t1_phantom" / "philips_1.5T_plate4").iterdir())]
    with tempfile.TemporaryDirectory() as tmp:
        print(f"writing {args.ct_files} CT files ...", flush=True)
        ct = write_ct(Path(tmp), args.ct_files)
        measure("CT series alone", [ct], args.repeats)
        measure("CT series + 6 IR-phantom series together", [ct, *ir], args.repeats)
        measure("Look-Locker alone", [look_locker], args.repeats)
        measure("Look-Locker + 6 IR-phantom series together", [look_locker, *ir], args.repeats)


if __name__ == "__main__":
    main()
