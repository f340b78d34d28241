"""Gap-driven regularisation (wd_schedule / dropout_schedule: feedback): the controller against
hand-computed sequences, its wiring into a TrainingRun, exact resume, config validation."""

from __future__ import annotations

import pytest
import torch

from trainables import MLPTrainable, TrainConfig
from trainables.schedules import GapFeedback, set_dropout


def _drive(fb: GapFeedback, losses):
    return [fb.update(train, val) for train, val in losses]


def test_weight_decay_doubles_while_the_gap_widens_and_halves_as_it_closes():
    fb = GapFeedback(0.01, low=0.001, high=0.1, step=2.0, mode="multiply", smoothing=0.5)
    # raw gaps .1 .2 .4 .6 .7 .1 0; smoothed .1 .15 .275 .4375 .56875 .334375 .1671875
    losses = [(1.0, 1.1), (0.8, 1.0), (0.6, 1.0), (0.5, 1.1), (0.5, 1.2), (0.6, 0.7),
              (0.6, 0.6)]
    got = _drive(fb, losses)
    assert got == pytest.approx([0.01, 0.02, 0.04, 0.08, 0.1, 0.05, 0.025])  # 0.16 → max 0.1
    assert fb.gap == pytest.approx(0.1671875)


def test_dropout_steps_with_tolerance_and_bounds():
    fb = GapFeedback(0.1, low=0.0, high=0.3, step=0.1, mode="add", smoothing=0.0,
                     tolerance=0.05)
    gaps = [0.1, 0.2, 0.22, 0.4, 0.6, 0.3, -0.2, -0.5, -0.6]
    got = _drive(fb, [(0.0, g) for g in gaps])
    # first epoch: nothing to compare; +0.02 is within the tolerance: held
    assert got == pytest.approx([0.1, 0.2, 0.2, 0.3, 0.3, 0.2, 0.1, 0.0, 0.0])


def test_a_widening_negative_gap_is_no_overfitting():
    fb = GapFeedback(0.01, low=0.001, high=0.1, step=2.0, smoothing=0.0)
    assert _drive(fb, [(1.0, 0.5), (1.0, 0.8), (1.0, 0.95)]) == [0.01, 0.01, 0.01]
    assert fb.update(1.0, 1.2) == 0.02  # positive and widening: now it rises


def test_start_value_is_clipped_and_nonfinite_losses_hold():
    fb = GapFeedback(0.0, low=1e-4, high=0.1, step=2.0)
    assert fb.value == 1e-4
    assert fb.update(float("nan"), 1.0) == 1e-4 and fb.gap is None


def test_state_round_trip_reclips_into_new_bounds():
    fb = GapFeedback(0.08, low=0.001, high=0.1, step=2.0)
    fb.update(0.5, 0.6)
    other = GapFeedback(0.01, low=0.001, high=0.05, step=2.0)
    other.load_state_dict(fb.state_dict())
    assert other.value == 0.05 and other.gap == fb.gap


# In a TrainingRun -------------------------------------------------------------------------
OVERFIT = {"dataset": "digits", "hidden": 64, "lr": 0.01, "optimizer": "adam",
           "fidelity_schedule": [[100, 0.1]], "batch_size": 16, "seed": 1}


def test_feedback_reaches_the_optimiser_and_the_dropout_modules():
    config = {**OVERFIT, "wd_schedule": "feedback", "weight_decay": 1e-4, "wd_factor": 2.0,
              "dropout_schedule": "feedback", "dropout": 0.0, "dropout_step": 0.1}
    run = MLPTrainable.make_run(config)
    drops = [m for m in run.model.modules() if isinstance(m, torch.nn.Dropout)]
    assert drops and all(m.p == 0.0 for m in drops)  # built with layers, starting at 0
    history = [run.train_one_epoch() for _ in range(6)]
    wds = [m["weight_decay"] for m in history]
    assert wds[0] == 1e-4 and max(wds) > 1e-4  # 10% of digits: the gap widens, wd rises
    fb = run.feedback
    assert run.optimizer.param_groups[0]["weight_decay"] == fb["weight_decay"].value
    assert all(m.p == pytest.approx(fb["dropout"].value) for m in drops)
    for m in history:
        assert m["smoothed_gap"] is not None and "eval_train_loss" in m


def test_constant_strategies_change_nothing():
    run = MLPTrainable.make_run({**OVERFIT, "weight_decay": 1e-3})
    metrics = [run.train_one_epoch() for _ in range(2)]
    assert run.feedback == {} and "weight_decay" not in metrics[-1]
    assert run.optimizer.param_groups[0]["weight_decay"] == 1e-3


def test_feedback_resumes_exactly():
    config = {**OVERFIT, "wd_schedule": "feedback", "dropout_schedule": "feedback",
              "dropout": 0.1, "gap_smoothing": 0.3}
    a = MLPTrainable.make_run(config)
    for _ in range(3):
        a.train_one_epoch()
    state = a.state_dict()
    expected = [a.train_one_epoch() for _ in range(3)]
    b = MLPTrainable.make_run(config)
    b.load_state_dict(state)
    got = [b.train_one_epoch() for _ in range(3)]
    key = ("train_loss", "val_loss", "weight_decay", "dropout", "smoothed_gap")
    assert [[m[k] for k in key] for m in got] == [[m[k] for k in key] for m in expected]


def test_dropout_feedback_needs_dropout_layers():
    import math

    from trainables.config import ConfigError
    from trainables.run import TrainingRun

    def linear(config, data):
        return torch.nn.Sequential(torch.nn.Flatten(),
                                   torch.nn.Linear(math.prod(data.input_shape), data.num_classes))

    assert set_dropout(torch.nn.Linear(2, 2), 0.3) == 0
    TrainingRun({"dataset": "digits"}, linear)  # constant dropout: fine without layers
    with pytest.raises(ConfigError, match="needs a model with dropout layers; Sequential"):
        TrainingRun({"dataset": "digits", "dropout_schedule": "feedback"}, linear)


@pytest.mark.parametrize("bad, match", [
    ({"wd_schedule": "adaptive"}, "wd_schedule must be one of"),
    ({"dropout_schedule": "up"}, "dropout_schedule must be one of"),
    ({"wd_min": 0.0}, "wd_min must be > 0"),
    ({"wd_min": 0.2, "wd_max": 0.1}, "wd_min must be > 0 and <= wd_max"),
    ({"wd_factor": 1.0}, "wd_factor must be > 1"),
    ({"dropout_min": 0.4, "dropout_max": 0.2}, "dropout_min <= dropout_max"),
    ({"dropout_max": 1.0}, "dropout_max < 1"),
    ({"dropout_step": 0}, "dropout_step must be > 0"),
    ({"gap_smoothing": 1.0}, "gap_smoothing must be in"),
    ({"gap_tolerance": -0.1}, "gap_tolerance must be >= 0"),
])
def test_config_validation(bad, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**bad)


def test_a_checkpoint_without_dropout_restores_into_a_run_with_dropout():
    # PBT may resample dropout from 0 to > 0: the MLP gains nn.Dropout layers, its Sequential
    # keys shift (net.3 → net.4), and the exploited weights must still load, by position
    base = {"dataset": "digits", "hidden": 32, "layers": 2, "seed": 0}
    source = MLPTrainable.make_run({**base, "dropout": 0.0})
    source.train_one_epoch()
    target = MLPTrainable.make_run({**base, "dropout": 0.3})
    assert list(source.model.state_dict()) != list(target.model.state_dict())
    target.load_state_dict(source.state_dict())
    for a, b in zip(source.model.state_dict().values(), target.model.state_dict().values()):
        assert torch.equal(a, b)
    assert target.epoch == source.epoch
