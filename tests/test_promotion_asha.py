"""Promotion-type ASHA (``asha-promotion``): decision tables on the stub controller, a run in
the simulated-time runner, the refusal of code that cannot resume, and (marked ``ray``) a real
Ray run of the digits MLP whose paused trials continue at the next epoch."""
from __future__ import annotations

import json
import math
import textwrap

import pytest

from tuner.budget import BudgetLadder
from tuner.errors import ConfigError
from tuner.schedulers import (
    PAUSING_SCHEDULERS,
    SCHEDULERS,
    concurrency_hint,
    make_scheduler,
    scheduler_options,
)
from tuner.schedulers.controller import StubController, make_trial

C, P, S = "CONTINUE", "PAUSE", "STOP"


def promo(ladder=BudgetLadder(1, 9, 3), mode="max"):
    sched = make_scheduler("asha-promotion", ladder, metric="acc", mode=mode, seed=0)
    return sched, StubController(sched)


def res(epoch, value):
    return {"training_iteration": epoch, "acc": value}


def ids(trials):
    return [t.trial_id for t in trials]


def run_until_decision(ctl, trial, start, values):
    """Report epochs ``start, start+1, …`` with ``values`` until the first non-CONTINUE."""
    decisions = []
    for epoch, value in enumerate(values, start):
        decisions.append(ctl.report(trial, res(epoch, value)))
        if decisions[-1] != C:
            break
    return decisions


# --- registration ----------------------------------------------------------------------
def test_registered_as_a_pausing_scheduler_without_options():
    assert "asha-promotion" in SCHEDULERS and "asha-promotion" in PAUSING_SCHEDULERS
    assert scheduler_options("asha-promotion") == []
    with pytest.raises(ValueError, match="asha-promotion: unknown option 'brackets'; valid: "
                                         r"\(none\)"):
        make_scheduler("asha-promotion", BudgetLadder(1, 9, 3), metric="acc", mode="max",
                       brackets=2)
    sched, _ = promo(BudgetLadder(1, 10, 3))
    assert sched.rung_milestones() == [1, 3, 9]  # max (10) ends a trial, it is no rung
    assert promo(BudgetLadder(1, 9, 3))[0].rung_milestones() == [1, 3]


def test_the_plan_shows_its_rungs():
    from tuner.schedulers.plan import plan

    rungs = plan(BudgetLadder(1, 27, 3), "asha-promotion", num_samples=27)["brackets"][0]
    assert [(r["n"], r["r"]) for r in rungs["rungs"]] == [(27, 1), (9, 3), (3, 9), (1, 27)]


def test_concurrency_has_no_limiter_that_would_count_paused_trials():
    assert concurrency_hint("asha-promotion", BudgetLadder(1, 9, 3), slots=2,
                            num_samples=50) is None


# --- decision tables -------------------------------------------------------------------
def test_every_trial_pauses_at_a_rung_and_nobody_is_promoted_before_eta_arrived():
    sched, ctl = promo()  # rungs 1, 3; max 9; eta 3
    trials = [ctl.add(make_trial(f"t{i}")) for i in range(4)]
    assert ctl.choose() is trials[0]
    assert run_until_decision(ctl, trials[0], 1, [0.5]) == [P]
    assert ctl.choose() is trials[1]  # one value at rung 1: top ⌊1/3⌋ = nobody
    assert run_until_decision(ctl, trials[1], 1, [0.9]) == [P]
    assert ctl.choose() is trials[2]
    assert run_until_decision(ctl, trials[2], 1, [0.1]) == [P]
    # three values: the best (t1) is promoted before the next new trial starts
    assert ctl.choose() is trials[1]
    assert run_until_decision(ctl, trials[1], 2, [0.91, 0.92]) == [C, P]
    assert sched.waiting() == {"t0": 1, "t1": 3, "t2": 1}
    assert sched.promotions == [("t1", 1)]


def test_best_paused_trial_at_the_highest_rung_is_promoted_first():
    sched, ctl = promo(BudgetLadder(1, 8, 2))  # rungs 1, 2, 4; eta 2
    t = {f"t{i}": ctl.add(make_trial(f"t{i}")) for i in range(6)}
    for name, value in [("t0", 0.9), ("t1", 0.8), ("t2", 0.7), ("t3", 0.1)]:
        assert ctl.report(t[name], res(1, value)) == P
    assert ctl.choose() is t["t0"]  # rung 1's top 2 of 4: t0, t1
    assert ctl.report(t["t0"], res(2, 0.91)) == P
    assert ctl.choose() is t["t1"]
    assert ctl.report(t["t1"], res(2, 0.81)) == P
    assert ctl.report(t["t4"], res(1, 0.95)) == P  # the best value at rung 1 now
    # candidates: t0 at rung 2 (top 1 of 2), t4 at rung 1 (top 2 of 5): the higher rung wins
    assert ctl.choose() is t["t0"]
    assert ctl.report(t["t0"], res(3, 0.92)) == C
    assert ctl.report(t["t0"], res(4, 0.93)) == P
    assert ctl.choose() is t["t4"]


def test_a_trial_outside_the_top_stays_paused_while_new_trials_start():
    sched, ctl = promo()
    trials = [ctl.add(make_trial(f"t{i}")) for i in range(6)]
    for trial, value in zip(trials[:3], [0.2, 0.9, 0.1]):
        assert ctl.report(trial, res(1, value)) == P
    assert ctl.choose() is trials[1]
    assert run_until_decision(ctl, trials[1], 2, [0.9, 0.9]) == [C, P]
    started = []
    for value in (0.3, 0.4, 0.15):  # worse than t1, better than t0 and t2 — but not top 1/3
        trial = ctl.choose()
        started.append(trial)
        assert ctl.report(trial, res(1, value)) == P
    assert ids(started) == ["t3", "t4", "t5"]  # new trials, not t0 (0.2) or t2 (0.1)
    # six values at rung 1: top 2 = t1 (gone up) and t4, which is promoted now
    assert ctl.choose() is trials[4]


def test_ties_go_to_the_earlier_created_trial():
    sched, ctl = promo()
    trials = [ctl.add(make_trial(f"t{i}")) for i in range(3)]
    for trial in reversed(trials):
        assert ctl.report(trial, res(1, 0.5)) == P
    assert ctl.choose() is trials[0]


def test_end_of_search_promotes_to_max_once_then_stops_the_rest():
    sched, ctl = promo()
    trials = [ctl.add(make_trial(f"t{i}")) for i in range(4)]
    for trial, value in zip(trials, [0.5, 0.9, 0.1, 0.3]):
        assert ctl.report(trial, res(1, value)) == P
    assert ctl.choose() is trials[1]
    assert run_until_decision(ctl, trials[1], 2, [0.9, 0.9]) == [C, P]
    # nothing pending or running, rung 3 holds one value (promotes nobody), nobody reached 9:
    # the best at the highest rung goes on anyway
    assert ctl.choose() is trials[1]
    ctl.report(trials[1], res(4, 0.9))  # RUNNING now: no end-of-search action meanwhile
    assert ctl.choose() is None and sched.waiting() == {"t0": 1, "t2": 1, "t3": 1}
    assert run_until_decision(ctl, trials[1], 5, [0.9] * 5) == [C] * 4 + [S]
    assert sched.reached_max == 1
    # a trial reached max: the rest, none in its rung's top, are stopped with their result
    assert ctl.choose() is None
    assert [t.status for t in trials] == ["TERMINATED"] * 4
    assert sched.waiting() == {} and ctl.choose() is None


def test_end_of_search_waits_for_pending_and_running_trials():
    sched, ctl = promo()
    trials = [ctl.add(make_trial(f"t{i}")) for i in range(2)]
    assert ctl.report(trials[0], res(1, 0.5)) == P
    assert ctl.choose() is trials[1]  # PENDING: a new trial, not the end of the search
    assert ctl.report(trials[1], res(1, 0.4)) == P
    assert ctl.choose() is trials[0]  # now nothing else can run: the best goes on


def test_diverged_stops_unrecorded_max_stops_and_a_restart_passes_its_old_rungs():
    sched, ctl = promo()
    a, b = ctl.add(make_trial("a")), ctl.add(make_trial("b"))
    assert ctl.report(a, res(1, math.nan)) == S and sched.recorded()[1] == {}
    assert ctl.report(b, res(1, 0.5)) == P
    b.set_status("RUNNING")  # promoted by hand; restarted from scratch (no checkpoint)
    assert [ctl.report(b, res(e, 0.5)) for e in (1, 2, 3)] == [C, C, P]
    b.set_status("RUNNING")
    assert [ctl.report(b, res(e, 0.5)) for e in range(1, 10)] == [C] * 8 + [S]


def test_minimising_ranks_the_lowest_value_first():
    sched, ctl = promo(mode="min")
    trials = [ctl.add(make_trial(f"t{i}")) for i in range(3)]
    for trial, loss in zip(trials, [0.5, 0.1, 0.9]):
        assert ctl.report(trial, {"training_iteration": 1, "acc": loss}) == P
    assert ctl.choose() is trials[1]


def test_a_paused_trial_removed_or_errored_is_never_resumed():
    sched, ctl = promo()
    trials = [ctl.add(make_trial(f"t{i}")) for i in range(6)]
    for trial, value in zip(trials, [0.9, 0.8, 0.1, 0.2, 0.3, 0.4]):
        assert ctl.report(trial, res(1, value)) == P
    ctl.stop_trial(trials[0])  # removed while paused (on_trial_remove)
    assert trials[0].status == "TERMINATED" and "t0" not in sched.waiting()
    assert ctl.choose() is trials[1]  # top 2 of 6 = t0, t1: only t1 can go
    trials[1].set_status("RUNNING")
    sched.on_trial_error(ctl, trials[1])
    trials[1].set_status("ERROR")
    # t0 and t1 hold rung 1's two promotions: nobody else may go; the end rule promotes the
    # best remaining (nobody reached max)
    assert ctl.choose() is trials[5]


def test_a_trial_its_controller_paused_between_rungs_is_resumed_first():
    sched, ctl = promo()
    trials = [ctl.add(make_trial(f"t{i}")) for i in range(5)]
    for trial, value in zip(trials[:3], [0.5, 0.9, 0.1]):
        assert ctl.report(trial, res(1, value)) == P
    assert ctl.choose() is trials[1]
    assert ctl.report(trials[1], res(2, 0.9)) == C
    trials[1].set_status("PAUSED")  # a packed run restored: back to its epoch-2 checkpoint
    assert ctl.choose() is trials[1]  # promoted already: before new trials and the end rule
    assert ctl.report(trials[1], res(3, 0.9)) == P


# --- state across --resume -------------------------------------------------------------
def drive(ctl, epochs, log, steps):
    """Run what the scheduler chooses, one trial at a time, ``steps`` times."""
    for _ in range(steps):
        trial = ctl.choose()
        if trial is None:
            return
        while True:
            epochs[trial.trial_id] = epochs.get(trial.trial_id, 0) + 1
            e = epochs[trial.trial_id]
            x = int(trial.trial_id[1:])
            decision = ctl.report(trial, res(e, ((x * 7) % 11) / 10 + e / 100))
            log.append((trial.trial_id, e, decision))
            if decision != C:
                break


def test_state_round_trip_decides_as_an_uninterrupted_run():
    ladder = BudgetLadder(1, 27, 3)
    whole, ctl = promo(ladder)
    for i in range(15):
        ctl.add(make_trial(f"t{i:02d}"))
    expected = []
    drive(ctl, {}, expected, 200)

    first, ctl = promo(ladder)
    for i in range(15):
        ctl.add(make_trial(f"t{i:02d}"))
    epochs, log = {}, []
    drive(ctl, epochs, log, 12)
    state = json.loads(json.dumps(first.get_state()))  # what the snapshot keeps
    assert sum(len(rec) for _, rec in state["rungs"][0]) > 0
    restored, ctl2 = promo(ladder)
    restored.set_state(state)
    for old in ctl.trials:  # Tuner.restore: unfinished trials come back PENDING
        trial = make_trial(old.trial_id)
        if old.status == "TERMINATED":
            trial.set_status("TERMINATED")
        ctl2.add(trial)
    assert {t.trial_id for t in ctl2.trials if t.status == "PAUSED"} == set(first.waiting())
    drive(ctl2, epochs, log, 200)
    assert log == expected
    assert restored.recorded() == whole.recorded()


def test_state_of_another_ladder_is_refused():
    a, _ = promo(BudgetLadder(1, 27, 3))
    b, _ = promo(BudgetLadder(1, 9, 3))
    with pytest.raises(ValueError, match=r"state has rungs \[1, 3, 9\], this scheduler \[1, 3\]"):
        b.set_state(a.get_state())


# --- in the simulated-time runner ------------------------------------------------------
def simulate(seed, workers=4, trials=27):
    from benchmarks.simulator import SimTask, simulate as run
    from benchmarks.synthetic import SyntheticCurves
    from tuner.compose.wiring import wire

    bench = SyntheticCurves(max_epochs=27, dim=4)
    ladder = BudgetLadder(1, 27, 3)
    w = wire("random", "asha-promotion", bench.space, ladder, metric=bench.metric,
             mode=bench.mode, seed=seed, slots=workers, num_samples=trials)
    traj = run(SimTask(bench, ladder), w.searcher, w.scheduler, workers=workers,
               max_trials=trials, max_concurrent=w.max_concurrent, max_pending=w.max_concurrent)
    return traj, w.scheduler


def test_in_the_simulator_promoted_trials_resume_at_the_next_level_and_the_run_ends():
    traj, sched = simulate(seed=0)
    levels: dict[int, list[int]] = {}
    for trial, level in zip(traj.trial, traj.level):
        levels.setdefault(trial, []).append(level)
    assert len(levels) == 27
    for trial, seen in levels.items():  # resumed from its checkpoint: no level twice or skipped
        assert seen == list(range(1, seen[-1] + 1)), (trial, seen)
        assert seen[-1] in (1, 3, 9, 27)  # ends where it paused, or at max
    reached = [max(seen) for seen in levels.values()]
    # SHA's 27/9/3/1, plus the few early promotions of an asynchronous rung — not everyone
    assert 9 <= sum(r >= 3 for r in reached) <= 18 and 3 <= sum(r >= 9 for r in reached) <= 6
    assert 1 <= reached.count(27) <= 3
    for trial_id, milestone in sched.promotions:  # each promotion went one rung further
        assert max(levels[int(trial_id[1:])]) > milestone
    assert len(sched.promotions) == sum(r > 1 for r in reached) + sum(r > 3 for r in reached) \
        + sum(r > 9 for r in reached)
    assert sched.waiting() == {}  # nobody left paused: the run ended, not stalled


def test_the_simulated_run_is_reproducible_with_a_seed():
    a, _ = simulate(seed=3, workers=3, trials=12)
    b, _ = simulate(seed=3, workers=3, trials=12)
    assert (a.trial, a.level, a.value) == (b.trial, b.level, b.value)


# --- code that cannot resume is refused --------------------------------------------------
PLAIN_FN = textwrap.dedent("""
    from ray import tune
    def train(config):
        for e in range(3):
            tune.report({"val_accuracy": e})
""")


def experiment(**changes):
    return {"name": "t", "trainable": "plain_fn:train",
            "space": {"lr": {"type": "float", "low": 1e-3, "high": 0.1, "log": True}},
            "metric": "val_accuracy", "mode": "max", "num_samples": 4,
            "budget": {"min": 1, "max": 9, "eta": 3}, **changes}


@pytest.mark.parametrize("choice", [{"scheduler": "asha-promotion", "searcher": "random"},
                                    {"method": "asha-promotion"},
                                    {"method": "asha-promotion-pso"}])
def test_a_function_that_never_reads_its_checkpoint_is_refused(tmp_path, monkeypatch, choice):
    from tuner.experiment.config import parse_experiment

    (tmp_path / "plain_fn.py").write_text(PLAIN_FN)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="scheduler asha-promotion pauses trials.*never "
                                          "calls ray.tune.get_checkpoint"):
        parse_experiment(experiment(**choice))
    assert parse_experiment(experiment(method="asha")).scheduler == "asha"


def test_the_cli_refuses_it_with_exit_code_2(tmp_path, monkeypatch, capsys):
    from tuner.cli import main

    (tmp_path / "plain_fn.py").write_text(PLAIN_FN)
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "exp.yaml"
    path.write_text(json.dumps(experiment(method="asha-promotion")))  # JSON is YAML
    assert main(["launch", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "scheduler asha-promotion pauses trials" in err[0]


# --- on a real Ray ---------------------------------------------------------------------
@pytest.mark.ray
@pytest.mark.slow
def test_on_ray_paused_trials_resume_at_the_next_epoch(ray_session, tmp_path):
    import tuner

    res = tuner.run({"name": "promo", "trainable": "mlp", "config": {"dataset": "digits"},
                     "space": {"lr": {"type": "float", "low": 1e-3, "high": 0.1, "log": True},
                               "hidden": {"type": "int", "low": 16, "high": 64},
                               "batch_size": 64},
                     "method": "asha-promotion", "metric": "val_accuracy", "mode": "max",
                     "num_samples": 6, "budget": {"min": 1, "max": 9, "eta": 3}, "seed": 0,
                     "storage": str(tmp_path)}, quiet=True)
    assert res.experiment["scheduler"]["name"] == "asha-promotion"
    curves = res.curves[res.curves.metric == "val_accuracy"]
    epochs = {tid: list(rows.epoch) for tid, rows in curves.groupby("trial_id", sort=False)}
    assert len(epochs) == 6
    for tid, seen in epochs.items():  # paused at a rung, resumed from its checkpoint
        assert sorted(seen) == list(range(1, max(seen) + 1)), (tid, seen)
    reached = sorted(max(seen) for seen in epochs.values())
    assert set(reached) <= {1, 3, 9} and reached[-1] == 9  # every trial ended: the run ended
    assert reached.count(1) >= 2  # only rung 1's top third (and early arrivals) went on
    assert set(res.trials.status) <= {"completed", "stopped early"}
