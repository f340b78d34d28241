"""Decision tables for MO-ASHA and HyperBand with MO-ASHA's ranking (no Ray)."""
from __future__ import annotations

import pytest
from ray.tune.schedulers import TrialScheduler

from tuner.budget import BudgetLadder
from tuner.schedulers import (ParetoASHA, ParetoHyperBand, SchedulerError, SeededASHA,
                              make_scheduler)
from tuner.schedulers.pareto_asha import continues

LADDER = BudgetLadder(1, 9, 3)  # rungs at 1, 3, 9
C, S = TrialScheduler.CONTINUE, TrialScheduler.STOP


class Trial:
    def __init__(self, i):
        self.trial_id, self.status, self.is_saving = f"t{i}", "PENDING", False

    def set_status(self, status):
        self.status = status


def mo_asha(**kw):
    return make_scheduler("asha", LADDER, metric=["acc", "params"], mode=["max", "min"], **kw)


def feed(sched, rows, epoch=1):
    """(acc, params) per trial, all reaching ``epoch`` in order → each decision."""
    trials = [Trial(i) for i in range(len(rows))]
    for t in trials:
        sched.on_trial_add(None, t)
    return [sched.on_trial_result(None, t, {"training_iteration": epoch, "acc": a,
                                            "params": p}) for t, (a, p) in zip(trials, rows)]


def test_the_names_build_the_multi_objective_schedulers():
    assert isinstance(mo_asha(), ParetoASHA)
    assert isinstance(make_scheduler("hyperband", LADDER, metric=["a", "b"],
                                     mode=["max", "min"]), ParetoHyperBand)
    one = make_scheduler("asha", LADDER, metric=["acc"], mode=["max"])
    assert type(one) is SeededASHA  # a list of one is one objective


@pytest.mark.parametrize("name", ["pbt", "pb2", "median", "asha-checked", "asha-promotion"])
def test_single_objective_schedulers_are_refused_naming_those_that_take_several(name):
    with pytest.raises(SchedulerError, match="takes one objective.*fifo, asha, hyperband"):
        make_scheduler(name, LADDER, metric=["a", "b"], mode=["max", "min"])


def test_decision_table_a_dominated_trial_stops_a_trial_on_the_front_continues():
    rows = [(0.90, 500),   # first at the rung: continues
            (0.80, 600),   # dominated by the first (worse on both): stops
            (0.95, 50),    # dominates everything seen: continues
            (0.50, 10),    # on the front (smallest), 4 points: top 4/3 → place 0 or 1
            (0.85, 550)]   # dominated: stops
    assert feed(mo_asha(), rows) == [C, S, C, C, S]


def test_the_trade_off_survives_where_one_objective_would_stop_it():
    # accuracy alone (ASHA) stops the small model: its accuracy is the lowest of four
    rows = [(0.95, 900), (0.93, 800), (0.94, 850), (0.70, 5)]
    single = make_scheduler("asha", LADDER, metric="acc", mode="max")
    trials = [Trial(i) for i in range(4)]
    for t in trials:
        single.on_trial_add(None, t)
    alone = [single.on_trial_result(None, t, {"training_iteration": 1, "acc": a})
             for t, (a, _) in zip(trials, rows)]
    assert alone[3] == S
    assert feed(mo_asha(), rows)[3] == C  # on the front, the ε-net's far end: continues


def test_judged_once_per_rung_and_stopped_at_the_top_and_on_nan():
    sched = mo_asha()
    t = Trial(0)
    sched.on_trial_add(None, t)
    assert sched.on_trial_result(None, t, {"training_iteration": 1, "acc": .5, "params": 9}) == C
    assert sched.on_trial_result(None, t, {"training_iteration": 2, "acc": .1, "params": 9}) == C
    assert sched.on_trial_result(None, t, {"training_iteration": 9, "acc": .9, "params": 9}) == S
    u = Trial(1)
    sched.on_trial_add(None, u)
    nan = {"training_iteration": 1, "acc": float("nan"), "params": 9}
    assert sched.on_trial_result(None, u, nan) == S
    assert "t1" not in sched.recorded()[1]  # a diverged trial ranks nowhere
    missing = {"training_iteration": 1, "acc": 0.5}
    assert sched.on_trial_result(None, Trial(2), missing) == C  # not ours to judge


def test_the_rule_with_one_objective_is_asha_s_cut():
    # top 1 of 2 and 3, 2 of 4, 3 of 9 continue (Ray's stopping ASHA at eta 3)
    for n, keep in ((2, 1), (3, 1), (4, 2), (9, 3)):
        seen = [[float(v)] for v in range(1, n)]
        decided = [continues(seen, [v - 0.5], 3) for v in range(1, n + 1)]
        assert sum(decided) == keep, n


def test_state_round_trip_decides_the_same():
    rows = [(0.9, 500), (0.8, 600), (0.95, 50)]
    a = mo_asha()
    feed(a, rows)
    b = mo_asha()
    b.set_state(a.get_state())
    nxt = Trial(7)
    for s in (a, b):
        s.on_trial_add(None, nxt)
    result = {"training_iteration": 1, "acc": 0.85, "params": 400}
    assert a.on_trial_result(None, nxt, dict(result)) == b.on_trial_result(None, nxt, result)
    assert a.recorded() == b.recorded()


def test_hyperband_keeps_the_front_at_a_rung():
    hb = make_scheduler("hyperband", LADDER, metric=["acc", "params"], mode=["max", "min"])
    bracket = hb._create_bracket(0)
    results = {"a": (0.9, 900), "b": (0.5, 10), "c": (0.6, 950), "d": (float("nan"), 1)}
    trials = {k: Trial(k) for k in results}
    bracket._live_trials = {trials[k]: {"acc": a, "params": p} for k, (a, p) in results.items()}
    order = [t.trial_id for t in bracket.ranked("acc", 1.0)]
    assert order[:2] in (["ta", "tb"], ["tb", "ta"])  # the front first
    assert order[2:] == ["tc", "td"]  # then the dominated, NaN last
