"""The headline is the best *full-fidelity* result; a result crossing the budget counts nowhere."""

from __future__ import annotations

import math

import numpy as np

from benchmarks import compare, synthetic, yahpo
from benchmarks.simulator import Trajectory


def test_incumbent_ignores_low_fidelity_and_the_result_that_crosses_the_budget():
    traj = Trajectory(budget=10.0, spent=[1, 2, 5, 9, 11], clock=[1, 2, 3, 4, 5],
                      value=[0.99, 0.50, 0.97, 0.60, 0.95], level=[1, 27, 3, 27, 27])
    full = traj.incumbent("max", level=27)
    assert math.isnan(full[0])
    assert list(full[1:]) == [0.50, 0.50, 0.60, 0.60]  # 0.95 came after the budget ran out
    assert list(traj.incumbent("max")) == [0.99] * 5
    assert list(Trajectory(budget=10.0, spent=[1, 2], clock=[1, 2], value=[0.3, 0.1],
                           level=[27, 27]).incumbent("min", level=27)) == [0.3, 0.1]


def test_run_one_headline_does_not_credit_a_low_fidelity_value(monkeypatch):
    """Every low-rung value (≥ 0.6) beats every full-fidelity one (≤ 0.9 only at the optimum,
    far lower for what ASHA promotes): only full-fidelity results may set the headline."""
    bench = synthetic.MisleadingFidelity()
    monkeypatch.setattr(yahpo, "load", lambda name: bench)
    row, fracs, runs = compare.run_one("misleading/3d", "asha", 0, 2)
    assert row["any_regret_100"] < 0  # a 1/27-data value above the full-data maximum
    assert row["regret_100"] > row["any_regret_100"]
    clock, regret = runs["full"]
    assert regret[-1] == row["regret_100"] == fracs["full"][-1]
    assert (np.asarray(regret) >= 0).all()  # full fidelity cannot beat its own maximum
    best_full = 0.9 - 0.4 * row["regret_100"]
    assert 0.5 <= best_full <= 0.9


def test_summary_ranks_on_full_fidelity():
    rows = [{"instance": "a/1", "method": m, "seed": 0, "regret_25": r, "regret_50": r,
             "regret_100": r, "any_regret_100": a}
            for m, r, a in (("ours", 0.2, -0.1), ("peer", 0.1, 0.1))]
    table = compare.summarise(rows, {}, {}, {}, ["ours", "peer"], ["a/1"])
    lines = table.splitlines()
    assert lines[2].startswith("| peer | 0.1000 | 0.1000 | 0.1000 | 1.00 | — |")
    assert lines[3].startswith("| ours | 0.2000 |") and lines[3].endswith("| -0.1000 |")
    assert "any-fidelity regret 100 % (secondary)" in lines[0]


def test_the_default_falls_back_on_an_instance_built_to_mislead(monkeypatch):
    """Low rungs rank backwards: asha-pso follows them to the worst configurations; the
    default (asha-pso + the rung check) runs trials to full fidelity once the rungs are
    measured to mislead."""
    from tuner.compose.methods import DEFAULT_METHOD

    assert DEFAULT_METHOD == "asha-checked-pso-scouts"
    bench = synthetic.MisleadingFidelity()
    monkeypatch.setattr(yahpo, "load", lambda name: bench)
    plain = [compare.run_one("misleading/3d", "asha-pso", s, 4)[0] for s in (0, 1)]
    checked = [compare.run_one("misleading/3d", DEFAULT_METHOD, s, 4)[0] for s in (0, 1)]
    for p, c in zip(plain, checked):
        assert c["regret_100"] < 0.5 * p["regret_100"]
        assert c["trials"] < 0.5 * p["trials"]  # most trials were run to the top
