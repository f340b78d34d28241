"""``optuna-tpe``: Optuna's multivariate, grouped TPE — a peer to hyperopt's TPE.

Multivariate TPE models the joint density of parameters instead of one density per parameter
(Falkner et al., "BOHB", ICML 2018; Watanabe, "Tree-structured Parzen estimator", 2023), and
``group=True`` fits one model per set of parameters that co-occur, which is how it handles
conditional spaces. ``constant_liar=True`` treats running trials as bad so that concurrent
suggestions spread out (Ginsbourger et al., 2010). Driven through ask/tell (see ``_optuna``)
rather than Ray's ``OptunaSearch``: same sampler, but our errored/NaN handling and warm start.
"""

from __future__ import annotations

from typing import Any

import optuna

from search_spaces import SearchSpace
from tuner.searchers._optuna import OptunaSearcher

__all__ = ["OptunaTPESearcher"]


class OptunaTPESearcher(OptunaSearcher):
    """Optuna ``TPESampler(multivariate=True, group=True, constant_liar=True)``, seeded.

    With several objectives it is Optuna's multi-objective TPE (MOTPE: Ozaki et al. 2020,
    the same sampler given a study with several directions)."""

    multi_objective = True

    def __init__(self, space: SearchSpace, *, n_startup: int = 10, **kwargs: Any):
        self.n_startup = n_startup
        super().__init__(space, **kwargs)

    def _make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        return optuna.samplers.TPESampler(
            multivariate=True,
            group=True,
            constant_liar=True,
            n_startup_trials=self.n_startup,
            seed=seed,
        )
