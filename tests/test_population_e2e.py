"""PBT and PB2 through ``tuner.launch.runner.run`` on a real trainable: the lineage lands in
report.md, and the keys that reshape the weights are never mutated."""

from __future__ import annotations

import csv
import re

import pytest

from tuner.experiment.config import parse_experiment
from tuner.launch.runner import run

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _experiment(tmp_path, scheduler: str):
    return parse_experiment({
        "name": f"pop-{scheduler}",
        "trainable": "mlp",
        "config": {"dataset": "digits", "batch_size": 64},
        "space": {"lr": {"type": "float", "low": 1.0e-3, "high": 0.3, "log": True},
                  "hidden": {"type": "int", "low": 8, "high": 32},  # shape: never mutated
                  "momentum": {"type": "float", "low": 0.0, "high": 0.9}},
        "searcher": "random",
        "scheduler": {"name": scheduler, "perturbation_interval": 1},
        "budget": {"min": 1, "max": 4, "eta": 2},
        "metric": "val_accuracy", "mode": "max", "num_samples": 4, "seed": 5,
        "storage": str(tmp_path),
    })


@pytest.mark.parametrize("scheduler", ["pbt", "pb2"])
def test_lineage_lands_in_the_report(ray_session, tmp_path, scheduler):
    exp = _experiment(tmp_path, scheduler)
    run(exp, write=lambda line: None)
    out = tmp_path / exp.name
    report = (out / "report.md").read_text()
    title = {"pbt": "PBT", "pb2": "PB2"}[scheduler]
    assert f"## {title} lineage" in report, report[-2000:]
    rows = re.findall(r"^\| (\d+) \| (\w+) \| (\w+) \| (\d+) \| (.*) \|$", report, re.MULTILINE)
    ids = {r["trial_id"] for r in csv.DictReader((out / "trials.csv").open())}
    assert rows and all(t in ids and s in ids and t != s for _, t, s, _, _ in rows)
    assert all("hidden" not in mutation for *_, mutation in rows)  # shape key: copied only
