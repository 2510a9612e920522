"""Issue 12 A5: a model with non-finite weights printed `null TI nan ± nan` with exit 0 and wrote bare NaN into
the JSON. Now such a file is refused at load (ONNX for inference, .pt for training/fine-tuning), and no NaN ever
reaches an output."""

from __future__ import annotations

import numpy as np
import pytest
from TINullCorrectionLib.networks import model_files
from TINullCorrectionLib.networks.myocardium_unet import DEFAULT_SEGMENTATION_PATH, load_segmentation_model
from TINullCorrectionLib.networks.ti_offset import DEFAULT_MODEL_PATH, load_model

from cardiac_lge.cli import main

onnx = pytest.importorskip("onnx", reason="the onnx package (test profile) edits the model files")
numpy_helper = pytest.importorskip("onnx.numpy_helper")


def _damaged_copy(source, target, value):
    model = onnx.load(str(source))
    for initializer in model.graph.initializer:
        array = numpy_helper.to_array(initializer)
        if array.dtype.kind == "f" and array.size > 1:
            damaged = array.copy()
            damaged.flat[0] = value
            initializer.CopyFrom(numpy_helper.from_array(damaged, initializer.name))
            break
    onnx.save(model, str(target))
    return target


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_onnx_files_with_non_finite_weights_are_refused(tmp_path, value):
    with pytest.raises(model_files.ModelLoadError, match="non-finite weights"):
        load_model(_damaged_copy(DEFAULT_MODEL_PATH, tmp_path / "ti.onnx", value))
    with pytest.raises(model_files.ModelLoadError, match="non-finite weights"):
        load_segmentation_model(_damaged_copy(DEFAULT_SEGMENTATION_PATH, tmp_path / "unet.onnx", value))


def test_cli_with_a_nan_model_gives_an_error_and_writes_no_json(tmp_path, capsys):
    from TINullCorrectionLib.sim.dicom_writer import write_scout_dicom
    from TINullCorrectionLib.sim.simulator import simulate_scout

    folder = tmp_path / "scout"
    write_scout_dicom(simulate_scout(np.random.default_rng(1), n_frames=16, matrix=96).scout, folder)
    model = _damaged_copy(DEFAULT_MODEL_PATH, tmp_path / "nan.onnx", np.nan)
    out = tmp_path / "r.json"
    assert main(["ti-correct", str(folder), "--model", str(model), "--json", str(out), "--quiet"]) == 2
    assert "non-finite" in capsys.readouterr().err
    assert not out.exists()


def test_network_outputs_are_checked_at_every_call():
    """A network that returns NaN for some input (whatever the cause) gives an error, never a NaN result."""
    from TINullCorrectionLib.networks.onnx_runtime import OnnxNetwork

    model = load_model()

    network = model.network
    assert isinstance(network, OnnxNetwork)
    original = network.session

    class Session:
        def run(self, names, feeds):
            return [np.full_like(original.run(names, feeds)[0], np.nan)]

    network.session = Session()
    try:
        from TINullCorrectionLib.sim.simulator import simulate_scout

        with pytest.raises(model_files.ModelLoadError, match="non-finite outputs"):
            model.predict(simulate_scout(np.random.default_rng(2), n_frames=12, matrix=64).scout)
    finally:
        network.session = original


def test_torch_training_files_with_non_finite_weights_are_refused(tmp_path):
    torch = pytest.importorskip("torch")
    from TINullCorrectionLib.networks import weights_file

    state = {"layer.weight": torch.tensor([1.0, float("nan")])}
    path = tmp_path / "bad.pt"
    torch.save({"format": "x", "version": 1, "state_dict": state, "card": {}}, path)
    with pytest.raises(model_files.ModelLoadError, match="non-finite weights"):
        weights_file.read_weights_file(path, "x", 1, "test model")
