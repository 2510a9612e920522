"""What ``cardiac-lge check-env`` reports about the training profile (torch, onnx, onnxscript)."""

from __future__ import annotations


def torch_summary() -> str:
    """torch's version, device and a tiny convolution that must give 9."""
    import torch

    device = "CUDA " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU only"
    value = float(torch.nn.functional.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 3, 3)).item())
    if value != 9.0:
        raise RuntimeError(f"conv2d gave {value}, expected 9")
    return f"torch {torch.__version__} ({device}, {torch.get_num_threads()} threads)"
