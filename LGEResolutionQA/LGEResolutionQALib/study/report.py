"""NR vs HR study report: every metric of several volumes of one study, side by side (study layer).

Given two or more volumes of one study (arrays + IJK->RAS, registered in RAS: the scanner's patient
coordinates) and one set of definitions in RAS (lines, regions, roles), ``study_report`` runs every
metric family of the registry (``metrics.registry.FAMILIES``) on every volume — it computes nothing
itself: line families on every line (septal profile / single edge / bar group), MTF on every MTF box,
region families (ROI statistics, noise, SNR, CNR; LGE % of LV) on the regions resampled onto each
volume's own grid (``io.definitions.region_mask_on_grid``, nearest neighbour).

Outputs (``StudyReport.write``, each file written atomically): ``report.csv`` (one row per metric, one
column per volume: side by side, with the unit each result class declares and the method),
``report.json`` (nested by analysis, every number under a key that carries its unit, e.g.
``rise_distance_20_80_mm``; intensities are in the scanner's arbitrary units, "au"), and the figures
``profiles.png`` (every volume's profile of a line on one axis), ``roi_bar.png`` (ROI mean ± SD and
SNR per volume) and, when the LGE settings carry the RV insertion point, ``lge_bullseye_<volume>.png``
(LGE % per AHA segment), rendered with matplotlib's Agg backend.
Any bad input raises ValueError naming the volume and the definition before any file is written.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from CardiacLGECommonLib.core.files import make_output_folder, write_files_together

from LGEResolutionQALib.io.definitions import (
    LineDefinition,
    RegionDefinition,
    StudyVolume,
    region_mask_on_grid,
)
from LGEResolutionQALib.metrics import registry
from LGEResolutionQALib.metrics.base import (
    NOISE_METHODS,
    AnalysisSettings,
    LGESettings,
    MTFTarget,
    NoiseSettings,
    RegionInputs,
    RegionRoles,
    resolve_noise_region,
)

__all__ = ["NOISE_METHODS", "LGESettings", "NoiseSettings", "StudyDefinition", "StudyReport", "study_report"]

SCHEMA = "cardiaclge-qa-report/1"


@dataclass(frozen=True, eq=False)
class StudyDefinition:
    """Lines and regions (RAS) applied to every volume, the roles of the regions and the settings."""

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
        self.settings()  # validates step_mm etc.

    def settings(self) -> AnalysisSettings:
        return AnalysisSettings(step_mm=self.step_mm, interpolation=self.interpolation, dark_band=self.dark_band,
                                modulation_threshold=self.modulation_threshold, noise=self.noise, lge=self.lge)

    def roles(self) -> RegionRoles:
        noise = resolve_noise_region(self.regions, self.noise, self.remote_region) if self.regions else None
        return RegionRoles(self.lge_region, self.remote_region, self.blood_region, self.myocardium_region, noise)


@dataclass(eq=False)
class StudyReport:
    """Results of ``study_report``: ``results[family][item][volume]`` (family result dataclasses) and the
    report ``rows`` (long form, one per (volume, section, item, metric))."""

    volumes: tuple[StudyVolume, ...]
    definition: StudyDefinition
    results: dict = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)

    @property
    def volume_names(self) -> list[str]:
        return [volume.name for volume in self.volumes]

    def add(self, family, item: str, volume: str, result) -> None:
        self.results.setdefault(family.NAME, {}).setdefault(item, {})[volume] = result
        for row in result.rows():
            self.rows.append({"volume": volume, "section": row.section, "item": row.item, "metric": row.metric,
                              "unit": row.unit, "value": row.value, "method": row.method})

    def _by_volume(self, family_name: str) -> dict:
        return {v: r for by_volume in self.results.get(family_name, {}).values() for v, r in by_volume.items()}

    # Views of the results the figures and callers use (derived, not stored twice).
    @property
    def profiles(self) -> dict:
        """line -> volume -> LineProfile"""
        out: dict = {}
        for name in ("line_profiles", "bar_resolution"):
            for line, by_volume in self.results.get(name, {}).items():
                out.setdefault(line, {}).update({v: r.profile for v, r in by_volume.items()})
        return out

    @property
    def line_results(self) -> dict:
        """line -> volume -> {metric: value}"""
        out: dict = {}
        for name in ("line_profiles", "bar_resolution"):
            for line, by_volume in self.results.get(name, {}).items():
                out.setdefault(line, {}).update({v: {r.metric: r.value for r in res.rows()} for v, res in by_volume.items()})
        return out

    @property
    def region_stats(self) -> dict:
        return {v: a.stats for v, a in self._by_volume("regions").items()}

    @property
    def noise(self) -> dict:
        return {v: a.noise for v, a in self._by_volume("regions").items()}

    @property
    def snr(self) -> dict:
        return {v: a.snr for v, a in self._by_volume("regions").items()}

    @property
    def cnr(self) -> dict:
        return {v: a.cnr for v, a in self._by_volume("regions").items()}

    @property
    def lge(self) -> dict:
        return {v: r.result for v, r in self._by_volume("lge").items()}

    @property
    def mtf(self) -> dict:
        return {name: {v: r.result for v, r in by_volume.items()} for name, by_volume in self.results.get("edge_mtf", {}).items()}

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
        roles = definition.roles()
        document = {
            "schema": SCHEMA,
            "units": {"au": "image intensity in the scanner's arbitrary units", "mm": "millimetre (RAS)",
                      "ml": "millilitre", "per_mm": "1/mm", "percent": "%"},
            "volumes": [{"name": v.name, "spacing_mm": list(v.spacing_mm), "shape_kji": list(v.array.shape)} for v in self.volumes],
            "settings": {"step_mm": definition.step_mm, "interpolation": definition.interpolation,
                         "noise_method": definition.noise.method, "noise_region": roles.noise,
                         "noise_n_channels": definition.noise.n_channels,
                         "modulation_threshold": definition.modulation_threshold,
                         "roles": {"lge": definition.lge_region, "remote": definition.remote_region,
                                   "blood": definition.blood_region, "myocardium": definition.myocardium_region}},
            "lines": {}, "regions": {}, "noise": {}, "snr": {}, "cnr": {}, "lge": {}, "mtf": {},
        }
        for family in registry.FAMILIES:
            results = self.results.get(family.NAME)
            if not results:
                continue
            if hasattr(family, "update_json"):
                family.update_json(document, results, definition)
            else:  # a family without its own layout: item -> volume -> its fields, under the family's name
                document[family.NAME] = {item: {v: r.json_fields() for v, r in by_volume.items()} for item, by_volume in results.items()}
        return document

    def write(self, out_dir, figures: bool = True) -> dict[str, Path]:
        """Write report.csv, report.json and (``figures``) profiles.png / roi_bar.png / the bullseyes as one set
        (``write_files_together``): every file is complete before any replaces its earlier version, so a failure
        (full disk, no permission) leaves the earlier files of the same names exactly as they were, and no partial
        file; returns the paths."""
        out = make_output_folder(out_dir)
        paths = {"csv": out / "report.csv", "json": out / "report.json"}
        columns = ["section", "item", "metric", "unit", *self.volume_names, "method"]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in self.wide_rows():
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
        text = json.dumps(self.as_json(), indent=2, allow_nan=False)
        with write_files_together() as files:
            files.write_text(paths["csv"], buffer.getvalue())
            files.write_text(paths["json"], text)
            if figures:
                if self.profiles:
                    paths["profiles"] = files.write(out / "profiles.png", lambda tmp: plot_profiles(self, tmp))
                if self.region_stats:
                    paths["roi_bar"] = files.write(out / "roi_bar.png", lambda tmp: plot_roi_bars(self, tmp))
                for volume, metric in self._by_volume("lge").items():
                    if metric.aha is not None:
                        from LGEResolutionQALib.study.lge_figures import bullseye_png_bytes

                        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", volume)
                        paths[f"bullseye:{volume}"] = files.write_bytes(out / f"lge_bullseye_{safe}.png", bullseye_png_bytes(
                            metric.aha, "lge_percent", f"{volume}: LGE % per AHA segment ({metric.result.method})"))
        return paths


# ------------------------------------------------------------------------------------ computation
def run_family(family, volume: StudyVolume, target, settings: AnalysisSettings, what: str | None = None):
    """``family.run`` with a ValueError that names the volume and what was measured."""
    what = what or {"regions": "Regions", "lge": "LGE segmentation"}.get(family.NAME, family.NAME)
    try:
        return family.run(volume, target, settings)
    except ValueError as error:
        raise ValueError(f"{what} on volume '{volume.name}': {error}") from error


def study_report(volumes, definition: StudyDefinition) -> StudyReport:
    """Run every registered metric family on every volume (see the module docstring)."""
    volumes = tuple(volumes)
    if not volumes:
        raise ValueError("No volumes given.")
    names = [v.name for v in volumes]
    if len(set(names)) != len(names):
        raise ValueError(f"Volume names must be unique; got {names}.")
    report = StudyReport(volumes, definition)
    settings = definition.settings()
    roles = definition.roles()
    for volume in volumes:
        for line in definition.lines:
            for family in registry.families("line"):
                if line.kind in family.LINE_KINDS:
                    result = run_family(family, volume, line, settings, f"Line '{line.name}'")
                    if result is not None:
                        report.add(family, line.name, volume.name, result)
        for name, region in definition.mtf_rois.items():
            mask = region_mask_on_grid(region, volume.array.shape, volume.ijk_to_ras, volume.name)
            for family in registry.families("mtf_roi"):
                result = run_family(family, volume, MTFTarget(name, mask), settings, f"MTF ROI '{name}'")
                if result is not None:
                    report.add(family, name, volume.name, result)
        if not definition.regions:
            continue
        masks = {name: region_mask_on_grid(region, volume.array.shape, volume.ijk_to_ras, volume.name)
                 for name, region in definition.regions.items()}
        inputs = RegionInputs(masks, roles)
        for family in registry.families("regions"):
            result = run_family(family, volume, inputs, settings)
            if result is not None:
                item = roles.myocardium if family.NAME == "lge" else "regions"
                report.add(family, item, volume.name, result)
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
