"""The one Ray ``Searcher`` base every tuner searcher extends, driven by a ``SearchSpace``.

Why our own base rather than Ray's adapters: Ray's conversions drop conditional parameters
(HyperOpt/Optuna), hang on ``points_to_evaluate`` with conditional spaces (notes §3.2) and
leave seeding to each library. Here the base owns what every searcher shares — the space,
one ``numpy.random.Generator``, the warm-start queue, metric/mode, and turning errored or
NaN trials into "no observation" — so a subclass only proposes (``_propose``) and learns
(``_observe``). The same objects run under Ray and in the simulated-time benchmark runner.
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
from ray.tune.search import Searcher

from search_spaces import SearchSpace, SpaceError

__all__ = ["SpaceSearcher", "RandomSearcher", "GridSearcher"]


class SpaceSearcher(Searcher):
    """Base: warm start, seeding, metric/mode and failure handling for one ``SearchSpace``."""

    def __init__(
        self,
        space: SearchSpace,
        *,
        metric: str | None = None,
        mode: str | None = None,
        seed: int | None = None,
        points_to_evaluate: list[dict] | None = None,
    ):
        super().__init__(metric=metric, mode=mode)
        self.space = space
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._pending_points = []
        for point in points_to_evaluate or []:
            config = {k: v for k, v in point.items() if k in space}
            space.validate_config(config)  # SpaceError names the bad key
            self._pending_points.append(dict(config))
        self.configs: dict[str, dict] = {}  # trial id -> suggested config
        self.observations: list[tuple[dict, float]] = []  # (config, loss) of finished trials
        self.num_failed = 0

    # Ray Searcher API -------------------------------------------------------------------
    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        if self._metric is None and metric:
            self._metric = metric
        if self._mode is None and mode:
            self._mode = mode
        return True  # the space comes from our SearchSpace; Ray's config holds constants only

    def suggest(self, trial_id: str) -> dict | None:
        if self._pending_points:
            config = self._pending_points.pop(0)
        else:
            config = self._propose(trial_id)
            if config is None or config == Searcher.FINISHED:
                return config
        self.configs[trial_id] = dict(config)
        return dict(config)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        loss = self.loss_of(result)
        if trial_id in self.configs and loss is not None:
            self._observe_intermediate(trial_id, self.configs[trial_id], result, loss)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        config = self.configs.get(trial_id)
        if config is None:
            return
        loss = None if error else self.loss_of(result)
        if loss is None:
            self.num_failed += 1
        else:
            self.observations.append((config, loss))
        self._observe(trial_id, config, loss, result)

    # Helpers for subclasses -------------------------------------------------------------
    def loss_of(self, result: dict | None) -> float | None:
        """The metric as a loss to minimise, or None when missing / NaN / infinite / errored."""
        if not result or self._metric not in result or result.get("error"):
            return None
        try:
            value = float(result[self._metric])
        except (TypeError, ValueError):
            return None
        if not math.isfinite(value):
            return None
        return -value if self._mode == "max" else value

    def _propose(self, trial_id: str) -> dict | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _observe(self, trial_id: str, config: dict, loss: float | None, result: dict | None):
        """Learn from a finished trial (``loss`` None = failed; never poison the model)."""

    def _observe_intermediate(self, trial_id: str, config: dict, result: dict, loss: float):
        """Learn from one intermediate result (multi-fidelity searchers override this)."""

    # Persistence (Tuner snapshots the searcher; restore after a driver crash) ----------
    def get_state(self) -> dict:
        return dict(self.__dict__)

    def set_state(self, state: dict) -> None:
        self.__dict__.update(state)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.get_state(), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.set_state(pickle.load(f))


class RandomSearcher(SpaceSearcher):
    """Independent draws from the space (conditionals respected), seeded."""

    def _propose(self, trial_id: str) -> dict:
        return self.space.sample(self.rng)


class GridSearcher(SpaceSearcher):
    """Every point of a finite grid once, in order, then FINISHED; refuses continuous ranges."""

    def __init__(self, space: SearchSpace, **kwargs: Any):
        super().__init__(space, **kwargs)
        self._grid = space.grid()  # raises SpaceError naming a continuous parameter
        self._next = 0

    def _propose(self, trial_id: str) -> dict | str:
        if self._next >= len(self._grid):
            return Searcher.FINISHED
        config = self._grid[self._next]
        self._next += 1
        return dict(config)


