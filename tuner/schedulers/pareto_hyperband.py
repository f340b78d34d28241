"""HyperBand on several objectives: ``PaperHyperBand`` with MO-ASHA's ranking rule.

What ``hyperband`` becomes when an experiment names several objectives. Brackets, pauses,
resumes and persistence are ``PaperHyperBand``'s; only the order in which a rung's trials are
kept changes: :func:`tuner.pareto.priority` (non-dominated sorting, ε-net inside a front), the
rule ``ParetoASHA`` decides with, so the two schedulers agree on what "the top 1/η" means.
A trial with a missing or non-finite objective ranks last; equal places keep the order
trials joined the bracket (the earlier one is kept), as with one objective.
"""

from __future__ import annotations

from typing import Sequence

from tuner.budget import BudgetLadder
from tuner.pareto import Objectives, priority
from tuner.schedulers.hyperband import PaperHyperBand, PaperBracket

__all__ = ["ParetoHyperBand"]


class _ParetoBracket(PaperBracket):
    objectives: Objectives

    def ranked(self, metric: str, metric_op: float) -> list:
        trials = list(self._live_trials)
        losses = [self.objectives.losses(self._live_trials[t]) for t in trials]
        scored = [i for i, v in enumerate(losses) if v is not None]
        places = priority([losses[i] for i in scored]) if scored else []
        order = sorted(range(len(scored)), key=lambda k: (places[k], scored[k]))
        ranked = [trials[scored[k]] for k in order]
        return ranked + [t for i, t in enumerate(trials) if losses[i] is None]


class ParetoHyperBand(PaperHyperBand):
    """``PaperHyperBand`` ranking each rung by the loss vectors of ``objectives``."""

    def __init__(self, ladder: BudgetLadder, *, metric: Sequence[str], mode: Sequence[str],
                 stop_last_trials: bool = True):
        self.objectives = Objectives.of(metric, mode)
        super().__init__(ladder, metric=self.objectives.names[0],
                         mode=self.objectives.modes[0], stop_last_trials=stop_last_trials)

    def _create_bracket(self, p: int) -> PaperBracket:
        bracket = super()._create_bracket(p)
        bracket.__class__ = _ParetoBracket
        bracket.objectives = self.objectives
        return bracket

    def _slim(self, result: dict | None) -> dict | None:
        """Persisted per live trial: its epoch and every objective (not only the first)."""
        if result is None:
            return None
        keep = (self._time_attr, *self.objectives.names)
        return {k: result[k] for k in keep if k in result}
