"""YAHPO Gym v1.0.2 surrogate benchmarks, loaded offline with onnxruntime.

Pfisterer et al., "YAHPO Gym — An Efficient Multi-Objective Multi-Fidelity Benchmark for
Hyperparameter Optimization", AutoML-Conf 2022. Scenarios: lcbench (Zimmer et al. 2021, epoch
fidelity 1..52) and rbv2_xgboost / rbv2_rpart (Binder, Pfisterer & Bischl 2020) and iaml_glmnet
(trainsize fidelity, ``repl`` fixed at 10). A benchmark answers ``config + fidelity → metrics +
simulated seconds``; the search space is read from the scenario's ``config_space.json`` into our
``SearchSpace`` so every searcher sees exactly what it would see for a real trainable.

The data is read from ``$TUNER_BENCHDATA/yahpo_data_v1.0.2`` (default: ``../shared/benchdata``
relative to the repository root); it is never copied into the project. The ``yahpo-gym`` package
itself is not used (it pins numpy<2); the encoding below matches it exactly (data README).
"""

from __future__ import annotations

import csv
import functools
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from search_spaces import Categorical, Float, Int, SearchSpace

__all__ = ["DEV_INSTANCES", "SCENARIOS", "DataMissing", "YahpoBenchmark", "data_dir", "load"]

_REPO = Path(__file__).resolve().parents[1]
_VERSION_DIR = "yahpo_data_v1.0.2"


class DataMissing(FileNotFoundError):
    """The YAHPO surrogate data is not where we look for it."""


@dataclass(frozen=True)
class _Scenario:
    """How one scenario's model is fed: categorical and continuous column order, targets."""

    instance_param: str
    fidelity: str
    cat_cols: tuple[str, ...]
    cont_cols: tuple[str, ...]
    targets: tuple[str, ...]
    metric: str  # default target to optimise
    mode: str
    time_target: str
    fixed: dict = field(default_factory=dict)  # not searched, fed constant (repl=10)


SCENARIOS: dict[str, _Scenario] = {
    "lcbench": _Scenario(
        "OpenML_task_id", "epoch", ("OpenML_task_id",),
        ("epoch", "batch_size", "learning_rate", "momentum", "weight_decay", "num_layers",
         "max_units", "max_dropout"),
        ("time", "val_accuracy", "val_cross_entropy", "val_balanced_accuracy",
         "test_cross_entropy", "test_balanced_accuracy"),
        "val_accuracy", "max", "time"),
    "rbv2_xgboost": _Scenario(
        "task_id", "trainsize", ("task_id", "booster", "num.impute.selected.cpo"),
        ("nrounds", "eta", "gamma", "lambda", "alpha", "subsample", "max_depth",
         "min_child_weight", "colsample_bytree", "colsample_bylevel", "rate_drop", "skip_drop",
         "trainsize", "repl"),
        ("acc", "bac", "auc", "brier", "f1", "logloss", "timetrain", "timepredict", "memory"),
        "acc", "max", "timetrain", {"repl": 10}),
    "rbv2_rpart": _Scenario(
        "task_id", "trainsize", ("task_id", "num.impute.selected.cpo"),
        ("cp", "maxdepth", "minbucket", "minsplit", "trainsize", "repl"),
        ("acc", "bac", "auc", "brier", "f1", "logloss", "timetrain", "timepredict", "memory"),
        "acc", "max", "timetrain", {"repl": 10}),
    "iaml_glmnet": _Scenario(
        "task_id", "trainsize", ("task_id",), ("alpha", "s", "trainsize"),
        ("mmce", "f1", "auc", "logloss", "ramtrain", "rammodel", "rampredict", "timetrain",
         "timepredict", "mec", "ias", "nf"),
        "auc", "max", "timetrain"),
}

# The 9 instances of YAHPO's official single-objective suite (v1.0) available offline.
DEV_INSTANCES = (
    "lcbench/167168", "lcbench/189873", "lcbench/189906",
    "rbv2_xgboost/12", "rbv2_xgboost/1501", "rbv2_xgboost/16", "rbv2_xgboost/40499",
    "rbv2_rpart/14", "rbv2_rpart/40499",
)


def data_dir() -> Path:
    """The ``yahpo_data_v1.0.2`` folder; ``DataMissing`` says how to get it when absent."""
    root = os.environ.get("TUNER_BENCHDATA")
    base = Path(root) if root else _REPO.parent / "shared" / "benchdata"
    path = base / _VERSION_DIR
    if not (path / "lcbench" / "model.onnx").is_file():
        raise DataMissing(
            f"YAHPO surrogate data not found at {path}. Get the yahpo_data repository at "
            f"v1.0.2 (https://github.com/slds-lmu/yahpo_data, tag v1.0.2) into a folder named "
            f"{_VERSION_DIR} and set TUNER_BENCHDATA to the folder holding it.")
    return path


@functools.cache
def _session(scenario: str, root: str):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # shared 2-core machines; rows are tiny
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(Path(root) / scenario / "model.onnx"), opts,
                                providers=["CPUExecutionProvider"])


@functools.cache
def _json(path: str) -> Any:
    with open(path) as f:
        return json.load(f)


@functools.cache
def _statistics(root: str) -> dict[tuple[str, str, str], dict[str, float]]:
    out: dict[tuple[str, str, str], dict[str, float]] = {}
    with open(Path(root) / "global_statistics" / "instance_target_statistics.csv") as f:
        for row in csv.DictReader(f):
            key = (row["scenario"], row["instance"], row["metric"])
            out.setdefault(key, {})[row["statistic"]] = float(row["value"])
    return out


def space_from_config_space(cs: dict, skip: set[str]) -> SearchSpace:
    """ConfigSpace JSON → our ``SearchSpace`` (types, inclusive bounds, log, IN/EQ conditions)."""
    when: dict[str, dict] = {}
    for cond in cs.get("conditions", []):
        values = cond["values"] if cond["type"] == "IN" else [cond["value"]]
        if cond["type"] not in ("IN", "EQ"):
            raise ValueError(f"{cond['child']}: condition type {cond['type']} not supported")
        when[cond["child"]] = {cond["parent"]: list(values)}
    params = {}
    for hp in cs["hyperparameters"]:
        name = hp["name"]
        if name in skip:
            continue
        kw = {"when": when.get(name, {})}
        if hp["type"] == "uniform_float":
            params[name] = Float(hp["lower"], hp["upper"], log=hp["log"], **kw)
        elif hp["type"] == "uniform_int":
            params[name] = Int(hp["lower"], hp["upper"], log=hp["log"], **kw)
        elif hp["type"] == "categorical":
            params[name] = Categorical(tuple(hp["choices"]), **kw)
        else:
            raise ValueError(f"{name}: hyperparameter type {hp['type']} not supported")
    return SearchSpace(params)


class YahpoBenchmark:
    """One YAHPO instance: ``evaluate(configs, fidelities) → metric rows``, batched.

    ``fidelity`` is the epoch (lcbench, 1..52) or the trainsize fraction (rbv2/iaml, 0.03..1).
    """

    def __init__(self, scenario: str, instance: str, metric: str | None = None):
        if scenario not in SCENARIOS:
            raise KeyError(f"unknown YAHPO scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
        self.scenario, self.instance = scenario, str(instance)
        self.sc = sc = SCENARIOS[scenario]
        self.root = str(data_dir())
        self.metric = metric or sc.metric
        self.mode = sc.mode
        cs = _json(str(Path(self.root) / scenario / "config_space.json"))
        by_name = {hp["name"]: hp for hp in cs["hyperparameters"]}
        if self.instance not in by_name[sc.instance_param]["choices"]:
            raise KeyError(f"{scenario}: unknown instance {self.instance!r}")
        self.space = space_from_config_space(cs, {sc.instance_param, sc.fidelity, *sc.fixed})
        fid = by_name[sc.fidelity]
        self.fidelity_min, self.fidelity_max = fid["lower"], fid["upper"]
        self._encoding = _json(str(Path(self.root) / scenario / "encoding.json"))
        self._metric_col = sc.targets.index(self.metric)
        self._time_col = sc.targets.index(sc.time_target)
        stats = _statistics(self.root).get((scenario, self.instance, self.metric))
        if not stats:
            raise KeyError(f"{scenario}/{instance}: no global statistics for {self.metric}")
        self.metric_min, self.metric_max = stats["min"], stats["max"]
        self._cat_index = {c: i for i, c in enumerate(sc.cat_cols)}
        self._cont_index = {c: i for i, c in enumerate(sc.cont_cols)}

    @property
    def name(self) -> str:
        return f"{self.scenario}/{self.instance}"

    @property
    def dim(self) -> int:
        """Searched hyperparameters (YAHPO's d in the budget formula)."""
        return len(self.space.searchable)

    @property
    def multi_epoch(self) -> bool:
        """True when the fidelity is training time that resumes (epochs), not a data fraction."""
        return self.sc.fidelity == "epoch"

    def encode(self, configs: list[dict], fidelities: list[float]) -> tuple[np.ndarray, np.ndarray]:
        sc, n = self.sc, len(configs)
        x_cat = np.zeros((n, len(sc.cat_cols)), np.int32)
        x_cont = np.zeros((n, len(sc.cont_cols)), np.float32)  # inactive numerics stay 0
        enc = self._encoding
        for i, (cfg, fid) in enumerate(zip(configs, fidelities)):
            full = {**sc.fixed, **cfg, sc.fidelity: fid, sc.instance_param: self.instance}
            for c, j in self._cat_index.items():
                x_cat[i, j] = enc[c][str(full[c])] if c in full else enc[c]["#na#"]
            for c, j in self._cont_index.items():
                if c in full:
                    x_cont[i, j] = full[c]
        return x_cat, x_cont

    def evaluate(self, configs: list[dict], fidelities: list[float]) -> np.ndarray:
        """Raw surrogate outputs, one row per (config, fidelity), columns = ``sc.targets``."""
        x_cat, x_cont = self.encode(configs, fidelities)
        return _session(self.scenario, self.root).run(None, {"x_cat": x_cat, "x_cont": x_cont})[0]

    def metric_and_time(self, configs: list[dict], fidelities: list[float]):
        """(metric values, simulated seconds) per row; lcbench seconds are cumulative."""
        out = self.evaluate(configs, fidelities)
        return out[:, self._metric_col].astype(float), np.maximum(out[:, self._time_col], 0.0)

    def regret(self, value: float) -> float:
        """Normalised regret by the instance's global min/max (YAHPO global statistics)."""
        span = self.metric_max - self.metric_min
        r = (self.metric_max - value) if self.mode == "max" else (value - self.metric_min)
        return float(r / span) if span > 0 else 0.0

    def budget(self) -> int:
        """YAHPO protocol: ⌈20·r_max + 40·√d·r_max⌉ fidelity units (r_max = 52 epochs or 1)."""
        r_max = self.fidelity_max if self.multi_epoch else 1.0
        return math.ceil(20 * r_max + 40 * math.sqrt(self.dim) * r_max)


def load(name: str, metric: str | None = None) -> YahpoBenchmark:
    """``load("lcbench/167168")``."""
    scenario, _, instance = name.partition("/")
    if not instance:
        raise KeyError(f"benchmark name must be scenario/instance, got {name!r}")
    return YahpoBenchmark(scenario, instance, metric)


def instances(scenario: str) -> list[str]:
    """All instance ids of a scenario that have global statistics for its default metric."""
    root = str(data_dir())
    sc = SCENARIOS[scenario]
    cs = _json(str(Path(root) / scenario / "config_space.json"))
    ids = next(h["choices"] for h in cs["hyperparameters"] if h["name"] == sc.instance_param)
    stats = _statistics(root)
    return [i for i in ids if (scenario, i, sc.metric) in stats]
