"""The single-frame network: .pt for training, checked ONNX for inference (same answers), clear errors, and the
shipped files with their model card."""

import numpy as np
import pytest
import torch
from TINullCorrectionLib.core.single_frame import SingleFrame, SingleFramePreprocess
from TINullCorrectionLib.networks.architectures import OffsetBins, SingleFrameTINet
from TINullCorrectionLib.networks.model_files import MODELS_DIR, ModelLoadError
from TINullCorrectionLib.networks.single_frame import DEFAULT_SINGLE_FRAME_PATH, load_single_frame_model
from TINullCorrectionLib.networks.torch_models import (
    load_torch_single_frame_model,
    save_single_frame_model,
    torch_single_frame_model,
)

from cardiac_lge.training.onnx_export import export_single_frame_model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("single")
    model = torch_single_frame_model(SingleFrameTINet(OffsetBins().n_classes).eval(), OffsetBins(), SingleFramePreprocess(),
                                     {"name": "test"}, "test")
    pt = folder / "m.pt"
    sha = save_single_frame_model(model, pt)
    onnx = folder / "m.onnx"
    export_single_frame_model(load_torch_single_frame_model(pt), onnx, sha)
    return model, pt, onnx


def test_onnx_answers_like_torch(exported):
    model, pt, onnx = exported
    runtime = load_single_frame_model(onnx)
    assert runtime.network.backend == "onnxruntime" and runtime.bins == model.bins and runtime.preprocess == model.preprocess
    frame = SingleFrame(np.random.default_rng(0).random((120, 100)) * 200, 250.0)
    a, b = model.predict_frame(frame), runtime.predict_frame(frame)
    np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-5)
    assert a.offset_ms == pytest.approx(b.offset_ms, abs=1e-3) and b.probabilities.sum() == pytest.approx(1.0)
    assert b.probabilities.shape == (OffsetBins().n_classes,) and 0 <= b.confidence <= 1 and b.ti_ms == 250.0


def test_wrong_or_corrupt_files_are_clear_errors(exported, tmp_path):
    _, pt, _ = exported
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="corrupt"):
        load_single_frame_model(corrupt)
    with pytest.raises(ModelLoadError, match="PyTorch training file"):
        load_single_frame_model(pt)
    with pytest.raises(ModelLoadError, match="not a CardiacLGE single-frame"):
        load_single_frame_model(MODELS_DIR / "myocardium_unet.onnx")
    with pytest.raises(ModelLoadError, match="not found"):
        load_single_frame_model(tmp_path / "missing.onnx")
    with pytest.raises(ModelLoadError, match="not a CardiacLGE single-frame"):
        load_torch_single_frame_model(MODELS_DIR / "ti_offset_sequence.pt")


def test_shipped_weights_load_and_are_in_the_model_card():
    model = load_single_frame_model()
    assert model.card["architecture"] == "single-frame" and "training_command" in model.card
    card = (MODELS_DIR / "MODEL_CARD.md").read_text()
    assert "## `ti_offset_single_frame.pt` / `ti_offset_single_frame.onnx`" in card
    assert model.network.sha256 in card
    assert DEFAULT_SINGLE_FRAME_PATH.stat().st_size < 5_000_000
