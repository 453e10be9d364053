"""The statistics the course's measurements rest on, computed in one place.

* :func:`ratio_ci` - a percentile bootstrap confidence interval of a pooled rate ``sum(a) / sum(b)``,
  resampling the independent units (prompts, texts) with replacement and keeping each unit's numerator and
  denominator together (a paired bootstrap). Positions within one text are not independent, so the text,
  not the token, is what is resampled.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import bootstrap

__all__ = ["ratio_ci"]


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
