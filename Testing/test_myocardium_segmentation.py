"""Myocardium U-Net: grid geometry, weights-only save/load with clear errors, training that learns, and the
shipped weights finding the myocardium of held-out simulated scouts well enough for the IR fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from TINullCorrectionLib.myocardium_segmentation import (
    DEFAULT_SEGMENTATION_PATH,
    MyocardiumModel,
    MyocardiumUNet,
    SegmentationModelError,
    SegmentationTrainingConfig,
    fit_automatic_myocardium,
    grid_coordinates,
    load_segmentation_model,
    mask_on_grid,
    myocardium_mask,
    save_segmentation_model,
    scout_features,
    simulate_segmentation_set,
    train_segmentation,
)
from TINullCorrectionLib.preprocessing import PreprocessConfig
from TINullCorrectionLib.simulator import simulate_scout
from TINullCorrectionLib.types import ScoutError


@pytest.fixture(scope="module")
def shipped():
    return load_segmentation_model()


def test_grid_coordinates_invert_the_working_grid_resampling():
    config = PreprocessConfig(grid=64, fov_mm=160.0)
    shape, spacing = (150, 120), (1.4, 1.9)
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    centre_mm = np.array([(rows - 80) * spacing[0], (cols - 50) * spacing[1]])
    disc = (centre_mm**2).sum(0) <= 30.0**2  # 30 mm radius, off centre
    on_grid = mask_on_grid(disc, spacing, config)
    from scipy import ndimage

    back = ndimage.map_coordinates(on_grid, grid_coordinates(shape, spacing, config), order=1) >= 0.5
    inside = disc & ~(np.abs(grid_coordinates(shape, spacing, config)) > config.grid - 1).any(0)
    dice = 2 * (back & inside).sum() / (back.sum() + inside.sum())
    assert dice > 0.95
    assert on_grid.sum() * (config.fov_mm / config.grid) ** 2 == pytest.approx(np.pi * 30.0**2, rel=0.05)


def test_features_are_independent_of_frame_count_and_scale():
    simulated = simulate_scout(np.random.default_rng(5))
    features = scout_features(simulated.scout)
    assert features.shape == (7, 96, 96) and np.isfinite(features).all()
    from dataclasses import replace

    scaled = scout_features(replace(simulated.scout, frames=simulated.scout.frames * 7.0))
    np.testing.assert_allclose(scaled, features, rtol=1e-4, atol=1e-5)


def test_empty_probability_is_a_clear_error():
    with pytest.raises(ScoutError, match="No myocardium found"):
        myocardium_mask(np.zeros((20, 20)))


def test_save_load_round_trip_and_load_errors(tmp_path):
    torch.manual_seed(1)
    model = MyocardiumModel(MyocardiumUNet(), card={"name": "tiny"}, name="tiny")
    path = tmp_path / "unet.pt"
    sha = save_segmentation_model(model, path)
    assert len(sha) == 64
    loaded = load_segmentation_model(path)
    scout = simulate_scout(np.random.default_rng(2)).scout
    np.testing.assert_allclose(loaded.probability_on_grid(scout), model.probability_on_grid(scout), atol=1e-6)

    with pytest.raises(SegmentationModelError, match="not found"):
        load_segmentation_model(tmp_path / "missing.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"not a model")
    with pytest.raises(SegmentationModelError, match="corrupt"):
        load_segmentation_model(tmp_path / "corrupt.pt")
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(SegmentationModelError, match="not a CardiacLGE myocardium"):
        load_segmentation_model(tmp_path / "other.pt")
    payload = torch.load(path, weights_only=True)
    payload["state_dict"].pop(next(iter(payload["state_dict"])))
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(SegmentationModelError, match="does not match"):
        load_segmentation_model(tmp_path / "mismatch.pt")


def test_a_pickled_object_is_refused(tmp_path):
    from fractions import Fraction  # any class outside torch's weights-only allow-list

    torch.save({"format": "cardiaclge-myocardium-unet", "object": Fraction(1, 3)}, tmp_path / "pickle.pt")
    with pytest.raises(SegmentationModelError, match="corrupt"):
        load_segmentation_model(tmp_path / "pickle.pt")


def test_training_learns_the_myocardium(tmp_path):
    data = simulate_segmentation_set(48, seed=11, photo_fraction=0.0)
    config = SegmentationTrainingConfig(n_series=48, epochs=3, batch_size=8, learning_rate=3e-3, seed=11)
    model, history = train_segmentation(config, data=data, show_progress=False, log=lambda _: None)
    assert len(history) == 3
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert model.card["best_epoch"] in (1, 2, 3)


def _dice(a, b):
    return 2 * np.count_nonzero(a & b) / max(1, np.count_nonzero(a) + np.count_nonzero(b))


def test_shipped_weights_find_the_myocardium_of_held_out_scouts(shipped):
    """Seeds 990000+ are not training seeds (training uses 20261130 + i)."""
    assert DEFAULT_SEGMENTATION_PATH.is_file()
    dices, errors = [], []
    for seed in range(990000, 990012):
        simulated = simulate_scout(np.random.default_rng(seed))
        probability = shipped.myocardium_probability(simulated.scout)
        assert probability.shape == simulated.scout.frames.shape[1:]
        dices.append(_dice(myocardium_mask(probability), simulated.myocardium_mask))
        fit, used = fit_automatic_myocardium(simulated.scout, probability)
        assert used.sum() >= 8 and not (used & ~myocardium_mask(probability)).any()
        errors.append(fit.null_ti_ms - simulated.null_ti_ms)
    assert np.median(dices) > 0.6
    assert np.mean(np.abs(errors) <= 15.0) >= 10 / 12, errors
