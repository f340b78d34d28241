"""Searchers by name: every one is built from the same ``SearchSpace``.

``make_searcher(name, space, metric=..., mode=..., seed=..., points_to_evaluate=...)`` is the
only entry point the runner, the CLI and the benchmarks use.
"""

from __future__ import annotations

from typing import Any, Callable

from search_spaces import SearchSpace
from tuner.searchers.base import GridSearcher, RandomSearcher, SpaceSearcher

__all__ = ["SEARCHERS", "make_searcher", "SpaceSearcher", "RandomSearcher", "GridSearcher"]

SEARCHERS: dict[str, Callable[..., SpaceSearcher]] = {
    "random": RandomSearcher,
    "grid": GridSearcher,
}


def make_searcher(name: str, space: SearchSpace, **kwargs: Any):
    """Build the searcher called ``name``; ``KeyError`` lists the valid names."""
    if name not in SEARCHERS:
        raise KeyError(f"unknown searcher {name!r}; one of {', '.join(sorted(SEARCHERS))}")
    return SEARCHERS[name](space, **kwargs)
