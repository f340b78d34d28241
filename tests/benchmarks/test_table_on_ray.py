"""A simulated run on a recorded table makes the decisions a live run makes (issue 21).

The live run is ``tuner.run`` on a real local Ray with a function trainable that reports the
table's values for its (snapped) config epoch by epoch; the simulated run drives the same
method, built by the same ``wire`` call, on the same table in simulated time. With one worker
both see results in the same order, so they must propose the same configurations and stop each
trial at the same epoch — a decision table whose rows come from Ray itself.
"""
from __future__ import annotations

import math
import sys

import pytest
import ray
from ray import tune

import tuner
from benchmarks import peers, simulator
from benchmarks.recorded.table import load
from tuner.compose.methods import DEFAULT_METHOD

pytestmark = [pytest.mark.ray, pytest.mark.slow]

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers can't import tests

TABLE = "real/digits-mlp"
TRIALS = 14


def from_table(config):
    """A trainable whose training is the table: the recorded value at each epoch."""
    bench = load(TABLE)
    for epoch in range(1, bench.fidelity_max + 1):
        value, _ = bench.metric_and_time([config], [epoch])
        tune.report({bench.metric: float(value[0]), "epoch": epoch})


def simulated(bench, method: str, seed: int) -> list[tuple[dict, int]]:
    setup = peers.build(method, bench, seed=seed, workers=1)
    traj = simulator.simulate(setup.task, setup.searcher, setup.scheduler, workers=1,
                              budget=math.inf, max_trials=TRIALS, max_concurrent=1,
                              max_pending=1)
    last: dict[int, int] = {}
    for t, level in zip(traj.trial, traj.level):
        last[t] = level
    return [(traj.configs[t], last[t]) for t in sorted(last)]


def live(bench, method: str, seed: int, tmp_path) -> list[tuple[dict, int]]:
    res = tuner.run({"name": f"{method}-{seed}", "trainable": from_table, "space": bench.space,
                     "metric": bench.metric, "mode": bench.mode, "method": method,
                     "num_samples": TRIALS, "max_concurrent": 1, "seed": seed,
                     "budget": {"min": 1, "max": bench.fidelity_max, "eta": 3},
                     "storage": str(tmp_path)}, quiet=True)
    names = list(bench.space.searchable)
    return [({n: row[n] for n in names}, int(row["epochs"]))
            for _, row in res.trials.iterrows()]


@pytest.mark.parametrize("method", [DEFAULT_METHOD, "asha-hyperopt-tpe"])
def test_simulated_and_live_runs_make_the_same_decisions(ray_session, tmp_path, method):
    bench = load(TABLE)
    sim, real = simulated(bench, method, seed=3), live(bench, method, 3, tmp_path)
    assert len(real) == TRIALS and len(sim) == TRIALS
    for (cfg_s, epochs_s), (cfg_r, epochs_r) in zip(sim, real):
        assert bench.task.snap(cfg_s) == bench.task.snap(cfg_r)
        for name, value in cfg_s.items():
            expected = value if isinstance(value, str) else pytest.approx(value, rel=1e-9)
            assert cfg_r[name] == expected, name
        assert epochs_s == epochs_r
    epochs = [e for _, e in real]
    assert min(epochs) < bench.fidelity_max == max(epochs)  # some stopped at a rung, some ran on
