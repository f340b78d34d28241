"""Synchronous HyperBand with the paper's brackets: bracket filling, pausing, halving."""
from __future__ import annotations

import math

import numpy as np
from ray.tune.schedulers import HyperBandScheduler

from tuner.budget import BudgetLadder, hyperband_brackets
from tuner.schedulers import PaperHyperBand, make_scheduler
from tuner.schedulers.controller import StubController, make_trial

C, P, S = "CONTINUE", "PAUSE", "STOP"


def hb(ladder=BudgetLadder(1, 9, 3), mode="max"):
    sched = make_scheduler("hyperband", ladder, metric="acc", mode=mode, seed=0)
    return sched, StubController(sched)


def res(epoch, value):
    return {"training_iteration": epoch, "acc": value}


def status(ctl):
    return {t.trial_id: t.status for t in ctl.trials}


def test_brackets_fill_in_paper_order_with_paper_sizes():
    sched, ctl = hb(BudgetLadder(1, 81, 3))
    trials = [ctl.add(make_trial(f"t{i}")) for i in range(81 + 34 + 15 + 8 + 5 + 1)]
    s_of = [sched.bracket_of(t)[1] for t in trials]
    assert [s_of.count(s) for s in (4, 3, 2, 1, 0)] == [81 + 1, 34, 15, 8, 5]  # +1: next band
    assert s_of[:81] == [4] * 81 and s_of[81:115] == [3] * 34 and s_of[-1] == 4
    assert sched.bracket_of(trials[-1])[0] == 1  # second band


def test_rays_hyperband_differs_for_2_54_3():
    ray_hb = HyperBandScheduler(metric="acc", mode="max", max_t=54, reduction_factor=3)
    assert ray_hb._s_max_1 == 5 and ray_hb._get_r0(4) == 0 and ray_hb._get_n0(3) == 34
    paper = hyperband_brackets(2, 54, 3)
    assert [b.rungs[0] for b in paper] == [(27, 2), (12, 6), (6, 18), (4, 54)]
    sched, ctl = hb(BudgetLadder(2, 54, 3))
    trials = [ctl.add(make_trial(f"t{i}")) for i in range(27 + 12)]
    assert [sched.bracket_of(t)[1] for t in trials] == [3] * 27 + [2] * 12


def test_pauses_at_the_milestone_then_stops_the_bottom_and_resumes_the_top():
    sched, ctl = hb()  # s=2: 9@1, 3@3, 1@9
    trials = [ctl.add(make_trial(f"t{i}")) for i in range(9)]
    values = [5, 1, 3, 4, 0.5, 6, 2, 8, 7]
    got = [ctl.report(t, res(1, v)) for t, v in zip(trials, values)]
    assert got == [P] * 8 + [C]  # the last arrival is in the top 3: it keeps running
    assert status(ctl) == {"t0": "TERMINATED", "t1": "TERMINATED", "t2": "TERMINATED",
                           "t3": "TERMINATED", "t4": "TERMINATED", "t5": "PAUSED",
                           "t6": "TERMINATED", "t7": "PAUSED", "t8": "RUNNING"}
    t5, t7, t8 = trials[5], trials[7], trials[8]
    # rung 3: the top three run on to epoch 3, pausing there until all three arrive
    assert [ctl.report(t8, res(e, 7)) for e in (2, 3)] == [C, P]
    assert ctl.choose() in (t5, t7)
    assert [ctl.report(t5, res(e, 6)) for e in (2, 3)] == [C, P]
    assert [ctl.report(t7, res(e, 8)) for e in (2, 3)] == [C, C]  # best: keeps running
    assert status(ctl)["t5"] == "TERMINATED" and status(ctl)["t8"] == "TERMINATED"
    assert [ctl.report(t7, res(e, 8)) for e in range(4, 10)] == [C] * 5 + [S]


def test_bottom_trial_arriving_last_is_stopped_itself():
    sched, ctl = hb()
    trials = [ctl.add(make_trial(f"t{i}")) for i in range(9)]
    got = [ctl.report(t, res(1, v)) for t, v in zip(trials, [9, 8, 7, 6, 5, 4, 3, 2, 1])]
    assert got == [P] * 8 + [S]
    assert [t.trial_id for t in ctl.trials if t.status == "PAUSED"] == ["t0", "t1", "t2"]


def test_min_mode_keeps_the_lowest():
    sched, ctl = hb(mode="min")
    trials = [ctl.add(make_trial(f"t{i}")) for i in range(9)]
    [ctl.report(t, res(1, v)) for t, v in zip(trials, [9, 8, 7, 6, 5, 4, 3, 2, 1])]
    assert sorted(t.trial_id for t in ctl.trials if t.status != "TERMINATED") == ["t6", "t7", "t8"]


def test_nan_ranks_last():
    sched, ctl = hb()
    trials = [ctl.add(make_trial(f"t{i}")) for i in range(9)]
    values = [math.nan, 1, 2, 3, 4, 5, 6, 7, math.nan]
    assert ctl.report(trials[0], res(1, values[0])) == P
    [ctl.report(t, res(1, v)) for t, v in zip(trials[1:], values[1:])]
    assert sorted(t.trial_id for t in ctl.trials if t.status != "TERMINATED") == ["t5", "t6", "t7"]


def test_an_unfilled_bracket_keeps_the_paper_fraction_not_everyone():
    sched, ctl = hb()  # bracket of 9, only 6 trials ever come: keep ⌊6·3/9⌋ = 2
    trials = [ctl.add(make_trial(f"t{i}")) for i in range(6)]
    [ctl.report(t, res(1, v)) for t, v in zip(trials, [1, 2, 3, 4, 5, 6])]
    assert sorted(t.trial_id for t in ctl.trials if t.status != "TERMINATED") == ["t4", "t5"]


def test_synthetic_population_reaches_each_rung_as_the_paper_says():
    ladder = BudgetLadder(1, 27, 3)
    sched, ctl = hb(ladder)
    brackets = hyperband_brackets(1, 27, 3)
    n_total = sum(b.rungs[0][0] for b in brackets)  # one full band: 27 + 12 + 6 + 4
    quality = np.random.default_rng(0).permutation(n_total) / n_total
    trials = [ctl.add(make_trial(f"q{i:02d}")) for i in range(n_total)]
    epoch = {t.trial_id: 0 for t in trials}
    q = {t.trial_id: quality[i] for i, t in enumerate(trials)}
    runnable = list(trials)
    while runnable:  # one trial at a time, as the scheduler chooses, until it pauses/stops
        t = ctl.choose() or next(x for x in ctl.trials if x.status == "RUNNING")
        while True:
            epoch[t.trial_id] += 1
            d = ctl.report(t, res(epoch[t.trial_id], q[t.trial_id] - 1 / epoch[t.trial_id]))
            if d != C:
                break
        runnable = [x for x in ctl.trials if x.status in ("PENDING", "PAUSED", "RUNNING")]
    for b in brackets:
        members = [t for t in trials if sched.bracket_of(t)[1] == b.s]
        reached = [sum(epoch[t.trial_id] >= r for t in members) for _, r in b.rungs]
        assert reached == [n for n, _ in b.rungs], (b.s, reached)
        best = max(members, key=lambda t: q[t.trial_id])
        assert epoch[best.trial_id] == ladder.max  # the best of each bracket survives


def test_rays_bracket_machinery_carries_the_paper_numbers():
    # PaperHyperBand reuses Ray's HyperBandScheduler for filling, pausing and unpausing; what
    # Ray's own code reads from each bracket (size, first milestone, halvings left) must be
    # the paper's — Ray's arithmetic gives 5 brackets, one at r = 0, for (2, 54, 3)
    paper = hyperband_brackets(2, 54, 3)
    sched, ctl = hb(BudgetLadder(2, 54, 3))
    for i in range(sum(b.rungs[0][0] for b in paper)):
        ctl.add(make_trial(f"t{i}"))
    (band,) = sched._hyperbands
    assert [(b._n, b._r, b._halves, len(b._live_trials), b.filled()) for b in band] == \
        [(b.rungs[0][0], b.rungs[0][1], len(b.rungs) - 1, b.rungs[0][0], True) for b in paper]
    assert isinstance(sched, PaperHyperBand)


def _drive(ctl, epoch, quality, max_reports):
    """Run trials as the scheduler chooses, one at a time; stop after ``max_reports``."""
    reports = 0
    while reports < max_reports:
        t = ctl.choose() or next((x for x in ctl.trials if x.status == "RUNNING"), None)
        if t is None:
            return reports
        while reports < max_reports:
            epoch[t.trial_id] += 1
            e = epoch[t.trial_id]
            reports += 1
            if ctl.report(t, res(e, 10 * quality[t.trial_id] - 1 / e)) != C:
                break
    return reports


def test_state_round_trip_keeps_brackets_across_a_restore():
    import pickle

    ladder = BudgetLadder(1, 27, 3)
    n_total = 27 + 12 + 6 + 4
    quality = dict(zip([f"q{i:02d}" for i in range(n_total)],
                       np.random.default_rng(1).permutation(n_total) / n_total, strict=True))
    whole, ctl = hb(ladder)
    for tid in quality:
        ctl.add(make_trial(tid))
    epoch_whole = dict.fromkeys(quality, 0)
    _drive(ctl, epoch_whole, quality, 10_000)

    first, ctl1 = hb(ladder)
    for tid in quality:
        ctl1.add(make_trial(tid))
    epoch = dict.fromkeys(quality, 0)
    _drive(ctl1, epoch, quality, 60)  # mid-way: bracket s=3 halved once, others waiting
    state = pickle.loads(pickle.dumps(first.get_state()))

    second = make_scheduler("hyperband", ladder, metric="acc", mode="max", seed=0)
    second.set_state(state)
    ctl2 = StubController(second)
    for old in sorted(ctl1.trials, key=lambda t: t.trial_id, reverse=True):  # Ray's order varies
        fresh = make_trial(old.trial_id)
        fresh.set_status("TERMINATED" if old.status == "TERMINATED" else "PENDING")
        ctl2.add(fresh)
    _drive(ctl2, epoch, quality, 10_000)

    assert all(t.status == "TERMINATED" for t in ctl2.trials)
    assert {t.trial_id: whole.bracket_of(t)[1] for t in ctl.trials} == \
        {tid: s for tid, s in ((t.trial_id, first.bracket_of(t)[1]) for t in ctl1.trials)}
    assert epoch == epoch_whole  # same trials reach the same epochs as without the restore


def test_finished_trials_re_added_after_restore_take_no_place():
    sched, ctl = hb()
    sched.set_state(sched.get_state())
    done = make_trial("done")
    done.set_status("TERMINATED")
    ctl.add(done)
    assert done not in sched._trial_info
