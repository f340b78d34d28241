"""Contract every trainable passes: one shared class, each model overrides one fixture."""

from __future__ import annotations

import math

import pytest
import torch
from ray.tune.trainable import trainable as ray_trainable_module

from trainables import (
    TRAINABLES,
    CNNTrainable,
    MLPTrainable,
    ResNetTrainable,
    TransformerTrainable,
    evaluate_checkpoint,
    get_trainable,
    make_trainable,
)
from trainables.run import METRICS

TIMING = {"epoch_seconds", "samples_per_s", "peak_memory_mb", "latency_ms"}


class TrainableContract:
    @pytest.fixture
    def trainable_cls(self):
        raise NotImplementedError

    @pytest.fixture
    def model_config(self):
        return {}

    @pytest.fixture
    def make(self, trainable_cls, model_config, tmp_path, monkeypatch):
        # A bare Trainable writes a log dir under ~/ray_results; keep it in tmp_path.
        monkeypatch.setattr(ray_trainable_module, "DEFAULT_STORAGE_PATH", str(tmp_path / "logs"))
        made = []

        def make(**overrides):
            t = trainable_cls(config={"batch_size": 128, **model_config, **overrides})
            made.append(t)
            return t

        yield make
        for t in made:
            t.stop()

    def test_one_epoch_reports_every_metric(self, make):
        t = make()
        m = t.step()  # its speed is a benchmark's business (trainables/bench.py), not a test's
        assert m["epoch_seconds"] > 0 and m["samples_per_s"] > 0
        assert set(METRICS) <= m.keys()
        assert all(isinstance(m[k], (int, float)) and math.isfinite(m[k]) for k in METRICS)
        assert m["epoch"] == 1 and m["data_fraction"] == 1.0 and "done" not in m
        assert m["params"] == sum(p.numel() for p in t.run.model.parameters())
        assert m["latency_ms"] > 0
        assert 0.0 <= m["val_accuracy"] <= 1.0

    def test_learns_digits_well_above_chance(self, make):
        # digits has 10 balanced classes: chance is 0.1. Measured (seeds 0-2, lr 0.01, 4
        # epochs): every model here reached val accuracy 0.73-0.98 with its train loss falling
        # every epoch; a model that does not train stays near 0.1 with a flat loss.
        t = make(seed=0, lr=0.01)
        ms = [t.step() for _ in range(4)]
        losses = [m["train_loss"] for m in ms]
        assert all(later < earlier for earlier, later in zip(losses, losses[1:])), losses
        assert losses[-1] < 0.6 * losses[0], losses
        assert ms[-1]["val_accuracy"] >= 0.6, [m["val_accuracy"] for m in ms]

    def test_checkpoint_round_trip_continues_exactly(self, make, tmp_path):
        config = {
            "dropout": 0.2,
            "optimizer": "sgd",
            "lr": 0.05,
            "lr_schedule": "step",
            "step_size": 1,
        }
        a = make(**config)
        a.step(), a.step()
        a.save_checkpoint(str(tmp_path))
        expected = a.step()
        b = make(**config)
        b.load_checkpoint(str(tmp_path))
        got = b.step()
        assert {k: v for k, v in got.items() if k not in TIMING} == {
            k: v for k, v in expected.items() if k not in TIMING
        }
        for pa, pb in zip(a.run.model.parameters(), b.run.model.parameters()):
            assert torch.equal(pa, pb)

    def test_reset_config_rebuilds_and_returns_true(self, make, model_config):
        t = make(seed=0)
        t.step(), t.step()
        assert t.reset_config({"batch_size": 128, **model_config, "seed": 1, "lr": 0.01}) is True
        after_reset = t.step()
        fresh = make(seed=1, lr=0.01).step()
        assert after_reset["epoch"] == 1 and after_reset["lr"] == 0.01
        assert after_reset["val_loss"] == fresh["val_loss"]

    def test_nonfinite_loss_ends_trial_with_error(self, make):
        # lr=1e30: BatchNorm keeps lr=1e6 finite for the conv nets, this diverges for all.
        m = make(lr=1e30, optimizer="sgd").step()
        assert m["done"] is True and m["error"] == "non-finite loss"
        assert math.isnan(m["train_loss"]) and math.isnan(m["val_accuracy"])

    def test_max_epochs_ends_trial(self, make):
        t = make(max_epochs=2)
        assert "done" not in t.step()
        assert t.step()["done"] is True

    def test_unknown_keys_are_ignored(self, make):
        assert make(tuner_budget_key=3, some_searcher_tag="x").step()["epoch"] == 1

    def test_evaluate_checkpoint_scores_test_split(
        self, make, trainable_cls, model_config, tmp_path
    ):
        t = make(seed=3)
        t.step()
        t.save_checkpoint(str(tmp_path))
        config = {"batch_size": 128, **model_config, "seed": 3}
        scores = evaluate_checkpoint(trainable_cls, config, tmp_path)
        assert set(scores) == {"test_loss", "test_accuracy"}
        expected = t.run.evaluate_split("test")
        assert scores["test_loss"] == pytest.approx(expected[0], rel=1e-6)
        assert scores["test_accuracy"] == pytest.approx(expected[1])


class TestMLP(TrainableContract):
    @pytest.fixture
    def trainable_cls(self):
        return MLPTrainable


class TestCNN(TrainableContract):
    @pytest.fixture
    def trainable_cls(self):
        return CNNTrainable

    @pytest.fixture
    def model_config(self):
        return {"channels": 8}


class TestResNet(TrainableContract):
    @pytest.fixture
    def trainable_cls(self):
        return ResNetTrainable

    @pytest.fixture
    def model_config(self):
        return {"channels": 8}


class TestTransformer(TrainableContract):
    @pytest.fixture
    def trainable_cls(self):
        return TransformerTrainable

    @pytest.fixture
    def model_config(self):
        return {"d_model": 32, "heads": 2, "layers": 1}


def _small_net(config, data):
    width = config.get("width", 32)
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(64, width),
        torch.nn.ReLU(),
        torch.nn.Dropout(config.get("dropout", 0.0)),
        torch.nn.Linear(width, data.num_classes),
    )


class TestCustomModel(TrainableContract):
    @pytest.fixture
    def trainable_cls(self):
        return make_trainable(_small_net, name="SmallNetTrainable", width=16)


def test_registry_names_and_unknown_name():
    assert set(TRAINABLES) == {"mlp", "cnn", "resnet", "transformer"}
    assert get_trainable("mlp") is MLPTrainable
    with pytest.raises(KeyError, match="valid: .*'cnn'.*'mlp'"):
        get_trainable("vit")
