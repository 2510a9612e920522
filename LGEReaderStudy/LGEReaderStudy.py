"""LGEReaderStudy: blinded 5-point scoring of LGE series, one series at a time (normal vs high resolution).

Slicer glue only: module description, parameter node, widget wiring, a thin logic and the self-test.
The session, the form and the score files are LGEResolutionQALib.study.reader_session (shared with the
``cardiac-lge reader-session`` command); showing a series in the scene is LGEReaderStudyLib.mrml.reading
(tested with pytest under slicer-core).
"""

import logging
import pathlib

import qt
import slicer
from slicer.parameterNodeWrapper import parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

try:
    from slicer.i18n import tr as _
except ImportError:  # Slicer < 5.4

    def _(text):
        return text


COMMENT_SAVE_DELAY_MS = 800  # the comment is saved this long after the last keystroke (and on every move)

#
# LGEReaderStudy
#


class LGEReaderStudy(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("LGE Reader Study")
        self.parent.categories = ["Cardiac"]
        self.parent.dependencies = []
        self.parent.contributors = ["CardiacLGE developers"]
        self.parent.helpText = _("""
Blinded reader scoring of LGE series, as in the published normal- vs high-resolution comparison:
<ol>
<li>The study coordinator makes a session: <code>cardiac-lge reader-session create --studies studies.csv --out session
--blinded-copies</code> (keep the key file away from the readers).</li>
<li>Each reader opens <b>session.json</b>, types a reader name and presses <b>Start / resume</b>. The series are shown
one at a time, in the reader's own random order, named only by a case code; window/level is reset for every series.</li>
<li>Score every criterion 1-5 (each anchor is written out) and add free text. Every click is saved at once in
readers/&lt;name&gt;.json; stop at any time and start again with the same name to resume.</li>
<li><code>cardiac-lge reader-session export</code> and <code>cardiac-lge cohort-stats</code> give the statistics.</li>
</ol>
Close the scene before reading: other volumes' names could unblind. This is research software, not a medical device.
See the <a href="https://github.com/cardiaclge/SlicerCardiacLGE#reader-study">documentation</a>.
""")
        self.parent.acknowledgementText = _("""
Developed by the CardiacLGE contributors (BSD-3-Clause). Statistics: scipy and statsmodels.
""")


#
# LGEReaderStudyParameterNode
#


@parameterNodeWrapper
class LGEReaderStudyParameterNode:
    """GUI state of the module (saved with the scene): the session file and the reader's name.

    The scores themselves are never kept in the scene: they are in the reader's score file.
    """

    # a str, not a pathlib.Path: an empty Path() would show as "." in the path field (wired by hand below)
    sessionFile: str = ""
    readerName: str = ""


#
# LGEReaderStudyWidget
#


class LGEReaderStudyWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._groups = {}  # criterion key -> (QButtonGroup, {score: QRadioButton})
        self._updating = False
        self._commentTimer = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/LGEReaderStudy.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = LGEReaderStudyLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.sessionPathLineEdit.connect("currentPathChanged(QString)", self.onSessionPathChanged)
        self.ui.startButton.connect("clicked(bool)", self.onStartButton)
        self.ui.previousButton.connect("clicked(bool)", lambda checked=False: self.onMove(-1))
        self.ui.nextButton.connect("clicked(bool)", lambda checked=False: self.onMove(1))
        self.ui.nextUnscoredButton.connect("clicked(bool)", self.onNextUnscored)
        self._commentTimer = qt.QTimer()
        self._commentTimer.setSingleShot(True)
        self._commentTimer.setInterval(COMMENT_SAVE_DELAY_MS)
        self._commentTimer.connect("timeout()", self.saveComment)
        self.ui.commentEdit.connect("textChanged()", self.onCommentChanged)

        self.initializeParameterNode()
        self._updateReadingState()

    def cleanup(self) -> None:
        self.saveComment()
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        self.saveComment()
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None

    def onSceneStartClose(self, caller, event) -> None:
        self.saveComment()
        self.logic.stop()
        self.setParameterNode(None)
        self._updateReadingState()

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            if self.ui.sessionPathLineEdit.currentPath != self._parameterNode.sessionFile:
                self.ui.sessionPathLineEdit.currentPath = self._parameterNode.sessionFile

    def onSessionPathChanged(self, path) -> None:
        if self._parameterNode and self._parameterNode.sessionFile != (path or ""):
            self._parameterNode.sessionFile = path or ""

    # ------------------------------------------------------------------------------------ the form
    def _buildForm(self, form) -> None:
        """One group per criterion: its question, and one radio button per score with its anchor."""
        layout = self.ui.formWidget.layout()
        while layout.count():
            item = layout.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        self._groups = {}
        for criterion in form:
            box = qt.QGroupBox(criterion.label)
            box.toolTip = criterion.question
            boxLayout = qt.QVBoxLayout(box)
            question = qt.QLabel(criterion.question)
            question.wordWrap = True
            boxLayout.addWidget(question)
            group = qt.QButtonGroup(box)
            buttons = {}
            for score in range(1, 6):
                button = qt.QRadioButton(f"{score} - {criterion.anchor(score)}")
                group.addButton(button, score)
                button.connect("clicked(bool)", lambda checked=False, k=criterion.key, v=score: self.onScore(k, v))
                boxLayout.addWidget(button)
                buttons[score] = button
            layout.addWidget(box)
            self._groups[criterion.key] = (group, buttons)

    def _showScores(self) -> None:
        scores = self.logic.currentScores()
        for key, (group, buttons) in self._groups.items():
            group.exclusive = False
            for score, button in buttons.items():
                button.checked = scores.get(key) == score
            group.exclusive = True
        self._updating = True
        try:
            self.ui.commentEdit.setPlainText(self.logic.currentComment())
        finally:
            self._updating = False

    def _updateReadingState(self) -> None:
        active = self.logic is not None and self.logic.isReading
        for name in ("previousButton", "nextButton", "nextUnscoredButton", "commentEdit", "formWidget"):
            getattr(self.ui, name).enabled = active
        if not active:
            self.ui.caseLabel.text = _("No case shown.")
            self.ui.progressBar.value = 0
            return
        done, total = self.logic.progress()
        self.ui.progressBar.maximum = total
        self.ui.progressBar.value = done
        missing = self.logic.missingCriteria()
        self.ui.caseLabel.text = _("Case {case} ({index} of {total}); {state}").format(
            case=self.logic.currentCase, index=self.logic.index + 1, total=total,
            state=_("complete") if not missing else _("{n} criteria to score").format(n=len(missing)))

    # ------------------------------------------------------------------------------------- actions
    def _guarded(self, title, function) -> bool:
        try:
            function()
            return True
        except (ValueError, FileNotFoundError, OSError) as error:  # bad session/reader file: say why
            self.ui.statusLabel.text = _("{title}: {error}").format(title=title, error=error)
            slicer.util.errorDisplay(str(error), windowTitle=title)
        except Exception as error:
            logging.exception(f"LGEReaderStudy: {title} failed")
            self.ui.statusLabel.text = _("{title} failed: {error}").format(title=title, error=error)
        return False

    def onStartButton(self) -> None:
        pn = self._parameterNode
        if pn is None:
            return
        self.saveComment()

        def start():
            message = self.logic.start(pn.sessionFile, pn.readerName)
            others = self.logic.otherVolumeCount()
            if others:
                message += " " + _("Warning: {n} other volume(s) in the scene; close the scene to keep their names "
                                   "out of view.").format(n=others)
            self._buildForm(self.logic.session.form)
            self._showCase()
            self.ui.statusLabel.text = message

        self._guarded(_("Start reading"), start)
        self._updateReadingState()

    def _showCase(self) -> None:
        qt.QApplication.setOverrideCursor(qt.Qt.WaitCursor)
        try:
            self.logic.showCurrent(slicer.mrmlScene)
            slicer.util.resetSliceViews()
        finally:
            qt.QApplication.restoreOverrideCursor()
        self._showScores()
        self._updateReadingState()

    def onMove(self, step) -> None:
        if not self.logic.isReading:
            return
        self.saveComment()
        self.logic.move(step)
        self._guarded(_("Show case"), self._showCase)

    def onNextUnscored(self) -> None:
        if not self.logic.isReading:
            return
        self.saveComment()
        if self.logic.moveToNextUnscored() is None:
            self.ui.statusLabel.text = _("Every case is scored: the reading is complete. Thank you.")
            return
        self._guarded(_("Show case"), self._showCase)

    def onScore(self, criterion, value) -> None:
        if not self.logic.isReading:
            return
        if self._guarded(_("Save score"), lambda: self.logic.score(criterion, value)):
            self.ui.statusLabel.text = _("Saved {criterion} = {value} for case {case}.").format(
                criterion=criterion, value=value, case=self.logic.currentCase)
        self._showScores()
        self._updateReadingState()

    def onCommentChanged(self) -> None:
        if not self._updating and self.logic.isReading:
            self._commentTimer.start()

    def saveComment(self) -> None:
        if self._commentTimer is not None:
            self._commentTimer.stop()
        if self.logic is not None and self.logic.isReading:
            self._guarded(_("Save comment"), lambda: self.logic.setComment(self.ui.commentEdit.toPlainText()))


#
# LGEReaderStudyLogic
#


class LGEReaderStudyLogic(ScriptedLoadableModuleLogic):
    """Thin logic: the open session and score file (core), the case shown (mrml adapter)."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self.session = None
        self.scores = None
        self.index = 0

    def getParameterNode(self):
        return LGEReaderStudyParameterNode(super().getParameterNode())

    @property
    def isReading(self) -> bool:
        return self.scores is not None

    @property
    def currentCase(self) -> str:
        return self.scores.order[self.index]

    def start(self, sessionFile, readerName) -> str:
        """Open (create or resume) the reader's score file; the first unscored case becomes current."""
        from LGEResolutionQALib.study import reader_session as rs

        if not str(sessionFile or "").strip() or str(sessionFile) == ".":
            raise ValueError(_("Choose the session file (session.json)."))
        session = rs.load_session(sessionFile)
        scores = rs.ReaderScores.open(session, readerName)
        index = scores.first_unscored()
        self.session, self.scores, self.index = session, scores, (0 if index is None else index)
        done, total = scores.progress()
        if index is None:
            return _("All {total} cases are scored; you can review them.").format(total=total)
        return _("Reader {reader}: {done} of {total} cases complete; continuing with case {case}.").format(
            reader=scores.reader, done=done, total=total, case=self.currentCase)

    def stop(self) -> None:
        self.session, self.scores, self.index = None, None, 0

    def otherVolumeCount(self, scene=None) -> int:
        from LGEReaderStudyLib.mrml import reading

        return len(reading.other_volumes(scene or slicer.mrmlScene))

    def showCurrent(self, scene=None):
        from LGEReaderStudyLib.mrml import reading

        scene = scene or slicer.mrmlScene
        reading.set_reading_layout(scene)
        return reading.load_case(scene, self.session, self.currentCase)

    def move(self, step: int) -> int:
        self.index = max(0, min(len(self.scores.order) - 1, self.index + int(step)))
        return self.index

    def moveToNextUnscored(self):
        index = self.scores.first_unscored((self.index + 1) % len(self.scores.order))
        if index is not None:
            self.index = index
        return index

    def score(self, criterion: str, value: int) -> None:
        self.scores.score(self.currentCase, criterion, int(value))

    def setComment(self, text: str) -> None:
        self.scores.set_comment(self.currentCase, text)

    def currentScores(self) -> dict:
        return self.scores.scores(self.currentCase) if self.isReading else {}

    def currentComment(self) -> str:
        return self.scores.comment(self.currentCase) if self.isReading else ""

    def missingCriteria(self) -> list:
        return self.scores.missing_criteria(self.currentCase)

    def progress(self):
        return self.scores.progress()


#
# LGEReaderStudyTest
#


class LGEReaderStudyTest(ScriptedLoadableModuleTest):
    """Self-test: the reading scenario that pytest runs under slicer-core (Testing/reader/mrml/test_reading.py)."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_reading_scenario()
        self.setUp()
        self.test_logic_refuses_another_sessions_file()

    def test_reading_scenario(self):
        self.delayDisplay("Blinded session of two simulated patients: show, score, resume")
        import tempfile

        from LGEReaderStudyLib.scenarios import run_reading_scenario

        with tempfile.TemporaryDirectory() as folder:
            result = run_reading_scenario(slicer.mrmlScene, folder)
            self.assertEqual(result["reading_volumes"], 1)
            self.assertEqual(result["node_name"], f"Case {result['second_case']}")
            for text in result["node_texts"]:
                for word in result["hidden_words"]:
                    self.assertNotIn(word, text)
            self.assertEqual(result["resumed_index"], 1)
            self.assertFalse(result["auto_window_level"])
        self.delayDisplay("Test passed: one series at a time, named by its case code, scores resumed")

    def test_logic_refuses_another_sessions_file(self):
        import tempfile

        from LGEReaderStudyLib.scenarios import write_simulated_study_list
        from LGEResolutionQALib.study import reader_session as rs

        with tempfile.TemporaryDirectory() as folder:
            entries = rs.read_study_list(write_simulated_study_list(pathlib.Path(folder), n_patients=1))
            first = rs.create_session(entries, pathlib.Path(folder) / "a", readers=["R1"])
            second = rs.create_session(entries, pathlib.Path(folder) / "b")
            (pathlib.Path(folder) / "b" / "readers").mkdir(exist_ok=True)
            (pathlib.Path(folder) / "b" / "readers" / "R1.json").write_bytes(first.readers[0].read_bytes())
            logic = LGEReaderStudyLogic()
            with self.assertRaises(ValueError):
                logic.start(str(second.session), "R1")
            self.assertFalse(logic.isReading)
        self.delayDisplay("Test passed: a reader file of another session is refused")
