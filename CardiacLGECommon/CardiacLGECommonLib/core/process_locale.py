"""Keep the process locale as it was around native libraries that change it.

ITK's GDCM DICOM writer (SimpleITK 2.x) sets the C library locale to "C" for every category and does not put it
back: afterwards Python's preferred encoding is ASCII (text subprocess output and ``open()`` without an encoding
fail on any non-ASCII byte) and, inside 3D Slicer, the application's own locale is changed under it. Every call
into such a library goes through :func:`keeps_process_locale`.
"""

from __future__ import annotations

import contextlib
import functools
import locale
from collections.abc import Iterator
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)


@contextlib.contextmanager
def process_locale_kept() -> Iterator[None]:
    """Context manager: the locale of every category is restored on exit, whatever the body did."""
    saved = locale.setlocale(locale.LC_ALL)  # query only
    try:
        yield
    finally:
        if locale.setlocale(locale.LC_ALL) != saved:
            _restore(saved)


def _restore(saved: str) -> None:
    try:
        locale.setlocale(locale.LC_ALL, saved)
    except locale.Error:  # a composite string some C libraries cannot take back in one call: category by category
        for part in saved.split(";"):
            name, _, value = part.partition("=")
            category = getattr(locale, name, None)
            if isinstance(category, int) and value:
                locale.setlocale(category, value)


def keeps_process_locale(function: F) -> F:
    """Decorator form of :func:`process_locale_kept`."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with process_locale_kept():
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
