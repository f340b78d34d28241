"""One real tuning run on a local Ray: files written, ASHA stops trials early, a test score."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tuner.experiment.config import parse_experiment
from tuner.launch.runner import run

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _experiment(tmp_path: Path, **changes):
    raw = {
        "name": "e2e",
        "trainable": "mlp",
        "config": {"dataset": "digits"},
        "space": {
            # 1e6 makes SGD diverge: a trial that must end "errored: non-finite loss"
            "lr": {"type": "categorical", "choices": [0.003, 0.01, 0.03, 1.0e6]},
            "hidden": {"type": "int", "low": 16, "high": 64, "log": True},
            "depth": {"type": "int", "low": 1, "high": 2},
            "batch_size": 64,
            "optimizer": "sgd",
            "momentum": 0.9,
        },
        "searcher": "random",
        "scheduler": "asha",
        "budget": {"min": 1, "max": 9, "eta": 3},
        "metric": "val_accuracy",
        "mode": "max",
        "num_samples": 10,
        "seed": 3,
        "points_to_evaluate": [{"lr": 1.0e6, "hidden": 32, "depth": 1}],
        "storage": str(tmp_path),
    }
    raw.update(changes)
    return parse_experiment(raw)


def test_local_run_writes_results_and_stops_early(ray_session, tmp_path):
    exp = _experiment(tmp_path)
    outcome = run(exp, write=lambda line: None)
    out = tmp_path / "e2e"
    for name in ("trials.csv", "best.json", "report.md", "curves.png"):
        assert (out / name).stat().st_size > 0, name
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert len(rows) == 10
    assert {"trial_id", "lr", "hidden", "depth", "status", "epochs", "last_val_accuracy",
            "best_val_accuracy"} <= set(rows[0])
    statuses = [r["status"] for r in rows]
    assert "completed" in statuses
    assert "stopped early" in statuses, statuses  # ASHA cut some trials before 9 epochs
    assert "errored: non-finite loss" in statuses  # the diverging warm-start point
    best = json.loads((out / "best.json").read_text())
    assert best["config"]["lr"] != 1.0e6
    assert 0.5 < best["test"]["test_accuracy"] <= 1.0
    assert best["epochs"] == 9
    report = (out / "report.md").read_text()
    # the rung table counts what trials.csv says: rung 0 (1 epoch) all 10, then fewer
    for i, epochs in enumerate((1, 3, 9)):
        reached = sum(int(r["epochs"]) >= epochs for r in rows)
        assert f"| {i} | {epochs} | 1 | {reached} |" in report, (i, reached)
    assert "| 0 | 1 | 1 | 10 |" in report
    assert outcome.best.trial_id == best["trial_id"]
    # Ray's own experiment files sit next to ours
    assert any(p.name.startswith("experiment_state") for p in out.iterdir())
