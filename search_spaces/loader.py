"""Read a search space from YAML (or an already-parsed dict) and write it back.

Format, one entry per parameter::

    lr:        {type: float, low: 1e-4, high: 0.1, log: true}
    hidden:    {type: int, low: 32, high: 256, step: 32}
    optimizer: {type: categorical, choices: [sgd, adam]}
    momentum:  {type: float, low: 0.0, high: 0.99, when: {optimizer: sgd}}
    act:       {type: grid, values: [relu, tanh]}
    dataset:   digits                 # a plain value is fixed

A bare list is shorthand for a categorical. YAML 1.1 reads ``1e-4`` as a *string*; numbers
written that way are accepted here so users don't have to write ``1.0e-4``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from search_spaces.domains import Categorical, Domain, Fixed, Float, Int
from search_spaces.errors import SpaceError
from search_spaces.space import SearchSpace

__all__ = ["SPACES_DIR", "load_space", "space_from_dict", "space_to_dict"]

SPACES_DIR = Path(__file__).resolve().parent

_KEYS = {
    "float": {"type", "low", "high", "log", "step", "when"},
    "int": {"type", "low", "high", "log", "step", "when"},
    "categorical": {"type", "choices", "when"},
    "grid": {"type", "values", "when"},
    "fixed": {"type", "value", "when"},
}


def load_space(source: str | Path | dict) -> SearchSpace:
    """A :class:`SearchSpace` from a YAML file path, a name of a file in ``search_spaces/``,
    or a parsed mapping."""
    if isinstance(source, dict):
        return space_from_dict(source)
    path = Path(source)
    if not path.exists() and not path.is_absolute():
        for candidate in (SPACES_DIR / path, SPACES_DIR / f"{path}.yaml"):
            if candidate.exists():
                path = candidate
                break
    if not path.exists():
        available = sorted(p.stem for p in SPACES_DIR.glob("*.yaml"))
        raise SpaceError(f"space file {str(source)!r} not found; bundled spaces: "
                         f"{', '.join(available) or 'none'}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpaceError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise SpaceError(f"{path}: a space file must be a mapping of parameter names")
    return space_from_dict(data)


def space_from_dict(data: dict[str, Any]) -> SearchSpace:
    if not isinstance(data, dict) or not data:
        raise SpaceError("a search space must be a non-empty mapping of parameter names")
    return SearchSpace({str(name): _domain(str(name), spec) for name, spec in data.items()})


def _num(name: str, key: str, value: Any) -> Any:
    if isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            raise SpaceError(f"{name}: {key} must be a number, got {value!r}") from None
        return int(f) if f.is_integer() and "." not in value and "e" not in value.lower() else f
    return value


def _domain(name: str, spec: Any) -> Domain:
    if isinstance(spec, list):
        return Categorical(tuple(spec), name=name)
    if not isinstance(spec, dict):
        return Fixed(spec, name=name)
    kind = spec.get("type")
    if kind is None:
        raise SpaceError(f"{name}: missing 'type'; one of {', '.join(_KEYS)}")
    if not isinstance(kind, str) or kind not in _KEYS:
        raise SpaceError(f"{name}: unknown type {kind!r}; one of {', '.join(_KEYS)}")
    if kind == "grid" and ("low" in spec or "high" in spec):
        raise SpaceError(f"{name}: a grid needs a list of 'values'; a range has no grid — use "
                         "{type: int/float, low, high, step} or list the values")
    unknown = sorted(set(spec) - _KEYS[kind])
    if unknown:
        raise SpaceError(f"{name}: unknown key {unknown[0]!r} for type {kind}; "
                         f"valid keys: {', '.join(sorted(_KEYS[kind]))}")
    when = spec.get("when")
    if kind in ("float", "int"):
        for key in ("low", "high"):
            if key not in spec:
                raise SpaceError(f"{name}: {kind} needs '{key}'")
        log = spec.get("log", False)
        if not isinstance(log, bool):
            raise SpaceError(f"{name}: log must be true or false, got {log!r}")
        cls = Float if kind == "float" else Int
        return cls(_num(name, "low", spec["low"]), _num(name, "high", spec["high"]), log=log,
                   step=_num(name, "step", spec.get("step")), when=when, name=name)
    if kind == "categorical":
        if "choices" not in spec:
            raise SpaceError(f"{name}: categorical needs 'choices'")
        return Categorical(_as_list(name, "choices", spec["choices"]), when=when, name=name)
    if kind == "grid":
        if "values" not in spec:
            raise SpaceError(f"{name}: grid needs 'values' (a list; grid over a range is not "
                             "possible — use a list or an int/float with 'step')")
        return Categorical(_as_list(name, "values", spec["values"]), grid=True, when=when,
                           name=name)
    if "value" not in spec:
        raise SpaceError(f"{name}: fixed needs 'value'")
    return Fixed(spec["value"], when=when, name=name)


def _as_list(name: str, key: str, value: Any) -> tuple:
    if not isinstance(value, list):
        raise SpaceError(f"{name}: {key} must be a list, got {value!r}")
    return tuple(value)


def space_to_dict(space: SearchSpace) -> dict[str, Any]:
    """The YAML form of ``space`` (round-trips through :func:`space_from_dict`)."""
    out: dict[str, Any] = {}
    for name, dom in space.items():
        when = {p: (list(v) if len(v) > 1 else v[0]) for p, v in dom.when.items()}
        if isinstance(dom, Fixed) and not when and not isinstance(dom.value, (list, dict)):
            out[name] = dom.value  # a bare list or mapping would read back as something else
            continue
        if isinstance(dom, Fixed):
            d: dict[str, Any] = {"type": "fixed", "value": dom.value}
        elif isinstance(dom, Categorical):
            d = ({"type": "grid", "values": list(dom.choices)} if dom.grid
                 else {"type": "categorical", "choices": list(dom.choices)})
        else:
            d = {"type": dom.kind, "low": dom.low, "high": dom.high}
            if dom.log:
                d["log"] = True
            if dom.step is not None:
                d["step"] = dom.step
        if when:
            d["when"] = when
        out[name] = d
    return out
