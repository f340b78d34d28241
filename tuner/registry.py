"""Names → components: the one place the config, the runner and the CLI look things up.

Trainables come from ``trainables``; searchers, schedulers and their named compositions
(methods) from ``tuner.searchers``, ``tuner.schedulers`` and ``tuner.methods``. Lookups raise
``KeyError`` whose message lists the valid names; imports are lazy so ``tuner --help`` stays
fast.
"""

from __future__ import annotations

from typing import Any

from search_spaces import SearchSpace
from tuner.errors import ConfigError

__all__ = ["check_trainable", "get_trainable", "resolve", "check_searcher_space",
           "build_searcher", "build_scheduler"]


def _trainables() -> dict:
    import trainables

    return trainables.TRAINABLES


def check_trainable(name: str) -> None:
    known = _trainables()
    if name not in known and not _is_import_path(name):
        raise ConfigError(f"trainable: unknown {name!r}; one of {', '.join(sorted(known))} "
                          "(or a 'package.module:Class' import path)")


def _is_import_path(name: str) -> bool:
    return ":" in name and all(part.strip() for part in name.split(":", 1))


def get_trainable(name: str) -> type:
    """The Trainable class for a registry name or a ``package.module:Class`` path."""
    known = _trainables()
    if name in known:
        return known[name]
    import importlib

    module, _, attr = name.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"trainable: cannot import {name!r} ({exc})") from None


def resolve(method: str | None, searcher: str | None, scheduler: str | None,
            space: SearchSpace | None = None) -> tuple[str, str]:
    """(searcher, scheduler) names from a method and/or explicit names; KeyError if unknown.
    With nothing named, the default method for ``space``."""
    from tuner import methods

    return methods.resolve(method=method, searcher=searcher, scheduler=scheduler, space=space)


def check_searcher_space(searcher: str, space: SearchSpace) -> None:
    """Raise ``SpaceError`` if ``searcher`` cannot search ``space`` (grid over a float, …)."""
    from tuner import searchers

    if searcher in searchers.SEARCHERS:  # mf-tpe (tuner.methods) takes any space
        searchers.check_searcher_space(searcher, space)


def build_searcher(name: str, space: SearchSpace, ladder: Any, **kwargs: Any):
    from tuner import methods

    return methods.build_searcher(name, space, ladder, **kwargs)


def build_scheduler(name: str, ladder: Any, **kwargs: Any):
    from tuner.schedulers import make_scheduler

    return make_scheduler(name, ladder, **kwargs)
