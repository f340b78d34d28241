"""``optuna-nsga2``: Optuna's NSGA-II sampler (Deb et al. 2002) — a multi-objective peer.

A genetic algorithm: each generation of ``population_size`` trials is bred from the
non-dominated, least crowded trials of the ones before. It learns only from finished trials at
full fidelity (Optuna cannot prune a multi-objective study: optuna/optuna#3450), so it runs
under ``fifo``, or proposes for MO-ASHA, which then judges its trials at the rungs. Driven
through ask/tell (``_optuna``), as ``optuna-tpe``.
"""

from __future__ import annotations

import threading
from typing import Any

import optuna

from search_spaces import SearchSpace
from tuner.searchers._optuna import OptunaSearcher

__all__ = ["OptunaNSGA2Searcher"]


class _NSGAIISampler(optuna.samplers.NSGAIISampler):
    """Optuna's sampler, picklable: Ray pickles the searcher into ``tuner.pkl`` and with each
    searcher checkpoint, and the GA base holds a ``threading.Lock`` (``optuna.samplers._ga``),
    which does not pickle. The lock guards one process's cache; a new one is made on load."""

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_thread_lock", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._thread_lock = threading.Lock()


class OptunaNSGA2Searcher(OptunaSearcher):
    """Optuna ``NSGAIISampler(population_size=...)``, seeded (Optuna's default: 50)."""

    multi_objective = True

    def __init__(self, space: SearchSpace, *, population_size: int = 50, **kwargs: Any):
        if isinstance(population_size, bool) or not isinstance(population_size, int) \
                or population_size < 2:
            raise ValueError(f"searcher.population_size: expected a whole number >= 2, got "
                             f"{population_size!r}")
        self.population_size = population_size
        super().__init__(space, **kwargs)

    def _make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        return _NSGAIISampler(population_size=self.population_size, seed=seed)
