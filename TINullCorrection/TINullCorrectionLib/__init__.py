"""TINullCorrectionLib: TI scout loading, inversion-recovery physics, simulator, CNN and recommendation.

Core modules import only numpy / scipy / SimpleITK / pydicom / torch (no ``slicer``, no Qt).
MRML adapter modules (``mrml_*.py``) import ``slicer``/``vtk``/``numpy`` only.
"""
