"""Export the torch networks to the ONNX files that inference runs (torch + onnx + onnxscript: the [train] profile).

``cardiac-lge export-onnx`` regenerates the shipped ``models/*.onnx`` from the shipped ``.pt`` files;
``cardiac-lge train`` / ``train-myocardium`` write the ``.onnx`` beside the ``.pt`` they train.

How (torch 2.13): ``torch.onnx.export(..., dynamo=True)`` (the torch.export-based exporter, torch's default;
it needs ``onnx`` and ``onnxscript``), opset 18, one self-contained file (``external_data=False``). The TI
network is exported through ``architectures.SingleSeries`` (one unpadded series, dynamic number of frames).
Three fixes are applied to the exported graph: its declared output shape keeps the example's frame count
(the exporter does not carry the symbolic frame axis through the GRU) and is set back to the named axis;
the intermediate shape annotations (``value_info``, optional in ONNX) are dropped for the same reason; and
the exporter's per-node metadata (stack traces with the builder's source paths and line numbers) is
dropped, so that the export is reproducible byte for byte from the same .pt on any machine. The file then gets its CardiacLGE metadata (format, version, contract with the offset bins and
preprocessing, model card, sha256 of the source .pt), passes ``onnx.checker`` (full check), is loaded back
through the same checks inference uses, and must reproduce the torch logits on a probe series
(max |delta logit| <= 1e-4) before it replaces any file (written atomically).
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from TINullCorrectionLib.core.preprocessing import N_CHANNELS, N_SCALARS
from TINullCorrectionLib.networks import myocardium_unet, single_frame, ti_offset
from TINullCorrectionLib.networks.architectures import SingleSeries
from TINullCorrectionLib.networks.model_files import MODEL_CARD_JSON, MODELS_DIR, file_sha256
from TINullCorrectionLib.networks.onnx_runtime import (
    CARD_KEY,
    CONTRACT_KEY,
    FORMAT_KEY,
    VERSION_KEY,
    OnnxContract,
)
from TINullCorrectionLib.networks.torch_models import module_of

EXPORT_OPSET = 18
#: Largest |ONNX - torch| logit difference accepted on the probe input after export.
EXPORT_TOLERANCE = 1e-4
SHIPPED_PAIRS = (("ti_offset_sequence.pt", "ti_offset_sequence.onnx"), ("myocardium_unet.pt", "myocardium_unet.onnx"),
                 ("ti_offset_single_frame.pt", "ti_offset_single_frame.onnx"))


class ExportError(RuntimeError):
    """The ONNX export failed or does not reproduce the torch network."""


def check_exporter() -> None:
    """ExportError unless the exporter's packages (onnx, onnxscript) are installed."""
    missing = [name for name in ("onnx", "onnxscript") if _find(name) is None]
    if missing:
        raise ExportError(f"ONNX export needs {' and '.join(missing)}: install the training profile (pip install -e .[train]).")


def _find(name: str):
    import importlib.util

    return importlib.util.find_spec(name)


def _plain(card: dict) -> dict:
    return {str(k): v for k, v in card.items() if isinstance(v, (str, int, float, bool))}


def _forget_recurrent_kernels() -> None:
    """Clear torch's per-operator dispatch cache of the recurrent ops before an export.

    torch 2.13 caches the kernel an OpOverload resolved to; after one export the cached kernel of
    ``aten.gru`` decomposes the GRU with the example's frame count fixed, so a second export in the same
    process gets a static frame axis (seen when ``train`` and ``export-onnx`` ran in one test session).
    """
    for packet in (torch.ops.aten.gru, torch.ops.aten.lstm, torch.ops.aten.rnn_tanh, torch.ops.aten.rnn_relu):
        for overload in packet.overloads():
            cache = getattr(getattr(packet, overload), "_dispatch_cache", None)
            if cache is not None:
                cache.clear()


def _export(module: torch.nn.Module, example: tuple[torch.Tensor, ...], contract: OnnxContract, metadata: dict[str, str],
            doc: str) -> bytes:
    import onnx

    names = [t.name for t in contract.inputs]
    dims = {}
    for spec in contract.inputs:
        dims[spec.name] = {axis: torch.export.Dim(dim, min=2, max=4096) if dim == "frames" else torch.export.Dim(dim, min=1, max=4096)
                           for axis, dim in enumerate(spec.shape) if isinstance(dim, str)}
    shared = {}  # one Dim object per axis name, so that all inputs share the frame axis
    for spec_dims in dims.values():
        for axis, dim in spec_dims.items():
            spec_dims[axis] = shared.setdefault(dim.__name__, dim)
    module.eval()
    _forget_recurrent_kernels()
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)  # "torchvision is not installed"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation chatter is not the user's concern
        program = torch.onnx.export(module, example, None, dynamo=True, external_data=False, opset_version=EXPORT_OPSET,
                                    input_names=names, output_names=[t.name for t in contract.outputs],
                                    dynamic_shapes={name: dims[name] for name in names}, optimize=True, verbose=False)
    proto = program.model_proto
    for output, spec in zip(proto.graph.output, contract.outputs, strict=True):
        for dim, wanted in zip(output.type.tensor_type.shape.dim, spec.shape, strict=True):
            if isinstance(wanted, str):
                dim.Clear()
                dim.dim_param = wanted
    del proto.graph.value_info[:]
    for node in proto.graph.node:  # the exporter's per-node notes hold source paths and line numbers:
        del node.metadata_props[:]  # not reproducible (and the builder's file system is nobody's business)
    del proto.graph.metadata_props[:]
    proto.doc_string = doc
    del proto.metadata_props[:]
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto, full_check=True)
    return proto.SerializeToString()


def _write_atomically(path: Path, data: bytes) -> None:
    """The model file written through the project's atomic writer (the folder is made when missing)."""
    from CardiacLGECommonLib.core.files import write_atomically

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda temporary: temporary.write_bytes(data))


def _verified(data: bytes, path: Path, load, reference, probe: tuple[np.ndarray, ...]) -> float:
    """Load ``data`` through the inference checks and compare it with the torch reference on ``probe``."""
    with tempfile.TemporaryDirectory() as folder:
        candidate = Path(folder) / path.name
        candidate.write_bytes(data)
        loaded = load(candidate)
        difference = float(np.abs(loaded.network(*probe) - reference(*probe)).max())
    if not difference <= EXPORT_TOLERANCE:
        raise ExportError(f"The ONNX export of {path.name} differs from the torch network by {difference:.2e} (> {EXPORT_TOLERANCE:g}).")
    return difference


def _export_checked(model, path: Path, forward: torch.nn.Module, example: tuple[torch.Tensor, ...], contract: OnnxContract,
                   runtime_module, contract_metadata: dict, source_sha256: str | None, doc: str, load,
                   probe: tuple[np.ndarray, ...]) -> str:
    """Export ``forward``, check the file through the inference loader ``load`` against the torch network on
    ``probe``, write it atomically; returns its sha256. ``runtime_module`` is the networks module whose
    ONNX_FORMAT / ONNX_VERSION the file declares."""
    metadata = {FORMAT_KEY: runtime_module.ONNX_FORMAT, VERSION_KEY: str(runtime_module.ONNX_VERSION),
                CONTRACT_KEY: json.dumps(contract_metadata),
                CARD_KEY: json.dumps(_plain({**model.card, "name": model.name or model.card.get("name", path.stem)})),
                "cardiaclge.source_sha256": source_sha256 or ""}
    data = _export(forward, example, contract, metadata, doc)
    _verified(data, path, load, model.network, probe)
    _write_atomically(path, data)
    return file_sha256(path)


def export_ti_model(model: ti_offset.TIModel, path: str | Path, source_sha256: str | None = None) -> str:
    """Export a torch TI-offset model (networks/torch_models.py) to ``path``; returns the file's sha256."""
    check_exporter()
    path = Path(path)
    grid = model.preprocess.grid
    generator = torch.Generator().manual_seed(0)
    example = (torch.rand(17, N_CHANNELS, grid, grid, generator=generator), torch.rand(17, N_SCALARS, generator=generator))
    probe = tuple(np.random.default_rng(1).random((23, *shape), dtype=np.float32) for shape in ((N_CHANNELS, grid, grid), (N_SCALARS,)))
    return _export_checked(model, path, SingleSeries(module_of(model), grid), example,
                           ti_offset.onnx_contract(model.preprocess, model.bins), ti_offset,
                           ti_offset.contract_metadata(model.architecture, model.bins, model.preprocess), source_sha256,
                           "CardiacLGE TI-offset CNN: per-frame offset of the TI from the myocardial null (see MODEL_CARD.md).",
                           ti_offset.load_model, probe)


def export_myocardium_model(model: myocardium_unet.MyocardiumModel, path: str | Path, source_sha256: str | None = None) -> str:
    """Export a torch myocardium U-Net to ``path``; returns the file's sha256."""
    check_exporter()
    path = Path(path)
    grid = model.preprocess.grid
    example = (torch.rand(2, myocardium_unet.N_FEATURES, grid, grid, generator=torch.Generator().manual_seed(0)),)
    probe = (np.random.default_rng(1).random((1, myocardium_unet.N_FEATURES, grid, grid), dtype=np.float32),)
    return _export_checked(model, path, module_of(model), example, myocardium_unet.onnx_contract(model.preprocess),
                           myocardium_unet, myocardium_unet.contract_metadata(model.preprocess), source_sha256,
                           "CardiacLGE myocardium U-Net: probability of pure remote LV myocardium (see MODEL_CARD.md).",
                           myocardium_unet.load_segmentation_model, probe)


def export_single_frame_model(model: single_frame.SingleFrameModel, path: str | Path, source_sha256: str | None = None) -> str:
    """Export a torch single-frame model (networks/torch_models.py) to ``path``; returns the file's sha256."""
    from TINullCorrectionLib.core.single_frame import N_SINGLE_SCALARS

    check_exporter()
    path = Path(path)
    grid = model.preprocess.grid
    generator = torch.Generator().manual_seed(0)
    channels = model.preprocess.n_channels
    example = (torch.rand(3, channels, grid, grid, generator=generator), torch.rand(3, N_SINGLE_SCALARS, generator=generator))
    rng = np.random.default_rng(1)
    probe = (rng.random((5, channels, grid, grid), dtype=np.float32), rng.random((5, N_SINGLE_SCALARS), dtype=np.float32))
    return _export_checked(model, path, module_of(model), example, single_frame.onnx_contract(model.preprocess, model.bins),
                           single_frame, single_frame.contract_metadata(model.bins, model.preprocess), source_sha256,
                           "CardiacLGE single-frame TI-offset CNN: offset of one frame's TI from the myocardial null (see MODEL_CARD.md).",
                           single_frame.load_single_frame_model, probe)


def export_file(pt_path: str | Path, onnx_path: str | Path | None = None) -> tuple[Path, str]:
    """Export one .pt file (either network, told apart by its format) to ``onnx_path`` (default: beside it)."""
    from TINullCorrectionLib.networks.model_files import ModelLoadError
    from TINullCorrectionLib.networks.torch_models import load_torch_model, load_torch_segmentation_model

    pt_path = Path(pt_path)
    onnx_path = Path(onnx_path) if onnx_path is not None else pt_path.with_suffix(".onnx")
    source = file_sha256(pt_path) if pt_path.is_file() else None
    try:
        model = load_torch_model(pt_path)
    except ModelLoadError as ti_error:
        try:
            segmentation = load_torch_segmentation_model(pt_path)
        except ModelLoadError:
            from TINullCorrectionLib.networks.torch_models import load_torch_single_frame_model

            try:
                single = load_torch_single_frame_model(pt_path)
            except ModelLoadError:
                raise ti_error from None
            return onnx_path, export_single_frame_model(single, onnx_path, source)
        return onnx_path, export_myocardium_model(segmentation, onnx_path, source)
    return onnx_path, export_ti_model(model, onnx_path, source)


def write_model_card_json(models_dir: Path = MODELS_DIR, card_path: Path = MODEL_CARD_JSON) -> dict:
    """Record the sha256 (and, for ONNX files, format, opset and tensors) of every shipped model file."""
    from TINullCorrectionLib.networks.onnx_runtime import read_onnx_header

    files = {}
    for pt_name, onnx_name in SHIPPED_PAIRS:
        pt_path, onnx_path = models_dir / pt_name, models_dir / onnx_name
        files[pt_name] = {"sha256": file_sha256(pt_path), "bytes": pt_path.stat().st_size, "kind": "PyTorch weights (training only)"}
        header = read_onnx_header(onnx_path.read_bytes())
        contract = json.loads(header.metadata[CONTRACT_KEY])
        files[onnx_name] = {"sha256": file_sha256(onnx_path), "bytes": onnx_path.stat().st_size, "kind": "ONNX (inference)",
                            "format": header.metadata[FORMAT_KEY], "ir_version": header.ir_version, "opset": header.opset,
                            "inputs": contract["inputs"], "outputs": contract["outputs"], "exported_from": pt_name,
                            "exported_from_sha256": header.metadata.get("cardiaclge.source_sha256", "")}
    card = {"comment": "sha256 of the shipped model files (the same as MODEL_CARD.md); regenerated by cardiac-lge export-onnx",
            "files": files}
    _write_atomically(card_path, (json.dumps(card, indent=1) + "\n").encode())
    return card


def export_shipped(models_dir: Path = MODELS_DIR) -> dict:
    """Regenerate the shipped .onnx files (TI-offset CNN, myocardium U-Net, single-frame network) from the shipped .pt
    files and rewrite MODEL_CARD.json."""
    for pt_name, onnx_name in SHIPPED_PAIRS:
        export_file(models_dir / pt_name, models_dir / onnx_name)
    return write_model_card_json(models_dir, models_dir / MODEL_CARD_JSON.name)
