"""``cardiac-lge check-env``: verify that the installed profile works on this machine.

Default profile (what ti-correct, qa, simulate and evaluate need): numpy/scipy, SimpleITK, pydicom with a
JPEG-lossless decoder, and onnxruntime running both shipped networks (checked ONNX files, sha256 against
the model card). Reported when installed, not required: torch + onnx + onnxscript (the [train] profile:
train, train-myocardium, export-onnx) and slicer-core (the [test] profile: a real MRML scene with a volume
node). Exit code 1 when a default-profile check fails, or an optional package is installed but broken.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check-env",
        help="check the installed profile (onnxruntime models, SimpleITK, pydicom decoders; torch and slicer-core if installed)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder that refuses the name, or a half-imported module
        return False


def _optional(label: str, module: str, profile: str, function) -> bool:
    """Run ``function`` when ``module`` is installed; otherwise say which profile brings it (not a failure)."""
    if not _installed(module):
        print(f"  [--]   {label}: not installed (only the {profile} profile needs it)")
        return True
    return _check(label, function)


def _onnx_models() -> str:
    import numpy as np
    from CardiacLGECommonLib.core.offline import import_onnxruntime
    from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model
    from TINullCorrectionLib.networks.ti_offset import load_model
    from TINullCorrectionLib.scenarios import simulate_known_null_scout

    model, unet = load_model(), load_segmentation_model()
    scout = simulate_known_null_scout(0).scout
    prediction = model.predict(scout)
    probability = unet.myocardium_probability(scout)
    if not (np.allclose(prediction.probabilities.sum(1), 1.0) and np.isfinite(probability).all()):
        raise RuntimeError("the networks gave invalid probabilities")
    return (f"onnxruntime {import_onnxruntime().__version__}: {model.name} ({model.network.sha256[:12]}...) and {unet.name} "
            f"({unet.network.sha256[:12]}...) load (sha256 as in the model card) and run on a simulated scout")


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


def _training() -> str:
    from importlib.metadata import version

    from cardiac_lge.training.environment import torch_summary

    exporter = [f"{name} {version(name)}" if _installed(name) else f"{name} MISSING (export-onnx needs it)"
                for name in ("onnx", "onnxscript")]
    return f"{torch_summary()}; {', '.join(exporter)}"


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
    print(" default profile (ti-correct, qa, simulate, evaluate):")
    required = [
        _check("networks on onnxruntime", _onnx_models),
        _check("SimpleITK", _simpleitk),
        _check("pydicom", _pydicom),
    ]
    print(" optional profiles:")
    optional = [
        _optional("training (torch, onnx, onnxscript)", "torch", "[train]", _training),
        _optional("slicer-core MRML", "slicer", "[test]", _slicer_scene),
    ]
    ok = all(required) and all(optional)
    print("All checks passed." if ok else "Some checks FAILED (see above).")
    return 0 if ok else 1
