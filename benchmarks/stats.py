"""The interval every real-training benchmark reports: mean ± half-width of a 95 % Student-t
interval over seeds (or paired differences), so tables read the same across benchmarks."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["interval95"]


def interval95(values) -> tuple[float, float]:
    """Mean and half-width of the 95 % t-interval (nan half-width for a single value)."""
    from scipy import stats

    x = np.asarray(values, float)
    if len(x) < 2:
        return float(x.mean()), math.nan
    return float(x.mean()), float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1)
                                  / math.sqrt(len(x)))
