"""LGEResolutionQA core and MRML adapter: septal profiles, resolution, ROI SNR/CNR, LGE quantification."""
