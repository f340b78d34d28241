"""``pso``: particle swarm optimisation, asynchronous, in the unit cube of the space.

Particles fly in [0, 1]^d over the searchable parameters and are mapped to configs by
``SearchSpace.from_unit`` (log scales, ints, steps and categorical bins come for free; a
conditional parameter keeps its coordinate while inactive). Velocities use Clerc & Kennedy's
constriction ("The particle swarm — explosion, stability, and convergence", IEEE TEC 2002):
w = 0.7298, c1 = c2 = 1.49618. Updates are asynchronous (Koh et al., "Parallel asynchronous
particle swarm optimization", IJNME 2006): a particle moves as soon as *its* result returns,
so no generation barrier stalls a Ray cluster. When every particle is out being evaluated,
extra requests get a uniform "scout" draw, which can still improve the global best.

Under ASHA (method ``asha-pso``) a trial's completion carries the last rung it reached
(``training_iteration``), and bests are ordered by *rung reached first, then loss*: a trial the
scheduler promoted further beats one it stopped, whatever their raw values. Values at
different rungs are not comparable — a fit on 1/27 of the data can score above anything full
fidelity reaches (rbv2_rpart), and a swarm led by such a value chases a configuration no full
run confirms. Without a stopping scheduler every trial ends at the same rung and the order is
the loss alone.

Written here rather than wrapped: pyswarms (unmaintained since 2021) evaluates whole
generations; nevergrad's ``PSO`` is asynchronous per particle too (``optimizerlib._PSO`` keeps a
``UidQueue`` of particles and moves one on each ``tell``), but it owns its own parametrization and
RNG — it does not understand our conditional (``when=``) spaces, and its seeding goes through
its parametrization's random state rather than the searcher's seed — and it takes no
warm-start points into the swarm. The first wave is a Latin hypercube from
``scipy.stats.qmc.LatinHypercube``, seeded from the searcher's generator.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from search_spaces import Categorical, SearchSpace, SpaceError
from tuner.searchers.base import SpaceSearcher

__all__ = ["PSOSearcher", "check_pso_space"]

_SCOUT = -1


def check_pso_space(space: SearchSpace) -> None:
    """Refuse spaces PSO cannot move in: velocities need at least one numeric parameter."""
    searchable = space.searchable
    if not searchable:
        raise SpaceError("pso: the space has no searchable parameter (all are fixed)")
    if all(isinstance(d, Categorical) for d in searchable.values()):
        raise SpaceError(
            "pso: PSO needs at least one numeric (float or int) parameter, but every "
            f"searchable parameter is categorical ({', '.join(searchable)}); "
            "use 'hyperopt-tpe', 'optuna-tpe', 'random' or 'grid' for this space"
        )


def _better(rung: float, loss: float, best_rung: float, best_loss: float) -> bool:
    """Further promoted wins; at the same rung, the lower loss."""
    return rung > best_rung or (rung == best_rung and loss < best_loss)


class PSOSearcher(SpaceSearcher):
    """Asynchronous constricted PSO; seeded; failed trials move a particle but never lead it."""

    def __init__(
        self,
        space: SearchSpace,
        *,
        n_particles: int | None = None,
        inertia: float = 0.7298,
        cognitive: float = 1.49618,
        social: float = 1.49618,
        scout_fraction: float = 0.0,
        **kwargs: Any,
    ):
        check_pso_space(space)
        if not 0.0 <= scout_fraction < 1.0:
            raise SpaceError(f"pso: scout_fraction must be in [0, 1), got {scout_fraction}")
        super().__init__(space, **kwargs)
        self.scout_fraction = scout_fraction
        self.dims = list(space.searchable)
        d = len(self.dims)
        n = n_particles or 10 + int(2 * math.sqrt(d))  # SPSO 2006 (Bratton & Kennedy, 2007)
        if n < 2:
            raise SpaceError(f"pso: n_particles must be >= 2, got {n}")
        self.w, self.c1, self.c2 = inertia, cognitive, social
        self.x = self._latin_hypercube(n, d)
        self.v = np.zeros_like(self.x)  # Engelbrecht (2012): zero start keeps the swarm inside
        self.pbest_x = self.x.copy()
        self.pbest_loss = np.full(n, math.inf)
        self.pbest_rung = np.zeros(n)
        self.gbest_x: np.ndarray | None = None
        self.gbest_loss = math.inf
        self.gbest_rung = 0.0
        self._ready: deque[int] = deque(range(n))  # particles whose position awaits evaluation
        self._busy: dict[str, tuple[int, np.ndarray]] = {}  # trial id -> (particle, position)

    def _latin_hypercube(self, n: int, d: int) -> np.ndarray:
        """Spread the first wave: one particle per stratum of every coordinate (scipy's
        ``LatinHypercube``, drawing from the searcher's seeded generator)."""
        from scipy.stats import qmc

        return qmc.LatinHypercube(d=d, rng=self.rng).random(n)

    def _config(self, pos: np.ndarray) -> dict:
        return self.space.from_unit(dict(zip(self.dims, pos.tolist())))

    def _unit(self, config: dict) -> np.ndarray:
        """Coordinates of a config; an inactive parameter gets a uniform draw."""
        return np.array(
            [
                self.space[n].to_unit(config[n]) if n in config else self.rng.random()
                for n in self.dims
            ]
        )

    def _propose(self, trial_id: str) -> dict:
        self._require_metric()
        if self._ready and not self._scouting():
            i = self._ready.popleft()
            pos = self.x[i].copy()
        else:  # more concurrent trials than particles
            i, pos = _SCOUT, self.rng.random(len(self.dims))
        self._busy[trial_id] = (i, pos)
        return self._config(pos)

    def _scouting(self) -> bool:
        """Send a uniform scout although a particle is ready (``scout_fraction`` of the time)."""
        fraction = getattr(self, "scout_fraction", 0.0)  # searchers pickled before the option
        return fraction > 0 and self.rng.random() < fraction

    def _observe(self, trial_id: str, config: dict, loss: float | None, result: dict | None):
        i, pos = self._busy.pop(trial_id, (_SCOUT, None))
        rung = float((result or {}).get("training_iteration", 0) or 0)
        if loss is not None and _better(rung, loss, self.gbest_rung, self.gbest_loss):
            self.gbest_rung, self.gbest_loss = rung, loss
            self.gbest_x = (pos if pos is not None else self._unit(config)).copy()
        if i == _SCOUT:
            return
        if loss is not None and _better(rung, loss, self.pbest_rung[i], self.pbest_loss[i]):
            self.pbest_rung[i], self.pbest_loss[i], self.pbest_x[i] = rung, loss, pos.copy()
        self._move(i)
        self._ready.append(i)

    def _move(self, i: int) -> None:
        """Constricted velocity update; a term is dropped while its best is unknown."""
        d = len(self.dims)
        v = self.w * self.v[i]
        if math.isfinite(self.pbest_loss[i]):
            v += self.c1 * self.rng.random(d) * (self.pbest_x[i] - self.x[i])
        if self.gbest_x is not None:
            v += self.c2 * self.rng.random(d) * (self.gbest_x - self.x[i])
        x = self.x[i] + v
        outside = (x < 0.0) | (x > 1.0)
        v[outside] = 0.0  # absorbing walls: stop at the bound instead of bouncing forever
        self.x[i], self.v[i] = np.clip(x, 0.0, 1.0), v
