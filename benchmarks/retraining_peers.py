"""Peers that evaluate each configuration afresh at a fidelity they choose: DEHB, SMAC3.

These optimisers (DEHB: Awad, Mallik, Hutter, IJCAI 2021, the ``dehb`` package; SMAC3's
multi-fidelity facade works the same way) ask for *jobs* — a configuration and a fidelity —
and are told the loss there; nothing is continued from a lower fidelity. In the simulator a
job becomes one trial:

* epoch fidelity (lcbench): the trial trains from epoch 1 and is stopped at the job's epoch —
  exactly the cost and time of a fresh run to that epoch (every epoch costs one unit, the
  surrogate's time is cumulative), and the values on the way are real observations;
* data-fraction fidelity (rbv2_*, iaml_*): the trial starts *at* the job's level
  (``SimTask.START``): one fit on that fraction of the data, costing that fraction.

SMAC3 (Lindauer et al., JMLR 2022): ``smac-mf`` is its multi-fidelity facade (random forest +
Hyperband intensifier), ``smac-bo`` its full-fidelity BO facade; the recipe of SMAC's ask/tell
docs, with the space given as a typed, flat ``ConfigurationSpace``. SMAC 2.4's random forest is
scikit-learn's (``smac/model/random_forest/random_forest.py``), so no ``swig``/``pyrfr`` build.

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
from search_spaces import Categorical, Fixed, Float, Int

__all__ = ["RETRAINING_PEERS", "build_retraining"]

RETRAINING_PEERS = ("dehb", "smac-mf", "smac-bo")


class _Jobs:
    """Jobs handed out and not yet told, by trial id: (job, level)."""

    def __init__(self):
        self.open: dict[str, tuple[object, int]] = {}


def _scratch(prefix: str) -> str:
    """A folder for an optimiser's own files (DEHB and SMAC insist on writing some), removed
    when the process ends: a comparison runs hundreds of them."""
    import atexit
    import shutil

    folder = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


class _DEHB:
    """DEHB's ask/tell: a vector in [0, 1]^d and a fidelity; told fitness and cost."""

    def __init__(self, bench, ladder, lo, hi, seed: int):
        from dehb import DEHB
        from loguru import logger

        logger.remove()  # DEHB logs every job to stderr through loguru
        self.space, self.dims = bench.space, list(bench.space.searchable)
        # n_workers=1: more starts a dask cluster; ask/tell still lets several jobs be out
        self.opt = DEHB(cs=None, dimensions=len(self.dims), configspace=False, min_fidelity=lo,
                        max_fidelity=hi, eta=ladder.eta, n_workers=1, seed=seed,
                        output_path=_scratch("dehb-"), save_freq=None)

    def ask(self) -> tuple[object, dict, float]:
        job = self.opt.ask()
        unit = np.clip(np.asarray(job["config"], float), 0.0, 1.0)
        return job, self.space.from_unit(dict(zip(self.dims, unit.tolist()))), job["fidelity"]

    def tell(self, job, loss: float, cost: float) -> None:
        self.opt.tell(job, {"fitness": loss, "cost": cost})


class _SMAC:
    """SMAC3's ask/tell (``smac>=2.2``): its multi-fidelity facade (random forest + Hyperband
    intensifier, every rung a fresh fit) or, with ``lo == hi``, its full-fidelity BO facade
    (random forest + expected improvement). The space is given typed and flat (conditional
    parameters as plain ones, dropped before the surrogate sees them), as for the Ray peers.

    The facades' own random forest, with one change that leaves every prediction the same:
    ``n_jobs=1``. SMAC 2.4 builds scikit-learn's forest with ``n_jobs=-1``
    (``smac/model/random_forest/random_forest.py``), and on a 2-core machine joblib's threads
    spent ~30 % of a run polling (``time.sleep`` in ``joblib/parallel.py``); a forest with a
    fixed ``random_state`` fits and predicts identically with any ``n_jobs``."""

    def __init__(self, bench, ladder, lo, hi, seed: int):
        from smac import HyperparameterOptimizationFacade, MultiFidelityFacade, Scenario

        self.fixed = {k: d.value for k, d in bench.space.items() if isinstance(d, Fixed)}
        cs = _config_space(bench.space, seed)
        out = _scratch("smac-")
        if lo == hi:
            sc = Scenario(cs, deterministic=True, n_trials=10**6, seed=seed,
                          output_directory=out)
            self.opt = HyperparameterOptimizationFacade(
                sc, _target_full, overwrite=True, logging_level=40,
                model=_one_thread(HyperparameterOptimizationFacade.get_model(sc)))
        else:
            sc = Scenario(cs, deterministic=True, n_trials=10**6, seed=seed, min_budget=lo,
                          max_budget=hi, output_directory=out)
            self.opt = MultiFidelityFacade(
                sc, _target, overwrite=True, logging_level=40,
                model=_one_thread(MultiFidelityFacade.get_model(sc)),
                initial_design=MultiFidelityFacade.get_initial_design(sc, n_configs=5),
                intensifier=MultiFidelityFacade.get_intensifier(sc, eta=ladder.eta))
        self.hi = hi

    def ask(self) -> tuple[object, dict, float]:
        info = self.opt.ask()
        config = {**self.fixed, **{k: _py(v) for k, v in dict(info.config).items()}}
        return info, config, info.budget if info.budget is not None else self.hi

    def tell(self, job, loss: float, cost: float) -> None:
        from smac.runhistory.dataclasses import TrialValue

        self.opt.tell(job, TrialValue(cost=loss if math.isfinite(loss) else 1e12))


def _one_thread(model):
    """SMAC's forest with ``n_jobs=1`` (see ``_SMAC``); its options live in ``_rf_opts``."""
    model._rf_opts["n_jobs"] = 1
    return model


def _target(config, seed: int = 0, budget: float = 1.0) -> float:  # never called (ask/tell)
    raise RuntimeError("SMAC is driven through ask/tell here")


def _target_full(config, seed: int = 0) -> float:  # never called (ask/tell)
    raise RuntimeError("SMAC is driven through ask/tell here")


def _py(v):
    return v.item() if isinstance(v, np.generic) else v


def _config_space(space, seed: int):
    """Our space as a flat ``ConfigurationSpace`` (types, bounds, log scales)."""
    import ConfigSpace as CS

    cs = CS.ConfigurationSpace(seed=seed)
    for name, d in space.searchable.items():
        if isinstance(d, Float):
            cs.add(CS.Float(name, (float(d.low), float(d.high)), log=d.log))
        elif isinstance(d, Int):
            cs.add(CS.Integer(name, (int(d.low), int(d.high)), log=d.log))
        elif isinstance(d, Categorical):
            cs.add(CS.Categorical(name, list(d.choices)))
    return cs


class RetrainingSearcher(Searcher):
    """One job per trial: its configuration, and its fidelity as the level the trial ends at
    (or starts at, for a data fraction); the loss there is told back with the job's cost."""

    def __init__(self, optimiser, task: SimTask, jobs: _Jobs, metric: str, mode: str):
        super().__init__(metric=metric, mode=mode)
        self.opt, self.task, self.jobs = optimiser, task, jobs

    def suggest(self, trial_id: str) -> dict:
        job, config, fidelity = self.opt.ask()
        level = _nearest(self.task.levels, float(fidelity))
        self.jobs.open[trial_id] = (job, level)
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
        self.opt.tell(job, loss, self.task.cost(level, 0))


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


_OPTIMISERS = {"dehb": _DEHB, "smac-mf": _SMAC, "smac-bo": _SMAC}


def build_retraining(name: str, bench, ladder, seed: int, workers: int):
    """(task, searcher, scheduler, wiring) for a retraining peer on ``bench``."""
    full = name == "smac-bo"
    task = SimTask(bench, ladder, multi_fidelity=not full)
    lo, hi = (ladder.min, ladder.max) if bench.multi_epoch else (task.levels[0],
                                                                 task.levels[-1])
    if full:
        lo = hi = task.levels[-1]
    jobs = _Jobs()
    searcher = RetrainingSearcher(_OPTIMISERS[name](bench, ladder, lo, hi, seed), task, jobs,
                                  bench.metric, bench.mode)
    # one job per free worker, as the optimisers' own parallel drivers do
    return task, searcher, JobLevelScheduler(jobs), {"max_concurrent": workers,
                                                     "max_pending": workers}
