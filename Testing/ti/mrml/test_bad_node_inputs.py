"""Issue 12 A4 and D17 on real MRML nodes: implausible TIs given through node attributes or a sequence index are
refused (the scene unchanged), and no series description is written into node attributes."""

from __future__ import annotations

import numpy as np
import pytest
import slicer
from CardiacLGECommonLib.mrml.volumes import set_volume_array
from TINullCorrectionLib.core.types import ScoutError, TIScout
from TINullCorrectionLib.mrml import sequence as mrml_sequence


def _sequence(scene, ti_values, index_name="frame", unit="", attribute=True):
    """A sequence of 2D frames whose TIs are the given per-frame attributes (or the index, with ``attribute`` False)."""
    sequence = scene.AddNewNodeByClass("vtkMRMLSequenceNode", "user sequence")
    sequence.SetIndexName(index_name)
    sequence.SetIndexUnit(unit)
    frame = slicer.vtkMRMLScalarVolumeNode()
    for index, ti in enumerate(ti_values):
        set_volume_array(frame, np.full((1, 8, 8), index + 1, np.float32), np.diag([1.5, 1.5, 8.0, 1.0]))
        if attribute:
            frame.SetAttribute(mrml_sequence.FRAME_TI_ATTRIBUTE, repr(float(ti)))
        sequence.SetDataNodeAtValue(frame, str(ti) if not attribute else str(index))
    return sequence


@pytest.mark.parametrize("ti, message", [
    ([-100.0, 100.0, 200.0, 300.0], "0-6000 ms"),
    ([0.1, 0.2, 0.3, 0.4], "look like seconds"),
    ([100.0, 200.0, 300.0, 1e9], "0-6000 ms"),
])
def test_implausible_tis_in_frame_attributes_are_refused(scene, ti, message):
    sequence = _sequence(scene, ti)
    before = scene.GetNumberOfNodes()
    with pytest.raises(ScoutError, match=message):
        mrml_sequence.scout_from_sequence(sequence)
    assert scene.GetNumberOfNodes() == before


def test_an_index_in_seconds_is_converted_and_one_in_ms_that_looks_like_seconds_is_refused(scene):
    in_seconds = _sequence(scene, [0.1, 0.2, 0.3, 0.4], index_name="inversion time", unit="s", attribute=False)
    np.testing.assert_allclose(mrml_sequence.scout_from_sequence(in_seconds).ti_ms, [100, 200, 300, 400])
    mislabelled = _sequence(scene, [0.1, 0.2, 0.3, 0.4], index_name="inversion time", unit="ms", attribute=False)
    with pytest.raises(ScoutError, match="look like seconds"):
        mrml_sequence.scout_from_sequence(mislabelled)


def test_no_series_description_in_node_attributes(scene):
    scout = TIScout(frames=np.ones((4, 8, 8), np.float32), ti_ms=[100.0, 200.0, 300.0, 400.0],
                    series_description="DOE^JANE TI scout", slice_label="series 3 slice 0")
    sequence, browser, proxy = mrml_sequence.sequence_from_scout(scene, scout, "TI scout")
    for node in (sequence, browser, proxy, *(sequence.GetNthDataNode(i) for i in range(4))):
        values = [node.GetAttribute(name) or "" for name in node.GetAttributeNames() or ()]
        assert not any("JANE" in value for value in values), node.GetName()
    assert sequence.GetAttribute(mrml_sequence.SERIES_DESCRIPTION_ATTRIBUTE) is None
    assert mrml_sequence.scout_from_sequence(sequence).slice_label == "series 3 slice 0"
