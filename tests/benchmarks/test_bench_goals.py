"""``benchmarks.goals``: the goal table is computed from a compare folder, not asserted."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from benchmarks.goals import goals, main

GRID = np.geomspace(1, 100, 20)


def _write(tmp_path, final: dict[str, float], reach: dict[str, float]):
    """Two instances × 2 seeds; each method's regret falls from 1 to ``final`` at ``reach`` s."""
    with open(tmp_path / "runs.csv", "w", newline="") as f, \
            open(tmp_path / "curves.csv", "w", newline="") as g:
        runs, curves = csv.writer(f), csv.writer(g)
        runs.writerow(["instance", "method", "seed", "regret_100", "any_regret_100"])
        curves.writerow(["instance", "method", "seed", "axis", "x", "regret"])
        for inst in ("a/1", "b/2"):
            for seed in (0, 1):
                for m, r in final.items():
                    # any fidelity: better-looking, in the reverse order (must not rank)
                    runs.writerow([inst, m, seed, r + 0.001 * seed, -r])
                    for x in GRID:
                        curves.writerow([inst, m, seed, "sim_seconds", x,
                                         1.0 if x < reach[m] else r + 0.001 * seed])


def test_goals_met_and_not_met(tmp_path):
    _write(tmp_path, {"random": 0.5, "optuna-study-tpe": 0.2, "ours": 0.09},
           {"random": 90, "optuna-study-tpe": 30, "ours": 5})
    table = goals(tmp_path, "ours")
    assert "| best mean rank against every peer | 1.00 vs optuna-study-tpe 2.00 | **met** |" in table
    assert "| mean regret ≤ 0.5 × the best peer's | 0.0905 vs optuna-study-tpe 0.2005: 0.45× | " \
        "**met** |" in table
    assert "| **ours** | 1.00 | 0.0905 |" in table and "| 3.00 | -0.0900 |" in table
    assert "worst: a/1 0.0905 vs optuna-study-tpe 0.2005 (-0.1100); 0 of 2 instances over | " \
        "**met** |" in table
    speed = [line for line in table.splitlines() if line.startswith("| ≥ 10×")][0]
    assert "**met**" in speed  # random needs ~90 s, ours ~5 s

    _write(tmp_path, {"random": 0.5, "optuna-study-tpe": 0.12, "ours": 0.1},
           {"random": 90, "optuna-study-tpe": 30, "ours": 30})
    table = goals(tmp_path, "ours")
    assert "0.1005 vs optuna-study-tpe 0.1205: 0.83× | **not met** |" in table
    assert [line for line in table.splitlines() if line.startswith("| ≥ 10×")][0].endswith(
        "**not met** |")


def test_missing_folder_is_a_user_error(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    assert "runs.csv not found" in capsys.readouterr().err


def test_several_folders_are_paired_on_common_seeds(tmp_path):
    main_run, peer_run = tmp_path / "main", tmp_path / "peer"
    main_run.mkdir()
    peer_run.mkdir()
    _write(main_run, {"random": 0.5, "ours": 0.1}, {"random": 90, "ours": 5})
    with open(peer_run / "runs.csv", "w", newline="") as f:  # a peer run on seed 1 only
        w = csv.writer(f)
        w.writerow(["instance", "method", "seed", "regret_100", "any_regret_100"])
        w.writerows([["a/1", "ray-hyperopt-asha", 1, 0.3, 0.3],
                     ["b/2", "ray-hyperopt-asha", 1, 0.05, 0.05]])
    table = goals([main_run, peer_run], "ours")
    assert "2 instances, 1–1 seeds per instance, 3 methods" in table
    assert "| ray-hyperopt-asha | 1.50 | 0.1750 | — | 50% of runs |" in table
    # b/2: ours 0.101 vs the peer's 0.05 — more than 0.01 worse on one instance
    assert "worst: b/2 0.1010 vs ray-hyperopt-asha 0.0500 (+0.0510); 1 of 2 instances over | " \
        "**not met** |" in table
    assert "| ≥ 10× speed-up over random (geo-mean) | — (one folder only) | |" in table


def test_a_folder_from_before_the_full_fidelity_headline_is_refused(tmp_path):
    with open(tmp_path / "runs.csv", "w", newline="") as f:
        csv.writer(f).writerows([["instance", "method", "seed", "regret_100"],
                                 ["a/1", "random", 0, 0.5]])
    with pytest.raises(SystemExit, match="predates the full-fidelity headline"):
        goals(tmp_path, "random")
