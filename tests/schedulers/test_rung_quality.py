"""The rung-agreement measure on curves whose rung correlation is known, and the scheduler
that acts on it: it falls back to full fidelity on an instance built to mislead."""

from __future__ import annotations

import numpy as np
import pytest
from ray.tune.schedulers import TrialScheduler

from tuner.budget import BudgetLadder
from tuner.schedulers.rung_quality import RungAgreement, kendall_tau
from tuner.schedulers import make_scheduler
from tuner.schedulers.controller import make_trial


def _agreement(rho: float, n: int = 80, seed: int = 0) -> RungAgreement:
    """Rung-1 value = ρ·top + noise (Gaussian copula: Kendall τ = (2/π)·arcsin ρ)."""
    rng = np.random.default_rng(seed)
    agreement = RungAgreement([1, 3, 9, 27], 27)
    for i in range(n):
        top = rng.normal()
        low = rho * top + np.sqrt(1 - rho**2) * rng.normal()
        agreement.record(f"t{i}", 1, low)
        agreement.record(f"t{i}", 27, top)
    return agreement


@pytest.mark.parametrize("rho, misleads", [(0.95, False), (0.0, True), (-0.9, True)])
def test_measure_recovers_known_rung_correlation(rho, misleads):
    est = _agreement(rho).estimate(1)
    expected = 2 / np.pi * np.arcsin(rho)
    assert est.n == 80 and abs(est.tau - expected) < 2.5 * est.se
    assert _agreement(rho).misleads(1) is misleads
    assert not _agreement(rho).misleads(3)  # no pairs at rung 3: innocent until measured


def test_few_pairs_are_not_evidence_and_the_window_caps_the_history():
    assert not _agreement(-0.9, n=5).misleads(1)  # under min_pairs
    agreement = RungAgreement([1, 27], 27, window=16)
    for i in range(100):
        agreement.record(f"t{i}", 1, float(i))
        agreement.record(f"t{i}", 27, float(i))
    assert agreement.estimate(1).n == 16 and agreement.estimate(1).tau == pytest.approx(1.0)
    assert kendall_tau([1.0], [2.0]).n == 1


def test_a_trial_stopped_below_the_top_adds_no_pair():
    agreement = RungAgreement([1, 27], 27)
    agreement.record("a", 1, 0.5)
    agreement.forget("a")
    agreement.record("a", 27, 0.9)
    assert agreement.estimate(1).n == 0


LADDER = BudgetLadder(min=1, max=27, eta=3)


def _feed(name: str, inverted: bool, n: int = 60) -> tuple[object, list[str]]:
    """Trials whose rung values are their quality (or its reverse); each reports at every
    rung it is allowed to reach, one trial at a time."""
    sched = make_scheduler(name, LADDER, metric="acc", mode="max", seed=0)
    rng = np.random.default_rng(1)
    decisions, sched.reached_top = [], 0
    for i in range(n):
        trial = make_trial(f"t{i:03d}")
        sched.on_trial_add(None, trial)
        q = rng.random()
        for level in (1, 3, 9, 27):
            value = q if level == 27 or not inverted else 1 - q
            d = sched.on_trial_result(None, trial, {"training_iteration": level, "acc": value})
            decisions.append(d)
            sched.reached_top += level == 27
            if d == TrialScheduler.STOP or level == 27:
                sched.on_trial_complete(None, trial, {"acc": value})
                break
    return sched, decisions


def test_checked_asha_falls_back_to_full_fidelity_when_rungs_mislead():
    plain, _ = _feed("asha", inverted=True)
    checked, _ = _feed("asha-checked", inverted=True)
    assert checked.overruled > 0
    assert checked.reached_top > 3 * plain.reached_top  # most trials now reach the top
    assert all(checked.agreement.misleads(r) for r in (1, 3, 9))


def test_checked_asha_is_asha_where_rungs_agree():
    plain, a = _feed("asha", inverted=False)
    checked, b = _feed("asha-checked", inverted=False)
    assert a == b and checked.overruled == 0


def test_state_round_trip_keeps_the_measure():
    checked, _ = _feed("asha-checked", inverted=True)
    fresh = make_scheduler("asha-checked", LADDER, metric="acc", mode="max", seed=0)
    fresh.set_state(checked.get_state())
    assert fresh.agreement.pairs(1) == checked.agreement.pairs(1) != []
    assert fresh.agreement.misleads(1) and fresh.overruled == checked.overruled
