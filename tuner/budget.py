"""Budgets as a ladder of fidelities, and Hyperband's brackets over them.

An experiment declares its budget once (resource, min, max, reduction factor η and optional
further fidelity dimensions such as the training-data fraction). From that come:

* the ASHA rungs ``min·η^k ≤ max`` (the paper's geometric ladder), each with its fidelity
  (e.g. rung 0 = 1 epoch on 25 % of the data, rung 1 = 3 epochs on 50 %, then full data);
* the ``fidelity_schedule`` handed to the trainable, so it learns its data fraction per epoch
  while the scheduler keeps seeing one monotone budget measure (epochs);
* Hyperband's brackets exactly as in Li et al., JMLR 2018, Algorithm 1 / Table 1:
  ``s_max = ⌊log_η(R)⌋``, bracket ``s`` starts ``n = ⌈(s_max+1)/(s+1)·η^s⌉`` configs at
  ``r = R·η^(−s)`` and keeps ``⌊n·η^(−i)⌋`` at rung ``i``. Ray's ``HyperBandScheduler`` uses
  ``round`` for ``s_max`` and a float ``max_t`` scaling that differ on non-exact ratios; the
  plan printed by ``tuner plan`` is this paper version (see README).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BudgetError", "BudgetLadder", "Rung", "Bracket", "hyperband_brackets"]


from tuner.errors import BudgetError  # noqa: E402  (re-exported: one home for user errors)


@dataclass(frozen=True)
class Rung:
    """One step of the ladder: train up to ``resource`` units at these fidelities."""

    resource: int
    data_fraction: float = 1.0


@dataclass(frozen=True)
class Bracket:
    """One Hyperband bracket: ``rungs[i] = (n_i configs, r_i resource each)``."""

    s: int
    rungs: tuple[tuple[int, int], ...]

    @property
    def budget(self) -> int:
        """Resource units this bracket spends if every survivor trains from scratch to r_i
        (the paper's accounting; with checkpoint resume survivors only add r_i − r_{i−1})."""
        return sum(n * r for n, r in self.rungs)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value != int(value):
        raise BudgetError(f"budget.{name}: expected a whole number, got {value!r}")
    if value < 1:
        raise BudgetError(f"budget.{name}: must be >= 1, got {value}")
    return int(value)


@dataclass(frozen=True)
class BudgetLadder:
    """``min``/``max`` in units of ``resource`` (epochs), reduction factor ``eta`` (η ≥ 2)."""

    min: int = 1
    max: int = 27
    eta: int = 3
    resource: str = "epochs"
    data_fraction: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        lo = _positive_int("min", self.min)
        hi = _positive_int("max", self.max)
        if lo > hi:
            raise BudgetError(f"budget: min must be <= max, got min={lo}, max={hi}")
        if isinstance(self.eta, bool) or not isinstance(self.eta, (int, float)) \
                or not math.isfinite(self.eta) or self.eta < 2 or self.eta != int(self.eta):
            raise BudgetError(f"budget.eta: expected a whole number >= 2, got {self.eta!r}")
        if self.resource != "epochs":
            raise BudgetError(f"budget.resource: only 'epochs' is supported, got {self.resource!r}")
        fr = self.data_fraction
        if isinstance(fr, (int, float)):
            fr = (fr,)
        fr = tuple(fr or ())
        for f in fr:
            if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 1:
                raise BudgetError(f"budget.data_fraction: each entry must be in (0, 1], got {f!r}")
        if any(b < a for a, b in zip(fr, fr[1:])):
            raise BudgetError(f"budget.data_fraction: must not decrease along the ladder, "
                              f"got {list(fr)}")
        object.__setattr__(self, "min", lo)
        object.__setattr__(self, "max", hi)
        object.__setattr__(self, "eta", int(self.eta))
        object.__setattr__(self, "data_fraction", fr)
        if fr and len(fr) > len(self.rungs()):
            raise BudgetError(f"budget.data_fraction: {len(fr)} entries for "
                              f"{len(self.rungs())} rungs {[r.resource for r in self.rungs()]}")

    @classmethod
    def from_dict(cls, data: dict | None) -> "BudgetLadder":
        data = dict(data or {})
        known = {"min", "max", "eta", "resource", "data_fraction"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BudgetError(f"budget.{unknown[0]}: unknown key; valid keys: "
                              f"{', '.join(sorted(known))}")
        return cls(**data)

    def rung_resources(self) -> list[int]:
        """ASHA's milestones ``min·η^k`` up to ``max``; ``max`` ends every trial."""
        out, r = [], self.min
        while r <= self.max:
            out.append(int(r))
            r *= self.eta
        return out

    def rungs(self) -> list[Rung]:
        """Rungs with their fidelity; a final full-budget rung is added when ``max`` is not a
        power-of-η multiple of ``min`` (trials still stop there)."""
        resources = self.rung_resources()
        if resources[-1] != self.max:
            resources.append(self.max)
        return [Rung(r, self.fraction_at_rung(i)) for i, r in enumerate(resources)]

    def fraction_at_rung(self, i: int) -> float:
        if not self.data_fraction:
            return 1.0
        return float(self.data_fraction[min(i, len(self.data_fraction) - 1)])

    def fidelity_schedule(self) -> list[list[float]] | None:
        """``[[up_to_epoch, data_fraction], …]`` for the trainable, or None at full data."""
        if not self.data_fraction:
            return None
        return [[r.resource, r.data_fraction] for r in self.rungs()]

    def fraction_for_epoch(self, epoch: int) -> float:
        for r in self.rungs():
            if epoch <= r.resource:
                return r.data_fraction
        return 1.0

    def cost_units(self, epoch: int) -> float:
        """Budget consumed by ``epoch`` epochs, counting each epoch by its data fraction —
        the monotone measure to compare methods at equal compute."""
        return sum(self.fraction_for_epoch(e) for e in range(1, epoch + 1))


def hyperband_brackets(min_r: int, max_r: int, eta: int) -> list[Bracket]:
    """The brackets of Li et al. 2018 (Algorithm 1), largest ``s`` (most exploratory) first."""
    ladder = BudgetLadder(min=min_r, max=max_r, eta=eta)  # validates
    ratio = ladder.max / ladder.min
    s_max = int(math.floor(math.log(ratio, eta) + 1e-9))
    brackets = []
    for s in range(s_max, -1, -1):
        n = int(math.ceil((s_max + 1) / (s + 1) * eta**s - 1e-9))
        r = ladder.max * eta ** (-s)
        rungs = []
        for i in range(s + 1):
            n_i = int(math.floor(n * eta ** (-i) + 1e-9))
            r_i = int(round(r * eta**i))
            rungs.append((n_i, r_i))
        brackets.append(Bracket(s=s, rungs=tuple(rungs)))
    return brackets
