"""Drive an Optuna sampler through ask/tell from a ``SearchSpace`` (shared by ``optuna-tpe``
and ``bayesopt``).

Why ask/tell and not Ray's ``OptunaSearch``: Ray's adapter tells an errored trial's last
reported metric to Optuna as a COMPLETE value (only a trial without the metric becomes FAIL),
raises ``KeyError`` on an intermediate result that lacks the metric, and owns its own
warm-start queue — all three clash with ``SpaceSearcher``, which already validates
``points_to_evaluate``, feeds them first and turns errored/NaN trials into "no observation".
The sampler objects are Optuna's own, so the algorithms are the same as behind Ray's adapter.

The define-by-run pass walks the space in order (parents first) and asks Optuna only for the
active parameters — or, with ``ask_inactive``, for every parameter and keeps the active ones
(a fixed-dimensional embedding that lets a GP model conditional parameters at all).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState

from search_spaces import Categorical, Domain, Fixed, Float, SearchSpace
from tuner.searchers.base import SpaceSearcher

__all__ = ["OptunaSearcher", "optuna_distribution"]

_PRIMITIVE = (type(None), bool, int, float, str)


def optuna_distribution(dom: Domain) -> BaseDistribution:
    """The Optuna distribution for one domain; categoricals of non-primitives use indices."""
    if isinstance(dom, Categorical):
        if all(isinstance(c, _PRIMITIVE) for c in dom.choices):
            return CategoricalDistribution(list(dom.choices))
        return CategoricalDistribution(list(range(len(dom.choices))))
    if isinstance(dom, Float):
        high = dom.high
        if dom.step is not None:  # Optuna wants (high - low) divisible by step; it warns if not
            high = dom.grid_values()[-1]
        return FloatDistribution(dom.low, high, log=dom.log, step=dom.step)
    step = int(dom.step or 1)
    high = int(dom.low) + (int(dom.high) - int(dom.low)) // step * step
    return IntDistribution(int(dom.low), high, log=dom.log, step=step)




class OptunaSearcher(SpaceSearcher):
    """Base for searchers backed by an Optuna sampler; subclasses implement ``_make_sampler``."""

    ask_inactive = False

    def __init__(self, space: SearchSpace, **kwargs: Any):
        super().__init__(space, **kwargs)
        self._dists = {n: optuna_distribution(d) for n, d in space.searchable.items()}
        self._impute_rng = np.random.default_rng(self.rng.integers(2**31 - 1))
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExperimentalWarning for multivariate/group TPE
            sampler = self._make_sampler(int(self.rng.integers(2**31 - 1)))
        objectives = len(self.objectives.names) if self.objectives else 1
        self._study = optuna.create_study(directions=["minimize"] * objectives, sampler=sampler)
        self._numbers: dict[str, int] = {}  # Ray trial id -> Optuna trial number

    def _make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:  # pragma: no cover
        raise NotImplementedError

    # proposing --------------------------------------------------------------------------
    def _propose(self, trial_id: str) -> dict:
        self._require_metric()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trial = self._study.ask()
            config: dict[str, Any] = {}
            for name, dom in self.space.items():
                active = self.space.is_active(name, config)
                if isinstance(dom, Fixed):
                    if active:
                        config[name] = dom.value
                elif active or self.ask_inactive:
                    value = self._decode(dom, self._ask(trial, name))
                    if active:
                        config[name] = value
        self._numbers[trial_id] = trial.number
        return config

    def _ask(self, trial: optuna.Trial, name: str) -> Any:
        dist = self._dists[name]
        if isinstance(dist, CategoricalDistribution):
            return trial.suggest_categorical(name, dist.choices)
        if isinstance(dist, IntDistribution):
            return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)

    def _decode(self, dom: Domain, value: Any) -> Any:
        if isinstance(dom, Categorical) and self._uses_index(dom):
            return dom.choices[int(value)]
        return value

    def _encode(self, dom: Domain, value: Any) -> Any:
        if isinstance(dom, Categorical) and self._uses_index(dom):
            return dom.index(value)
        return value

    def _uses_index(self, dom: Categorical) -> bool:
        return list(self._dists[dom.name].choices) != list(dom.choices)

    # learning ---------------------------------------------------------------------------
    def _observe(self, trial_id: str, config: dict, loss: float | None, result: dict | None):
        number = self._numbers.pop(trial_id, None)
        if number is None:  # a warm-start point: Optuna never asked for it
            if loss is not None:
                self._add_point(config, loss)
            return
        if loss is None:  # errored / NaN / missing metric: FAIL trials never reach the model
            self._study.tell(number, state=TrialState.FAIL)
        else:
            self._study.tell(number, list(loss) if isinstance(loss, tuple) else loss)

    def _add_point(self, config: dict, loss: float) -> None:
        params, dists = {}, {}
        for name, dom in self.space.searchable.items():
            if name in config:
                params[name] = self._encode(dom, config[name])
            elif self.ask_inactive:  # keep the GP's input dimension fixed: impute like a draw
                params[name] = self._encode(dom, dom.sample(self._impute_rng))
            else:
                continue
            dists[name] = self._dists[name]
        values = list(loss) if isinstance(loss, tuple) else [loss]
        trial = optuna.trial.create_trial(params=params, distributions=dists, values=values)
        self._study.add_trial(trial)
