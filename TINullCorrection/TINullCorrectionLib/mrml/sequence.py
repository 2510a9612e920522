"""MRML adapter: TI scouts <-> ``vtkMRMLSequenceNode`` of 2D scalar volumes (one item per TI frame).

Imports only ``slicer``, ``vtk``, ``numpy`` and the core; every function takes the scene or the
nodes as arguments, so it runs under the ``slicer-core`` wheel (pytest) and inside Slicer.

Layout written by :func:`sequence_from_scout`:
- sequence indexed by inversion time (index name ``"inversion time"``, unit ``"ms"``, numeric) when
  the TIs are unique after formatting; otherwise indexed by frame number (``"frame"``, no unit);
- every item (a single-slice ``vtkMRMLScalarVolumeNode``) carries its TI in the attribute
  :data:`FRAME_TI_ATTRIBUTE`, so the TI survives whatever the index is;
- scout metadata (TI source, vendor, magnitude/phase-sensitive, slice label, the opaque scout key)
  as attributes of the sequence node, never patient identifiers and not the series description (which
  can hold a patient's name; Slicer's DICOM browser shows it in the loadable's name, as it shows the series
  itself; :data:`SERIES_DESCRIPTION_ATTRIBUTE` is only read, from scenes saved by earlier versions).

:func:`scout_from_sequence` reads back ANY sequence of 2D scalar volumes whose items carry a TI
(the attribute above) or whose index is an inversion time in ms or s, and
:func:`scout_from_multivolume` reads a MultiVolume node (frames as scalar components).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import slicer
import vtk
from CardiacLGECommonLib.mrml.scene_changes import SceneChange
from CardiacLGECommonLib.mrml.volumes import array_from_volume, ijk_to_ras_matrix, set_volume_array
from vtk.util import numpy_support

from TINullCorrectionLib.core.types import ScoutError, TIScout

ATTRIBUTE_PREFIX = "TINullCorrection."
FRAME_TI_ATTRIBUTE = ATTRIBUTE_PREFIX + "InversionTime_ms"
FRAME_TR_ATTRIBUTE = ATTRIBUTE_PREFIX + "RepetitionTime_ms"
WARNINGS_ATTRIBUTE = ATTRIBUTE_PREFIX + "LoadWarnings"
SCOUT_MARKER_ATTRIBUTE = ATTRIBUTE_PREFIX + "TIScout"
TI_SOURCE_ATTRIBUTE = ATTRIBUTE_PREFIX + "TISource"
VENDOR_ATTRIBUTE = ATTRIBUTE_PREFIX + "Vendor"
PHASE_SENSITIVE_ATTRIBUTE = ATTRIBUTE_PREFIX + "PhaseSensitive"
#: Read from scenes of earlier versions only; no longer written (issue 12 D17: no series description in node attributes).
SERIES_DESCRIPTION_ATTRIBUTE = ATTRIBUTE_PREFIX + "SeriesDescription"
SLICE_LABEL_ATTRIBUTE = ATTRIBUTE_PREFIX + "SliceLabel"
SLICE_THICKNESS_ATTRIBUTE = ATTRIBUTE_PREFIX + "SliceThickness_mm"
#: Opaque key of the acquisition (TIScout.scout_key): sequences with the same key are slices of one scout.
SCOUT_KEY_ATTRIBUTE = ATTRIBUTE_PREFIX + "ScoutKey"

TI_INDEX_NAME = "inversion time"
TI_INDEX_UNIT = "ms"
FRAME_INDEX_NAME = "frame"

# Normalised index names (lower case, no spaces/underscores) accepted as an inversion time.
_TI_INDEX_NAMES = {"inversiontime", "inversiontimes", "ti", "inversiontimems", "ti_ms", "tims"}
# Philips Look-Locker frames carry their TI in TriggerTime (docs/METHODS.md); MultiVolumeImporter names
# its index after that tag. Accepted, and reported as the TI source.
_TRIGGER_INDEX_NAMES = {"triggertime", "nominalcardiactriggerdelaytime"}


@dataclass(frozen=True)
class ScoutSequenceNodes:
    """Nodes created by :func:`sequence_from_scout` (unpacks as ``seq, browser, proxy``)."""

    sequence_node: slicer.vtkMRMLSequenceNode
    browser_node: slicer.vtkMRMLSequenceBrowserNode | None
    proxy_node: slicer.vtkMRMLScalarVolumeNode | None

    def __iter__(self):
        return iter((self.sequence_node, self.browser_node, self.proxy_node))


def _normalise(name: str) -> str:
    return "".join(ch for ch in (name or "").lower() if ch.isalnum() or ch == "_").replace("_", "")


def _format_index(value: float) -> str:
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def sequence_from_scout(
    scene: slicer.vtkMRMLScene,
    scout: TIScout,
    name: str,
    create_browser: bool = True,
    index_by: str = "ti",
    sequences_logic=None,
) -> ScoutSequenceNodes:
    """Build a sequence of single-slice scalar volumes (one per TI frame) from a core ``TIScout``.

    index_by: ``"ti"`` (default; falls back to frame numbers when formatted TIs collide) or ``"frame"``.
    sequences_logic: optional ``vtkSlicerSequencesLogic``; when given, proxy nodes are refreshed
    through it (in Slicer and in the test scene the logic does that on its own).
    On any error nothing stays in the scene.
    """
    if not isinstance(scout, TIScout):
        raise ScoutError(f"Expected a TIScout; got {type(scout).__name__}.")
    if index_by not in ("ti", "frame"):
        raise ValueError(f"index_by must be 'ti' or 'frame'; got {index_by!r}.")
    labels = [_format_index(t) for t in scout.ti_ms]
    use_ti_index = index_by == "ti" and len(set(labels)) == len(labels)
    with SceneChange(scene):
        base_name = name or "TI scout"
        sequence = scene.AddNewNodeByClass("vtkMRMLSequenceNode", scene.GenerateUniqueName(base_name))
        if use_ti_index:
            sequence.SetIndexName(TI_INDEX_NAME)
            sequence.SetIndexUnit(TI_INDEX_UNIT)
        else:
            sequence.SetIndexName(FRAME_INDEX_NAME)
            sequence.SetIndexUnit("")
        sequence.SetIndexType(slicer.vtkMRMLSequenceNode.NumericIndex)
        sequence.SetAttribute(SCOUT_MARKER_ATTRIBUTE, "1")
        sequence.SetAttribute(TI_SOURCE_ATTRIBUTE, scout.ti_source)
        sequence.SetAttribute(VENDOR_ATTRIBUTE, scout.vendor)
        sequence.SetAttribute(PHASE_SENSITIVE_ATTRIBUTE, "1" if scout.phase_sensitive else "0")
        sequence.SetAttribute(SLICE_LABEL_ATTRIBUTE, scout.slice_label)
        sequence.SetAttribute(SLICE_THICKNESS_ATTRIBUTE, f"{scout.slice_thickness_mm:g}")
        if scout.scout_key:
            sequence.SetAttribute(SCOUT_KEY_ATTRIBUTE, scout.scout_key)
        if scout.warnings:
            sequence.SetAttribute(WARNINGS_ATTRIBUTE, "\n".join(scout.warnings))
        tr_ms = scout.tr_ms

        frame_node = slicer.vtkMRMLScalarVolumeNode()  # template, never added to the scene
        for index, (frame, ti_ms) in enumerate(zip(scout.frames, scout.ti_ms)):
            set_volume_array(frame_node, frame[np.newaxis].astype(np.float32), scout.ijk_to_ras)
            frame_node.SetName(f"{base_name} TI {labels[index]} ms")
            frame_node.SetAttribute(FRAME_TI_ATTRIBUTE, repr(float(ti_ms)))
            if tr_ms is not None:
                frame_node.SetAttribute(FRAME_TR_ATTRIBUTE, repr(float(tr_ms[index])))
            sequence.SetDataNodeAtValue(frame_node, labels[index] if use_ti_index else str(index))
        if sequence.GetNumberOfDataNodes() != scout.n_frames:
            raise ScoutError(
                f"Sequence '{sequence.GetName()}' holds {sequence.GetNumberOfDataNodes()} items for "
                f"{scout.n_frames} frames (colliding index values)."
            )

        browser = proxy = None
        if create_browser:
            browser = scene.AddNewNodeByClass("vtkMRMLSequenceBrowserNode", scene.GenerateUniqueName(base_name + " browser"))
            browser.SetAndObserveMasterSequenceNodeID(sequence.GetID())
            browser.SetIndexDisplayFormat("%.0f")
            browser.SetSelectedItemNumber(0)
            if sequences_logic is not None:
                sequences_logic.UpdateProxyNodesFromSequences(browser)
            proxy = browser.GetProxyNode(sequence)
            if proxy is not None:
                proxy.SetName(sequence.GetName())
                if proxy.GetDisplayNode() is None:
                    proxy.CreateDefaultDisplayNodes()
        return ScoutSequenceNodes(sequence, browser, proxy)


def _item_ti_from_index(sequence: slicer.vtkMRMLSequenceNode) -> tuple[np.ndarray | None, str, str]:
    """(TIs in ms per item or None, ti_source, reason it is not a TI)."""
    index_name = sequence.GetIndexName() or ""
    unit = (sequence.GetIndexUnit() or "").strip().lower()
    normalised = _normalise(index_name)
    if normalised not in _TI_INDEX_NAMES and normalised not in _TRIGGER_INDEX_NAMES:
        return None, "", f"its index is '{index_name}'" + (f" ({unit})" if unit else "") + ", not an inversion time"
    if unit in ("ms", "msec", "millisecond", "milliseconds"):
        scale = 1.0
    elif unit in ("s", "sec", "second", "seconds"):
        scale = 1000.0
    else:
        return None, "", f"its index '{index_name}' has unit '{unit or 'none'}' (expected ms or s)"
    values = []
    for item in range(sequence.GetNumberOfDataNodes()):
        text = sequence.GetNthIndexValue(item)
        try:
            values.append(float(text) * scale)
        except ValueError:
            return None, "", f"its index value '{text}' is not a number"
    source = f"sequence index '{index_name}' ({unit})"
    if normalised in _TRIGGER_INDEX_NAMES:
        source += " - trigger time taken as TI (Philips Look-Locker convention)"
    return np.asarray(values, dtype=np.float64), source, ""


def sequence_item_ti_ms(sequence: slicer.vtkMRMLSequenceNode) -> tuple[np.ndarray, str]:
    """(TI in ms of every item in item order, where it came from); ScoutError when the items carry no TI."""
    if sequence is None or not sequence.IsA("vtkMRMLSequenceNode"):
        raise ScoutError("Select a sequence (or sequence browser) holding the TI scout frames.")
    n_items = sequence.GetNumberOfDataNodes()
    if n_items == 0:
        raise ScoutError(f"Sequence '{sequence.GetName()}' is empty.")
    attribute_values = []
    for item in range(n_items):
        node = sequence.GetNthDataNode(item)
        text = node.GetAttribute(FRAME_TI_ATTRIBUTE) if node is not None else None
        if text is None:
            attribute_values = None
            break
        try:
            attribute_values.append(float(text))
        except ValueError as error:
            raise ScoutError(f"Item {item} of '{sequence.GetName()}' has an invalid TI attribute '{text}'.") from error
    if attribute_values is not None:
        source = sequence.GetAttribute(TI_SOURCE_ATTRIBUTE) or f"per-frame attribute {FRAME_TI_ATTRIBUTE}"
        return np.asarray(attribute_values, dtype=np.float64), source
    values, source, reason = _item_ti_from_index(sequence)
    if values is None:
        raise ScoutError(
            f"Sequence '{sequence.GetName()}' is not a TI scout: {reason}, and its frames carry no "
            f"'{FRAME_TI_ATTRIBUTE}' attribute. Load the series with the TI scout DICOM plugin, or use a "
            f"sequence indexed by '{TI_INDEX_NAME}' in ms."
        )
    return values, source


def _frame_from_item(node, item: int, slice_index: int | None, sequence_name: str) -> tuple[np.ndarray, np.ndarray]:
    if node is None or not node.IsA("vtkMRMLScalarVolumeNode") or node.IsA("vtkMRMLLabelMapVolumeNode"):
        kind = node.GetClassName() if node is not None else "nothing"
        raise ScoutError(f"Item {item} of '{sequence_name}' is a {kind}, not a scalar image: not a TI scout.")
    try:
        array = array_from_volume(node)
    except ValueError as error:
        raise ScoutError(f"Item {item} of '{sequence_name}': {error}") from error
    matrix = ijk_to_ras_matrix(node)
    n_slices = array.shape[0]
    if slice_index is None:
        if n_slices != 1:
            raise ScoutError(
                f"The frames of '{sequence_name}' are 3D volumes with {n_slices} slices; a TI scout slice is one "
                f"2D image per TI. Choose a slice (0-{n_slices - 1})."
            )
        slice_index = 0
    if not 0 <= slice_index < n_slices:
        raise ScoutError(f"Slice {slice_index} is outside the {n_slices} slice(s) of '{sequence_name}'.")
    matrix = matrix.copy()
    matrix[:3, 3] = (matrix @ np.array([0.0, 0.0, float(slice_index), 1.0]))[:3]
    return array[slice_index].astype(np.float32), matrix


def number_of_slices(sequence: slicer.vtkMRMLSequenceNode) -> int:
    """Number of slices of the sequence's first item (1 for an ordinary TI scout)."""
    if sequence is None or sequence.GetNumberOfDataNodes() == 0:
        return 0
    node = sequence.GetNthDataNode(0)
    image = node.GetImageData() if node is not None and node.IsA("vtkMRMLVolumeNode") else None
    return int(image.GetDimensions()[2]) if image is not None else 0


def scout_from_sequence(sequence: slicer.vtkMRMLSequenceNode, slice_index: int | None = None) -> TIScout:
    """Read a TI scout (frames sorted by TI) from any sequence of scalar volumes that carries a TI.

    slice_index: which slice to use when the items are 3D volumes (e.g. a multi-slice scout loaded
    as a volume sequence); None requires single-slice items.
    Raises ScoutError with a user-facing message when the sequence is not a usable TI scout.
    """
    ti_ms, ti_source = sequence_item_ti_ms(sequence)
    name = sequence.GetName()
    frames, matrices = [], []
    for item in range(sequence.GetNumberOfDataNodes()):
        frame, matrix = _frame_from_item(sequence.GetNthDataNode(item), item, slice_index, name)
        frames.append(frame)
        matrices.append(matrix)
    shapes = {frame.shape for frame in frames}
    if len(shapes) != 1:
        raise ScoutError(f"The frames of '{name}' differ in size {sorted(shapes)}: mixed series?")
    if any(not np.allclose(m, matrices[0], atol=1e-3) for m in matrices[1:]):
        raise ScoutError(f"The frames of '{name}' differ in position or orientation: mixed series or slices?")
    order = np.argsort(ti_ms, kind="stable")
    tr_values = [sequence.GetNthDataNode(item).GetAttribute(FRAME_TR_ATTRIBUTE) for item in range(len(frames))]
    try:
        tr_ms = np.array([float(v) for v in tr_values])[order] if all(tr_values) else None
    except ValueError:
        tr_ms = None
    warnings_text = sequence.GetAttribute(WARNINGS_ATTRIBUTE) or ""
    matrix = matrices[0]
    spacing_i, spacing_j, spacing_k = (float(np.linalg.norm(matrix[:3, c])) for c in range(3))
    thickness_text = sequence.GetAttribute(SLICE_THICKNESS_ATTRIBUTE)
    try:
        thickness = float(thickness_text) if thickness_text else spacing_k
    except ValueError:
        thickness = spacing_k
    return TIScout(
        frames=np.stack([frames[i] for i in order]),
        ti_ms=ti_ms[order],
        pixel_spacing_mm=(spacing_j, spacing_i),
        slice_thickness_mm=thickness,
        ijk_to_ras=matrix,
        ti_source=ti_source,
        phase_sensitive=(sequence.GetAttribute(PHASE_SENSITIVE_ATTRIBUTE) or "0") in ("1", "true", "True"),
        vendor=sequence.GetAttribute(VENDOR_ATTRIBUTE) or "",
        series_description=sequence.GetAttribute(SERIES_DESCRIPTION_ATTRIBUTE) or "",
        slice_label=sequence.GetAttribute(SLICE_LABEL_ATTRIBUTE) or (f"slice {slice_index}" if slice_index else ""),
        tr_ms=tr_ms,
        warnings=tuple(line for line in warnings_text.split("\n") if line),
        scout_key=sequence.GetAttribute(SCOUT_KEY_ATTRIBUTE) or "",
    )


def browser_for_sequence(scene: slicer.vtkMRMLScene, sequence: slicer.vtkMRMLSequenceNode):
    """First sequence browser in ``scene`` that browses ``sequence`` (master or synchronized), or None."""
    if sequence is None:
        return None
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLSequenceBrowserNode")):
        browser = scene.GetNthNodeByClass(index, "vtkMRMLSequenceBrowserNode")
        if browser.IsSynchronizedSequenceNodeID(sequence.GetID(), True):
            return browser
    return None


def scout_from_browser(browser: slicer.vtkMRMLSequenceBrowserNode, slice_index: int | None = None) -> TIScout:
    """TI scout of the browser's master sequence."""
    if browser is None or not browser.IsA("vtkMRMLSequenceBrowserNode"):
        raise ScoutError("Select a sequence browser holding the TI scout frames.")
    sequence = browser.GetMasterSequenceNode()
    if sequence is None:
        raise ScoutError(f"Sequence browser '{browser.GetName()}' has no sequence.")
    return scout_from_sequence(sequence, slice_index)


def scout_from_multivolume(volume_node, slice_index: int | None = None) -> TIScout:
    """TI scout from a MultiVolume node (frames stored as scalar components, labels in attributes).

    Requires ``MultiVolume.FrameLabels`` and a frame-identifying tag that is an inversion time
    (InversionTime, or TriggerTime for Philips Look-Locker) in ms or s.
    """
    if volume_node is None or not volume_node.IsA("vtkMRMLVolumeNode"):
        raise ScoutError("Select a multi-volume holding the TI scout frames.")
    name = volume_node.GetName()
    labels_text = volume_node.GetAttribute("MultiVolume.FrameLabels")
    tag = volume_node.GetAttribute("MultiVolume.FrameIdentifyingDICOMTagName") or ""
    unit = (volume_node.GetAttribute("MultiVolume.FrameIdentifyingDICOMTagUnits") or "").strip().lower()
    if not labels_text:
        raise ScoutError(f"'{name}' is not a multi-volume with frame labels: not a TI scout.")
    normalised = _normalise(tag)
    if normalised not in _TI_INDEX_NAMES and normalised not in _TRIGGER_INDEX_NAMES:
        raise ScoutError(f"Multi-volume '{name}' is indexed by '{tag}', not by inversion time: not a TI scout.")
    scale = {"ms": 1.0, "s": 1000.0, "sec": 1000.0}.get(unit)
    if scale is None:
        raise ScoutError(f"Multi-volume '{name}' frame labels have unit '{unit or 'none'}' (expected ms or s).")
    try:
        ti_ms = np.array([float(v) for v in labels_text.split(",")], dtype=np.float64) * scale
    except ValueError as error:
        raise ScoutError(f"Multi-volume '{name}' has non-numeric frame labels.") from error
    image = volume_node.GetImageData()
    if image is None or image.GetPointData().GetScalars() is None:
        raise ScoutError(f"Multi-volume '{name}' has no image data.")
    n_components = image.GetNumberOfScalarComponents()
    if n_components != ti_ms.size:
        raise ScoutError(f"Multi-volume '{name}' has {n_components} frames but {ti_ms.size} frame labels.")
    dims = image.GetDimensions()
    data = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(dims[2], dims[1], dims[0], n_components)
    if slice_index is None:
        if dims[2] != 1:
            raise ScoutError(f"Multi-volume '{name}' has {dims[2]} slices; choose a slice (0-{dims[2] - 1}).")
        slice_index = 0
    if not 0 <= slice_index < dims[2]:
        raise ScoutError(f"Slice {slice_index} is outside the {dims[2]} slice(s) of '{name}'.")
    matrix = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(matrix)
    ijk_to_ras = np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])
    ijk_to_ras[:3, 3] = (ijk_to_ras @ np.array([0.0, 0.0, float(slice_index), 1.0]))[:3]
    frames = np.moveaxis(data[slice_index], -1, 0).astype(np.float32)
    order = np.argsort(ti_ms, kind="stable")
    source = f"MultiVolume frame labels '{tag}' ({unit})"
    return TIScout(
        frames=frames[order],
        ti_ms=ti_ms[order],
        pixel_spacing_mm=(float(np.linalg.norm(ijk_to_ras[:3, 1])), float(np.linalg.norm(ijk_to_ras[:3, 0]))),
        slice_thickness_mm=float(np.linalg.norm(ijk_to_ras[:3, 2])),
        ijk_to_ras=ijk_to_ras,
        ti_source=source,
        series_description=name,
    )


def scout_from_node(node, slice_index: int | None = None) -> TIScout:
    """Dispatch: sequence, sequence browser or multi-volume node -> TIScout (ScoutError otherwise)."""
    if node is None:
        raise ScoutError("Select the TI scout: a sequence, a sequence browser or a multi-volume.")
    if node.IsA("vtkMRMLSequenceBrowserNode"):
        return scout_from_browser(node, slice_index)
    if node.IsA("vtkMRMLSequenceNode"):
        return scout_from_sequence(node, slice_index)
    if node.IsA("vtkMRMLVolumeNode") and node.GetAttribute("MultiVolume.FrameLabels"):
        return scout_from_multivolume(node, slice_index)
    raise ScoutError(
        f"'{node.GetName()}' ({node.GetClassName()}) is a single image, not a TI scout: a TI scout is a series "
        "of frames at increasing inversion times (load it as a sequence with the TI scout DICOM plugin)."
    )


def frame_index_for_item(scout_ti_ms: np.ndarray, sequence: slicer.vtkMRMLSequenceNode, item_number: int) -> int | None:
    """Index (in the TI-sorted scout) of the sequence item ``item_number``, matched by TI; None if unknown."""
    try:
        item_ti, _ = sequence_item_ti_ms(sequence)
    except ScoutError:
        return None
    if not 0 <= item_number < item_ti.size:
        return None
    ti = np.asarray(scout_ti_ms, dtype=float)
    index = int(np.argmin(np.abs(ti - item_ti[item_number])))
    return index if abs(ti[index] - item_ti[item_number]) < 0.5 else None


def item_number_for_ti(sequence: slicer.vtkMRMLSequenceNode, ti_ms: float) -> int:
    """Item number of the sequence item whose TI is closest to ``ti_ms``."""
    item_ti, _ = sequence_item_ti_ms(sequence)
    return int(np.argmin(np.abs(item_ti - float(ti_ms))))


def browser_for_proxy(scene: slicer.vtkMRMLScene, node):
    """The sequence browser whose proxy node is ``node`` (e.g. the volume shown for a loaded scout), or None."""
    if node is None:
        return None
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLSequenceBrowserNode")):
        browser = scene.GetNthNodeByClass(index, "vtkMRMLSequenceBrowserNode")
        if browser.IsProxyNodeID(node.GetID()):
            return browser
    return None


@dataclass(frozen=True)
class ResolvedInput:
    """What the module analyses for a selected node: the node to read, its browser, its slice count."""

    node: object
    browser_node: object
    n_slices: int


def resolve_input_node(scene: slicer.vtkMRMLScene, node) -> ResolvedInput:
    """Map the user's selection to the node to read: a proxy volume of a sequence browser means that
    browser; a sequence gets the browser that plays it (if any). ScoutError for no selection."""
    if node is None:
        raise ScoutError("Select the TI scout: a sequence, a sequence browser or a multi-volume.")
    browser = None
    target = node
    if node.IsA("vtkMRMLSequenceBrowserNode"):
        browser = node
    elif node.IsA("vtkMRMLSequenceNode"):
        browser = browser_for_sequence(scene, node)
    elif node.IsA("vtkMRMLVolumeNode") and not node.GetAttribute("MultiVolume.FrameLabels"):
        browser = browser_for_proxy(scene, node)
        if browser is not None:
            target = browser
    sequence = browser.GetMasterSequenceNode() if browser is not None else (node if node.IsA("vtkMRMLSequenceNode") else None)
    if sequence is not None:
        n_slices = number_of_slices(sequence)
    elif node.IsA("vtkMRMLVolumeNode") and node.GetImageData() is not None:
        n_slices = int(node.GetImageData().GetDimensions()[2])
    else:
        n_slices = 0
    return ResolvedInput(target, browser, n_slices)


@dataclass(frozen=True)
class ScoutSlice:
    """One slice of a scout to analyse: the node to read, its slice index (None: single-slice items), a name."""

    node: object
    slice_index: int | None
    name: str


def slices_of_scout(scene: slicer.vtkMRMLScene, resolved: ResolvedInput, slice_index: int | None = None) -> tuple[list[ScoutSlice], int]:
    """Every slice of the scout the user selected, and the position of the selected slice in that list.

    A multi-slice node: all its slices. A single-slice sequence: every TI-scout sequence in the scene with the
    same scout key (the slices of one acquisition loaded by the DICOM plugin, one sequence per slice), ordered
    by slice label; only the selected one when it has no key.
    """
    if resolved.n_slices > 1:
        selected = 0 if slice_index is None else int(slice_index)
        return [ScoutSlice(resolved.node, k, f"{resolved.node.GetName()} slice {k}") for k in range(resolved.n_slices)], selected
    sequence = resolved.browser_node.GetMasterSequenceNode() if resolved.browser_node is not None else (
        resolved.node if resolved.node.IsA("vtkMRMLSequenceNode") else None)
    own = ScoutSlice(resolved.node, None, resolved.node.GetName())
    key = sequence.GetAttribute(SCOUT_KEY_ATTRIBUTE) if sequence is not None else None
    if not key:
        return [own], 0
    members = []
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLSequenceNode")):
        other = scene.GetNthNodeByClass(index, "vtkMRMLSequenceNode")
        if other.GetAttribute(SCOUT_KEY_ATTRIBUTE) == key and number_of_slices(other) <= 1:
            browser = browser_for_sequence(scene, other)
            node = browser if browser is not None else other
            members.append((other.GetAttribute(SLICE_LABEL_ATTRIBUTE) or other.GetName(), node))
    members.sort(key=lambda item: item[0])
    slices = [ScoutSlice(node, None, node.GetName()) for _, node in members]
    selected = next((i for i, s in enumerate(slices) if s.node is resolved.node), None)
    if selected is None:
        return [own], 0
    return slices, selected
