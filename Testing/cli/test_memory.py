"""cardiac-lge processes keep the memory one series frees for the next (cardiac_lge/memory.py): no page faults
when the same work repeats, the user's own glibc settings respected, and every process of the command line set up.

Each check runs in a fresh interpreter: the allocator's settings are per process and cannot be undone."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from cardiac_lge.memory import _glibc

pytestmark = pytest.mark.skipif(_glibc() is None, reason="glibc's mallopt only (the setting is a no-op elsewhere)")

#: A "series": 12 blocks of 4 MiB allocated, then freed together (as the DICOM bytes, frames and fit arrays are);
#: prints the page faults of each repeat after the first.
SERIES = textwrap.dedent("""
    import resource, sys
    import numpy as np
    if sys.argv[1] == "keep":
        from cardiac_lge.memory import keep_freed_memory
        print("applied", keep_freed_memory(), keep_freed_memory())
    def one_series():
        blocks = [np.ones(512 * 1024) for _ in range(12)]
        return sum(float(b[0]) for b in blocks)
    one_series()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        one_series()
    print("faults", (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
""")


def _run(code: str, *args: str, env: dict | None = None) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    environment.update(env or {})
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=environment, timeout=120,
                         check=True).stdout
    return {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}


def test_a_repeated_series_faults_no_pages_in_again():
    default = float(_run(SERIES, "default")["faults"][0])
    kept = _run(SERIES, "keep")
    assert kept["applied"] == ["True", "True"]  # idempotent: the second call reports the same
    # glibc's defaults give the freed 48 MiB back and fault them in again on every repeat (about 6000 pages
    # here); kept, the repeats reuse them
    assert default > 1000
    assert float(kept["faults"][0]) < 0.05 * default


def test_the_users_own_glibc_settings_are_left_alone():
    kept = _run(SERIES, "keep", env={"MALLOC_TRIM_THRESHOLD_": "131072"})
    assert kept["applied"] == ["False", "False"]
    assert float(kept["faults"][0]) > 1000  # the user's small trim threshold is in force


def test_the_command_line_sets_up_its_process():
    code = textwrap.dedent("""
        import contextlib, io
        from cardiac_lge import cli, memory
        assert memory._applied is None
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli.main([]) == 0
        print("applied", memory._applied)
    """)
    assert _run(code)["applied"] == ["True"]


def test_batch_worker_processes_set_up_theirs():
    """Spawned --workers processes do not pass through cli.main: their initializer does it."""
    code = textwrap.dedent("""
        from cardiac_lge import memory
        from cardiac_lge.commands import ti_correct
        from cardiac_lge.commands.ti_correct import settings_from_args
        import argparse
        parser = argparse.ArgumentParser(); sub = parser.add_subparsers(); ti_correct.register(sub)
        args = parser.parse_args(["ti-correct", "--batch", "."])
        ti_correct._start_worker(None, None, False, settings_from_args(args), False, False)
        print("applied", memory._applied)
    """)
    assert _run(code)["applied"] == ["True"]
