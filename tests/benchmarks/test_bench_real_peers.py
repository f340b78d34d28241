"""benchmarks.real_peers: the incumbent curve, the Ray space, the table, and a tiny real
comparison — Optuna's ask/tell path trains every trial to the end and its study sees each
value; Ray's HyperOpt + ASHA path stops trials early and its chosen model is scored on test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks import real_peers as rp


def _trial(rows, ckpt="c"):
    return {"config": {}, "rows": rows, "checkpoint": ckpt}


def test_incumbents_follow_epochs_spent_and_ignore_early_stopped_trials():
    trials = [
        _trial([(0, 1, 0.99)]),                                     # stopped at rung 1: never
        _trial([(1, 1, 0.5), (2, 2, 0.6), (3, 3, 0.7)]),            # full at event 4
        _trial([(4, 1, 0.6), (5, 2, 0.8), (6, 3, 0.9)]),            # full at event 7, better
    ]
    # budget 8 epochs: 25 % = 2 spent (nothing finished), 50 % = 4 (trial 1), 100 % (trial 2)
    assert rp.incumbents(trials, max_epochs=3, budget=8) == [None, 1, 2]
    assert rp.incumbents(trials, max_epochs=3, budget=8, mode="min") == [None, 1, 1]


def test_incumbents_count_epochs_in_wall_clock_order_across_trials():
    # trial 0 finishes late in wall-clock time although it is listed first
    trials = [_trial([(5, 1, 0.9), (6, 2, 0.9)]), _trial([(1, 1, 0.1), (2, 2, 0.2)])]
    assert rp.incumbents(trials, max_epochs=2, budget=4, fractions=(0.5, 1.0)) == [1, 0]


def test_ray_param_space_keeps_int_bounds_inclusive_and_fixed_values():
    from ray.tune.search.sample import Categorical, Float, Integer

    from search_spaces import SearchSpace
    from search_spaces.domains import Categorical as C
    from search_spaces.domains import Fixed, Int
    from search_spaces.domains import Float as F

    space = SearchSpace({"lr": F(low=1e-4, high=1e-1, log=True), "depth": Int(low=1, high=2),
                         "act": C(choices=("relu", "gelu")), "opt": Fixed(value="adamw")})
    ray_space = rp.ray_param_space(space)
    assert isinstance(ray_space["lr"], Float) and isinstance(ray_space["act"], Categorical)
    assert ray_space["opt"] == "adamw"
    assert isinstance(ray_space["depth"], Integer)
    depths = set(ray_space["depth"].sample(size=200, random_state=np.random.default_rng(0)))
    assert depths == {1, 2}


def test_table_ranks_test_accuracy_within_seed_and_intervals():
    rows = [dict(task="t", method=m, seed=s, val_accuracy=v, test_accuracy=t, epochs=e,
                 full_trials=1, trials=2, wall_seconds=1.0, test_at_25=math.nan,
                 test_at_50=t, test_at_100=t)
            for m, s, v, t, e in [("a", 0, 0.9, 0.8, 10), ("b", 0, 0.8, 0.9, 20),
                                  ("a", 1, 0.9, 0.7, 10), ("b", 1, 0.8, 0.9, 20)]]
    lines = rp.table(rows).splitlines()
    assert lines[2].startswith("| b | 0.9000 ± 0.0000 | 0.8000 | 20 | 1 | 1.00 | — (0) |")
    assert lines[3].startswith("| a | 0.7500 ± 0.6353 | 0.9000 | 10 | 1 | 2.00 |")
    assert lines[3].endswith("| 0.7500 ± 0.6353 (2) | 2 |")


TINY = """
name: tiny_cnn
trainable: cnn
config: {dataset: digits, channels: 8, depth: 1, kernel_size: 3, batch_size: 256}  # loads in ms
space:
  lr:      {type: float, low: 1.0e-3, high: 3.0e-2, log: true}
  dropout: {type: float, low: 0.0, high: 0.5}
budget: {min: 1, max: 3, eta: 3}
metric: val_accuracy
mode: max
resources: {cpus: 1, gpus: 0}
"""


@pytest.fixture
def tiny_task(tmp_path):
    path = tmp_path / "tiny_cnn.yaml"
    path.write_text(TINY)
    return path


@pytest.mark.ray
@pytest.mark.slow
def test_optuna_ask_tell_trains_to_full_epochs_and_tells_each_value(ray_session, tiny_task,
                                                                     tmp_path, monkeypatch):
    from tuner.searchers import SEARCHERS, OptunaTPESearcher

    made = []

    class Recorded(OptunaTPESearcher):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            made.append(self)

    monkeypatch.setitem(SEARCHERS, "optuna-tpe", Recorded)
    path, chosen = rp.run_ours(tiny_task, "optuna-tpe", 0, 4, 3, str(tmp_path / "runs"))
    trials = rp.trial_logs(path)
    assert len(trials) == 4 and all(len(t["rows"]) == 3 for t in trials)
    finals = sorted(-t["rows"][-1][2] for t in trials)  # the study minimises -accuracy
    told = sorted(t.value for t in made[0]._study.trials if t.value is not None)
    assert told == pytest.approx(finals)
    assert chosen["val_accuracy"] == pytest.approx(-finals[0])
    assert 0.0 < chosen["test_accuracy"] <= 1.0


@pytest.mark.ray
@pytest.mark.slow
def test_ray_hyperopt_asha_stops_trials_early_and_scores_its_pick(ray_session, tiny_task,
                                                                  tmp_path):
    path, chosen = rp.run_ray(tiny_task, 0, 6, 3, str(tmp_path / "runs"))
    trials = rp.trial_logs(path)
    epochs = [len(t["rows"]) for t in trials]
    assert len(trials) == 6 and min(epochs) == 1 and max(epochs) == 3
    last = [t["rows"][-1][2] for t in trials]
    assert chosen["val_accuracy"] == pytest.approx(max(last))  # Ray's scope="last" pick
    assert 0.0 < chosen["test_accuracy"] <= 1.0
    at = rp.curve(path, "cnn", max_epochs=3, budget=18)
    # the whole budget spent, the curve ends on the best trial that trained all 3 epochs,
    # whatever Ray picked (its scope="last" pick may be a trial stopped at epoch 1)
    full = [i for i, e in enumerate(epochs) if e == 3]
    best_full = max(full, key=lambda i: (last[i], -i))
    from trainables.evaluate import evaluate_checkpoint

    t = trials[best_full]
    expected = evaluate_checkpoint("cnn", t["config"], t["checkpoint"], split="test")
    assert at[-1] == pytest.approx(expected["test_accuracy"])


def test_paired_differences_to_the_default_and_render_round_trip(tmp_path):
    import argparse

    import pandas as pd

    rows = [dict(task="mnist1d-cnn", method=m, seed=s, val_accuracy=0.5, test_accuracy=t, epochs=4,
                 full_trials=1, trials=2, wall_seconds=1.5, test_at_25=math.nan,
                 test_at_50=t, test_at_100=t)
            for m, s, t in [("asha-pso", 0, 0.8), ("random", 0, 0.7),
                            ("asha-pso", 1, 0.6), ("random", 1, 0.7)]]
    lines = rp.paired(pd.DataFrame(rows)).splitlines()
    assert lines[2] == "| random | +0.0000 ± 1.2706 | 1 of 2 |"  # +0.1 and -0.1
    args = argparse.Namespace(out_root=str(tmp_path), num_samples=2, max_epochs=4,
                              tasks="mnist1d-cnn")
    rp._write(args, "mnist1d-cnn", rows, "python -m benchmarks.real_peers --num-samples 2 "
                               "--max-epochs 4 --tasks mnist1d-cnn")
    before = (tmp_path / "real-mnist1d-cnn" / "README.md").read_text()
    (tmp_path / "real-mnist1d-cnn" / "table.md").write_text("stale")
    assert rp.render(args) == 0
    assert (tmp_path / "real-mnist1d-cnn" / "README.md").read_text() == before
    assert (tmp_path / "real-mnist1d-cnn" / "table.md").read_text() == rp.table(rows)
