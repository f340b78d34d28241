"""One contract for every registered scheduler, driven by the stub controller (no Ray running):
decisions are from the protocol, no trial trains past ``max``, every trial ends, and the same
seed gives the same decision log while the global RNGs are disturbed."""
from __future__ import annotations

import random

import numpy as np
import pytest

from search_spaces import Categorical, Float, SearchSpace
from tuner.budget import BudgetLadder
from tuner.schedulers import SCHEDULERS, make_scheduler
from tuner.schedulers.controller import StubController, make_trial

LADDER = BudgetLadder(1, 9, 3)
SPACE = SearchSpace({"x": Float(0.0, 1.0), "b": Categorical((16, 32))})
DECISIONS = {"CONTINUE", "PAUSE", "STOP", "NOOP"}


def simulate(name, seed, n=12, disturb=0):
    """Run ``n`` trials one at a time, as the scheduler chooses; the curve is x-driven."""
    random.seed(disturb)
    np.random.seed(disturb)
    sched = make_scheduler(name, LADDER, metric="loss", mode="min", seed=seed, space=SPACE)
    ctl = StubController(sched)
    rng = np.random.default_rng(seed)
    for i in range(n):
        ctl.add(make_trial(f"t{i:02d}", SPACE.sample(rng)))
    epoch = {t.trial_id: 0 for t in ctl.trials}
    log = []
    for _ in range(10 * n * LADDER.max):
        trial = ctl.choose()
        if trial is None:
            trial = next((t for t in ctl.trials if t.status == "RUNNING"), None)
        if trial is None:
            break
        ckpt = trial.run_metadata.checkpoint_manager._latest_checkpoint_result
        if name in ("pbt", "pb2") and ckpt is not None and ckpt.metrics:  # from a clone
            epoch[trial.trial_id] = ckpt.metrics["training_iteration"]
        while True:
            epoch[trial.trial_id] += 1
            e = epoch[trial.trial_id]
            loss = (trial.config["x"] - 0.4) ** 2 + 1.0 / e
            decision = ctl.report(trial, {"training_iteration": e, "loss": loss})
            log.append((trial.trial_id, e, decision))
            if decision != "CONTINUE":
                break
    return ctl, epoch, log


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_contract(name):
    ctl, epoch, log = simulate(name, seed=3)
    assert {d for _, _, d in log} <= DECISIONS
    assert all(t.status == "TERMINATED" for t in ctl.trials), [t.status for t in ctl.trials]
    assert max(epoch.values()) == LADDER.max and all(e <= LADDER.max for e in epoch.values())
    if name in ("asha", "asha-checked", "hyperband", "median"):
        assert min(epoch.values()) < LADDER.max  # something was stopped early


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_same_seed_same_decisions(name):
    assert simulate(name, seed=3, disturb=1)[2] == simulate(name, seed=3, disturb=2)[2]
