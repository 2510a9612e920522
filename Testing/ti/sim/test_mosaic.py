"""The console mosaic in three vendor-like styles and its phone photo: layout, printed TIs, ground-truth corners."""

import numpy as np
import pytest
from TINullCorrectionLib.sim.mosaic import STYLES, VENDOR_STYLES, layout, photograph_mosaic, render_mosaic
from TINullCorrectionLib.sim.simulator import simulate_scout


@pytest.fixture(scope="module")
def simulated():
    return simulate_scout(np.random.default_rng(11), n_frames=20, matrix=128)


@pytest.mark.parametrize("style", VENDOR_STYLES)
def test_rendered_mosaic_has_one_tile_per_frame_in_reading_order(simulated, style):
    rendered = render_mosaic(simulated, np.random.default_rng(1), style, "3mp")
    rows, columns = layout(20, STYLES[style])
    assert (rendered.rows, rendered.columns) == (rows, columns) and rows * columns >= 20
    assert rendered.display.shape == (1536, 2048, 3)
    boxes = rendered.tile_boxes_px
    assert boxes.shape == (20, 4)
    # left to right, then top to bottom
    order = np.lexsort((boxes[:, 0], boxes[:, 1]))
    np.testing.assert_array_equal(order, np.arange(20))
    x0, y0, x1, y1 = rendered.grid_box_px
    assert (boxes[:, 0] >= x0).all() and (boxes[:, 2] <= x1).all() and (boxes[:, 1] >= y0).all() and (boxes[:, 3] <= y1).all()
    np.testing.assert_array_equal(rendered.displayed_ti_ms, np.round(simulated.scout.ti_ms).astype(int))
    # the frame is drawn inside its box: the tile is not black where the body is
    tile = rendered.display[int(boxes[5, 1]):int(boxes[5, 3]), int(boxes[5, 0]):int(boxes[5, 2])]
    assert tile.mean() > 10


def test_without_the_ti_the_annotations_change_only_there(simulated):
    with_ti = render_mosaic(simulated, np.random.default_rng(2), "siemens", "4k")
    without = render_mosaic(simulated, np.random.default_rng(2), "siemens", "4k", print_ti=False)
    difference = np.abs(with_ti.display.astype(int) - without.display.astype(int)).sum(axis=2) > 0
    assert difference.any()
    box = with_ti.tile_boxes_px[0].astype(int)
    rows, cols = np.nonzero(difference[box[1]:box[3], box[0]:box[2]])
    height = box[3] - box[1]
    assert rows.min() > 0.8 * height and cols.max() < 0.5 * (box[2] - box[0])  # Siemens-like: TI bottom left


def test_photo_corners_map_the_display_tiles(simulated):
    rendered = render_mosaic(simulated, np.random.default_rng(3), "ge", "4k")
    mosaic = photograph_mosaic(rendered, np.random.default_rng(4), simulated)
    height, width = mosaic.image.shape[:2]
    corners = mosaic.tile_corners_px
    assert corners.shape == (20, 4, 2)
    assert (corners[..., 0] > 0).all() and (corners[..., 0] < width).all() and (corners[..., 1] > 0).all() and (corners[..., 1] < height).all()
    # the homography maps the tile centres back onto the display
    centres = corners.mean(axis=1)
    homogeneous = np.c_[centres, np.ones(len(centres))] @ mosaic.photo.camera_to_display.T
    back = homogeneous[:, :2] / homogeneous[:, 2:]
    boxes = rendered.tile_boxes_px
    np.testing.assert_allclose(back, np.c_[(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], atol=2.0)
    assert mosaic.field_of_view_mm == pytest.approx(128 * simulated.scout.pixel_spacing_mm[1])
