"""Bullseye figure of the AHA segments (matplotlib, Agg backend; study layer).

The standard layout (Cerqueira et al. 2002): rings from outside to inside basal (1-6), mid (7-12),
apical (13-16), apex (17) in the centre; anterior at the top, septum on the left, inferior at the
bottom, lateral on the right. Segment angles come from ``aha_segments`` (0° at the anterior RV
insertion, towards the septum); on the plot the anterior insertion sits at 120° (the anterior /
anteroseptal border).
"""

from __future__ import annotations

import io

import numpy as np

from LGEResolutionQALib.core.aha_segments import LEVEL_SECTORS, AHAResult
from LGEResolutionQALib.study.atomic import atomic_path

VALUES = {"lge_percent": "LGE (% of segment)", "transmurality_percent": "transmurality (% of wall)"}
_RINGS = {"basal": (3.0, 4.0), "mid": (2.0, 3.0), "apical": (1.0, 2.0)}
_DISPLAY_OFFSET_DEG = 120.0


def bullseye_figure(aha: AHAResult, value: str = "lge_percent", title: str | None = None):
    """A matplotlib Figure of ``aha`` coloured by ``value`` (0-100 %), each segment labelled."""
    if value not in VALUES:
        raise ValueError(f"Bullseye value must be one of {tuple(VALUES)}; got {value!r}.")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import cm, colors

    norm = colors.Normalize(vmin=0.0, vmax=100.0)
    cmap = matplotlib.colormaps["YlOrRd"]
    fig = plt.figure(figsize=(5.2, 4.6), dpi=110)
    ax = fig.add_axes([0.05, 0.06, 0.72, 0.82], projection="polar")
    ax.set_theta_zero_location("E")
    ax.set_theta_direction(1)
    by_number = {s.segment: s for s in aha.segments}

    def draw(number, r0, r1, start_deg, width_deg):
        item = by_number.get(number)
        number_value = getattr(item, value) if item is not None else None
        face = "#dddddd" if number_value is None else cmap(norm(number_value))
        theta0 = np.radians(_DISPLAY_OFFSET_DEG + start_deg)
        label = f"{number}\n" + ("n/a" if number_value is None else f"{number_value:.0f}%")
        if r0 == 0.0:  # the apex: a disc (a 360° bar would draw a radial edge)
            circle = np.linspace(0.0, 2.0 * np.pi, 181)
            ax.fill_between(circle, 0.0, r1, color=face, linewidth=0)
            ax.plot(circle, np.full_like(circle, r1), color="black", linewidth=1.0)
            ax.text(0, 0, label, ha="center", va="center", fontsize=7)
        else:
            ax.bar(theta0 + np.radians(width_deg) / 2, r1 - r0, width=np.radians(width_deg), bottom=r0, color=face,
                   edgecolor="black", linewidth=1.0, align="center")
            ax.text(theta0 + np.radians(width_deg) / 2, (r0 + r1) / 2, label, ha="center", va="center", fontsize=7)

    for level, (r0, r1) in _RINGS.items():
        start, width, numbers = LEVEL_SECTORS[level]
        for position, number in enumerate(numbers):
            draw(number, r0, r1, start + position * width, width)
    if aha.model == 17:
        draw(17, 0.0, 1.0, 0.0, 360.0)
    ax.set_ylim(0, 4.0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.spines["polar"].set_visible(False)
    for angle, text, rotation in ((90, "anterior", 0), (180, "septal", 90), (270, "inferior", 0), (0, "lateral", -90)):
        ax.text(np.radians(angle), 4.4, text, ha="center", va="center", fontsize=8, rotation=rotation, clip_on=False)
    colour_axes = fig.add_axes([0.86, 0.15, 0.035, 0.65])
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), cax=colour_axes, label=VALUES[value])
    fig.suptitle(title or f"AHA {aha.model}-segment bullseye: {VALUES[value]}", fontsize=9)
    return fig


def bullseye_png_bytes(aha: AHAResult, value: str = "lge_percent", title: str | None = None) -> bytes:
    import matplotlib.pyplot as plt

    fig = bullseye_figure(aha, value, title)
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def save_bullseye_png(aha: AHAResult, path, value: str = "lge_percent", title: str | None = None):
    """Render the bullseye and write it atomically as PNG; returns the path."""
    data = bullseye_png_bytes(aha, value, title)
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return path


def bullseye_rgb(aha: AHAResult, value: str = "lge_percent", title: str | None = None) -> np.ndarray:
    """The bullseye as an RGB uint8 array [rows, columns, 3] (top row first), for an image node."""
    from PIL import Image

    with Image.open(io.BytesIO(bullseye_png_bytes(aha, value, title))) as picture:
        return np.asarray(picture.convert("RGB")).copy()
