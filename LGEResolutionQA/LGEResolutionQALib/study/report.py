"""NR vs HR study report: every metric of several volumes of one study, side by side (core).

Given two or more volumes of one study (arrays + IJK->RAS, registered in RAS: the scanner's patient
coordinates) and one set of definitions in RAS (lines, regions, roles), ``study_report`` runs the
project's metric functions on every volume — it computes nothing itself:

* lines: ``profiles.sample_line`` at ``step_mm`` with the chosen interpolation, then
  ``edges.septal_profile_metrics`` (kind "septum"), ``edges.edge_metrics`` (kind "edge") or
  ``resolution.analyse_bar_group`` + ``resolution.sampling_limited`` (kind "bars");
* regions: ``roi_stats.roi_statistics`` (boxes from markups ROIs, labelmap segments resampled by
  nearest neighbour onto each volume's own grid, ``io_definitions.region_mask_on_grid``);
* noise σ per volume by one named method (``snr.noise_from_background`` / ``noise_from_tissue`` /
  ``noise_from_difference`` / ``noise_from_smoothing_residual``), SNR of every region, CNR of the
  LGE region against remote (and against blood when a blood region is named);
* LGE: ``lge_segmentation.segment_lge`` in the myocardium region (remote region or automatic).

Outputs (``StudyReport.write``): ``report.csv`` (one row per metric, one column per volume: side by
side), ``report.json`` (nested by analysis, every number under a key that carries its unit, e.g.
``rise_distance_20_80_mm``; intensities are in the scanner's arbitrary units, "au"), and the
figures ``profiles.png`` (every volume's profile of a line on one axis) and ``roi_bar.png`` (ROI
mean ± SD and SNR per volume), rendered with matplotlib's Agg backend.
Any bad input raises ValueError naming the volume and the definition before any file is written.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from LGEResolutionQALib.core import edges, profiles, roi_stats, snr
from LGEResolutionQALib.core.lge_segmentation import segment_lge
from LGEResolutionQALib.io.definitions import (
    LineDefinition,
    RegionDefinition,
    StudyVolume,
    region_mask_on_grid,
)

NOISE_METHODS = ("background", "tissue", "difference", "smoothing")
SCHEMA = "cardiaclge-qa-report/1"


@dataclass(frozen=True)
class NoiseSettings:
    """How σ is estimated for every volume. ``region``: the region it is measured in (default: a
    region called "background"/"air" for background, the remote region for tissue/difference/smoothing)."""

    method: str = "background"
    region: str | None = None
    n_channels: int = 1
    statistic: str = "sd"
    smoothing_kernel: int = 9

    def __post_init__(self) -> None:
        if self.method not in NOISE_METHODS:
            raise ValueError(f"Noise method must be one of {NOISE_METHODS}; got {self.method!r}.")


@dataclass(frozen=True)
class LGESettings:
    """LGE segmentation in the ``myocardium`` region (remote: the study's remote region, else automatic)."""

    method: str = "nsd"
    n_sd: float = 5.0
    min_island_ml: float = 0.0
    include_mvo: bool = False


@dataclass(frozen=True, eq=False)
class StudyDefinition:
    """Lines and regions (RAS) applied to every volume, and the roles of the regions."""

    lines: tuple[LineDefinition, ...] = ()
    regions: dict[str, RegionDefinition] = field(default_factory=dict)
    lge_region: str | None = None
    remote_region: str | None = None
    blood_region: str | None = None
    myocardium_region: str | None = None
    noise: NoiseSettings = field(default_factory=NoiseSettings)
    lge: LGESettings | None = None
    step_mm: float = 0.1
    interpolation: str = "linear"
    modulation_threshold: float = 0.1
    dark_band: bool = True
    mtf_rois: dict[str, RegionDefinition] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for role in ("lge_region", "remote_region", "blood_region", "myocardium_region"):
            name = getattr(self, role)
            if name is not None and name not in self.regions:
                raise ValueError(f"The {role.replace('_', ' ')} '{name}' is not among the regions {sorted(self.regions)}.")
        if self.noise.region is not None and self.noise.region not in self.regions:
            raise ValueError(f"The noise region '{self.noise.region}' is not among the regions {sorted(self.regions)}.")
        names = [line.name for line in self.lines]
        if len(set(names)) != len(names):
            raise ValueError(f"Line names must be unique; got {names}.")
        if not self.lines and not self.regions and not self.mtf_rois:
            raise ValueError("Nothing to measure: give at least one line, region or MTF ROI.")
        if not (np.isfinite(self.step_mm) and self.step_mm > 0):
            raise ValueError(f"Sample step must be a positive number of mm; got {self.step_mm}.")


# --------------------------------------------------------------------------------------- helpers
def _plain(value):
    """A JSON/CSV friendly scalar (None for NaN), or None for arrays and other non-scalars."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value):
        return "; ".join(value)
    if value is None:
        return None
    return _SKIP


_SKIP = object()


def flat_row(result, prefix: str = "") -> dict:
    """Scalar fields of a metric result (``as_row()``, a dataclass or a dict), nested keys joined by '.'."""
    if hasattr(result, "as_row"):
        data = result.as_row()
    elif dataclasses.is_dataclass(result):
        data = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    elif isinstance(result, dict):
        data = result
    else:
        return {prefix.rstrip(".") or "value": _plain(result)}
    row = {}
    for key, value in data.items():
        if isinstance(value, dict) or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
            row.update(flat_row(value, f"{prefix}{key}."))
            continue
        plain = _plain(value)
        if plain is not _SKIP:
            row[f"{prefix}{key}"] = plain
    return row


def unit_of(metric: str) -> str:
    """Unit of a metric from its key (the project names units in keys)."""
    key = metric.rsplit(".", 1)[-1].lower()
    for suffix, unit in (("_lp_per_mm", "lp/mm"), ("_per_mm", "1/mm"), ("_mm_inv", "1/mm"), ("_mm3", "mm3"),
                         ("_mm", "mm"), ("_ml", "mL"), ("_percent", "%"), ("_percent_of_lv", "%"), ("_deg", "deg")):
        if key.endswith(suffix) or key == suffix[1:]:
            return unit
    if key.endswith("percent_of_lv") or key.endswith("_percent"):
        return "%"
    if key in ("snr", "cnr") or key.startswith("modulation") or key.endswith("_ratio"):
        return "ratio"
    if "count" in key or key.startswith("n_") or key.endswith("_found") or key.endswith("_removed"):
        return "count"
    if key in ("mean", "sd", "median", "min", "max", "sigma", "threshold", "remote_mean", "remote_sd", "signal_mean",
               "lge_mean", "fwhm_max") or key.endswith(("_mean", "_intensity", "_plateau", "_level", "_sd")):
        return "au"
    return ""


def _json_row(row: dict) -> dict:
    """Keys of intensity-valued metrics get an "_au" suffix (arbitrary units), so every key names its unit."""
    return {(f"{key}_au" if unit_of(key) == "au" else key): value for key, value in row.items()}


_METHOD_KEYS = ("method", "noise_method", "interpolation", "formula", "remote_source")


@dataclass(eq=False)
class StudyReport:
    """Results of ``study_report``. ``rows``: long form, one dict per (volume, section, item, metric)."""

    volumes: tuple[StudyVolume, ...]
    definition: StudyDefinition
    rows: list[dict] = field(default_factory=list)
    profiles: dict[str, dict[str, object]] = field(default_factory=dict)  # line -> volume -> LineProfile
    line_results: dict[str, dict[str, dict]] = field(default_factory=dict)  # line -> volume -> flat metrics
    region_stats: dict[str, dict[str, object]] = field(default_factory=dict)  # volume -> region -> ROIStatistics
    noise: dict[str, object] = field(default_factory=dict)  # volume -> NoiseEstimate
    snr: dict[str, dict[str, object]] = field(default_factory=dict)  # volume -> region -> SNRResult
    cnr: dict[str, dict[str, object]] = field(default_factory=dict)  # volume -> name -> CNRResult
    lge: dict[str, object] = field(default_factory=dict)  # volume -> LGEResult
    mtf: dict[str, dict[str, object]] = field(default_factory=dict)  # ROI -> volume -> MTFResult

    @property
    def volume_names(self) -> list[str]:
        return [volume.name for volume in self.volumes]

    def _add(self, volume: str, section: str, item: str, metrics: dict) -> None:
        method = "; ".join(f"{k}={metrics[k]}" for k in _METHOD_KEYS if metrics.get(k) not in (None, ""))
        for metric, value in metrics.items():
            if metric in _METHOD_KEYS or metric == "name" or metric.endswith("_name"):
                continue
            if metric.endswith("warnings") and not value:
                continue
            self.rows.append({"volume": volume, "section": section, "item": item, "metric": metric,
                              "unit": unit_of(metric), "value": value, "method": method})

    def wide_rows(self) -> list[dict]:
        """One row per (section, item, metric) with one column per volume (side by side)."""
        table: dict[tuple, dict] = {}
        for row in self.rows:
            key = (row["section"], row["item"], row["metric"])
            entry = table.setdefault(key, {"section": row["section"], "item": row["item"], "metric": row["metric"],
                                           "unit": row["unit"], "method": row["method"]})
            entry[row["volume"]] = row["value"]
            if row["method"] and row["method"] not in entry["method"].split(" | "):
                entry["method"] = f"{entry['method']} | {row['method']}" if entry["method"] else row["method"]
        return list(table.values())

    def value(self, volume: str, section: str, item: str, metric: str):
        for row in self.rows:
            if (row["volume"], row["section"], row["item"], row["metric"]) == (volume, section, item, metric):
                return row["value"]
        raise KeyError((volume, section, item, metric))

    def as_json(self) -> dict:
        definition = self.definition
        document = {
            "schema": SCHEMA,
            "units": {"au": "image intensity in the scanner's arbitrary units", "mm": "millimetre (RAS)",
                      "ml": "millilitre", "per_mm": "1/mm", "percent": "%"},
            "volumes": [{"name": v.name, "source": v.source, "spacing_mm": list(v.spacing_mm),
                         "shape_kji": list(v.array.shape)} for v in self.volumes],
            "settings": {"step_mm": definition.step_mm, "interpolation": definition.interpolation,
                         "noise_method": definition.noise.method, "noise_region": self._noise_region_name(),
                         "noise_n_channels": definition.noise.n_channels,
                         "modulation_threshold": definition.modulation_threshold,
                         "roles": {"lge": definition.lge_region, "remote": definition.remote_region,
                                   "blood": definition.blood_region, "myocardium": definition.myocardium_region}},
            "lines": {},
            "regions": {},
            "noise": {name: _json_row(flat_row(estimate)) for name, estimate in self.noise.items()},
            "snr": {v: {r: _json_row(flat_row(s)) for r, s in regions.items()} for v, regions in self.snr.items()},
            "cnr": {v: {n: _json_row(flat_row(c)) for n, c in items.items()} for v, items in self.cnr.items()},
            "lge": {},
            "mtf": {roi: {v: _json_row(flat_row(r)) for v, r in results.items()} for roi, results in self.mtf.items()},
        }
        for line in definition.lines:
            document["lines"][line.name] = {
                "kind": line.kind, "start_ras_mm": list(line.start_ras), "end_ras_mm": list(line.end_ras),
                "length_mm": line.length_mm, "expected_bars": line.expected_bars, "pitch_mm": line.pitch_mm,
                "results": {v: _json_row(m) for v, m in self.line_results.get(line.name, {}).items()},
            }
        for volume, regions in self.region_stats.items():
            for region, stats in regions.items():
                row = _json_row(flat_row(stats))
                document["regions"].setdefault(region, {})[volume] = row
        for volume, result in self.lge.items():
            row = _json_row(flat_row(result))
            row["per_slice"] = [flat_row(r) for r in result.per_slice]
            document["lge"][volume] = row
        return document

    def _noise_region_name(self) -> str | None:
        try:
            return _noise_region(self.definition)
        except ValueError:
            return None

    def write(self, out_dir, figures: bool = True) -> dict[str, Path]:
        """Write report.csv, report.json and (``figures``) profiles.png / roi_bar.png; returns the paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"csv": out / "report.csv", "json": out / "report.json"}
        columns = ["section", "item", "metric", "unit", *self.volume_names, "method"]
        with paths["csv"].open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for row in self.wide_rows():
                writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
        paths["json"].write_text(json.dumps(self.as_json(), indent=2, allow_nan=False), encoding="utf-8")
        if figures:
            if self.profiles:
                paths["profiles"] = plot_profiles(self, out / "profiles.png")
            if self.region_stats:
                paths["roi_bar"] = plot_roi_bars(self, out / "roi_bar.png")
        return paths


# ------------------------------------------------------------------------------------ computation
def _noise_region(definition: StudyDefinition) -> str:
    noise = definition.noise
    if noise.region:
        return noise.region
    if noise.method == "background":
        for candidate in ("background", "air", "Background", "Air"):
            if candidate in definition.regions:
                return candidate
        raise ValueError("Background noise needs an air/background region: name one as the noise region "
                         "(or call a region 'background').")
    if definition.remote_region:
        return definition.remote_region
    raise ValueError(f"{noise.method} noise needs a region: name the noise region or a remote region.")


def _noise_estimate(volume: StudyVolume, mask: np.ndarray, noise: NoiseSettings):
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


def _line_metrics(line: LineDefinition, profile, volume: StudyVolume, definition: StudyDefinition) -> dict:
    if line.kind == "septum":
        return flat_row(edges.septal_profile_metrics(profile, dark_band=definition.dark_band))
    if line.kind == "edge":
        return flat_row(edges.edge_metrics(profile.distance_mm, profile.intensity))
    from LGEResolutionQALib.core import resolution  # imported here: only bar-group lines need it

    row = flat_row(resolution.analyse_bar_group(profile, line.expected_bars, line.pitch_mm,
                                                modulation_threshold=definition.modulation_threshold))
    pixel_mm = float(max(volume.spacing_mm[0], volume.spacing_mm[1]))
    row["pixel_mm"] = pixel_mm
    row.update(flat_row(resolution.sampling_limited(line.pitch_mm, pixel_mm), "sampling_limited."))
    return row


@dataclass(eq=False)
class RegionAnalysis:
    """ROI statistics, σ, SNR of every region and CNR of one volume (``analyse_regions``)."""

    volume_name: str
    stats: dict
    noise: object
    noise_region: str
    snr: dict
    cnr: dict

    def rows(self) -> list[dict]:
        """Flat rows with "section" (region / noise / snr / cnr) and "item" keys."""
        rows = [{"section": "region", "item": name, **flat_row(value)} for name, value in self.stats.items()]
        rows.append({"section": "noise", "item": self.noise_region, **flat_row(self.noise)})
        rows += [{"section": "snr", "item": name, **flat_row(value)} for name, value in self.snr.items()]
        rows += [{"section": "cnr", "item": name, **flat_row(value)} for name, value in self.cnr.items()]
        return rows


def analyse_regions(volume: StudyVolume, masks: dict, noise_settings: NoiseSettings, noise_region: str,
                    lge_region: str | None = None, remote_region: str | None = None,
                    blood_region: str | None = None) -> RegionAnalysis:
    """Statistics of every mask (on ``volume``'s grid), σ by ``noise_settings`` in ``noise_region``,
    SNR of every region (not of the background region itself) and CNR LGE–remote / LGE–blood."""
    for role, name in (("noise", noise_region), ("LGE", lge_region), ("remote", remote_region), ("blood", blood_region)):
        if name is not None and name not in masks:
            raise ValueError(f"The {role} region '{name}' is not among the regions {sorted(masks)}.")
    stats = {name: roi_stats.roi_statistics(volume.array, mask, volume.voxel_volume_mm3, name=name)
             for name, mask in masks.items()}
    try:
        noise = _noise_estimate(volume, np.asarray(masks[noise_region], bool), noise_settings)
    except ValueError as error:
        raise ValueError(f"Noise on volume '{volume.name}' (region '{noise_region}'): {error}") from error
    skip = noise_region if noise_settings.method == "background" else None
    snrs = {name: snr.snr(value, noise) for name, value in stats.items() if name != skip}
    cnrs = {}
    if lge_region:
        for label, other in (("lge-remote", remote_region), ("lge-blood", blood_region)):
            if other:
                cnrs[label] = snr.cnr(stats[lge_region], stats[other], noise)
    return RegionAnalysis(volume.name, stats, noise, noise_region, snrs, cnrs)


def edge_mtf_in_region(volume: StudyVolume, region: RegionDefinition):
    """``mtf.slanted_edge_mtf`` in the pixel bounding box of ``region`` on the slice it covers most.

    The box (an ROI around a slanted edge, 2°–45° off the pixel axes) is put on the volume grid
    (``region_mask_on_grid``); pixel spacing (row, column) = (sj, si) of the volume.
    """
    from LGEResolutionQALib.core import mtf  # imported here: only MTF ROIs need it

    mask = region_mask_on_grid(region, volume.array.shape, volume.ijk_to_ras, volume.name)
    k = int(np.argmax(mask.sum(axis=(1, 2))))
    rows, cols = np.nonzero(mask[k])
    si, sj, _ = volume.spacing_mm
    box = (int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1)
    return mtf.slanted_edge_mtf(volume.array[k], (sj, si), roi=box)


def study_report(volumes, definition: StudyDefinition) -> StudyReport:
    """Run every metric of ``definition`` on every volume (see the module docstring)."""
    volumes = tuple(volumes)
    if not volumes:
        raise ValueError("No volumes given.")
    names = [v.name for v in volumes]
    if len(set(names)) != len(names):
        raise ValueError(f"Volume names must be unique; got {names}.")
    report = StudyReport(volumes, definition)
    noise_region = _noise_region(definition) if definition.regions else None

    for volume in volumes:
        for line in definition.lines:
            try:
                profile = profiles.sample_line(volume.array, volume.ijk_to_ras, line.start_ras, line.end_ras,
                                               step_mm=definition.step_mm, interpolation=definition.interpolation)
                metrics = _line_metrics(line, profile, volume, definition)
            except ValueError as error:
                raise ValueError(f"Line '{line.name}' on volume '{volume.name}': {error}") from error
            metrics.setdefault("interpolation", definition.interpolation)
            metrics.setdefault("step_mm", definition.step_mm)
            report.profiles.setdefault(line.name, {})[volume.name] = profile
            report.line_results.setdefault(line.name, {})[volume.name] = metrics
            report._add(volume.name, f"line:{line.kind}", line.name, metrics)

        for name, region in definition.mtf_rois.items():
            try:
                result = edge_mtf_in_region(volume, region)
            except ValueError as error:
                raise ValueError(f"MTF ROI '{name}' on volume '{volume.name}': {error}") from error
            report.mtf.setdefault(name, {})[volume.name] = result
            report._add(volume.name, "mtf", name, flat_row(result))

        if not definition.regions:
            continue
        masks = {name: region_mask_on_grid(region, volume.array.shape, volume.ijk_to_ras, volume.name)
                 for name, region in definition.regions.items()}
        regions = analyse_regions(volume, masks, definition.noise, noise_region, definition.lge_region,
                                  definition.remote_region, definition.blood_region)
        report.region_stats[volume.name] = regions.stats
        report.noise[volume.name] = regions.noise
        report.snr[volume.name] = regions.snr
        report.cnr[volume.name] = regions.cnr
        for row in regions.rows():
            report._add(volume.name, row.pop("section"), row.pop("item"), row)
        if definition.lge is not None and definition.myocardium_region:
            options = definition.lge
            try:
                result = segment_lge(volume.array, masks[definition.myocardium_region], volume.spacing_mm,
                                     method=options.method, n_sd=options.n_sd,
                                     remote_mask=masks.get(definition.remote_region) if definition.remote_region else None,
                                     min_island_ml=options.min_island_ml, include_mvo=options.include_mvo)
            except ValueError as error:
                raise ValueError(f"LGE segmentation on volume '{volume.name}': {error}") from error
            report.lge[volume.name] = result
            report._add(volume.name, "lge", definition.myocardium_region, flat_row(result))
    return report


# ---------------------------------------------------------------------------------------- figures
def _pick(metrics: dict, *needles) -> tuple[str, float] | None:
    for key, value in metrics.items():
        lowered = key.lower()
        if all(n in lowered for n in needles) and isinstance(value, (int, float)) and not isinstance(value, bool):
            return key, float(value)
    return None


def _legend_label(volume: StudyVolume, metrics: dict) -> str:
    si, sj, _ = volume.spacing_mm
    label = f"{volume.name} ({si:.3g} x {sj:.3g} mm)"
    parts = []
    rise = [v for k, v in metrics.items() if k.endswith("rise_20_80_mm") and not k.startswith("mean")
            and isinstance(v, (int, float))]
    if rise:
        parts.append("d20-80 " + "/".join(f"{v:.2f}" for v in rise[:2]) + " mm")
    thickness = _pick(metrics, "thickness", "mm")
    if thickness:
        parts.append(f"thickness {thickness[1]:.2f} mm")
    resolved = metrics.get("resolved")
    if isinstance(resolved, bool):
        parts.append("resolved" if resolved else "not resolved")
    return label + (": " + ", ".join(parts) if parts else "")


def plot_profiles(report: StudyReport, path) -> Path:
    """All volumes' profiles of each line on one axis per line (PNG, matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = [line for line in report.definition.lines if line.name in report.profiles]
    fig, axes = plt.subplots(len(lines), 1, figsize=(7.5, 3.2 * len(lines)), squeeze=False, dpi=110)
    by_name = {v.name: v for v in report.volumes}
    for ax, line in zip(axes[:, 0], lines):
        for volume_name, profile in report.profiles[line.name].items():
            metrics = report.line_results[line.name][volume_name]
            ax.plot(profile.distance_mm, profile.intensity, lw=1.6,
                    label=_legend_label(by_name[volume_name], metrics))
        ax.set_title(f"{line.name} ({line.kind}, {line.length_mm:.1f} mm, {report.definition.interpolation} "
                     f"interpolation, step {report.definition.step_mm:g} mm)", fontsize=9)
        ax.set_xlabel("distance along the line (mm)")
        ax.set_ylabel("intensity (au)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def plot_roi_bars(report: StudyReport, path) -> Path:
    """ROI mean ± SD per volume (left) and SNR per ROI per volume (right), grouped bars (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    volumes = report.volume_names
    regions = list(report.definition.regions)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=110)
    width = 0.8 / max(len(volumes), 1)
    x = np.arange(len(regions))
    for n, volume in enumerate(volumes):
        stats = report.region_stats.get(volume, {})
        means = [stats[r].mean for r in regions]
        sds = [0.0 if not np.isfinite(stats[r].sd) else stats[r].sd for r in regions]
        left.bar(x + (n - (len(volumes) - 1) / 2) * width, means, width, yerr=sds, capsize=3, label=volume)
        values = report.snr.get(volume, {})
        right.bar(x + (n - (len(volumes) - 1) / 2) * width, [values[r].snr if r in values else 0.0 for r in regions],
                  width, label=volume)
    for ax, title, ylabel in ((left, "ROI mean ± SD", "intensity (au)"),
                              (right, f"SNR (noise: {report.definition.noise.method})", "SNR")):
        ax.set_xticks(x)
        ax.set_xticklabels(regions, rotation=20, fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
