"""The speed work on the ti-correct core path (DICOM reading, preprocessing, the fits) changes no answer: the
stored answers of the code before it (Testing/support/core_path_reference.json, written by
support/core_path_reference.py) are reproduced within 1e-6 (ms, and every other number) on simulated scouts of
every kind: magnitude and phase-sensitive, 15-30 frames, the three vendors' DICOM, a photo of the monitor, a
native scout."""

from __future__ import annotations

import json

import pytest
from support.core_path_reference import CASES, REFERENCE_PATH, answers, compare

TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def found():
    from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model
    from TINullCorrectionLib.networks.ti_offset import load_model

    return answers(load_model(), load_segmentation_model())


@pytest.fixture(scope="module")
def expected():
    return json.loads(REFERENCE_PATH.read_text(encoding="utf-8"))


def test_the_reference_covers_every_kind_of_scout(expected):
    assert [name for name, *_ in CASES] == list(expected)
    kinds = {(overrides.get("phase_sensitive"), vendor) for _, _, overrides, vendor in CASES}
    assert {(False, v) for v in ("siemens", "ge", "philips")} <= kinds and {(True, v) for v in ("siemens", "ge", "philips")} <= kinds
    frames = [len(answer["ti_ms"]) for answer in expected.values()]
    assert min(frames) == 15 and max(frames) == 30
    assert {answer["recommendation"]["method"] for answer in expected.values()} >= {"combined", "ir-fit"}


@pytest.mark.parametrize("name", [name for name, *_ in CASES])
def test_core_path_answers_equal_the_stored_ones(name, found, expected):
    if found[name]["frames_sha256"] != expected[name]["frames_sha256"]:
        pytest.fail(f"{name}: the simulated input itself changed (simulator or DICOM writer/reader): the reference no longer "
                    "describes these pixels; check why, then regenerate it (see support/core_path_reference.py)")
    differences = compare(expected[name], found[name], TOLERANCE)
    assert not differences, f"{name}: " + "; ".join(differences[:10])


def test_compare_finds_a_change_beyond_the_tolerance():
    reference = {"null_ti_ms": 300.0, "warnings": ["a"], "frames": [{"offset_ms": 1.0}]}
    assert compare(reference, json.loads(json.dumps(reference)), TOLERANCE) == []
    assert compare(reference, {**reference, "null_ti_ms": 300.0 + 2e-6}, TOLERANCE)
    assert compare(reference, {**reference, "warnings": ["b"]}, TOLERANCE)
    assert compare(reference, {**reference, "frames": []}, TOLERANCE)
