"""Simulated-time runner: the very searcher and scheduler objects Ray gets, on a surrogate clock.

``simulate(task, searcher, scheduler, workers=..., budget=...)`` plays Ray's ``TuneController``
loop without Ray: N simulated workers, an event heap ordered by simulated time (Syne Tune's
``backend/simulator_backend``), and each reported result costs the benchmark's runtime for it.
The searcher is a Ray ``Searcher`` (``suggest``/``on_trial_result``/``on_trial_complete``), the
scheduler a Ray ``TrialScheduler`` (``on_trial_add``/``on_trial_result``/``on_trial_complete``/
``on_trial_remove``/``choose_trial_to_run``), called in the order and with the arguments Ray's
controller uses (``ray/tune/execution/tune_controller.py``): a STOP result reaches the searcher
only through ``on_trial_complete``; a trial's result at its last level meets its stop criterion
(``Trial.should_stop``), so neither ``on_trial_result`` sees it — only ``on_trial_complete``; a paused trial stopped by the scheduler reaches the searcher
as ``on_trial_complete(trial_id)`` without a result; a resumed trial continues from its
checkpoint (the next level).

Several objectives: a benchmark whose ``metric`` and ``mode`` are lists (one per objective,
as ``tuner launch`` takes them) answers ``metric_and_time`` with one row of values per result;
each result then carries every objective under its name (``SimTask.report``) and
``Trajectory.value`` holds the rows as tuples (``benchmarks/mo_compare.py``).

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

    def report(self, value: Any) -> dict:
        """A result's objective as Ray gets it: ``{metric: value}``, or with several
        objectives (``metric`` a list) one key per objective from the row ``value``."""
        if isinstance(self.metric, str):
            return {self.metric: value}
        return dict(zip(self.metric, value))

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
                self.values[lv] = float(v) if np.ndim(v) == 0 else tuple(map(float, v))
                self.times[lv] = float(s)
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
    value: list[float] = field(default_factory=list)  # a tuple per result: several objectives
    level: list[int] = field(default_factory=list)
    trial: list[int] = field(default_factory=list)
    num_trials: int = 0
    configs: dict[int, dict] = field(default_factory=dict)  # trial index -> its config
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

    def incumbent_config(self, mode: str, level: int, spent: float) -> dict | None:
        """The config of the best result at ``level`` reported once ``spent`` units were used
        (the earliest of equal values): the model a user stopping there would ship."""
        a = self.arrays()
        keep = (a["spent"] <= min(spent, self.budget) * (1 + 1e-12)) & (a["level"] == level)
        if not keep.any():
            return None
        values = np.where(keep, a["value"].astype(float), np.nan)
        j = int(np.nanargmax(values) if mode == "max" else np.nanargmin(values))
        return self.configs.get(self.trial[j])


class _Run:
    """One :func:`simulate` call's state and steps, split out of one long function.

    Holds what Ray's controller holds between events — the event heap, the simulated clock,
    the free workers, the budget spent, the wall time spent deciding — so that each step of
    its loop (suggest a trial, start one, keep enough pending, fill free workers, handle one
    reported result) is a method on one state instead of a closure over many ``nonlocal`` names.
    """

    def __init__(self, task: SimTask, searcher: Searcher, scheduler: TrialScheduler, *,
                 workers: int, budget: float, max_concurrent: int | None,
                 max_pending: int, max_trials: int | None, max_results: int | None,
                 max_wall_seconds: float | None):
        self.task, self.searcher, self.scheduler = task, searcher, scheduler
        self.budget, self.max_concurrent, self.max_pending = budget, max_concurrent, max_pending
        self.max_trials, self.max_results = max_trials, max_results
        self.max_wall_seconds = max_wall_seconds
        self.ctl = SimController(searcher, scheduler)
        self.traj = Trajectory(budget=budget)
        self.heap: list[tuple[float, int, SimTrial, int, float, float]] = []
        self.seq = itertools.count()
        self.now, self.spent, self.free = 0.0, 0.0, workers
        self.searcher_done = False
        self.clock = _time.perf_counter
        self.spent_deciding = 0.0
        self.wall_start = self.clock()

    def start(self, trial: SimTrial) -> None:
        """Put ``trial``'s next level in flight on a worker: from its checkpoint, or first."""
        task = self.task
        level = (trial.config.get(SimTask.START) or task.first_level()) if trial.level == 0 \
            else task.next_level(trial.level)
        value, seconds = trial.curve.at(level)
        trial.status = RUNNING
        n = next(self.seq)
        self.ctl.running[trial] = n
        heapq.heappush(self.heap, (self.now + seconds, n, trial, level, value, seconds))
        self.free -= 1

    def new_trial(self) -> SimTrial | None:
        """Ask the searcher for a config and hand the trial to the scheduler, as Ray does."""
        ctl = self.ctl
        if self.searcher_done or (self.max_trials is not None
                                  and ctl.num_trials >= self.max_trials):
            return None
        trial_id = f"t{ctl.num_trials:06d}"
        t0 = self.clock()
        config = self.searcher.suggest(trial_id)
        self.spent_deciding += self.clock() - t0
        if config is None:
            return None
        if config == Searcher.FINISHED:
            self.searcher_done = True
            return None
        trial = SimTrial(trial_id, dict(config))
        trial.curve = _Curve(self.task, trial.config)
        self.traj.configs[ctl.num_trials] = trial.config
        ctl.num_trials += 1
        ctl.live[trial] = None
        t0 = self.clock()
        self.scheduler.on_trial_add(ctl, trial)
        self.spent_deciding += self.clock() - t0
        return trial

    def top_up(self) -> None:
        """Keep ``max_pending`` PENDING trials, within ``max_concurrent`` live ones (Ray's)."""
        if self.spent >= self.budget:
            return
        live = self.ctl.live
        pending = sum(1 for t in live if t.status == PENDING)
        while pending < self.max_pending and (self.max_concurrent is None
                                              or len(live) < self.max_concurrent):
            if self.new_trial() is None:
                return
            pending += 1

    def fill(self) -> None:
        """Give every free worker the trial the scheduler chooses, topping up after each."""
        self.top_up()
        while self.free > 0 and self.spent < self.budget:
            t0 = self.clock()
            trial = self.scheduler.choose_trial_to_run(self.ctl)
            self.spent_deciding += self.clock() - t0
            if trial is None:
                return
            self.start(trial)
            self.top_up()

    def record(self, trial: SimTrial, t_end: float, level: int, value: float,
               seconds: float) -> dict:
        """Advance the clock and budget to a finished step; log it; return Ray's result."""
        self.free += 1
        self.now = t_end
        self.spent += self.task.cost(level, trial.level)
        trial.time_total_s += seconds
        trial.level = level
        result = {**self.task.report(value), "training_iteration": level, "epoch": level,
                  "time_total_s": trial.time_total_s, "time_this_iter_s": seconds,
                  "trial_id": trial.trial_id, "done": False}
        trial.last_result = result
        traj = self.traj
        traj.spent.append(self.spent)
        traj.clock.append(self.now)
        traj.value.append(value)
        traj.level.append(level)
        traj.trial.append(int(trial.trial_id[1:]))
        return result

    def decide(self, trial: SimTrial, level: int, result: dict) -> tuple[str, bool]:
        """The scheduler's and searcher's calls on a result, in the order Ray's controller
        makes them, and the stop or pause they ask for; (decision, trial at its last level)."""
        t0 = self.clock()
        last = self.task.next_level(level) is None
        if last:  # Ray: the trial's stop criterion is met, neither on_trial_result is called
            decision = TrialScheduler.STOP
        else:
            decision = self.scheduler.on_trial_result(self.ctl, trial, result)
            if decision != TrialScheduler.STOP:
                self.searcher.on_trial_result(trial.trial_id, result)
        if decision == TrialScheduler.STOP:
            result["done"] = True
            if trial.status == RUNNING:
                self.ctl.stop_trial(trial)
        elif decision == TrialScheduler.PAUSE:
            self.ctl.pause_trial(trial)
        self.spent_deciding += self.clock() - t0
        self.traj.num_decisions += 1
        return decision, last

    def carry_on(self, trial: SimTrial, decision: str, last: bool) -> None:
        """A continued trial keeps its worker for its next level; out of budget it pauses."""
        if decision == TrialScheduler.CONTINUE and not last and trial.status == RUNNING \
                and self.spent < self.budget:
            free_before = self.free
            self.start(trial)  # keeps its worker
            assert self.free == free_before - 1
        elif trial.status == RUNNING:
            trial.status = PAUSED  # budget ran out mid-trial
        self.traj.decision_cum.append(self.spent_deciding)

    def limit_reached(self) -> bool:
        """``max_results`` results handled, or ``max_wall_seconds`` of wall time used."""
        if self.max_results is not None and self.traj.num_decisions >= self.max_results:
            return True
        if self.max_wall_seconds is not None \
                and self.clock() - self.wall_start > self.max_wall_seconds:
            self.traj.stopped_early = True
            return True
        return False

    def run(self) -> Trajectory:
        """The event loop: the earliest step in flight reports, then free workers refill."""
        self.fill()
        while self.heap and self.spent < self.budget:
            t_end, n, trial, level, value, seconds = heapq.heappop(self.heap)
            if self.ctl.running.get(trial) != n:
                continue  # paused or stopped while in flight: the step never reported
            del self.ctl.running[trial]
            result = self.record(trial, t_end, level, value, seconds)
            decision, last = self.decide(trial, level, result)
            self.carry_on(trial, decision, last)
            if self.limit_reached():
                break
            self.fill()
        traj = self.traj
        traj.num_trials = len(set(traj.trial))  # trials that reported at least once
        traj.decision_seconds = self.spent_deciding
        return traj


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
    searcher.set_search_properties(task.metric, task.mode, {})
    scheduler.set_search_properties(task.metric, task.mode)
    return _Run(task, searcher, scheduler, workers=workers, budget=budget,
                max_concurrent=max_concurrent, max_pending=max_pending, max_trials=max_trials,
                max_results=max_results, max_wall_seconds=max_wall_seconds).run()
