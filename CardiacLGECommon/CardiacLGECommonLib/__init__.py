"""CardiacLGECommonLib: pieces shared by the TINullCorrection and LGEResolutionQA modules.

``core`` is numpy only (image geometry); ``mrml`` is the MRML adapter for scalar volumes (imports
``slicer``/``vtk``/``numpy`` only and takes the scene as an argument).
"""
