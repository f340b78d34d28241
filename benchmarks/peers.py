"""Methods compared in one harness: ours by name, Ray Tune out of the box, Optuna, random.

Every method becomes a (Ray ``Searcher``, Ray ``TrialScheduler``) pair plus the wiring Ray would
use for it (pending-trial limit, concurrency limit), so the simulated-time runner treats them
all alike and each is charged the same budget on the same clock:

* ``random`` — our ``RandomSearcher``, every trial to full fidelity.
* ours — ``tuner.compose.methods.resolve(method=…)`` → searcher + scheduler names, built by
  ``tuner.compose.wiring.wire``, the function ``tuner launch`` calls (``max_concurrent_trials`` from
  ``concurrency_hint`` with workers as slots → ``ConcurrencyLimiter``).
* ``ray-asha`` — Ray's ``BasicVariantGenerator`` sampling (independent draws from Ray domains)
  + Ray's ``ASHAScheduler`` with its defaults (grace 1, η=4); 200 pending trials, no limiter.
* ``ray-hyperopt-asha`` — Ray's ``HyperOptSearch`` + ``ASHAScheduler`` as Ray wires them: the
  searcher learns only from completed (incl. early-stopped) trials (ray-project/ray#6056).
* ``optuna-study-tpe`` / ``optuna-study-tpe-hyperband`` / ``optuna-study-tpe-median`` — Optuna
  used as an Optuna user writes it (its own study, ask/tell) on the same clock:
  ``TPESampler(multivariate=True)`` at full fidelity, or with ``HyperbandPruner`` /
  ``MedianPruner`` deciding at every report. Named apart from our shipped ``optuna-tpe``
  searcher (multivariate + group + constant liar, behind Ray's searcher protocol), which runs
  here as method ``optuna-tpe`` like every method of ours.
* ``dehb``, ``smac-*`` (``benchmarks/retraining_peers.py``) and ``syne-*``
  (``benchmarks/syne_peers.py``, Syne Tune's schedulers) — the optional ``bench`` extra.

Conditional spaces are given to the Ray peers flat (every parameter, inactive ones dropped at
evaluation), as a Ray user would write them; Optuna asks conditionals define-by-run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from benchmarks.simulator import SimTask
from benchmarks.syne_peers import SYNE_PEERS  # imports no syne_tune until a peer is built
from search_spaces import Categorical, Fixed, Float, Int, SearchSpace
from tuner.budget import BudgetLadder
from tuner.compose.methods import METHODS

__all__ = ["ALL_METHODS", "OURS", "PEERS", "Setup", "build", "default_ladder"]

OPTUNA_PEERS = ("optuna-study-tpe", "optuna-study-tpe-hyperband", "optuna-study-tpe-median")
PEERS = ("random", "ray-asha", "ray-hyperopt-asha") + OPTUNA_PEERS
# every method `tuner launch` offers, but random (the peer above: the same searcher), grid (no
# finite grid here) and PBT/PB2 (a surrogate maps a fixed config to a curve; they mutate it)
OURS = tuple(m for m in METHODS if m not in ("random", "grid", "pbt", "pb2"))
# optional (the ``bench`` extra): peers that retrain at every fidelity they ask for
EXTRA_PEERS = ("dehb", "smac-mf", "smac-bo")
# optional (the ``bench`` extra): Syne Tune's schedulers (SYNE_PEERS), by their own protocol
PEERS = PEERS + EXTRA_PEERS + SYNE_PEERS
ALL_METHODS = PEERS + OURS

@dataclass
class Setup:
    """One method on one benchmark, ready for ``simulate(task, searcher, scheduler, **wiring)``."""

    task: SimTask
    searcher: Searcher
    scheduler: TrialScheduler
    wiring: dict


def default_ladder(bench, eta: int = 3) -> BudgetLadder:
    """lcbench: epochs 3..52 (epoch 1 ranks configs no better than chance — data README);
    a recorded table: from its task file's ``budget.min`` (1 unless set) to its last epoch;
    rbv2/iaml: 27 steps of trainsize, rungs 1/27, 3/27, 9/27, 1 of the data."""
    if bench.multi_epoch:
        return BudgetLadder(min=getattr(bench, "ladder_min", 3), max=int(bench.fidelity_max),
                            eta=eta)
    rungs = BudgetLadder(min=1, max=27, eta=eta).rung_resources()
    return BudgetLadder(min=1, max=27, eta=eta,
                        data_fraction=tuple(max(bench.fidelity_min, r / 27) for r in rungs))


def _build_ours(name: str, bench, seed: int, workers: int) -> Setup:
    """``tuner.compose.wiring.wire`` — the very call ``tuner launch`` makes — with slots = workers:
    ``max_concurrent_trials`` → ``ConcurrencyLimiter``, and Ray then keeps that many pending."""
    from tuner.compose import methods
    from tuner.compose import wiring

    searcher_name, scheduler_name = methods.resolve(method=name, space=bench.space)
    ladder = default_ladder(bench)
    w = wiring.wire(searcher_name, scheduler_name, bench.space, ladder, metric=bench.metric,
                    mode=bench.mode, seed=seed, slots=workers,
                    searcher_options=methods.searcher_options(name, searcher_name),
                    scheduler_options=methods.scheduler_options(name, scheduler_name))
    task = SimTask(bench, ladder, multi_fidelity=scheduler_name != "fifo")
    return Setup(task, w.searcher, w.scheduler,
                 {"max_concurrent": w.max_concurrent, "max_pending": w.max_concurrent})


# Ray Tune out of the box -----------------------------------------------------------------------
def ray_space(space: SearchSpace) -> dict:
    """Our space as Ray Tune domains, flat; Ray's int upper bounds are exclusive (hence +1)."""
    from ray import tune

    out = {}
    for name, d in space.searchable.items():
        if isinstance(d, Float):
            out[name] = (tune.loguniform if d.log else tune.uniform)(d.low, d.high)
        elif isinstance(d, Int):
            out[name] = (tune.lograndint if d.log else tune.randint)(int(d.low), int(d.high) + 1)
        elif isinstance(d, Categorical):
            out[name] = tune.choice(list(d.choices))
        elif not isinstance(d, Fixed):
            raise TypeError(f"{name}: no Ray domain for {d.kind}")
    return out


class RayVariantSearcher(Searcher):
    """``BasicVariantGenerator``'s sampling as a ``Searcher``: each domain drawn independently."""

    def __init__(self, space: SearchSpace, *, metric: str, mode: str, seed: int):
        super().__init__(metric=metric, mode=mode)
        self.domains = ray_space(space)
        self.rng = np.random.default_rng(seed)

    def suggest(self, trial_id: str) -> dict:
        return {k: _py(d.sample(random_state=self.rng)) for k, d in self.domains.items()}

    def on_trial_complete(self, trial_id, result=None, error=False) -> None:
        pass


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _ray_asha(ladder: BudgetLadder, bench) -> TrialScheduler:
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(time_attr="training_iteration", metric=bench.metric, mode=bench.mode,
                         max_t=ladder.max)  # grace_period=1, reduction_factor=4: Ray defaults


def _ray_ladder(bench) -> BudgetLadder:
    """The rungs Ray's default ASHA uses (grace 1, η=4): rbv2 evaluates exactly there."""
    if bench.multi_epoch:
        return BudgetLadder(min=1, max=int(bench.fidelity_max), eta=4)
    rungs = BudgetLadder(min=1, max=27, eta=4).rung_resources()
    return BudgetLadder(min=1, max=27, eta=4,
                        data_fraction=tuple(max(bench.fidelity_min, r / 27) for r in rungs))


def _build_ray(name: str, bench, seed: int, workers: int) -> Setup:
    ladder = _ray_ladder(bench)
    task = SimTask(bench, ladder, multi_fidelity=True)
    if name == "ray-asha":
        searcher = RayVariantSearcher(bench.space, metric=bench.metric, mode=bench.mode,
                                      seed=seed)
        wiring = {"max_concurrent": None, "max_pending": 200}
    else:
        from ray.tune.search.hyperopt import HyperOptSearch

        searcher = HyperOptSearch(ray_space(bench.space), metric=bench.metric, mode=bench.mode,
                                  random_state_seed=seed)
        wiring = {"max_concurrent": None, "max_pending": 1}  # custom searcher, no limiter
    return Setup(task, searcher, _ray_asha(ladder, bench), wiring)


# Optuna ask/tell -------------------------------------------------------------------------------
class _OptunaShared:
    def __init__(self, space: SearchSpace, study):
        self.space, self.study = space, study
        self.trials: dict[str, Any] = {}
        self.pruned: set[str] = set()


class OptunaAskSearcher(Searcher):
    """``study.ask()`` per trial, conditionals define-by-run; ``tell`` on completion."""

    def __init__(self, shared: _OptunaShared, metric: str, mode: str):
        super().__init__(metric=metric, mode=mode)
        self.s = shared

    def suggest(self, trial_id: str) -> dict:
        trial = self.s.study.ask()
        self.s.trials[trial_id] = trial
        config: dict = {}
        for name, d in self.s.space.items():
            if not self.s.space.is_active(name, config):
                continue
            if isinstance(d, Float):
                config[name] = trial.suggest_float(name, d.low, d.high, log=d.log)
            elif isinstance(d, Int):
                config[name] = trial.suggest_int(name, int(d.low), int(d.high), log=d.log)
            elif isinstance(d, Categorical):
                config[name] = trial.suggest_categorical(name, list(d.choices))
            else:
                config[name] = d.value
        return config

    def on_trial_complete(self, trial_id, result=None, error=False) -> None:
        import optuna

        trial = self.s.trials.pop(trial_id, None)
        if trial is None:
            return
        if trial_id in self.s.pruned:
            self.s.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif error or not result or self.metric not in result:
            self.s.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.s.study.tell(trial, float(result[self.metric]))


class OptunaPruningScheduler(FIFOScheduler):
    """``trial.report(value, step)`` then ``should_prune()`` → STOP; STOP at the ladder's max."""

    def __init__(self, shared: _OptunaShared, max_t: int, metric: str):
        super().__init__()
        self.s, self.max_t, self.metric_name = shared, max_t, metric

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        ot = self.s.trials.get(trial.trial_id)
        step = int(result["training_iteration"])
        if ot is not None:
            ot.report(float(result[self.metric_name]), step)
            if step < self.max_t and ot.should_prune():
                self.s.pruned.add(trial.trial_id)
                return TrialScheduler.STOP
        return TrialScheduler.STOP if step >= self.max_t else TrialScheduler.CONTINUE


def _build_optuna(name: str, bench, seed: int, workers: int) -> Setup:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ladder = default_ladder(bench)
    pruner: Any = optuna.pruners.NopPruner()
    if name == "optuna-study-tpe-hyperband":
        pruner = optuna.pruners.HyperbandPruner(min_resource=ladder.min, max_resource=ladder.max,
                                                reduction_factor=3)
    elif name == "optuna-study-tpe-median":
        pruner = optuna.pruners.MedianPruner(n_warmup_steps=ladder.min)
    sampler = optuna.samplers.TPESampler(multivariate=True, seed=seed)
    study = optuna.create_study(direction="maximize" if bench.mode == "max" else "minimize",
                                sampler=sampler, pruner=pruner)
    shared = _OptunaShared(bench.space, study)
    task = SimTask(bench, ladder, multi_fidelity=name != "optuna-study-tpe")
    return Setup(task, OptunaAskSearcher(shared, bench.metric, bench.mode),
                 OptunaPruningScheduler(shared, ladder.max, bench.metric),
                 {"max_concurrent": None, "max_pending": 1})


def _build_random(name: str, bench, seed: int, workers: int) -> Setup:
    from tuner.schedulers import make_scheduler
    from tuner.searchers import make_searcher

    ladder = default_ladder(bench)
    kw = {"metric": bench.metric, "mode": bench.mode, "seed": seed}
    return Setup(SimTask(bench, ladder, multi_fidelity=False),
                 make_searcher("random", bench.space, **kw),
                 make_scheduler("fifo", ladder, **kw), {"max_concurrent": workers})


def build(name: str, bench, *, seed: int, workers: int) -> Setup:
    """The ``Setup`` for method ``name`` on benchmark ``bench``; ``KeyError`` lists names."""
    if name == "random":
        return _build_random(name, bench, seed, workers)
    if name.startswith("ray-"):
        if name not in PEERS:
            raise KeyError(f"unknown Ray peer {name!r}; one of ray-asha, ray-hyperopt-asha")
        return _build_ray(name, bench, seed, workers)
    if name in SYNE_PEERS:
        from benchmarks.syne_peers import build_syne

        return Setup(*build_syne(name, bench, default_ladder(bench), seed, workers))
    if name in EXTRA_PEERS:
        from benchmarks.retraining_peers import build_retraining

        return Setup(*build_retraining(name, bench, default_ladder(bench), seed, workers))
    if name.startswith("optuna-study"):
        if name not in PEERS:
            raise KeyError(f"unknown Optuna peer {name!r}")
        return _build_optuna(name, bench, seed, workers)
    try:
        return _build_ours(name, bench, seed, workers)
    except (KeyError, ValueError) as exc:
        if not isinstance(exc, KeyError) and "unknown method" not in str(exc):
            raise
        raise KeyError(f"unknown method {name!r}: peers {', '.join(PEERS)}; ours: "
                       f"{', '.join(OURS)} ({exc})") from None

