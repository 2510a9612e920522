"""cardiac-lge: headless command line for the CardiacLGE 3D Slicer extension."""

__version__ = "0.1.0"
