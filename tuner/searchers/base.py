"""The one Ray ``Searcher`` base every tuner searcher extends, driven by a ``SearchSpace``.

Why our own base rather than Ray's adapters: Ray's conversions drop conditional parameters
(HyperOpt/Optuna), hang on ``points_to_evaluate`` with conditional spaces (HyperOptSearch's
``_convert_categories_to_indices`` loops on hyperopt ``Apply`` nodes) and
leave seeding to each library. Here the base owns what every searcher shares — the space,
one ``numpy.random.Generator``, the warm-start queue, metric/mode, and turning errored or
NaN trials into "no observation" — so a subclass only proposes (``_propose``) and learns
(``_observe``). The same objects run under Ray and in the simulated-time benchmark runner.
"""

from __future__ import annotations

import itertools
import math
import pickle
from typing import Any

import numpy as np
from ray.tune.search import Searcher

from search_spaces import Fixed, SearchSpace, SpaceError
from tuner.pareto import Objectives

__all__ = ["GridSearcher", "RandomSearcher", "SpaceSearcher", "complete_point"]


def complete_point(space: SearchSpace, point: dict) -> dict:
    """A warm-start point checked against ``space``, with its active fixed values filled in.

    Unknown keys are refused (a typo would otherwise be dropped silently); a missing searchable
    parameter is refused too, because each searcher needs a full point to learn from.
    """
    if not isinstance(point, dict):
        raise SpaceError(f"points_to_evaluate: each point must be a mapping, got {point!r}")
    config: dict[str, Any] = {}
    for name, dom in space.items():
        if not space.is_active(name, {**config, **point}):
            continue
        if isinstance(dom, Fixed) and name not in point:
            config[name] = dom.value
        elif name in point:
            config[name] = point[name]
    for name, value in point.items():
        if name not in config:
            config[name] = value  # unknown or inactive: validate_config names it
    space.validate_config(config)  # SpaceError names the bad key
    return config


class SpaceSearcher(Searcher):
    """Base: warm start, seeding, metric/mode and failure handling for one ``SearchSpace``.

    ``metric`` and ``mode`` may be lists (several objectives) for a searcher whose class says
    ``multi_objective = True``: its losses are then tuples (``tuner.pareto.Objectives``)."""

    multi_objective = False  # learns from several objectives (random and grid learn nothing)
    objectives: Objectives | None = None  # a searcher pickled before issue 23 has none

    def __init__(
        self,
        space: SearchSpace,
        *,
        metric: str | list[str] | None = None,
        mode: str | list[str] | None = None,
        seed: int | None = None,
        points_to_evaluate: list[dict] | None = None,
    ):
        self.objectives: Objectives | None = None
        if metric is not None and not isinstance(metric, str):
            self.objectives = Objectives.of(metric, mode)
            if not self.objectives.several:
                metric, mode, self.objectives = metric[0], self.objectives.modes[0], None
            elif not self.multi_objective:
                raise ValueError(f"{type(self).__name__} takes one objective, got {list(metric)}")
        if self.objectives is None and mode not in (None, "min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")  # Ray's base asserts
        super().__init__(metric=metric if self.objectives is None else None,
                         mode=mode if self.objectives is None else None)
        if self.objectives is not None:  # Ray's base takes strings only
            self._metric, self._mode = list(metric), list(self.objectives.modes)
        self.space = space
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._pending_points = [complete_point(space, p) for p in points_to_evaluate or []]
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
    def loss_of(self, result: dict | None) -> Any:
        """The metric as a loss to minimise, or None when missing / NaN / infinite / errored.

        With several objectives: a tuple of losses, one per objective, or None."""
        if self.objectives is not None:
            losses = None if not result or result.get("error") else \
                self.objectives.losses(result)
            return None if losses is None else tuple(float(v) for v in losses)
        if not result or self._metric not in result or result.get("error"):
            return None
        try:
            value = float(result[self._metric])
        except (TypeError, ValueError):
            return None
        if not math.isfinite(value):
            return None
        return -value if self._mode == "max" else value

    def _require_metric(self) -> None:
        """Model-based searchers learn nothing without a metric; say so instead of going random."""
        if self.objectives is None and (not self._metric or self._mode not in ("min", "max")):
            raise RuntimeError(
                f"{type(self).__name__} needs metric and mode before suggesting; got "
                f"metric={self._metric!r}, mode={self._mode!r} — pass them to make_searcher "
                "(Ray forwards tune.TuneConfig's metric/mode only when param_space is non-empty)"
            )

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

    multi_objective = True

    def _propose(self, trial_id: str) -> dict:
        return self.space.sample(self.rng)


class GridSearcher(SpaceSearcher):
    """Every point of a finite grid once, in order, then FINISHED; refuses continuous ranges."""

    multi_objective = True

    def __init__(self, space: SearchSpace, **kwargs: Any):
        super().__init__(space, **kwargs)
        self._next = 0  # points handed out; the iterator is rebuilt from it after a restore
        self._points = space.iter_grid()  # raises SpaceError naming a continuous parameter

    def _propose(self, trial_id: str) -> dict | str:
        config = next(self._points, None)
        if config is None:
            return Searcher.FINISHED
        self._next += 1
        return config

    # a generator does not pickle (Ray cloudpickles the searcher with the Tuner, and save()
    # pickles its state): keep the position, rebuild the walk when loaded
    def get_state(self) -> dict:
        return {k: v for k, v in super().get_state().items() if k != "_points"}

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        self._points = itertools.islice(self.space.iter_grid(), self._next, None)

    def __getstate__(self) -> dict:
        return self.get_state()

    def __setstate__(self, state: dict) -> None:
        self.set_state(state)


