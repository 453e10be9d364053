"""The statistics the course's measurements rest on, computed in one place.

* :func:`chi_square_test` - Pearson's goodness-of-fit test, the evidence that a sampler is lossless: samples of
  numbered outcomes against their exact probabilities, ``X^2 = sum_k (O_k - E_k)^2 / E_k`` with
  ``E_k = n p_k``; outcomes expected fewer than ``min_expected`` times are pooled into one cell, so that the
  chi-square approximation holds. The library's sampler tests and the lessons use this one test.
* :func:`ratio_ci` - a percentile bootstrap confidence interval of a pooled rate ``sum(a) / sum(b)``,
  resampling the independent units (prompts, texts) with replacement and keeping each unit's numerator and
  denominator together (a paired bootstrap). Positions within one text are not independent, so the text,
  not the token, is what is resampled.
* :func:`median_ci` - a percentile bootstrap confidence interval of the median of one figure per independent
  unit (a prompt's speed-up), the units resampled with replacement. With few units the interval is coarse
  (its ends are among the units' own values), which is the honest width of what so few can say.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import bootstrap, chisquare

__all__ = ["ChiSquare", "chi_square_test", "median_ci", "ratio_ci"]


def ratio_ci(numerator, denominator, *, confidence: float = 0.95, n_resamples: int = 2000,
             seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of ``sum(numerator) / sum(denominator)``, one entry per unit, units resampled
    together (paired); the generator is ``numpy.random.default_rng(seed)``. NaN with fewer than 2 units."""
    numerator, denominator = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    if len(numerator) < 2:
        return float("nan"), float("nan")
    ci = bootstrap(
        (numerator, denominator), lambda a, b, axis: a.sum(axis=axis) / b.sum(axis=axis), paired=True,
        vectorized=True, n_resamples=n_resamples, confidence_level=confidence, method="percentile",
        rng=np.random.default_rng(seed),
    ).confidence_interval
    return float(ci.low), float(ci.high)


def median_ci(values, *, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of ``median(values)``, one value per independent unit, resampled with replacement;
    the generator is ``numpy.random.default_rng(seed)``. NaN with fewer than 2 units."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float("nan"), float("nan")
    ci = bootstrap((values,), np.median, vectorized=True, n_resamples=n_resamples, confidence_level=confidence,
                   method="percentile", rng=np.random.default_rng(seed)).confidence_interval
    return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class ChiSquare:
    """The result of :func:`chi_square_test`: Pearson's statistic, its degrees of freedom, the p-value, the cells used."""

    statistic: float
    dof: int
    pvalue: float
    cells: int


def chi_square_test(samples, probs, *, min_expected: float = 5.0) -> ChiSquare:
    """Pearson's chi-square test of integer ``samples`` (token ids) against the distribution ``probs``.

    With ``N`` samples, cell ``k`` is expected to hold ``E_k = N probs[k]`` of them and holds ``O_k``; the
    statistic is ``sum_k (O_k - E_k)^2 / E_k``, which under the hypothesis "the samples come from ``probs``"
    follows a chi-square law with (cells - 1) degrees of freedom. The approximation needs a few expected
    samples per cell, so every outcome with ``E_k < min_expected`` is pooled into one extra cell. A sample
    that ``probs`` gives probability 0 makes the statistic infinite and the p-value 0.
    """
    samples = np.asarray(samples, dtype=np.int64).ravel()
    probs = np.asarray(torch.as_tensor(probs, dtype=torch.float64).cpu(), dtype=np.float64).ravel()
    n = len(samples)
    if n == 0:
        raise ValueError("no samples to test.")
    if samples.min() < 0 or samples.max() >= len(probs):
        raise ValueError(f"samples must be token ids in 0 .. {len(probs) - 1}.")
    observed = np.bincount(samples, minlength=len(probs)).astype(np.float64)
    expected = n * probs / probs.sum()
    if np.any(observed[expected == 0] > 0):
        return ChiSquare(float("inf"), 0, 0.0, 0)
    big = expected >= min_expected
    obs, exp = list(observed[big]), list(expected[big])
    if expected[~big].sum() > 0:
        obs.append(observed[~big].sum())
        exp.append(expected[~big].sum())
    if len(obs) < 2:
        raise ValueError("fewer than two cells with enough expected samples: draw more samples.")
    obs, exp = np.array(obs), np.array(exp)
    result = chisquare(obs, exp * obs.sum() / exp.sum())
    return ChiSquare(float(result.statistic), len(obs) - 1, float(result.pvalue), len(obs))
