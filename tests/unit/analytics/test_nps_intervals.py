"""Tests for analytics.nps: hand computations, independent checks and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from analytics.nps import (
    METHODS,
    NPSResult,
    nps_interval,
    nps_interval_arrays,
    nps_intervals,
    raw_nps_interval,
)

Z95 = float(norm.ppf(0.975))  # 1.959964...

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


# --------------------------------------------------------------------------- hand computations


def test_the_wald_interval_matches_a_hand_computation() -> None:
    # P=50, A=30, D=20, n=100: p_P = 0.5, p_D = 0.2, NPS = 0.3 -> 30.
    # Var = (p_P + p_D - (p_P - p_D)^2) / n = (0.5 + 0.2 - 0.09) / 100 = 0.0061
    # SE = sqrt(0.0061) = 0.078102; half-width = 1.959964 * 0.078102 = 0.153078
    # 95% interval = 30 +/- 15.3078 = [14.6922, 45.3078].
    result = nps_interval(50, 30, 20, method="wald")
    assert result.nps == pytest.approx(30.0)
    assert result.ci_low == pytest.approx(14.6922, abs=1e-3)
    assert result.ci_high == pytest.approx(45.3078, abs=1e-3)
    assert result.ci_low == pytest.approx(30 - 100 * Z95 * math.sqrt(0.0061), abs=1e-9)


def test_the_wald_interval_is_two_sided() -> None:
    # 90% uses z = 1.644854 (not 1.281552): half-width = 1.644854 * 0.078102 = 0.128467.
    result = nps_interval(50, 30, 20, confidence=0.90, method="wald")
    assert result.ci_high == pytest.approx(30 + 12.8467, abs=1e-3)


def test_the_wald_interval_is_clipped_to_the_scale() -> None:
    # P=9, A=0, D=1, n=10: NPS 0.8, Var = (0.9+0.1-0.64)/10 = 0.036, SE 0.18974,
    # upper = 0.8 + 1.96*0.18974 = 1.1719 -> clipped to 1.
    result = nps_interval(9, 0, 1, method="wald")
    assert result.ci_high == 100.0
    assert result.ci_low == pytest.approx(100 * (0.8 - Z95 * math.sqrt(0.036)), abs=1e-9)


def test_the_adjusted_wald_interval_matches_a_hand_computation() -> None:
    # P=50, A=30, D=20 -> adjusted P'=50.75, A'=31.5, D'=20.75, n'=103.
    # p_P' = 50.75/103 = 0.492718, p_D' = 20.75/103 = 0.201456, diff = 0.291262
    # Var = (0.492718 + 0.201456 - 0.291262^2) / 103 = (0.694175 - 0.084834) / 103 = 0.0059159
    # SE = 0.076915; half-width = 1.959964 * 0.076915 = 0.150751
    # interval = [0.140511, 0.442013] -> [14.05, 44.20]; the reported NPS stays the raw 30.
    result = nps_interval(50, 30, 20, method="adjusted-wald")
    assert result.nps == pytest.approx(30.0)
    assert result.ci_low == pytest.approx(14.051, abs=1e-2)
    assert result.ci_high == pytest.approx(44.201, abs=1e-2)


# --------------------------------------------------------------------------- published examples
#
# NPS as paired proportions: each respondent is one "pair" (promoter?, detractor?). A promoter
# is the discordant pair (yes, no), a detractor the discordant pair (no, yes) and a passive a
# concordant pair, so in the paired 2x2 table [[n11, n12], [n21, n22]] promoters = n12,
# detractors = n21, passives = n11 + n22 and n = the table total. The NPS (as a fraction) is
# then exactly the difference of the paired marginals, (n12 - n21) / n, which is what Tango's
# (1998) score interval and the paired Wald interval are for. Published paired-table examples
# therefore check the `score` and `wald` methods directly, with passives = n11 + n22.


def test_score_reproduces_fagerland_lydersen_laake_2014_table_v() -> None:
    """Fagerland MW, Lydersen S, Laake P (2014). Recommended tests and confidence intervals
    for paired binomial proportions. Statistics in Medicine 33(16):2850-2875,
    doi:10.1002/sim.6148. Table II: airway hyper-responsiveness before and after stem cell
    transplantation (Bentur et al. 2009), [[n11, n12], [n21, n22]] = [[1, 1], [7, 12]],
    n = 21; the estimate is (1 - 7) / 21 = -0.286. Table V gives Tango's asymptotic score
    interval for the difference as (-0.517, -0.026). (Seen quoted, with "Fagerland Table V",
    in the validation program V_PAIRBINCI.SAS of Pete Laud's `ratesci` project, which
    replicates published examples; the paper itself was not retrievable here.)
    Mapping: promoters = n12 = 1, detractors = n21 = 7, passives = n11 + n22 = 13."""
    nps, low, high = raw_nps_interval(1, 13, 7, confidence=0.95, method="score")
    assert round(nps / 100, 3) == -0.286
    assert round(low / 100, 3) == -0.517
    assert round(high / 100, 3) == -0.026


def test_score_and_wald_reproduce_the_cavo_2012_example() -> None:
    """Complete response before and after consolidation therapy (Cavo et al. 2012), the
    paired example of Fagerland MW, Lydersen S, Laake P (2017), Statistical Analysis of
    Contingency Tables, Chapman & Hall/CRC, Chapter 8 "The Paired 2x2 Table":
    [[n11, n12], [n21, n22]] = [[59, 6], [16, 80]], n = 161. The book's companion R package
    `contingencytables` (github.com/ocbe-uio/contingencytables, tests/testthat/test-ch8.R)
    checks its output for this table to four decimals:
    Tango asymptotic score CI: estimate -0.0621 (95% CI -0.1240 to -0.0054);
    Wald CI: estimate -0.0621 (95% CI -0.1184 to -0.0058).
    Mapping: promoters = n12 = 6, detractors = n21 = 16, passives = 59 + 80 = 139."""
    nps, low, high = raw_nps_interval(6, 139, 16, confidence=0.95, method="score")
    assert round(nps / 100, 4) == -0.0621
    assert round(low / 100, 4) == -0.1240
    assert round(high / 100, 4) == -0.0054
    nps, low, high = raw_nps_interval(6, 139, 16, confidence=0.95, method="wald")
    assert round(nps / 100, 4) == -0.0621
    assert round(low / 100, 4) == -0.1184
    assert round(high / 100, 4) == -0.0058


# No published worked example with numbers was found for the adjusted-Wald NPS interval
# (Sauro and Lewis; Rocks 2016, The American Statistician 70(4):365-372, arXiv:1601.07235;
# MeasuringU, "Confidence Intervals for Net Promoter Scores", measuringu.com/nps-confidence-
# intervals/, and "Evaluating NPS Confidence Intervals with Real-World Data"): the parts of
# those pages that could be read here describe the method ("add a constant of 3 to the sample
# size, 3/4 to the number of detractors, and 3/4 to the number of promoters") but not their
# example figures. Rocks's R package NPS (github.com/brendan-r/NPS, `nps_test(test =
# "adjusted.wald")`, seen on rdrr.io) implements the same variant (pseudo-observations 0.75,
# 1.5, 0.75 for detractors, passives, promoters) without a worked example. So it is checked
# against the hand computation above and the properties below only.


# --------------------------------------------------------------------------- score (Tango 1998)


def _brute_force_score_interval(b: int, c: int, n: int, z: float) -> tuple[float, float]:
    """Invert Tango's score test on a fine grid by an independent code path.

    No published Tango (1998) / Newcombe (1998) numbers were available to check against, so
    this is the independent check: the restricted MLE of p21 under each delta is found by
    bisection on the derivative of the multinomial log-likelihood
    ``b log(p21 + delta) + c log(p21) + (n - b - c) log(1 - 2 p21 - delta)`` (not by the
    closed-form quadratic root used in the implementation); the variance is then written as
    ``n (p12 + p21 - delta^2)``.  The interval is the set of grid points with |Z| <= z.
    """
    delta = np.linspace(-1.0, 1.0, 40001)
    lo = np.maximum(0.0, -delta)
    hi = (1.0 - delta) / 2.0
    rest = n - b - c

    def dloglik(q: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = np.where(b > 0, b / (q + delta), 0.0)
            t2 = np.where(c > 0, c / q, 0.0)
            t3 = np.where(rest > 0, 2.0 * rest / (1.0 - 2.0 * q - delta), 0.0)
            # At delta = +/-1 the feasible range is a single point and inf - inf is nan;
            # nan compares False, which is harmless there.
            return t1 + t2 - t3

    a, z_hi = lo.copy(), hi.copy()
    for _ in range(80):
        mid = (a + z_hi) / 2.0
        positive = dloglik(mid) > 0
        a = np.where(positive, mid, a)
        z_hi = np.where(positive, z_hi, mid)
    p21 = (a + z_hi) / 2.0
    p12 = p21 + delta
    var = n * (p12 + p21 - delta**2)
    num = b - c - n * delta
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(var > 1e-15, num / np.sqrt(np.maximum(var, 1e-300)), np.inf)
    stat = np.where((var <= 1e-15) & (np.abs(num) < 1e-9), 0.0, stat)
    accepted = delta[np.abs(stat) <= z]
    return float(accepted.min()), float(accepted.max())


@pytest.mark.parametrize(
    ("promoters", "passives", "detractors"),
    [(50, 30, 20), (40, 100, 20), (3, 1, 1), (0, 10, 0), (10, 0, 0), (1, 0, 0), (2, 0, 7)],
)
def test_the_score_interval_matches_a_brute_force_inversion_of_the_score_test(
    promoters: int, passives: int, detractors: int
) -> None:
    """Independent check (no trusted published number found): grid inversion, step 5e-5."""
    n = promoters + passives + detractors
    low, high = _brute_force_score_interval(promoters, detractors, n, Z95)
    _, got_low, got_high = raw_nps_interval(promoters, passives, detractors, method="score")
    assert got_low / 100 == pytest.approx(low, abs=6e-5)
    assert got_high / 100 == pytest.approx(high, abs=6e-5)


def test_the_score_interval_with_only_passives_matches_its_closed_form() -> None:
    # b = c = 0: the restricted MLE is p21 = 0 for delta > 0, so Z = -sqrt(n d / (1 - d)),
    # and |Z| = z gives d = z^2 / (n + z^2). n = 10: 3.841459 / 13.841459 = 0.277533.
    _, low, high = raw_nps_interval(0, 10, 0, method="score")
    bound = Z95**2 / (10 + Z95**2)
    assert high / 100 == pytest.approx(bound, abs=1e-9)
    assert low / 100 == pytest.approx(-bound, abs=1e-9)


def test_the_score_interval_with_only_promoters_matches_its_closed_form() -> None:
    # b = n, c = 0: p21 = (1 - d) / 2, Var = n (1 - d^2), Z = sqrt(n (1 - d) / (1 + d)).
    # Z = z gives d = (n - z^2) / (n + z^2); n = 10: 6.158541 / 13.841459 = 0.444934.
    _, low, high = raw_nps_interval(10, 0, 0, method="score")
    assert high == 100.0
    assert low / 100 == pytest.approx((10 - Z95**2) / (10 + Z95**2), abs=1e-9)


def test_the_score_interval_reaches_minus_100_when_everyone_is_a_detractor() -> None:
    _, low, high = raw_nps_interval(0, 0, 10, method="score")
    assert low == -100.0
    assert high / 100 == pytest.approx(-(10 - Z95**2) / (10 + Z95**2), abs=1e-9)


def test_the_score_interval_covers_close_to_the_nominal_level() -> None:
    # p = (0.5, 0.3, 0.2) -> true NPS 30; n = 50; 2,000 trinomial draws with a fixed seed.
    rng = np.random.default_rng(20260522)
    draws = rng.multinomial(50, [0.5, 0.3, 0.2], size=2000)
    rows, counts = np.unique(draws, axis=0, return_counts=True)
    covered = 0
    for (p, a, d), weight in zip(rows.tolist(), counts.tolist(), strict=True):
        _, low, high = raw_nps_interval(p, a, d, method="score")
        if low <= 30.0 <= high:
            covered += weight
    coverage = covered / 2000
    assert 0.93 <= coverage <= 0.97


# --------------------------------------------------------------------------- precision flags


@pytest.mark.parametrize(
    ("counts", "precision"),
    [((2, 1, 1), "counts_only"), ((2, 2, 1), "low"), ((15, 9, 5), "low"), ((15, 10, 5), "ok")],
)
def test_the_precision_flag_follows_the_sample_size(
    counts: tuple[int, int, int], precision: str
) -> None:
    result = nps_interval(*counts)
    assert result.n == sum(counts)
    assert result.precision == precision
    if precision == "counts_only":
        assert (result.nps, result.ci_low, result.ci_high) == (None, None, None)
    else:
        assert result.nps is not None and result.ci_low is not None


def test_the_result_is_a_frozen_record_of_the_inputs() -> None:
    result = nps_interval(5, 3, 2, confidence=0.9, method="wald")
    assert isinstance(result, NPSResult)
    assert (result.promoters, result.passives, result.detractors) == (5, 3, 2)
    assert (result.method, result.confidence) == ("wald", 0.9)
    with pytest.raises(AttributeError):
        result.nps = 0.0  # type: ignore[misc]


def test_the_default_method_is_the_score_interval() -> None:
    assert nps_interval(50, 30, 20).method == "score"


def test_no_responses_show_counts_only() -> None:
    result = nps_interval(0, 0, 0)
    assert result.precision == "counts_only"
    assert result.nps is None


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "counts", [(-1, 2, 3), (1.5, 2, 3), (1, "2", 3), (True, 2, 3), (1, 2, None)]
)
def test_bad_counts_are_rejected(counts: tuple[object, object, object]) -> None:
    with pytest.raises(ValueError):
        nps_interval(*counts)  # type: ignore[arg-type]


def test_an_unknown_method_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        nps_interval(5, 5, 5, method="bootstrap")


@pytest.mark.parametrize("confidence", [0.0, 1.0, -0.1, 1.5, math.nan])
def test_a_confidence_outside_zero_and_one_is_rejected(confidence: float) -> None:
    with pytest.raises(ValueError):
        nps_interval(5, 5, 5, confidence=confidence)


def test_any_confidence_level_in_zero_to_one_is_accepted() -> None:
    narrow = nps_interval(50, 30, 20, confidence=0.01)
    wide = nps_interval(50, 30, 20, confidence=0.9999)
    assert narrow.ci_high - narrow.ci_low < wide.ci_high - wide.ci_low  # type: ignore[operator]


# --------------------------------------------------------------------------- properties

counts_strategy = st.tuples(st.integers(0, 300), st.integers(0, 300), st.integers(0, 300)).filter(
    lambda t: sum(t) >= 1
)
confidence_strategy = st.floats(0.5, 0.999)
method_strategy = st.sampled_from(METHODS)
TOL = 1e-7


@PROPERTY_SETTINGS
@given(counts=counts_strategy, confidence=confidence_strategy, method=method_strategy)
def test_the_interval_is_ordered_and_on_the_scale(
    counts: tuple[int, int, int], confidence: float, method: str
) -> None:
    nps, low, high = raw_nps_interval(*counts, confidence=confidence, method=method)
    assert -100.0 <= low <= high <= 100.0
    if method != "adjusted-wald":  # adjusted-wald is centred on the adjusted estimate
        assert low - TOL <= nps <= high + TOL


@PROPERTY_SETTINGS
@given(counts=counts_strategy, pair=st.tuples(confidence_strategy, confidence_strategy))
def test_higher_confidence_never_gives_a_narrower_interval(
    counts: tuple[int, int, int], pair: tuple[float, float]
) -> None:
    lower_level, higher_level = sorted(pair)
    for method in METHODS:
        _, lo1, hi1 = raw_nps_interval(*counts, confidence=lower_level, method=method)
        _, lo2, hi2 = raw_nps_interval(*counts, confidence=higher_level, method=method)
        assert hi2 - lo2 >= hi1 - lo1 - TOL
        assert lo2 <= lo1 + TOL and hi2 >= hi1 - TOL


@PROPERTY_SETTINGS
@given(counts=counts_strategy.filter(lambda t: sum(t) >= 10), confidence=confidence_strategy)
def test_multiplying_all_counts_by_four_narrows_the_interval(
    counts: tuple[int, int, int], confidence: float
) -> None:
    bigger = tuple(4 * x for x in counts)
    for method in METHODS:
        _, lo1, hi1 = raw_nps_interval(*counts, confidence=confidence, method=method)
        _, lo4, hi4 = raw_nps_interval(*bigger, confidence=confidence, method=method)
        if method == "wald" and hi1 == lo1:  # degenerate zero-width Wald (all one category)
            assert hi4 == lo4
        else:
            assert hi4 - lo4 < hi1 - lo1


@PROPERTY_SETTINGS
@given(counts=counts_strategy, confidence=confidence_strategy, method=method_strategy)
def test_swapping_promoters_and_detractors_negates_the_interval(
    counts: tuple[int, int, int], confidence: float, method: str
) -> None:
    p, a, d = counts
    nps, low, high = raw_nps_interval(p, a, d, confidence=confidence, method=method)
    nps_s, low_s, high_s = raw_nps_interval(d, a, p, confidence=confidence, method=method)
    assert nps_s == pytest.approx(-nps, abs=1e-9)
    assert low_s == pytest.approx(-high, abs=1e-6)
    assert high_s == pytest.approx(-low, abs=1e-6)


# --------------------------------------------------------------------------- many at once


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.999])
def test_the_batch_function_agrees_with_one_at_a_time(method: str, confidence: float) -> None:
    rng = np.random.default_rng(7)
    rows = [tuple(int(x) for x in r) for r in rng.integers(0, 60, size=(400, 3))]
    rows += [(0, 0, 0), (2, 1, 1), (5, 0, 0), (0, 0, 5), (0, 5, 0), (1, 13, 7), (6, 139, 16)]
    rows += [(300, 0, 1), (1, 0, 300), (0, 10, 0), (10, 0, 0), (1, 0, 0), (2, 0, 7)]
    batch = nps_intervals(rows, confidence=confidence, method=method)
    assert len(batch) == len(rows)
    for counts, got in zip(rows, batch, strict=True):
        want = nps_interval(*counts, confidence=confidence, method=method)
        assert (got.n, got.precision, got.method) == (want.n, want.precision, want.method)
        assert (got.promoters, got.passives, got.detractors) == counts
        if want.nps is None:
            assert (got.nps, got.ci_low, got.ci_high) == (None, None, None)
        else:
            assert got.nps == pytest.approx(want.nps, abs=1e-9)
            assert got.ci_low == pytest.approx(want.ci_low, abs=1e-8)
            assert got.ci_high == pytest.approx(want.ci_high, abs=1e-8)


def test_the_batch_function_validates_like_the_single_one() -> None:
    assert nps_intervals([]) == []
    with pytest.raises(ValueError):
        nps_intervals([(1, 2, 3), (-1, 2, 3)])
    with pytest.raises(ValueError, match="unknown method"):
        nps_intervals([(5, 5, 5)], method="bootstrap")
    with pytest.raises(ValueError):
        nps_intervals([(5, 5, 5)], confidence=1.0)


@pytest.mark.parametrize("method", METHODS)
def test_the_arrays_hold_what_the_results_hold(method: str) -> None:
    rows = [(3, 1, 1), (0, 0, 2), (3, 1, 1), (40, 10, 2), (1, 2, 1), (0, 0, 2), (9, 0, 30)]
    arrays = nps_interval_arrays(rows, confidence=0.9, method=method)
    results = nps_intervals(rows, confidence=0.9, method=method)
    assert arrays.n.tolist() == [r.n for r in results]
    assert arrays.promoters.tolist() == [r.promoters for r in results]
    assert arrays.passives.tolist() == [r.passives for r in results]
    assert arrays.detractors.tolist() == [r.detractors for r in results]
    assert arrays.precision == [r.precision for r in results]
    for i, result in enumerate(results):
        if result.nps is None:
            assert np.isnan([arrays.nps[i], arrays.ci_low[i], arrays.ci_high[i]]).all()
        else:
            assert arrays.nps[i] == result.nps
            assert (arrays.ci_low[i], arrays.ci_high[i]) == (result.ci_low, result.ci_high)
    # a triple that repeats gets the very same figures each time
    assert (arrays.ci_low[0], arrays.ci_high[0]) == (arrays.ci_low[2], arrays.ci_high[2])


def test_counts_too_large_for_one_key_still_get_their_intervals() -> None:
    # 3,000,000 cubed overflows a 64-bit key: the rows are told apart as rows instead
    rows = [(3_000_000, 1, 2_000_000), (5, 5, 5), (3_000_000, 1, 2_000_000), (5, 5, 5)]
    batch = nps_intervals(rows)
    for counts, got in zip(rows, batch, strict=True):
        want = nps_interval(*counts)
        assert got.nps == pytest.approx(want.nps, abs=1e-9)
        assert got.ci_low == pytest.approx(want.ci_low, abs=1e-8)
        assert got.ci_high == pytest.approx(want.ci_high, abs=1e-8)
    assert batch[0] == batch[2] and batch[1] == batch[3]


def test_no_triples_give_empty_arrays() -> None:
    arrays = nps_interval_arrays([])
    assert arrays.n.shape == arrays.nps.shape == (0,)
    assert arrays.precision == []
