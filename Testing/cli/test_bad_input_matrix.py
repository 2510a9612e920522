"""The bad-input matrix (issue 12 F22) as ONE parametrised test: every row of support.bad_inputs.CASES is an
input a new or a hostile user can give the TI side of ``cardiac-lge``, and the exact class of outcome it must
get (a clear error matching a message, an explicit warning, or a correct result). A regression shows which
promise (issue item) broke in the test id.

Counts for the closing note:  .venv/bin/python Testing/cli/test_bad_input_matrix.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.bad_inputs import CASES, BaseData, run_case, summary  # noqa: E402


@pytest.fixture(scope="module")
def base_data(tmp_path_factory) -> BaseData:
    return BaseData(tmp_path_factory.mktemp("matrix_base"))


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gets_its_outcome(case, base_data, tmp_path):
    observed, run = run_case(case, tmp_path / "work", base_data)
    assert observed.kind == case.outcome, f"[{case.item}] expected {case.outcome}, got {observed.kind}: {observed.detail}\n{run.stdout[-2000:]}"


def test_every_ti_and_cli_item_of_issue_12_has_rows():
    items = {case.item for case in CASES}
    assert {"A1", "A3", "A4", "A8", "A10", "B11", "B12", "B13", "B15", "D17", "E18", "E19"} <= items
    assert len({case.id for case in CASES}) == len(CASES)


if __name__ == "__main__":  # the counts: cases, clear errors, warnings, results, tracebacks, silent wrong
    with tempfile.TemporaryDirectory() as folder:
        data = BaseData(Path(folder) / "base")
        observed = []
        for number, case in enumerate(CASES):
            outcome, _ = run_case(case, Path(folder) / f"case{number:03d}", data)
            observed.append((case, outcome))
            mark = "ok " if outcome.kind == case.outcome else "BROKEN"
            print(f"{mark} [{case.item}] {case.id}: {outcome.kind}", file=sys.stderr, flush=True)
        print(summary(observed))
        sys.exit(0 if all(o.kind == c.outcome for c, o in observed) else 1)
