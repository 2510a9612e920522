"""``cardiac-lge check-env``: verify that the run-time stack works on this machine.

Imports torch, SimpleITK, pydicom (with a JPEG-lossless decoder) and slicer-core, creates a real
MRML scene with a volume node, and prints what it found. Exit code 1 when something is missing.
"""

from __future__ import annotations

import argparse
import platform


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check-env",
        help="check the installed dependencies (torch, SimpleITK, pydicom decoders, slicer-core MRML)",
        description=__doc__,
    )
    parser.set_defaults(func=run)


def _check(label: str, function) -> bool:
    try:
        detail = function()
    except Exception as error:  # noqa: BLE001 - every failure is reported to the user
        print(f"  [FAIL] {label}: {type(error).__name__}: {error}")
        return False
    print(f"  [ok]   {label}: {detail}")
    return True


def _torch() -> str:
    import torch

    device = "CUDA " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU only"
    value = float(torch.nn.functional.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 3, 3)).item())
    if value != 9.0:
        raise RuntimeError(f"conv2d gave {value}, expected 9")
    return f"torch {torch.__version__} ({device}, {torch.get_num_threads()} threads)"


def _simpleitk() -> str:
    import SimpleITK as sitk

    image = sitk.Image(4, 4, sitk.sitkFloat32)
    image.SetSpacing((0.625, 0.625))
    return f"SimpleITK {sitk.Version.VersionString()} (spacing round trip {image.GetSpacing()})"


def _pydicom() -> str:
    import pydicom
    from pydicom.pixels import get_decoder
    from pydicom.uid import JPEGLosslessSV1

    decoder = get_decoder(JPEGLosslessSV1)
    if not decoder.is_available:
        raise RuntimeError("no JPEG-lossless decoder: install pylibjpeg and pylibjpeg-libjpeg")
    plugins = ", ".join(decoder.available_plugins)
    return f"pydicom {pydicom.__version__}, JPEG-lossless decoder via {plugins}"


def _slicer_scene() -> str:
    import numpy as np
    import slicer
    from CardiacLGECommonLib.mrml.volumes import add_volume_from_array, array_from_volume

    scene = slicer.vtkMRMLScene()
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    node = add_volume_from_array(scene, array, np.diag([0.625, 0.625, 8.0, 1.0]), "check")
    if not np.array_equal(array_from_volume(node), array):
        raise RuntimeError("volume round trip changed the voxels")
    from importlib.metadata import version as package_version

    version = f"slicer-core {package_version('slicer-core')}"
    return f"{version}: real vtkMRMLScene with {node.GetClassName()} '{node.GetName()}', spacing {node.GetSpacing()}"


def run(args: argparse.Namespace) -> int:
    from cardiac_lge import __version__

    print(f"cardiac-lge {__version__} environment check (Python {platform.python_version()}, {platform.machine()})")
    results = [
        _check("torch", _torch),
        _check("SimpleITK", _simpleitk),
        _check("pydicom", _pydicom),
        _check("slicer-core MRML", _slicer_scene),
    ]
    print("All checks passed." if all(results) else "Some checks FAILED (see above).")
    return 0 if all(results) else 1
