"""Simulated-time runner: the very searcher and scheduler objects Ray gets, on a surrogate clock.

``simulate(task, searcher, scheduler, workers=..., budget=...)`` plays Ray's ``TuneController``
loop without Ray: N simulated workers, an event heap ordered by simulated time (Syne Tune's
``backend/simulator_backend``), and each reported result costs the benchmark's runtime for it.
The searcher is a Ray ``Searcher`` (``suggest``/``on_trial_result``/``on_trial_complete``), the
scheduler a Ray ``TrialScheduler`` (``on_trial_add``/``on_trial_result``/``on_trial_complete``/
``on_trial_remove``/``choose_trial_to_run``), called in the order and with the arguments Ray's
controller uses (``ray/tune/execution/tune_controller.py``): a STOP result reaches the searcher
only through ``on_trial_complete``; a paused trial stopped by the scheduler reaches the searcher
as ``on_trial_complete(trial_id)`` without a result; a resumed trial continues from its
checkpoint (the next level).

Deterministic: no wall clock, no global RNG; ties in time break by submission order.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time as _time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler
from ray.tune.search import Searcher

from tuner.budget import BudgetLadder
from tuner.schedulers.controller import ControlledTrial, Controller

__all__ = ["SimController", "SimTask", "SimTrial", "Trajectory", "simulate"]

PENDING, RUNNING, PAUSED, TERMINATED = Trial.PENDING, Trial.RUNNING, Trial.PAUSED, \
    Trial.TERMINATED


class SimTask:
    """A benchmark seen as trials: per trial, results at increasing levels with cost + seconds.

    ``levels`` are the ``training_iteration`` values a trial reports at. For an epoch fidelity
    (lcbench) that is every epoch 1..max, each costing one epoch and resuming; for a data
    fraction (rbv2: trainsize), a multi-fidelity method evaluates at the ladder's rungs, each a
    fresh fit on ``level/max`` of the data costing that fraction, a full-fidelity method only
    at ``max`` (cost 1).
    """

    # config key of a trial that starts *at* a level (a fresh fit on that fraction of the data,
    # asked for by a peer that retrains per fidelity: benchmarks/retraining_peers.py)
    START = "__sim_start_level__"

    def __init__(self, benchmark, ladder: BudgetLadder, *, multi_fidelity: bool = True):
        self.bench, self.ladder = benchmark, ladder
        self.metric, self.mode = benchmark.metric, benchmark.mode
        if benchmark.multi_epoch:
            if ladder.max != int(benchmark.fidelity_max):
                raise ValueError(f"{benchmark.name}: ladder.max must be "
                                 f"{int(benchmark.fidelity_max)} epochs, got {ladder.max}")
            self.levels = list(range(1, ladder.max + 1))
        elif multi_fidelity:
            self.levels = [r.resource for r in ladder.rungs()]
        else:
            self.levels = [ladder.max]
        self._next = {a: b for a, b in zip(self.levels, self.levels[1:])}

    def first_level(self) -> int:
        return self.levels[0]

    def next_level(self, level: int) -> int | None:
        return self._next.get(level)

    def active(self, config: dict) -> dict:
        space = self.bench.space
        return {k: v for k, v in config.items() if k in space and space.is_active(k, config)}

    def fidelity(self, level: int) -> float:
        if self.bench.multi_epoch:
            return float(level)
        return max(self.bench.fidelity_min, level / self.ladder.max)

    def cost(self, level: int, previous: int) -> float:
        """Budget units: epochs trained (resumed), or the data fraction of one fresh fit."""
        if self.bench.multi_epoch:
            return float(level - previous)
        return self.fidelity(level)


class _Curve:
    """Lazy, chunked surrogate queries for one trial (most trials stop after a few epochs)."""

    __slots__ = ("config", "known", "task", "times", "values")

    def __init__(self, task: SimTask, config: dict):
        self.task, self.config = task, task.active(config)
        self.values: dict[int, float] = {}
        self.times: dict[int, float] = {}

    def at(self, level: int) -> tuple[float, float]:
        if level not in self.values:
            task = self.task
            if task.bench.multi_epoch:
                # this epoch and a doubling chunk ahead: 1-4, 5-12, 13-28, 29-52 …
                hi = min(task.levels[-1], max(4, 2 * level + 2))
                todo = [lv for lv in range(level, hi + 1) if lv not in self.values]
                if level > 1 and level - 1 not in self.times:
                    todo = [level - 1] + todo
            else:
                todo = [level]
            vals, secs = task.bench.metric_and_time([self.config] * len(todo),
                                                    [task.fidelity(lv) for lv in todo])
            for lv, v, s in zip(todo, vals, secs):
                self.values[lv], self.times[lv] = float(v), float(s)
        value, seconds = self.values[level], self.times[level]
        if self.task.bench.multi_epoch and level > 1:  # lcbench time is cumulative
            seconds = max(0.0, seconds - self.times[level - 1])
        return value, seconds


@dataclass(eq=False, repr=False)
class SimTrial(ControlledTrial):
    """A trial on the surrogate clock: its last completed level is its checkpoint."""

    level: int = 0  # last completed level (the checkpoint)
    checkpoint: Any = None
    curve: Any = None

    def __repr__(self) -> str:
        return f"SimTrial({self.trial_id}, {self.status}, level={self.level})"


class SimController(Controller):
    """Ray's controller as the schedulers see it (``tuner.schedulers.controller``), keeping
    only live trials: ``get_trials`` lists those (the schedulers here only look for
    PENDING/PAUSED ones), which keeps FIFO's ``choose_trial_to_run`` O(live) instead of O(all)
    at 100k trials."""

    def __init__(self, searcher: Searcher, scheduler: TrialScheduler):
        super().__init__(scheduler, searcher)
        self.live: dict[SimTrial, None] = {}
        self.running: dict[SimTrial, int] = {}  # trial -> event sequence number in flight
        self.num_trials = 0

    def get_trials(self) -> list[SimTrial]:
        return list(self.live)

    def get_live_trials(self) -> list[SimTrial]:
        return list(self.live)

    def pause_trial(self, trial: SimTrial, should_checkpoint: bool = True) -> None:
        self.running.pop(trial, None)  # an in-flight step is discarded (Ray checkpoints now)
        trial.status = PAUSED

    def ended(self, trial: SimTrial) -> None:
        self.running.pop(trial, None)
        trial.status = TERMINATED
        self.live.pop(trial, None)


@dataclass
class Trajectory:
    """Every reported result in order: budget used, simulated time, value, level, trial."""

    budget: float
    spent: list[float] = field(default_factory=list)
    clock: list[float] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    level: list[int] = field(default_factory=list)
    trial: list[int] = field(default_factory=list)
    num_trials: int = 0
    decision_seconds: float = 0.0  # wall time inside searcher + scheduler calls
    num_decisions: int = 0
    decision_cum: list[float] = field(default_factory=list)  # decision_seconds after each result
    stopped_early: bool = False  # max_wall_seconds reached

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(getattr(self, k)) for k in ("spent", "clock", "value", "level")}

    def incumbent(self, mode: str, *, level: int | None = None) -> np.ndarray:
        """Best value so far after each result; NaN until the first one that counts.

        Counted: results reported within the budget (the one that crosses it finished after
        the budget ran out, so it counts nowhere) and, with ``level``, only results at that
        level — the full-fidelity incumbent, what a user can deploy: a low-fidelity value can
        exceed anything full fidelity reaches (rbv2_rpart, issue 12).
        """
        a = self.arrays()
        keep = a["spent"] <= self.budget * (1 + 1e-12)
        if level is not None:
            keep &= a["level"] == level
        worst = -np.inf if mode == "max" else np.inf
        value = np.where(keep, a["value"].astype(float), worst)
        best = np.maximum.accumulate(value) if mode == "max" else np.minimum.accumulate(value)
        return np.where(np.isfinite(best), best, np.nan) if len(best) else best


def simulate(task: SimTask, searcher: Searcher, scheduler: TrialScheduler, *, workers: int = 4,
             budget: float = math.inf, max_concurrent: int | None | str = "workers",
             max_pending: int | None = None, max_trials: int | None = None,
             max_results: int | None = None,
             max_wall_seconds: float | None = None) -> Trajectory:
    """Run until ``budget`` units are spent (or ``max_trials`` started / the searcher ends).

    Trial creation follows Ray's controller: up to ``max_pending`` PENDING trials are kept
    (Ray: ``max_concurrent_trials`` when set, else 1 for a custom searcher, 200 for
    ``BasicVariantGenerator``), and with ``max_concurrent`` set no new trial is suggested while
    that many are live — paused ones included (Ray's ``ConcurrencyLimiter``, which ``tuner
    launch`` installs with ``max_concurrent_trials`` = slots). The default mirrors ``tuner
    launch``: both equal to ``workers``.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if max_concurrent == "workers":
        max_concurrent = workers
    if max_pending is None:
        max_pending = max_concurrent or 1
    metric, mode = task.metric, task.mode
    searcher.set_search_properties(metric, mode, {})
    scheduler.set_search_properties(metric, mode)
    ctl = SimController(searcher, scheduler)
    traj = Trajectory(budget=budget)
    heap: list[tuple[float, int, SimTrial, int, float, float]] = []
    seq = itertools.count()
    now, spent, free = 0.0, 0.0, workers
    searcher_done = False
    clock = _time.perf_counter
    spent_deciding = 0.0
    wall_start = clock()

    def start(trial: SimTrial) -> None:
        nonlocal free
        level = (trial.config.get(SimTask.START) or task.first_level()) if trial.level == 0 \
            else task.next_level(trial.level)
        value, seconds = trial.curve.at(level)
        trial.status = RUNNING
        n = next(seq)
        ctl.running[trial] = n
        heapq.heappush(heap, (now + seconds, n, trial, level, value, seconds))
        free -= 1

    def new_trial() -> SimTrial | None:
        nonlocal searcher_done, spent_deciding
        if searcher_done or (max_trials is not None and ctl.num_trials >= max_trials):
            return None
        trial_id = f"t{ctl.num_trials:06d}"
        t0 = clock()
        config = searcher.suggest(trial_id)
        spent_deciding += clock() - t0
        if config is None:
            return None
        if config == Searcher.FINISHED:
            searcher_done = True
            return None
        trial = SimTrial(trial_id, dict(config))
        trial.curve = _Curve(task, trial.config)
        ctl.num_trials += 1
        ctl.live[trial] = None
        t0 = clock()
        scheduler.on_trial_add(ctl, trial)
        spent_deciding += clock() - t0
        return trial

    def top_up() -> None:
        if spent >= budget:
            return
        pending = sum(1 for t in ctl.live if t.status == PENDING)
        while pending < max_pending and (max_concurrent is None or len(ctl.live) < max_concurrent):
            if new_trial() is None:
                return
            pending += 1

    def fill() -> None:
        nonlocal spent_deciding
        top_up()
        while free > 0 and spent < budget:
            t0 = clock()
            trial = scheduler.choose_trial_to_run(ctl)
            spent_deciding += clock() - t0
            if trial is None:
                return
            start(trial)
            top_up()

    fill()
    while heap and spent < budget:
        t_end, n, trial, level, value, seconds = heapq.heappop(heap)
        if ctl.running.get(trial) != n:
            continue  # paused or stopped while in flight: the step never reported
        del ctl.running[trial]
        free += 1
        now = t_end
        spent += task.cost(level, trial.level)
        trial.time_total_s += seconds
        trial.level = level
        result = {metric: value, "training_iteration": level, "epoch": level,
                  "time_total_s": trial.time_total_s, "time_this_iter_s": seconds, "trial_id": trial.trial_id, "done": False}
        trial.last_result = result
        traj.spent.append(spent)
        traj.clock.append(now)
        traj.value.append(value)
        traj.level.append(level)
        traj.trial.append(int(trial.trial_id[1:]))
        t0 = clock()
        decision = scheduler.on_trial_result(ctl, trial, result)
        if decision != TrialScheduler.STOP:
            searcher.on_trial_result(trial.trial_id, result)
        last = task.next_level(level) is None
        if decision == TrialScheduler.STOP or last:
            result["done"] = True
            if trial.status == RUNNING:
                ctl.stop_trial(trial)
        elif decision == TrialScheduler.PAUSE:
            ctl.pause_trial(trial)
        spent_deciding += clock() - t0
        traj.num_decisions += 1
        if decision == TrialScheduler.CONTINUE and not last and trial.status == RUNNING \
                and spent < budget:
            free_before = free
            start(trial)  # keeps its worker
            assert free == free_before - 1
        elif trial.status == RUNNING:
            trial.status = PAUSED  # budget ran out mid-trial
        traj.decision_cum.append(spent_deciding)
        if max_results is not None and traj.num_decisions >= max_results:
            break
        if max_wall_seconds is not None and clock() - wall_start > max_wall_seconds:
            traj.stopped_early = True
            break
        fill()
    traj.num_trials = len(set(traj.trial))  # trials that reported at least once
    traj.decision_seconds = spent_deciding
    return traj
