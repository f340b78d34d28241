"""Population Based Training on epochs, mutations derived from the search space, seeded.

PBT (Jaderberg et al. 2017) trains a population; every ``perturbation_interval`` epochs a
trial in the bottom quantile copies the *checkpoint* of a random top-quantile trial (exploit)
and continues with a perturbed copy of its config (explore). Ray's ``PopulationBasedTraining``
does this; here:

* ``hyperparam_mutations`` come from the ``SearchSpace``: numeric ranges resample from the
  domain (seeded generator) or scale by 1.2/0.8 and are clipped back into the domain (Ray does
  not clip); categoricals shift to a neighbouring choice or resample. Conditional parameters
  and the parents of conditions are **not** mutated — changing ``optimizer`` would leave
  ``momentum`` dangling — they stay as the cloned trial had them.
* Ray draws with the global ``random`` module; every decision here runs with the scheduler's
  own ``random.Random`` state swapped in, so the same seed gives the same exploit/explore.
* Ray raises when any ``Searcher`` is used with PBT; here the searcher may draw the initial
  population (it should not be a learning one: it sees the original configs only).
* Trials stop at ``ladder.max``; interval defaults to the ladder's second rung (``min·η``).

Needs from the controller (PBT reaches into it, as in Ray): ``get_trials()``,
``get_live_trials()``, ``_schedule_trial_save(trial, result=)`` and ``pause_trial(trial,
should_checkpoint=)``; trials need ``run_metadata.checkpoint_manager`` (``ray.tune.experiment.
Trial``). The trainable must checkpoint (notes §2.6).
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Any

import numpy as np
from ray.tune.schedulers import PopulationBasedTraining, TrialScheduler
from ray.tune.schedulers.pbt import _fill_config, _PBTTrialState

from search_spaces import Categorical, Fixed, SearchSpace
from tuner.budget import BudgetLadder

__all__ = ["SeededPBT", "mutations_from_space"]


class _Resample:
    """A picklable callable drawing one value of ``domain`` from a shared generator."""

    def __init__(self, domain, rng: np.random.Generator):
        self.domain, self.rng = domain, rng

    def __call__(self) -> Any:
        value = self.domain.sample(self.rng)
        return value.item() if isinstance(value, np.generic) else value


def mutations_from_space(space: SearchSpace, rng: np.random.Generator,
                         params: list[str] | None = None) -> dict[str, Any]:
    """``{name: list-of-choices | resampler}`` for the unconditional, non-parent parameters."""
    parents = {p for dom in space.values() for p in dom.when}
    eligible = [n for n, d in space.items()
                if not isinstance(d, Fixed) and not d.when and n not in parents]
    if params is not None:
        bad = sorted(set(params) - set(eligible))
        if bad:
            raise ValueError(f"scheduler.params: {bad[0]!r} cannot be mutated by PBT; "
                             f"mutable: {', '.join(eligible)}")
        eligible = [n for n in eligible if n in params]
    out: dict[str, Any] = {}
    for name in eligible:
        dom = space[name]
        out[name] = list(dom.choices) if isinstance(dom, Categorical) else _Resample(dom, rng)
    return out


class SeededPBT(PopulationBasedTraining):
    """PBT on ``training_iteration`` with space-derived, clipped, seeded mutations."""

    def __init__(self, ladder: BudgetLadder, space: SearchSpace, *, metric: str | None = None,
                 mode: str | None = None, seed: int | None = 0,
                 perturbation_interval: int | None = None, quantile_fraction: float = 0.25,
                 resample_probability: float = 0.25, params: list[str] | None = None,
                 synch: bool = False):
        rungs = ladder.rung_resources()
        interval = perturbation_interval or (rungs[1] if len(rungs) > 1 else ladder.max)
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"scheduler.perturbation_interval: expected a whole number >= 1, "
                             f"got {perturbation_interval!r}")
        self.space = space
        self._np_rng = np.random.default_rng(seed)
        mutations = mutations_from_space(space, self._np_rng, params)
        if not mutations:
            raise ValueError("scheduler pbt: the search space has no parameter PBT can mutate "
                             "(unconditional, not a condition's parent, not fixed)")
        super().__init__(time_attr="training_iteration", metric=metric, mode=mode,
                         perturbation_interval=interval, hyperparam_mutations=mutations,
                         quantile_fraction=quantile_fraction,
                         resample_probability=resample_probability,
                         custom_explore_fn=self._clip, log_config=False, synch=synch)
        self.ladder = ladder
        self.seed = seed
        self._random_state = random.Random(seed).getstate()

    def _clip(self, config: dict) -> dict:
        """Put perturbed numbers back into their domain (×1.2 can leave it)."""
        for name in self._hyperparam_mutations:
            dom = self.space[name]
            if name not in config or not hasattr(dom, "low"):
                continue
            value = float(config[name])
            if dom.step:
                value = dom.low + round((value - dom.low) / dom.step) * dom.step
            value = min(max(value, dom.low), dom.high)
            config[name] = int(round(value)) if dom.kind == "int" else float(value)
        return config

    @contextmanager
    def _own_random(self):
        outer = random.getstate()
        random.setstate(self._random_state)
        try:
            yield
        finally:
            self._random_state = random.getstate()
            random.setstate(outer)

    def on_trial_add(self, tune_controller, trial) -> None:
        # Ray refuses any Searcher next to PBT (``SearchGenerator`` check) because a learning
        # searcher would be fed results of configs PBT has since changed. Our searchers only
        # draw the initial population here (method "pbt" = random + pbt), so the check is
        # skipped; the rest is Ray's on_trial_add.
        if not self._metric or not self._metric_op:
            raise ValueError(f"{type(self).__name__}: metric/mode not set")
        self._trial_state[trial] = _PBTTrialState(trial)
        with self._own_random():
            for attr, mutation in self._hyperparam_mutations.items():
                if attr not in trial.config:
                    _fill_config(trial.config, attr, mutation)
                    trial.evaluated_params[attr] = trial.config[attr]

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        if result.get("training_iteration", 0) >= self.ladder.max:
            return TrialScheduler.STOP
        with self._own_random():
            return super().on_trial_result(tune_controller, trial, result)
