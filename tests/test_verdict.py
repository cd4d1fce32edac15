"""The sweep verdict's statistics against values known independently of scipy: Student's sleep data
(R's `t.test(..., paired = TRUE)`), a t interval worked by hand, and the closed form of the t
distribution with 4 degrees of freedom for the two one-sided tests."""

import math

import pytest

from report import verdict

# Student (1908), R's `sleep` data: extra hours of sleep with two drugs, the same ten patients
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def t4_cdf(t):
    """The t distribution's CDF for 4 degrees of freedom, in closed form."""
    x = t / math.sqrt(4 + t * t)
    return 0.5 + 0.75 * x * (1 - x * x / 3)


def test_summary_of_one_to_five():
    stats = verdict.summary([0.1, 0.2, 0.3, 0.4, 0.5], target=0.25)
    # mean 0.3, sd sqrt(0.025) = 0.158114, t(0.975, 4) = 2.776445: 0.3 +- 0.196324
    assert stats["n"] == 5 and stats["mean"] == pytest.approx(0.3)
    assert stats["sd"] == pytest.approx(0.158114, rel=1e-5)
    assert stats["ci"] == pytest.approx((0.103676, 0.496324), rel=1e-5)
    assert stats["passing"] == 3 and stats["verdict"] == "straddles the target"


@pytest.mark.parametrize("values, target, expected", [
    ([0.982, 0.983, 0.984], 0.98, "clears the target"),
    ([0.970, 0.971, 0.972], 0.98, "falls short"),
    ([0.9822, 0.9792, 0.9822, 0.9814, 0.9818], 0.98, "straddles the target"),  # the seeds 1-5
    ([0.99], 0.98, "one run: no interval"),
])
def test_target_verdicts(values, target, expected):
    assert verdict.summary(values, target)["verdict"] == expected


def test_paired_difference_matches_students_sleep_data():
    local = dict(enumerate(SLEEP_2))
    other = dict(enumerate(SLEEP_1))
    result = verdict.compare(local, other, margin=0.5)
    # R: t = -4.0621, df = 9, p-value = 0.002833, 95 percent CI -2.4598858 -0.7001142, mean difference -1.58
    assert result["difference"] == pytest.approx(-1.58)
    assert result["ci"] == pytest.approx((-2.4598858, -0.7001142), rel=1e-6)
    assert result["p_difference"] == pytest.approx(0.002833, rel=1e-3)
    assert result["verdict"] == "different" and result["n"] == 10


def test_two_one_sided_tests_match_the_closed_form():
    differences = [0.001, 0.002, 0.0, 0.001, 0.001]
    local = {seed: 0.98 for seed in range(5)}
    other = {seed: 0.98 + d for seed, d in enumerate(differences)}
    result = verdict.compare(local, other, margin=0.003)
    standard_error = math.sqrt(0.0000005) / math.sqrt(5)  # sd = 0.000707107
    upper = t4_cdf((0.001 - 0.003) / standard_error)  # H0: difference >= +margin
    lower = 1 - t4_cdf((0.001 + 0.003) / standard_error)  # H0: difference <= -margin
    assert result["p_equivalence"] == pytest.approx(max(upper, lower), rel=1e-3)
    assert result["p_equivalence"] == pytest.approx(0.0016, abs=1e-4)
    assert result["verdict"] == "equivalent"


def test_a_noisy_small_difference_is_inconclusive_and_says_how_many_seeds():
    local = {1: 0.9822, 2: 0.9792, 3: 0.9822}
    other = {1: 0.9812, 2: 0.9822, 3: 0.9798}
    result = verdict.compare(local, other, margin=0.003)
    assert result["verdict"] == "inconclusive"
    needed = result["seeds_needed"]
    assert needed and needed > 3
    sd = verdict._sd([other[s] - local[s] for s in (1, 2, 3)])
    # the returned n is the first that satisfies the power formula
    assert needed == verdict.seeds_needed(sd, result["difference"], 0.003)
    assert verdict.seeds_needed(sd * 2, result["difference"], 0.003) > needed


def test_identical_runs_are_equivalent_and_a_constant_gap_beyond_the_margin_is_different():
    same = verdict.compare({1: 0.98, 2: 0.97}, {1: 0.98, 2: 0.97}, margin=0.003)
    assert same["verdict"] == "equivalent" and same["difference"] == 0
    gap = verdict.compare({1: 0.98, 2: 0.97}, {1: 0.99, 2: 0.98}, margin=0.003)
    assert gap["verdict"] == "different"


def test_fewer_than_two_shared_seeds_is_inconclusive():
    result = verdict.compare({1: 0.98}, {1: 0.97, 2: 0.99}, margin=0.003)
    assert result["verdict"] == "inconclusive" and "fewer than 2 seeds" in result["reason"]


def test_no_seed_count_shows_equivalence_beyond_the_margin():
    assert verdict.seeds_needed(0.001, 0.004, 0.003) is None


def run(seed, accuracy, protocol=None, weights="w", threads=1):
    platform = {"protocol": protocol} if protocol else {}
    return {"test": {"accuracy": accuracy}, "platform": platform, "weights_sha256": f"{weights}{seed}",
            "throughput": {"intra_op_threads": threads}}


def test_a_cross_validation_mean_is_never_tested_against_holdout_accuracies():
    from report import sweeps

    local = {seed: run(seed, 0.98) for seed in (1, 2, 3)}
    openml = {seed: run(seed, 0.985, protocol="10-fold CV") for seed in (1, 2, 3)}
    comparison, identical = sweeps.against_local(openml, local, 0.003)
    assert comparison["verdict"] == "not compared" and "cross-validation mean is not a holdout accuracy" in comparison["reason"]
    assert identical is None


def test_weights_are_compared_only_at_the_same_thread_count():
    from report import sweeps

    local = {seed: run(seed, 0.98) for seed in (1, 2)}
    docker = {1: run(1, 0.98), 2: run(2, 0.98, weights="other")}
    assert sweeps.against_local(docker, local, 0.003)[1] == "1 of 2"
    other_threads = {seed: run(seed, 0.98, threads="default") for seed in (1, 2)}
    assert sweeps.against_local(other_threads, local, 0.003)[1] == "not compared: other thread counts"


def test_the_t_functions_agree_with_scipy_stats():
    """The t interval, the two one-sided tests and the paired t-test, from scipy.special, give what
    scipy.stats gives on the same differences."""
    import random

    import numpy as np
    from scipy import stats

    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(2, 12)
        local = {seed: rng.uniform(0.95, 0.99) for seed in range(n)}
        other = {seed: local[seed] + rng.gauss(rng.choice([0, 0.001, 0.005]), rng.choice([1e-4, 1e-3, 5e-3]))
                 for seed in range(n)}
        margin = rng.choice([0.001, 0.003, 0.01])
        ours = verdict.compare(local, other, margin)
        differences = [other[seed] - local[seed] for seed in range(n)]
        p_equivalence = max(stats.ttest_1samp(differences, -margin, alternative="greater").pvalue,
                            stats.ttest_1samp(differences, margin, alternative="less").pvalue)
        ci = stats.t.interval(0.95, n - 1, loc=np.mean(differences), scale=stats.tstd(differences) / math.sqrt(n))
        assert ours["p_equivalence"] == pytest.approx(p_equivalence, rel=1e-9, abs=1e-300)
        assert ours["p_difference"] == pytest.approx(stats.ttest_1samp(differences, 0.0).pvalue, rel=1e-9)
        assert ours["ci"] == pytest.approx(ci, rel=1e-9)


def test_the_verdict_does_not_import_scipy_stats():
    """A sweep's last step, with both cores idle: scipy.stats alone costs about 0.6 CPU seconds."""
    import subprocess
    import sys

    code = ("import sys; from report import verdict; verdict.summary([0.97, 0.98, 0.99], 0.98); "
            "verdict.compare({1: 0.97, 2: 0.98}, {1: 0.971, 2: 0.9795}, 0.003); verdict.seeds_needed(0.001, 0.0, 0.003); "
            "print('scipy.stats' in sys.modules, 'scipy.special' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert done.stdout.split() == ["False", "True"]
