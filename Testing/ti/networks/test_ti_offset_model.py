"""TI-offset model at inference (no torch): class bins, preprocessing, and the shipped ONNX network's predictions.

The torch side (.pt files, architectures) is tested in test_torch_weights.py, the ONNX file checks in
test_onnx_models.py, ONNX-vs-torch parity in test_onnx_parity.py."""

import numpy as np
import pytest
from TINullCorrectionLib.core.preprocessing import (
    PreprocessConfig,
    context_indices,
    frame_inputs,
    frame_scalars,
    prepare_series,
)
from TINullCorrectionLib.core.types import ScoutError, TIScout
from TINullCorrectionLib.networks.offset_bins import OffsetBins
from TINullCorrectionLib.networks.ti_offset import (
    DEFAULT_MODEL_PATH,
    TIModel,
    load_model,
    offsets_from_probabilities,
    softmax,
)


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


def test_shipped_onnx_model_predicts_every_frame():
    model = load_model()
    assert model.backend == "onnxruntime" and model.architecture == "sequence" and model.network.name == DEFAULT_MODEL_PATH.stem
    assert model.bins == OffsetBins() and model.preprocess == PreprocessConfig()
    calls = []
    scout = _scout(n_frames=17)
    prediction = model.predict(scout, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(17, 17)]
    assert prediction.probabilities.shape == (17, 32) and prediction.probabilities.dtype == np.float64
    np.testing.assert_allclose(prediction.probabilities.sum(1), 1.0, atol=1e-12)
    assert np.isfinite(prediction.offset_ms).all() and ((prediction.confidence > 0) & (prediction.confidence <= 1 + 1e-12)).all()
    assert prediction.model_name == "ti_offset_sequence"
    np.testing.assert_array_equal(prediction.ti_ms, scout.ti_ms)


def test_any_network_with_the_onnx_signature_runs_the_same_predict():
    """TIModel.predict only needs (images [N,5,g,g], scalars [N,4]) -> logits: the ONNX session or a torch runner."""
    seen = {}

    def network(images, scalars):
        seen["shapes"] = (images.shape, scalars.shape, images.dtype, scalars.dtype)
        logits = np.zeros((images.shape[0], OffsetBins().n_classes), np.float32)
        logits[:, 16] = 10.0  # class 0..+10 ms (centre +5)
        return logits

    scout = _scout(n_frames=9)
    prediction = TIModel(network, "sequence", OffsetBins(), PreprocessConfig(), name="constant").predict(scout)
    assert seen["shapes"] == ((9, 5, 48, 48), (9, 4), np.float32, np.float32)
    assert np.all(np.abs(prediction.offset_ms - 5.0) < 0.1)


def test_softmax_is_stable_and_normalised():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]], np.float32)
    p = softmax(logits)
    np.testing.assert_allclose(p.sum(1), 1.0)
    assert p[0, 0] == pytest.approx(1.0) and np.allclose(p[1], 1 / 3)
