"""The methods compared on several objectives, each a (searcher, scheduler) pair on one clock.

* ours — ``asha`` (random + MO-ASHA), ``asha-optuna-tpe`` (MOTPE + MO-ASHA), ``hyperband``
  (random + HyperBand ranking rungs as MO-ASHA does): built by ``benchmarks.peers.build``, i.e.
  ``tuner.compose.wiring.wire`` — the call ``tuner launch`` makes — with ``metric`` and ``mode``
  lists, as an experiment with ``metric: [..]`` gets them.
* full-fidelity peers, also through ``wire``: ``random``, ``optuna-nsga2`` (NSGA-II, Deb et
  al. 2002), ``optuna-tpe`` (MOTPE, Ozaki et al. 2020).
* Syne Tune 0.16 (optional ``bench`` extra), driven by ``benchmarks.syne_peers``' replay of its
  Tuner: ``syne-moasha`` — ``MOASHA`` (Schmucker et al. 2021) with its own random proposals
  and its default ``NonDominatedPriority`` (non-dominated sort, ε-net on *unscaled* losses);
  ``syne-morea`` — ``MultiObjectiveRegularizedEvolution`` (Real et al. 2019 made
  multi-objective; population 100, sample 10: Syne's defaults) under its
  ``SingleFidelityScheduler``, i.e. full fidelity. 0.16 has no ``MOREA``/``MOASHA`` baseline
  class any more; these are the classes the 0.14 baselines of those names built. Syne's
  ``do_minimize`` is one flag for every objective, so it is given losses (``_AsLosses``).
"""

from __future__ import annotations

import logging
from typing import Any

from benchmarks import peers
from benchmarks.simulator import SimTask
from benchmarks.syne_peers import syne_space, wire_syne

__all__ = ["FULL_FIDELITY", "METHODS", "OURS", "SYNE", "build"]

OURS = ("asha", "asha-optuna-tpe", "hyperband")
FULL_FIDELITY = ("random", "optuna-nsga2", "optuna-tpe")
SYNE = ("syne-moasha", "syne-morea")
METHODS = OURS + FULL_FIDELITY + SYNE


class _AsLosses:
    """A Syne Tune scheduler that reads every objective as a loss, under ``keys``."""

    def __init__(self, syne, objectives, keys: list[str]):
        self.syne, self.objectives, self.keys = syne, objectives, keys

    def __getattr__(self, name: str) -> Any:
        if name == "syne":
            raise AttributeError(name)
        return getattr(self.syne, name)

    def _losses(self, result: dict) -> dict:
        losses = self.objectives.losses(result)
        return result if losses is None else {**result, **dict(zip(self.keys, losses))}

    def on_trial_result(self, trial, result: dict) -> str:
        return self.syne.on_trial_result(trial=trial, result=self._losses(result))

    def on_trial_complete(self, trial, result: dict) -> None:
        self.syne.on_trial_complete(trial=trial, result=self._losses(result))


class _FirstObjective:
    """The benchmark as ``syne_peers`` reads it: one metric name (the first objective's)."""

    def __init__(self, mob):
        self.mob, self.metric, self.mode = mob, mob.metric[0], mob.mode[0]

    def __getattr__(self, name: str) -> Any:
        if name == "mob":
            raise AttributeError(name)
        return getattr(self.mob, name)


def _build_syne(name: str, mob, seed: int, workers: int) -> peers.Setup:
    from syne_tune.optimizer.schedulers.multiobjective import (
        MultiObjectiveRegularizedEvolution,
    )
    from syne_tune.optimizer.schedulers.multiobjective.moasha import MOASHA
    from syne_tune.optimizer.schedulers.single_fidelity_scheduler import (
        SingleFidelityScheduler,
    )

    logging.getLogger("syne_tune").setLevel(logging.ERROR)
    ladder = peers.default_ladder(mob)
    space = syne_space(mob.space)
    keys = [f"loss:{n}" for n in mob.objectives.names]
    multi = name == "syne-moasha"
    if multi:
        syne = MOASHA(space, metrics=keys, do_minimize=True, time_attr="training_iteration",
                      max_t=ladder.max, grace_period=ladder.min, reduction_factor=ladder.eta,
                      random_seed=seed)
    else:
        searcher = MultiObjectiveRegularizedEvolution(space, random_seed=seed)
        syne = SingleFidelityScheduler(space, metrics=keys, do_minimize=True,
                                       searcher=searcher, random_seed=seed)
    _, searcher, scheduler, wiring = wire_syne(
        _AsLosses(syne, mob.objectives, keys), _FirstObjective(mob), ladder,
        multi_fidelity=multi, seed=seed, workers=workers)
    return peers.Setup(SimTask(mob, ladder, multi_fidelity=multi), searcher, scheduler, wiring)


def build(name: str, mob, *, seed: int, workers: int) -> peers.Setup:
    """Method ``name`` on ``mob`` (a ``benchmarks.mo_yahpo.MOBenchmark``)."""
    if name in SYNE:
        return _build_syne(name, mob, seed, workers)
    if name not in OURS + FULL_FIDELITY:
        raise KeyError(f"unknown method {name!r} for several objectives; one of "
                       f"{', '.join(METHODS)}")
    return peers.build(name, mob, seed=seed, workers=workers)
