"""trainables.lightning: a LightningModule + LightningDataModule tuned through Ray Tune.

In-process tests (no Ray) check the callback's contract: one report per epoch with every metric
of that epoch, and a resume from its checkpoint that equals an uninterrupted run exactly. Ray
tests drive the example's ``train`` under ASHA (stops trials, learns) and HyperBand (pauses
and resumes trials: the epoch counter must continue). Lightning is an optional extra (the
``test`` extra installs it): without it only the missing-extra test runs, and in CI (``CI``
set) the others fail.
"""

from __future__ import annotations

import importlib
import math
import os
import shutil
import sys
from pathlib import Path

import pytest

import trainables
from tests.optional import require

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"lr": 0.01, "hidden": 64, "depth": 1, "dropout": 0.2, "batch_size": 64, "seed": 3}


@pytest.fixture(scope="module")
def digits():
    """The example module (its LightningModule, DataModule, train and evaluate)."""
    # the `test` extra installs lightning: a run without it skips, CI fails
    require("lightning", 'the [lightning] extra: pip install -e ".[lightning]"')
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # Ray's workers get the driver's cwd (the repo root)
    return importlib.import_module("examples.lightning_digits")


def _fit(digits, config, checkpoint=None, keep=None):
    """Run one trial in-process; returns its reports; copies each checkpoint into ``keep``."""
    from trainables.lightning import _fit as fit

    reports = []

    def report(metrics, directory):
        reports.append(metrics)
        if keep is not None:
            shutil.copytree(directory, keep / f"epoch{metrics['epoch']}")

    fit(digits.DigitsMLP, digits.DigitsData, dict(config), {}, report, checkpoint)
    return reports


def test_reports_every_epoch_and_resumes_exactly(digits, tmp_path):
    config = {**GOOD, "max_epochs": 4}
    full = _fit(digits, config, keep=tmp_path)
    assert [r["epoch"] for r in full] == [1, 2, 3, 4]
    # every metric of the epoch, this epoch's training metrics included (not the previous one's)
    assert {"train_loss", "train_accuracy", "val_loss", "val_accuracy"} <= set(full[0])
    assert full[0]["train_loss"] != full[1]["train_loss"]
    assert all(isinstance(v, (int, float)) for r in full for v in r.values())
    resumed = _fit(digits, config, checkpoint=tmp_path / "epoch2")
    assert [r["epoch"] for r in resumed] == [3, 4]  # continues, does not start over
    assert resumed == full[2:]  # same shuffling, dropout and optimiser state: identical
    assert full[-1]["val_accuracy"] > 0.8


def test_plateau_step_taken_after_the_checkpoint_is_replayed_on_resume(digits, tmp_path,
                                                                      monkeypatch):
    import torch

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=self.lr)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0,
                                                             threshold=10.0)  # cuts every epoch
        return {"optimizer": opt, "lr_scheduler": {"scheduler": plateau, "monitor": "val_loss"}}

    def on_train_epoch_end(self):
        self.log("lr", self.optimizers().param_groups[0]["lr"])

    monkeypatch.setattr(digits.DigitsMLP, "configure_optimizers", configure_optimizers)
    monkeypatch.setattr(digits.DigitsMLP, "on_train_epoch_end", on_train_epoch_end,
                        raising=False)
    config = {**GOOD, "max_epochs": 3}
    full = _fit(digits, config, keep=tmp_path)
    assert [r["lr"] for r in full] == pytest.approx([0.01, 0.005, 0.0025])
    resumed = _fit(digits, config, checkpoint=tmp_path / "epoch1")
    assert resumed == full[1:]


def test_a_mutated_learning_rate_wins_over_the_restored_one(digits, tmp_path, monkeypatch):
    """PBT restores a donor's checkpoint under a new config: the example's module applies
    the config's lr to the restored optimizer (its ``on_load_checkpoint``)."""

    def on_train_epoch_end(self):
        self.log("lr", self.optimizers().param_groups[0]["lr"])

    monkeypatch.setattr(digits.DigitsMLP, "on_train_epoch_end", on_train_epoch_end,
                        raising=False)
    _fit(digits, {**GOOD, "max_epochs": 1}, keep=tmp_path)
    resumed = _fit(digits, {**GOOD, "lr": 0.001, "max_epochs": 2}, checkpoint=tmp_path / "epoch1")
    assert [(r["epoch"], r["lr"]) for r in resumed] == [(2, pytest.approx(0.001))]


def test_evaluate_scores_the_checkpoint_on_the_test_split(digits, tmp_path):
    config = {**GOOD, "max_epochs": 3}
    _fit(digits, config, keep=tmp_path)
    scores = digits.evaluate(config, tmp_path / "epoch3")
    assert set(scores) == {"test_loss", "test_accuracy"}
    assert scores["test_accuracy"] > 0.8 and math.isfinite(scores["test_loss"])
    untrained = digits.evaluate(config, tmp_path / "epoch1")
    assert untrained["test_loss"] > scores["test_loss"]  # the weights come from the file


def test_data_fraction_ladder_rebuilds_the_training_loader(digits, monkeypatch):
    sizes = []
    original = digits.DigitsData.train_dataloader

    def recording(self):
        loader = original(self)
        sizes.append(len(loader.dataset))
        return loader

    monkeypatch.setattr(digits.DigitsData, "train_dataloader", recording)
    schedule = [[1, 0.25], [2, 0.5], [3, 1.0]]
    _fit(digits, {**GOOD, "max_epochs": 3, "fidelity_schedule": schedule})
    full = len(digits.digits_splits(GOOD["seed"]).y_train)
    assert sizes == [math.ceil(0.25 * full), math.ceil(0.5 * full), full]


def test_factory_refuses_keys_it_owns_and_configs_without_max_epochs(digits):
    from trainables.lightning import lightning_trainable

    with pytest.raises(ValueError, match="max_epochs"):
        lightning_trainable(digits.DigitsMLP, digits.DigitsData, max_epochs=3)
    with pytest.raises(ValueError, match="check_val_every_n_epoch"):
        lightning_trainable(digits.DigitsMLP, digits.DigitsData, check_val_every_n_epoch=2)
    with pytest.raises(ValueError, match="needs max_epochs"):
        _fit(digits, GOOD)


def test_without_lightning_import_works_and_the_factory_says_how_to_install(monkeypatch):
    for name in ("lightning", "lightning.pytorch", "lightning.pytorch.callbacks"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import lightning...` fail
    # fresh imports of both modules; monkeypatch puts the real ones (or none) back afterwards
    name = "trainables.lightning"
    monkeypatch.setitem(sys.modules, name, sys.modules.get(name))
    monkeypatch.delitem(sys.modules, name)
    monkeypatch.delitem(sys.modules, "trainables")
    fresh = importlib.import_module("trainables")
    module = importlib.import_module("trainables.lightning")
    assert fresh.TrainConfig is trainables.TrainConfig and module.pl is None
    for factory in (module.lightning_trainable, module.lightning_evaluate):
        with pytest.raises(ImportError) as info:
            factory(object, object)
        assert str(info.value) == module.INSTALL_HINT
        assert 'pip install -e ".[lightning]"' in str(info.value)
    with pytest.raises(ImportError, match="lightning"):
        module.TuneEpochCallback()
    # `tuner launch` imports the example for `trainable:` and reports that line, exit code 2
    from tuner.errors import ConfigError
    from tuner.experiment.user_code import load_callable

    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setitem(sys.modules, "examples.lightning_digits", None)
    monkeypatch.delitem(sys.modules, "examples.lightning_digits")
    with pytest.raises(ConfigError) as info:
        load_callable("examples.lightning_digits:train", "trainable")
    assert module.INSTALL_HINT in str(info.value) and "\n" not in str(info.value)


# --- through Ray Tune -----------------------------------------------------------------------


def _tune(digits, tmp_path, scheduler, param_space, max_concurrent, cpus=1):
    from ray import tune

    tuner = tune.Tuner(
        tune.with_resources(digits.train, {"cpu": cpus}),
        param_space={**GOOD, **param_space},
        tune_config=tune.TuneConfig(scheduler=scheduler, reuse_actors=True,
                                    max_concurrent_trials=max_concurrent),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0,
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=2)),
    )
    grid = tuner.fit()
    assert not grid.errors, grid.errors
    return grid


def _history(result):
    """Every report of a trial. Not ``result.metrics_dataframe``: it reads result.json, which
    Ray rewrites when it restores a paused trial; progress.csv keeps the reports before."""
    import pandas as pd

    return pd.read_csv(Path(result.path) / "progress.csv")


@pytest.mark.ray
@pytest.mark.slow
def test_asha_on_ray_reports_each_epoch_checkpoints_and_stops_the_poor(digits, ray_session,
                                                                      tmp_path):
    from ray import tune

    from tuner.budget import BudgetLadder
    from tuner.schedulers import make_scheduler

    ladder = BudgetLadder(1, 3, 3)  # rungs at 1 and 3 epochs
    asha = make_scheduler("asha", ladder, metric="val_accuracy", mode="max", seed=0)
    # two learning rates that learn, three too small to move in a few epochs
    lrs = tune.grid_search([0.02, 0.01, 1e-6, 2e-6, 3e-6])
    grid = _tune(digits, tmp_path, asha, {"lr": lrs, "max_epochs": ladder.max}, 2)
    histories = [_history(r) for r in grid]
    for h in histories:  # one report per epoch: the scheduler's iterations are epochs
        assert list(h["epoch"]) == list(h["training_iteration"]) == list(range(1, len(h) + 1))
        assert h["val_accuracy"].notna().all()
    for result in grid:
        with result.checkpoint.as_directory() as directory:
            assert os.path.getsize(os.path.join(directory, "lightning.ckpt")) > 0
    reached = sorted(len(h) for h in histories)
    assert reached[0] == 1 and reached[-1] == ladder.max  # ASHA stopped some, not all
    best = grid.get_best_result(metric="val_accuracy", mode="max", scope="all")
    assert best.config["lr"] >= 0.01
    assert max(h["val_accuracy"].max() for h in histories) > 0.8


@pytest.mark.ray
@pytest.mark.slow
def test_hyperband_pauses_and_the_resumed_trial_continues_its_epochs(digits, ray_session,
                                                                     tmp_path):
    from ray import tune

    from tuner.budget import BudgetLadder
    from tuner.schedulers import concurrency_hint, make_scheduler

    ladder = BudgetLadder(1, 3, 3)
    hyperband = make_scheduler("hyperband", ladder, metric="val_accuracy", mode="max", seed=0)
    lrs = tune.grid_search([0.02, 1e-6, 2e-6])  # one bracket: 3 trials at 1 epoch, 1 goes on
    # one trial at a time (2 CPUs each), in order: the best one, first, must wait for the others
    grid = _tune(digits, tmp_path, hyperband, {"lr": lrs, "max_epochs": ladder.max},
                 concurrency_hint("hyperband", ladder, slots=1), cpus=2)
    histories = {r.config["lr"]: _history(r) for r in grid}
    winner = histories[0.02]
    # paused after epoch 1, restored from its checkpoint, then trained epochs 2 and 3
    assert list(winner["epoch"]) == list(winner["training_iteration"]) == [1, 2, 3]
    assert list(winner["iterations_since_restore"]) != [1, 2, 3]  # it was restored
    assert winner["val_accuracy"].iloc[-1] > winner["val_accuracy"].iloc[0]
    assert sorted(len(h) for h in histories.values()) == [1, 1, 3]


@pytest.mark.ray
@pytest.mark.slow
def test_tuner_run_on_the_example_yaml_scores_the_winner_on_the_test_split(digits, ray_session,
                                                                           tmp_path):
    import json

    import tuner

    res = tuner.run(str(ROOT / "examples" / "lightning_digits.yaml"), name="lightning_e2e",
                    num_samples=4, storage=str(tmp_path), set=["budget.max=3"], quiet=True)
    assert len(res.trials) == 4 and not res.interrupted
    assert set(res.trials.status) <= {"completed", "stopped early"}
    best = json.loads((Path(res.path) / "best.json").read_text())
    assert best["test"] == res.test and set(res.test) == {"test_loss", "test_accuracy"}
    assert res.test["test_accuracy"] > 0.5  # chance is 0.1
    assert res.best_checkpoint is not None and res.best_config["max_epochs"] == 3
