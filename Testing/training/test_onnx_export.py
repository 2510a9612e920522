"""Export to ONNX (torch + onnx + onnxscript: the training profile): `cardiac-lge export-onnx` regenerates the
shipped files byte for byte from the shipped .pt files, and `train` / `train-myocardium` write a .onnx
beside the .pt that reproduces the torch network; the export-friendly forward equals the batch forward."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from TINullCorrectionLib.networks.architectures import SingleSeries, build_network
from TINullCorrectionLib.networks.model_files import MODELS_DIR, file_sha256, shipped_files
from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model
from TINullCorrectionLib.networks.ti_offset import load_model
from TINullCorrectionLib.networks.torch_models import load_torch_model, load_torch_segmentation_model
from TINullCorrectionLib.sim.simulator import simulate_scout

from cardiac_lge.cli import main

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("architecture", ["sequence", "compact"])
def test_single_series_forward_equals_the_batch_forward(architecture):
    torch.manual_seed(2)
    network = build_network(architecture, 32).eval()
    single = SingleSeries(network, 48).eval()
    for n_frames in (3, 17, 30):
        images, scalars = torch.rand(n_frames, 5, 48, 48), torch.rand(n_frames, 4)
        with torch.inference_mode():
            batch = network(images[None], scalars[None], torch.ones(1, n_frames, dtype=torch.bool))[0]
            assert torch.equal(single(images, scalars), batch)
    with pytest.raises(ValueError, match="needs the 48 x 48 working grid"):
        SingleSeries(build_network("sequence", 32), 64)


def test_export_onnx_regenerates_the_shipped_files_byte_for_byte(tmp_path, capsys):
    card = shipped_files()
    for name in ("ti_offset_sequence.pt", "myocardium_unet.pt"):
        shutil.copy(MODELS_DIR / name, tmp_path / name)
    assert main(["export-onnx", str(tmp_path / "ti_offset_sequence.pt"), str(tmp_path / "myocardium_unet.pt")]) == 0
    for name in ("ti_offset_sequence.onnx", "myocardium_unet.onnx"):
        assert file_sha256(tmp_path / name) == card[name]["sha256"], f"{name} differs from the shipped file"
    assert "sha256 " + card["ti_offset_sequence.onnx"]["sha256"] in capsys.readouterr().out


def test_train_writes_a_pt_and_an_onnx_that_agree(tmp_path):
    out = tmp_path / "site_model.pt"
    assert main(["train", "--out", str(out), "--n-series", "6", "--epochs", "1", "--batch-size", "3", "--photo-fraction", "0",
                 "--threads", "1"]) == 0
    onnx_model, torch_model = load_model(out.with_suffix(".onnx")), load_torch_model(out)
    assert onnx_model.backend == "onnxruntime" and torch_model.backend == "torch"
    assert onnx_model.card["training_command"].startswith("cardiac-lge train")
    scout = simulate_scout(np.random.default_rng(3), n_frames=21, matrix=96).scout
    a, b = onnx_model.predict(scout).probabilities, torch_model.predict(scout).probabilities
    assert np.abs(a - b).max() <= 1e-4 and np.array_equal(a.argmax(1), b.argmax(1))


def test_train_myocardium_writes_a_pt_and_an_onnx_that_agree(tmp_path):
    out = tmp_path / "unet.pt"
    assert main(["train-myocardium", "--out", str(out), "--n-series", "4", "--epochs", "1", "--batch-size", "2",
                 "--workers", "1", "--threads", "1"]) == 0
    scout = simulate_scout(np.random.default_rng(4), matrix=96).scout
    a = load_segmentation_model(out.with_suffix(".onnx")).myocardium_probability(scout)
    b = load_torch_segmentation_model(out).myocardium_probability(scout)
    assert np.abs(a - b).max() <= 1e-4


def test_export_needs_a_torch_model_file(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    assert main(["export-onnx", str(tmp_path / "bad.pt")]) == 2
    assert main(["export-onnx", str(tmp_path / "missing.pt")]) == 2


def test_a_second_export_in_one_process_keeps_the_frame_axis_dynamic(tmp_path):
    """torch caches the GRU's kernel after one export; without clearing it the second export fixed the frame axis
    at the example's 17 frames and was refused (found when train and export-onnx ran in one test session)."""
    from cardiac_lge.training.onnx_export import export_ti_model

    for name in ("first.onnx", "second.onnx"):
        export_ti_model(load_torch_model(), tmp_path / name)
        model = load_model(tmp_path / name)
        for n_frames in (3, 30):
            assert model.network(np.zeros((n_frames, 5, 48, 48), np.float32), np.zeros((n_frames, 4), np.float32)).shape[0] == n_frames
