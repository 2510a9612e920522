"""CardiacLGECommonLib: pieces shared by the TINullCorrection and LGEResolutionQA modules.

``geometry`` is core (numpy only); ``mrml_volumes`` is the MRML adapter for scalar volumes
(imports ``slicer``/``vtk``/``numpy`` only and takes the scene as an argument).
"""
