"""The ONNX model files are checked before they run: the shipped files against their model card (sha256),
every file for format, version, IR version / opset, input and output names and shapes; a wrong or corrupt
file is a clear ModelLoadError. (``onnx`` builds the bad files here; inference itself never imports it.)"""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from support.paths import REPO_ROOT
from TINullCorrectionLib.networks import model_files
from TINullCorrectionLib.networks.model_files import MODEL_CARD_JSON, MODELS_DIR, ModelLoadError, file_sha256
from TINullCorrectionLib.networks.myocardium_unet import (
    DEFAULT_SEGMENTATION_PATH,
    SegmentationModelError,
    load_segmentation_model,
)
from TINullCorrectionLib.networks.offset_bins import OffsetBins
from TINullCorrectionLib.networks.onnx_runtime import CONTRACT_KEY, FORMAT_KEY, VERSION_KEY, read_onnx_header
from TINullCorrectionLib.networks.ti_offset import DEFAULT_MODEL_PATH, load_model

SHIPPED = ("ti_offset_sequence.onnx", "myocardium_unet.onnx", "ti_offset_single_frame.onnx", "ti_offset_sequence.pt",
           "myocardium_unet.pt", "ti_offset_single_frame.pt")


def test_shipped_files_match_both_model_cards():
    card = json.loads(MODEL_CARD_JSON.read_text())["files"]
    markdown = (MODELS_DIR / "MODEL_CARD.md").read_text()
    assert set(card) == set(SHIPPED)
    for name in SHIPPED:
        sha = file_sha256(MODELS_DIR / name)
        assert card[name]["sha256"] == sha, name
        assert re.search(rf"`{re.escape(name)}`.*?sha256 \| `{sha}`", markdown, re.S), f"MODEL_CARD.md lacks the sha256 of {name}"
    for name in ("ti_offset_sequence.onnx", "myocardium_unet.onnx", "ti_offset_single_frame.onnx"):
        assert card[name]["exported_from_sha256"] == card[card[name]["exported_from"]]["sha256"]
        assert card[name]["opset"] == 18 and card[name]["ir_version"] <= 10


def test_shipped_models_are_installed_and_listed_for_slicer():
    cmake = (REPO_ROOT / "TINullCorrection" / "CMakeLists.txt").read_text()
    for name in ("ti_offset_sequence.onnx", "myocardium_unet.onnx", "ti_offset_single_frame.onnx", "MODEL_CARD.json",
                 "MODEL_CARD.md"):
        assert f"${{MODULE_NAME}}Lib/models/{name}" in cmake, name
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert '"TINullCorrectionLib.models",' in pyproject and '"TINullCorrectionLib.models" = ["*"]' in pyproject


@pytest.mark.parametrize("path", [DEFAULT_MODEL_PATH, DEFAULT_SEGMENTATION_PATH])
def test_header_reader_agrees_with_onnx(path):
    data = path.read_bytes()
    header = read_onnx_header(data)
    proto = onnx.load_from_string(data)
    assert header.ir_version == proto.ir_version
    assert header.opsets == {o.domain: o.version for o in proto.opset_import}
    assert header.producer == proto.producer_name
    assert header.metadata == {p.key: p.value for p in proto.metadata_props}


def test_shipped_files_state_their_contract():
    ti = json.loads(read_onnx_header(DEFAULT_MODEL_PATH.read_bytes()).metadata[CONTRACT_KEY])
    assert ti["architecture"] == "sequence" and OffsetBins(**ti["bins"]) == OffsetBins()
    assert ti["inputs"] == {"images": ["frames", 5, 48, 48], "scalars": ["frames", 4]}
    assert ti["outputs"] == {"logits": ["frames", 32]}
    assert ti["bin_centers_ms"][1] == -145.0 and len(ti["class_names"]) == 32
    unet = json.loads(read_onnx_header(DEFAULT_SEGMENTATION_PATH.read_bytes()).metadata[CONTRACT_KEY])
    assert unet["preprocess"] == {"grid": 96, "fov_mm": 200.0, "reference_percentile": 99.0}
    assert unet["inputs"] == {"features": ["batch", 7, 96, 96]}
    model = load_model()
    assert model.network.session.get_inputs()[0].shape == ["frames", 5, 48, 48]
    assert model.network.session.get_outputs()[0].shape == ["frames", 32]  # the frame axis stays named
    for n_frames in (3, 15, 30):  # any number of frames runs
        assert model.network(np.zeros((n_frames, 5, 48, 48), np.float32), np.zeros((n_frames, 4), np.float32)).shape == (n_frames, 32)


# ------------------------------------------------------------------------------------------ bad files
def _shipped_proto(path=DEFAULT_MODEL_PATH) -> onnx.ModelProto:
    return onnx.load(str(path))


def _save(proto: onnx.ModelProto, path) -> str:
    path.write_bytes(proto.SerializeToString())
    return str(path)


def _set_metadata(proto: onnx.ModelProto, key: str, value: str) -> onnx.ModelProto:
    for entry in proto.metadata_props:
        if entry.key == key:
            entry.value = value
    return proto


def test_missing_corrupt_and_foreign_files_are_clear_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        load_model(tmp_path / "nope.onnx")
    (tmp_path / "corrupt.onnx").write_bytes(b"this is not a model")
    with pytest.raises(ModelLoadError, match="corrupt or not an ONNX file"):
        load_model(tmp_path / "corrupt.onnx")
    data = DEFAULT_MODEL_PATH.read_bytes()
    (tmp_path / "truncated.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="corrupt"):
        load_model(tmp_path / "truncated.onnx")
    shutil.copy(MODELS_DIR / "ti_offset_sequence.pt", tmp_path / "weights.pt")
    with pytest.raises(ModelLoadError, match="PyTorch training file.*export-onnx"):
        load_model(tmp_path / "weights.pt")
    identity = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "foreign",
                                                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                                                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])]),
                                 opset_imports=[helper.make_opsetid("", 18)], ir_version=8)
    with pytest.raises(ModelLoadError, match="not a CardiacLGE TI-offset model"):
        load_model(_save(identity, tmp_path / "foreign.onnx"))


def test_the_wrong_kind_or_version_is_refused(tmp_path):
    with pytest.raises(SegmentationModelError, match="not a CardiacLGE myocardium model"):
        load_segmentation_model(DEFAULT_MODEL_PATH)
    with pytest.raises(ModelLoadError, match="not a CardiacLGE TI-offset model"):
        load_model(DEFAULT_SEGMENTATION_PATH)
    future = _set_metadata(_shipped_proto(), VERSION_KEY, "99")
    with pytest.raises(ModelLoadError, match="version 99"):
        load_model(_save(future, tmp_path / "future.onnx"))


def test_opset_and_ir_version_must_run_on_the_oldest_supported_onnxruntime(tmp_path):
    proto = _shipped_proto()
    proto.opset_import[0].version = 23
    with pytest.raises(ModelLoadError, match="opset 23"):
        load_model(_save(proto, tmp_path / "opset23.onnx"))
    proto = _shipped_proto()
    proto.ir_version = 11
    with pytest.raises(ModelLoadError, match="IR version 11"):
        load_model(_save(proto, tmp_path / "ir11.onnx"))


def test_input_output_names_and_shapes_must_match_the_contract(tmp_path):
    proto = _shipped_proto()
    old = proto.graph.input[0].name
    proto.graph.input[0].name = "frames"
    for node in proto.graph.node:
        node.input[:] = ["frames" if name == old else name for name in node.input]
    with pytest.raises(ModelLoadError, match=r"inputs \['frames', 'scalars'\]; expected \['images', 'scalars'\]"):
        load_model(_save(proto, tmp_path / "renamed.onnx"))
    stated = json.loads(read_onnx_header(DEFAULT_MODEL_PATH.read_bytes()).metadata[CONTRACT_KEY])
    stated["bins"] = {"range_ms": 100.0, "bin_width_ms": 10.0}  # 22 classes: the network gives 32
    mismatched = _set_metadata(_shipped_proto(), CONTRACT_KEY, json.dumps(stated))
    with pytest.raises(ModelLoadError, match=r"output 'logits'.*expected tensor\(float\) \['frames', 22\]"):
        load_model(_save(mismatched, tmp_path / "bins.onnx"))
    stated["bins"] = {"range_ms": 100.0, "bin_width_ms": 15.0}  # not a valid bin layout
    invalid = _set_metadata(_shipped_proto(), CONTRACT_KEY, json.dumps(stated))
    with pytest.raises(ModelLoadError, match="does not state a usable TI-offset contract"):
        load_model(_save(invalid, tmp_path / "invalid.onnx"))
    unet = _set_metadata(_shipped_proto(DEFAULT_SEGMENTATION_PATH), CONTRACT_KEY,
                         json.dumps({"preprocess": {"grid": 64, "fov_mm": 200.0, "reference_percentile": 99.0}}))
    with pytest.raises(SegmentationModelError, match=r"input 'features'.*\['batch', 7, 64, 64\]"):
        load_segmentation_model(_save(unet, tmp_path / "grid.onnx"))


def test_a_changed_shipped_file_is_refused(tmp_path, monkeypatch):
    """A shipped file whose bytes differ from its model card (here a weight changed, the graph still valid)."""
    models = tmp_path / "models"
    shutil.copytree(MODELS_DIR, models)
    monkeypatch.setattr(model_files, "MODEL_CARD_JSON", models / "MODEL_CARD.json")
    assert load_model(models / DEFAULT_MODEL_PATH.name).network.sha256 == file_sha256(DEFAULT_MODEL_PATH)
    proto = _shipped_proto()
    weights = onnx.numpy_helper.to_array(proto.graph.initializer[0]).copy()
    weights.flat[0] += 1.0
    proto.graph.initializer[0].CopyFrom(onnx.numpy_helper.from_array(weights, proto.graph.initializer[0].name))
    _save(proto, models / DEFAULT_MODEL_PATH.name)
    with pytest.raises(ModelLoadError, match="does not match the sha256 in its model card"):
        load_model(models / DEFAULT_MODEL_PATH.name)
    load_model(_save(proto, tmp_path / "site_model.onnx"))  # the same bytes elsewhere are a user's own file
    (models / "MODEL_CARD.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="model card MODEL_CARD.json is unreadable"):
        load_model(models / DEFAULT_MODEL_PATH.name)


def test_a_missing_onnxruntime_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)
    with pytest.raises(ModelLoadError, match="onnxruntime is not installed"):
        load_model()


def test_header_reader_refuses_what_is_not_a_model_proto():
    for data in (b"", b"\x08", b"\x08\x08", b"\xff" * 12, b"\x08\x08\x3a\x05abc"):
        with pytest.raises(ValueError):
            read_onnx_header(data)
    header = read_onnx_header(DEFAULT_MODEL_PATH.read_bytes())
    assert header.metadata[FORMAT_KEY] == "cardiaclge-ti-offset-onnx" and header.opset == 18


def test_shipped_model_cards_name_no_folders():
    """A card keeps the options and file names of the command that made it, never a folder of the builder's
    machine (issue 12 D17; the shipped cards once held --out /tmp/... paths)."""
    from TINullCorrectionLib.networks.single_frame import load_single_frame_model

    for loaded in (load_model(), load_segmentation_model(), load_single_frame_model()):
        command = loaded.card["training_command"]
        assert command.startswith("cardiac-lge train"), command
        assert "/" not in command and "\\" not in command, command


@pytest.mark.parametrize("threads", [None, 1])
def test_sessions_do_not_spin_between_runs(threads):
    """The intra-op threads sleep between runs (onnx_runtime.session_options): spinning left the numpy work after
    each run short of a core on the 2-core machine. The thread count stays what was asked."""
    network = load_model(threads=threads).network
    options = network.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == (threads or 0) and options.inter_op_num_threads == 1
