"""Searchers by name: every one is built from the same ``SearchSpace``.

``make_searcher(name, space, metric=..., mode=..., seed=..., points_to_evaluate=...)`` is the
only entry point the runner, the CLI and the benchmarks use; ``check_searcher_space(name,
space)`` tells, before Ray starts, whether that searcher can handle the space.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from search_spaces import SearchSpace
from tuner.searchers.base import GridSearcher, RandomSearcher, SpaceSearcher
from tuner.searchers.bayesopt import GPSearcher
from tuner.searchers.optuna_nsga2 import OptunaNSGA2Searcher
from tuner.searchers.optuna_tpe import OptunaTPESearcher
from tuner.searchers.pso import PSOSearcher
from tuner.searchers.tpe import TPESearcher
from tuner.searchers.validate import check_space

__all__ = [
    "ALIASES",
    "SEARCHERS",
    "GPSearcher",
    "GridSearcher",
    "MULTI_OBJECTIVE_SEARCHERS",
    "OptunaNSGA2Searcher",
    "OptunaTPESearcher",
    "PSOSearcher",
    "RandomSearcher",
    "SpaceSearcher",
    "TPESearcher",
    "check_searcher_space",
    "make_searcher",
    "multi_objective_refusal",
]

SEARCHERS: dict[str, Callable[..., SpaceSearcher]] = {
    "random": RandomSearcher,
    "grid": GridSearcher,
    "hyperopt-tpe": TPESearcher,
    "bayesopt": GPSearcher,
    "optuna-tpe": OptunaTPESearcher,
    "optuna-nsga2": OptunaNSGA2Searcher,
    "pso": PSOSearcher,
}


# Searchers that take several objectives (``metric`` and ``mode`` lists).
MULTI_OBJECTIVE_SEARCHERS = [n for n, cls in SEARCHERS.items() if cls.multi_objective]

# Old names (tuner.compose.methods.canonical prints their deprecation line for experiments).
ALIASES = {"tpe": "hyperopt-tpe"}


def make_searcher(name: str, space: SearchSpace, **kwargs: Any) -> SpaceSearcher:
    """Build the searcher called ``name``; ``KeyError`` lists the valid names."""
    name = ALIASES.get(name, name)
    if name not in SEARCHERS:
        raise KeyError(f"unknown searcher {name!r}; one of {', '.join(sorted(SEARCHERS))}")
    metric = kwargs.get("metric")
    if metric is not None and not isinstance(metric, str) and len(metric) > 1 \
            and not SEARCHERS[name].multi_objective:
        raise ValueError(multi_objective_refusal(name))
    return SEARCHERS[name](space, **kwargs)


def multi_objective_refusal(name: str) -> str:
    """The one line that refuses a single-objective searcher for several objectives."""
    return (f"searcher {name} takes one objective, and this experiment names several; "
            f"searchers that take several: {', '.join(MULTI_OBJECTIVE_SEARCHERS)} "
            "(docs/objectives.md)")


def check_searcher_space(name: str, space: SearchSpace) -> None:
    """Raise ``SpaceError`` with an actionable message when searcher ``name`` cannot use
    ``space``; an unknown name raises ``KeyError`` listing the valid ones, like
    ``make_searcher``."""
    if name not in SEARCHERS:
        raise KeyError(f"unknown searcher {name!r}; one of {', '.join(sorted(SEARCHERS))}")
    check_space(name, space)
