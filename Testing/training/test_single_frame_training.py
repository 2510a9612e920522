"""Training of the single-frame network on tiny simulated data (the real run: `cardiac-lge train --single-frame`)."""

import numpy as np
import pytest
import torch
from TINullCorrectionLib.networks.architectures import OffsetBins, SingleFrameTINet
from TINullCorrectionLib.networks.single_frame import load_single_frame_model
from TINullCorrectionLib.networks.torch_models import load_torch_single_frame_model

from cardiac_lge.cli import main
from cardiac_lge.training.single_frame import (
    CHUNK_SERIES,
    SingleFrameTrainingConfig,
    initialise_from,
    simulate_frame_set,
    train_single_frame_model,
)


def test_pictures_are_reproducible_and_labelled():
    a = simulate_frame_set(4, seed=3, conditions=("4k",), jitter_crop=False)
    b = simulate_frame_set(4, seed=3, conditions=("4k",), jitter_crop=False)
    np.testing.assert_array_equal(a.channels, b.channels)
    np.testing.assert_array_equal(a.offset_ms, b.offset_ms)
    assert a.channels.shape[1:] == (3, 64, 64) and a.channels.dtype == np.float16  # crop x 2 + context
    # every frame within +/-150 ms of the null is used, plus at most 2 others per series
    assert (np.abs(a.offset_ms) <= 150).sum() >= len(a) - 2 * 4
    assert set(a.condition.tolist()) == {1} and sorted(set(a.series.tolist())) == [0, 1, 2, 3]
    assert a.phase_sensitive.dtype == bool and a.phase_sensitive.shape == a.offset_ms.shape
    # the series come in seeded chunks: a longer set starts with the same pictures (and workers do not change them)
    longer = simulate_frame_set(CHUNK_SERIES + 1, seed=3, conditions=("4k",), jitter_crop=False, workers=1)
    np.testing.assert_array_equal(longer.channels[: len(a)], a.channels)
    assert longer.series.max() == CHUNK_SERIES


def test_more_phase_sensitive_scouts_when_asked():
    frames = simulate_frame_set(40, seed=5, p_phase_sensitive=1.0, conditions=("screen",), jitter_crop=False)
    assert frames.phase_sensitive.all()
    assert not simulate_frame_set(3, seed=5, p_phase_sensitive=0.0, conditions=("screen",), jitter_crop=False).phase_sensitive.any()


def test_a_network_without_the_context_channel_is_continued_with_the_same_answers():
    torch.manual_seed(2)
    old = SingleFrameTINet(OffsetBins().n_classes, in_channels=2).eval()
    new = SingleFrameTINet(OffsetBins().n_classes).eval()
    initialise_from(new, old)
    images, scalars = torch.rand(4, 3, 64, 64), torch.rand(4, 2)
    with torch.inference_mode():
        np.testing.assert_allclose(new(images, scalars).numpy(), old(images[:, :2], scalars).numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        initialise_from(SingleFrameTINet(OffsetBins().n_classes + 2), old)


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
    # continued from that file (--init): the card names the file it started from, by name and sha256
    again = tmp_path / "again.pt"
    assert main(["train", "--single-frame", "--init", str(out), "--n-series", "3", "--epochs", "1", "--out", str(again), "--threads", "1"]) == 0
    card = load_single_frame_model(again.with_suffix(".onnx")).card
    assert card["training_command"].startswith("cardiac-lge train --single-frame --out again.pt --init single.pt")
    assert card["initialised_from"] == "single.pt" and len(card["initialised_from_sha256"]) == 64
    assert card["initialised_from_training_command"].startswith("cardiac-lge train --single-frame --out single.pt")
    assert str(tmp_path) not in str(card)
