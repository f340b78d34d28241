"""A search space: named domains, some conditional on others' values.

Conditions are flat (``when={"optimizer": "sgd"}``) so a trial's config stays a flat dict that
Ray, the trainables and ``trials.csv`` all read the same way; a parameter is *active* when every
parent it names is active and holds one of the listed values. Inactive parameters are simply
absent from a config.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from search_spaces.domains import Categorical, Domain, Fixed
from search_spaces.errors import SpaceError

__all__ = ["SearchSpace"]


class SearchSpace(Mapping):
    """An ordered mapping ``name -> Domain`` with validated, acyclic conditions."""

    def __init__(self, params: Mapping[str, Domain]):
        if not isinstance(params, Mapping):
            raise SpaceError(f"a search space must be a mapping name -> domain, got {params!r}")
        named: dict[str, Domain] = {}
        for name, dom in params.items():
            if not isinstance(dom, Domain):
                dom = Fixed(dom)
            named[str(name)] = dataclasses.replace(dom, name=str(name))
        self._params = {n: named[n] for n in _topological_order(named)}

    # Mapping protocol -------------------------------------------------------------------
    def __getitem__(self, name: str) -> Domain:
        return self._params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __repr__(self) -> str:
        return f"SearchSpace({self._params!r})"

    # Structure --------------------------------------------------------------------------
    @property
    def searchable(self) -> dict[str, Domain]:
        """Domains a searcher must choose (everything but ``Fixed``)."""
        return {n: d for n, d in self._params.items() if not isinstance(d, Fixed)}

    @property
    def is_conditional(self) -> bool:
        return any(d.when for d in self._params.values())

    def is_active(self, name: str, config: Mapping[str, Any]) -> bool:
        """True when every condition of ``name`` holds in ``config`` (parents checked first)."""
        for parent, values in self._params[name].when.items():
            if parent not in config or not self.is_active(parent, config):
                return False
            if not any(config[parent] == v or repr(config[parent]) == repr(v) for v in values):
                return False
        return True

    # Sampling and checking --------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """One random config holding only the active parameters."""
        config: dict[str, Any] = {}
        for name, dom in self._params.items():
            if self.is_active(name, config):
                config[name] = _plain(dom.sample(rng))
        return config

    def from_unit(self, vector: Mapping[str, float]) -> dict[str, Any]:
        """Build a config from unit-cube coordinates per name (searchers that work in [0,1]^d)."""
        config: dict[str, Any] = {}
        for name, dom in self._params.items():
            if self.is_active(name, config):
                config[name] = _plain(dom.from_unit(vector.get(name, 0.5)))
        return config

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Raise :class:`SpaceError` unless ``config`` is a point of this space."""
        unknown = sorted(set(config) - set(self._params))
        if unknown:
            raise SpaceError(f"{unknown[0]}: not a parameter of this space; known: "
                             f"{', '.join(self._params)}")
        for name, dom in self._params.items():
            active = self.is_active(name, config)
            if active and name not in config:
                raise SpaceError(f"{name}: missing (active in this config)")
            if not active and name in config:
                raise SpaceError(f"{name}: set but inactive — its condition {dom.when} does not hold")
            if active and not dom.contains(config[name]):
                raise SpaceError(f"{name}: {config[name]!r} is outside its {dom.kind} domain {dom}")

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of values, respecting conditions (continuous ranges refused)."""
        return list(self.iter_grid())

    def iter_grid(self) -> Iterator[dict[str, Any]]:
        """The points of :meth:`grid` one at a time, in the same order (last name fastest), so a
        grid of millions costs no memory; a continuous range is refused before the first one.

        No point repeats: choices are distinct, and an inactive parameter does not branch.
        """
        values = {name: [_plain(v) for v in dom.grid_values()] for name, dom in self._params.items()}
        names = list(self._params)

        def extend(i: int, config: dict[str, Any]) -> Iterator[dict[str, Any]]:
            if i == len(names):
                yield dict(config)
                return
            name = names[i]
            if not self.is_active(name, config):
                yield from extend(i + 1, config)
                return
            for v in values[name]:
                config[name] = v
                yield from extend(i + 1, config)
            del config[name]

        return extend(0, {})

    def grid_size(self) -> int:
        """How many points :meth:`grid` has, counted without building them."""
        return sum(1 for _ in self.iter_grid())


def _plain(value: Any) -> Any:
    """numpy scalars → Python scalars, so configs serialise to YAML/JSON/CSV cleanly."""
    return value.item() if isinstance(value, np.generic) else value


def _topological_order(params: dict[str, Domain]) -> list[str]:
    """Order names so parents come before children; reject bad conditions with their name."""
    for name, dom in params.items():
        for parent, values in dom.when.items():
            if parent == name:
                raise SpaceError(f"{name}: a parameter cannot be conditional on itself")
            if parent not in params:
                raise SpaceError(f"{name}: condition on {parent!r}, which is not a parameter; "
                                 f"known: {', '.join(params)}")
            pdom = params[parent]
            if not isinstance(pdom, (Categorical, Fixed)):
                raise SpaceError(f"{name}: condition on {parent!r} needs a categorical or fixed "
                                 f"parent, got {pdom.kind}")
            allowed = pdom.choices if isinstance(pdom, Categorical) else (pdom.value,)
            for v in values:
                if not any(v == a or repr(v) == repr(a) for a in allowed):
                    raise SpaceError(f"{name}: condition {parent}={v!r} can never hold; "
                                     f"{parent} is one of {list(allowed)}")
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(n: str, path: tuple[str, ...]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            raise SpaceError(f"{n}: conditions form a cycle: {' -> '.join(path + (n,))}")
        state[n] = 1
        for parent in params[n].when:
            visit(parent, path + (n,))
        state[n] = 2
        order.append(n)

    for n in params:
        visit(n, ())
    return order


