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

__all__ = ["get_trainable", "resolve", "check_searcher_space",
           "build_searcher", "build_scheduler"]


def get_trainable(spec):
    """The class or function for a registry name, a ``package.module:name`` path or the
    object itself (``tuner.user_code.resolve_trainable`` does the importing and checking)."""
    from tuner.user_code import resolve_trainable

    return resolve_trainable(spec).obj


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


def check_options(kind: str, name: str, options: dict) -> None:
    """Refuse an option the searcher/scheduler called ``name`` does not take, at parse time
    (a typo such as ``brackets`` → ``bracket`` would otherwise surface as a TypeError from a
    constructor after Ray started)."""
    valid = _searcher_options(name) if kind == "searcher" else _scheduler_options(name)
    if valid is None:
        return  # a constructor taking **kwargs: nothing to check here
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(f"{kind}.{unknown[0]}: unknown option for {kind} {name}; valid: "
                          f"{', '.join(sorted(valid)) or '(none)'}")


_COMMON_SEARCHER_ARGS = {"self", "space", "ladder", "metric", "mode", "seed",
                         "points_to_evaluate"}


def _searcher_options(name: str) -> set[str] | None:
    import inspect

    from tuner import methods, searchers

    if name == "mf-tpe" or name in methods.MF_SEARCHERS:
        from tuner.mf_searcher import MultiFidelityTPE as cls
    elif name in searchers.SEARCHERS:
        cls = searchers.SEARCHERS[name]
    else:
        return None
    names: set[str] = set()
    for klass in getattr(cls, "__mro__", (cls,)):  # subclasses pass **kwargs to their base
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    else:
        return None
    return names - _COMMON_SEARCHER_ARGS


def _scheduler_options(name: str) -> set[str] | None:
    from tuner.schedulers import _COMMON, scheduler_options

    try:
        return set(scheduler_options(name)) | set(_COMMON)
    except KeyError:
        return None


def build_searcher(name: str, space: SearchSpace, ladder: Any, **kwargs: Any):
    from tuner import methods

    return methods.build_searcher(name, space, ladder, **kwargs)


def build_scheduler(name: str, ladder: Any, **kwargs: Any):
    from tuner.schedulers import make_scheduler

    return make_scheduler(name, ladder, **kwargs)
