"""PB2: Population Based Bandits on epochs, GP-UCB explore in the space's unit box, seeded.

PB2 (Parker-Holder et al., NeurIPS 2020) is PBT whose *explore* step is a GP bandit instead of a
random perturbation: a time-varying GP models how much each config improved the metric in the
last interval, and UCB picks the next config for the trial that has just copied a top one.
Ray's ``ray.tune.schedulers.pb2.PB2`` implements it (scikit-learn's GP, a core dependency
here). What changes here, nothing else:

* **Unit box.** Ray's PB2 models raw values inside ``[low, high]`` bounds, so a learning rate in
  [1e-4, 1e-1] is explored linearly (nearly every pick above 1e-2). Here the GP sees every
  parameter through the domain's own ``to_unit`` (log scale, integer widening, steps) and the
  picked point goes back through ``from_unit`` — Optuna's ``_transform.py`` idea.
* **Only numeric, unconditional parameters** (not a condition's parent, not fixed) are modelled;
  categorical ones are copied unchanged from the trial being cloned. ``params`` narrows this
  (the runner passes the keys that do not reshape the weights, as for ``pbt``).
* **Seeded.** Ray draws exploit partners with ``random`` and acquisition restarts with
  ``np.random``; both global states are swapped for the scheduler's own around each decision.
* **State across --resume and lineage** as for ``pbt`` (:class:`PopulationState`), plus PB2's
  data table, the time of its last exploration and the configs chosen in that round.
* Trials stop at ``ladder.max``; the interval defaults to the ladder's second rung.

Controller needs are those of ``pbt`` (see tuner/schedulers/pbt.py).
"""

from __future__ import annotations

import random
import warnings
from typing import Any

import numpy as np
import pandas as pd
from ray.tune.schedulers import PopulationBasedTraining
from ray.tune.schedulers.pb2 import PB2
from ray.tune.schedulers.pb2 import _explore as _pb2_explore
from sklearn.exceptions import ConvergenceWarning

from search_spaces import Float, Int, SearchSpace
from tuner.budget import BudgetLadder
from tuner.schedulers.pbt import PopulationState

__all__ = ["SeededPB2", "pb2_params"]


def pb2_params(space: SearchSpace, params: list[str] | None = None) -> list[str]:
    """The parameters PB2 models: numeric, unconditional, not a parent, among ``params``."""
    parents = {p for dom in space.values() for p in dom.when}
    numeric = [n for n, d in space.items()
               if isinstance(d, (Float, Int)) and d.low < d.high and not d.when
               and n not in parents]
    if params is not None:
        numeric = [n for n in numeric if n in params]
    if not numeric:
        allowed = "" if params is None else f" among {', '.join(params) or '(none)'}"
        raise ValueError(f"scheduler pb2: no numeric, unconditional parameter to model{allowed} "
                         "(PB2 explores continuous ranges only; use pbt for categorical ones)")
    return numeric


class SeededPB2(PopulationState, PB2):
    """PB2 on ``training_iteration`` over the unit box of ``space``; same seed → same run."""

    _explore_label = "GP-UCB"

    def __init__(self, ladder: BudgetLadder, space: SearchSpace, *, metric: str | None = None,
                 mode: str | None = None, seed: int | None = 0,
                 perturbation_interval: int | None = None, quantile_fraction: float = 0.25,
                 params: list[str] | None = None, synch: bool = False):
        rungs = ladder.rung_resources()
        interval = perturbation_interval or (rungs[1] if len(rungs) > 1 else ladder.max)
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"scheduler.perturbation_interval: expected a whole number >= 1, "
                             f"got {perturbation_interval!r}")
        if not 0 <= quantile_fraction <= 0.5:
            raise ValueError(f"scheduler.quantile_fraction: expected a number in [0, 0.5], "
                             f"got {quantile_fraction!r}")
        self.space = space
        self.names = pb2_params(space, params)
        super().__init__(time_attr="training_iteration", metric=metric, mode=mode,
                         perturbation_interval=interval,
                         hyperparam_bounds={n: [0.0, 1.0] for n in self.names},
                         quantile_fraction=quantile_fraction, log_config=False, synch=synch)
        self.ladder = ladder
        self.seed = seed
        self._np_rng = np.random.default_rng(seed)
        self._random_state = random.Random(seed).getstate()
        self._np_global = np.random.RandomState(seed).get_state()
        self._init_population_state()

    def on_trial_add(self, tune_controller, trial) -> None:
        # As SeededPBT: Ray's check against any Searcher is skipped (the searcher only draws
        # the initial population); a missing parameter is drawn from its domain, seeded.
        if not self._metric or not self._metric_op:
            raise ValueError(f"{type(self).__name__}: metric/mode not set")
        self._new_trial_state(trial)
        for name in self.names:
            if name not in trial.config:
                value = self.space[name].sample(self._np_rng)
                trial.config[name] = value.item() if isinstance(value, np.generic) else value
                trial.evaluated_params[name] = trial.config[name]

    def _unit(self, config: dict) -> list[float]:
        return [float(self.space[n].to_unit(config[n])) for n in self.names]

    def _save_trial_state(self, state, time: int, result: dict, trial) -> float:
        """Ray's PB2 row ``[trial, time, *params, reward]``, the params in the unit box."""
        score = PopulationBasedTraining._save_trial_state(self, state, time, result, trial)
        row = pd.DataFrame([[str(trial), result[self._time_attr], *self._unit(trial.config),
                             score]], columns=["Trial", "Time", *self.names, "Reward"])
        self.data = pd.concat([self.data, row]).reset_index(drop=True)
        self.data.Trial = self.data.Trial.astype("str")
        return score

    def _get_new_config(self, trial, trial_to_clone) -> tuple[dict, dict]:
        """Ray's ``PB2._get_new_config`` with the GP's pick mapped back through ``from_unit``."""
        if self.data["Time"].max() > self.last_exploration_time:
            self.current = None
        unit = dict(zip(self.names, self._unit(trial_to_clone.config)))
        bounds = {n: [0.0, 1.0] for n in self.names}
        with warnings.catch_warnings():  # a GP on a handful of points often stops its
            warnings.simplefilter("ignore", ConvergenceWarning)  # length-scale fit early
            picked, self.data = _pb2_explore(self.data, bounds, self.current, trial_to_clone,
                                             trial, unit)
        new = np.array([[picked[n] for n in self.names]])
        if self.data["Time"].max() > self.last_exploration_time:
            self.last_exploration_time = self.data["Time"].max()
            self.current = new.copy()
        else:
            self.current = np.concatenate((self.current, new), axis=0)
        config = dict(trial_to_clone.config)
        for name in self.names:
            if picked[name] != unit[name]:  # unchanged stays bit-identical (no exp(log(x)))
                config[name] = self.space[name].from_unit(float(picked[name]))
        self._last_operations = {}
        return config, {}

    # Persistence: PB2's own fields on top of the population's -------------------------------
    def _extra_state(self) -> dict:
        name, keys, pos, has_gauss, cached = self._np_global
        return {"np_global": [name, np.asarray(keys).tolist(), pos, has_gauss, cached],
                "data": self.data.to_dict(orient="list"),
                "last_exploration_time": _plain_number(self.last_exploration_time),
                "current": None if self.current is None else self.current.tolist()}

    def _set_extra_state(self, state: dict) -> None:
        name, keys, pos, has_gauss, cached = state["np_global"]
        self._np_global = (name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached)
        self.data = pd.DataFrame(state["data"])
        self.last_exploration_time = state["last_exploration_time"]
        self.current = None if state["current"] is None else np.array(state["current"])


def _plain_number(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
