"""Ray Tune's ``param_space`` (``tune.loguniform``, ``tune.choice``, ``tune.grid_search``, …)
→ our :class:`~search_spaces.SearchSpace`, so a Ray Tune user's dict works as it is.

Ray's integer bounds differ by function: ``randint`` / ``lograndint`` exclude ``upper``,
``qrandint`` / ``qlograndint`` include it (``ray/tune/search/sample.py``); our ``Int`` is
inclusive on both ends, so the exclusive ones become ``upper - 1``. Distributions our searchers
cannot model (``randn``, ``sample_from``) are refused by name, with the parameter.
"""

from __future__ import annotations

from typing import Any

from search_spaces import Categorical, Fixed, Float, Int, SearchSpace
from tuner.errors import ConfigError

__all__ = ["is_ray_space", "from_ray_space"]


def _sample():
    from ray.tune.search import sample

    return sample


def is_ray_space(space: Any) -> bool:
    """A mapping with at least one Ray Tune domain or ``{"grid_search": [...]}`` in it."""
    if not isinstance(space, dict):
        return False
    try:
        domain = _sample().Domain
    except ImportError:
        return False
    return any(isinstance(v, domain) or _is_grid(v) for v in space.values())


def _is_grid(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"grid_search"}


def from_ray_space(space: dict) -> SearchSpace:
    params = {}
    for name, value in space.items():
        params[name] = _domain(name, value)
    return SearchSpace(params)


def _domain(name: str, value: Any):
    sample = _sample()
    if _is_grid(value):
        return Categorical(list(value["grid_search"]), grid=True)
    if isinstance(value, sample.Categorical):
        return Categorical(list(value.categories))
    if isinstance(value, (sample.Float, sample.Integer)):
        return _range(name, value, sample)
    if isinstance(value, sample.Domain):
        raise ConfigError(f"space.{name}: {type(value).__name__} ({value.domain_str}) cannot be "
                          "searched here; use a uniform, log-uniform, integer or choice domain")
    if isinstance(value, dict):
        raise ConfigError(f"space.{name}: nested spaces are not supported; use flat keys")
    return Fixed(value)


def _range(name: str, value: Any, sample: Any):
    sampler = value.get_sampler()
    step = getattr(sampler, "q", None)
    inner = getattr(sampler, "sampler", sampler)  # Quantized wraps the real sampler
    if not isinstance(inner, (sample.Float._Uniform, sample.Float._LogUniform,
                              sample.Integer._Uniform, sample.Integer._LogUniform)):
        raise ConfigError(f"space.{name}: {type(inner).__name__.strip('_')} sampling cannot be "
                          "searched here; use a uniform or log-uniform domain")
    log = isinstance(inner, (sample.Float._LogUniform, sample.Integer._LogUniform))
    if isinstance(value, sample.Float):
        return Float(value.lower, value.upper, log=log, step=step)
    # randint/lograndint exclude upper; their q-variants include it
    upper = value.upper if step is not None else value.upper - 1
    return Int(int(value.lower), int(upper), log=log, step=int(step) if step else None)
