"""Run in a subprocess by Testing/ti/io/test_pixel_decoders.py: one Python session in which the JPEG
decoders (pylibjpeg, pylibjpeg-libjpeg) are absent when pydicom is imported and become importable
later, as after a consent-based ``pip install`` inside a running Slicer.

"Absent" is a meta-path finder that refuses to import the decoder packages; removing it is the
moment they are "installed". Usage: ``python decoder_session.py io|mrml FILE...``; prints a JSON
object with the outcome of each load attempt.
"""

from __future__ import annotations

import importlib.abc
import json
import sys

DECODER_PACKAGES = {"pylibjpeg", "libjpeg", "openjpeg", "rle"}


class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in DECODER_PACKAGES:
            raise ModuleNotFoundError(f"No module named '{name}'")
        return None


def _attempt(load) -> str:
    from TINullCorrectionLib.core.types import ScoutError

    try:
        load()
        return "loaded"
    except ScoutError as error:
        return f"ScoutError: {error}"


def main(mode: str, files: list[str]) -> dict:
    blocker = _NotInstalled()
    sys.meta_path.insert(0, blocker)
    import pydicom
    from TINullCorrectionLib.io import dicom as dicom_io
    from TINullCorrectionLib.io import pixel_decoders

    def install() -> bool:  # what a successful consent + pip install amounts to
        sys.meta_path.remove(blocker)
        return True

    out = {"pydicom": pydicom.__version__, "syntax": pixel_decoders.transfer_syntax(files[0])}
    if mode == "io":
        out["before_install"] = _attempt(lambda: dicom_io.load_scout_from_files(files))
        install()
        out["installed_not_refreshed"] = _attempt(lambda: dicom_io.load_scout_from_files(files))
        pixel_decoders.refresh_pixel_decoders()
        out["refreshed"] = _attempt(lambda: dicom_io.load_scout_from_files(files))
        return out
    import slicer
    from TINullCorrectionLib.mrml.dicom import load_files_as_sequence_installing_decoders

    scene = slicer.vtkMRMLScene()
    sequences = slicer.vtkSlicerSequencesLogic()  # registers the sequence node classes on the scene
    sequences.SetMRMLScene(scene)
    out["declined"] = _attempt(lambda: load_files_as_sequence_installing_decoders(scene, files, "scout", sequences, install_decoders=lambda: False))
    out["nodes_after_declined"] = scene.GetNumberOfNodesByClass("vtkMRMLSequenceNode")
    out["installed"] = _attempt(lambda: load_files_as_sequence_installing_decoders(scene, files, "scout", sequences, install_decoders=install))
    out["sequences"] = scene.GetNumberOfNodesByClass("vtkMRMLSequenceNode")
    return out


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(sys.argv[1], sys.argv[2:])))
