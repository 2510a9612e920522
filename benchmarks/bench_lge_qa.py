"""Speed of LGEResolutionQA on a 512 x 512 x 40 HR volume, and LGE %LV accuracy vs SNR.

Targets (issue 5): all metrics (6 ROIs, SNR/CNR, 3 line profiles with edge metrics) in <= 1 s;
n-SD LGE segmentation <= 0.5 s on this 2-core machine. Run: ``.venv/bin/python benchmarks/bench_lge_qa.py``.
Prints the median of ``--repeats`` runs and the ratio to the target for each step.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from LGEResolutionQALib.core.lge_segmentation import segment_lge
from LGEResolutionQALib.core.roi_stats import roi_statistics
from LGEResolutionQALib.core.snr import (
    cnr,
    noise_from_background,
    noise_from_difference,
    noise_from_tissue,
    snr,
)
from LGEResolutionQALib.sim.phantom import make_lge_ring_phantom


def _median_seconds(function, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def make_hr_volume(seed: int = 0):
    """512 x 512 x 40 at 0.625 mm in-plane (320 mm FOV), 20% transmural scar, SNR 12."""
    rng = np.random.default_rng(seed)
    kwargs = {"endo_radius_mm": (25.0, 15.0), "supersample": 2}
    first = make_lge_ring_phantom((40, 512, 512), (0.625, 0.625, 2.5), 0.2, 12.0, rng, **kwargs)
    second = make_lge_ring_phantom((40, 512, 512), (0.625, 0.625, 2.5), 0.2, 12.0, rng, **kwargs)
    return first, second


def bench_roi_snr(phantom, repeat_image, repeats: int = 5) -> float:
    """6 ROIs (myocardium, scar, remote, blood, air, whole slab) + 3 noise methods + SNR/CNR."""
    voxel = phantom.voxel_volume_mm3
    rois = {"myocardium": phantom.myocardium_mask, "scar": phantom.scar_mask_truth, "remote": phantom.remote_mask,
            "blood": phantom.blood_mask, "air": phantom.air_mask, "slab": phantom.myocardium_mask | phantom.blood_mask}

    def run():
        stats = {name: roi_statistics(phantom.image, mask, voxel, name) for name, mask in rois.items()}
        noises = [noise_from_background(phantom.image[phantom.air_mask]),
                  noise_from_tissue(phantom.image[phantom.remote_mask]),
                  noise_from_difference(phantom.image, repeat_image, phantom.blood_mask)]
        return [snr(stats["scar"], n) for n in noises] + [cnr(stats["scar"], stats["remote"], n) for n in noises]

    seconds, results = _median_seconds(run, repeats)
    print(f"roi+snr  6 ROIs, 3 sigma methods, SNR/CNR: {seconds:.3f} s  (target share of 1 s; "
          f"SNR(scar, NEMA) = {results[2].snr:.2f}, truth {1 / phantom.sigma_true:.2f})")
    return seconds


def bench_lines(phantom, repeats: int = 5) -> float:
    """3 lines from the LV centre across blood -> remote myocardium (cubic, 0.1 mm steps) + edge metrics."""
    from CardiacLGECommonLib.core.geometry import ijk_to_ras_points
    from LGEResolutionQALib.core.edges import edge_metrics
    from LGEResolutionQALib.core.profiles import sample_line

    k = phantom.image.shape[0] // 2
    rows, cols = np.nonzero(phantom.myocardium_mask[k])
    centre = np.array([cols.mean(), rows.mean(), k])
    radius_px = 1.6 * np.max(np.hypot(cols - centre[0], rows - centre[1]))
    lines = []
    for angle in np.deg2rad([200.0, 270.0, 330.0]):
        end = centre + radius_px * np.array([np.cos(angle), np.sin(angle), 0.0])
        lines.append((ijk_to_ras_points(phantom.ijk_to_ras, centre), ijk_to_ras_points(phantom.ijk_to_ras, end)))

    def run():
        metrics = []
        for start, end in lines:
            profile = sample_line(phantom.image, phantom.ijk_to_ras, start, end, step_mm=0.1, interpolation="cubic")
            half = profile.distance_mm <= 0.75 * profile.distance_mm[-1]
            metrics.append(edge_metrics(profile.distance_mm[half], profile.intensity[half]))
        return metrics

    seconds, metrics = _median_seconds(run, repeats)
    print(f"lines    3 cubic profiles + edge metrics: {seconds:.3f} s  "
          f"(blood->myocardium 20-80% rise {np.mean([m.rise_20_80_mm for m in metrics]):.2f} mm)")
    return seconds


def bench_nsd(phantom, repeats: int = 5) -> float:
    for remote, label in ((phantom.remote_mask, "user remote"), (None, "auto remote")):
        seconds, result = _median_seconds(
            lambda remote=remote: segment_lge(phantom.image, phantom.myocardium_mask, phantom.spacing_mm,
                                              remote_mask=remote), repeats)
        print(f"nsd-5 ({label}): {seconds:.3f} s  ratio to 0.5 s target {seconds / 0.5:.2f}  "
              f"%LV {result.lge_percent_of_lv:.2f} (truth {phantom.scar_percent_truth:.2f})")
    return seconds


def bench_lge_accuracy(seeds: int = 3) -> None:
    """%LV error (measured − truth, percentage points) vs SNR for each method, NR and HR pixels.

    Transmural 20% scar, user remote ROI (mid-wall sector), mean ± SD over ``seeds`` noise draws.
    """
    print("LGE %LV error (points) vs SNR  [pixel mm, method: mean±sd over seeds]")
    for pixel in (1.5, 0.625):
        n = int(round(144 / pixel))
        for snr_value in (10, 20, 40):
            cells = []
            for method in ("nsd", "fwhm", "otsu"):
                errors = []
                for seed in range(seeds):
                    p = make_lge_ring_phantom((3, n, n), (pixel, pixel, 10.0), 0.2, snr_value,
                                              np.random.default_rng(seed))
                    result = segment_lge(p.image, p.myocardium_mask, p.spacing_mm, method=method,
                                         remote_mask=p.remote_mask)
                    errors.append(result.lge_percent_of_lv - p.scar_percent_truth)
                cells.append(f"{method} {np.mean(errors):+.2f}±{np.std(errors):.2f}")
            print(f"  {pixel:5.3f} mm  SNR {snr_value:3d}: " + "   ".join(cells))


def bench_mrml(phantom, repeats: int = 3) -> None:
    """Segment -> mask export, LGE segment write-back and segment statistics on real MRML nodes."""
    try:
        import slicer
    except ImportError:
        print("mrml: slicer-core not installed, skipped")
        return
    from CardiacLGECommonLib.mrml.volumes import add_volume_from_array
    from LGEResolutionQALib.mrml import segments as mrml_segments

    factory = slicer.vtkSegmentationConverterFactory.GetInstance()
    for rule in ("vtkBinaryLabelmapToClosedSurfaceConversionRule", "vtkClosedSurfaceToBinaryLabelmapConversionRule"):
        factory.RegisterConverterRule(getattr(slicer, rule)())
    scene = slicer.vtkMRMLScene()
    volume = add_volume_from_array(scene, phantom.image, phantom.ijk_to_ras, "HR")
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Seg")
    myo_id = mrml_segments.add_lge_segment(segmentation, phantom.myocardium_mask, volume, name="Myocardium")
    seconds, _ = _median_seconds(lambda: mrml_segments.mask_from_segment(segmentation, myo_id, volume), repeats)
    print(f"mrml mask_from_segment (512x512x40): {seconds:.3f} s")
    seconds, _ = _median_seconds(lambda: mrml_segments.add_lge_segment(
        segmentation, phantom.scar_mask_truth, volume, replace=True), repeats)
    print(f"mrml add_lge_segment (replace): {seconds:.3f} s")
    scene.Clear(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    phantom, repeat_image = make_hr_volume()
    print(f"phantom 512x512x40 generated in {time.perf_counter() - start:.1f} s")
    roi_seconds = bench_roi_snr(phantom, repeat_image.image, args.repeats)
    line_seconds = bench_lines(phantom, args.repeats)
    print(f"ALL METRICS (6 ROIs + 3 sigma methods + SNR/CNR + 3 lines): {roi_seconds + line_seconds:.3f} s, "
          f"ratio to the 1 s target {roi_seconds + line_seconds:.2f}")
    bench_nsd(phantom, args.repeats)
    bench_mrml(phantom)
    bench_lge_accuracy()


if __name__ == "__main__":
    main()
