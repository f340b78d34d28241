"""The Pareto set, non-dominated sorting, MO-ASHA's ranking and hypervolume on hand-made points."""
from __future__ import annotations

import numpy as np
import pytest

from tuner.pareto import Objectives, dominates, fronts, hypervolume, pareto_mask, priority

# losses (lower is better on both); a: the knee, b/c: the ends, d: dominated by a, e: = a
POINTS = {"a": (2, 2), "b": (1, 5), "c": (5, 1), "d": (3, 3), "e": (2, 2), "f": (6, 6)}


def test_dominance_needs_one_strictly_better_objective():
    assert dominates((1, 2), (1, 3)) and dominates((1, 2), (2, 3))
    assert not dominates((1, 2), (1, 2))  # equal points do not dominate each other
    assert not dominates((1, 3), (2, 2)) and not dominates((2, 2), (1, 3))


def test_pareto_set_keeps_ties_and_drops_the_dominated():
    mask = pareto_mask(list(POINTS.values()))
    front = {k for k, keep in zip(POINTS, mask) if keep}
    assert front == {"a", "b", "c", "e"}


def test_non_dominated_sorting_peels_fronts():
    got = [sorted(np.array(list(POINTS))[f]) for f in fronts(list(POINTS.values()))]
    assert got == [["a", "b", "c", "e"], ["d"], ["f"]]


def test_priority_ranks_the_front_first_spread_out_and_ties_share_a_place():
    place = dict(zip(POINTS, priority(list(POINTS.values()))))
    assert place["a"] == place["e"]  # equal points, one place
    assert max(place[k] for k in "abce") < place["d"] < place["f"]
    # the ε-net starts at the best first objective (b), then the farthest point from it (c)
    assert (place["b"], place["c"]) == (0, 1) and place["a"] == 2


def test_priority_with_one_objective_is_the_sort():
    values = [[3.0], [1.0], [2.0], [1.0]]
    assert list(priority(values)) == [3, 0, 2, 0]


def test_priority_does_not_depend_on_an_objective_s_unit():
    pts = np.array([[0.1, 1e5], [0.2, 2e4], [0.3, 1e4], [0.12, 9e4]])
    scaled = pts * np.array([1.0, 1e-5])
    assert list(priority(pts)) == list(priority(scaled))


def test_hypervolume_by_hand_and_against_optuna():
    pts = [(1, 5), (2, 3), (3, 1), (4, 4)]
    # boxes to the reference (5, 6): [1,2]x[5,6] + [2,3]x[3,6] + [3,5]x[1,6] = 1 + 3 + 10
    assert hypervolume(pts, (5, 6)) == pytest.approx(14.0)
    assert hypervolume([(6, 6)], (5, 6)) == 0.0  # not better than the reference: nothing
    from optuna._hypervolume import compute_hypervolume

    rng = np.random.default_rng(0)
    cloud = rng.random((40, 3))
    exact = compute_hypervolume(cloud[pareto_mask(cloud)], np.ones(3))
    assert hypervolume(cloud, (1, 1, 1)) == pytest.approx(exact)


def test_objectives_turn_results_into_losses():
    obj = Objectives.of(["acc", "params"], ["max", "min"])
    assert list(obj.losses({"acc": 0.9, "params": 100})) == [-0.9, 100.0]
    assert obj.losses({"acc": 0.9}) is None  # missing
    assert obj.losses({"acc": float("nan"), "params": 1}) is None  # diverged
    assert obj.values([-0.9, 100.0]) == {"acc": 0.9, "params": 100.0}
    with pytest.raises(ValueError, match="2 metrics but 1 modes"):
        Objectives.of(["acc", "params"], ["max"])
    with pytest.raises(ValueError, match="named twice"):
        Objectives.of(["acc", "acc"], ["max", "max"])


def test_fronts_kept_as_points_arrive_agree_with_a_full_sort():
    """What MO-ASHA decides with (``RungFronts``, incremental) is ``priority``'s place of the
    newest point, on random streams with and without ties, in two and three dimensions."""
    from tuner.pareto import RungFronts

    rng = np.random.default_rng(1)
    for case in range(60):
        dims, n = int(rng.integers(2, 4)), int(rng.integers(1, 30))
        pts = rng.integers(0, 4, (n, dims)).astype(float) if case % 2 else rng.random((n, dims))
        rung = RungFronts()
        for i in range(n):
            rung.add(pts[i])
            assert rung.place_of_last() == priority(pts[:i + 1])[-1], (case, i)
        peeled = np.empty(n, dtype=int)
        for k, members in enumerate(fronts(pts)):
            peeled[members] = k
        assert (rung.front == peeled).all()
