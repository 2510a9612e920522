"""Per-frame overlay for the slice views: text and colour cue of the frame on display.

``presentation.frame_overlay_text`` (core) gives the text and colour; ``SliceViewTextOverlay`` owns
one ``vtkCornerAnnotation`` per renderer it is given (the widget passes the slice views' renderers),
so the overlay never fights with Slicer's own corner annotations (DataProbe rewrites those on every
slice change).
Imports only ``vtk``.
"""

from __future__ import annotations

import vtk

OVERLAY_POSITION = vtk.vtkCornerAnnotation.LowerEdge


class SliceViewTextOverlay:
    """One text actor per renderer, showing the same text and colour in every view."""

    def __init__(self, position: int = OVERLAY_POSITION, font_size: int = 14):
        self._position = position
        self._font_size = font_size
        self._actors: dict[int, tuple[vtk.vtkRenderer, vtk.vtkCornerAnnotation]] = {}

    def _actor_for(self, renderer: vtk.vtkRenderer) -> vtk.vtkCornerAnnotation:
        key = id(renderer)
        if key not in self._actors:
            actor = vtk.vtkCornerAnnotation()
            actor.SetMaximumFontSize(self._font_size)
            actor.SetMinimumFontSize(self._font_size)
            actor.SetNonlinearFontScaleFactor(1)
            actor.GetTextProperty().SetShadow(1)
            renderer.AddViewProp(actor)
            self._actors[key] = (renderer, actor)
        return self._actors[key][1]

    def show(self, renderers, text: str, colour) -> None:
        for renderer in renderers:
            actor = self._actor_for(renderer)
            actor.SetText(self._position, text)
            actor.GetTextProperty().SetColor(*[float(c) for c in colour])
            actor.SetVisibility(True)

    def hide(self) -> None:
        for _, actor in self._actors.values():
            actor.SetText(self._position, "")
            actor.SetVisibility(False)

    def remove(self) -> None:
        for renderer, actor in self._actors.values():
            renderer.RemoveViewProp(actor)
        self._actors.clear()

    def text(self) -> str:
        """Current text (of the first actor), for tests."""
        for _, actor in self._actors.values():
            return actor.GetText(self._position) or ""
        return ""

    def colour(self):
        for _, actor in self._actors.values():
            return tuple(actor.GetTextProperty().GetColor())
        return None

    @property
    def number_of_views(self) -> int:
        return len(self._actors)
