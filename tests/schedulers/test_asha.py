"""Decision tables for the seeded ASHA: hand-picked results, the exact decision after each."""
from __future__ import annotations

import math

import numpy as np
import pytest
from ray.tune.schedulers import AsyncHyperBandScheduler

from tuner.budget import BudgetLadder
from tuner.schedulers import SchedulerError, SeededASHA, make_scheduler
from tuner.schedulers.controller import StubController, make_trial

C, S = "CONTINUE", "STOP"


def asha(ladder=BudgetLadder(1, 9, 3), mode="max", **options):
    sched = make_scheduler("asha", ladder, metric="acc", mode=mode, seed=0, **options)
    return sched, StubController(sched)


def res(epoch, value):
    return {"training_iteration": epoch, "acc": value}


def test_first_rung_decision_table_max():
    sched, ctl = asha()
    trials = [ctl.add(make_trial(f"t{i}")) for i in range(7)]
    got = [ctl.report(t, res(1, v)) for t, v in zip(trials, [5, 1, 3, 4, 0.5, 6, 2])]
    assert got == [C, S, S, C, S, C, S]


def test_first_rung_decision_table_min_mirrors_max():
    sched, ctl = asha(mode="min")
    trials = [ctl.add(make_trial(f"t{i}")) for i in range(7)]
    got = [ctl.report(t, res(1, -v)) for t, v in zip(trials, [5, 1, 3, 4, 0.5, 6, 2])]
    assert got == [C, S, S, C, S, C, S]


def test_promotion_at_every_rung_then_stop_at_max():
    sched, ctl = asha()
    best, weak = ctl.add(make_trial("best")), ctl.add(make_trial("weak"))
    assert [ctl.report(best, res(e, 10 + e)) for e in range(1, 10)] == [C] * 8 + [S]
    assert ctl.report(weak, res(1, 0.0)) == S  # rung 1 already holds best's 11.0
    assert sched.recorded() == {1: {"best": 11.0, "weak": 0.0}, 3: {"best": 13.0},
                                9: {"best": 19.0}}


def test_first_trial_at_an_empty_rung_continues_whatever_its_value():
    sched, ctl = asha()
    a, b = ctl.add(make_trial("a")), ctl.add(make_trial("b"))
    assert ctl.report(a, res(1, 0.9)) == C
    assert ctl.report(b, res(1, 0.95)) == C
    assert ctl.report(b, res(3, 0.01)) == C  # rung 3 empty: continues although it got worse
    assert ctl.report(a, res(3, 0.00)) == S


def test_ties_continue():
    sched, ctl = asha()
    trials = [ctl.add(make_trial(f"t{i}")) for i in range(4)]
    assert [ctl.report(t, res(1, 0.5)) for t in trials] == [C, C, C, C]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_metric_stops_and_is_not_recorded(bad):
    sched, ctl = asha()
    diverged, ok = ctl.add(make_trial("nan")), ctl.add(make_trial("ok"))
    assert ctl.report(diverged, res(1, bad)) == S
    assert sched.recorded()[1] == {}
    assert ctl.report(ok, res(1, 0.1)) == C  # still the first real value at the rung


def test_ray_lets_nan_continue_which_is_why_we_override():
    """Pins Ray's behaviour that SeededASHA's non-finite STOP exists for (if Ray changes, the
    override may go): Ray's ASHA lets a NaN result continue at a rung."""
    ray_asha = AsyncHyperBandScheduler(metric="acc", mode="max", max_t=9, grace_period=1,
                                       reduction_factor=3)
    ctl = StubController(ray_asha)
    a, b = ctl.add(make_trial("a")), ctl.add(make_trial("b"))
    ctl.report(a, res(1, 1.0))
    assert ctl.report(b, res(1, math.nan)) == C


def test_a_trial_is_judged_once_per_rung():
    sched, ctl = asha()
    a, b = ctl.add(make_trial("a")), ctl.add(make_trial("b"))
    assert ctl.report(a, res(1, 0.9)) == C
    assert ctl.report(b, res(1, 0.95)) == C
    # a reports epoch 1 again (e.g. resumed from an older checkpoint): not re-judged
    assert ctl.report(a, res(1, 0.1)) == C
    assert sched.recorded()[1] == {"a": 0.9, "b": 0.95}
    assert ctl.report(a, res(2, 0.1)) == C  # between rungs: no decision


def test_only_the_highest_newly_passed_rung_is_judged():
    sched, ctl = asha()
    a = ctl.add(make_trial("a"))
    assert ctl.report(a, res(5, 0.3)) == C  # jumps past 1 and 3: recorded at 3 only
    assert sched.recorded() == {1: {}, 3: {"a": 0.3}, 9: {}}


@pytest.mark.parametrize("lo,hi,eta", [(1, 81, 3), (1, 27, 3), (1, 100, 4), (2, 54, 3),
                                       (1, 1000, 10), (1, 243, 3), (3, 3, 2), (1, 64, 2)])
def test_rungs_equal_the_ladder(lo, hi, eta):
    ladder = BudgetLadder(lo, hi, eta)
    sched = SeededASHA(ladder, metric="acc", mode="max", brackets=len(ladder.rung_resources()))
    for s in range(len(ladder.rung_resources())):
        assert sched.rung_milestones(s) == ladder.rung_resources()[s:]


def test_rays_float_rung_count_drops_the_top_rung_for_1_1000_10():
    ray_asha = AsyncHyperBandScheduler(max_t=1000, grace_period=1, reduction_factor=10)
    assert [m for m, _ in reversed(ray_asha._brackets[0]._rungs)] == [1, 10, 100]
    assert BudgetLadder(1, 1000, 10).rung_resources() == [1, 10, 100, 1000]


def _bracket_ids(seed, n=60, disturb=None):
    sched = SeededASHA(BudgetLadder(1, 81, 3), metric="acc", mode="max", seed=seed, brackets=3)
    out = []
    for i in range(n):
        if disturb is not None:
            np.random.seed(disturb + i)  # someone else uses the global RNG in between
        trial = make_trial(f"x{i}")
        sched.on_trial_add(None, trial)
        out.append(sched.bracket_of(trial.trial_id))
    return out


def test_same_seed_same_brackets_despite_global_rng():
    a, b = _bracket_ids(7, disturb=1), _bracket_ids(7, disturb=1000)
    assert a == b
    assert len(set(a)) == 3  # all brackets used
    assert _bracket_ids(8) != a


def test_bracket_shares_follow_rays_softmax():
    ids = _bracket_ids(0, n=3000)
    weights = np.exp(np.array([5, 4, 3]) - 5.0)
    share = np.bincount(ids, minlength=3) / len(ids)
    assert np.allclose(share, weights / weights.sum(), atol=0.03)


def test_rays_asha_depends_on_the_global_rng():
    """Pins why SeededASHA draws brackets from its own seed: Ray's ASHA draws them from
    numpy's global RNG, so the same experiment seed would give other brackets."""
    def ids(global_seed):
        np.random.seed(global_seed)
        sched = AsyncHyperBandScheduler(metric="acc", mode="max", max_t=81, grace_period=1,
                                        reduction_factor=3, brackets=3)
        out = []
        for i in range(60):
            t = make_trial(f"x{i}")
            sched.on_trial_add(None, t)
            out.append(sched._brackets.index(sched._trial_info[t.trial_id]))
        return out
    assert ids(1) != ids(2)


def _run_workload(sched, n=81, seed=0, start=0, stop=None):
    """Trials one after another (quality a random permutation), monotone curves; returns the
    epoch each trial reached and the full decision log."""
    ctl = StubController(sched)
    quality = np.random.default_rng(seed).permutation(n) / n
    reached, log = {}, []
    for i in range(start, stop if stop is not None else n):
        t = ctl.add(make_trial(f"q{i:03d}"))
        for epoch in range(1, sched.ladder.max + 1):
            d = ctl.report(t, {"training_iteration": epoch, "acc": quality[i] - 1.0 / epoch})
            log.append((t.trial_id, epoch, d))
            if d == S:
                break
        reached[t.trial_id] = epoch
    return reached, log


def test_trials_reaching_each_rung_follow_the_ladder():
    ladder = BudgetLadder(1, 81, 3)
    sched = SeededASHA(ladder, metric="acc", mode="max", seed=0)
    reached, _ = _run_workload(sched)
    counts = [sum(e >= r for e in reached.values()) for r in ladder.rung_resources()]
    # the stopping variant is lenient early on; n·η^-k = 81, 27, 9, 3, 1 in expectation
    assert counts == [81, 29, 12, 6, 5]
    for k, c in enumerate(counts):  # early arrivals face few peers: a few extra survive
        assert 81 / 3**k <= c <= 2 * 81 / 3**k + 3


def test_same_seed_same_decisions():
    ladder = BudgetLadder(1, 27, 3)
    logs = []
    for global_seed in (0, 1):
        np.random.seed(global_seed)
        sched = SeededASHA(ladder, metric="acc", mode="max", seed=3, brackets=2)
        logs.append(_run_workload(sched, n=40)[1])
    assert logs[0] == logs[1]


def test_save_restore_keeps_the_exact_rung_history(tmp_path):
    ladder = BudgetLadder(1, 27, 3)

    def make():
        return SeededASHA(ladder, metric="acc", mode="max", seed=5, brackets=2)

    first = make()
    _run_workload(first, n=40, stop=20)
    path = str(tmp_path / "asha.json")
    first.save(path)
    second = make()
    second.restore(path)
    assert second.get_state() == first.get_state()
    assert [second.recorded(s) for s in (0, 1)] == [first.recorded(s) for s in (0, 1)]
    # both go on identically (bracket hashing continues from the same count)
    assert _run_workload(first, n=40, start=20)[1] == _run_workload(second, n=40, start=20)[1]


def test_trials_re_added_after_restore_keep_their_bracket(tmp_path):
    ladder = BudgetLadder(1, 27, 3)
    first = SeededASHA(ladder, metric="acc", mode="max", seed=5, brackets=3)
    trials = [make_trial(f"r{i}") for i in range(12)]
    for t in trials:
        first.on_trial_add(None, t)
    path = str(tmp_path / "asha.json")
    first.save(path)
    second = SeededASHA(ladder, metric="acc", mode="max", seed=5, brackets=3)
    second.restore(path)
    done = make_trial("done")
    done.set_status("TERMINATED")
    for t in [done, *reversed(trials)]:  # the controller adds them all again, in any order
        second.on_trial_add(None, t)
    assert [second.bracket_of(t.trial_id) for t in trials] == \
        [first.bracket_of(t.trial_id) for t in trials]
    assert second.get_state() == first.get_state()


def test_restore_needs_the_same_bracket_count(tmp_path):
    path = str(tmp_path / "asha.json")
    SeededASHA(BudgetLadder(1, 27, 3), metric="acc", mode="max", brackets=2).save(path)
    with pytest.raises(ValueError, match="2 brackets"):
        SeededASHA(BudgetLadder(1, 27, 3), metric="acc", mode="max").restore(path)


def test_too_many_brackets_rejected_with_the_limit():
    with pytest.raises(SchedulerError, match="at most 3"):
        make_scheduler("asha", BudgetLadder(1, 9, 3), metric="acc", mode="max", brackets=4)
