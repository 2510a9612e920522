"""Cohort statistics checked against published worked examples and reference implementations.

* Wilcoxon signed-rank: scipy's documentation example (Fisher's paired corn data, 15 differences):
  W = 24, exact two-sided p = 0.041259765625; normal approximation p = 0.04088813291185591.
* Paired t-test: Student's sleep data (Cushny & Peebles; R's ``t.test(extra ~ group, data = sleep,
  paired = TRUE)`` in R's documentation): t = -4.0621, df = 9, p = 0.002833, 95% CI -2.4598858 to
  -0.7001142 (group 1 - group 2).
* Holm: R's ``p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm")`` = 0.03 0.06 0.06 0.02 (Holm 1979 step-down).
* Kappa: Wikipedia's worked example of Cohen's kappa (50 proposals, yes/no: 20, 5 / 10, 15) kappa = 0.4;
  the SAS PROC FREQ skin-condition example (two dermatologists, 4 categories) simple kappa = 0.3449;
  SAS output for a 3-category table (statsmodels' own test) weighted kappa (Cicchetti-Allison = linear)
  0.4701, simple 0.4842; R irr ``kappa2(anxiety[,2:3], "equal" / "squared")`` = 0.1459075 / 0.2520325.
* ICC: Shrout & Fleiss (1979) Table 2 (6 targets x 4 judges) with their Table 4 values ICC(1,1) .17,
  ICC(2,1) .29, ICC(3,1) .71, ICC(1,4) .44, ICC(2,4) .62, ICC(3,4) .91.
"""

from __future__ import annotations

import numpy as np
import pytest
from LGEResolutionQALib.study.cohort import (
    CohortError,
    Observation,
    cohort_analysis,
    describe,
    holm,
    icc,
    paired_test,
    rank_biserial,
    weighted_kappa,
)

CORN = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75]
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def _pairs(table, categories):
    """Rating pairs (a, b) from a contingency table (rows: reader a, columns: reader b)."""
    a, b = [], []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            a += [categories[i]] * count
            b += [categories[j]] * count
    return a, b


def test_wilcoxon_matches_scipy_documentation_example():
    exact = paired_test(np.zeros(len(CORN)), CORN, ordinal=False, test="wilcoxon")
    assert exact["test"] == "Wilcoxon signed-rank (exact)"
    assert exact["statistic"] == 24.0
    assert exact["p_value"] == pytest.approx(0.041259765625, abs=1e-12)
    assert exact["n"] == 15
    # R+ = 96, R- = 24 of 120: matched-pairs rank-biserial (96 - 24) / 120 = 0.6, positive: 'other' is higher.
    assert exact["effect_size_name"] == "rank_biserial" and exact["effect_size"] == pytest.approx(0.6)
    assert rank_biserial([-x for x in CORN]) == pytest.approx(-0.6)
    # A tie in |d| switches to the normal approximation (as scipy's 'approx' example: p = 0.04088813291185591).
    tied = paired_test(np.zeros(len(CORN) + 1), CORN + [6], ordinal=False, test="wilcoxon")
    assert "normal approximation" in tied["test"]
    from scipy.stats import wilcoxon

    assert wilcoxon(CORN, method="approx").pvalue == pytest.approx(0.04088813291185591)


def test_paired_t_matches_r_sleep_example():
    result = paired_test(SLEEP_2, SLEEP_1, ordinal=False, test="t")  # other - reference = group 1 - group 2
    assert result["test"] == "paired t-test"
    assert result["statistic"] == pytest.approx(-4.0621, abs=1e-4)
    assert result["df"] == 9
    assert result["p_value"] == pytest.approx(0.002833, abs=1e-6)
    assert result["ci_low"] == pytest.approx(-2.4598858, abs=1e-6)
    assert result["ci_high"] == pytest.approx(-0.7001142, abs=1e-6)
    assert result["mean_difference"] == pytest.approx(-1.58)
    d = np.subtract(SLEEP_1, SLEEP_2)
    assert result["effect_size"] == pytest.approx(d.mean() / d.std(ddof=1))


def test_automatic_rule_picks_the_test_by_shapiro_wilk_on_the_differences():
    auto = paired_test(SLEEP_2, SLEEP_1, ordinal=False)
    # The sleep differences: Shapiro-Wilk p = 0.033 < 0.05 -> Wilcoxon, and the reason says so.
    assert auto["test"].startswith("Wilcoxon") and "Shapiro-Wilk p = 0.033" in auto["test_reason"]
    rng = np.random.default_rng(0)
    base = rng.normal(10, 1, 30)
    normal = paired_test(base, base + 0.5 + rng.normal(0, 0.3, 30), ordinal=False)
    assert normal["test"] == "paired t-test" and normal["normality_p"] >= 0.05 and "t-test" in normal["test_reason"]
    scores = paired_test([3, 3, 4, 2, 3, 3, 4, 3], [4, 4, 5, 3, 4, 3, 5, 4], ordinal=True)
    assert scores["test"].startswith("Wilcoxon") and "ordinal" in scores["test_reason"]
    assert "1 zero difference(s) dropped" in scores["warnings"]


def test_unequal_pairs_and_degenerate_input_get_clear_messages():
    with pytest.raises(CohortError, match="Unequal pairs: 3 reference values vs 2"):
        paired_test([1, 2, 3], [1, 2], ordinal=False)
    with pytest.raises(CohortError, match="at least 2 pairs"):
        paired_test([1], [2], ordinal=False)
    same = paired_test([3, 4, 5], [3, 4, 5], ordinal=True)
    assert same["p_value"] == 1.0 and same["statistic"] is None and "all differences are zero" in same["warnings"][0]


def test_holm_matches_r_p_adjust():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([]) == []


def test_kappa_matches_published_examples():
    a, b = _pairs([[20, 5], [10, 15]], (1, 2))
    assert weighted_kappa(a, b, None, categories=(1, 2)) == pytest.approx(0.4)
    skin = [[10, 4, 1, 0], [5, 10, 12, 2], [2, 4, 12, 5], [0, 2, 6, 13]]
    a, b = _pairs(skin, (1, 2, 3, 4))
    assert weighted_kappa(a, b, None, categories=(1, 2, 3, 4)) == pytest.approx(0.3449, abs=5e-5)
    a, b = _pairs([[0, 4, 1], [0, 8, 0], [0, 1, 5]], (1, 2, 3))
    assert weighted_kappa(a, b, "linear", categories=(1, 2, 3)) == pytest.approx(0.4701, abs=5e-5)
    assert weighted_kappa(a, b, None, categories=(1, 2, 3)) == pytest.approx(0.4842, abs=5e-5)
    # R irr's anxiety data, raters 2 and 3 (irr drops the unused level 5: categories 1, 2, 3, 4, 6).
    rater2 = [3, 6, 4, 6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4]
    rater3 = [2, 1, 4, 4, 3, 2, 1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2]
    assert weighted_kappa(rater2, rater3, "linear", categories=(1, 2, 3, 4, 6)) == pytest.approx(0.1459075, abs=1e-6)
    assert weighted_kappa(rater2, rater3, "quadratic", categories=(1, 2, 3, 4, 6)) == pytest.approx(0.2520325, abs=1e-6)
    assert weighted_kappa([3, 3, 3], [3, 3, 3]) is None  # undefined, not NaN
    with pytest.raises(CohortError, match="not one of the categories"):
        weighted_kappa([1, 7], [1, 2])


def test_icc_matches_shrout_fleiss_table():
    ratings = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    values = icc(ratings)
    expected = {"icc1_1": 0.17, "icc2_1": 0.29, "icc3_1": 0.71, "icc1_k": 0.44, "icc2_k": 0.62, "icc3_k": 0.91}
    for key, value in expected.items():
        assert values[key] == pytest.approx(value, abs=0.005), key
    assert (values["n"], values["k"]) == (6, 4)
    with pytest.raises(CohortError, match="complete table"):
        icc([[1, 2], [3, float("nan")]])


def test_describe_gives_median_and_iqr():
    stats = describe([1, 2, 3, 4, 100])
    assert (stats["median"], stats["q1"], stats["q3"], stats["n"]) == (3, 2, 4, 5)


def _obs(study, sequence, value, measure="sharpness", kind="metric", reader=""):
    return Observation(study, sequence, measure, float(value), reader, kind, "1/mm" if kind == "metric" else "")


def test_cohort_refuses_a_study_without_the_reference_and_unequal_pairs():
    data = [_obs(f"P{i}", s, 1 + i + (0.5 if s == "HR" else 0)) for i in range(6) for s in ("NR", "HR")]
    result = cohort_analysis(data, "NR")
    row = result.comparison("sharpness", "HR")
    assert row["n"] == 6 and row["direction"] == "higher" and row["p_holm"] == row["p_value"]
    without_reference = data + [_obs("P9", "HR", 3.0)]
    with pytest.raises(CohortError, match="study P9 has no value for the reference sequence 'NR'"):
        cohort_analysis(without_reference, "NR")
    unequal = data + [_obs("P9", "NR", 3.0)]
    with pytest.raises(CohortError, match="Unequal pairs .* sequence 'HR' has no value for study P9"):
        cohort_analysis(unequal, "NR")
    dropped = cohort_analysis(unequal, "NR", drop_incomplete=True).comparison("sharpness", "HR")
    assert dropped["n"] == 6 and dropped["dropped_studies"] == ["P9"] and "1 incomplete study dropped" in dropped["warnings"]
    with pytest.raises(CohortError, match="reference sequence 'NR-IR' is not in the data"):
        cohort_analysis(data, "NR-IR")


def test_holm_is_applied_within_each_measure():
    rng = np.random.default_rng(1)
    data = []
    for i in range(12):
        base = rng.normal(5, 1)
        for sequence, shift in (("NR", 0.0), ("HR-A", 1.0), ("HR-B", 0.05), ("HR-C", 0.8)):
            data.append(_obs(f"P{i:02d}", sequence, base + shift + rng.normal(0, 0.2)))
    result = cohort_analysis(data, "NR")
    rows = [result.comparison("sharpness", s) for s in ("HR-A", "HR-B", "HR-C")]
    assert [r["p_holm"] for r in rows] == pytest.approx(holm([r["p_value"] for r in rows]))
    assert rows[0]["significant_holm"] and rows[2]["significant_holm"]
