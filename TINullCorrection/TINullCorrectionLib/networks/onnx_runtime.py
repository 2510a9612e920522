"""Checked ONNX model files run by onnxruntime (CPU): the one inference runtime of the CLI and Slicer.

A file is accepted only when, in this order: it exists; its bytes match the sha256 of the model card when
it is one of the shipped files; it parses as an ONNX ModelProto whose IR version and default-domain opset
the oldest supported onnxruntime runs (1.19.2, the last release for Slicer 5.8's Python 3.9); its
CardiacLGE metadata names the expected format and version; and onnxruntime opens it with exactly the
input and output names, element type and shapes of the contract. Anything else is a
:class:`~TINullCorrectionLib.networks.model_files.ModelLoadError` with a message for the user. The
session is built from the bytes that were checked (no second read of the file).

The header is read with a minimal reader of the protobuf wire format (the top-level ModelProto fields
ir_version, producer, opset_import and metadata_props), because the ``onnx`` package is an export-time
dependency that Slicer does not install; Testing/ti/networks/test_onnx_models.py checks it against ``onnx``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from TINullCorrectionLib.networks.model_files import ModelLoadError, expected_sha256, sha256_of_bytes

#: Default-domain opsets and IR versions that onnxruntime >= 1.19.2 runs (its documented support: opset <= 21, IR <= 10).
SUPPORTED_OPSETS = range(13, 22)
MAX_IR_VERSION = 10
#: Keys of the CardiacLGE metadata written into every exported file (ModelProto.metadata_props).
FORMAT_KEY = "cardiaclge.format"
VERSION_KEY = "cardiaclge.version"
CONTRACT_KEY = "cardiaclge.contract"
CARD_KEY = "cardiaclge.card"


@dataclass(frozen=True)
class TensorSpec:
    """A named float32 tensor; a str dimension is a named dynamic axis (e.g. "frames")."""

    name: str
    shape: tuple[int | str, ...]


@dataclass(frozen=True)
class OnnxContract:
    """The inputs and outputs a CardiacLGE ONNX file of one kind must have (names, float32, shapes)."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def as_dict(self) -> dict:
        return {"inputs": {t.name: list(t.shape) for t in self.inputs}, "outputs": {t.name: list(t.shape) for t in self.outputs}}


@dataclass(frozen=True)
class OnnxHeader:
    ir_version: int
    opsets: dict[str, int]
    producer: str
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def opset(self) -> int | None:
        """Version of the default ("ai.onnx") operator set."""
        return self.opsets.get("", self.opsets.get("ai.onnx"))


# ------------------------------------------------------------------------------ protobuf wire format
def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 64 bits")


def _fields(data: memoryview):
    """(field number, value) of a protobuf message: int for varints, memoryview for length-delimited fields."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire_type == 0:
            value, pos = _varint(data, pos)
        elif wire_type == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire_type in (1, 5):
            size = 8 if wire_type == 1 else 4
            value, pos = data[pos:pos + size], pos + size
        else:
            raise ValueError(f"wire type {wire_type}")
        if pos > len(data):
            raise ValueError("truncated field")
        yield number, value


def _text(value) -> str:
    if isinstance(value, int):
        raise ValueError("expected a string field")
    return bytes(value).decode("utf-8")


def read_onnx_header(data: bytes) -> OnnxHeader:
    """IR version, opsets, producer and metadata of a serialised ModelProto; ValueError when it is not one."""
    view = memoryview(data)
    ir_version, producer, opsets, metadata, has_graph = None, "", {}, {}, False
    for number, value in _fields(view):
        if number == 1 and isinstance(value, int):
            ir_version = value
        elif number == 2:
            producer = _text(value)
        elif number == 7:
            has_graph = not isinstance(value, int)
        elif number == 8:
            entry = dict(_fields(value))
            opsets[_text(entry.get(1, b""))] = int(entry.get(2, 0))
        elif number == 14:
            entry = dict(_fields(value))
            metadata[_text(entry.get(1, b""))] = _text(entry.get(2, b""))
    if ir_version is None or not has_graph or not opsets:
        raise ValueError("no IR version, graph or opset")
    return OnnxHeader(ir_version, opsets, producer, metadata)


#: TensorProto.DataType of the floating-point initializers -> numpy little-endian dtype
_FLOAT_TYPES = {1: "<f4", 10: "<f2", 11: "<f8"}


def non_finite_initializers(data: bytes) -> list[str]:
    """Names of the floating-point initializers (weights) of a serialised ModelProto that hold NaN or infinity.

    Reads ModelProto.graph (field 7) -> GraphProto.initializer (field 5) -> TensorProto (data_type 2, name 8,
    float_data 4 packed, double_data 10 packed, raw_data 9), the layout of onnx.proto; weights stored outside
    the file (external data) are not read here (the project's exports are self-contained).
    """
    bad = []
    for number, graph in _fields(memoryview(data)):
        if number != 7 or isinstance(graph, int):
            continue
        for field_number, tensor in _fields(graph):
            if field_number != 5 or isinstance(tensor, int):
                continue
            entry: dict = {}
            for key, value in _fields(tensor):
                entry.setdefault(key, value)
            dtype = _FLOAT_TYPES.get(entry.get(2) if isinstance(entry.get(2), int) else -1)
            if dtype is None:
                continue
            chunks = [entry[k] for k in (9, 4, 10) if k in entry and not isinstance(entry[k], int)]
            if not chunks:
                continue
            raw = bytes(chunks[0])
            element = np.dtype(dtype if 9 in entry else ("<f8" if 10 in entry else "<f4"))
            values = np.frombuffer(raw[: len(raw) - len(raw) % element.itemsize], dtype=element)
            if not np.all(np.isfinite(values)):
                bad.append(_text(entry.get(8, b"")) or "(unnamed)")
    return bad


# ---------------------------------------------------------------------------------------- the network
class OnnxNetwork:
    """A checked onnxruntime session: ``network(*inputs)`` -> the first output (float32 numpy)."""

    backend = "onnxruntime"

    def __init__(self, session, contract: OnnxContract, header: OnnxHeader, sha256: str, name: str):
        self.session = session
        self.contract = contract
        self.header = header
        self.sha256 = sha256
        self.name = name
        self._input_names = [t.name for t in contract.inputs]

    @property
    def metadata(self) -> dict:
        """The CardiacLGE contract stored in the file (architecture, bins, preprocessing, shapes)."""
        return json.loads(self.header.metadata.get(CONTRACT_KEY, "{}"))

    @property
    def card(self) -> dict:
        return json.loads(self.header.metadata.get(CARD_KEY, "{}"))

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        feeds = {name: np.ascontiguousarray(array, dtype=np.float32) for name, array in zip(self._input_names, arrays)}
        output = self.session.run([self.contract.outputs[0].name], feeds)[0]
        if not np.all(np.isfinite(output)):
            # never pass NaN/Infinity on as a number: the model (or its input) is broken
            raise ModelLoadError(f"Model '{self.name}' produced non-finite outputs (NaN or infinity) for this input: "
                                 "its weights or the input are damaged; no result is given.")
        return output


def _import_onnxruntime(error: type[ValueError]):
    from CardiacLGECommonLib.core.offline import import_onnxruntime

    try:
        onnxruntime = import_onnxruntime()
    except ImportError as exc:
        raise error("onnxruntime is not installed: it runs the networks. Install it with `pip install onnxruntime` "
                    "(in 3D Slicer the module offers to install it on the first Run).") from exc
    return onnxruntime


def session_options(onnxruntime, threads: int | None):
    """Session options of every CardiacLGE network: ``threads`` intra-op threads (None: one per core), one
    inter-op thread, and no spinning: between two runs the intra-op threads sleep instead of busy-waiting, which
    left the numpy work that follows each run (resampling, inversion-recovery fits) short of a core. Measured on
    the 2-core machine, 30-frame core path: median 131-168 ms without spinning against 178-201 ms with it
    (3 alternated processes of 25 runs each, otherwise the same code; closing note of stop 21)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = int(threads) if threads else 0  # 0: onnxruntime's default (one per core)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: no warnings on the user's console
    return options


def _check_io(session, contract: OnnxContract, name: str, error: type[ValueError]) -> None:
    for kind, declared, expected in (("input", session.get_inputs(), contract.inputs), ("output", session.get_outputs(), contract.outputs)):
        found = [(arg.name, arg.type, tuple(arg.shape)) for arg in declared]
        if [n for n, _, _ in found] != [t.name for t in expected]:
            raise error(f"{name} has {kind}s {[n for n, _, _ in found]}; expected {[t.name for t in expected]}.")
        for (arg_name, arg_type, shape), spec in zip(found, expected):
            fixed_ok = len(shape) == len(spec.shape) and all(
                (isinstance(want, str) and not isinstance(got, int)) or got == want for got, want in zip(shape, spec.shape))
            if arg_type != "tensor(float)" or not fixed_ok:
                raise error(f"{name}: {kind} '{arg_name}' is {arg_type} {list(shape)}; expected tensor(float) {list(spec.shape)}.")


def load_onnx_network(path: str | Path, file_format: str, version: int, description: str,
                      contract_for: Callable[[dict], OnnxContract], error: type[ValueError] = ModelLoadError,
                      threads: int | None = None) -> OnnxNetwork:
    """Open ``path`` as a checked CardiacLGE ONNX network (see the module doc), or raise ``error``.

    contract_for(stated) -> the contract the file must meet, from the contract it states in its metadata
    (e.g. the number of classes follows from its offset bins); it raises ``error`` when that is unusable.
    threads: onnxruntime intra-op threads (None: its default).
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"Model file not found: {path}")
    data = path.read_bytes()
    if data[:4] == b"PK\x03\x04":
        raise error(f"{path.name} is a PyTorch training file (.pt); inference reads ONNX files: use the .onnx written "
                    f"beside it by cardiac-lge train, or make one with `cardiac-lge export-onnx {path.name}`.")
    sha256 = sha256_of_bytes(data)
    expected = expected_sha256(path)
    if expected is not None and expected != sha256:
        raise error(f"{path.name} does not match the sha256 in its model card (models/MODEL_CARD.json): the file was "
                    "changed or damaged. Reinstall it, or regenerate it with `cardiac-lge export-onnx`.")
    try:
        header = read_onnx_header(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"Model file {path.name} is corrupt or not an ONNX file ({exc}).") from exc
    if header.metadata.get(FORMAT_KEY) != file_format:
        raise error(f"{path.name} is not a CardiacLGE {description} file.")
    if header.metadata.get(VERSION_KEY) != str(version):
        raise error(f"{path.name} has model-file version {header.metadata.get(VERSION_KEY)}; this software reads version {version}.")
    if header.ir_version > MAX_IR_VERSION or header.opset not in SUPPORTED_OPSETS:
        raise error(f"{path.name} uses ONNX IR version {header.ir_version} and opset {header.opset}; CardiacLGE runs IR <= "
                    f"{MAX_IR_VERSION} and opsets {SUPPORTED_OPSETS.start}-{SUPPORTED_OPSETS.stop - 1} (onnxruntime >= 1.19.2). "
                    "Export it again with `cardiac-lge export-onnx`.")
    try:
        bad = non_finite_initializers(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"Model file {path.name} is corrupt or not an ONNX file ({exc}).") from exc
    if bad:
        raise error(f"Model file {path.name} contains non-finite weights (NaN or infinity) in {len(bad)} tensor(s), e.g. "
                    f"'{bad[0]}': it is damaged or was trained badly; it is not used.")
    try:
        stated = json.loads(header.metadata.get(CONTRACT_KEY, "{}"))
    except ValueError as exc:
        raise error(f"{path.name}: its contract metadata is not valid JSON.") from exc
    contract = contract_for(stated if isinstance(stated, dict) else {})
    onnxruntime = _import_onnxruntime(error)
    try:
        session = onnxruntime.InferenceSession(data, sess_options=session_options(onnxruntime, threads),
                                               providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types for bad graphs
        raise error(f"Model file {path.name} is corrupt: onnxruntime cannot open it ({type(exc).__name__}).") from exc
    _check_io(session, contract, path.name, error)
    _check_finite_outputs(session, contract, path.name, error)
    return OnnxNetwork(session, contract, header, sha256, path.stem)


#: size given to every named dynamic axis (e.g. "frames") of the probe input
_PROBE_DYNAMIC_SIZE = 3


def _check_finite_outputs(session, contract: OnnxContract, name: str, error: type[ValueError]) -> None:
    """Run the network once on a fixed probe input: NaN or infinite weights (a damaged or badly trained file)
    make its outputs non-finite, and such a file is refused at load rather than giving NaN answers later."""
    rng = np.random.default_rng(0)
    feeds = {spec.name: rng.standard_normal([d if isinstance(d, int) else _PROBE_DYNAMIC_SIZE for d in spec.shape]).astype(np.float32)
             for spec in contract.inputs}
    try:
        outputs = session.run([spec.name for spec in contract.outputs], feeds)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise error(f"Model file {name} fails on a test input ({type(exc).__name__}): it is damaged or not a CardiacLGE model.") from exc
    if not all(np.all(np.isfinite(np.asarray(output))) for output in outputs):
        raise error(f"Model file {name} gives non-finite outputs (NaN or infinity) on a test input: it is damaged "
                    "or was trained badly; it is not used.")
