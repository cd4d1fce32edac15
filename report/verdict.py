"""The statistics of replicated runs, with scipy: what n seeds can and cannot show.

    summary(accuracies, target)              n, mean, sd, 95% CI, seeds passing, the target verdict
    compare(local_by_seed, other_by_seed)    the difference to local, its CI, and an equivalence test
                                             (two one-sided tests) against a margin: equivalent,
                                             different or inconclusive (with the seeds it would need)
"""

import math
import warnings

ALPHA = 0.05
POWER = 0.8


def _sd(values):
    """The sample standard deviation; identical values are 0, without scipy's precision warning."""
    from scipy import stats

    if len(set(values)) == 1:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.tstd(values))


def summary(accuracies, target, confidence=0.95):
    """Per platform and config: n, mean, standard deviation, the mean's t interval, and the target verdict."""
    from scipy import stats

    n = len(accuracies)
    mean = sum(accuracies) / n
    sd = _sd(accuracies) if n > 1 else None
    interval = None
    if n > 1:
        interval = (mean, mean) if sd == 0 else tuple(float(v) for v in stats.t.interval(
            confidence, n - 1, loc=mean, scale=sd / math.sqrt(n)))
    passing = sum(1 for accuracy in accuracies if accuracy >= target)
    if interval is None:
        verdict = "one run: no interval"
    elif interval[0] >= target:
        verdict = "clears the target"
    elif interval[1] < target:
        verdict = "falls short"
    else:
        verdict = "straddles the target"
    return {"n": n, "mean": mean, "sd": sd, "ci": interval, "passing": passing, "target": target, "verdict": verdict}


def compare(local_by_seed, other_by_seed, margin, alpha=ALPHA):
    """A platform against local with the same config, paired by seed. Equivalent when the two one-sided
    tests both reject at `alpha` (the difference's 90% interval lies within +-margin); different when
    the paired t-test rejects and the difference is not within the margin; else inconclusive."""
    from scipy import stats

    seeds = sorted(set(local_by_seed) & set(other_by_seed))
    differences = [other_by_seed[seed] - local_by_seed[seed] for seed in seeds]
    n = len(differences)
    result = {"seeds": seeds, "n": n, "margin": margin, "difference": None, "ci": None, "p_equivalence": None,
              "p_difference": None, "seeds_needed": None}
    if n < 2:
        return dict(result, verdict="inconclusive", reason="fewer than 2 seeds run on both")
    mean = sum(differences) / n
    sd = _sd(differences)
    result["difference"] = mean
    if sd == 0:  # every seed gave the same difference (often 0: identical weights)
        verdict = "equivalent" if abs(mean) < margin else "different"
        return dict(result, ci=(mean, mean), p_equivalence=0.0 if verdict == "equivalent" else 1.0,
                    p_difference=1.0 if mean == 0 else 0.0, verdict=verdict,
                    reason="the same difference on every seed" + (" (none)" if mean == 0 else ""))
    lower = stats.ttest_1samp(differences, -margin, alternative="greater").pvalue
    upper = stats.ttest_1samp(differences, margin, alternative="less").pvalue
    p_equivalence = float(max(lower, upper))
    p_difference = float(stats.ttest_1samp(differences, 0.0).pvalue)
    ci = tuple(float(v) for v in stats.t.interval(1 - alpha, n - 1, loc=mean, scale=sd / math.sqrt(n)))
    result.update(ci=ci, p_equivalence=p_equivalence, p_difference=p_difference)
    if p_equivalence < alpha:
        return dict(result, verdict="equivalent", reason=f"within +-{margin * 100:.2g} points (TOST p={p_equivalence:.3g})")
    if p_difference < alpha:
        return dict(result, verdict="different", reason=f"paired t-test p={p_difference:.3g}")
    return dict(result, verdict="inconclusive", seeds_needed=seeds_needed(sd, mean, margin, alpha),
                reason=f"TOST p={p_equivalence:.3g}, t-test p={p_difference:.3g}")


def seeds_needed(sd, difference, margin, alpha=ALPHA, power=POWER, limit=10000):
    """The smallest n at which the two one-sided tests would show equivalence with `power`, if the
    true difference and spread are those observed; None when the difference is beyond the margin."""
    from scipy import stats

    room = margin - abs(difference)
    if room <= 0:
        return None
    beta = (1 - power) / 2 if difference == 0 else 1 - power
    for n in range(2, limit + 1):
        quantiles = stats.t.ppf(1 - alpha, n - 1) + stats.t.ppf(1 - beta, n - 1)
        if n >= (quantiles * sd / room) ** 2:
            return n
    return None
