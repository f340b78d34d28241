"""YAHPO instances with several objectives: which targets, in which direction, on which instances.

One table (issue 23), each row read from the scenario's targets (``benchmarks.yahpo.SCENARIOS``)
and, where YAHPO Gym has one, its multi-objective suite (``benchmark_suites/v1.0/multi.json``):

| scenario | objectives (direction) | source |
|---|---|---|
| lcbench | val_accuracy (max), time (min) | accuracy vs the seconds a full training costs |
| rbv2_xgboost | acc (max), timetrain (min), timepredict (min) | accuracy vs fit and predict time |
| rbv2_rpart | acc (max), memory (min) | YAHPO-MO v1.0 |
| iaml_glmnet | mmce (min), nf (min) | YAHPO-MO v1.0 |

lcbench: YAHPO-MO pairs val_accuracy with val_cross_entropy, two views of one fit that barely
conflict; the time a model takes to train (52 epochs) is a cost users trade against accuracy.
rbv2_xgboost is the one scenario with three objectives; not YAHPO-MO's memory: its surrogate
reports 0 MB for a share of the ``dart`` configurations, the most accurate among them, so the
front would be one artefactual corner. iaml_glmnet: error against the number of features the
model uses; its ``ias`` and ``rammodel`` barely vary for a linear model, so they are left out.

Every objective is the surrogate's value at the fidelity asked for (lcbench ``time`` cumulative
to that epoch); the simulated clock is the scenario's time target as in the single-objective
harness. Instances: the dev and held-out lists of ``benchmarks.compare`` runs (docs/benchmarks.md);
all four scenarios have targets that trade off, so none is cut.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks import yahpo
from tuner.pareto import Objectives

__all__ = ["DEV", "HOLDOUT", "OBJECTIVES", "MOBenchmark", "instance_names", "load"]

OBJECTIVES: dict[str, tuple[tuple[str, str], ...]] = {
    "lcbench": (("val_accuracy", "max"), ("time", "min")),
    "rbv2_xgboost": (("acc", "max"), ("timetrain", "min"), ("timepredict", "min")),
    "rbv2_rpart": (("acc", "max"), ("memory", "min")),
    "iaml_glmnet": (("mmce", "min"), ("nf", "min")),
    "real": (("val_accuracy", "max"), ("params", "min")),  # recorded tables (MOTable)
}

DEV = yahpo.DEV_INSTANCES
# the 18 held-out instances of benchmarks/results/holdout30-w4 (never tuned on)
HOLDOUT = (
    "lcbench/3945", "lcbench/7593", "lcbench/34539", "lcbench/126025", "lcbench/146212",
    "lcbench/167104", "rbv2_xgboost/40923", "rbv2_xgboost/41143", "rbv2_xgboost/470",
    "rbv2_xgboost/1487", "rbv2_xgboost/40966", "rbv2_rpart/41138", "rbv2_rpart/4135",
    "rbv2_rpart/40981", "iaml_glmnet/40981", "iaml_glmnet/41146", "iaml_glmnet/1489",
    "iaml_glmnet/1067",
)


class MOBenchmark:
    """A ``YahpoBenchmark`` that answers every objective of its scenario.

    ``metric`` and ``mode`` are lists, as ``tuner launch`` takes several objectives, so the
    simulator reports each under its name and ``benchmarks.peers`` wires the method with them;
    everything else (space, fidelity, budget, name) is the single-objective benchmark's.
    """

    def __init__(self, bench: yahpo.YahpoBenchmark):
        if bench.scenario not in OBJECTIVES:
            raise KeyError(f"{bench.scenario}: no objectives chosen; one of "
                           f"{', '.join(OBJECTIVES)}")
        self.bench = bench
        names, modes = zip(*OBJECTIVES[bench.scenario])
        self.objectives = Objectives(tuple(names), tuple(modes))
        self.metric, self.mode = list(names), list(modes)
        targets = bench.sc.targets
        self._columns = [targets.index(n) for n in names]
        self._time_column = targets.index(bench.sc.time_target)

    def __getattr__(self, name: str) -> Any:
        if name == "bench":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.bench, name)

    def values(self, configs: list[dict], fidelities: list[float]) -> np.ndarray:
        """One row of objective values (as reported, not losses) per (config, fidelity)."""
        return self.bench.evaluate(configs, fidelities)[:, self._columns].astype(float)

    def metric_and_time(self, configs: list[dict], fidelities: list[float]):
        """(objective rows, simulated seconds); lcbench seconds are cumulative."""
        out = self.bench.evaluate(configs, fidelities)
        return (out[:, self._columns].astype(float),
                np.maximum(out[:, self._time_column], 0.0))


def load(name: str) -> MOBenchmark | MOTable:
    """``load("rbv2_rpart/14")``: the instance with its scenario's objectives;
    ``load("real/digits-mlp")``: a recorded table with accuracy and parameter count."""
    if name.startswith("real/"):
        from benchmarks.recorded import table

        return _table(name, table.load(name))
    return MOBenchmark(yahpo.load(name))


_TABLES: dict[str, MOTable] = {}


def _table(name: str, bench: Any) -> MOTable:
    """One ``MOTable`` per table and process (the harness loads an instance per run)."""
    if name not in _TABLES:
        _TABLES[name] = MOTable(bench)
    return _TABLES[name]


def instance_names(spec: str) -> list[str]:
    """``dev``, ``holdout``, or scenario/instance names, comma-separated."""
    out: list[str] = []
    for item in (s.strip() for s in spec.split(",")):
        out.extend(DEV if item == "dev" else HOLDOUT if item == "holdout" else [item] if item
                   else [])
    unknown = [n for n in out if n.partition("/")[0] not in OBJECTIVES]
    if unknown:
        raise KeyError(f"{unknown[0]}: no objectives for its scenario; one of "
                       f"{', '.join(OBJECTIVES)}")
    return list(dict.fromkeys(out))


class MOTable:
    """A recorded table of real training (``benchmarks.recorded``) with a second objective:
    the model's parameter count (min) beside the table's validation metric — the trade-off
    users make between accuracy and model size, on epochs that were really trained.

    The count is exact for each grid point: its model is built (weights untrained) by the
    table's trainable from the point's config, and counted with ``trainables.cost``; points
    that build the same shape share one count. It is the same at every epoch; the clock and
    the budget are the table's."""

    def __init__(self, table: Any):
        from trainables.cost import count_params
        from trainables.registry import get_trainable

        self.bench = table
        self.objectives = Objectives((table.metric, "params"), (table.mode, "min"))
        self.metric, self.mode = list(self.objectives.names), list(self.objectives.modes)
        cls, task, shapes = get_trainable(table.task.trainable), table.task, {}
        counts = []
        for point in task.points():
            config = task.trial_config(point, 0)
            keys = sorted(cls.shape_keys) or sorted(config)  # what fixes the weights' shapes
            key = repr([(k, config.get(k)) for k in keys])
            if key not in shapes:
                shapes[key] = count_params(cls.make_run(config).model)
            counts.append(shapes[key])
        self.params = np.array(counts, dtype=float)

    def __getattr__(self, name: str) -> Any:
        if name == "bench":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.bench, name)

    def values(self, configs: list[dict], fidelities: list[float]) -> np.ndarray:
        """One row (metric, params) per (config, epoch)."""
        metric, _ = self.bench.metric_and_time(configs, fidelities)
        ids = [self.bench.task.snap(c) for c in configs]
        return np.column_stack([metric, self.params[ids]])

    def metric_and_time(self, configs: list[dict], fidelities: list[float]):
        metric, seconds = self.bench.metric_and_time(configs, fidelities)
        ids = [self.bench.task.snap(c) for c in configs]
        return np.column_stack([metric, self.params[ids]]), seconds

