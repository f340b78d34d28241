"""A real ``tuner launch`` run on a local Ray mirrors every trial into ``optuna.journal``, and
the study agrees with ``trials.csv``'s records: one Optuna trial per Ray trial, states from the
statuses, parameters from the configs, every epoch's value as an intermediate value."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from tuner.experiment.config import parse_experiment
from tuner.view.mirror import JOURNAL
from tuner.launch.runner import run

pytestmark = [pytest.mark.ray, pytest.mark.slow]

STATE = {"completed": TrialState.COMPLETE, "stopped early": TrialState.PRUNED}


def test_run_is_mirrored_into_an_optuna_study(ray_session, tmp_path):
    exp = parse_experiment({
        "name": "mirrored",
        "trainable": "mlp",
        "config": {"dataset": "digits"},
        "space": {
            # 1e6 makes SGD diverge: one trial ends "errored: non-finite loss" → FAIL
            "lr": {"type": "categorical", "choices": [0.003, 0.03, 1.0e6]},
            "hidden": {"type": "int", "low": 16, "high": 32, "log": True},
            "optimizer": "sgd",
            "batch_size": 128,
        },
        "searcher": "random", "scheduler": "asha",
        "budget": {"min": 1, "max": 3, "eta": 3},
        "metric": "val_accuracy", "mode": "max",
        "num_samples": 6, "seed": 1,
        "points_to_evaluate": [{"lr": 1.0e6, "hidden": 16}],
        "storage": str(tmp_path),
    })
    outcome = run(exp, write=lambda line: None)
    study = optuna.load_study(study_name="mirrored", storage=JournalStorage(
        JournalFileBackend(str(tmp_path / "mirrored" / JOURNAL))))
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert study.metric_names == ["val_accuracy"]
    trials = {t.user_attrs["ray_trial_id"]: t for t in study.trials}
    assert sorted(trials) == sorted(r.trial_id for r in outcome.records)
    for record in outcome.records:
        trial = trials[record.trial_id]
        if record.status.startswith("errored"):
            assert trial.state == TrialState.FAIL
        else:
            assert trial.state == STATE[record.status]
            assert trial.value == pytest.approx(record.history[-1])
        assert trial.params == {"lr": record.config["lr"], "hidden": record.config["hidden"]}
        finite = {i + 1: v for i, v in enumerate(record.history) if math.isfinite(v)}
        assert trial.intermediate_values == pytest.approx(finite)
        assert trial.user_attrs["epochs"] == record.epochs
        assert trial.user_attrs["status"] == record.status
        assert trial.user_attrs["node"] and trial.user_attrs["retries"] == 0
    assert any(r.status.startswith("errored") for r in outcome.records)
