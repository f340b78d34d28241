"""The user's own code end to end on a local Ray, through ``tuner.run``: function trainables
with and without checkpoints under asha / hyperband / pbt, ``Trainable`` classes with and
without ``reset_config``, errors in user code, the evaluate hook, ``tuner.load`` and a rerun
from the manifest."""
from __future__ import annotations

import json
import os
import sys
import tempfile

import pandas as pd
import pytest
import ray
from ray import tune

import tuner
from search_spaces import Float, SearchSpace

pytestmark = [pytest.mark.ray]

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers can't import tests


def quadratic(lr: float, epoch: int) -> float:
    """A learning curve whose final value prefers lr near 0.03 and that rises with epochs."""
    import math

    return (1 - math.exp(-epoch / 3)) * (1 - abs(math.log10(lr) - math.log10(0.03)) / 2)


def train_with_checkpoints(config):
    """What Ray's docs teach: report every epoch with a checkpoint, resume from one."""
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as d:
            with open(os.path.join(d, "state.json")) as f:
                start = json.load(f)["epoch"]
    for epoch in range(start + 1, config["max_epochs"] + 1):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "state.json"), "w") as f:
                json.dump({"epoch": epoch, "lr": config["lr"]}, f)
            tune.report({"val_accuracy": quadratic(config["lr"], epoch), "epoch": epoch},
                        checkpoint=tune.Checkpoint.from_directory(d))


def train_without_checkpoints(config):
    for epoch in range(1, config["max_epochs"] + 1):
        print(f"epoch {epoch} of lr {config['lr']:.4f}")
        tune.report({"val_accuracy": quadratic(config["lr"], epoch), "epoch": epoch})


def train_raising(config):
    print("about to fail" if config["lr"] > 0.01 else "fine")
    if config["lr"] > 0.01:
        raise ValueError(f"lr too large for this model: {config['lr']:.3f}")
    train_without_checkpoints(config)


def train_metric_typo(config):
    tune.report({"val_acc": 0.5, "epoch": 1})


def evaluate_hook(config, checkpoint):
    with checkpoint.as_directory() as d:
        with open(os.path.join(d, "state.json")) as f:
            state = json.load(f)
    return {"test_accuracy": quadratic(state["lr"], state["epoch"]) - 0.01}


class CountingTrainable(tune.Trainable):
    """A user's class: step = one epoch; saves and restores its epoch counter."""

    def setup(self, config):
        self.lr, self.epoch = config["lr"], 0

    def step(self):
        self.epoch += 1
        return {"val_accuracy": quadratic(self.lr, self.epoch), "epoch": self.epoch}

    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "e.json"), "w") as f:
            json.dump({"epoch": self.epoch}, f)

    def load_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "e.json")) as f:
            self.epoch = json.load(f)["epoch"]


class CountingWithReset(CountingTrainable):
    def reset_config(self, new_config):
        self.setup(new_config)
        return True


SPACE = SearchSpace({"lr": Float(1e-3, 0.3, log=True)})


def experiment(tmp_path, trainable, **changes):
    return {"trainable": trainable, "space": SPACE, "metric": "val_accuracy", "mode": "max",
            "num_samples": 6, "budget": {"min": 1, "max": 9, "eta": 3}, "searcher": "random",
            "scheduler": "asha", "storage": str(tmp_path), "max_failures": 0, **changes}


def epochs_per_trial(results) -> dict[str, list[int]]:
    curves = results.curves
    rows = curves[curves.metric == "epoch"].sort_values(["trial_id", "epoch"])
    return {t: [int(v) for v in g.value] for t, g in rows.groupby("trial_id")}


@pytest.fixture(scope="module")
def asha_run(ray_session, tmp_path_factory):
    """One ASHA run of ``train_with_checkpoints`` with the evaluate hook, shared by the tests
    that check different things of it (ASHA's decisions, best.json, ``tuner.load``)."""
    return tuner.run(experiment(tmp_path_factory.mktemp("asha"), train_with_checkpoints,
                                evaluate=evaluate_hook, name="fn-asha"), quiet=True)


@pytest.mark.parametrize("scheduler", ["asha", "hyperband", "pbt"])
def test_function_trainable_under_each_scheduler(ray_session, tmp_path, scheduler, request):
    if scheduler == "asha":  # the shared run: the same experiment, plus the evaluate hook
        res = request.getfixturevalue("asha_run")
    else:
        res = tuner.run(experiment(tmp_path, train_with_checkpoints, scheduler=scheduler,
                                   name=f"fn-{scheduler}"), quiet=True)
    assert len(res.trials) == 6 and not res.interrupted
    assert set(res.trials.status) <= {"completed", "stopped early"}
    if scheduler != "pbt":
        assert (res.trials.status == "stopped early").any()  # the scheduler really stopped some
    assert (res.trials.status == "completed").any()
    # paused (hyperband) trials continue from their own checkpoint: every trial's epoch
    # counter runs 1, 2, 3, … without starting over; an exploited (pbt) trial continues from
    # its donor's checkpoint, so its counter may jump ahead but never goes back
    for epochs in epochs_per_trial(res).values():
        if scheduler == "pbt":
            assert epochs[0] == 1 and all(b > a for a, b in zip(epochs, epochs[1:]))
        else:
            assert epochs == list(range(1, len(epochs) + 1))
    assert res.best_checkpoint is not None


def test_function_without_checkpoints_under_asha(ray_session, tmp_path):
    res = tuner.run(experiment(tmp_path, train_without_checkpoints, name="nockpt"),
                    quiet=True)
    assert (res.trials.status == "stopped early").any() and res.best is not None
    assert res.best_checkpoint is None and res.test == {}
    report = open(os.path.join(res.path, "report.md")).read()
    assert "No test score was taken" in report
    log = os.path.join(res.path, f"train_without_checkpoints_{res.best.trial_id}", "output.log")
    assert "epoch 1 of lr" in open(log).read()  # the user's prints are kept per trial


def test_evaluate_hook_fills_best_json(asha_run):
    res = asha_run
    best = json.load(open(os.path.join(res.path, "best.json")))
    assert best["test"]["test_accuracy"] == pytest.approx(res.best.last - 0.01)
    assert best["config"]["max_epochs"] == 9 and "lr" in best["params"]
    assert os.path.isdir(best["checkpoint"])
    assert res.test == best["test"]


def test_errors_in_user_code_mark_the_trial_and_the_run_goes_on(ray_session, tmp_path):
    res = tuner.run(experiment(tmp_path, train_raising, name="raising"), quiet=True)
    errored = res.trials[res.trials.status.str.startswith("errored")]
    fine = res.trials[~res.trials.status.str.startswith("errored")]
    assert len(errored) and len(fine)  # both kinds happened, the run finished
    assert all(s.startswith("errored: ValueError: lr too large for this model")
               for s in errored.status)
    report = open(os.path.join(res.path, "report.md")).read()
    assert "about to fail" in report  # what the trial printed before it failed


def test_a_metric_never_reported_is_one_line_and_leaves_nothing(ray_session, tmp_path):
    exp = experiment(tmp_path, train_metric_typo, name="typo")
    with pytest.raises(tuner.ConfigError, match="never reported 'val_accuracy'; it reported "
                                                "val_acc, epoch"):
        tuner.run(exp, quiet=True)
    assert not os.path.exists(tmp_path / "typo")  # a fixed rerun is not refused


@pytest.mark.parametrize("cls", [CountingTrainable, CountingWithReset])
def test_trainable_classes_with_and_without_reset_config(ray_session, tmp_path, cls):
    res = tuner.run(experiment(tmp_path, cls, name=cls.__name__, num_samples=5,
                               scheduler="hyperband"), quiet=True)
    assert len(res.trials) == 5 and not res.interrupted
    assert res.best.last == pytest.approx(res.trials["last_val_accuracy"].max())


def test_load_gives_the_same_results(asha_run, monkeypatch):
    res = asha_run
    monkeypatch.chdir(os.path.dirname(res.path))  # a path relative to where the user is,
    again = tuner.load(os.path.basename(res.path))  # as the README shows it
    assert again.path == res.path
    pd.testing.assert_frame_equal(res.trials, again.trials)
    assert again.best_params == res.best_params and not again.interrupted
    assert set(again.curves.metric) >= {"val_accuracy", "epoch"}


def test_rerun_from_manifest_reproduces_trials(ray_session, tmp_path):
    """Same seed, one trial at a time: the rerun proposes and decides the same."""
    first = tuner.run(experiment(tmp_path, train_with_checkpoints, name="orig",
                                 max_concurrent=1, searcher="pso"), quiet=True)
    manifest = json.load(open(os.path.join(first.path, "manifest.json")))
    assert manifest["experiment"]["trainable"].endswith(":train_with_checkpoints")
    assert manifest["environment"]["packages"]["ray"] and manifest["seeds"]["searcher"] == 0
    rerun = tuner.run(os.path.join(first.path, "manifest.json"), quiet=True)
    assert rerun.path.endswith("orig-rerun")
    cols = [c for c in first.trials.columns if c not in ("trial_id", "node")]
    pd.testing.assert_frame_equal(first.trials[cols], rerun.trials[cols])


def test_the_winner_ready_to_use_from_best_json(ray_session, tmp_path):
    """Our trainable: best.json alone rescores the winner; best_model() is the trained net."""
    import torch

    import trainables

    res = tuner.run({"trainable": "mlp", "config": {"dataset": "digits"},
                     "space": {"lr": {"type": "float", "low": 0.005, "high": 0.02, "log": True},
                               "hidden": 64},
                     "metric": "val_accuracy", "mode": "max", "num_samples": 2,
                     "budget": {"min": 1, "max": 3, "eta": 3}, "searcher": "random",
                     "scheduler": "fifo", "storage": str(tmp_path), "name": "ready"},
                    quiet=True)
    again = trainables.evaluate_checkpoint(os.path.join(res.path, "best.json"))
    assert again["test_accuracy"] == pytest.approx(res.test["test_accuracy"])
    assert res.test["test_accuracy"] > 0.8  # it learned: chance is 0.1
    model = res.best_model()
    data = trainables.load_dataset("digits", seed=0)
    x, y = data.split("test")
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    assert accuracy == pytest.approx(res.test["test_accuracy"], abs=1e-6)
