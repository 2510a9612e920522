"""Cohort statistics of a normal- vs high-resolution LGE study (core: numpy, scipy, statsmodels).

Inputs: per-study QA reports (``report.json`` of ``cardiac-lge qa``: one volume per sequence, the
volume names being the sequence names) and the reader scores exported from a reading session
(``reader_session.collect_scores``). Both become ``Observation`` rows (study, sequence, measure,
reader, value).

What is computed (``cohort_analysis``):

* **Descriptives** per measure and sequence: n, median and IQR (quartiles by numpy's default linear
  interpolation, Hyndman–Fan type 7), mean, SD, min, max. With several readers a study's value is
  the mean over its readers (scores: mean score of the readers).
* **Paired comparisons** of every sequence against a chosen reference sequence (e.g. each HR
  sequence vs NR-IR), over the studies that have both. The test, by a fixed rule stated in every
  output row (``test`` and ``test_reason``):
  - reader scores (ordinal): Wilcoxon signed-rank test (``scipy.stats.wilcoxon``), always;
  - metrics, ``test="auto"``: Shapiro–Wilk on the paired differences (``scipy.stats.shapiro``);
    p ≥ 0.05 (no evidence against normality) -> paired t-test (``scipy.stats.ttest_rel``), else
    Wilcoxon. ``test="wilcoxon"`` / ``"t"`` force one test.
  Wilcoxon: zeros dropped (Wilcoxon's method), exact null distribution when there are no zeros or
  ties and at most 50 pairs, else the normal approximation with tie correction; effect size the
  matched-pairs rank-biserial correlation r = (R+ − R−)/(R+ + R−) (Kerby 2014), positive when the
  sequence is higher than the reference. t-test: effect size Cohen's d_z = mean(d)/SD(d), and the
  95% CI of the mean difference. Every row gives n, median and mean difference (sequence − reference).
* **Holm correction** (``statsmodels.stats.multitest.multipletests``, method "holm") over the
  comparisons of one measure (one family per measure: the k−1 sequences against the reference).
* **Inter-reader agreement**: reader scores -> Cohen's weighted kappa (linear and quadratic
  weights, ``statsmodels.stats.inter_rater.cohens_kappa`` on the 5 × 5 table of all categories 1–5)
  and exact agreement per criterion and reader pair, over the cases both scored; metrics measured by
  several readers -> ICC(2,1) (two-way random, absolute agreement, single measurement) and ICC(3,1)
  (two-way mixed, consistency) of Shrout & Fleiss (1979), from the two-way ANOVA mean squares
  (``icc``; checked against Shrout & Fleiss's Table 2 example).
* **Figure**: one box/strip plot per measure, sequences side by side, each study's values joined
  by a line, Holm-corrected p against the reference written above each box.

Bad input is a ``CohortError`` (a ValueError) that names what is wrong: a study without the
reference sequence, a sequence missing in some studies (unequal pairs; ``drop_incomplete`` drops
those studies from that comparison and says so), a report without a required key (file and key
named), a null value, scores outside 1–5.
Outputs (``CohortResult.write``): ``cohort_summary.csv``, ``cohort_comparisons.csv``,
``cohort_agreement.csv``, ``cohort.json`` and ``cohort.png``, each written atomically.
statsmodels is imported only inside the functions that use it (it is not part of Slicer).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from CardiacLGECommonLib.core.files import make_output_folder, write_files_together

from LGEResolutionQALib.study.atomic import atomic_path
from LGEResolutionQALib.study.reader_session import SCORES

REPORT_SCHEMA_PREFIX = "cardiaclge-qa-report/"
TESTS = ("auto", "wilcoxon", "t")
NORMALITY_ALPHA = 0.05


class CohortError(ValueError):
    """Cohort input that cannot be analysed as given (the message names the study, file or key)."""


class ReportKeyError(CohortError):
    """A QA report without a key the analysis needs (the message names the file and the key)."""


# ----------------------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class MetricSpec:
    """A metric read from report.json. ``template``: keys joined by '/', with ``{sequence}`` (the
    volume name), ``{septum}`` (the first line of kind "septum") and the region roles ``{lge}``,
    ``{remote}``, ``{blood}``, ``{myocardium}`` (report settings) filled in."""

    name: str
    template: str
    unit: str = ""
    label: str = ""


_SEPTUM = "lines/{septum}/results/{sequence}/"
DEFAULT_METRICS = (
    MetricSpec("septal_sharpness_20_80_per_mm", _SEPTUM + "mean_sharpness_20_80_per_mm", "1/mm",
               "Septal edge sharpness 1/d20-80"),
    MetricSpec("septal_rise_20_80_mm", _SEPTUM + "mean_rise_20_80_mm", "mm", "Septal rise distance d20-80"),
    MetricSpec("septal_max_gradient_per_mm", _SEPTUM + "mean_max_gradient_per_mm", "1/mm",
               "Septal max gradient / step"),
    MetricSpec("septal_thickness_fwhm_mm", _SEPTUM + "septal_thickness_fwhm_mm", "mm", "Septal thickness (FWHM)"),
    MetricSpec("snr_lge", "snr/{sequence}/{lge}/snr", "ratio", "SNR of LGE"),
    MetricSpec("snr_remote", "snr/{sequence}/{remote}/snr", "ratio", "SNR of remote myocardium"),
    MetricSpec("snr_blood", "snr/{sequence}/{blood}/snr", "ratio", "SNR of blood"),
    MetricSpec("cnr_lge_remote", "cnr/{sequence}/lge-remote/cnr", "ratio", "CNR LGE - remote"),
    MetricSpec("cnr_lge_blood", "cnr/{sequence}/lge-blood/cnr", "ratio", "CNR LGE - blood"),
    MetricSpec("lge_percent_of_lv", "lge/{sequence}/lge_percent_of_lv", "%", "LGE % of LV"),
)


def metric_spec(text: str) -> MetricSpec:
    """``NAME=TEMPLATE`` or the name of a default metric."""
    for spec in DEFAULT_METRICS:
        if text == spec.name:
            return spec
    if "=" not in text:
        raise CohortError(f"Metric '{text}': give NAME=TEMPLATE (e.g. mtf50=mtf/edge/{{sequence}}/mtf50_lp_per_mm) or "
                          f"one of {', '.join(s.name for s in DEFAULT_METRICS)}.")
    name, template = (part.strip() for part in text.split("=", 1))
    if not name or "{sequence}" not in template:
        raise CohortError(f"Metric '{text}': the template must contain {{sequence}}.")
    return MetricSpec(name, template, _unit_from_key(template.rsplit("/", 1)[-1]), name)


def _unit_from_key(key: str) -> str:
    for suffix, unit in (("_per_mm", "1/mm"), ("_lp_per_mm", "lp/mm"), ("_mm", "mm"), ("_ml", "mL"),
                         ("_percent_of_lv", "%"), ("_percent", "%"), ("_au", "au")):
        if key.endswith(suffix):
            return unit
    return "ratio" if key in ("snr", "cnr") else ""


@dataclass(frozen=True)
class Observation:
    """One value: ``measure`` of ``sequence`` in ``study`` (by ``reader``; "" for a single reading)."""

    study: str
    sequence: str
    measure: str
    value: float
    reader: str = ""
    kind: str = "metric"  # "metric" (continuous) or "score" (ordinal 1-5)
    unit: str = ""


@dataclass(frozen=True)
class MissingValue:
    study: str
    sequence: str
    measure: str
    reason: str
    reader: str = ""


@dataclass(frozen=True)
class ReportSource:
    study: str
    path: Path
    reader: str = ""


def read_report(path) -> dict:
    """A ``cardiac-lge qa`` report.json, with its schema and volume list checked."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"QA report not found: {path}")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CohortError(f"QA report {path} is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise CohortError(f"QA report {path} is not a JSON object.")
    for key in ("schema", "volumes"):
        if key not in document:
            raise ReportKeyError(f"QA report {path} has no key '{key}': not a cardiac-lge qa report.json.")
    if not str(document["schema"]).startswith(REPORT_SCHEMA_PREFIX):
        raise CohortError(f"QA report {path}: schema '{document['schema']}' is not {REPORT_SCHEMA_PREFIX}*.")
    names = []
    for index, volume in enumerate(document["volumes"]):
        if not isinstance(volume, dict) or not volume.get("name"):
            raise ReportKeyError(f"QA report {path}: volumes[{index}] has no key 'name'.")
        names.append(str(volume["name"]))
    if len(set(names)) != len(names):
        raise CohortError(f"QA report {path}: volume names repeat ({names}).")
    return document


def report_placeholders(document: dict) -> dict:
    settings = document.get("settings") or {}
    roles = settings.get("roles") or {}
    values = {role: roles.get(role) for role in ("lge", "remote", "blood", "myocardium")}
    lines = document.get("lines") or {}
    values["septum"] = next((name for name, line in lines.items() if (line or {}).get("kind") == "septum"), None)
    return values


class _Unavailable(Exception):
    """The report does not measure this metric at all (no such role / section)."""


def resolve_metric(document: dict, spec: MetricSpec, sequence: str, path) -> float | None:
    """The value of ``spec`` for ``sequence``; None when the report has it as null (not measurable).

    Raises ``_Unavailable`` when a placeholder has no value in this report, ReportKeyError naming
    the file and the key path when a key is missing."""
    fill = report_placeholders(document)
    parts = []
    for part in spec.template.split("/"):
        if part == "{sequence}":
            parts.append(sequence)
        elif part.startswith("{") and part.endswith("}"):
            value = fill.get(part[1:-1], "?unknown")
            if value == "?unknown":
                raise CohortError(f"Metric {spec.name}: unknown placeholder {part} (use {{sequence}}, {{septum}}, "
                                  "{lge}, {remote}, {blood}, {myocardium}).")
            if value is None:
                raise _Unavailable(f"the report names no {part[1:-1]} {'line' if part == '{septum}' else 'region'}")
            parts.append(str(value))
        else:
            parts.append(part)
    node = document
    for depth, key in enumerate(parts):
        if not isinstance(node, dict) or key not in node:
            if depth == 0 or (depth == 1 and not node):
                raise _Unavailable(f"the report has no '{'/'.join(parts[:depth + 1])}' section")
            raise ReportKeyError(f"QA report {path} has no key '{'/'.join(parts[:depth + 1])}' (needed for "
                                 f"{spec.name} of sequence '{sequence}').")
        node = node[key]
    if node is None:
        return None
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        raise ReportKeyError(f"QA report {path}: '{'/'.join(parts)}' is {node!r}, not a number.")
    if not math.isfinite(float(node)):
        return None
    return float(node)


def load_report_observations(sources, metrics=None) -> tuple[list[Observation], list[MissingValue], list[str]]:
    """Observations of ``metrics`` (default: ``DEFAULT_METRICS``) from every report.

    Default metrics that no report measures are skipped (with a note); one that some reports measure
    and others do not is an error naming the report. Explicitly asked metrics must be in every report.
    Returns (observations, missing (null) values, notes)."""
    sources = list(sources)
    if not sources:
        raise CohortError("No QA reports given.")
    seen = {}
    for source in sources:
        key = (source.study, source.reader)
        if key in seen:
            raise CohortError(f"Study '{source.study}'{' reader ' + source.reader if source.reader else ''} has two "
                              f"reports: {seen[key]} and {source.path}.")
        seen[key] = source.path
    explicit = metrics is not None
    specs = list(metrics) if explicit else list(DEFAULT_METRICS)
    documents = [(source, read_report(source.path)) for source in sources]
    observations, missing, notes = [], [], []
    for spec in specs:
        found, unavailable = [], []
        for source, document in documents:
            try:
                for volume in document["volumes"]:
                    sequence = str(volume["name"])
                    value = resolve_metric(document, spec, sequence, source.path)
                    if value is None:
                        missing.append(MissingValue(source.study, sequence, spec.name,
                                                    "null in its report (not measurable)", source.reader))
                    else:
                        found.append(Observation(source.study, sequence, spec.name, value, source.reader, "metric",
                                                 spec.unit))
            except _Unavailable as reason:
                unavailable.append((source, str(reason)))
        if unavailable and (explicit or len(unavailable) < len(documents)):
            source, reason = unavailable[0]
            raise ReportKeyError(f"QA report {source.path} (study '{source.study}') cannot give {spec.name}: {reason}"
                                 + ("." if explicit else f", while {len(documents) - len(unavailable)} other reports do."))
        if unavailable:
            notes.append(f"{spec.name} not analysed: no report measures it ({unavailable[0][1]}).")
            continue
        observations += found
    return observations, missing, notes


def score_observations(rows) -> list[Observation]:
    """Observations of exported reader scores (``reader_session.read_scores_csv`` / ``collect_scores``)."""
    observations, seen = [], {}
    for row in rows:
        value = row["score"]
        if isinstance(value, bool) or value not in SCORES:
            raise CohortError(f"Score {value!r} of {row['study']}/{row['sequence']} ({row['criterion']}, reader "
                              f"{row['reader']}) is not an integer 1-5.")
        key = (row["study"], row["sequence"], row["criterion"], row["reader"])
        if key in seen:
            raise CohortError(f"Reader {row['reader']} scored {row['criterion']} of {row['study']}/{row['sequence']} twice "
                              "(is a series listed twice in the study list?).")
        seen[key] = True
        observations.append(Observation(row["study"], row["sequence"], row["criterion"], float(value), row["reader"],
                                        "score", "score 1-5"))
    return observations


# ------------------------------------------------------------------------------------- statistics
def describe(values) -> dict:
    """n, median, quartiles (numpy linear interpolation), mean, SD (n−1), min, max of finite values."""
    data = np.asarray(list(values), dtype=float)
    if data.size == 0 or not np.all(np.isfinite(data)):
        raise CohortError("Descriptives need at least one finite value.")
    q1, median, q3 = np.percentile(data, [25, 50, 75])
    return {"n": int(data.size), "median": float(median), "q1": float(q1), "q3": float(q3), "iqr": float(q3 - q1),
            "mean": float(data.mean()), "sd": float(data.std(ddof=1)) if data.size > 1 else None,
            "min": float(data.min()), "max": float(data.max())}


def rank_biserial(differences) -> float | None:
    """Matched-pairs rank-biserial correlation (R+ − R−)/(R+ + R−) over the non-zero differences
    (average ranks of |d|; Kerby 2014). None when every difference is zero."""
    from scipy.stats import rankdata

    d = np.asarray(differences, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return None
    ranks = rankdata(np.abs(d))
    return float((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())


def paired_test(reference, other, ordinal: bool, test: str = "auto") -> dict:
    """Paired comparison of ``other`` against ``reference`` (same studies, same order); see the module
    docstring for the rule. Differences are other − reference. Raises CohortError for unequal pairs."""
    from scipy import stats

    if test not in TESTS:
        raise CohortError(f"test must be one of {TESTS}; got {test!r}.")
    x = np.asarray(reference, dtype=float)
    y = np.asarray(other, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise CohortError(f"Unequal pairs: {x.size} reference values vs {y.size} values of the other sequence; "
                          "a paired test needs one value of each per study.")
    if x.size < 2:
        raise CohortError(f"A paired comparison needs at least 2 pairs; got {x.size}.")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise CohortError("Paired values must be finite numbers.")
    d = y - x
    result = {"n": int(d.size), "median_difference": float(np.median(d)), "mean_difference": float(d.mean()),
              "normality_p": None, "ci_low": None, "ci_high": None, "warnings": []}
    if ordinal:
        chosen, reason = "wilcoxon", "ordinal scores: Wilcoxon signed-rank"
    elif test != "auto":
        chosen, reason = test, f"{'paired t-test' if test == 't' else 'Wilcoxon signed-rank'} requested"
    elif np.ptp(d) == 0:
        chosen, reason = "wilcoxon", "differences all equal: normality not testable, Wilcoxon signed-rank"
    elif d.size < 3:
        chosen, reason = "wilcoxon", "fewer than 3 pairs: normality not testable, Wilcoxon signed-rank"
    else:
        normality = float(stats.shapiro(d).pvalue)
        result["normality_p"] = normality
        if normality >= NORMALITY_ALPHA:
            chosen, reason = "t", f"Shapiro-Wilk p = {normality:.3g} >= {NORMALITY_ALPHA}: paired t-test"
        else:
            chosen, reason = "wilcoxon", f"Shapiro-Wilk p = {normality:.3g} < {NORMALITY_ALPHA}: Wilcoxon signed-rank"
    result["test_reason"] = reason
    if chosen == "t":
        if np.ptp(d) == 0:
            raise CohortError("A paired t-test is undefined when all differences are equal; use the Wilcoxon test.")
        outcome = stats.ttest_rel(y, x)
        interval = outcome.confidence_interval(0.95)
        result.update(test="paired t-test", statistic_name="t", statistic=float(outcome.statistic),
                      df=float(outcome.df), p_value=float(outcome.pvalue), effect_size_name="cohen_dz",
                      effect_size=float(d.mean() / d.std(ddof=1)), ci_low=float(interval.low),
                      ci_high=float(interval.high))
        return result
    nonzero = d[d != 0]
    result.update(effect_size_name="rank_biserial", effect_size=rank_biserial(d), statistic_name="W", df=None)
    if nonzero.size == 0:
        result.update(test="Wilcoxon signed-rank", statistic=None, p_value=1.0)
        result["warnings"].append("all differences are zero: no difference (p = 1)")
        return result
    ties = np.unique(np.abs(nonzero)).size < nonzero.size
    method = "exact" if (nonzero.size == d.size and not ties and d.size <= 50) else "approx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scipy's small-sample note; the method is stated instead
        outcome = stats.wilcoxon(y, x, zero_method="wilcox", method=method)
    label = "exact" if method == "exact" else "normal approximation, zeros dropped, tie-corrected"
    result.update(test=f"Wilcoxon signed-rank ({label})", statistic=float(outcome.statistic),
                  p_value=float(outcome.pvalue))
    if nonzero.size < d.size:
        result["warnings"].append(f"{d.size - nonzero.size} zero difference(s) dropped")
    if nonzero.size < 6:
        result["warnings"].append(f"only {nonzero.size} non-zero differences: the Wilcoxon test cannot reach p < 0.05")
    return result


def holm(p_values, alpha: float = 0.05) -> list[float]:
    """Holm-adjusted p-values (statsmodels ``multipletests(method="holm")``)."""
    from statsmodels.stats.multitest import multipletests

    values = [float(p) for p in p_values]
    if len(values) < 2:  # Holm over one test leaves it unchanged (and statsmodels' Holm runs gc.collect: slow)
        return values
    return [float(p) for p in multipletests(values, alpha=alpha, method="holm")[1]]


def weighted_kappa(ratings_a, ratings_b, weights: str | None = "linear", categories=SCORES) -> float | None:
    """Cohen's kappa of two readers' ratings of the same cases (``weights``: None, "linear",
    "quadratic"), from the full ``categories`` × ``categories`` table (statsmodels ``cohens_kappa``).
    None when undefined (both readers used one and the same category throughout)."""
    from statsmodels.stats.inter_rater import cohens_kappa

    a, b = list(ratings_a), list(ratings_b)
    if len(a) != len(b) or not a:
        raise CohortError(f"Kappa needs the same cases rated by both readers; got {len(a)} and {len(b)} ratings.")
    index = {category: i for i, category in enumerate(categories)}
    table = np.zeros((len(categories), len(categories)))
    for first, second in zip(a, b):
        if first not in index or second not in index:
            raise CohortError(f"Rating {first!r}/{second!r} is not one of the categories {tuple(categories)}.")
        table[index[first], index[second]] += 1
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        kappa = cohens_kappa(table, wt=weights, return_results=False)
    kappa = float(kappa)
    return kappa if math.isfinite(kappa) else None


def icc(ratings) -> dict:
    """Intraclass correlations of an n targets × k raters table without missing values (Shrout &
    Fleiss 1979, Psychol Bull 86:420, from the two-way ANOVA mean squares; names as McGraw & Wong 1996).

    Returns ICC(1,1), ICC(2,1), ICC(3,1), ICC(1,k), ICC(2,k), ICC(3,k) and n, k, the mean squares."""
    y = np.asarray(ratings, dtype=float)
    if y.ndim != 2 or y.shape[0] < 2 or y.shape[1] < 2:
        raise CohortError(f"ICC needs at least 2 targets x 2 raters; got shape {y.shape}.")
    if not np.all(np.isfinite(y)):
        raise CohortError("ICC needs a complete table (no missing values).")
    n, k = y.shape
    grand = y.mean()
    ss_total = ((y - grand) ** 2).sum()
    ss_rows = k * ((y.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((y.mean(axis=0) - grand) ** 2).sum()
    bms = ss_rows / (n - 1)
    wms = (ss_total - ss_rows) / (n * (k - 1))
    jms = ss_cols / (k - 1)
    ems = (ss_total - ss_rows - ss_cols) / ((n - 1) * (k - 1))

    def ratio(numerator, denominator):
        return float(numerator / denominator) if denominator > 0 else None

    return {"n": n, "k": k, "bms": float(bms), "wms": float(wms), "jms": float(jms), "ems": float(ems),
            "icc1_1": ratio(bms - wms, bms + (k - 1) * wms),
            "icc2_1": ratio(bms - ems, bms + (k - 1) * ems + k * (jms - ems) / n),
            "icc3_1": ratio(bms - ems, bms + (k - 1) * ems),
            "icc1_k": ratio(bms - wms, bms), "icc2_k": ratio(bms - ems, bms + (jms - ems) / n),
            "icc3_k": ratio(bms - ems, bms)}


# --------------------------------------------------------------------------------------- analysis
@dataclass(eq=False)
class CohortResult:
    """Everything ``cohort_analysis`` found; ``write`` puts it into CSV/JSON/PNG files."""

    reference: str
    sequences: list
    measures: list  # [{"measure", "kind", "unit", "label"}]
    descriptives: list = field(default_factory=list)
    comparisons: list = field(default_factory=list)
    agreement: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)  # measure -> sequence -> study -> value (reader mean)

    def comparison(self, measure: str, sequence: str) -> dict:
        for row in self.comparisons:
            if row["measure"] == measure and row["sequence"] == sequence:
                return row
        raise KeyError((measure, sequence))

    def study_codes(self) -> dict:
        """study name -> "study01", "study02", ... (sorted names): what the files show by default."""
        names = sorted({study for by_sequence in self.values.values() for by_study in by_sequence.values()
                        for study in by_study} | {s for row in self.comparisons for s in row.get("dropped_studies") or ()})
        return {name: f"study{number:02d}" for number, name in enumerate(names, start=1)}

    def as_json(self, keep_names: bool = True) -> dict:
        """Everything, as JSON; ``keep_names=False`` puts study codes (``study_codes``) in place of the study names."""
        codes = (lambda name: name) if keep_names else self.study_codes().get
        values = {measure: {sequence: {codes(study): value for study, value in by_study.items()}
                            for sequence, by_study in by_sequence.items()} for measure, by_sequence in self.values.items()}
        return _finite({"schema": "cardiaclge-cohort/1", "reference": self.reference, "sequences": self.sequences,
                        "measures": self.measures, "settings": self.settings, "descriptives": self.descriptives,
                        "comparisons": self._comparisons(codes), "agreement": self.agreement, "notes": self.notes,
                        "study_names": "kept" if keep_names else "replaced by study codes (cohort-stats --keep-names "
                                                                 "keeps them)",
                        "values": values})

    def _comparisons(self, codes) -> list:
        return [{**row, "dropped_studies": [codes(s) for s in row.get("dropped_studies") or ()]} for row in self.comparisons]

    def write(self, out_dir, figure: bool = True, keep_names: bool = False) -> dict:
        """Write the CSV, JSON and PNG files as one set (``write_files_together``: every file complete before any
        replaces its earlier version). Study names are replaced by study codes unless ``keep_names`` (the names,
        often folder names, may identify patients); the figure shows no study names."""
        out = make_output_folder(out_dir)
        codes = (lambda name: name) if keep_names else self.study_codes().get
        paths = {"summary": out / "cohort_summary.csv", "comparisons": out / "cohort_comparisons.csv",
                 "agreement": out / "cohort_agreement.csv", "json": out / "cohort.json"}
        with write_files_together() as files:
            files.write_text(paths["summary"], _csv_text(self.descriptives, SUMMARY_COLUMNS))
            files.write_text(paths["comparisons"], _csv_text(self._comparisons(codes), COMPARISON_COLUMNS))
            files.write_text(paths["agreement"], _csv_text(self.agreement, AGREEMENT_COLUMNS))
            files.write_text(paths["json"], json.dumps(self.as_json(keep_names), indent=2, allow_nan=False) + "\n")
            if figure:
                paths["figure"] = files.write(out / "cohort.png", lambda tmp: _save_figure(cohort_figure(self), tmp))
        return paths


SUMMARY_COLUMNS = ("measure", "kind", "unit", "sequence", "n", "median", "q1", "q3", "iqr", "mean", "sd", "min", "max")
COMPARISON_COLUMNS = ("measure", "kind", "unit", "sequence", "reference", "n", "test", "test_reason", "statistic_name",
                      "statistic", "df", "p_value", "p_holm", "significant_holm", "effect_size_name", "effect_size",
                      "median_difference", "mean_difference", "ci_low", "ci_high", "normality_p", "direction",
                      "dropped_studies", "warnings")
AGREEMENT_COLUMNS = ("measure", "kind", "statistic", "readers", "n", "value", "kappa_linear", "kappa_quadratic",
                     "kappa_unweighted", "exact_agreement", "icc2_1", "icc3_1", "note")


def _finite(value):
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _csv_text(rows, columns) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        plain = _finite(row)
        writer.writerow({k: _cell(plain.get(k)) for k in columns})
    return buffer.getvalue()


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def _study_values(observations, measure):
    """sequence -> study -> mean over readers."""
    table: dict = {}
    for obs in observations:
        if obs.measure == measure:
            table.setdefault(obs.sequence, {}).setdefault(obs.study, []).append(obs.value)
    return {seq: {study: float(np.mean(v)) for study, v in studies.items()} for seq, studies in table.items()}


def _names(items, limit: int = 8) -> str:
    items = sorted(items)
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def cohort_analysis(observations, reference: str, test: str = "auto", alpha: float = 0.05,
                    drop_incomplete: bool = False, missing=(), notes=()) -> CohortResult:
    """Descriptives, paired comparisons against ``reference`` with Holm correction, and inter-reader
    agreement of ``observations`` (see the module docstring)."""
    observations = list(observations)
    if not observations:
        raise CohortError("No observations to analyse (no QA report metric and no reader score).")
    if test not in TESTS:
        raise CohortError(f"test must be one of {TESTS}; got {test!r}.")
    if not 0 < alpha < 1:
        raise CohortError(f"alpha must be between 0 and 1; got {alpha}.")
    sequences = list(dict.fromkeys(obs.sequence for obs in observations))  # order of first appearance
    if reference not in sequences:
        raise CohortError(f"The reference sequence '{reference}' is not in the data (sequences: {', '.join(sequences)}).")
    sequences = [reference] + [s for s in sequences if s != reference]
    measures, kinds = [], {}
    for obs in observations:
        if obs.measure not in kinds:
            kinds[obs.measure] = obs.kind
            measures.append({"measure": obs.measure, "kind": obs.kind, "unit": obs.unit, "label": _label(obs.measure)})
        elif kinds[obs.measure] != obs.kind:
            raise CohortError(f"'{obs.measure}' is both a QA metric and a reader criterion: rename one.")
    missing_by = {}
    for item in missing:
        missing_by.setdefault((item.measure, item.sequence), {})[item.study] = item.reason
    result = CohortResult(reference, sequences, measures, notes=list(notes),
                          settings={"test": test, "alpha": alpha, "drop_incomplete": drop_incomplete,
                                    "normality_alpha": NORMALITY_ALPHA, "holm_family": "per measure",
                                    "reader_aggregate": "mean over readers per study and sequence",
                                    "quantiles": "numpy linear interpolation (type 7)"})
    for info in measures:
        measure, kind = info["measure"], info["kind"]
        values = _study_values(observations, measure)
        for (m, seq), studies in missing_by.items():  # a null in a report counts as a missing value
            if m == measure:
                for study in studies:
                    values.get(seq, {}).pop(study, None)
        result.values[measure] = values
        all_studies = set().union(*[set(v) for v in values.values()]) | {s for (m, _), st in missing_by.items()
                                                                         if m == measure for s in st}
        ref_values = values.get(reference, {})
        without_reference = all_studies - set(ref_values)
        if without_reference and not drop_incomplete:
            reasons = [missing_by.get((measure, reference), {}).get(s) for s in without_reference]
            why = f" ({next(r for r in reasons if r)})" if any(reasons) else ""
            raise CohortError(f"{_kind_word(kind)} '{measure}': study {_names(without_reference)} has no value for the "
                              f"reference sequence '{reference}'{why}. Every study needs the reference; remove the "
                              "study, choose another reference, or drop incomplete studies (--drop-incomplete).")
        for sequence in sequences:
            if values.get(sequence):
                result.descriptives.append({"measure": measure, "kind": kind, "unit": info["unit"],
                                            "sequence": sequence, **describe(values[sequence].values())})
        rows = []
        for sequence in sequences[1:]:
            seq_values = values.get(sequence, {})
            if not seq_values:
                continue
            paired = sorted(set(ref_values) & set(seq_values))
            dropped = sorted(all_studies - set(paired))
            if dropped and not drop_incomplete:
                lacking = sorted((all_studies - set(seq_values)) & set(ref_values)) or dropped
                reason = next((missing_by[(measure, sequence)][s] for s in lacking
                               if s in missing_by.get((measure, sequence), {})), "")
                raise CohortError(
                    f"Unequal pairs for {_kind_word(kind).lower()} '{measure}': sequence '{sequence}' has no value for "
                    f"study {_names(lacking)}{f' ({reason})' if reason else ''} (it has {len(seq_values)} of "
                    f"{len(all_studies)} studies). A paired comparison needs both series of every study: remove "
                    "those studies or pass --drop-incomplete.")
            if len(paired) < 2:
                result.notes.append(f"{measure}: {sequence} vs {reference} not compared: {len(paired)} paired stud"
                                    f"{'y' if len(paired) == 1 else 'ies'}.")
                continue
            outcome = paired_test([ref_values[s] for s in paired], [seq_values[s] for s in paired],
                                  ordinal=(kind == "score"), test=test)
            if dropped:
                outcome["warnings"].append(f"{len(dropped)} incomplete stud{'y' if len(dropped) == 1 else 'ies'} dropped")
            shift = outcome["median_difference"] or outcome["mean_difference"]
            direction = "higher" if shift > 0 else ("lower" if shift < 0 else "equal")
            rows.append({"measure": measure, "kind": kind, "unit": info["unit"], "sequence": sequence,
                         "reference": reference, **outcome, "direction": direction, "dropped_studies": dropped})
        for row, adjusted in zip(rows, holm([row["p_value"] for row in rows], alpha)):
            row["p_holm"] = adjusted
            row["significant_holm"] = bool(adjusted < alpha)
        result.comparisons += rows
    result.agreement = reader_agreement(observations)
    return result


def _kind_word(kind: str) -> str:
    return "Criterion" if kind == "score" else "Metric"


def _label(measure: str) -> str:
    from LGEResolutionQALib.study.reader_session import FORM

    for item in (*DEFAULT_METRICS, *FORM):
        if getattr(item, "key", getattr(item, "name", None)) == measure:
            return item.label
    return measure.replace("_", " ")


def reader_agreement(observations) -> list[dict]:
    """Weighted kappa per criterion and reader pair; ICC(2,1)/ICC(3,1) per metric with ≥ 2 readers."""
    rows = []
    by_measure: dict = {}
    for obs in observations:
        by_measure.setdefault((obs.measure, obs.kind), {}).setdefault(obs.reader, {})[(obs.study, obs.sequence)] = obs.value
    for (measure, kind), readers in by_measure.items():
        names = sorted(readers)
        if len(names) < 2:
            continue
        if kind == "score":
            for first, second in itertools.combinations(names, 2):
                common = sorted(set(readers[first]) & set(readers[second]))
                if not common:
                    continue
                a = [int(readers[first][c]) for c in common]
                b = [int(readers[second][c]) for c in common]
                linear, quadratic = weighted_kappa(a, b, "linear"), weighted_kappa(a, b, "quadratic")
                rows.append({"measure": measure, "kind": kind, "statistic": "weighted kappa (linear)",
                             "readers": f"{first} vs {second}", "n": len(common), "value": linear,
                             "kappa_linear": linear, "kappa_quadratic": quadratic,
                             "kappa_unweighted": weighted_kappa(a, b, None),
                             "exact_agreement": float(np.mean(np.asarray(a) == np.asarray(b))),
                             "note": "" if linear is not None else "undefined: both readers used a single category"})
        else:
            targets = sorted(set.intersection(*[set(readers[r]) for r in names]))
            if len(targets) < 2:
                rows.append({"measure": measure, "kind": kind, "statistic": "ICC(2,1)", "readers": " / ".join(names),
                             "n": len(targets), "note": "fewer than 2 series measured by every reader"})
                continue
            table = [[readers[r][t] for r in names] for t in targets]
            values = icc(table)
            rows.append({"measure": measure, "kind": kind, "statistic": "ICC(2,1) absolute agreement",
                         "readers": " / ".join(names), "n": len(targets), "value": values["icc2_1"],
                         "icc2_1": values["icc2_1"], "icc3_1": values["icc3_1"],
                         "note": f"targets: study x sequence; {len(names)} readers"})
    return rows


# ----------------------------------------------------------------------------------------- figure
def plot_cohort(result: CohortResult, path, columns: int = 4) -> Path:
    """Box + strip plot per measure (PNG, matplotlib Agg), each study's values joined by a grey line,
    the Holm-corrected p against the reference above each box (written atomically)."""
    figure = cohort_figure(result, columns)
    with atomic_path(path, suffix=".png") as temporary:
        _save_figure(figure, temporary)
    return Path(path)


def _save_figure(figure, path) -> None:
    import matplotlib.pyplot as plt

    try:
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)


def cohort_figure(result: CohortResult, columns: int = 4):
    """The matplotlib figure of ``plot_cohort`` (not saved)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measures = [m for m in result.measures if result.values.get(m["measure"])]
    if not measures:
        raise CohortError("Nothing to plot.")
    columns = max(1, min(columns, len(measures)))
    rows = int(math.ceil(len(measures) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.3 * columns, 3.1 * rows), squeeze=False, dpi=110)
    rng = np.random.default_rng(0)
    for ax, info in zip(axes.ravel(), measures):
        measure = info["measure"]
        values = result.values[measure]
        sequences = [s for s in result.sequences if values.get(s)]
        studies = sorted(set().union(*[set(values[s]) for s in sequences]))
        jitter = {study: rng.uniform(-0.12, 0.12) for study in studies}
        for study in studies:
            xs = [i + 1 + jitter[study] for i, s in enumerate(sequences) if study in values[s]]
            ys = [values[s][study] for s in sequences if study in values[s]]
            ax.plot(xs, ys, color="0.75", lw=0.6, zorder=1)
        ax.boxplot([list(values[s].values()) for s in sequences], positions=range(1, len(sequences) + 1),
                   widths=0.55, showfliers=False, zorder=2, medianprops={"color": "black"})
        for i, sequence in enumerate(sequences):
            ys = [values[sequence][study] for study in studies if study in values[sequence]]
            xs = [i + 1 + jitter[study] for study in studies if study in values[sequence]]
            ax.scatter(xs, ys, s=9, zorder=3, color=f"C{i}", alpha=0.8)
        top = max(max(v.values()) for v in values.values() if v)
        bottom = min(min(v.values()) for v in values.values() if v)
        if info["kind"] == "score":
            top, bottom = 5.0, 1.0
        span = (top - bottom) or 1.0
        for i, sequence in enumerate(sequences):
            if sequence == result.reference:
                ax.text(i + 1, top + 0.06 * span, "ref.", ha="center", fontsize=7)
                continue
            try:
                row = result.comparison(measure, sequence)
            except KeyError:
                continue
            p = row["p_holm"]
            text = ("p<0.001" if p < 0.001 else f"p={p:.2g}") + ("*" if row["significant_holm"] else "")
            ax.text(i + 1, top + 0.06 * span, text, ha="center", fontsize=7)
        ax.set_ylim(bottom - 0.08 * span, top + 0.2 * span)
        if info["kind"] == "score":
            ax.set_yticks(list(SCORES))
            ax.set_ylim(0.5, 5.9)
        ax.set_xticks(range(1, len(sequences) + 1))
        ax.set_xticklabels(sequences, rotation=20, fontsize=7)
        unit = info["unit"] if info["kind"] == "metric" else "score 1-5, reader mean"
        ax.set_title(f"{info['label']}", fontsize=8)
        ax.set_ylabel(unit, fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes.ravel()[len(measures):]:
        ax.axis("off")
    n_studies = len(set().union(*[set(v) for m in measures for v in result.values[m["measure"]].values()]))
    fig.suptitle(f"Cohort of {n_studies} studies: each sequence vs {result.reference} (Holm-corrected p, * < "
                 f"{result.settings.get('alpha', 0.05)}); grey lines join one study", fontsize=9)
    height = 3.1 * rows  # fixed margins (inches) instead of tight_layout: the same look, a fraction of the time
    fig.subplots_adjust(left=0.06, right=0.99, top=1 - 0.55 / height, bottom=0.6 / height, wspace=0.32,
                        hspace=0.95 / 3.1)
    return fig
