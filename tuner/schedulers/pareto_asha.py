"""MO-ASHA: asynchronous successive halving on several objectives (Schmucker et al. 2021).

What ``asha`` becomes when an experiment names several objectives. Everything but the rung
decision is ``SeededASHA``'s: brackets by stable hash, rungs from the budget ladder, a trial
judged once per rung, the first trial at an empty rung continues, a trial with a missing or
non-finite objective stops and is recorded nowhere.

The rung decision, as Syne Tune's ``MOASHA`` (``syne_tune.optimizer.schedulers.asha.Bracket``
with ``NonDominatedPriority``): the new result and every result recorded at the rung are
ranked by :func:`tuner.pareto.priority` (non-dominated sorting, ε-net inside a front; kept
per rung as points arrive by ``tuner.pareto.RungFronts``, so a decision costs a pass over the
rung instead of a non-dominated sort of all of it), and the
trial continues when its place ``p`` (0 = first; equal points share a place) is in the top
``1/η``. The bound is ``p < n/η`` over the ``n`` ranked points, the cut that Ray's stopping
ASHA makes with one objective (top 1 of 2 or 3, 2 of 4, 3 of 9); Syne Tune's ``p/n ≤ 1/η``
lets 2 of 3 through. With one objective the ranking is the sort, so this is ASHA.

Ray's ``AsyncHyperBandScheduler`` takes one metric (ray-project/ray#8018), and Syne Tune's
``MOASHA`` draws brackets from the global numpy RNG and does not speak Ray's protocol, which
is why this class exists.
"""

from __future__ import annotations

from typing import Any, Sequence

from ray.tune.schedulers import TrialScheduler

from tuner.budget import BudgetLadder
from tuner.pareto import Objectives, RungFronts
from tuner.schedulers.asha import SeededASHA

__all__ = ["ParetoASHA", "continues"]


def continues(recorded: Sequence[Sequence[float]], new: Sequence[float], eta: float) -> bool:
    """Whether a trial with loss vector ``new`` continues past a rung where ``recorded``
    losses were seen before it (the MO-ASHA rule; see the module docstring)."""
    if not len(recorded):
        return True
    rung = RungFronts(recorded)
    rung.add(new)
    return _keeps(rung, eta)


def _keeps(rung: RungFronts, eta: float) -> bool:
    """Whether the point added last to ``rung`` is in its top ``1/eta``."""
    return bool(rung.place_of_last() < len(rung.points) / eta)


class ParetoASHA(SeededASHA):
    """``SeededASHA`` whose rungs rank loss vectors of ``objectives`` instead of one metric."""

    def __init__(self, ladder: BudgetLadder, *, metric: Sequence[str], mode: Sequence[str],
                 seed: int | None = 0, brackets: int = 1, stop_last_trials: bool = True):
        self.objectives = Objectives.of(metric, mode)
        super().__init__(ladder, metric=self.objectives.names[0],
                         mode=self.objectives.modes[0], seed=seed, brackets=brackets,
                         stop_last_trials=stop_last_trials)
        # per bracket, per milestone (highest first, as Ray keeps rungs): trial id -> losses
        self._vectors: list[list[tuple[int, dict[str, list[float]]]]] = [
            [(m, {}) for m, _ in b._rungs] for b in self._brackets]
        self._fronts: dict[tuple[int, int], RungFronts] = {}  # (bracket, milestone), rebuilt

    def _rung(self, bracket: int, milestone: int, recorded: dict) -> RungFronts:
        """The rung's points with their fronts (built from ``recorded`` after a restore)."""
        key = (bracket, milestone)
        if key not in self._fronts:
            self._fronts[key] = RungFronts(list(recorded.values()))
        return self._fronts[key]

    def _decide(self, trial_id: str, level: int, losses: Sequence[float]) -> str:
        """Record ``losses`` at the highest rung ``level`` reached and not yet judged."""
        bracket = self._brackets.index(self._trial_info[trial_id])
        for milestone, recorded in self._vectors[bracket]:
            if level < milestone or trial_id in recorded:
                continue
            rung = self._rung(bracket, milestone, recorded)
            rung.add(losses)
            keep = len(recorded) == 0 or _keeps(rung, self._reduction_factor)
            recorded[trial_id] = [float(v) for v in losses]
            return TrialScheduler.CONTINUE if keep else TrialScheduler.STOP
        return TrialScheduler.CONTINUE

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        if self._time_attr not in result or trial.trial_id not in self._trial_info:
            return TrialScheduler.CONTINUE
        losses = self.objectives.losses(result)
        if losses is None:
            if all(n in result for n in self.objectives.names):  # diverged, not missing
                self._num_stopped += 1
                return TrialScheduler.STOP
            return TrialScheduler.CONTINUE
        level = int(result[self._time_attr])
        if level >= self._max_t and self._stop_last_trials:
            action = TrialScheduler.STOP
        else:
            action = self._decide(trial.trial_id, level, losses)
        if action == TrialScheduler.STOP:
            self._num_stopped += 1
        return action

    def on_trial_complete(self, tune_controller, trial, result: dict) -> None:
        """Ray hands a trial's last result only here: it is recorded at its rung (a value at
        the top rung is kept, as Ray's bracket keeps it, though nothing is decided there)."""
        losses = self.objectives.losses(result)
        if trial.trial_id in self._trial_info and losses is not None \
                and self._time_attr in result:
            self._decide(trial.trial_id, int(result[self._time_attr]), losses)
        self._trial_info.pop(trial.trial_id, None)

    def recorded(self, bracket: int = 0) -> dict[int, dict[str, list[float]]]:
        """``{milestone: {trial_id: losses}}`` of one bracket, lowest rung first."""
        return {m: dict(rec) for m, rec in reversed(self._vectors[bracket])}

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        state["objectives"] = [list(self.objectives.names), list(self.objectives.modes)]
        state["vectors"] = [[[m, dict(rec)] for m, rec in b] for b in self._vectors]
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self._vectors = [[(int(m), dict(rec)) for m, rec in b] for b in state["vectors"]]
        self._fronts = {}
