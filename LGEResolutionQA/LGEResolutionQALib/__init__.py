"""LGEResolutionQALib: septal profiles and edge sharpness, resolution, ROI SNR/CNR, LGE quantification.

Subpackages are the layers (imports go one way, checked by Testing/architecture/test_layers.py):
``core`` (metrics on numpy arrays), ``io`` (volumes, markups and segmentations from files), ``sim``
(synthetic phantoms), ``study`` (the multi-volume study report), ``mrml`` (MRML adapters) and
``scenarios`` (self-test scenarios run by the module's Test class and by pytest).
"""
