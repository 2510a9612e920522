"""The working-grid resampling: the separable bilinear sampler gives exactly what scipy's map_coordinates gives
(order 1, zero outside), and the whole-stack resampling what the frame-by-frame filter + sampling gives."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from TINullCorrectionLib.core.preprocessing import (
    PreprocessConfig,
    resample_to_working_grid,
    separable_linear_resample,
)


@pytest.mark.parametrize("shape", [(17, 23), (64, 64), (5, 40)])
def test_separable_sampling_equals_map_coordinates(shape):
    rng = np.random.default_rng(3)
    image = rng.normal(size=shape)
    # inside, on the edges, between the last pixel and the edge, and outside on both sides
    rows = np.concatenate([rng.uniform(-2.0, shape[0] + 1.0, 40), [0.0, shape[0] - 1.0, -1e-9, shape[0] - 1 + 1e-9, 0.5]])
    cols = np.concatenate([rng.uniform(-2.0, shape[1] + 1.0, 30), [0.0, shape[1] - 1.0, -0.4, shape[1] - 0.6]])
    expected = ndimage.map_coordinates(image, np.meshgrid(rows, cols, indexing="ij"), order=1, mode="constant", cval=0.0)
    np.testing.assert_allclose(separable_linear_resample(image, rows, cols), expected, rtol=0, atol=1e-12)
    stack = np.stack([image, 2 * image, -image])
    np.testing.assert_allclose(separable_linear_resample(stack, rows, cols), np.stack([expected, 2 * expected, -expected]), atol=1e-12)


def test_stack_resampling_equals_frame_by_frame_filter_and_sampling():
    rng = np.random.default_rng(4)
    frames = rng.normal(size=(6, 150, 130)).astype(np.float32)
    config, spacing = PreprocessConfig(grid=48, fov_mm=180.0), (1.3, 1.7)
    out_mm = config.fov_mm / config.grid
    sigma = tuple(max(0.0, 0.4 * (out_mm / s - 1.0)) for s in spacing)
    offsets = (np.arange(config.grid) - (config.grid - 1) / 2.0) * out_mm
    grid = np.meshgrid((150 - 1) / 2.0 + offsets / spacing[0], (130 - 1) / 2.0 + offsets / spacing[1], indexing="ij")
    expected = np.stack([ndimage.map_coordinates(ndimage.gaussian_filter(f, sigma), grid, order=1, mode="constant", cval=0.0)
                         for f in frames])
    result = resample_to_working_grid(frames, spacing, config)
    assert result.dtype == np.float32 and result.shape == (6, 48, 48)
    np.testing.assert_allclose(result, expected, rtol=0, atol=2e-6)


def _whole_frames_reference(frames, spacing, config):
    """The resampling as it was before the window: the whole frames filtered, then sampled."""
    height, width = frames.shape[1:]
    out_mm = config.fov_mm / config.grid
    sigma = tuple(max(0.0, 0.4 * (out_mm / s - 1.0)) for s in spacing)
    offsets = (np.arange(config.grid) - (config.grid - 1) / 2.0) * out_mm
    filtered = ndimage.gaussian_filter(frames, (0.0, *sigma)) if max(sigma) > 0 else frames
    return separable_linear_resample(filtered, (height - 1) / 2.0 + offsets / spacing[0],
                                     (width - 1) / 2.0 + offsets / spacing[1]).astype(np.float32)


@pytest.mark.parametrize(("shape", "spacing", "grid", "fov_mm"), [
    ((192, 192), (1.5967, 1.5967), 48, 180.0),  # the CNN's grid on a typical scout: a central window
    ((192, 192), (1.5967, 1.5967), 96, 200.0),  # the U-Net's grid (sigma 0.12: a kernel of one pixel)
    ((256, 208), (0.9, 1.4), 48, 180.0),  # anisotropic pixels
    ((90, 120), (1.2, 0.8), 96, 200.0),  # a field of view wider than the image along rows: edges reflected
    ((64, 64), (4.0, 4.0), 48, 180.0),  # pixels coarser than the grid: no filter at all
    ((160, 75), (3.5, 1.0), 48, 180.0),  # one axis filtered, the other not
])
def test_the_window_gives_bit_for_bit_the_values_of_the_whole_frames(shape, spacing, grid, fov_mm):
    frames = np.random.default_rng(5).normal(size=(4, *shape)).astype(np.float32)
    config = PreprocessConfig(grid=grid, fov_mm=fov_mm)
    result = resample_to_working_grid(frames, spacing, config)
    np.testing.assert_array_equal(result, _whole_frames_reference(frames, spacing, config))
