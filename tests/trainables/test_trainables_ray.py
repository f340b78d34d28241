"""A plain `ray.tune.Tuner` run of the MLP trainable: actor reuse, NaN trials, TensorBoard
event files, end-of-trial checkpoints that `evaluate_checkpoint` can score."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from trainables import MLPTrainable, evaluate_checkpoint

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_plain_tuner_runs_mlp_with_reuse_nan_and_tensorboard(ray_session, tmp_path):
    from ray import tune

    tuner = tune.Tuner(
        MLPTrainable,
        param_space={
            "lr": tune.grid_search([0.003, 0.01, 1e30]),
            "optimizer": "sgd",
            "max_epochs": 2,
            "hidden": 32,
        },
        tune_config=tune.TuneConfig(metric="val_accuracy", mode="max", reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="mlp", verbose=0),
    )
    grid = tuner.fit()
    assert not grid.errors
    results = {r.config["lr"]: r for r in grid}
    for lr in (0.003, 0.01):
        m = results[lr].metrics
        assert m["training_iteration"] == 2 and m["epoch"] == 2 and m["done"] is True
        assert 0.0 < m["val_accuracy"] <= 1.0 and "error" not in m
        assert list(Path(results[lr].path).glob("events.out.tfevents.*")), "no TensorBoard events"
    diverged = results[1e30].metrics
    assert diverged["error"] == "non-finite loss" and diverged["training_iteration"] == 1
    assert math.isnan(diverged["val_accuracy"])
    assert len({r.metrics["pid"] for r in grid}) < 3, "actors were not reused"

    best = grid.get_best_result()
    scores = evaluate_checkpoint("mlp", best.config, best.checkpoint.path)
    assert 0.0 < scores["test_accuracy"] <= 1.0 and math.isfinite(scores["test_loss"])
