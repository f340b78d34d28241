"""A recorded table served like a YAHPO instance: ``load("real/mnist1d-cnn")``.

The simulated-time harness (``benchmarks.simulator``, ``benchmarks.compare``) asks a benchmark
for ``metric_and_time(configs, epochs)``; here each config is snapped onto the grid
(``GridTask.snap``) and the answer is read from the table — the seed-0 run's validation metric
at that epoch and its cumulative seconds (cumulative like lcbench's, which the simulator turns
into per-epoch cost). A run that diverged (NaN) reads as the worst value the table records, so
a method is charged for proposing it rather than crashing.

Regret is normalised by the table's own range of the metric at the last epoch (the analogue of
YAHPO's global statistics). ``test_score(config)`` gives the chosen model's test metric at the
last epoch — the figure a user cares about — and ``noise()`` the spread between seeds of the
configurations recorded several times.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from benchmarks.recorded.recorder import CURVES, read_curves
from benchmarks.recorded.task import GridTask, load_task, task_names

__all__ = ["PREFIX", "TableBenchmark", "TableMissing", "instances", "load"]

PREFIX = "real/"


class TableMissing(FileNotFoundError):
    """The task has no complete table yet."""


class TableBenchmark:
    """One recorded task as a benchmark instance (same interface as ``YahpoBenchmark``)."""

    multi_epoch = True
    fidelity_min = 1

    def __init__(self, task: GridTask):
        self.task = task
        self.name = PREFIX + task.name
        self.metric, self.mode = task.metric, task.mode
        self.space = task.space()
        self.fidelity_max = task.epochs
        self.ladder_min = task.ladder_min
        self.values, self.tests, self.seconds = _arrays(task)
        last = self.values[:, -1]
        self.metric_min, self.metric_max = float(np.nanmin(last)), float(np.nanmax(last))
        worst = float(np.nanmin(self.values) if self.mode == "max" else np.nanmax(self.values))
        self.values = np.where(np.isnan(self.values), worst, self.values)
        self.test_best = float(np.nanmax(self.tests[:, -1]) if self.mode == "max"
                               else np.nanmin(self.tests[:, -1]))

    @property
    def dim(self) -> int:
        return len(self.space.searchable)

    def metric_and_time(self, configs: list[dict], fidelities: list[float]):
        """(metric, cumulative seconds) per (config, epoch), from the seed-0 runs."""
        ids = [self.task.snap(c) for c in configs]
        ep = [int(round(f)) - 1 for f in fidelities]
        return self.values[ids, ep].astype(float), self.seconds[ids, ep].astype(float)

    def test_score(self, config: dict) -> float:
        """The test metric of ``config``'s grid point after the whole schedule."""
        return float(self.tests[self.task.snap(config), -1])

    def regret(self, value: float) -> float:
        span = self.metric_max - self.metric_min
        r = (self.metric_max - value) if self.mode == "max" else (value - self.metric_min)
        return float(r / span) if span > 0 else 0.0

    def budget(self) -> int:
        """The YAHPO protocol's budget, in epochs: ⌈20·r_max + 40·√d·r_max⌉."""
        r_max = self.fidelity_max
        return math.ceil(20 * r_max + 40 * math.sqrt(self.dim) * r_max)

    def noise(self) -> dict[str, float]:
        """Seed-to-seed spread of the repeated configurations at the last epoch: the mean
        over them of the standard deviation across seeds, validation and test."""
        return _noise(self.task)


def _arrays(task: GridTask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(validation metric, test metric, cumulative seconds) as [config, epoch] arrays."""
    rows = read_curves(task.folder)
    n, e = len(task.points()), task.epochs
    vals, tests, secs = (np.full((n, e), np.nan) for _ in range(3))
    test_key = task.metric.replace("val_", "test_", 1)
    for r in rows:
        if r["seed"] != "0":
            continue
        i, j = int(r["config_id"]), int(r["epoch"]) - 1
        vals[i, j], tests[i, j] = float(r[task.metric]), float(r[test_key])
        secs[i, j] = float(r["seconds"])
    missing = int(np.isnan(secs[:, -1]).sum())
    if missing:
        raise TableMissing(f"{PREFIX}{task.name}: {missing} of {n} configurations not recorded "
                           f"in {task.folder / CURVES}; run python -m "
                           f"benchmarks.recorded.recorder --task {task.name}")
    return vals, tests, np.cumsum(secs, axis=1)


def _noise(task: GridTask) -> dict[str, float]:
    by: dict[int, list[tuple[float, float]]] = {}
    test_key = task.metric.replace("val_", "test_", 1)
    for r in read_curves(task.folder):
        if int(r["epoch"]) == task.epochs:
            by.setdefault(int(r["config_id"]), []).append((float(r[task.metric]),
                                                           float(r[test_key])))
    reps = np.array([np.nanstd(v, axis=0, ddof=1) for v in by.values() if len(v) > 1])
    if not len(reps):
        return {"configs": 0, "val_sd": math.nan, "test_sd": math.nan}
    return {"configs": len(reps), "seeds": max(len(v) for v in by.values()),
            "val_sd": float(reps[:, 0].mean()), "test_sd": float(reps[:, 1].mean())}


@functools.cache
def _load(name: str, folder: str | None) -> TableBenchmark:
    return TableBenchmark(load_task(name, Path(folder) if folder else None))


def load(name: str, folder: Path | None = None) -> TableBenchmark:
    """``load("real/mnist1d-cnn")`` (cached per process: the harness loads it per run)."""
    if not name.startswith(PREFIX):
        raise KeyError(f"a recorded table is named {PREFIX}<task>, got {name!r}")
    return _load(name[len(PREFIX):], str(folder) if folder else None)


def instances(folder: Path | None = None) -> list[str]:
    return [PREFIX + n for n in task_names(folder)]
