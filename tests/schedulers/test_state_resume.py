"""Median, PBT and PB2 keep their state across --resume: a scheduler restored from
``get_state()`` mid-run decides exactly as one never interrupted (decision tables, stub
controller, no Ray running). The same driving without the state gives other decisions."""
from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from search_spaces import Categorical, Float, Int, SearchSpace
from tuner.budget import BudgetLadder
from tuner.launch.resume import SchedulerStateCallback
from tuner.schedulers import SeededPB2, make_scheduler, pb2_params
from tuner.schedulers.controller import StubController, make_trial
from tuner.schedulers.pbt import lineage_markdown

LADDER = BudgetLadder(1, 9, 3)
SPACE = SearchSpace({"x": Float(0.0, 1.0), "lr": Float(1e-4, 1e-1, log=True),
                     "b": Categorical((16, 32))})


def loss(config: dict, epoch: int) -> float:
    return ((config["x"] - 0.4) ** 2 + (math.log10(config["lr"]) + 2) ** 2 / 10
            + 0.05 / epoch)


class World:
    """Trials that train one at a time, in the order the scheduler chooses (as Ray does with
    one slot): an exploited trial continues from the epoch of the checkpoint it loaded."""

    def __init__(self, ctl: StubController, epochs: dict[str, int] | None = None):
        self.ctl, self.epoch, self.current = ctl, dict(epochs or {}), None

    def step(self):
        if self.current is None:
            self.current = self.ctl.choose() or next(
                (t for t in self.ctl.trials if t.status == "RUNNING"), None)
            if self.current is None:
                return None
            manager = self.current.run_metadata.checkpoint_manager
            cloned = manager._latest_checkpoint_result
            if cloned is not None and cloned.metrics:  # loads the copied checkpoint once
                self.epoch[self.current.trial_id] = cloned.metrics["training_iteration"]
                manager._latest_checkpoint_result = None
        trial = self.current
        e = self.epoch[trial.trial_id] = self.epoch.get(trial.trial_id, 0) + 1
        decision = self.ctl.report(trial, {"training_iteration": e, "loss": loss(trial.config,
                                                                                  e)})
        if decision != "CONTINUE":
            self.current = None
        return trial.trial_id, e, decision, dict(trial.config)

    def run(self, steps: int | None = None) -> list:
        log = []
        while steps is None or len(log) < steps:
            event = self.step()
            if event is None:
                break
            log.append(event)
        return log


def _start(name: str, n: int = 8, **options):
    sched = make_scheduler(name, LADDER, metric="loss", mode="min", seed=7, space=SPACE,
                           **options)
    ctl = StubController(sched)
    rng = np.random.default_rng(3)
    for i in range(n):
        ctl.add(make_trial(f"t{i:02d}", SPACE.sample(rng)))
    return sched, World(ctl)


def _rebuild(name: str, world: World, state, **options) -> World:
    """What ``Tuner.restore`` does: an empty scheduler from tuner.pkl, the callback's state
    handed back, then every trial re-created (same id, config, status, loaded checkpoint)
    and re-added in its original order."""
    sched = make_scheduler(name, LADDER, metric="loss", mode="min", seed=7, space=SPACE,
                           **options)
    if state is not None:
        callback = SchedulerStateCallback(sched)
        callback.set_state(pickle.loads(pickle.dumps(state)))
        assert callback.restored
    ctl = StubController(sched)
    for old in world.ctl.trials:
        trial = make_trial(old.trial_id, dict(old.config))
        trial.set_status(old.status)
        trial.run_metadata.checkpoint_manager._latest_checkpoint_result = \
            old.run_metadata.checkpoint_manager._latest_checkpoint_result
        ctl.add(trial)
    resumed = World(ctl, world.epoch)
    resumed.current = next((t for t in ctl.trials if world.current is not None
                            and t.trial_id == world.current.trial_id), None)
    return resumed


POP = {"perturbation_interval": 2}  # exploits in every round, before and after the cut
CASES = [("median", {"min_samples_required": 2}, 30), ("pbt", POP, 40), ("pb2", POP, 40)]


@pytest.mark.parametrize("name,options,cut", CASES)
def test_restored_scheduler_decides_as_the_uninterrupted_one(name, options, cut):
    whole_sched, whole = _start(name, **options)
    expected = whole.run()
    sched, world = _start(name, **options)
    before = world.run(cut)
    state = SchedulerStateCallback(sched).get_state()
    resumed = _rebuild(name, world, state, **options)
    after = resumed.run()
    assert before + after == expected
    assert any(d == "STOP" for _, e, d, _ in after if e < LADDER.max) or name != "median"
    if name != "median":  # exploits happened after the cut, and the lineage is continuous
        assert len(whole_sched.lineage) > len(sched.lineage) > 0
        assert resumed.ctl.scheduler.lineage == whole_sched.lineage


@pytest.mark.parametrize("name,options,cut", CASES)
def test_without_the_state_decisions_differ(name, options, cut):
    """The failure ``get_state``/``set_state`` fixes: Ray rebuilds the scheduler empty."""
    _, whole = _start(name, **options)
    expected = whole.run()
    _, world = _start(name, **options)
    before = world.run(cut)
    after = _rebuild(name, world, None, **options).run()
    assert before + after != expected


def test_median_state_is_the_curves_by_trial_id_and_json_plain():
    import json

    sched, world = _start("median", min_samples_required=2)
    world.run(12)
    state = sched.get_state()
    assert json.loads(json.dumps(state)) == state
    first = world.ctl.trials[0]
    assert state["trials"][first.trial_id]["results"][0] == \
        {"training_iteration": 1, "loss": loss(first.config, 1)}


def test_pbt_state_carries_rng_scores_and_perturbation_times():
    sched, world = _start("pbt", **POP)
    world.run(40)
    state = sched.get_state()
    rebuilt = make_scheduler("pbt", LADDER, metric="loss", mode="min", seed=7, space=SPACE,
                             **POP)
    rebuilt.set_state(pickle.loads(pickle.dumps(state)))
    assert rebuilt._random_state == sched._random_state
    assert rebuilt._np_rng.bit_generator.state == sched._np_rng.bit_generator.state
    scored = [t for t in world.ctl.trials if sched._trial_state[t].last_score is not None]
    assert scored
    for t in scored:
        assert state["trials"][t.trial_id]["last_score"] == sched._trial_state[t].last_score
        assert state["trials"][t.trial_id]["last_perturbation_time"] == \
            sched._trial_state[t].last_perturbation_time


# PB2 specifics --------------------------------------------------------------------------
def test_pb2_models_numeric_unconditional_parameters_only():
    space = SearchSpace({"lr": Float(1e-4, 1e-1, log=True), "width": Int(8, 64),
                         "opt": Categorical(("sgd", "adam")),
                         "momentum": Float(0.0, 0.9, when={"opt": "sgd"})})
    assert pb2_params(space) == ["lr", "width"]
    assert pb2_params(space, ["lr", "opt"]) == ["lr"]
    with pytest.raises(ValueError, match="scheduler pb2: no numeric.*among opt"):
        pb2_params(space, ["opt"])


def test_pb2_explores_in_the_unit_box_and_stays_in_the_domain():
    sched, world = _start("pb2", **POP)
    world.run()
    assert isinstance(sched, SeededPB2)
    # before the copied trial has two points in one config the GP has nothing to model and
    # the config is copied unchanged; afterwards GP-UCB picks new values
    assert sum(bool(rec["changes"]) for rec in sched.lineage) >= 3
    for rec in sched.lineage:
        for key, (_, new, op) in rec["changes"].items():
            assert key in ("x", "lr") and op == "GP-UCB" and SPACE[key].contains(new)
    # the GP's data are unit-box coordinates: a log-scaled lr spans [0, 1] like x
    assert sched.data[["x", "lr"]].to_numpy().min() >= 0
    assert sched.data[["x", "lr"]].to_numpy().max() <= 1


def test_pb2_same_seed_same_run_whatever_the_global_rngs():
    import random

    def run(disturb):
        random.seed(disturb)
        np.random.seed(disturb)
        _, world = _start("pb2", **POP)
        return world.run()
    assert run(1) == run(2)


def test_pb2_rejects_a_bad_quantile():
    from tuner.schedulers import SchedulerError

    with pytest.raises(SchedulerError, match="quantile_fraction"):
        make_scheduler("pb2", LADDER, metric="loss", mode="min", space=SPACE,
                       quantile_fraction=0.7)


# Lineage for report.md ----------------------------------------------------------------------
def test_lineage_markdown_rows():
    lines = lineage_markdown([
        {"epoch": 6, "trial": "b", "source": "a", "source_epoch": 6,
         "changes": {"lr": [0.01, 0.012, "* 1.2"], "batch": [32, 64, "shift right"]}},
        {"epoch": 9, "trial": "c", "source": "a", "source_epoch": 8, "changes": {}},
    ])
    assert lines[0] == "## PBT lineage"
    assert lines[-2] == ("| 6 | b | a | 6 | lr 0.01 → 0.012 (* 1.2); batch 32 → 64 "
                         "(shift right) |")
    assert lines[-1] == "| 9 | c | a | 8 | none (config copied unchanged) |"
    assert lineage_markdown([]) == []


def test_pbt_lineage_records_who_copied_whom():
    sched, world = _start("pbt", **POP)
    world.run()
    assert len(sched.lineage) >= 3
    ids = {t.trial_id for t in world.ctl.trials}
    for rec in sched.lineage:
        assert rec["trial"] in ids and rec["source"] in ids and rec["trial"] != rec["source"]
        assert rec["epoch"] % 2 == 0 and rec["source_epoch"] % 2 == 0  # perturbation interval
        for old, new, op in rec["changes"].values():
            assert old != new and op in ("* 1.2", "* 0.8", "resample", "shift left",
                                         "shift right")
    lines = sched.lineage_lines()
    assert lines[0] == "## PBT lineage" and len(lines) == 6 + len(sched.lineage)
