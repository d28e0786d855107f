"""dlcode.stats against SciPy, and its errors."""

import numpy as np
import pytest
from scipy import stats as st

from dlcode.stats import compare, repeat, summarize, t975, wilson_interval


@pytest.mark.parametrize("n", [2, 3, 5, 8, 31, 100])
def test_summary_interval_equals_scipy_t_interval(n):
    x = np.random.default_rng(n).normal(1.0, 2.0, size=n)
    s = summarize(x)
    lo, hi = st.t.interval(0.95, n - 1, loc=x.mean(), scale=st.sem(x))
    assert s.n == n and np.isclose(s.mean, x.mean()) and np.isclose(s.std, x.std(ddof=1))
    assert abs(s.lo - lo) < 1e-3 * (hi - lo) and abs(s.hi - hi) < 1e-3 * (hi - lo)


def test_compare_is_the_paired_interval():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=7), rng.normal(size=7)
    c = compare(a, b)
    ref = st.ttest_rel(a, b).confidence_interval(0.95)
    assert np.isclose(c.lo, ref.low, atol=1e-3) and np.isclose(c.hi, ref.high, atol=1e-3)
    # the verdict flips with the order of the arguments
    assert np.isclose(compare(b, a).lo, -c.hi)


def test_paired_detects_shared_noise_effect_that_unpaired_does_not():
    rng = np.random.default_rng(2)
    base = rng.normal(0, 1, size=6)
    a, b = base + 0.1 + rng.normal(0, 0.01, 6), base + rng.normal(0, 0.01, 6)
    assert compare(a, b).lo > 0
    assert summarize(a).lo < summarize(b).hi  # the unpaired intervals overlap


def test_wilson_against_statsmodels_formula_and_edges():
    # values of the closed form (also statsmodels' proportion_confint(method="wilson"))
    lo, hi = wilson_interval(359, 359)
    assert abs(lo - 359 / (359 + 1.96**2)) < 1e-12 and hi == 1.0
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and 0.25 < hi < 0.35
    lo, hi = wilson_interval(50, 100)
    assert np.isclose(0.5 - lo, hi - 0.5) and 0.40 < lo < 0.41


@pytest.mark.parametrize("df", [1, 4, 30, 31, 45, 1000])
def test_t975(df):
    assert abs(t975(df) - st.t.ppf(0.975, df)) < 1e-3


def test_repeat_stacks_results_in_seed_order():
    out = repeat(lambda s: [s, 2 * s], seeds=3)
    assert out.shape == (3, 2) and out[:, 1].tolist() == [0, 2, 4]
    assert repeat(float, seeds=[4, 7]).tolist() == [4.0, 7.0]


@pytest.mark.parametrize("call, match", [
    (lambda: summarize([1.0]), "at least 2"),
    (lambda: summarize([1.0, np.nan]), "values contains NaN"),
    (lambda: summarize([[1.0, 2.0]]), "values must be 1-dimensional"),
    (lambda: summarize(["a", "b"]), "values must be a real numeric array"),
    (lambda: compare([1, 2, 3], [1, 2]), "pair up"),
    (lambda: wilson_interval(5, 4), "successes must be an integer in"),
    (lambda: wilson_interval(1.0, 4), "successes must be an integer"),
    (lambda: wilson_interval(0, 0), "trials"),
    (lambda: repeat(3), "experiment must be callable"),
    (lambda: repeat(float, seeds=1), "seeds"),
    (lambda: t975(0), "df"),
])
def test_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
