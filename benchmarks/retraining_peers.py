"""Peers that evaluate each configuration afresh at a fidelity they choose: DEHB (ask/tell).

These optimisers (DEHB: Awad, Mallik, Hutter, IJCAI 2021, the ``dehb`` package; SMAC3's
multi-fidelity facade works the same way) ask for *jobs* — a configuration and a fidelity —
and are told the loss there; nothing is continued from a lower fidelity. In the simulator a
job becomes one trial:

* epoch fidelity (lcbench): the trial trains from epoch 1 and is stopped at the job's epoch —
  exactly the cost and time of a fresh run to that epoch (every epoch costs one unit, the
  surrogate's time is cumulative), and the values on the way are real observations;
* data-fraction fidelity (rbv2_*, iaml_*): the trial starts *at* the job's level
  (``SimTask.START``): one fit on that fraction of the data, costing that fraction.

DEHB gets ``dimensions=d, configspace=False`` and proposes vectors in [0, 1]^d, mapped to a
configuration by ``SearchSpace.from_unit`` — the same unit-cube map our PSO uses (log scales,
ints, categorical bins; a conditional parameter's coordinate is ignored while inactive), so no
ConfigSpace translation can differ from the other peers' view of the space. Optional
dependency: the ``bench`` extra (``dehb`` pins numpy<2; install it with ``--no-deps`` next to
``ConfigSpace loguru distributed`` — see docs/benchmarks.md).
"""

from __future__ import annotations

import math
import tempfile

import numpy as np
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from benchmarks.simulator import SimTask

__all__ = ["RETRAINING_PEERS", "build_retraining"]

RETRAINING_PEERS = ("dehb",)


class _Jobs:
    """Jobs handed out and not yet told, by trial id: (job, level)."""

    def __init__(self):
        self.open: dict[str, tuple[dict, int]] = {}


class DEHBSearcher(Searcher):
    """``dehb.ask()`` per trial; ``dehb.tell`` with the loss at the job's level and its cost."""

    def __init__(self, optimiser, space, task: SimTask, jobs: _Jobs, metric: str, mode: str):
        super().__init__(metric=metric, mode=mode)
        self.dehb, self.space, self.task, self.jobs = optimiser, space, task, jobs
        self.dims = list(space.searchable)

    def suggest(self, trial_id: str) -> dict:
        job = self.dehb.ask()
        level = _nearest(self.task.levels, float(job["fidelity"]))
        self.jobs.open[trial_id] = (job, level)
        unit = np.clip(np.asarray(job["config"], float), 0.0, 1.0)
        config = self.space.from_unit(dict(zip(self.dims, unit.tolist())))
        if not self.task.bench.multi_epoch:
            config[SimTask.START] = level
        return config

    def on_trial_complete(self, trial_id, result=None, error=False) -> None:
        job, level = self.jobs.open.pop(trial_id, (None, None))
        if job is None:
            return
        value = (result or {}).get(self.metric)
        if error or value is None or not math.isfinite(float(value)):
            loss = math.inf
        else:
            loss = -float(value) if self.mode == "max" else float(value)
        self.dehb.tell(job, {"fitness": loss, "cost": self.task.fidelity(level)})


class JobLevelScheduler(FIFOScheduler):
    """CONTINUE until the trial reaches its job's level, then STOP (no early stopping)."""

    def __init__(self, jobs: _Jobs):
        super().__init__()
        self.jobs = jobs

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        _, level = self.jobs.open.get(trial.trial_id, (None, None))
        if level is None or int(result["training_iteration"]) >= level:
            return TrialScheduler.STOP
        return TrialScheduler.CONTINUE


def _nearest(levels: list[int], fidelity: float) -> int:
    return min(levels, key=lambda lv: (abs(lv - fidelity), lv))


def build_retraining(name: str, bench, ladder, seed: int, workers: int):
    """(task, searcher, scheduler, wiring) for a retraining peer on ``bench``."""
    from dehb import DEHB
    from loguru import logger

    logger.remove()  # DEHB logs every job to stderr through loguru
    task = SimTask(bench, ladder, multi_fidelity=True)
    lo, hi = (ladder.min, ladder.max) if bench.multi_epoch else (task.levels[0],
                                                                 task.levels[-1])
    optimiser = DEHB(cs=None, dimensions=len(bench.space.searchable), configspace=False,
                     min_fidelity=lo, max_fidelity=hi, eta=ladder.eta, n_workers=1,
                     seed=seed, output_path=tempfile.mkdtemp(prefix="dehb-"), save_freq=None)
    jobs = _Jobs()
    searcher = DEHBSearcher(optimiser, bench.space, task, jobs, bench.metric, bench.mode)
    # n_workers=1: more starts a dask cluster; ask/tell still lets `workers` jobs be out
    return task, searcher, JobLevelScheduler(jobs), {"max_concurrent": workers,
                                                     "max_pending": workers}
