"""The `ti-correct` core path's answers on fixed simulated scouts, stored once and compared after every speed
change (Testing/ti/core/test_core_path_reference.py).

Each case is written as DICOM by the simulator's writer and read back through io.dicom (the path the CLI
takes), or, for the photo case, degraded in memory as a phone photo of the monitor; then analysed with both
shipped networks (the automatic myocardium) and a chosen TI. What is compared is what reaches a clinician:
the final, CNN and fit nulls, the recommended LGE TI, the per-frame offsets and verdicts, the warnings, and
the myocardium mask the fit used.

Regenerate the stored file only after checking that a change of the answers is intended:
    PYTHONPATH=Testing .venv/bin/python -m support.core_path_reference
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np

REFERENCE_PATH = Path(__file__).resolve().parent / "core_path_reference.json"

#: (name, simulator seed, overrides, vendor or "photo-4k"): magnitude and phase-sensitive, 15-30 frames, the three
#: vendors' DICOM layouts (Philips with its private scaling), a phone photo of the monitor, a native scout.
CASES = (
    ("siemens magnitude 30 frames", 4, {"n_frames": 30, "matrix": 192, "phase_sensitive": False}, "siemens"),
    ("ge magnitude 15 frames", 11, {"n_frames": 15, "phase_sensitive": False}, "ge"),
    ("philips magnitude 22 frames", 12, {"n_frames": 22, "phase_sensitive": False}, "philips"),
    ("siemens psir 30 frames", 13, {"n_frames": 30, "phase_sensitive": True}, "siemens"),
    ("ge psir 18 frames", 14, {"n_frames": 18, "phase_sensitive": True}, "ge"),
    ("philips psir 25 frames", 15, {"n_frames": 25, "phase_sensitive": True}, "philips"),
    ("siemens magnitude native 26 frames", 16, {"n_frames": 26, "phase_sensitive": False, "native": True}, "siemens"),
    ("photo of a 4k monitor, magnitude 20 frames", 17, {"n_frames": 20, "phase_sensitive": False}, "photo-4k"),
)
CHOSEN_TI_MS = 300.0


def case_scout(seed: int, overrides: dict, vendor: str, folder: Path):
    """The TIScout of one case, read the way ti-correct reads it."""
    from TINullCorrectionLib.io.dicom import load_ti_scouts
    from TINullCorrectionLib.sim.dicom_writer import write_scout_dicom
    from TINullCorrectionLib.sim.simulator import simulate_scout

    rng = np.random.default_rng(seed)
    simulated = simulate_scout(rng, **overrides)
    if vendor.startswith("photo-"):
        from TINullCorrectionLib.sim.photo import degrade_scout_as_photo

        return degrade_scout_as_photo(simulated, rng, monitor=vendor.split("-", 1)[1]).scout
    write_scout_dicom(simulated.scout, folder, vendor=vendor)
    (scout,) = load_ti_scouts([folder])
    return scout


def answers(model, myocardium_model) -> dict:
    """{case name: what the core path answers} for every case (see the module doc)."""
    from TINullCorrectionLib.core.pipeline import analyse_scout

    out = {}
    for name, seed, overrides, vendor in CASES:
        with tempfile.TemporaryDirectory() as folder:
            scout = case_scout(seed, overrides, vendor, Path(folder))
        result = analyse_scout(scout, model, myocardium_model=myocardium_model, chosen_ti_ms=CHOSEN_TI_MS)
        recommendation = result.recommendation
        mask = recommendation.myocardium_mask
        out[name] = {
            "frames_sha256": hashlib.sha256(np.ascontiguousarray(scout.frames).tobytes()).hexdigest(),
            "ti_ms": [float(t) for t in scout.ti_ms],
            "scout_warnings": list(scout.warnings),
            "recommendation": recommendation.to_dict(),
            "cnn_offsets_ms": [float(v) for v in result.prediction.offset_ms],
            "cnn_probabilities_sum": float(np.sum(result.prediction.probabilities)),
            "myocardium_mask_sha256": None if mask is None else hashlib.sha256(np.packbits(mask).tobytes()).hexdigest(),
        }
    return out


def compare(expected, found, tolerance: float, where: str = "") -> list[str]:
    """Differences between two JSON-like values: numbers beyond ``tolerance`` (absolute), anything else unequal."""
    if isinstance(expected, dict) and isinstance(found, dict):
        if set(expected) != set(found):
            return [f"{where}: keys {sorted(set(expected) ^ set(found))} differ"]
        return [d for key in expected for d in compare(expected[key], found[key], tolerance, f"{where}/{key}")]
    if isinstance(expected, list) and isinstance(found, list):
        if len(expected) != len(found):
            return [f"{where}: {len(expected)} items expected, {len(found)} found"]
        return [d for i, (a, b) in enumerate(zip(expected, found, strict=True)) for d in compare(a, b, tolerance, f"{where}[{i}]")]
    numbers = (int, float)
    if isinstance(expected, numbers) and isinstance(found, numbers) and not isinstance(expected, bool) and not isinstance(found, bool):
        if expected == found or abs(float(expected) - float(found)) <= tolerance:
            return []
        return [f"{where}: {expected!r} expected, {found!r} found (|difference| {abs(float(expected) - float(found)):.3g})"]
    return [] if expected == found else [f"{where}: {expected!r} expected, {found!r} found"]


def main() -> None:
    from CardiacLGECommonLib.core.files import write_json_atomically
    from TINullCorrectionLib.networks.myocardium_unet import load_segmentation_model
    from TINullCorrectionLib.networks.ti_offset import load_model

    write_json_atomically(REFERENCE_PATH, answers(load_model(), load_segmentation_model()))
    print(f"wrote {REFERENCE_PATH}")


if __name__ == "__main__":
    main()
