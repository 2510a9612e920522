"""TINullCorrectionLib: TI scout loading, inversion-recovery physics, the two networks and the recommendation.

Subpackages are the layers (imports go one way, checked by Testing/architecture/test_layers.py):

* ``core``      types, inversion-recovery fits, the recommendation, presentation (numpy/scipy only)
* ``io``        TI scouts from DICOM (any vendor), pictures and NRRD/NIfTI files
* ``sim``       the physics simulator, monitor-photo degradation, a vendor-style DICOM writer
* ``networks``  the TI-offset CNN and the myocardium U-Net, and their weights files
* ``mrml``      MRML adapters (sequence, ROI, tables/plot/text, overlay, DICOM plugin logic)
* ``scenarios`` the self-test scenario run by the Slicer module's Test class and by pytest

Training and evaluation live in ``cardiac_lge.training`` (not installed into Slicer).
"""
