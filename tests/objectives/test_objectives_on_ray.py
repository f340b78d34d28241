"""A two-objective run on a real local Ray, end to end: every result file, read back.

The digits MLP (a built-in trainable with a held-out split) trades validation accuracy
against its parameter count under the default for several objectives (random + MO-ASHA).
"""
from __future__ import annotations

import csv
import json

import optuna
import pytest

import tuner
from tuner.followup.confirm import run_confirm
from tuner.followup.refine import load_run, refine_run
from tuner.pareto import dominates

pytestmark = [pytest.mark.ray, pytest.mark.slow]

EXPERIMENT = {"name": "pareto", "trainable": "mlp", "config": {"dataset": "digits"},
              "space": "digits_mlp", "metric": ["val_accuracy", "params"],
              "mode": ["max", "min"], "budget": {"min": 1, "max": 9, "eta": 3},
              "num_samples": 12, "seed": 0}


@pytest.fixture(scope="module")
def run(ray_session, tmp_path_factory):
    storage = tmp_path_factory.mktemp("objectives")
    return tuner.run({**EXPERIMENT, "storage": str(storage)}, quiet=True)


def losses(entry):
    return (-entry["objectives"]["val_accuracy"], entry["objectives"]["params"])


def test_best_json_holds_the_pareto_set_each_scored_on_test(run):
    best = json.loads(open(f"{run.path}/best.json").read())
    assert best["objectives"] == {"val_accuracy": "max", "params": "min"}
    front = best["pareto"]
    top = max(r.epochs for r in run.records)  # exact values (trials.csv rounds to 6 digits)
    full = [(-r.value("val_accuracy"), r.value("params")) for r in run.records
            if r.epochs == top]
    assert front and all(m["epochs"] == top for m in front)
    for m in front:  # nobody at full budget beats a member on both objectives …
        assert not any(dominates(o, losses(m)) for o in full)
        assert 0.5 < m["test"]["test_accuracy"] <= 1 and m["checkpoint"] and m["config"]
    outside = [o for o in full if o not in {losses(m) for m in front}]
    for o in outside:  # … and every trial left out is beaten by a member
        assert any(dominates(losses(m), o) for m in front)
    assert best["trial_id"] == front[0]["trial_id"]  # the lead: best on the first objective
    with open(f"{run.path}/trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12 and all(r["last_params"] for r in rows)  # every objective


def test_report_plot_and_results_pareto(run):
    report = open(f"{run.path}/report.md").read()
    assert "## Pareto front" in report and "![Pareto front](pareto.png)" in report
    assert "## Parameter importance per objective" in report and "params (min)" in report
    assert open(f"{run.path}/pareto.png", "rb").read(4) == b"\x89PNG"
    frame = run.pareto
    best = json.loads(open(f"{run.path}/best.json").read())
    assert list(frame.trial_id) == [m["trial_id"] for m in best["pareto"]]
    assert {"val_accuracy", "params", "test_accuracy", "lr", "hidden"} <= set(frame.columns)
    assert tuner.load(run.path).pareto.equals(frame)  # read back from the folder alone


def test_the_journal_is_a_two_direction_study(run):
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(f"{run.path}/optuna.journal"))
    study = optuna.load_study(study_name="pareto", storage=storage)
    assert study.directions == [optuna.study.StudyDirection.MAXIMIZE,
                                optuna.study.StudyDirection.MINIMIZE]
    assert study.metric_names == ["val_accuracy", "params"]
    front = {t.user_attrs["ray_trial_id"] for t in study.best_trials}
    assert front == set(run.pareto.trial_id)  # Optuna's Pareto front is ours


def test_refine_narrows_around_the_front_and_confirm_retrains_it(run, tmp_path):
    nxt, ref = refine_run(load_run(run.path))
    assert "ranked by Pareto front" in ref.notes[0]
    assert nxt["metric"] == ["val_accuracy", "params"] and nxt["points_to_evaluate"]
    scores = run_confirm(run.path, seeds=1, name="pareto-confirm", quiet=True)
    assert [s.trial_id for s in scores] == list(run.pareto.trial_id)
    assert all(s.val and s.others["params"] for s in scores)
    for s, params in zip(scores, run.pareto.params):  # a size does not change with the seed
        assert s.others["params"] == [params]


def test_an_objective_the_trainable_never_reports_is_named(ray_session, tmp_path):
    bad = {**EXPERIMENT, "metric": ["val_accuracy", "flops"], "num_samples": 1,
           "storage": str(tmp_path)}
    with pytest.raises(Exception, match="never reported 'flops'"):
        tuner.run(bad, quiet=True)
