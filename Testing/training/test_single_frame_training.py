"""Training of the single-frame network on tiny simulated data (the real run: `cardiac-lge train --single-frame`)."""

import numpy as np
import torch
from TINullCorrectionLib.networks.single_frame import load_single_frame_model
from TINullCorrectionLib.networks.torch_models import load_torch_single_frame_model

from cardiac_lge.cli import main
from cardiac_lge.training.single_frame import (
    SingleFrameTrainingConfig,
    simulate_frame_set,
    train_single_frame_model,
)


def test_pictures_are_reproducible_and_labelled():
    a = simulate_frame_set(4, seed=3, conditions=("4k",), jitter_crop=False)
    b = simulate_frame_set(4, seed=3, conditions=("4k",), jitter_crop=False)
    np.testing.assert_array_equal(a.channels, b.channels)
    np.testing.assert_array_equal(a.offset_ms, b.offset_ms)
    assert a.channels.shape[1:] == (2, 64, 64) and a.channels.dtype == np.float16
    # every frame within +/-150 ms of the null is used, plus at most 2 others per series
    assert (np.abs(a.offset_ms) <= 150).sum() >= len(a) - 2 * 4
    assert set(a.condition.tolist()) == {1} and sorted(set(a.series.tolist())) == [0, 1, 2, 3]


def test_training_reduces_loss_and_the_command_writes_a_loadable_file(tmp_path):
    torch.set_num_threads(1)
    frames = simulate_frame_set(6, seed=4)
    config = SingleFrameTrainingConfig(n_series=6, epochs=3, batch_size=16, learning_rate=3e-3, seed=1)
    model, history = train_single_frame_model(config, frames=frames, show_progress=False, log=lambda _: None)
    assert [h["epoch"] for h in history] == [1, 2, 3] and history[-1]["train_loss"] < history[0]["train_loss"]
    out = tmp_path / "single.pt"
    assert main(["train", "--single-frame", "--n-series", "3", "--epochs", "1", "--out", str(out), "--threads", "1"]) == 0
    # the .pt for fine-tuning (torch) and the .onnx beside it that inference reads, with the same card
    for loaded in (load_torch_single_frame_model(out), load_single_frame_model(out.with_suffix(".onnx"))):
        assert loaded.card["training_command"].startswith("cardiac-lge train --single-frame --out single.pt")
        assert loaded.card["architecture"] == "single-frame"
    assert out.with_suffix(".history.json").is_file()
