"""The measured accuracy of the shipped models, from one file (models/measured_accuracy.json).

Every number shown to users about how accurate the shipped models are (the picture warning of
``ti-correct``, the model card, the README table) comes from that file, which
``benchmarks/bench_ti_correction.py --write-accuracy`` rewrites; a test checks that the model card and
the README quote the same figures.
"""

from __future__ import annotations

import json
from functools import lru_cache

from TINullCorrectionLib.networks.weights_file import MODELS_DIR

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
