"""Normalised hypervolume regret on hand-made fronts, which points a run keeps, and the Syne
Tune ranking that `syne-moasha` is measured with."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.mo_compare import front_arrivals
from benchmarks.mo_reference import Reference, Sample, regret_steps
from benchmarks.simulator import Trajectory
from tests.benchmarks.conftest import require_method
from tuner.pareto import Objectives, priority

# F* = {(0, 1), (0.5, 0.5), (1, 0)}: ideal (0, 0), worst (1, 1) — its nadir, as the sample's
# 90th percentile (0.8, 0.6) is better — so the reference point is (1.1, 1.1), and
# HV(F*) = 0.5·0.1 + 0.5·0.6 + 0.1·1.1 = 0.46 (sweep along the first loss)
FRONT = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
SAMPLE = Sample(FRONT[[0, 2]], np.array([0.8, 0.6]))
# a run: the nadir corner (0.1·0.1), a point beyond the box (adds nothing), the knee
# (0.6·0.6, dominating the corner), then an extreme (+0.5·0.1)
RUN = np.array([[1.0, 1.0], [2.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
EXPECTED = 1 - np.array([0.01, 0.01, 0.36, 0.41]) / 0.46


def test_regret_on_a_hand_made_front():
    ref = Reference.of(SAMPLE, RUN)  # the knee is found by the run, not by the sample
    assert sorted(map(tuple, ref.front)) == [(0, 1), (0.5, 0.5), (1, 0)]
    assert ref.ideal.tolist() == [0, 0] and ref.worst.tolist() == [1, 1]
    assert ref.point == [1.1, 1.1]
    assert ref.best == pytest.approx(0.46)
    assert regret_steps(RUN, ref) == pytest.approx(EXPECTED)


def test_regret_does_not_depend_on_units_or_offsets():
    """The scale runs from the ideal to the worst: a loss in other units gives the same
    regret."""
    a, b = np.array([100.0, 0.01]), np.array([-3.0, 7.0])
    ref = Reference.of(Sample(SAMPLE.front * a + b, SAMPLE.quantile * a + b), RUN * a + b)
    assert regret_steps(RUN * a + b, ref) == pytest.approx(EXPECTED)


def test_the_sample_quantile_widens_a_narrow_front():
    """A front spanning a sliver of one loss: the sample's quantile sets the worst there, so
    a point just past the front's nadir still adds volume."""
    drawn = Sample(np.array([[0.0, 1.0], [1.0, 0.9]]), np.array([0.5, 3.0]))
    ref = Reference.of(drawn)
    assert ref.worst.tolist() == [1.0, 3.0]
    corner = np.array([[1.0, 2.0]])  # worse than the front's nadir (0.9) on the second loss
    # scaled: (1, (2 − 0.9) / 2.1); reference (1.1, 1.1)
    assert ref.hypervolume(corner) == pytest.approx(0.1 * (1.1 - 1.1 / 2.1))
    assert 0 < regret_steps(corner, ref)[0] < 1


def test_three_objectives_and_a_run_without_points():
    ref = Reference.of(Sample(np.eye(3), np.zeros(3)))  # F*: unit vectors; ideal 0, worst 1
    steps = regret_steps(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 1.0]]), ref)
    assert steps[0] == pytest.approx(1 - 0.1**3 / ref.best)
    assert steps[1] < steps[0] and regret_steps(np.zeros((0, 3)), ref).size == 0


def test_front_arrivals_keeps_full_fidelity_points_in_budget_not_dominated_before():
    objectives = Objectives(("acc", "memory"), ("max", "min"))
    traj = Trajectory(budget=10.0)
    for spent, level, value in [(1, 3, (0.99, 1.0)),   # low fidelity: counts nowhere
                                (2, 9, (0.80, 50.0)),  # first full-fidelity point
                                (3, 9, (0.70, 60.0)),  # dominated by it: dropped
                                (4, 9, (0.80, 50.0)),  # equal: adds nothing, dropped
                                (5, 9, (0.90, 70.0)),  # a new trade-off: kept
                                (11, 9, (0.99, 1.0))]:  # crossed the budget: counts nowhere
        traj.spent.append(spent)
        traj.clock.append(10.0 * spent)
        traj.level.append(level)
        traj.value.append(value)
    kept = front_arrivals(traj, objectives, top=9)
    assert [(s, c) for s, c, _ in kept] == [(2, 20.0), (5, 50.0)]
    assert [p.tolist() for _, _, p in kept] == [[-0.8, 50.0], [-0.9, 70.0]]


def test_syne_tune_ranks_rungs_by_an_order_not_by_ranks():
    """The caveat on ``syne-moasha`` in docs/benchmarks.md: Syne Tune 0.16's
    ``NonDominatedPriority`` returns the points' order (an argsort), which its ``Bracket`` reads
    as each point's priority. If this fails, Syne Tune changed: revisit the caveat."""
    require_method("syne-moasha")
    from syne_tune.optimizer.schedulers.multiobjective.multiobjective_priority import (
        NonDominatedPriority,
    )

    points = np.array([[1.0, 1.0], [9.0, 9.0], [0.0, 0.0], [5.0, 5.0]])
    assert priority(points).tolist() == [1, 3, 0, 2]  # (0,0) first, (9,9) last
    assert NonDominatedPriority()(points).tolist() == [2, 0, 3, 1]  # = argsort of the ranks
