"""Make pydicom see pixel-data decoders (pylibjpeg) installed after pydicom was imported (core).

pydicom decides once, at import, which decoders exist (read in pydicom's own sources):

- pydicom 2.4.4 (Slicer 5.8 and 5.10): ``pydicom/config.py`` imports
  ``pydicom.pixel_data_handlers.pylibjpeg_handler`` and keeps the MODULE in
  ``config.pixel_data_handlers``; that module sets ``HAVE_PYLIBJPEG`` / ``HAVE_LIBJPEG`` and builds its
  ``_DECODERS`` table with ``pylibjpeg.utils.get_pixel_data_decoders()`` when it is imported, and
  ``is_available()`` only returns those flags. Re-executing the module in place
  (:func:`importlib.reload`) recomputes them, and ``config.pixel_data_handlers`` holds the same module
  object, so the next ``pixel_array`` uses the new decoders.
- pydicom 3.0 (Slicer 5.12): ``pydicom.pixels.decoders.base`` registers each plugin on each
  transfer-syntax decoder with ``add_plugin(label, (module, function))``, which imports the plugin
  module and files the plugin as available or unavailable right then; the pylibjpeg plugin module
  builds its ``_DECODERS`` at import. Reloading that module and re-adding the plugins
  (``remove_plugin`` + ``add_plugin``, both public) re-evaluates them.

:func:`refresh_pixel_decoders` does exactly that; it is what makes "install the decoders, then load
again" work in the same Slicer session. Tested in a subprocess with pydicom 2.4.4 and 3.x
(Testing/ti/io/test_pixel_decoders.py).
"""

from __future__ import annotations

import importlib

import pydicom

PYLIBJPEG_PLUGIN = "pylibjpeg"
_PYDICOM3_PLUGIN_MODULE = "pydicom.pixels.decoders.pylibjpeg"


def pydicom_major_version() -> int:
    return int(str(pydicom.__version__).split(".")[0])


def transfer_syntax(path: str) -> str:
    """Transfer Syntax UID of a DICOM file ("" when it has no file meta information)."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    meta = getattr(ds, "file_meta", None)
    return str(getattr(meta, "TransferSyntaxUID", "") or "")


def decoder_available(transfer_syntax_uid: str) -> bool:
    """True when this pydicom can decode pixel data of the given transfer syntax right now."""
    from pydicom.uid import UID

    uid = UID(transfer_syntax_uid)
    if not uid.is_compressed:
        return True
    if pydicom_major_version() >= 3:
        from pydicom.pixels import get_decoder

        try:
            return bool(get_decoder(uid).is_available)
        except NotImplementedError:  # no decoder class for this syntax at all
            return False
    from pydicom import config

    return any(h.is_available() and h.supports_transfer_syntax(uid) for h in config.pixel_data_handlers)


def refresh_pixel_decoders() -> None:
    """Re-evaluate pydicom's pylibjpeg decoders after packages were installed in this process."""
    importlib.invalidate_caches()  # find packages that pip has just put on sys.path
    if pydicom_major_version() < 3:
        from pydicom.pixel_data_handlers import pylibjpeg_handler

        importlib.reload(pylibjpeg_handler)
        return
    from pydicom.pixels import decoders

    plugin = importlib.reload(importlib.import_module(_PYDICOM3_PLUGIN_MODULE))
    for uid in plugin.DECODER_DEPENDENCIES:
        try:
            decoder = decoders.base.get_decoder(uid)
        except NotImplementedError:
            continue
        try:
            decoder.remove_plugin(PYLIBJPEG_PLUGIN)
        except ValueError:  # this decoder had no pylibjpeg plugin
            continue
        decoder.add_plugin(PYLIBJPEG_PLUGIN, (_PYDICOM3_PLUGIN_MODULE, "_decode_frame"))
