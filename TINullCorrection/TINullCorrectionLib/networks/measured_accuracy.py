"""The measured accuracy of the shipped models, from one file (models/measured_accuracy.json).

Every number shown to users about how accurate the shipped models are (the picture warning of
``ti-correct``, the model card, the README table) comes from that file, which
``benchmarks/bench_ti_correction.py --write-accuracy`` rewrites; a test checks that the model card and
the README quote the same figures.
"""

from __future__ import annotations

import json
from functools import lru_cache

from TINullCorrectionLib.networks.model_files import MODELS_DIR

ACCURACY_PATH = MODELS_DIR / "measured_accuracy.json"


@lru_cache(maxsize=1)
def measured_accuracy() -> dict:
    """The parsed file (read once)."""
    return json.loads(ACCURACY_PATH.read_text(encoding="utf-8"))


def picture_warning() -> str:
    """The warning shown with every result on pictures of the monitor, quoting the measured figures."""
    data = measured_accuracy()
    low, high = data["optimal_range_ms"]
    photo = data["conditions"]["4k"]
    weaker = data["conditions"]["3mp"]
    return (
        "Pictures of the monitor: accuracy is lower than on DICOM (measured on simulated photos of a 4K monitor: "
        f"{photo['final_frames_optimal_pct']:.1f}% of frames corrected into the optimal range null {low:+g}..{high:+g} ms "
        f"with the automatic myocardium, {photo['cnn_frames_optimal_pct']:.1f}% by the CNN alone; 3 MP monitor: "
        f"{weaker['final_frames_optimal_pct']:.1f}%; photos of phase-sensitive scouts are the weakest, see the model card); "
        "check the frames by eye."
    )


#: The console-photo modes (single frame, whole mosaic), written by benchmarks/bench_phone.py --write-accuracy.
PHONE_ACCURACY_PATH = MODELS_DIR / "measured_accuracy_phone.json"


@lru_cache(maxsize=1)
def phone_accuracy() -> dict | None:
    """The parsed file, or None before the benchmark has written it."""
    if not PHONE_ACCURACY_PATH.is_file():
        return None
    return json.loads(PHONE_ACCURACY_PATH.read_text(encoding="utf-8"))


def single_frame_accuracy_warning() -> str:
    """The measured accuracy of the single-frame mode, shown with every single-frame answer."""
    data = phone_accuracy()
    if data is None or "single_frame" not in data:
        return "Single-frame mode: accuracy not measured for these weights (run benchmarks/bench_phone.py)."
    low, high = data["optimal_range_ms"]
    single, mosaic = data["single_frame"], data.get("mosaic", {})
    text = (f"Single-frame mode (measured on simulated photos): {single['4k']['optimal_pct']:.1f}% (4K monitor) and "
            f"{single['3mp']['optimal_pct']:.1f}% (3 MP) of frames corrected into the optimal range null {low:+g}..{high:+g} ms")
    if "4k" in mosaic:
        text += (f"; a photo of the whole mosaic reaches {mosaic['4k']['frames']['optimal_pct']:.1f}% / "
                 f"{mosaic['3mp']['frames']['optimal_pct']:.1f}%")
    return text + "."


def mosaic_accuracy_warning() -> str:
    """The measured accuracy of whole-mosaic photos, shown with every mosaic answer."""
    data = phone_accuracy()
    if data is None or "mosaic" not in data:
        return picture_warning()
    low, high = data["optimal_range_ms"]
    mosaic = data["mosaic"]
    return (f"Photo of the monitor: measured on simulated mosaic photos, {mosaic['4k']['frames']['optimal_pct']:.1f}% (4K monitor) and "
            f"{mosaic['3mp']['frames']['optimal_pct']:.1f}% (3 MP) of frames corrected into the optimal range null {low:+g}..{high:+g} ms "
            f"(DICOM: {measured_accuracy()['conditions']['plain']['final_frames_optimal_pct']:.1f}%); check the TIs read and the frames by eye.")
