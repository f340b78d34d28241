"""``bayesopt``: Gaussian-process Bayesian optimisation over the whole mixed space.

Backed by Optuna's ``GPSampler`` (Matérn-5/2 kernel with ARD, log-EI acquisition, qLogEI over
running trials; Ament et al., "Unexpected improvements to expected improvement", NeurIPS 2023).
Why this library: it is maintained with Optuna (already a dependency, needs only torch and
scipy, which we have), handles ints, log scales and categoricals natively (categoricals get
their own kernel dimension, discrete values a line search rather than rounding), and is seeded.
Ray's ``BayesOptSearch`` is continuous-only and breaks with bayesian-optimization >= 2;
BoTorch would add two heavy packages for the same model.

Conditional spaces: Optuna's GP only models parameters present in *every* trial, so this
searcher asks for all parameters each time and passes only the active ones to the trial
(inactive coordinates are ignored by the trainable and learnt as irrelevant by ARD for the
other branch). Warm-start points get their inactive coordinates imputed by a seeded draw.
"""

from __future__ import annotations

from typing import Any

import optuna

from search_spaces import SearchSpace
from tuner.searchers._optuna import OptunaSearcher

__all__ = ["GPSearcher"]


class GPSearcher(OptunaSearcher):
    """Optuna ``GPSampler`` with a fixed-dimensional embedding of conditional spaces."""

    ask_inactive = True

    def __init__(self, space: SearchSpace, *, n_startup: int = 10, **kwargs: Any):
        self.n_startup = n_startup
        super().__init__(space, **kwargs)

    def _make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        return optuna.samplers.GPSampler(
            seed=seed, n_startup_trials=self.n_startup, warn_independent_sampling=False
        )
