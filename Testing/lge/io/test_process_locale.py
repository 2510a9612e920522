"""ITK's GDCM writer sets the C locale to "C" and leaves it so: Python's preferred encoding became ASCII for the
rest of the process (found when a later test's text subprocess failed on tqdm's bar) and inside Slicer the
application's locale would change under it. The DICOM writers and readers of the LGE side keep the locale."""

from __future__ import annotations

import locale

import numpy as np
from CardiacLGECommonLib.core.process_locale import process_locale_kept
from LGEResolutionQALib.io import definitions as io
from LGEResolutionQALib.io.lge_inputs import read_stack


def test_a_dicom_series_written_and_read_back_leaves_the_locale_as_it_was(tmp_path):
    before = locale.setlocale(locale.LC_ALL)
    encoding = locale.getpreferredencoding(False)
    ijk_to_ras = np.diag([-1.25, -1.25, 8.0, 1.0])
    array = np.random.default_rng(0).random((3, 16, 16))
    io.write_dicom_series(tmp_path / "series", array, ijk_to_ras)
    assert locale.setlocale(locale.LC_ALL) == before and locale.getpreferredencoding(False) == encoding
    image = io.read_dicom_folder(tmp_path / "series")
    assert image.GetSize() == (16, 16, 3)
    stack = read_stack(str(tmp_path / "series"))
    assert stack.array.shape == (3, 16, 16)
    assert locale.setlocale(locale.LC_ALL) == before and locale.getpreferredencoding(False) == encoding


def test_the_guard_restores_a_locale_changed_inside_it():
    before = locale.setlocale(locale.LC_ALL)
    with process_locale_kept():
        locale.setlocale(locale.LC_ALL, "C")
    assert locale.setlocale(locale.LC_ALL) == before
