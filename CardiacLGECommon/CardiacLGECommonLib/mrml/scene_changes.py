"""Changing the scene as one step: all of a result's nodes are written, or the scene is left as it was.

:class:`SceneChange` is a context manager. Nodes added while it is open are removed if the block raises;
nodes the block is about to update are snapshotted first (:meth:`SceneChange.will_modify`: a copy made with
the node's own ``Copy``) and restored on failure; nodes the block wants removed (:meth:`SceneChange.remove_later`)
are removed only when the block succeeds. So a failure at any write leaves the earlier results exactly as
they were (tested with failures injected at each write).

Imports ``slicer`` only; takes the scene as an argument (runs under slicer-core and inside Slicer).
"""

from __future__ import annotations

import slicer


def node_ids(scene: slicer.vtkMRMLScene, class_name: str | None = None) -> set[str]:
    """IDs of the nodes now in the scene (of ``class_name`` only, when given)."""
    if class_name is not None:
        nodes = scene.GetNodesByClass(class_name)
        return {nodes.GetItemAsObject(i).GetID() for i in range(nodes.GetNumberOfItems())}
    return {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}


def remove_nodes_added_since(scene: slicer.vtkMRMLScene, before_ids: set[str], class_name: str | None = None) -> None:
    """Remove every node (of ``class_name``) added to ``scene`` after ``before_ids`` was taken, newest first."""
    added = [scene.GetNodeByID(node_id) for node_id in node_ids(scene, class_name) - set(before_ids)]
    added = [node for node in added if node is not None]
    order = {scene.GetNthNode(i).GetID(): i for i in range(scene.GetNumberOfNodes())}
    for node in sorted(added, key=lambda n: order.get(n.GetID(), 0), reverse=True):
        if node.GetScene() is scene:
            scene.RemoveNode(node)


def remove_node_with_displays(scene: slicer.vtkMRMLScene, node) -> None:
    """Remove a displayable/storable node together with its display and storage nodes."""
    if node is None or node.GetScene() is not scene:
        return
    extras = []
    if hasattr(node, "GetNumberOfDisplayNodes"):
        extras += [node.GetNthDisplayNode(i) for i in range(node.GetNumberOfDisplayNodes())]
    if hasattr(node, "GetNumberOfStorageNodes"):
        extras += [node.GetNthStorageNode(i) for i in range(node.GetNumberOfStorageNodes())]
    scene.RemoveNode(node)
    for extra in extras:
        if extra is not None and extra.GetScene() is scene:
            scene.RemoveNode(extra)


class SceneChange:
    """``with SceneChange(scene) as change:`` ... all or nothing (see the module docstring)."""

    def __init__(self, scene: slicer.vtkMRMLScene):
        self.scene = scene
        self._before: set[str] = set()
        self._snapshots: list[tuple[object, object]] = []
        self._to_remove: list[object] = []

    def __enter__(self) -> SceneChange:
        self._before = node_ids(self.scene)
        return self

    def will_modify(self, node) -> None:
        """Snapshot ``node`` (already in the scene) before the block changes it; restored on failure."""
        if node is None or node.GetScene() is not self.scene or any(n is node for n, _ in self._snapshots):
            return
        snapshot = node.NewInstance()
        snapshot.Copy(node)
        self._snapshots.append((node, snapshot))

    def remove_later(self, node) -> None:
        """Remove ``node`` (with its display/storage nodes) when the block has succeeded."""
        if node is not None:
            self._to_remove.append(node)

    def __exit__(self, exc_type, exc, traceback) -> bool:
        if exc_type is None:
            for node in self._to_remove:
                remove_node_with_displays(self.scene, node)
            return False
        remove_nodes_added_since(self.scene, self._before)
        for node, snapshot in reversed(self._snapshots):
            if node.GetScene() is self.scene:
                node.Copy(snapshot)
        return False
