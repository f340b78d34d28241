"""Several objectives: which results dominate, the Pareto front, a ranking, hypervolume.

Plain numpy over *losses* (every objective turned into one to minimise: ``value`` for
``min``, ``-value`` for ``max``), so the schedulers, the result files and the benchmarks share
one definition and it is testable without Ray.

* **Dominance**: ``a`` dominates ``b`` when it is no worse on every objective and better on
  one. Equal points do not dominate each other, so duplicates share a front (ties included).
* **Ranking** (:func:`priority`): non-dominated sorting (front 0 first, then the front of
  what is left, …), and inside a front the ε-net order of Salinas et al. / Schmucker et al.
  2021 (MO-ASHA), as Syne Tune's ``nondominated_sort`` does it: start at the point best on the
  first objective, then repeatedly take the point farthest from those already taken. Two
  changes, both said where they matter: distances are taken after scaling each objective to
  [0, 1] over the points ranked (Syne Tune uses raw values, so an objective counted in
  parameters would drown one in accuracy), and equal points get the same priority (so a tie
  with a trial that continued also continues, as in our single-objective ASHA).
* **Hypervolume**: exact in two dimensions (a sweep); above that Optuna's WFG
  (``optuna._hypervolume.compute_hypervolume``, the routine behind Optuna's own hypervolume
  history), imported on use.

Optuna has the same pieces for its samplers, but as private functions of a study
(``optuna.study._multi_objective``); depending on them here would tie every scheduler
decision to Optuna's internals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Objectives", "RungFronts", "dominates", "fronts", "hypervolume", "pareto_mask",
           "priority"]


@dataclass(frozen=True)
class Objectives:
    """The objectives of an experiment: ``names[i]`` is optimised in direction ``modes[i]``."""

    names: tuple[str, ...]
    modes: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.names) != len(self.modes):
            raise ValueError(f"metric and mode: {len(self.names)} metrics but "
                             f"{len(self.modes)} modes; give one mode per metric")
        for mode in self.modes:
            if mode not in ("min", "max"):
                raise ValueError(f"mode: expected 'min' or 'max', got {mode!r}")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"metric: an objective is named twice in {list(self.names)}")

    @classmethod
    def of(cls, metric: str | Sequence[str], mode: str | Sequence[str]) -> Objectives:
        """From what Ray/Optuna users write: one name and mode, or a list of each."""
        names = (metric,) if isinstance(metric, str) else tuple(metric)
        modes = (mode,) if isinstance(mode, str) else tuple(mode)
        return cls(names, modes)

    @property
    def several(self) -> bool:
        return len(self.names) > 1

    def losses(self, result: Mapping[str, Any] | None) -> np.ndarray | None:
        """The objectives of one result as losses, or ``None`` if one is missing or not a
        finite number (a diverged trial ranks nowhere)."""
        if not result:
            return None
        out = []
        for name, mode in zip(self.names, self.modes):
            try:
                value = float(result[name])
            except (KeyError, TypeError, ValueError):
                return None
            if not math.isfinite(value):
                return None
            out.append(-value if mode == "max" else value)
        return np.array(out, dtype=float)

    def values(self, losses: Sequence[float]) -> dict[str, float]:
        """Losses back to the objectives as reported."""
        return {n: (-v if m == "max" else v) for n, m, v in zip(self.names, self.modes, losses)}


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether loss vector ``a`` dominates ``b``."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return bool(np.all(a <= b) and np.any(a < b))


def pareto_mask(losses: Any) -> np.ndarray:
    """``mask[i]``: point ``i`` is dominated by no other point (equal points are kept)."""
    x = np.asarray(losses, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"expected an (n, objectives) array, got shape {x.shape}")
    if len(x) == 0:
        return np.zeros(0, dtype=bool)
    no_worse = np.all(x[:, None, :] <= x[None, :, :], axis=2)  # [j, i]: j no worse than i
    better = np.any(x[:, None, :] < x[None, :, :], axis=2)
    return ~np.any(no_worse & better, axis=0)


def fronts(losses: Any) -> list[np.ndarray]:
    """Non-dominated sorting: the indices of front 0, then of the next front, and so on."""
    x = np.asarray(losses, dtype=float)
    remaining = np.arange(len(x))
    out = []
    while remaining.size:
        mask = pareto_mask(x[remaining])
        out.append(remaining[mask])
        remaining = remaining[~mask]
    return out


def _epsnet(points: np.ndarray) -> list[int]:
    """Farthest-point order of ``points`` (already scaled), starting at the lowest first
    objective (Clarkson 2005, as Syne Tune's ``compute_epsilon_net`` with ``dim=0``)."""
    order = [int(np.argmin(points[:, 0]))]
    distance = np.linalg.norm(points - points[order[0]], axis=1)
    while len(order) < len(points):
        distance[order] = -1.0
        nxt = int(np.argmax(distance))
        order.append(nxt)
        distance = np.minimum(distance, np.linalg.norm(points - points[nxt], axis=1))
    return order


def _unit_scaled(x: np.ndarray) -> np.ndarray:
    """Each objective scaled to [0, 1] over the points (a constant one to 0)."""
    span = x.max(axis=0) - x.min(axis=0)
    return (x - x.min(axis=0)) / np.where(span > 0, span, 1.0)


def priority(losses: Any) -> np.ndarray:
    """``priority[i]``: 0 for the point ranked first; equal points share the lower number.

    Front by front, each front in ε-net order on objectives scaled to [0, 1] over all points.
    """
    x = np.asarray(losses, dtype=float)
    if len(x) == 0:
        return np.zeros(0, dtype=int)
    scaled = _unit_scaled(x)
    order: list[int] = []
    for front in fronts(x):
        order += [int(front[i]) for i in _epsnet(scaled[front])]
    rank = np.empty(len(x), dtype=int)
    rank[order] = np.arange(len(x))
    return _share_ties(x, rank)


def _share_ties(x: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Equal points all get the best (lowest) number any of them got."""
    _, group = np.unique(x, axis=0, return_inverse=True)
    best = np.full(group.max() + 1, np.iinfo(int).max)
    np.minimum.at(best, group.ravel(), rank)
    return best[group.ravel()]


class RungFronts:
    """The points of one rung with their front numbers, kept as points arrive, so a rung
    decision costs a pass over the points instead of a non-dominated sort of all of them.

    A point's front is one more than the highest front among the points that dominate it
    (0 for none) — what peeling fronts gives. A new point can push points it dominates to
    later fronts; that moves through the dominance graph until nothing changes.
    ``place_of_last`` equals ``priority(points)[-1]`` (tested on random streams)."""

    def __init__(self, points: Any = ()):
        self.points = np.zeros((0, 0))
        self.front = np.zeros(0, dtype=int)
        for p in points:
            self.add(p)

    def add(self, point: Sequence[float]) -> None:
        p = np.asarray(point, dtype=float)[None, :]
        if len(self.points) == 0:
            self.points, self.front = p, np.zeros(1, dtype=int)
            return
        above = _dominating(self.points, p[0])
        start = int(self.front[above].max()) + 1 if above.any() else 0
        self.points = np.vstack([self.points, p])
        self.front = np.append(self.front, start)
        todo = [len(self.points) - 1]
        while todo:  # push the points it (and whatever moved) dominates below it
            a = todo.pop()
            below = _dominating(self.points[a][None, :], self.points, rows=True)
            moved = np.flatnonzero(below & (self.front <= self.front[a]))
            self.front[moved] = self.front[a] + 1
            todo += moved.tolist()

    def place_of_last(self) -> int:
        """The last point's place in ``priority``'s order (ties share the better place)."""
        x, own = self.points, self.front[-1]
        before = int(np.sum(self.front < own))
        members = np.flatnonzero(self.front == own)
        if len(members) == 1:
            return before
        scaled = _unit_scaled(x)
        order = [int(members[i]) for i in _epsnet(scaled[members])]
        rank = np.empty(len(x), dtype=int)
        rank[order] = before + np.arange(len(order))
        same = np.all(x[members] == x[-1], axis=1)
        return int(rank[members[same]].min())


def _dominating(points: np.ndarray, q: np.ndarray, rows: bool = False) -> np.ndarray:
    """``rows=False``: which of ``points`` dominate ``q``; ``rows=True``: which of the rows
    of ``q`` the single point ``points[0]`` dominates."""
    if rows:
        a, b = points[0], q
        return np.all(a <= b, axis=1) & np.any(a < b, axis=1)
    return np.all(points <= q, axis=1) & np.any(points < q, axis=1)


def hypervolume(losses: Any, reference: Sequence[float]) -> float:
    """The volume dominated by ``losses`` and bounded by ``reference`` (points not better
    than the reference on every objective add nothing)."""
    x = np.asarray(losses, dtype=float).reshape(-1, len(reference))
    ref = np.asarray(reference, dtype=float)
    x = x[np.all(x < ref, axis=1)]
    if len(x) == 0:
        return 0.0
    x = x[pareto_mask(x)]
    if x.shape[1] == 1:
        return float(ref[0] - x[:, 0].min())
    if x.shape[1] == 2:
        x = x[np.argsort(x[:, 0])]
        widths = np.diff(np.append(x[:, 0], ref[0]))
        return float(np.sum(widths * (ref[1] - np.minimum.accumulate(x[:, 1]))))
    from optuna._hypervolume import compute_hypervolume

    return float(compute_hypervolume(x, ref))
