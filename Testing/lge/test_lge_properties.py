"""Property tests (hypothesis) of the LGE side's readers and computations (issue 12 F21): whatever a file or an
array holds, the markups readers, the segmentation / label-map readers, the picture-stack reader, the profile
sampler, the LGE quantification and every metric family give finite numbers or a clear error of the project's
own kind (a ValueError subclass naming the file) — never another exception, a NaN, or unbounded time/memory
(each example runs under a deadline; sizes are bounded by the strategies and by the readers' own caps)."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from LGEResolutionQALib.core.lge_quantification import LGEQuantSettings, quantify_lge
from LGEResolutionQALib.core.lge_segmentation import METHODS
from LGEResolutionQALib.core.profiles import sample_line
from LGEResolutionQALib.io import definitions as io
from LGEResolutionQALib.io import lge_inputs as li
from LGEResolutionQALib.metrics import registry
from LGEResolutionQALib.metrics.base import (
    AnalysisSettings,
    LGESettings,
    NoiseSettings,
    RegionInputs,
    RegionRoles,
)
from PIL import Image

PROPERTY = settings(max_examples=60, deadline=3000, suppress_health_check=[HealthCheck.too_slow,
                                                                             HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10 ** 6, 10 ** 6) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=20)

FIELDS = ("type", "name", "coordinateSystem", "coordinateUnits", "controlPoints", "center", "size", "orientation",
          "insideOut", "roiType")
POINT_FIELDS = ("position", "positionStatus")


def _valid_markups(kind: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.mrk.json"
        if kind == "ROI":
            io.write_markups_roi(path, "r", (1.0, 2.0, 3.0), (4.0, 5.0, 6.0))
        else:
            io.write_markups_line(path, "l", (1.0, 2.0, 3.0), (4.0, 5.0, 6.0))
        return json.loads(path.read_text())


@st.composite
def markups_documents(draw):
    """A Slicer markups document (line, ROI or point list) with some fields replaced by arbitrary JSON, or any JSON."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    document = _valid_markups(draw(st.sampled_from(("ROI", "Line"))))
    markup = document["markups"][0]
    if draw(st.booleans()):
        markup["type"] = draw(st.sampled_from(("Fiducial", "Curve", "ROI", "Line")))
    for _ in range(draw(st.integers(0, 3))):
        markup[draw(st.sampled_from(FIELDS))] = draw(json_values)
    if isinstance(markup.get("controlPoints"), list) and markup["controlPoints"] and draw(st.booleans()):
        point = markup["controlPoints"][0]
        if isinstance(point, dict):
            point[draw(st.sampled_from(POINT_FIELDS))] = draw(json_values)
    if draw(st.booleans()):
        document["markups"].append(draw(json_values))
    return document


def _finite(values) -> bool:
    return bool(np.all(np.isfinite(np.asarray(values, dtype=float))))


@PROPERTY
@given(document=markups_documents(), nan_text=st.booleans())
def test_markups_readers_give_finite_definitions_or_a_clear_error(tmp_path_factory, document, nan_text):
    path = tmp_path_factory.mktemp("markups") / "any.mrk.json"
    path.write_text(json.dumps(document, allow_nan=nan_text) if nan_text or _json_safe(document) else "{")
    for reader in (io.read_markups_lines, io.read_markups_rois, io.read_markups_points, li.read_markups_point):
        try:
            result = reader(path)
        except ValueError as error:
            assert "any.mrk.json" in str(error), f"{reader.__name__}: {error}"
            event(f"{reader.__name__}: clear error")
            continue
        event(f"{reader.__name__}: result")
        items = result if isinstance(result, list) else [result]
        for item in items:
            if isinstance(item, io.LineDefinition):
                assert _finite(item.start_ras + item.end_ras) and item.length_mm > 0
            elif isinstance(item, io.RegionDefinition):
                assert _finite(item.center_ras) and _finite(item.size_mm) and min(item.size_mm) > 0
                assert isinstance(item.inside_out, bool) and _finite(item.axes_ras)
            else:
                assert _finite(item)


def _json_safe(document) -> bool:
    try:
        json.dumps(document, allow_nan=False)
    except ValueError:
        return False
    return True


metadata_text = st.one_of(st.sampled_from(("0", "1", "2", "-1", "1.5", "", "x", "1e9", "nan", "3")), st.text(max_size=4))


@PROPERTY
@given(values=arrays(np.int32, st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6)),
                     elements=st.integers(-3, 300)),
       dtype=st.sampled_from((np.uint8, np.int16, np.float32)), components=st.integers(1, 3),
       segments=st.lists(st.tuples(st.text(min_size=0, max_size=5), metadata_text, metadata_text), max_size=4),
       fraction=st.booleans(), nan=st.booleans())
def test_segmentation_reader_gives_masks_or_a_clear_error(tmp_path_factory, values, dtype, components, segments,
                                                          fraction, nan):
    array = values.astype(dtype)
    if dtype == np.float32:
        array = array / 2.0 if fraction else array
        if nan:
            array.flat[0] = np.nan
    image = (sitk.GetImageFromArray(np.stack([array] * components, axis=-1), isVector=True) if components > 1
             else sitk.GetImageFromArray(array))
    for index, (name, layer, label) in enumerate(segments):
        image.SetMetaData(f"Segment{index}_ID", f"S{index}")
        image.SetMetaData(f"Segment{index}_Name", name)
        image.SetMetaData(f"Segment{index}_Layer", layer)
        image.SetMetaData(f"Segment{index}_LabelValue", label)
    path = tmp_path_factory.mktemp("seg") / "any.seg.nrrd"
    sitk.WriteImage(image, str(path))
    try:
        result = io.read_segmentation(path)
    except ValueError as error:
        assert "any.seg.nrrd" in str(error), str(error)
        event("clear error")
        return
    event("segments read")
    assert result and len(result) <= io.MAX_SEGMENTS
    for name, region in result.items():
        assert region.name == name and region.mask.any() and region.mask.shape == array.shape
        assert _finite(region.ijk_to_ras)


@PROPERTY
@given(n_slices=st.integers(1, 3), rows=st.integers(1, 12), columns=st.integers(1, 12),
       mode=st.sampled_from(("L", "I;16", "RGB", "LA", "P", "1")), vary=st.sampled_from((False, False, True)),
       damage=st.sampled_from((False, False, True)),
       spacing=st.one_of(st.tuples(st.floats(0.1, 10), st.floats(0.1, 10), st.floats(0.5, 30)),
                         st.tuples(st.floats(0.1, 10), st.floats(0.1, 10), st.floats(0.5, 30)),
                         st.none(), st.tuples(st.floats(-1, 40), st.floats(-1, 40), st.floats(-1, 40))),
       seed=st.integers(0, 2 ** 16))
def test_picture_stacks_and_label_maps_read_or_refuse_clearly(tmp_path_factory, n_slices, rows, columns, mode, vary,
                                                              damage, spacing, seed):
    rng = np.random.default_rng(seed)
    folder = tmp_path_factory.mktemp("pictures")
    for k in range(n_slices):
        size = (columns + (k if vary else 0), rows)
        data = rng.integers(0, 4, size=(size[1], size[0], 3) if mode in ("RGB",) else (size[1], size[0]))
        picture = Image.fromarray(data.astype(np.uint8)).convert(mode) if mode != "I;16" else Image.fromarray(
            data.astype(np.uint16))
        picture.save(folder / f"slice{k}.png")
    if damage:
        path = folder / "slice0.png"
        path.write_bytes(path.read_bytes()[: max(len(path.read_bytes()) // 2, 1)])
    try:
        stack = li.read_stack(folder, spacing)
        labels = li.read_labels(folder, stack)
        mask = li.mask_of_labels(labels.array, (1, 2, 3))
    except ValueError as error:
        assert str(error), "an empty message"
        event("clear error")
        return
    event("stack read")
    assert stack.array.shape[0] == n_slices and _finite(stack.ijk_to_ras)
    assert mask.shape == stack.array.shape
    assert all(0.1 <= s <= 30 for s in stack.spacing_mm)


@PROPERTY
@given(text=st.text(alphabet="0123456789-,. xe+nai", max_size=14))
def test_option_parsers_give_values_in_range_or_a_clear_error(text):
    for parse, check in ((li.parse_labels, lambda v: 1 <= len(v) <= li.MAX_LABEL_COUNT and all(1 <= x <= li.MAX_LABEL for x in v)),
                         (li.parse_spacing, lambda v: len(v) == 3 and _finite(v)),
                         (li.parse_point, lambda v: len(v) == 3 and _finite(v))):
        try:
            value = parse(text)
        except ValueError as error:
            assert str(error)
            continue
        assert check(value), (parse.__name__, text, value)


@st.composite
def small_images(draw):
    """A small image [k, j, i] of finite intensities, sometimes with a few NaN / inf / constant voxels."""
    shape = draw(st.tuples(st.integers(1, 4), st.integers(4, 16), st.integers(4, 16)))
    image = draw(arrays(np.float32, shape, elements=st.floats(0, 1000, width=32)))
    for _ in range(draw(st.sampled_from((0, 0, 0, 1, 3)))):
        image[tuple(draw(st.integers(0, n - 1)) for n in shape)] = draw(st.sampled_from((np.nan, np.inf, -np.inf)))
    return image


@st.composite
def masks_for(draw, shape):
    """A mask: random voxels, a filled box or a ring-like band (so that computations get through as well)."""
    kind = draw(st.sampled_from(("random", "box", "ring")))
    if kind == "random":
        return draw(arrays(np.bool_, shape))
    k, j, i = np.indices(shape)
    if kind == "box":
        j0, i0 = draw(st.integers(0, shape[1] - 1)), draw(st.integers(0, shape[2] - 1))
        return (j >= j0) & (i >= i0) & (j < j0 + draw(st.integers(1, 8))) & (i < i0 + draw(st.integers(1, 8)))
    radius = np.hypot(j - (shape[1] - 1) / 2, i - (shape[2] - 1) / 2)
    return (radius >= shape[1] / 5) & (radius <= shape[1] / 2.5)


@PROPERTY
@given(image=small_images(), data=st.data(), method=st.sampled_from(METHODS),
       spacing=st.tuples(st.floats(0.1, 10), st.floats(0.1, 10), st.floats(0.5, 30)),
       n_sd=st.floats(-1, 30), include_mvo=st.booleans(), rv=st.booleans())
def test_lge_quantification_gives_finite_percentages_or_a_clear_error(image, data, method, spacing, n_sd, include_mvo, rv):
    myocardium = data.draw(masks_for(image.shape))
    remote = data.draw(st.one_of(st.none(), masks_for(image.shape)))
    matrix = np.diag([*spacing, 1.0])
    point = None
    if rv:
        point = tuple(matrix[:3, :3] @ np.array(data.draw(st.tuples(st.floats(-5, 20), st.floats(-5, 20), st.floats(-1, 4)))))
    try:
        settings_ = LGEQuantSettings(method=method, n_sd=n_sd, include_mvo=include_mvo, rv_insertion_ras=point)
        result = quantify_lge(image, matrix, myocardium, settings_, remote_mask=remote)
    except ValueError as error:
        assert str(error)
        event("clear error")
        return
    event("quantified" + (" with AHA segments" if result.aha is not None else ""))
    lge = result.lge
    assert 0.0 <= lge.lge_percent_of_lv <= 100.0 and math.isfinite(lge.lge_ml) and lge.lge_ml <= lge.myocardium_ml + 1e-9
    assert not (lge.scar_mask & ~myocardium.astype(bool)).any()
    json.dumps(result.as_json(), allow_nan=False)  # no NaN reaches the JSON
    if result.aha is not None:
        for segment in result.aha.segments:
            assert segment.lge_percent is None or 0.0 <= segment.lge_percent <= 100.0


@PROPERTY
@given(image=small_images(), data=st.data(),
       noise=st.sampled_from(("background", "tissue", "smoothing")), step=st.floats(1e-7, 50))
def test_every_metric_family_gives_finite_rows_or_a_clear_error(image, data, noise, step):
    matrix = np.diag([1.0, 1.0, 5.0, 1.0])
    volume = io.StudyVolume("V", image, matrix)
    masks = {name: data.draw(masks_for(image.shape)) for name in ("lge", "remote", "air", "myocardium")}
    roles = RegionRoles("lge", "remote", None, "myocardium", "air")
    settings_ = AnalysisSettings(step_mm=step, noise=NoiseSettings(noise, "air"), lge=LGESettings())
    start = data.draw(st.tuples(st.floats(-1, 17), st.floats(-1, 17), st.floats(-3, 3)))
    end = data.draw(st.tuples(st.floats(-1, 17), st.floats(-1, 17), st.floats(-3, 3)))
    targets = {"regions": None, "line": None, "mtf_roi": None}
    try:
        targets["regions"] = RegionInputs(masks, roles)
    except ValueError:
        pass
    for kind in ("septum", "edge", "bars"):
        try:
            line = io.LineDefinition("l", start, end, kind, 4 if kind == "bars" else None, 2.0 if kind == "bars" else None)
        except ValueError:
            continue
        for family in registry.families("line"):
            _run(family, volume, line, settings_)
    from LGEResolutionQALib.metrics.base import MTFTarget

    for family in registry.families("mtf_roi"):
        _run(family, volume, MTFTarget("box", masks["lge"]), settings_)
    if targets["regions"] is not None:
        for family in registry.families("regions"):
            _run(family, volume, targets["regions"], settings_)


def _run(family, volume, target, settings_) -> None:
    if getattr(family, "LINE_KINDS", None) and target.kind not in family.LINE_KINDS:
        return
    try:
        result = family.run(volume, target, settings_)
    except ValueError as error:
        assert str(error), family.NAME
        event(f"{family.NAME}: clear error")
        return
    if result is None:
        return
    event(f"{family.NAME}: result")
    for row in result.rows():
        value = row.value
        assert value is None or isinstance(value, (bool, str)) or math.isfinite(float(value)), (family.NAME, row)


@PROPERTY
@given(step=st.floats(1e-9, 1e3), width=st.floats(0, 200), length=st.floats(0, 1e7))
def test_profile_sampling_is_bounded(step, width, length):
    image = np.ones((1, 30, 30), np.float32)
    matrix = np.diag([length / 29.0 if length > 0 else 1.0, 1.0, 1.0, 1.0])
    try:
        matrix_ok = abs(np.linalg.det(matrix[:3, :3])) > 1e-12
        profile = sample_line(image, matrix if matrix_ok else np.eye(4), (0, 10, 0), (length, 10, 0), step_mm=step,
                              line_width_mm=width)
    except ValueError as error:
        assert str(error)
        return
    assert profile.distance_mm.size <= 20_000 and _finite(profile.intensity)
