"""TI-offset model: class bins, architectures, weights-only save/load and clear load errors."""

import numpy as np
import pytest
import torch
from TINullCorrectionLib.core.preprocessing import (
    PreprocessConfig,
    context_indices,
    frame_inputs,
    frame_scalars,
    prepare_series,
)
from TINullCorrectionLib.core.types import ScoutError, TIScout
from TINullCorrectionLib.networks.architectures import OffsetBins, build_network
from TINullCorrectionLib.networks.ti_offset import TIModel, load_model, offsets_from_probabilities, save_model
from TINullCorrectionLib.networks.weights_file import ModelLoadError


def _tiny_model(architecture: str = "sequence") -> TIModel:
    torch.manual_seed(0)
    bins = OffsetBins()
    return TIModel(build_network(architecture, bins.n_classes), architecture, bins, PreprocessConfig(), {"name": "tiny"}, name="tiny")


def _scout(n_frames: int = 12, size: int = 40) -> TIScout:
    rng = np.random.default_rng(3)
    ti = 100.0 + 40.0 * np.arange(n_frames)
    frames = np.abs(1 - 1.8 * np.exp(-ti / 300.0))[:, None, None] * np.ones((n_frames, size, size)) + rng.normal(0, 0.01, (n_frames, size, size))
    return TIScout(frames=frames.astype(np.float32), ti_ms=ti, pixel_spacing_mm=(2.0, 2.0))


def test_bins_cover_the_trained_range_with_tails():
    bins = OffsetBins(range_ms=150, bin_width_ms=10)
    assert bins.n_classes == 32
    assert bins.centers_ms[1] == pytest.approx(-145) and bins.centers_ms[-2] == pytest.approx(145)
    assert bins.centers_ms[0] < -150 and bins.centers_ms[-1] > 150
    assert bins.class_names[0].startswith("<") and bins.class_names[-1].startswith(">")
    targets = bins.soft_targets(np.array([-400.0, -145.0, 0.0, 3.0, 400.0]))
    np.testing.assert_allclose(targets.sum(1), 1.0, atol=1e-6)
    assert targets[0, 0] == 1.0 and targets[-1, -1] == 1.0
    assert np.argmax(targets[1]) == 1
    assert bins.centers_ms[np.argmax(targets[2])] in (-5.0, 5.0)
    with pytest.raises(ValueError):
        OffsetBins(range_ms=100, bin_width_ms=15)


def test_offsets_and_confidence_from_probabilities():
    bins = OffsetBins(range_ms=30, bin_width_ms=10)  # centres: -35, -25, -15, -5, 5, 15, 25, 35
    probabilities = np.zeros((2, bins.n_classes))
    probabilities[0, 4] = 1.0  # all mass on +5 ms
    probabilities[1, [2, 3]] = [0.5, 0.5]  # between -15 and -5
    offsets, confidence = offsets_from_probabilities(probabilities, bins)
    assert offsets[0] == pytest.approx(5.0)
    assert offsets[1] == pytest.approx(-10.0)
    np.testing.assert_allclose(confidence, [1.0, 1.0])


def test_context_channels_and_scalars():
    np.testing.assert_array_equal(context_indices(3), [[0, 0, 1, 0, 2], [1, 0, 2, 0, 2], [2, 1, 2, 0, 2]])
    scalars = frame_scalars(np.array([100.0, 150.0, 250.0]), True)
    np.testing.assert_allclose(scalars, [[0, 0.5, 1, 0.1], [0.5, 1.0, 1, 0.15], [1.0, 0, 1, 0.25]])
    series = np.arange(3 * 4 * 4, dtype=np.float32).reshape(3, 4, 4)
    channels, _ = frame_inputs(series, np.array([1.0, 2.0, 3.0]), False)
    assert channels.shape == (3, 5, 4, 4)
    np.testing.assert_array_equal(channels[1, 2], series[2])


def test_preprocessing_is_physical_and_per_series():
    scout = _scout()
    series = prepare_series(scout)
    assert series.shape == (scout.n_frames, 48, 48)
    # The 180 mm working field is larger than this 80 mm image: outside is zero, inside keeps the ratio to late frames.
    assert series[0, 0, 0] == 0.0
    centre = series[:, 24, 24]
    expected = np.abs(1 - 1.8 * np.exp(-scout.ti_ms / 300.0))
    np.testing.assert_allclose(centre / centre[-1], expected / expected[-1], rtol=0.1, atol=0.03)
    empty = TIScout(frames=np.zeros((4, 8, 8), np.float32), ti_ms=[100, 200, 300, 400])
    with pytest.raises(ScoutError, match="no signal"):
        prepare_series(empty)


@pytest.mark.parametrize("architecture", ["sequence", "compact", "vgg16"])
def test_save_load_round_trip_weights_only(tmp_path, architecture):
    model = _tiny_model(architecture)
    path = tmp_path / f"{architecture}.pt"
    save_model(model, path)
    # The file is readable with weights_only=True (no arbitrary unpickling).
    payload = torch.load(path, weights_only=True)
    assert payload["architecture"] == architecture
    loaded = load_model(path)
    assert loaded.architecture == architecture
    scout = _scout()
    a, b = model.predict(scout), loaded.predict(scout)
    np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-6)
    assert a.probabilities.shape == (scout.n_frames, model.bins.n_classes)
    np.testing.assert_allclose(a.probabilities.sum(1), 1.0, atol=1e-9)


def test_missing_corrupt_and_mismatched_files_are_clear_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        load_model(tmp_path / "nope.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"this is not a model")
    with pytest.raises(ModelLoadError, match="corrupt"):
        load_model(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ModelLoadError, match="not a CardiacLGE"):
        load_model(foreign)
    good = tmp_path / "good.pt"
    save_model(_tiny_model(), good)
    payload = torch.load(good, weights_only=True)
    payload["bins"] = {"range_ms": 100.0, "bin_width_ms": 10.0}  # 22 classes: the head no longer matches
    mismatched = tmp_path / "mismatched.pt"
    torch.save(payload, mismatched)
    with pytest.raises(ModelLoadError, match="does not match"):
        load_model(mismatched)


def test_pickled_objects_are_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "cardiaclge-ti-offset-model", "payload": Evil()}, path)
    with pytest.raises(ModelLoadError, match="corrupt"):
        load_model(path)


def test_sequence_model_uses_the_whole_series_and_ignores_padding():
    """Changing a late frame changes the sequence model's output for an early frame; padding does not."""
    model = _tiny_model("sequence")
    scout = _scout()
    frames = scout.frames.copy()
    frames[-3] *= 0.2
    changed = TIScout(frames=frames, ti_ms=scout.ti_ms, pixel_spacing_mm=scout.pixel_spacing_mm)
    a, b = model.predict(scout).probabilities, model.predict(changed).probabilities
    assert np.abs(a[0] - b[0]).max() > 1e-9  # the first frame sees a change nine frames later
    series = prepare_series(scout)
    channels, scalars = frame_inputs(series, scout.ti_ms, False)
    n = scout.n_frames
    padded_images = torch.zeros(1, n + 4, *channels.shape[1:])
    padded_images[0, :n] = torch.from_numpy(channels)
    padded_scalars = torch.zeros(1, n + 4, scalars.shape[1])
    padded_scalars[0, :n] = torch.from_numpy(scalars)
    mask = torch.zeros(1, n + 4, dtype=torch.bool)
    mask[0, :n] = True
    model.network.eval()
    with torch.inference_mode():
        padded = torch.softmax(model.network(padded_images, padded_scalars, mask)[0, :n].double(), 1).numpy()
    np.testing.assert_allclose(padded, a, atol=1e-5)
