"""The default method (``asha-checked-pso``) on a real local Ray, not a stand-in (issue 25).

Through the CLI with a built-in trainable, and through ``tuner.run`` with a user's function:
ASHA's rungs really stop trials where the rungs rank like the top, and the rung check really
lets every trial through once the rungs are shown to mislead — on a function whose short runs
favour exactly the settings that lose at the end, where plain ``asha`` keeps stopping them.
"""
from __future__ import annotations

import csv
import sys

import pytest
import ray
from ray import tune

import tuner
from search_spaces import Float, SearchSpace
from tuner.compose.methods import DEFAULT_METHOD

pytestmark = [pytest.mark.ray, pytest.mark.slow]

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers can't import tests

TOP = 9  # budget 1..9, eta 3: rungs at 1 and 3 epochs


def honest(config):
    """Every epoch ranks the settings as the last does."""
    for epoch in range(1, TOP + 1):
        tune.report({"score": config["x"] * epoch / TOP, "epoch": epoch})


def misleading(config):
    """Short runs favour small x; at the top, large x wins (rungs rank it backwards)."""
    for epoch in range(1, TOP + 1):
        tune.report({"score": config["x"] if epoch == TOP else 1 - config["x"],
                     "epoch": epoch})


def experiment(tmp_path, trainable, name, **changes):
    return {"name": name, "trainable": trainable,
            "space": SearchSpace({"x": Float(0.0, 1.0)}), "metric": "score", "mode": "max",
            "num_samples": 27, "budget": {"min": 1, "max": TOP, "eta": 3},
            "max_concurrent": 1, "seed": 0, "storage": str(tmp_path), **changes}


def test_the_default_is_the_checked_rung_method():
    assert DEFAULT_METHOD == "asha-checked-pso-scouts"


def test_the_default_stops_trials_at_rungs_that_rank_like_the_top(ray_session, tmp_path):
    res = tuner.run(experiment(tmp_path, honest, "honest"), quiet=True)
    status = res.trials.status
    assert (status == "stopped early").sum() >= 9  # the rungs cut most of 27 trials
    assert (status == "completed").any()
    stopped = res.trials[status == "stopped early"]
    assert set(stopped.epochs) <= {1, 3}  # stopped at a rung, not in between
    assert res.best_params["x"] > 0.8


def _completed_in_order(res) -> list[bool]:
    rows = res.trials  # creation order
    return list(rows.status == "completed")


def test_the_default_falls_back_when_the_rungs_mislead(ray_session, tmp_path):
    # the rung check needs 3 trials seen at a rung and at the top before it may judge
    checked = tuner.run(experiment(tmp_path, misleading, "checked",
                                   scheduler={"min_pairs": 3}), quiet=True)
    plain = tuner.run(experiment(tmp_path, misleading, "plain", method="asha-pso"),
                      quiet=True)
    assert checked.experiment["scheduler"]["name"] == "asha-checked"
    done_checked, done_plain = _completed_in_order(checked), _completed_in_order(plain)
    # once the rungs are shown to rank backwards, every later trial runs to the top ...
    assert all(done_checked[-9:]), done_checked
    # ... while plain ASHA keeps stopping the trials its rungs misjudge
    assert not all(done_plain[-9:]) and sum(done_checked) > sum(done_plain)
    # and the trials it let through are what find the setting that wins at the top
    assert checked.best.last >= plain.best.last


def test_the_default_through_the_cli_with_a_built_in_trainable(ray_session, tmp_path):
    from tuner.cli import main

    exp = tmp_path / "digits.yaml"
    exp.write_text(
        "name: digits_default\ntrainable: mlp\nconfig: {dataset: digits}\n"
        "space:\n  lr: {type: float, low: 1.0e-3, high: 0.1, log: true}\n"
        "  hidden: {type: int, low: 16, high: 64}\n  batch_size: 64\n"
        "budget: {min: 1, max: 9, eta: 3}\nmetric: val_accuracy\nmode: max\n"
        f"num_samples: 9\nmax_concurrent: 2\nseed: 0\nstorage: {tmp_path / 'out'}\n")
    assert main(["launch", str(exp), "--quiet"]) == 0
    folder = tmp_path / "out" / "digits_default"
    rows = list(csv.DictReader(open(folder / "trials.csv")))
    assert len(rows) == 9
    stopped = [r for r in rows if r["status"] == "stopped early"]
    assert stopped and {int(r["epochs"]) for r in stopped} <= {1, 3}
    assert any(r["status"] == "completed" for r in rows)
    report = (folder / "report.md").read_text()
    assert "pso + asha-checked" in report  # the default's searcher and scheduler ran
    assert tuner.load(folder).experiment["scheduler"]["name"] == "asha-checked"
