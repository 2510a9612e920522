"""The torch side of both networks (training, fine-tuning, export): weights-only .pt files with clear load
errors, pickles refused, and the sequence network's batch forward (padding ignored, whole series used)."""

import numpy as np
import pytest
import torch
from TINullCorrectionLib.core.preprocessing import PreprocessConfig, frame_inputs, prepare_series
from TINullCorrectionLib.core.types import TIScout
from TINullCorrectionLib.networks.architectures import MyocardiumUNet, OffsetBins, build_network
from TINullCorrectionLib.networks.model_files import ModelLoadError
from TINullCorrectionLib.networks.myocardium_unet import SegmentationModelError
from TINullCorrectionLib.networks.ti_offset import TIModel
from TINullCorrectionLib.networks.torch_models import (
    load_torch_model,
    load_torch_segmentation_model,
    module_of,
    save_model,
    save_segmentation_model,
    torch_myocardium_model,
    torch_ti_model,
)
from TINullCorrectionLib.sim.simulator import simulate_scout


def _tiny_model(architecture: str = "sequence") -> TIModel:
    torch.manual_seed(0)
    bins = OffsetBins()
    return torch_ti_model(build_network(architecture, bins.n_classes), architecture, bins, PreprocessConfig(), {"name": "tiny"}, name="tiny")


def _scout(n_frames: int = 12, size: int = 40) -> TIScout:
    rng = np.random.default_rng(3)
    ti = 100.0 + 40.0 * np.arange(n_frames)
    frames = np.abs(1 - 1.8 * np.exp(-ti / 300.0))[:, None, None] * np.ones((n_frames, size, size)) + rng.normal(0, 0.01, (n_frames, size, size))
    return TIScout(frames=frames.astype(np.float32), ti_ms=ti, pixel_spacing_mm=(2.0, 2.0))


@pytest.mark.parametrize("architecture", ["sequence", "compact", "vgg16"])
def test_save_load_round_trip_weights_only(tmp_path, architecture):
    model = _tiny_model(architecture)
    path = tmp_path / f"{architecture}.pt"
    save_model(model, path)
    # The file is readable with weights_only=True (no arbitrary unpickling).
    payload = torch.load(path, weights_only=True)
    assert payload["architecture"] == architecture
    loaded = load_torch_model(path)
    assert loaded.architecture == architecture
    scout = _scout()
    a, b = model.predict(scout), loaded.predict(scout)
    np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-6)
    assert a.probabilities.shape == (scout.n_frames, model.bins.n_classes)
    np.testing.assert_allclose(a.probabilities.sum(1), 1.0, atol=1e-9)


def test_missing_corrupt_and_mismatched_files_are_clear_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        load_torch_model(tmp_path / "nope.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"this is not a model")
    with pytest.raises(ModelLoadError, match="corrupt"):
        load_torch_model(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ModelLoadError, match="not a CardiacLGE"):
        load_torch_model(foreign)
    good = tmp_path / "good.pt"
    save_model(_tiny_model(), good)
    payload = torch.load(good, weights_only=True)
    payload["bins"] = {"range_ms": 100.0, "bin_width_ms": 10.0}  # 22 classes: the head no longer matches
    mismatched = tmp_path / "mismatched.pt"
    torch.save(payload, mismatched)
    with pytest.raises(ModelLoadError, match="does not match"):
        load_torch_model(mismatched)


def test_pickled_objects_are_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "cardiaclge-ti-offset-model", "payload": Evil()}, path)
    with pytest.raises(ModelLoadError, match="corrupt"):
        load_torch_model(path)


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
    network = module_of(model).eval()
    with torch.inference_mode():
        padded = torch.softmax(network(padded_images, padded_scalars, mask)[0, :n].double(), 1).numpy()
    np.testing.assert_allclose(padded, a, atol=1e-5)


def test_an_onnx_model_is_not_a_training_model():
    from TINullCorrectionLib.networks.ti_offset import load_model

    with pytest.raises(ModelLoadError, match="need the .pt"):
        save_model(load_model(), "never-written.pt")
    assert module_of(_tiny_model()).__class__.__name__ == "SequenceTINet"


def test_unet_save_load_round_trip_and_load_errors(tmp_path):
    torch.manual_seed(1)
    model = torch_myocardium_model(MyocardiumUNet(), card={"name": "tiny"}, name="tiny")
    path = tmp_path / "unet.pt"
    sha = save_segmentation_model(model, path)
    assert len(sha) == 64
    loaded = load_torch_segmentation_model(path)
    scout = simulate_scout(np.random.default_rng(2)).scout
    np.testing.assert_allclose(loaded.probability_on_grid(scout), model.probability_on_grid(scout), atol=1e-6)

    with pytest.raises(SegmentationModelError, match="not found"):
        load_torch_segmentation_model(tmp_path / "missing.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"not a model")
    with pytest.raises(SegmentationModelError, match="corrupt"):
        load_torch_segmentation_model(tmp_path / "corrupt.pt")
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(SegmentationModelError, match="not a CardiacLGE myocardium"):
        load_torch_segmentation_model(tmp_path / "other.pt")
    payload = torch.load(path, weights_only=True)
    payload["state_dict"].pop(next(iter(payload["state_dict"])))
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(SegmentationModelError, match="does not match"):
        load_torch_segmentation_model(tmp_path / "mismatch.pt")


def test_a_pickled_object_in_a_unet_file_is_refused(tmp_path):
    from fractions import Fraction  # any class outside torch's weights-only allow-list

    torch.save({"format": "cardiaclge-myocardium-unet", "object": Fraction(1, 3)}, tmp_path / "pickle.pt")
    with pytest.raises(SegmentationModelError, match="corrupt"):
        load_torch_segmentation_model(tmp_path / "pickle.pt")
