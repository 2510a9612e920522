"""Issue 12 A1: which TI belongs to which picture. A TI table with a file column is matched by file name; a bare
list is accepted only in the natural order of the names (a shell glob puts photo_10 before photo_2)."""

from __future__ import annotations

import numpy as np
import pytest
from TINullCorrectionLib.core.types import ScoutError
from TINullCorrectionLib.io.images import check_list_order, natural_sort_key, read_ti_table, ti_for_files


def test_natural_order_compares_numbers_as_numbers():
    names = ["photo_10.jpg", "photo_2.jpg", "photo_1.jpg", "IMG_0003.JPG", "img_0002.jpg"]
    assert sorted(names, key=natural_sort_key) == ["img_0002.jpg", "IMG_0003.JPG", "photo_1.jpg", "photo_2.jpg", "photo_10.jpg"]


def test_a_list_is_refused_when_the_order_is_ambiguous():
    check_list_order(["a/photo_1.jpg", "b/photo_2.jpg", "photo_10.jpg"])
    check_list_order(["photo_01.jpg", "photo_02.jpg", "photo_10.jpg"])  # zero-padded: glob and natural order agree
    with pytest.raises(ScoutError, match="ambiguous"):
        check_list_order(sorted(["photo_1.jpg", "photo_2.jpg", "photo_10.jpg"]))  # what photo_*.jpg expands to
    with pytest.raises(ScoutError, match="ambiguous"):
        check_list_order(["b.png", "a.png", "c.png"])


def test_a_table_is_matched_by_file_name(tmp_path):
    table = tmp_path / "tis.csv"
    table.write_text("file,ti_ms\nphoto_2.jpg,140\nphoto_10.jpg,460\nextra.jpg,900\nphoto_1.jpg,100\n")
    files, values = read_ti_table(table)
    ti, warnings = ti_for_files(["x/photo_1.jpg", "x/photo_10.jpg", "x/photo_2.jpg"], files, values, "tis.csv")
    np.testing.assert_array_equal(ti, [100, 460, 140])
    assert warnings and "extra.jpg" in warnings[0]
    with pytest.raises(ScoutError, match="tis.csv has no TI for photo_3.jpg"):
        ti_for_files(["photo_1.jpg", "photo_3.jpg"], files, values, "tis.csv")
    with pytest.raises(ScoutError, match="lists photo_1.jpg twice"):
        ti_for_files(["photo_1.jpg"], ["photo_1.jpg", "a/photo_1.jpg"], [1.0, 2.0], "tis.csv")
    with pytest.raises(ScoutError, match="cannot tell them apart"):
        ti_for_files(["a/photo_1.jpg", "b/photo_1.jpg"], files, values, "tis.csv")
