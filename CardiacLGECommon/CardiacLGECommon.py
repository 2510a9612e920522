"""CardiacLGECommon: hidden module that makes CardiacLGECommonLib importable inside 3D Slicer.

The library holds what both CardiacLGE modules share: image geometry (IJK <-> RAS) and the
numpy <-> vtkMRMLScalarVolumeNode adapter. It has no user interface.
"""

from slicer.ScriptedLoadableModule import *


class CardiacLGECommon(ScriptedLoadableModule):
    """Hidden library module of the CardiacLGE extension."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "CardiacLGE Common"
        self.parent.categories = ["Cardiac"]
        self.parent.contributors = ["CardiacLGE developers"]
        self.parent.helpText = "Shared library of the CardiacLGE extension (no user interface)."
        self.parent.acknowledgementText = "CardiacLGE is open source (BSD-3-Clause)."
        self.parent.hidden = True
