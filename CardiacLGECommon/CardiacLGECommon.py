"""CardiacLGECommon: hidden module that makes CardiacLGECommonLib importable inside 3D Slicer.

The library holds what both CardiacLGE modules share: image geometry (IJK <-> RAS) and the
numpy <-> vtkMRMLScalarVolumeNode adapter. It has no user interface and no self-test: like Slicer's
own DICOM plugin modules (e.g. DICOMScalarVolumePlugin) it is a plain class, not a
ScriptedLoadableModule, so it registers nothing in ``slicer.selfTests``.
"""


class CardiacLGECommon:
    """Hidden library module of the CardiacLGE extension (the hook Slicer instantiates for this file)."""

    def __init__(self, parent):
        parent.title = "CardiacLGE Common"
        parent.categories = ["Developer Tools"]
        parent.dependencies = []
        parent.contributors = ["CardiacLGE developers"]
        parent.helpText = "Shared library of the CardiacLGE extension (no user interface)."
        parent.acknowledgementText = "CardiacLGE is open source (BSD-3-Clause)."
        parent.hidden = True  # not shown in the module list
        self.parent = parent
