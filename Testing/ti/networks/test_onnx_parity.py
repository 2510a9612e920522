"""ONNX (onnxruntime, what every front end runs) against torch (the .pt the files were exported from), with the
shipped weights, on simulated scouts of every kind: magnitude and phase-sensitive DICOM-quality scouts and
phone photos of a 4K and a 3 MP monitor, 15 to 30 frames. Per class max |delta p| <= 1e-4, the same argmax
in every frame, and the same null estimate within 0.1 ms (CNN alone and the final answer with the
automatic myocardium); the U-Net's probabilities agree within 1e-4 and give the same myocardium mask."""

from __future__ import annotations

import numpy as np
import pytest
from TINullCorrectionLib.core.automatic_myocardium import myocardium_mask
from TINullCorrectionLib.core.recommendation import recommend
from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model
from TINullCorrectionLib.networks.ti_offset import load_model
from TINullCorrectionLib.networks.torch_models import load_torch_model, load_torch_segmentation_model
from TINullCorrectionLib.sim.photo import degrade_scout_as_photo
from TINullCorrectionLib.sim.simulator import simulate_scout

#: (kind, seed, frames): seeds 660000+ are no training seed of either network.
CASES = [
    ("magnitude", 660001, 15), ("magnitude", 660002, 30), ("magnitude", 660003, 22),
    ("phase-sensitive", 660004, 15), ("phase-sensitive", 660005, 30),
    ("photo-4k", 660006, 18), ("photo-4k", 660007, 30),
    ("photo-3mp", 660008, 15), ("photo-3mp", 660009, 26),
]


@pytest.fixture(scope="module")
def models():
    return {"onnx": (load_model(), load_segmentation_model()), "torch": (load_torch_model(), load_torch_segmentation_model())}


def _scout(kind: str, seed: int, n_frames: int):
    rng = np.random.default_rng(seed)
    simulated = simulate_scout(rng, n_frames=n_frames, phase_sensitive=kind == "phase-sensitive")
    if kind.startswith("photo"):
        simulated = degrade_scout_as_photo(simulated, rng, monitor=kind.split("-")[1])
    return simulated.scout


def test_backends_are_what_they_claim(models):
    assert models["onnx"][0].backend == models["onnx"][1].backend == "onnxruntime"
    assert models["torch"][0].backend == models["torch"][1].backend == "torch"
    assert models["onnx"][0].name == models["torch"][0].name


@pytest.mark.parametrize(("kind", "seed", "n_frames"), CASES)
def test_onnx_and_torch_agree(models, kind, seed, n_frames):
    scout = _scout(kind, seed, n_frames)
    assert scout.n_frames == n_frames and scout.phase_sensitive == (kind == "phase-sensitive")
    results = {}
    for backend, (model, unet) in models.items():
        prediction = model.predict(scout)
        probability = unet.myocardium_probability(scout)
        results[backend] = (prediction, probability, recommend(scout, prediction), recommend(scout, prediction, myocardium_model=unet))
    (p_onnx, u_onnx, cnn_onnx, final_onnx), (p_torch, u_torch, cnn_torch, final_torch) = results["onnx"], results["torch"]
    assert np.abs(p_onnx.probabilities - p_torch.probabilities).max(axis=0).max() <= 1e-4
    np.testing.assert_array_equal(p_onnx.probabilities.argmax(1), p_torch.probabilities.argmax(1))
    assert np.abs(p_onnx.offset_ms - p_torch.offset_ms).max() <= 0.01
    assert abs(cnn_onnx.final.null_ti_ms - cnn_torch.final.null_ti_ms) <= 0.1
    assert np.abs(u_onnx - u_torch).max() <= 1e-4
    if (u_onnx >= 0.5).any():
        assert np.array_equal(myocardium_mask(u_onnx), myocardium_mask(u_torch))
    assert final_onnx.final.method == final_torch.final.method
    assert abs(final_onnx.final.null_ti_ms - final_torch.final.null_ti_ms) <= 0.1
