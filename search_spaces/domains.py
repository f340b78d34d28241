"""Parameter domains: float, int, categorical, fixed — each validated at construction.

Bounds are inclusive on both ends (unlike ``tune.randint``, which excludes ``high``), stated
once here so every searcher agrees. ``when`` makes a parameter conditional on the value of
another (categorical or fixed) parameter: ``Float(0, 0.99, when={"optimizer": "sgd"})``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from search_spaces.errors import SpaceError

__all__ = ["Domain", "Float", "Int", "Categorical", "Fixed"]


def _p(name: str) -> str:
    """Prefix a message with the parameter's name once it is known."""
    return "" if name in ("?", "") else f"{name}: "


def _number(name: str, what: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpaceError(f"{_p(name)}{what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise SpaceError(f"{_p(name)}{what} must be finite, got {value!r}")
    return value


def _normalise_when(name: str, when: Any) -> dict[str, tuple]:
    if when is None or when == {}:
        return {}
    if not isinstance(when, dict):
        raise SpaceError(f"{_p(name)}'when' must be a mapping parent -> value(s), got {when!r}")
    out = {}
    for parent, values in when.items():
        vals = tuple(values) if isinstance(values, (list, tuple)) else (values,)
        if not vals:
            raise SpaceError(f"{_p(name)}'when' on {parent!r} lists no values")
        out[str(parent)] = vals
    return out


@dataclass(frozen=True)
class Domain:
    """Base of all domains; ``name`` is filled in by :class:`SearchSpace`."""

    when: dict = field(default_factory=dict, kw_only=True)
    name: str = field(default="?", kw_only=True, compare=False)

    kind = "domain"

    def sample(self, rng: np.random.Generator) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def contains(self, value: Any) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_unit(self, value: Any) -> float:
        """Map a value to [0, 1] (log scale where declared) for model-based searchers."""
        raise NotImplementedError

    def from_unit(self, u: float) -> Any:
        raise NotImplementedError

    @property
    def is_continuous(self) -> bool:
        return False

    def grid_values(self) -> list:
        raise SpaceError(
            f"{_p(self.name)}grid search needs a finite set of values; a continuous "
            f"{self.kind} range has none — use 'choices' or 'step'"
        )


@dataclass(frozen=True)
class _Range(Domain):
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    step: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "when", _normalise_when(self.name, self.when))
        self.validate()

    def validate(self) -> None:
        n = self.name
        low = _number(n, "low", self.low)
        high = _number(n, "high", self.high)
        if low > high:
            raise SpaceError(f"{_p(n)}low must be <= high, got low={low}, high={high}")
        if self.log and low <= 0:
            raise SpaceError(f"{_p(n)}log scale needs low > 0, got low={low}")
        if self.step is not None:
            step = _number(n, "step", self.step)
            if step <= 0:
                raise SpaceError(f"{_p(n)}step must be > 0, got step={step}")
            if self.log:
                raise SpaceError(f"{_p(n)}step and log cannot be combined; choose one")

    def _lohi(self) -> tuple[float, float]:
        if self.log:
            return math.log(self.low), math.log(self.high)
        return float(self.low), float(self.high)

    def to_unit(self, value: Any) -> float:
        lo, hi = self._lohi()
        x = math.log(value) if self.log else float(value)
        return 0.5 if hi == lo else min(1.0, max(0.0, (x - lo) / (hi - lo)))

    def _raw(self, u: float) -> float:
        lo, hi = self._lohi()
        x = lo + min(1.0, max(0.0, float(u))) * (hi - lo)
        return math.exp(x) if self.log else x

    def sample(self, rng: np.random.Generator) -> Any:
        return self.from_unit(rng.random())


@dataclass(frozen=True)
class Float(_Range):
    """A real number in [low, high]; ``log=True`` samples uniformly in log space."""

    kind = "float"

    @property
    def is_continuous(self) -> bool:
        return self.step is None

    def from_unit(self, u: float) -> float:
        x = self._raw(u)
        if self.step is not None:
            x = self.low + round((x - self.low) / self.step) * self.step
        return float(min(self.high, max(self.low, x)))

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
            return False
        return self.low <= value <= self.high

    def grid_values(self) -> list:
        if self.step is None:
            return super().grid_values()
        n = int(math.floor((self.high - self.low) / self.step + 1e-9))
        return [float(self.low + i * self.step) for i in range(n + 1)]


@dataclass(frozen=True)
class Int(_Range):
    """An integer in [low, high] (both inclusive); ``log=True`` for widths and batch sizes."""

    kind = "int"

    def validate(self) -> None:
        super().validate()
        for what in ("low", "high", "step"):
            v = getattr(self, what)
            if v is not None and float(v) != int(v):
                raise SpaceError(f"{_p(self.name)}int {what} must be a whole number, got {v}")

    def from_unit(self, u: float) -> int:
        if self.log:
            # widen by half a unit so both end points are as likely as the inner integers
            lo, hi = math.log(self.low - 0.4999), math.log(self.high + 0.4999)
            x = math.exp(lo + min(1.0, max(0.0, float(u))) * (hi - lo))
        else:
            x = self.low - 0.4999 + min(1.0, max(0.0, float(u))) * (self.high - self.low + 0.9998)
        step = int(self.step or 1)
        x = int(self.low) + round((x - self.low) / step) * step
        return int(min(self.high, max(self.low, x)))

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            if not (isinstance(value, float) and value.is_integer()):
                return False
        return self.low <= value <= self.high

    def grid_values(self) -> list:
        return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))


@dataclass(frozen=True)
class Categorical(Domain):
    """One of a list of choices; ``grid=True`` asks grid-capable searchers to try each."""

    choices: tuple = ()
    grid: bool = False

    kind = "categorical"

    def __post_init__(self) -> None:
        object.__setattr__(self, "when", _normalise_when(self.name, self.when))
        if isinstance(self.choices, (str, bytes)) or not hasattr(self.choices, "__iter__"):
            raise SpaceError(f"{_p(self.name)}choices must be a list, got {self.choices!r}")
        choices = tuple(self.choices)
        if not choices:
            raise SpaceError(f"{_p(self.name)}choices must not be empty")
        if len(set(map(repr, choices))) != len(choices):
            raise SpaceError(f"{_p(self.name)}choices must be distinct, got {list(choices)}")
        object.__setattr__(self, "choices", choices)

    def sample(self, rng: np.random.Generator) -> Any:
        return self.choices[int(rng.integers(len(self.choices)))]

    def contains(self, value: Any) -> bool:
        return any(value == c and type(value) is type(c) or repr(value) == repr(c)
                   for c in self.choices)

    def index(self, value: Any) -> int:
        for i, c in enumerate(self.choices):
            if value == c or repr(value) == repr(c):
                return i
        raise SpaceError(f"{_p(self.name)}{value!r} is not one of {list(self.choices)}")

    def to_unit(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self.choices)

    def from_unit(self, u: float) -> Any:
        i = min(len(self.choices) - 1, max(0, int(float(u) * len(self.choices))))
        return self.choices[i]

    def grid_values(self) -> list:
        return list(self.choices)


@dataclass(frozen=True)
class Fixed(Domain):
    """A constant passed to every trial (not searched)."""

    value: Any = None

    kind = "fixed"

    def __post_init__(self) -> None:
        object.__setattr__(self, "when", _normalise_when(self.name, self.when))

    def sample(self, rng: np.random.Generator) -> Any:
        return self.value

    def contains(self, value: Any) -> bool:
        return value == self.value

    def to_unit(self, value: Any) -> float:
        return 0.5

    def from_unit(self, u: float) -> Any:
        return self.value

    def grid_values(self) -> list:
        return [self.value]
