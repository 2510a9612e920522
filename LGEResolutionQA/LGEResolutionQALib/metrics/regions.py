"""Metric family "regions": statistics of every named region (core.roi_stats), the noise sigma by one named
method in the noise region (core.snr: background air with the Rayleigh/chi correction, uniform tissue, NEMA
difference of a repeated acquisition, smoothing residual), the SNR of every region and the CNR of the LGE
region against remote myocardium and against blood."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from LGEResolutionQALib.core import roi_stats, snr
from LGEResolutionQALib.io.definitions import StudyVolume
from LGEResolutionQALib.metrics.base import (
    AnalysisSettings,
    MetricRow,
    NoiseSettings,
    RegionInputs,
    json_fields,
    resolve_noise_region,
    rows_of,
)

NAME = "regions"
INPUT = "regions"
SECTION = "regions"


def noise_estimate(volume: StudyVolume, mask: np.ndarray, noise: NoiseSettings) -> snr.NoiseEstimate:
    values = volume.array[mask]
    if noise.method == "background":
        return snr.noise_from_background(values, n_channels=noise.n_channels, statistic=noise.statistic)
    if noise.method == "tissue":
        return snr.noise_from_tissue(values)
    if noise.method == "difference":
        if volume.repeat_array is None:
            raise ValueError(f"Volume '{volume.name}' has no repeated acquisition: the NEMA difference needs one.")
        return snr.noise_from_difference(volume.array, volume.repeat_array, mask)
    return snr.noise_from_smoothing_residual(volume.array, mask, kernel=noise.smoothing_kernel)


@dataclass(frozen=True, eq=False)
class RegionAnalysis:
    """ROI statistics, sigma, SNR of every region and CNR of one volume."""

    volume_name: str
    stats: dict  # region -> ROIStatistics
    noise: snr.NoiseEstimate
    noise_region: str
    snr: dict  # region -> SNRResult
    cnr: dict  # "lge-remote" / "lge-blood" -> CNRResult

    def json_fields(self) -> dict:
        return {"noise_region": self.noise_region, "noise": json_fields(self.noise),
                "regions": {n: json_fields(s) for n, s in self.stats.items()}}

    def rows(self) -> list[MetricRow]:
        rows = [row for name, value in self.stats.items() for row in rows_of(value, "region", name)]
        rows += rows_of(self.noise, "noise", self.noise_region)
        rows += [row for name, value in self.snr.items() for row in rows_of(value, "snr", name)]
        rows += [row for name, value in self.cnr.items() for row in rows_of(value, "cnr", name)]
        return rows


def run(volume: StudyVolume, inputs: RegionInputs, settings: AnalysisSettings) -> RegionAnalysis:
    """Statistics of every mask (on ``volume``'s grid), sigma in the noise region, SNR of every region (not
    of the background region itself) and CNR LGE-remote / LGE-blood."""
    roles, masks = inputs.roles, inputs.masks
    noise_region = roles.noise or resolve_noise_region(masks, settings.noise, roles.remote)
    if noise_region not in masks:
        raise ValueError(f"The noise region '{noise_region}' is not among the regions {sorted(masks)}.")
    stats = {name: roi_stats.roi_statistics(volume.array, mask, volume.voxel_volume_mm3, name=name) for name, mask in masks.items()}
    try:
        noise = noise_estimate(volume, np.asarray(masks[noise_region], bool), settings.noise)
    except ValueError as error:
        raise ValueError(f"Noise on volume '{volume.name}' (region '{noise_region}'): {error}") from error
    skip = noise_region if settings.noise.method == "background" else None
    snrs = {name: snr.snr(value, noise) for name, value in stats.items() if name != skip}
    cnrs = {}
    if roles.lge:
        for label, other in (("lge-remote", roles.remote), ("lge-blood", roles.blood)):
            if other:
                cnrs[label] = snr.cnr(stats[roles.lge], stats[other], noise)
    return RegionAnalysis(volume.name, stats, noise, noise_region, snrs, cnrs)


def update_json(document: dict, results: dict, definition) -> None:
    """report.json "regions" (region -> volume -> stats), "noise", "snr", "cnr" (volume -> ...)."""
    for by_volume in results.values():
        for volume_name, analysis in by_volume.items():
            for region, stats in analysis.stats.items():
                document.setdefault("regions", {}).setdefault(region, {})[volume_name] = json_fields(stats)
            document.setdefault("noise", {})[volume_name] = json_fields(analysis.noise)
            document.setdefault("snr", {})[volume_name] = {r: json_fields(s) for r, s in analysis.snr.items()}
            document.setdefault("cnr", {})[volume_name] = {n: json_fields(c) for n, c in analysis.cnr.items()}
