"""The torch definitions of both networks (training and ONNX export only; inference runs the ONNX files
on onnxruntime: ti_offset.py, myocardium_unet.py, which never import this module).

TI-offset CNN: classifies each TI-scout frame by the offset of its TI from the myocardial null
(classes: offset_bins.OffsetBins). The published model (Eur Radiol 2023;33:4688) classified single frames with an ImageNet-pretrained
VGG-16 over about -60..+60 ms; no ImageNet weights can be downloaded here, so both architectures
below are trained from scratch on the project's simulator, the same way.

Every network maps a batch of series, images [B, N, 5, g, g] + scalars [B, N, 4] + a frame mask
[B, N], to logits [B, N, classes]; per-frame networks treat the frames independently.

For ONNX, :class:`SingleSeries` gives every TI network an export-friendly forward for one unpadded series,
images [N, 5, g, g] + scalars [N, 4] -> logits [N, classes] with a dynamic number of frames N (same
weights, identical logits: Testing/training/test_onnx_export.py).

The myocardium U-Net (:class:`MyocardiumUNet`, Ronneberger 2015) maps the 7 per-pixel features of
myocardium_unet.series_features [B, 7, g, g] to logits [B, 1, g, g].

Architectures:
- ``sequence`` (default): the compact CNN encodes every frame (with its context channels), then a
  bidirectional GRU over the frames in TI order lets every frame's class depend on the whole
  recovery curve (in the spirit of Bahrami 2019 / Xie 2024: CNN + recurrent layer over frames).
- ``compact``: 4 conv blocks (24-32-48-64 channels) on the 5-channel 48x48 context input,
  a 4x4 spatial summary, and a small head that also sees the TI-gap scalars.
- ``vgg16``: the VGG-16 layout (13 3x3 convs in 5 blocks, 64-128-256-512-512 channels, 3 FC
  layers) on the same input; FC widths reduced from 4096 to 512 for the 48x48 input (documented).
"""

from __future__ import annotations

import torch
from torch import nn

from TINullCorrectionLib.core.preprocessing import N_CHANNELS, N_SCALARS
from TINullCorrectionLib.core.single_frame import N_SINGLE_CHANNELS, N_SINGLE_SCALARS
from TINullCorrectionLib.networks.myocardium_unet import N_FEATURES
from TINullCorrectionLib.networks.offset_bins import OffsetBins  # noqa: F401 - re-exported for training code
from TINullCorrectionLib.networks.ti_offset import ARCHITECTURES


def _conv_block(c_in: int, c_out: int, n_convs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for index in range(n_convs):
        layers += [nn.Conv2d(c_in if index == 0 else c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class CompactTINet(nn.Module):
    """Default: small CNN over the 5-channel context input + TI-gap scalars."""

    def __init__(self, n_classes: int, widths: tuple[int, ...] = (24, 32, 48, 64), convs: tuple[int, ...] = (1, 1, 2, 1)):
        super().__init__()
        blocks, c_in = [], N_CHANNELS
        for width, n_convs in zip(widths, convs):
            blocks.append(_conv_block(c_in, width, n_convs))
            c_in = width
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(4))
        self.head = nn.Sequential(
            nn.Linear(c_in * 16 + N_SCALARS, 192), nn.ReLU(inplace=True), nn.Dropout(0.2), nn.Linear(192, n_classes)
        )

    def forward(self, images: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.features(images).flatten(1), scalars], dim=1))


class VGG16TINet(nn.Module):
    """VGG-16 layout (13 convs: 2-2-3-3-3 at 64-128-256-512-512) with a 3-layer head."""

    def __init__(self, n_classes: int, fc_width: int = 512):
        super().__init__()
        config = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
        blocks, c_in = [], N_CHANNELS
        for width, n_convs in config:
            blocks.append(_conv_block(c_in, width, n_convs))
            c_in = width
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1))
        self.head = nn.Sequential(
            nn.Linear(512 + N_SCALARS, fc_width), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(fc_width, fc_width), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(fc_width, n_classes),
        )

    def forward(self, images: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.features(images).flatten(1), scalars], dim=1))


class PerFrame(nn.Module):
    """Applies a per-frame network to every frame of a batch of series."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, images: torch.Tensor, scalars: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, frames = images.shape[:2]
        return self.network(images.flatten(0, 1), scalars.flatten(0, 1)).view(batch, frames, -1)


class SequenceTINet(nn.Module):
    """Compact CNN frame encoder + bidirectional GRU over the frames of the series."""

    def __init__(self, n_classes: int, widths: tuple[int, ...] = (24, 32, 48, 64), convs: tuple[int, ...] = (1, 1, 2, 1),
                 embedding: int = 96, hidden: int = 96):
        super().__init__()
        blocks, c_in = [], N_CHANNELS
        for width, n_convs in zip(widths, convs):
            blocks.append(_conv_block(c_in, width, n_convs))
            c_in = width
        self.encoder = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(3), nn.Flatten(), nn.Linear(c_in * 9, embedding), nn.ReLU(inplace=True))
        self.recurrent = nn.GRU(embedding + N_SCALARS, hidden, num_layers=2, batch_first=True, bidirectional=True, dropout=0.1)
        self.head = nn.Sequential(nn.Linear(2 * hidden + embedding, 128), nn.ReLU(inplace=True), nn.Linear(128, n_classes))

    def forward(self, images: torch.Tensor, scalars: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, frames = images.shape[:2]
        embedded = self.encoder(images.flatten(0, 1)).view(batch, frames, -1)
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(torch.cat([embedded, scalars], 2), lengths, batch_first=True, enforce_sorted=False)
        context, _ = self.recurrent(packed)
        context, _ = nn.utils.rnn.pad_packed_sequence(context, batch_first=True, total_length=frames)
        return self.head(torch.cat([context, embedded], 2))


def build_network(architecture: str, n_classes: int) -> nn.Module:
    if architecture == "sequence":
        return SequenceTINet(n_classes)
    if architecture == "compact":
        return PerFrame(CompactTINet(n_classes))
    if architecture == "vgg16":
        return PerFrame(VGG16TINet(n_classes))
    raise ValueError(f"Unknown architecture '{architecture}'; choose one of {ARCHITECTURES}.")


class SingleSeries(nn.Module):
    """Export-friendly forward of a TI network for one unpadded series: images [N, 5, g, g], scalars [N, 4]
    -> logits [N, classes].

    The batch forward above packs padded series (``pack_padded_sequence`` with lengths from
    ``mask.sum().cpu()``), which neither ONNX exporter can trace. For one series without padding the GRU
    runs on the plain sequence, which is what packing computes for a full-length series; the
    ``AdaptiveAvgPool2d(3)`` of the sequence encoder is dropped because it is the identity on the 3 x 3
    feature map of the 48 x 48 input (checked here). Weights are shared with ``network``, not copied.
    """

    def __init__(self, network: nn.Module, grid: int):
        super().__init__()
        self.network = network
        self.sequence = isinstance(network, SequenceTINet)
        if self.sequence:
            layers = list(network.encoder.children())
            at = next(i for i, layer in enumerate(layers) if isinstance(layer, nn.AdaptiveAvgPool2d))
            size = layers[at].output_size
            size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
            training = network.training
            network.eval()  # the probe must not touch the batch-norm statistics
            with torch.no_grad():
                shape = tuple(nn.Sequential(*layers[:at])(torch.zeros(1, N_CHANNELS, grid, grid)).shape[-2:])
            network.train(training)
            if shape != size:
                raise ValueError(f"The sequence encoder's adaptive pool maps {shape} to {size}, not the identity: "
                                 f"this export forward needs the 48 x 48 working grid, not {grid} x {grid}.")
            self.encoder = nn.Sequential(*layers[:at], *layers[at + 1:])

    def forward(self, images: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        if not self.sequence:  # per-frame networks: the frames are the batch
            return self.network.network(images, scalars)
        embedded = self.encoder(images)
        context, _ = self.network.recurrent(torch.cat([embedded, scalars], 1)[None])
        return self.network.head(torch.cat([context[0], embedded], 1))


# ------------------------------------------------------------------------------------ myocardium U-Net
def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    )


class MyocardiumUNet(nn.Module):
    """U-Net (Ronneberger 2015) with 3 poolings, widths 16-32-64-128; logits [B, 1, g, g]."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128)):
        super().__init__()
        self.down = nn.ModuleList()
        c_in = N_FEATURES
        for width in widths:
            self.down.append(_double_conv(c_in, width))
            c_in = width
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for width in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(c_in, width, 2, stride=2))
            self.merge.append(_double_conv(2 * width, width))
            c_in = width
        self.out = nn.Conv2d(c_in, 1, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        skips = []
        x = features
        for index, block in enumerate(self.down):
            x = block(x)
            if index < len(self.down) - 1:
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
        for up, merge in zip(self.up, self.merge):
            x = up(x)
            x = merge(torch.cat([x, skips.pop()], dim=1))
        return self.out(x)


class SingleFrameTINet(nn.Module):
    """The single-frame network (networks/single_frame.py): 5 conv blocks (24-32-48-64-96 channels) on the
    picture's channels (2 of the crop, + 1 of context: core.single_frame), a 2 x 2 summary and a head that also
    sees the TI; images [B, C, g, g] + scalars [B, 2] -> logits [B, classes]. Plain feed-forward (exports to ONNX
    with a free batch axis)."""

    def __init__(self, n_classes: int, widths: tuple[int, ...] = (24, 32, 48, 64, 96), convs: tuple[int, ...] = (1, 1, 2, 2, 1),
                 in_channels: int = N_SINGLE_CHANNELS + 1):
        super().__init__()
        blocks, c_in = [], int(in_channels)
        for width, n_convs in zip(widths, convs):
            blocks.append(_conv_block(c_in, width, n_convs))
            c_in = width
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.ti_embedding = nn.Sequential(nn.Linear(N_SINGLE_SCALARS, 32), nn.ReLU(inplace=True))
        self.head = nn.Sequential(
            nn.Linear(c_in * 4 + 32, 192), nn.ReLU(inplace=True), nn.Dropout(0.2), nn.Linear(192, n_classes)
        )

    def forward(self, images: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.features(images), self.ti_embedding(scalars)], dim=1))
