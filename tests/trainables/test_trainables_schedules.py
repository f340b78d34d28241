"""LR strategies against hand-computed values; hypergradient direction on a toy quadratic."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from trainables import MLPTrainable, TrainConfig
from trainables.hypergradient import HypergradientOptimizer
from trainables.schedules import build_optimizer, build_scheduler, step_scheduler


def _lrs(schedule, epochs, val_losses=None, **kw):
    """lr used in each epoch when the scheduler is stepped once per epoch."""
    opt = build_optimizer([torch.nn.Parameter(torch.zeros(1))], optimizer="sgd", lr=0.1)
    sched = build_scheduler(opt, lr_schedule=schedule, **kw)
    out = []
    for e in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        step_scheduler(sched, val_losses[e] if val_losses else 0.0)
    return out


@pytest.mark.parametrize(
    "schedule, kw, expected",
    [
        ("constant", {}, [0.1, 0.1, 0.1, 0.1]),
        ("step", {"step_size": 2, "gamma": 0.5}, [0.1, 0.1, 0.05, 0.05]),
        ("exponential", {"gamma": 0.5}, [0.1, 0.05, 0.025, 0.0125]),
        (
            "cosine",
            {"warmup_epochs": 2, "max_epochs": 6},
            [
                0.1 / 3,
                0.2 / 3,
                0.1,
                0.05 * (1 + math.cos(math.pi / 4)),
                0.05,
                0.05 * (1 + math.cos(3 * math.pi / 4)),
            ],
        ),
        (
            "cosine",
            {"max_epochs": 4},
            [0.1, 0.05 * (1 + math.cos(math.pi / 4)), 0.05, 0.05 * (1 + math.cos(3 * math.pi / 4))],
        ),
    ],
)
def test_schedule_matches_hand_computed(schedule, kw, expected):
    assert _lrs(schedule, len(expected), **kw) == pytest.approx(expected)


def test_plateau_cuts_after_patience_epochs_without_gain():
    # best 0.9 at epoch 2; epochs 3, 4 are worse -> 2 bad epochs > patience 1 -> cut after epoch 4
    losses = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98]
    got = _lrs("plateau", 6, losses, plateau_patience=1, plateau_factor=0.5)
    assert got == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.05])


def test_trainable_reports_the_lr_of_each_epoch():
    run = MLPTrainable.make_run(
        {"lr": 0.2, "lr_schedule": "step", "step_size": 1, "gamma": 0.1, "hidden": 8}
    )
    assert [run.train_one_epoch()["lr"] for _ in range(3)] == pytest.approx([0.2, 0.02, 0.002])


def _quadratic_lrs(optimizer, lr, beta, steps=5):
    theta = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = build_optimizer(
        [theta],
        optimizer=optimizer,
        lr=lr,
        momentum=0.0,
        lr_schedule="hypergradient",
        hypergrad_beta=beta,
    )
    assert isinstance(opt, HypergradientOptimizer)
    lrs = []
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * theta.pow(2).sum()).backward()
        opt.step()
        lrs.append(opt.param_groups[0]["lr"])
    return theta, lrs


def test_sgd_hd_first_steps_by_hand():
    # f = 0.5 |theta|^2, g = theta. Step 1: no previous direction, lr stays 0.1,
    # theta1 = 0.9 * theta0. Step 2: h = g1 . g0 = 0.9 * |theta0|^2 = 4.5 -> lr = 0.1 + 0.01 * 4.5.
    theta, lrs = _quadratic_lrs("sgd", lr=0.1, beta=0.01, steps=2)
    assert lrs == pytest.approx([0.1, 0.145])
    assert theta.detach().tolist() == pytest.approx([0.9 * (1 - 0.145), -1.8 * (1 - 0.145)])


@pytest.mark.parametrize("optimizer, beta", [("sgd", 1e-3), ("adam", 1e-4), ("adamw", 1e-4)])
def test_hd_raises_lr_when_steps_agree(optimizer, beta):
    _, lrs = _quadratic_lrs(optimizer, lr=0.01, beta=beta)
    assert all(b > a for a, b in itertools.pairwise(lrs[1:]))


def test_sgd_hd_lowers_lr_when_steps_oscillate():
    # lr = 1.9 on f = 0.5 theta^2 overshoots every step: consecutive gradients point opposite ways.
    _, lrs = _quadratic_lrs("sgd", lr=1.9, beta=0.01)
    assert lrs[1] < 1.9 and all(b < a for a, b in itertools.pairwise(lrs[1:]))


def test_hd_default_beta_follows_the_paper():
    p = [torch.nn.Parameter(torch.zeros(1))]
    assert build_optimizer(p, optimizer="sgd", lr_schedule="hypergradient").beta == 1e-3
    assert build_optimizer(p, optimizer="adam", lr_schedule="hypergradient").beta == 1e-7


def test_hypergradient_run_changes_lr_and_checkpoints_exactly():
    config = {"optimizer": "sgd", "lr": 0.01, "lr_schedule": "hypergradient", "hidden": 16}
    a = MLPTrainable.make_run(config)
    first = a.train_one_epoch()
    assert first["lr"] != 0.01
    state = a.state_dict()
    expected = a.train_one_epoch()
    b = MLPTrainable.make_run(config)
    b.load_state_dict(state)
    got = b.train_one_epoch()
    assert (got["lr"], got["train_loss"], got["val_loss"]) == (
        expected["lr"],
        expected["train_loss"],
        expected["val_loss"],
    )


@pytest.mark.parametrize(
    "schedule", ["constant", "step", "exponential", "cosine", "plateau", "hypergradient"]
)
@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_every_schedule_resumes_exactly(schedule, optimizer):
    config = {
        "optimizer": optimizer,
        "nesterov": True,
        "lr": 0.02,
        "lr_schedule": schedule,
        "hidden": 16,
        "step_size": 1,
        "warmup_epochs": 1,
        "max_epochs": 5,
        "plateau_patience": 0,
    }
    a = MLPTrainable.make_run(config)
    a.train_one_epoch(), a.train_one_epoch()
    state = a.state_dict()
    expected = [a.train_one_epoch() for _ in range(2)]
    b = MLPTrainable.make_run(config)
    b.load_state_dict(state)
    got = [b.train_one_epoch() for _ in range(2)]
    key = lambda ms: [(m["lr"], m["train_loss"], m["val_loss"]) for m in ms]
    assert key(got) == key(expected)


def test_unknown_schedule_and_optimizer_are_rejected_with_valid_names():
    with pytest.raises(ValueError, match="lr_schedule must be one of .*cosine"):
        TrainConfig(lr_schedule="onecycle")
    with pytest.raises(ValueError, match="optimizer must be one of .*adamw"):
        TrainConfig(optimizer="lion")


@pytest.mark.parametrize("schedule", ["constant", "step", "cosine", "hypergradient"])
def test_mutated_hyperparameters_win_over_the_checkpoint(schedule):
    # PBT exploit: a trial loads another trial's checkpoint under a mutated config.
    base = {"optimizer": "sgd", "lr_schedule": schedule, "step_size": 1, "hidden": 8}
    base |= {"max_epochs": 6, "warmup_epochs": 1}
    donor = MLPTrainable.make_run({**base, "lr": 0.01, "weight_decay": 0.0, "momentum": 0.9})
    donor.train_one_epoch(), donor.train_one_epoch()
    donor_lr = donor.lr
    clone = MLPTrainable.make_run({**base, "lr": 0.02, "weight_decay": 1e-3, "momentum": 0.5})
    clone.load_state_dict(donor.state_dict())
    assert clone.lr == pytest.approx(2 * donor_lr)  # schedule progress kept, base lr doubled
    group = clone.optimizer.param_groups[0]
    assert (group["weight_decay"], group["momentum"]) == (1e-3, 0.5)
    assert clone.train_one_epoch()["epoch"] == 3
