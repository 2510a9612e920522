"""Shared pytest fixtures: a fresh, real MRML scene per test (slicer-core, no mocks) and the
path of the real DICOM data beside the project (../shared/data; tests needing it skip when absent)."""

from __future__ import annotations

import types
from pathlib import Path

import pytest
from support.paths import REPO_ROOT, SHARED_DATA, shared_data_problem  # noqa: F401 - re-exported for tests

_MODULE_LOGIC_CLASSES = {
    "Volumes": "vtkSlicerVolumesLogic",
    "Sequences": "vtkSlicerSequencesLogic",
    "Segmentations": "vtkSlicerSegmentationsModuleLogic",
    "Markups": "vtkSlicerMarkupsLogic",
    "Tables": "vtkSlicerTablesLogic",
    "Plots": "vtkSlicerPlotsLogic",
    "Texts": "vtkSlicerTextsLogic",
    "Colors": "vtkSlicerColorLogic",
}
_converter_rules_registered = False


def _register_segmentation_converter_rules(slicer) -> None:
    global _converter_rules_registered
    if _converter_rules_registered:
        return
    factory = slicer.vtkSegmentationConverterFactory.GetInstance()
    for rule in (
        "vtkBinaryLabelmapToClosedSurfaceConversionRule",
        "vtkClosedSurfaceToBinaryLabelmapConversionRule",
        "vtkClosedSurfaceToFractionalLabelmapConversionRule",
        "vtkFractionalLabelmapToClosedSurfaceConversionRule",
    ):
        factory.RegisterConverterRule(getattr(slicer, rule)())
    _converter_rules_registered = True


@pytest.fixture
def slicer_env():
    """A fresh vtkMRMLScene with application logic and the module logics registered.

    Yields a namespace with ``scene``, ``app_logic`` and ``logics`` (dict name -> logic).
    ``slicer.mrmlScene`` is set to the scene for the test (some slicer.util helpers need it), and
    ``slicer.modules`` exposes ``<name>.logic()`` for the registered logics in tests only.
    """
    import slicer

    _register_segmentation_converter_rules(slicer)
    scene = slicer.vtkMRMLScene()
    app_logic = slicer.vtkSlicerApplicationLogic()
    app_logic.SetMRMLScene(scene)
    logics = {}
    for name, class_name in _MODULE_LOGIC_CLASSES.items():
        logic = getattr(slicer, class_name)()
        logic.SetMRMLApplicationLogic(app_logic)
        logic.SetMRMLScene(scene)
        app_logic.SetModuleLogic(name, logic)
        logics[name] = logic
    previous_scene = getattr(slicer, "mrmlScene", None)
    previous_modules = getattr(slicer, "modules", None)
    slicer.mrmlScene = scene
    slicer.modules = types.SimpleNamespace(
        **{name.lower(): types.SimpleNamespace(logic=(lambda lg=logic: lg)) for name, logic in logics.items()}
    )
    yield types.SimpleNamespace(scene=scene, app_logic=app_logic, logics=logics)
    for logic in logics.values():
        logic.SetMRMLScene(None)
    scene.Clear(1)
    slicer.mrmlScene = previous_scene
    if previous_modules is None:
        del slicer.modules
    else:
        slicer.modules = previous_modules


@pytest.fixture
def scene(slicer_env):
    """A fresh real vtkMRMLScene (see ``slicer_env``)."""
    return slicer_env.scene


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data (real scanner DICOM); skips the test, with the reason, when it is absent or when
    CARDIACLGE_SHARED_DATA names a folder without the data sets (support.paths.shared_data_problem)."""
    problem = shared_data_problem(SHARED_DATA)
    if problem:
        pytest.skip(problem)
    return SHARED_DATA
