"""Several objectives in an experiment: the form we take, and one line for each mistake."""
from __future__ import annotations

from pathlib import Path

import pytest

from tuner.cli import main
from tuner.errors import ConfigError
from tuner.experiment.config import parse_experiment
from tuner.experiment.file_form import experiment_to_raw

PARETO = str(Path(__file__).resolve().parents[2] / "examples" / "digits_mlp_pareto.yaml")
BASE = {"name": "mo", "trainable": "mlp", "config": {"dataset": "digits"},
        "space": "digits_mlp", "metric": ["val_accuracy", "params"], "mode": ["max", "min"],
        "budget": {"min": 1, "max": 9, "eta": 3}, "num_samples": 4}


def parse(**changes):
    return parse_experiment({**BASE, **changes})


def test_metric_and_mode_lists_name_the_objectives_and_the_default_is_mo_asha():
    exp = parse()
    assert exp.several and exp.metric == "val_accuracy" and exp.mode == "max"
    assert exp.search_metric == ["val_accuracy", "params"]
    assert (exp.searcher, exp.scheduler) == ("random", "asha")
    assert parse_experiment(experiment_to_raw(exp)).objectives == exp.objectives  # manifest
    one = parse(metric="val_accuracy", mode="max")
    assert not one.several and one.search_metric == "val_accuracy"


@pytest.mark.parametrize("changes, message", [
    ({"mode": ["max"]}, "2 metrics but 1 modes"),
    ({"mode": "max"}, "mode must be a list of 2"),
    ({"mode": ["max", "down"]}, "expected 'min' or 'max', got 'down'"),
    ({"metric": ["val_accuracy", "val_accuracy"]}, "named twice"),
    ({"objectives": {"val_accuracy": "max"}}, "objectives: not a key.*metric: \\[val_accuracy"),
    ({"method": "pbt"}, "scheduler pbt .*takes one objective.*methods: .*asha"),
    ({"method": "asha-checked-pso-scouts"}, "searcher pso .*takes one objective"),
    ({"searcher": "hyperopt-tpe"}, "searcher hyperopt-tpe takes one objective.*optuna-nsga2"),
    ({"scheduler": "median"}, "scheduler median takes one objective"),
])
def test_mistakes_get_one_line(changes, message):
    with pytest.raises(ConfigError, match=message):
        parse(**changes)


def test_the_cli_refuses_with_exit_2_and_one_line(capsys):
    assert main(["launch", PARETO, "--set", "mode=[max]", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "2 metrics but 1 modes" in err


def test_dry_run_shows_every_objective(capsys, tmp_path):
    assert main(["launch", PARETO, "--dry-run", "--storage", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "val_accuracy (max), params (min)" in out and "Pareto front" in out
