"""Check, before Ray starts, that a searcher can handle a space (``tuner launch --dry-run``)."""

from __future__ import annotations

from search_spaces import SearchSpace, SpaceError

__all__ = ["check_space"]


def check_space(name: str, space: SearchSpace) -> None:
    """Raise ``SpaceError`` with an actionable message when searcher ``name`` cannot use
    ``space`` (the registry, ``tuner.searchers.check_searcher_space``, checks the name)."""
    if not isinstance(space, SearchSpace):
        raise SpaceError(f"{name}: expected a SearchSpace, got {type(space).__name__}")
    if name == "grid":
        _check_grid(space)
    elif name == "pso":
        from tuner.searchers.pso import check_pso_space

        check_pso_space(space)


def _check_grid(space: SearchSpace) -> None:
    continuous = [n for n, d in space.searchable.items() if d.is_continuous]
    if continuous:
        raise SpaceError(
            f"grid: {', '.join(continuous)}: a continuous float range has no grid; give it a "
            "'step', make it a 'grid'/'categorical' list, or use a sampling searcher "
            "('random', 'hyperopt-tpe', 'optuna-tpe', ...)"
        )
    space.grid()  # anything else grid() refuses, with its own message
