"""A trainable that raises on some configs: those trials end errored, the rest finish."""

from __future__ import annotations

import csv
import sys

import pytest

from trainables import MLPTrainable
from tuner.experiment.config import parse_experiment
from tuner.launch.runner import run

pytestmark = [pytest.mark.ray, pytest.mark.slow]


class RaisingMLP(MLPTrainable):
    """Crashes in its second epoch whenever ``depth == 2`` (a config-specific bug)."""

    def step(self):
        if self.config.get("depth") == 2 and self.iteration >= 1:
            raise RuntimeError("depth 2 is broken")
        return super().step()


def test_raising_trials_are_errored_and_the_rest_finish(ray_session, tmp_path):
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers can't import tests
    exp = parse_experiment({
        "name": "faults", "trainable": f"{__name__}:RaisingMLP",
        "config": {"dataset": "digits"},
        "space": {"lr": 0.01, "hidden": 32, "depth": {"type": "grid", "values": [1, 2, 3]},
                  "batch_size": 64},
        "searcher": "grid", "scheduler": "fifo", "budget": {"min": 1, "max": 3, "eta": 3},
        "metric": "val_accuracy", "mode": "max", "num_samples": 3, "max_failures": 1,
        "storage": str(tmp_path)})
    outcome = run(exp, write=lambda line: None)
    rows = {int(r["depth"]): r for r in csv.DictReader((tmp_path / "faults" / "trials.csv").open())}
    assert set(rows) == {1, 2, 3}
    assert rows[2]["status"].startswith("errored: RuntimeError: depth 2 is broken")
    assert rows[2]["retries"] == "1"  # retried once from its checkpoint, then given up
    assert rows[1]["status"] == rows[3]["status"] == "completed"
    assert outcome.best.config["depth"] in (1, 3)
    report = (tmp_path / "faults" / "report.md").read_text()
    assert "## Errored trials" in report and "## Retried trials" in report
