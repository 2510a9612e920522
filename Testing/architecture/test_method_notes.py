"""The code cites the project's own method notes (docs/METHODS.md), which a fresh clone has, and every
section it cites exists there."""

from __future__ import annotations

import re
import subprocess

from support.paths import REPO_ROOT

CITATION = re.compile(r"docs/METHODS\.md\s*§\s*(\d+(?:\.\d+)?)")


def _tracked_text_files():
    names = subprocess.run(["git", "ls-files", "*.py", "*.md"], capture_output=True, text=True, cwd=REPO_ROOT).stdout.split()
    return [REPO_ROOT / n for n in names if (REPO_ROOT / n).is_file()]


def _sections() -> set[str]:
    text = (REPO_ROOT / "docs" / "METHODS.md").read_text(encoding="utf-8")
    return {m.group(1) for m in re.finditer(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", text, re.M)}


OUTSIDE_NOTES = "SCIENCE" + ".md"  # spelled in two parts so that this file does not cite it itself


def test_no_file_cites_notes_outside_the_repository():
    offenders = [p.relative_to(REPO_ROOT).as_posix() for p in _tracked_text_files()
                 if OUTSIDE_NOTES in p.read_text(encoding="utf-8", errors="replace")]
    assert offenders == []


def test_every_cited_section_exists():
    sections = _sections()
    assert {"1", "1.2", "2", "2.4"} <= sections
    missing = {}
    for path in _tracked_text_files():
        for match in CITATION.finditer(path.read_text(encoding="utf-8", errors="replace")):
            if match.group(1) not in sections:
                missing.setdefault(path.relative_to(REPO_ROOT).as_posix(), []).append(match.group(1))
    assert missing == {}
