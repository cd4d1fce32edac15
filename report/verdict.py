"""The statistics of replicated runs, with scipy: what n seeds can and cannot show.

    summary(accuracies, target)              n, mean, sd, 95% CI, seeds passing, the target verdict
    compare(local_by_seed, other_by_seed)    the difference to local, its CI, and an equivalence test
                                             (two one-sided tests) against a margin: equivalent,
                                             different or inconclusive (with the seeds it would need)

Inputs they cannot use (no runs, NaN, an accuracy outside [0, 1], a margin outside (0, 1)) raise
VerdictError, one line naming the value. The mean's t interval is clipped to what an accuracy can be
(0 to 1) and says so (`ci_clipped`): with few seeds it is wide, and the clipped end is no estimate.

Student's t distribution comes from `scipy.special` (`stdtr`, its CDF, and `stdtrit`, its quantile:
the functions `scipy.stats.t` and `ttest_1samp` call), not from `scipy.stats`, whose import costs
about 0.6 CPU seconds at the end of every sweep, with the machine otherwise idle.
"""

import math

ALPHA = 0.05
POWER = 0.8


class VerdictError(ValueError):
    """Inputs the statistics cannot use; the message names the value."""


def _fraction(value, what, low_open=False):
    """`value` as a float in [0, 1] ((0, 1] with `low_open`), else VerdictError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not (0 < value if low_open else 0 <= value) or value > 1:
        raise VerdictError(f"{what} must be a number in {'(0' if low_open else '[0'}, 1], got {value!r}")
    return float(value)


def _finite(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise VerdictError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _sd(values):
    """The sample standard deviation; identical values (or a spread below float precision) are 0."""
    import numpy as np

    if len(set(values)) == 1:
        return 0.0
    with np.errstate(all="ignore"):
        sd = float(np.std(np.asarray(values, dtype=float), ddof=1))
    return sd if math.isfinite(sd) and sd > 0 else 0.0


def _t_quantile(q, df):
    from scipy import special

    return float(special.stdtrit(df, q))


def _t_cdf(t, df):
    from scipy import special

    return float(special.stdtr(df, t))


def _t_interval(confidence, df, mean, scale):
    """The mean's two-sided t interval, as `scipy.stats.t.interval` computes it."""
    return (_t_quantile((1 - confidence) / 2, df) * scale + mean, _t_quantile((1 + confidence) / 2, df) * scale + mean)


def _t_test(values, mean, sd, popmean):
    """The one-sample t statistic of `values` against `popmean` and its degrees of freedom."""
    return (mean - popmean) / (sd / math.sqrt(len(values))), len(values) - 1


def _clipped(interval, low, high):
    """(the interval within [low, high], whether it had to be clipped)."""
    clipped = (max(low, interval[0]), min(high, interval[1]))
    return clipped, clipped != tuple(interval)


def summary(accuracies, target, confidence=0.95):
    """Per platform and config: n, mean, standard deviation, the mean's t interval (clipped to [0, 1]),
    and the target verdict."""
    accuracies = [_fraction(value, "an accuracy") for value in accuracies]
    target = _fraction(target, "the target", low_open=True)
    n = len(accuracies)
    if n == 0:
        raise VerdictError("no accuracies: a verdict needs at least one run")
    mean = min(1.0, max(0.0, math.fsum(accuracies) / n))
    sd = _sd(accuracies) if n > 1 else None
    interval, clipped = None, False
    if n > 1:
        interval = (mean, mean) if sd == 0 else _t_interval(confidence, n - 1, mean, sd / math.sqrt(n))
        interval, clipped = _clipped(interval, 0.0, 1.0)
    passing = sum(1 for accuracy in accuracies if accuracy >= target)
    if interval is None:
        verdict = "one run: no interval"
    elif interval[0] >= target:
        verdict = "clears the target"
    elif interval[1] < target:
        verdict = "falls short"
    else:
        verdict = "straddles the target"
    return {"n": n, "mean": mean, "sd": sd, "ci": interval, "ci_clipped": clipped, "passing": passing,
            "target": target, "verdict": verdict}


def compare(local_by_seed, other_by_seed, margin, alpha=ALPHA):
    """A platform against local with the same config, paired by seed. Equivalent when the two one-sided
    tests both reject at `alpha` (the difference's 90% interval lies within +-margin); different when
    the paired t-test rejects and the difference is not within the margin; else inconclusive."""
    margin = _fraction(margin, "the margin", low_open=True)
    if margin == 1:
        raise VerdictError("the margin must be below 1 (a fraction of accuracy: 0.003 = 0.3 points)")
    seeds = sorted(set(local_by_seed) & set(other_by_seed))
    differences = [_finite(other_by_seed[seed], f"seed {seed}'s accuracy")
                   - _finite(local_by_seed[seed], f"local seed {seed}'s accuracy") for seed in seeds]
    n = len(differences)
    result = {"seeds": seeds, "n": n, "margin": margin, "difference": None, "ci": None, "p_equivalence": None,
              "p_difference": None, "seeds_needed": None}
    if n < 2:
        return dict(result, verdict="inconclusive", reason="fewer than 2 seeds run on both")
    mean = math.fsum(differences) / n
    sd = _sd(differences)
    result["difference"] = mean
    if sd == 0:  # every seed gave the same difference (often 0: identical weights)
        verdict = "equivalent" if abs(mean) < margin else "different"
        return dict(result, ci=(mean, mean), p_equivalence=0.0 if verdict == "equivalent" else 1.0,
                    p_difference=1.0 if mean == 0 else 0.0, verdict=verdict,
                    reason="the same difference on every seed" + (" (none)" if mean == 0 else ""))
    t_lower, df = _t_test(differences, mean, sd, -margin)
    t_upper, _ = _t_test(differences, mean, sd, margin)
    t_zero, _ = _t_test(differences, mean, sd, 0.0)
    lower = _t_cdf(-t_lower, df)  # P(T >= t_lower), as scipy's t.sf computes it
    upper = _t_cdf(t_upper, df)  # P(T <= t_upper)
    p_equivalence = float(max(lower, upper))
    p_difference = min(1.0, 2 * _t_cdf(-abs(t_zero), df))
    ci = _t_interval(1 - alpha, n - 1, mean, sd / math.sqrt(n))
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
    room = margin - abs(difference)
    if room <= 0:
        return None
    beta = (1 - power) / 2 if difference == 0 else 1 - power
    for n in range(2, limit + 1):
        quantiles = _t_quantile(1 - alpha, n - 1) + _t_quantile(1 - beta, n - 1)
        if n >= (quantiles * sd / room) ** 2:
            return n
    return None
