"""``mf-optuna-tpe``: a model-based searcher that learns from every rung (BOHB, Falkner et al. 2018).

Why not the plain ``tpe`` searcher under ASHA: it only learns from *finished* trials, and an
early-stopped trial finishes with its low-budget value, so the model mixes 1-epoch and
81-epoch losses (ray-project/ray#6056). BOHB instead keeps one data set per budget and fits
its model on the *highest* budget that has enough points — low budgets steer early, high
budgets take over once they fill up. Here:

* every result whose ``training_iteration`` is a rung (ASHA's ``min·η^k``, the HyperBand
  milestones, or ``max``) records ``(config, loss)`` at that rung, once per trial; a stopped
  trial therefore counts at the rungs it reached, not as a finished trial at ``max``;
* with probability ``random_fraction`` (BOHB's ρ = 1/3), or while no rung has ``min_points``
  observations (default ``max(d + 2, 6)``), the proposal is a random draw from the space;
* otherwise Optuna's ``TPESampler(multivariate=True, group=True)`` is fitted on that rung's
  observations (an in-memory study filled with ``add_trial``) and asked once.

Why Optuna's TPE rather than hyperopt's: BOHB's model is a *multivariate* KDE over the good
and the bad configurations; Optuna's multivariate TPE is exactly that, maintained, seeded, and
its ``group=True`` mode fits one joint model per set of co-occurring parameters, which is how
conditional (flat ``when``) spaces are handled. hyperopt's TPE is univariate. Errored and NaN
results are never recorded (no poisoning); the asked trial is marked FAIL at once so it never
enters the model. Knobs are constructor arguments so benchmarks can tune them.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import TrialState

from search_spaces import Categorical, Fixed, SearchSpace
from tuner.budget import BudgetLadder, hyperband_brackets
from tuner.searchers._optuna import optuna_distribution
from tuner.searchers.base import SpaceSearcher

__all__ = ["MultiFidelityTPE"]


class _TopFraction:
    """Optuna ``gamma``: how many observations count as "good" (BOHB: 15 %, hyperopt: 25 %)."""

    def __init__(self, fraction: float):
        self.fraction = fraction

    def __call__(self, n: int) -> int:
        return max(1, math.ceil(self.fraction * n))


def ladder_milestones(ladder: BudgetLadder) -> list[int]:
    """Every budget a scheduler over ``ladder`` can judge at: ASHA rungs, HyperBand's, max."""
    out = {r.resource for r in ladder.rungs()}
    for bracket in hyperband_brackets(ladder.min, ladder.max, ladder.eta):
        out.update(r for _, r in bracket.rungs)
    return sorted(out)


class MultiFidelityTPE(SpaceSearcher):
    """TPE on the highest rung with enough points, random otherwise (BOHB's proposal rule)."""

    def __init__(self, space: SearchSpace, ladder: BudgetLadder, *,
                 random_fraction: float = 1 / 3, min_points: int | None = None,
                 top_fraction: float = 0.25, n_candidates: int = 24, **kwargs: Any):
        super().__init__(space, **kwargs)
        if not 0.0 <= random_fraction <= 1.0:
            raise ValueError(f"mf-optuna-tpe: random_fraction must be in [0, 1], got {random_fraction}")
        if not 0.0 < top_fraction < 1.0:
            raise ValueError(f"mf-optuna-tpe: top_fraction must be in (0, 1), got {top_fraction}")
        d = len(space.searchable)
        self.min_points = max(d + 2, 6) if min_points is None else int(min_points)
        if self.min_points < 2:
            raise ValueError(f"mf-optuna-tpe: min_points must be >= 2, got {min_points}")
        self.ladder = ladder
        self.random_fraction = random_fraction
        self.top_fraction = top_fraction
        self.n_candidates = n_candidates
        self.milestones = ladder_milestones(ladder)
        self.rung_data: dict[int, dict[str, tuple[dict, float]]] = {r: {} for r in self.milestones}
        self.proposed_from: dict[str, int | None] = {}  # trial id -> model rung (None: random)
        self._dists = {n: optuna_distribution(d) for n, d in space.searchable.items()}
        self._studies: dict[int, tuple[optuna.Study, int]] = {}  # rung -> (study, n added)
        optuna.logging.set_verbosity(optuna.logging.WARNING)

    # Learning -----------------------------------------------------------------------------
    def _record(self, trial_id: str, config: dict, result: dict | None, loss: float) -> None:
        epoch = (result or {}).get("training_iteration")
        if epoch in self.rung_data and trial_id not in self.rung_data[epoch]:
            self.rung_data[epoch][trial_id] = (dict(config), float(loss))

    def _observe_intermediate(self, trial_id: str, config: dict, result: dict, loss: float):
        self._record(trial_id, config, result, loss)

    def _observe(self, trial_id: str, config: dict, loss: float | None, result: dict | None):
        if loss is not None:  # a last result not seen as intermediate (e.g. buffered)
            self._record(trial_id, config, result, loss)

    def model_rung(self) -> int | None:
        """The highest rung with at least ``min_points`` observations, or None."""
        full = [r for r, obs in self.rung_data.items() if len(obs) >= self.min_points]
        return max(full) if full else None

    # Proposing ----------------------------------------------------------------------------
    def _propose(self, trial_id: str) -> dict:
        self._require_metric()
        rung = self.model_rung()
        draw = self.rng.random()  # drawn every time so the stream does not depend on the rung
        if rung is None or draw < self.random_fraction:
            self.proposed_from[trial_id] = None
            return self.space.sample(self.rng)
        self.proposed_from[trial_id] = rung
        return self._ask(self._study_for(rung))

    def _study_for(self, rung: int) -> optuna.Study:
        study, added = self._studies.get(rung, (None, 0))
        if study is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # multivariate/group are "experimental"
                sampler = optuna.samplers.TPESampler(
                    multivariate=True, group=True, n_startup_trials=0,
                    n_ei_candidates=self.n_candidates, gamma=_TopFraction(self.top_fraction),
                    seed=int(self.rng.integers(2**31 - 1)))
            study = optuna.create_study(direction="minimize", sampler=sampler)
        observations = list(self.rung_data[rung].values())
        for config, loss in observations[added:]:
            params = {n: self._encode(self.space[n], v) for n, v in config.items()
                      if n in self._dists}
            dists = {n: self._dists[n] for n in params}
            study.add_trial(optuna.trial.create_trial(params=params, distributions=dists,
                                                      value=loss))
        self._studies[rung] = (study, len(observations))
        return study

    def _ask(self, study: optuna.Study) -> dict:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trial = study.ask()
            config: dict[str, Any] = {}
            for name, dom in self.space.items():
                if not self.space.is_active(name, config):
                    continue
                if isinstance(dom, Fixed):
                    config[name] = dom.value
                    continue
                dist = self._dists[name]
                if isinstance(dist, CategoricalDistribution):
                    value = trial.suggest_categorical(name, dist.choices)
                elif isinstance(dist, IntDistribution):
                    value = trial.suggest_int(name, dist.low, dist.high, step=dist.step,
                                              log=dist.log)
                else:
                    value = trial.suggest_float(name, dist.low, dist.high, step=dist.step,
                                                log=dist.log)
                config[name] = self._decode(dom, value)
            study.tell(trial.number, state=TrialState.FAIL)  # inert: never enters the model
        return config

    def _uses_index(self, dom: Categorical) -> bool:
        return list(self._dists[dom.name].choices) != list(dom.choices)

    def _encode(self, dom, value):
        return dom.index(value) if isinstance(dom, Categorical) and self._uses_index(dom) else value

    def _decode(self, dom, value):
        if isinstance(dom, Categorical) and self._uses_index(dom):
            return dom.choices[int(value)]
        return value

    # Persistence: Optuna's in-memory storage holds a lock; rebuild studies from rung_data --
    def get_state(self) -> dict:
        state = super().get_state()
        state.pop("_studies", None)
        return state

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        self._studies = {}
