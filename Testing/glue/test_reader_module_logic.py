"""LGEReaderStudy.py's thin Logic under slicer-core with the application-only imports (qt,
ScriptedLoadableModule, parameterNodeWrapper) replaced by minimal stand-ins: start / resume, showing
the current case in a real scene, scoring into the reader file, moving, and refusing another session's
reader file (the widget itself needs the Slicer application)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import types

import pytest
from LGEReaderStudyLib.mrml import reading
from LGEReaderStudyLib.scenarios import write_simulated_study_list
from LGEResolutionQALib.study import reader_session as rs
from support.paths import REPO_ROOT

MODULE_PATH = REPO_ROOT / "LGEReaderStudy" / "LGEReaderStudy.py"


@pytest.fixture
def module(slicer_env, monkeypatch):
    qt = types.ModuleType("qt")
    wrapper = types.ModuleType("slicer.parameterNodeWrapper")
    wrapper.parameterNodeWrapper = lambda cls: cls
    scripted = types.ModuleType("slicer.ScriptedLoadableModule")

    class _Base:
        def __init__(self, *args, **kwargs):
            pass

    for name in ("ScriptedLoadableModule", "ScriptedLoadableModuleWidget", "ScriptedLoadableModuleTest",
                 "ScriptedLoadableModuleLogic"):
        setattr(scripted, name, type(name, (_Base,), {}))
    monkeypatch.setitem(sys.modules, "qt", qt)
    monkeypatch.setitem(sys.modules, "slicer.parameterNodeWrapper", wrapper)
    monkeypatch.setitem(sys.modules, "slicer.ScriptedLoadableModule", scripted)
    spec = importlib.util.spec_from_file_location("LGEReaderStudy_under_test", MODULE_PATH)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


@pytest.fixture
def session_files(tmp_path):
    entries = rs.read_study_list(write_simulated_study_list(tmp_path, n_patients=2))
    return rs.create_session(entries, tmp_path / "session", seed=2, blinded_copies=True)


def test_parameter_node_holds_only_the_session_file_and_the_reader(module):
    assert set(module.LGEReaderStudyParameterNode.__annotations__) == {"sessionFile", "readerName"}


def test_logic_reads_scores_and_resumes(module, slicer_env, session_files):
    scene = slicer_env.scene
    logic = module.LGEReaderStudyLogic()
    assert not logic.isReading
    message = logic.start(str(session_files.session), "R1")
    assert "0 of 4 cases complete" in message and logic.index == 0
    node = logic.showCurrent(scene)
    assert node.GetName() == f"Case {logic.currentCase}" and reading.reading_volumes(scene) == [node]
    for criterion in logic.session.criteria_keys:
        logic.score(criterion, 5)
    logic.setComment("fine")
    assert logic.missingCriteria() == [] and logic.progress() == (1, 4)
    stored = json.loads((session_files.session.parent / "readers" / "R1.json").read_text())
    assert stored["cases"][logic.currentCase]["comment"] == "fine"
    assert logic.move(-1) == 0 and logic.move(10) == 3
    assert logic.moveToNextUnscored() == 1  # wraps around to the first incomplete case
    logic.showCurrent(scene)
    assert len(reading.reading_volumes(scene)) == 1
    # A restarted application resumes at the first unscored case.
    again = module.LGEReaderStudyLogic()
    assert "1 of 4 cases complete; continuing with case" in again.start(str(session_files.session), "R1")
    assert again.index == 1 and again.currentScores() == {}


def test_logic_refuses_another_sessions_reader_file(module, session_files, tmp_path):
    entries = rs.read_study_list(tmp_path / "studies.csv")
    other = rs.create_session(entries, tmp_path / "other", readers=["R1"])
    (session_files.session.parent / "readers").mkdir(exist_ok=True)
    shutil.copy(other.readers[0], session_files.session.parent / "readers" / "R1.json")
    logic = module.LGEReaderStudyLogic()
    with pytest.raises(rs.ReaderFileError, match="belongs to another reading session"):
        logic.start(str(session_files.session), "R1")
    assert not logic.isReading
    with pytest.raises(ValueError, match="Choose the session file"):
        logic.start(".", "R1")
    with pytest.raises(rs.ReaderFileError, match="Reader name"):
        logic.start(str(session_files.session), "")
