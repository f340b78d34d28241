"""Checks of what an experiment names, at parse time: options and spaces a component takes.

A typo such as ``brackets`` → ``bracket`` or ``n_startp`` would otherwise surface as a
TypeError from a constructor after Ray started; a grid over a float as a searcher error in the
first trial. Both are one line here instead. Imports are lazy so ``tuner --help`` stays fast.
"""

from __future__ import annotations

from search_spaces import SearchSpace
from tuner.errors import ConfigError

__all__ = ["check_options", "check_searcher_space"]


def check_searcher_space(searcher: str, space: SearchSpace) -> None:
    """Raise ``SpaceError`` if ``searcher`` cannot search ``space`` (grid over a float, …)."""
    from tuner import searchers

    if searcher in searchers.SEARCHERS:  # mf-tpe (tuner.compose.methods) takes any space
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

    from tuner import searchers
    from tuner.compose import methods

    if name == "mf-tpe" or name in methods.MF_SEARCHERS:
        from tuner.searchers.mf_tpe import MultiFidelityTPE as cls
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
    from tuner.schedulers import COMMON_OPTIONS, scheduler_options

    try:
        return set(scheduler_options(name)) | set(COMMON_OPTIONS)
    except KeyError:
        return None
