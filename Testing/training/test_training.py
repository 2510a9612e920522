"""Training and evaluation plumbing on tiny simulated data (the real training is `cardiac-lge train`)."""

import numpy as np
import pytest
import torch
from TINullCorrectionLib.networks.ti_offset import load_model
from TINullCorrectionLib.networks.torch_models import load_torch_model

from cardiac_lge.training.evaluation import (
    evaluate,
    format_table,
    series_breakdown,
    simulated_operator_choices,
)
from cardiac_lge.training.ti_offset import TrainingConfig, simulate_series_set, train_model


@pytest.fixture(scope="module")
def tiny_series():
    return simulate_series_set(10, seed=5, matrix=96)


def test_simulated_series_are_reproducible(tiny_series):
    again = simulate_series_set(10, seed=5, matrix=96)
    assert len(again) == len(tiny_series) == 10
    for a, b in zip(again.frames, tiny_series.frames, strict=True):
        np.testing.assert_array_equal(a, b)
    for offsets, ti in zip(tiny_series.offset_ms, tiny_series.ti_ms, strict=True):
        assert np.all(np.diff(offsets) > 0) and np.allclose(np.diff(offsets), np.diff(ti))


def test_training_reduces_loss_and_writes_loadable_checkpoints(tiny_series, tmp_path):
    torch.set_num_threads(1)
    config = TrainingConfig(n_series=10, epochs=3, batch_size=3, learning_rate=3e-3, seed=1)
    model, history = train_model(config, series=tiny_series, checkpoint_dir=tmp_path, show_progress=False, log=lambda _: None)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    checkpoints = sorted(tmp_path.glob("checkpoint_epoch*.pt"))
    assert len(checkpoints) == 3
    reloaded = load_torch_model(checkpoints[-1])
    assert reloaded.architecture == "sequence"
    # Fine-tuning needs a matching configuration.
    with pytest.raises(ValueError, match="differ"):
        train_model(TrainingConfig(architecture="vgg16", epochs=1), series=tiny_series, init=model, show_progress=False, log=lambda _: None)


def test_evaluation_table_names_the_optimal_range(tiny_series):
    from TINullCorrectionLib.sim.simulator import simulate_scout

    torch.set_num_threads(1)
    model, _ = train_model(TrainingConfig(epochs=1, batch_size=4), series=tiny_series, show_progress=False, log=lambda _: None)
    rng = np.random.default_rng(11)
    cases = [(s.scout, s.null_ti_ms) for s in (simulate_scout(rng, matrix=96) for _ in range(3))]
    chosen = simulated_operator_choices([null for _, null in cases], seed=2)
    result = evaluate(model, cases, chosen_ti_ms=chosen)
    assert result.n_series == 3 and result.frames.n > 0
    for breakdown in (result.frames, result.series, result.chosen_before, result.chosen_after):
        assert breakdown.optimal_pct + breakdown.above_pct + breakdown.below_pct == pytest.approx(100.0)
    text = format_table(result)
    assert "optimal range: null -10..+20 ms" in text and "MAE" in text
    errors = np.asarray(result.series_null_error_ms)
    assert errors.shape == (3,)
    assert np.mean(np.abs(errors)) == pytest.approx(result.null_mae_ms)
    sds = np.asarray(result.series_null_uncertainty_ms)
    assert sds.shape == (3,) and np.all(np.isfinite(sds) & (sds > 0))  # the CNN's reported 1 sigma of each series
    assert result.uncertainty_coverage_pct(1.0) == pytest.approx(100.0 * np.mean(np.abs(errors) <= sds))
    assert result.uncertainty_coverage_pct(2.0) >= result.uncertainty_coverage_pct(1.0)
    assert "within 1 sigma in" in text
    whole = series_breakdown(result, [True, True, True])
    assert whole == result.series
    part = series_breakdown(result, [True, False, False])
    assert part.n == 1 and part.optimal_pct in (0.0, 100.0)
    with pytest.raises(ValueError, match="3 evaluated series"):
        series_breakdown(result, [True])
    with pytest.raises(ValueError, match="chosen TIs"):
        evaluate(model, cases, chosen_ti_ms=[300.0])


def test_evaluation_with_the_automatic_myocardium_reports_final_and_cnn_alone():
    """The final answer (CNN + IR fit of the automatic myocardium) is what ti-correct reports: the table
    shows it and the CNN alone; frame offsets of the final answer are TI - final null."""
    from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model
    from TINullCorrectionLib.sim.simulator import simulate_scout

    rng = np.random.default_rng(880001)
    cases = [(s.scout, s.null_ti_ms) for s in (simulate_scout(rng) for _ in range(6))]
    result = evaluate(load_model(), cases, myocardium_model=load_segmentation_model())
    assert result.frames_cnn is not None and result.series_cnn is not None and result.null_mae_cnn_ms is not None
    assert sum(result.methods.values()) == 6 and set(result.methods) <= {"cnn", "combined", "ir-fit"}
    assert result.methods.get("cnn", 0) < 6  # the fit took part
    assert result.null_mae_ms < 15.0
    text = format_table(result)
    assert "CNN alone" in text and "automatic IR fit" in text


def test_native_fraction_of_the_simulated_training_set():
    from cardiac_lge.training.ti_offset import simulate_series_set

    native = simulate_series_set(4, seed=3, native_fraction=1.0, matrix=64, n_frames=15)
    post = simulate_series_set(4, seed=3, native_fraction=0.0, matrix=64, n_frames=15)
    # label = TI - null, so every series' null is ti - offset
    native_nulls = np.array([ti[0] - offset[0] for ti, offset in zip(native.ti_ms, native.offset_ms, strict=True)])
    post_nulls = np.array([ti[0] - offset[0] for ti, offset in zip(post.ti_ms, post.offset_ms, strict=True)])
    assert native_nulls.min() > 450.0 and np.median(native_nulls) > np.median(post_nulls) + 200.0
    with pytest.raises(ValueError, match="native_fraction"):
        simulate_series_set(1, seed=3, native_fraction=1.5)


def test_training_learns_the_myocardium():
    from cardiac_lge.training.myocardium import (
        SegmentationTrainingConfig,
        simulate_segmentation_set,
        train_segmentation,
    )

    data = simulate_segmentation_set(48, seed=11, photo_fraction=0.0)
    config = SegmentationTrainingConfig(n_series=48, epochs=3, batch_size=8, learning_rate=3e-3, seed=11)
    model, history = train_segmentation(config, data=data, show_progress=False, log=lambda _: None)
    assert len(history) == 3
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert model.card["best_epoch"] in (1, 2, 3)
