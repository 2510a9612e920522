"""The single-frame network: weights-only file, clear errors, the shipped weights and their model card."""

import re

import numpy as np
import pytest
import torch
from TINullCorrectionLib.core.single_frame import SingleFrame
from TINullCorrectionLib.networks.architectures import OffsetBins
from TINullCorrectionLib.networks.single_frame import (
    DEFAULT_SINGLE_FRAME_PATH,
    SingleFrameModel,
    SingleFrameTINet,
    load_single_frame_model,
    save_single_frame_model,
)
from TINullCorrectionLib.networks.weights_file import MODELS_DIR, ModelLoadError, file_sha256


def test_round_trip_and_prediction_shapes(tmp_path):
    torch.manual_seed(0)
    model = SingleFrameModel(SingleFrameTINet(OffsetBins().n_classes).eval(), card={"name": "t"})
    path = tmp_path / "m.pt"
    save_single_frame_model(model, path)
    loaded = load_single_frame_model(path)
    frame = SingleFrame(np.random.default_rng(0).random((120, 100)) * 200, 250.0)
    a, b = model.predict_frame(frame), loaded.predict_frame(frame)
    np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-6)
    assert a.probabilities.shape == (OffsetBins().n_classes,) and a.probabilities.sum() == pytest.approx(1.0)
    assert 0 <= a.confidence <= 1 and a.ti_ms == 250.0


def test_wrong_or_corrupt_files_are_clear_errors(tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="corrupt"):
        load_single_frame_model(corrupt)
    with pytest.raises(ModelLoadError, match="not a CardiacLGE single-frame"):
        load_single_frame_model(MODELS_DIR / "ti_offset_sequence.pt")
    with pytest.raises(ModelLoadError, match="not found"):
        load_single_frame_model(tmp_path / "missing.pt")


def test_plain_forward_traces_for_export():
    """No recurrent layers or packed sequences: the network traces like the others (ONNX export can follow)."""
    network = SingleFrameTINet(OffsetBins().n_classes).eval()
    images, scalars = torch.randn(3, 2, 64, 64), torch.randn(3, 2)
    traced = torch.jit.trace(network, (images, scalars))
    torch.testing.assert_close(traced(images, scalars), network(images, scalars))


def test_shipped_weights_match_the_model_card():
    model = load_single_frame_model()
    assert model.card["architecture"] == "single-frame" and "training_command" in model.card
    card = (MODELS_DIR / "MODEL_CARD.md").read_text()
    section = card[card.index("## `ti_offset_single_frame.pt`"):]
    assert re.search(r"sha256 \| `([0-9a-f]{64})`", section).group(1) == file_sha256(DEFAULT_SINGLE_FRAME_PATH)
    assert DEFAULT_SINGLE_FRAME_PATH.stat().st_size < 5_000_000
