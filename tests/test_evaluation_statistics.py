"""The evaluation statistics on cases small enough to compute by hand.

Each case states the hand computation; several failed on the old code (the EER threshold
of tied scores came out at 0.75, interpolated towards a sentinel; "demonstrable" meant
target >= 1/n; there was no Clopper-Pearson bound).
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from kiosk.checkin.calibration_floor import binomial_cdf, clopper_pearson_upper, rule_of_three
from kiosk.evaluation.evaluation import (
    EvalResult,
    Pair,
    PairScore,
    auc,
    equal_error_rate,
    error_rates,
    fnmr_at_fmr,
    person_groups,
    summarise,
    threshold_for_fmr,
)


def a(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


# --- EER --------------------------------------------------------------------------
def test_eer_of_separated_scores_is_zero_at_the_lowest_genuine_score() -> None:
    # genuine 0.6, 0.8; impostor 0.2, 0.4. At t=0.6: FMR 0/2, FNMR 0/2 -> EER 0 at 0.6.
    assert equal_error_rate(a(0.6, 0.8), a(0.2, 0.4)) == (0.0, 0.6)


def test_eer_where_the_rates_meet_at_a_sample() -> None:
    # genuine 0.5, 0.9; impostor 0.3, 0.7. t=0.7: FMR 1/2 (0.7), FNMR 1/2 (0.5) -> 0.5 at 0.7.
    assert equal_error_rate(a(0.5, 0.9), a(0.3, 0.7)) == (0.5, 0.7)


def test_eer_of_identical_scores_sits_at_that_score() -> None:
    # Every score 0.5: at t<=0.5 FMR 1, FNMR 0; above, FMR 0, FNMR 1. The curves cross
    # half-way along that one step: EER 0.5 *at 0.5* (the old code said 0.75).
    eer, t = equal_error_rate(a(0.5, 0.5, 0.5), a(0.5, 0.5))
    assert eer == 0.5
    assert t == pytest.approx(0.5, abs=1e-12)


def test_eer_interpolates_between_operating_points() -> None:
    # genuine 0.4, 0.6; impostor 0.5. t=0.5: FMR 1, FNMR 1/2 (diff +1/2); t=0.6: FMR 0,
    # FNMR 1/2 (diff -1/2). Half-way: FMR 1/2 = FNMR 1/2, threshold 0.55.
    eer, t = equal_error_rate(a(0.4, 0.6), a(0.5))
    assert eer == pytest.approx(0.5)
    assert t == pytest.approx(0.55)


def test_eer_needs_both_kinds_of_pair() -> None:
    with pytest.raises(ValueError):
        equal_error_rate(a(0.5), a())


# --- thresholds and ties ----------------------------------------------------------------
def test_a_score_equal_to_the_threshold_matches() -> None:
    fmr, fnmr = error_rates(a(0.5, 0.7), a(0.5, 0.1), a(0.5))
    assert (fmr[0], fnmr[0]) == (0.5, 0.0)  # impostor 0.5 matches; no genuine is lost


def test_threshold_for_fmr_never_splits_tied_impostors() -> None:
    # Impostors 0.9, 0.8, 0.8, 0.7; target 1/2 allows 2 false matches, but the 2nd and 3rd
    # are tied at 0.8: a threshold that admits one admits both (FMR 3/4). The threshold
    # goes just above 0.8, admitting only 0.9: FMR 1/4.
    t = threshold_for_fmr(a(0.9, 0.8, 0.8, 0.7), 0.5)
    assert t == np.nextafter(0.8, 1.0)
    fmr, _ = error_rates(a(1.0), a(0.9, 0.8, 0.8, 0.7), a(t))
    assert fmr[0] == 0.25


def test_threshold_for_fmr_below_one_in_n_is_above_every_impostor() -> None:
    t = threshold_for_fmr(a(0.3, 0.45, 0.2), 1e-3)
    assert t == np.nextafter(0.45, 1.0)
    fnmr, t2 = fnmr_at_fmr(a(0.45, 0.46, 0.9), a(0.3, 0.45, 0.2), 1e-3)
    assert (fnmr, t2) == (pytest.approx(1 / 3), t)  # the genuine 0.45 tie is lost


# --- AUC --------------------------------------------------------------------------------
def test_auc_counts_ties_half_without_a_pairwise_matrix() -> None:
    # genuine 0.5, 0.9 vs impostor 0.5, 0.1: (0.5 vs 0.5) tie = 1/2, the other 3 wins.
    assert auc(a(0.5, 0.9), a(0.5, 0.1)) == pytest.approx(3.5 / 4)


def test_auc_memory_is_linear_in_the_pairs() -> None:
    rng = np.random.default_rng(0)
    g, i = rng.normal(0.6, 0.1, 5000), rng.normal(0.1, 0.1, 5000)
    tracemalloc.start()
    value = auc(g, i)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert 0.99 < value < 1.0
    assert peak < 2_000_000  # an n*m comparison matrix would be 25 MB


# --- rule of three and Clopper-Pearson --------------------------------------------------
def test_rule_of_three() -> None:
    assert rule_of_three(3000) == 1e-3
    assert rule_of_three(520) == pytest.approx(0.005769, abs=1e-6)
    with pytest.raises(ValueError):
        rule_of_three(0)


@pytest.mark.parametrize(
    ("errors", "trials", "upper"),
    [  # scipy.stats.beta.ppf(0.95, k + 1, n - k), published tables agree to 4 places
        (0, 10, 0.2588655508930522),
        (1, 10, 0.39416330243650466),
        (5, 10, 0.7775588989918706),
        (9, 10, 0.9948838031081763),
        (0, 520, 0.005744460728146217),
        (2, 1000, 0.006282284546723426),
        (0, 3000, 0.0009980790119965865),
    ],
)
def test_clopper_pearson_upper_matches_the_beta_quantile(
    errors: int, trials: int, upper: float
) -> None:
    assert clopper_pearson_upper(errors, trials) == pytest.approx(upper, rel=1e-9)


def test_clopper_pearson_edges() -> None:
    assert clopper_pearson_upper(10, 10) == 1.0
    # Zero errors: 1 - 0.05**(1/n), the exact form of the rule of three (3/n).
    assert clopper_pearson_upper(0, 300) == pytest.approx(1 - 0.05 ** (1 / 300))
    assert clopper_pearson_upper(0, 300) < rule_of_three(300)
    with pytest.raises(ValueError):
        clopper_pearson_upper(3, 2)


def test_binomial_cdf_by_hand() -> None:
    # n=3, p=1/2: P(X<=1) = (1 + 3) / 8.
    assert binomial_cdf(1, 3, 0.5) == pytest.approx(0.5)
    assert binomial_cdf(0, 4, 0.25) == pytest.approx(0.75**4)
    assert math.isclose(binomial_cdf(3, 3, 0.9), 1.0)


# --- summary ----------------------------------------------------------------------------
def _result(genuine: list[float], impostor: list[float]) -> EvalResult:
    scores = [PairScore(Pair(f"p{k}a.jpg", f"p{k}b.jpg", True), s) for k, s in enumerate(genuine)]
    scores += [
        PairScore(Pair(f"p{k}a.jpg", f"p{k + 1}b.jpg", False), s) for k, s in enumerate(impostor)
    ]
    names = {n for s in scores for n in (s.pair.a, s.pair.b)}
    return EvalResult(scores, [], len(names))


def test_summary_demonstrability_and_bounds() -> None:
    # 4 genuine, 6 impostor; at FMR 0.01 the threshold is above 0.4 (0 false matches).
    result = _result([0.9, 0.8, 0.7, 0.3], [0.1, 0.2, 0.2, 0.3, 0.35, 0.4])
    s = summarise(result, 0.01)
    assert s["min_demonstrable_fmr"] == 0.5  # 3 / 6
    assert s["demonstrable_at_fmr_0.01"] is False
    assert s["fmr_at_fmr_0.01"] == 0.0
    assert s["fmr_upper95_at_fmr_0.01"] == pytest.approx(1 - 0.05 ** (1 / 6))
    assert s["fnmr_at_fmr_0.01"] == 0.25  # the genuine 0.3 is below the threshold
    # People: pairs p0a-p0b ... p3a-p3b are genuine groups; impostor pairs join nobody.
    assert s["people"] == 4 + 5  # p0..p3 groups, plus p4a, p4b, p5a, p5b, p6b alone
    assert s["identities_from"] == "same-person pairs"


def test_summary_counts_people_from_identities() -> None:
    result = _result([0.9], [0.1])
    people = {"p0a.jpg": "ann", "p0b.jpg": "ann", "p1b.jpg": "bob"}
    s = summarise(result, 0.01, people)
    assert (s["people"], s["impostor_people"]) == (2, 2)


def test_person_groups_join_through_same_person_pairs() -> None:
    groups = person_groups([Pair("a", "b", True), Pair("b", "c", True), Pair("c", "d", False)])
    assert groups["a"] == groups["b"] == groups["c"] != groups["d"]
