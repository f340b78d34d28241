"""Parameter domains: float, int, categorical, fixed — each validated at construction.

Bounds are inclusive on both ends (unlike ``tune.randint``, which excludes ``high``), stated
once here so every searcher agrees. ``when`` makes a parameter conditional on the value of
another (categorical or fixed) parameter: ``Float(0, 0.99, when={"optimizer": "sgd"})``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from search_spaces.errors import SpaceError

__all__ = ["Categorical", "Domain", "Fixed", "Float", "Int"]


def _p(name: str) -> str:
    """Prefix a message with the parameter's name once it is known."""
    return "" if name in ("?", "") else f"{name}: "


def _number(name: str, what: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise SpaceError(f"{_p(name)}{what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise SpaceError(f"{_p(name)}{what} must be finite, got {value!r}")
    return value.item() if isinstance(value, np.generic) else value


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


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

    def _n_steps(self) -> int:
        """How many whole steps fit between low and high (the last grid point is low + n*step)."""
        return math.floor((self.high - self.low) / self.step + 1e-9)

    def _on_step(self, value: float) -> bool:
        k = (value - self.low) / self.step
        return abs(k - round(k)) <= 1e-6 and round(k) <= self._n_steps()

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
        if self.step is not None:  # nearest grid point, never past the last one below high
            k = min(self._n_steps(), max(0, round((x - self.low) / self.step)))
            return self._at(k)
        return float(min(self.high, max(self.low, x)))

    def _at(self, k: int) -> float:
        """Grid point k, rounded so 0.1 + 2 * 0.1 reads 0.3 in configs and CSVs."""
        return float(min(self.high, round(self.low + k * self.step, 12)))

    def contains(self, value: Any) -> bool:
        if not _is_real(value) or not self.low <= value <= self.high:
            return False
        return self.step is None or self._on_step(float(value))

    def grid_values(self) -> list:
        if self.step is None:
            return super().grid_values()
        return [self._at(i) for i in range(self._n_steps() + 1)]


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
            if v is not None:  # 1e3 from YAML arrives as 1000.0; keep ints ints
                object.__setattr__(self, what, int(v))

    def _widened(self) -> tuple[float, float]:
        """The real interval mapped onto [0, 1]: half a unit past each end point, so both end
        points are as likely as the inner integers (in log space for ``log=True``)."""
        lo, hi = self.low - 0.4999, self.high + 0.4999
        return (math.log(lo), math.log(hi)) if self.log else (lo, hi)

    def from_unit(self, u: float) -> int:
        lo, hi = self._widened()
        x = lo + min(1.0, max(0.0, float(u))) * (hi - lo)
        x = math.exp(x) if self.log else x
        step = int(self.step or 1)
        k = min((self.high - self.low) // step, max(0, round((x - self.low) / step)))
        return int(self.low + k * step)

    def to_unit(self, value: Any) -> float:
        """Inverse of :meth:`from_unit`: ``from_unit(to_unit(v)) == v`` for every v in range."""
        lo, hi = self._widened()
        x = math.log(value) if self.log else float(value)
        return min(1.0, max(0.0, (x - lo) / (hi - lo)))

    def contains(self, value: Any) -> bool:
        if not _is_real(value) or not float(value).is_integer():
            return False
        if not self.low <= value <= self.high:
            return False
        return self.step is None or (int(value) - self.low) % int(self.step) == 0

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
        return self._find(value) is not None

    def _find(self, value: Any) -> int | None:
        """Index of ``value``: same type and equal first (so False is not 0), then same repr."""
        value = _plain(value)
        for i, c in enumerate(self.choices):
            if type(value) is type(c) and value == c:
                return i
        for i, c in enumerate(self.choices):
            if repr(value) == repr(c):
                return i
        return None

    def index(self, value: Any) -> int:
        i = self._find(value)
        if i is None:
            raise SpaceError(f"{_p(self.name)}{value!r} is not one of {list(self.choices)}")
        return i

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
