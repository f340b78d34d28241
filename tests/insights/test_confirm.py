"""`tuner confirm`: the retrain experiment, grouping by config, and a tiny run on Ray."""
from __future__ import annotations

import json

import pytest

from tuner.followup import confirm
from tuner.experiment.config import parse_experiment
from tuner.errors import ConfigError
from tuner.followup.run_folder import load_run
from tuner.record.results import TrialRecord

EXP = {"name": "tiny", "trainable": "mlp", "config": {"dataset": "digits", "seed": 5},
       "space": {"lr": {"type": "float", "low": 1e-3, "high": 0.1, "log": True},
                 "hidden": {"type": "int", "low": 8, "high": 32}},
       "method": "asha", "budget": {"min": 1, "max": 1},
       "metric": "val_accuracy", "mode": "max", "num_samples": 4, "seed": 0}


def _folder(tmp_path):
    run = tmp_path / "tiny"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps(
        {"experiment": {**EXP, "storage": str(tmp_path)}}))
    (run / "trials.csv").write_text(
        "trial_id,lr,hidden,status,epochs,last_val_accuracy,best_val_accuracy,best_epoch,"
        "retries,node\n"
        "t_1,0.05,16,completed,1,0.90,0.90,2,0,\n"
        "t_2,0.01,8,stopped early,0,0.95,0.95,1,0,\n"   # shorter: ranked after full ones
        "t_3,0.02,24,completed,1,0.93,0.93,2,0,\n"
        "t_4,0.03,12,errored: X,1,,,,0,\n")
    return run


def test_top_configs_rank_longest_trained_first(tmp_path):
    run = _folder(tmp_path)
    # best.json carries the fixed trial settings too; only searched values may reach a point
    (run / "best.json").write_text(json.dumps({"trial_id": "t_3", "config": {
        "lr": 0.0212345678, "hidden": 24, "dataset": "digits", "max_epochs": 1}}))
    table = load_run(run)
    top = confirm.top_configs(table, "val_accuracy", "max", 3)
    assert [t[0] for t in top] == ["t_3", "t_1", "t_2"]
    assert top[0][1] == {"lr": 0.0212345678, "hidden": 24}


def test_confirm_experiment_retrains_each_config_with_each_seed(tmp_path):
    raw = confirm.confirm_experiment(
        {**EXP, "storage": str(tmp_path)}, [{"lr": 0.02, "hidden": 24}, {"lr": 0.05, "hidden": 16}],
        [1, 2, 3], "tiny-confirm")
    exp = parse_experiment(raw)
    assert (exp.searcher, exp.scheduler, exp.num_samples) == ("random", "fifo", 6)
    assert "seed" not in exp.config  # the searched seed must reach the trial
    assert exp.points_to_evaluate[1] == {"lr": 0.02, "hidden": 24, "seed": 2}


def test_summarise_groups_retrains_by_config():
    top = [("t_3", {"lr": 0.02, "hidden": 24}, 0.93), ("t_1", {"lr": 0.05, "hidden": 16}, 0.9)]
    recs = [TrialRecord(f"r{i}", {**cfg, "seed": s}, "completed", 2, [0.5, v])
            for i, (cfg, s, v) in enumerate([(top[0][1], 1, 0.91), (top[0][1], 2, 0.93),
                                             (top[1][1], 1, 0.95), (top[1][1], 2, 0.97)])]
    test = {"r0": {"test_accuracy": 0.9}, "r2": {"test_accuracy": 0.96, "test_loss": 0.1}}
    scores = confirm.summarise(top, recs, test)
    assert scores[0].val == [0.91, 0.93] and scores[0].test == [0.9]
    assert scores[1].val == [0.95, 0.97] and scores[1].test == [0.96]
    md = confirm.confirm_markdown("x", "val_accuracy", scores, [1, 2])
    assert "0.9200 ± 0.0141 (n=2)" in md and "not the first run's pick" in md


def test_bad_counts_are_user_errors(tmp_path):
    with pytest.raises(ConfigError, match="--top"):
        confirm.run_confirm(str(_folder(tmp_path)), top=0)


@pytest.mark.ray
@pytest.mark.slow
def test_confirm_retrains_on_ray(ray_session, tmp_path):
    run = _folder(tmp_path)
    scores = confirm.run_confirm(str(run), top=2, seeds=2, quiet=True)
    assert [s.trial_id for s in scores] == ["t_3", "t_1"]
    for s in scores:
        assert len(s.val) == 2 and len(s.test) == 2
        assert all(0.0 <= v <= 1.0 for v in s.val + s.test)
    out = tmp_path / "tiny-confirm"
    assert "| 1 | t_3 |" in (out / "confirm.md").read_text()
    assert len(json.loads((out / "confirm.json").read_text())) == 2
