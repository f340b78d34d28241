"""``benchmarks.goals``: the goal table is computed from a compare folder, not asserted."""
from __future__ import annotations

import csv

import numpy as np

from benchmarks.goals import goals, main

GRID = np.geomspace(1, 100, 20)


def _write(tmp_path, final: dict[str, float], reach: dict[str, float]):
    """Two instances × 2 seeds; each method's regret falls from 1 to ``final`` at ``reach`` s."""
    with open(tmp_path / "runs.csv", "w", newline="") as f, \
            open(tmp_path / "curves.csv", "w", newline="") as g:
        runs, curves = csv.writer(f), csv.writer(g)
        runs.writerow(["instance", "method", "seed", "regret_100"])
        curves.writerow(["instance", "method", "seed", "axis", "x", "regret"])
        for inst in ("a/1", "b/2"):
            for seed in (0, 1):
                for m, r in final.items():
                    runs.writerow([inst, m, seed, r + 0.001 * seed])
                    for x in GRID:
                        curves.writerow([inst, m, seed, "sim_seconds", x,
                                         1.0 if x < reach[m] else r + 0.001 * seed])


def test_goals_met_and_not_met(tmp_path):
    _write(tmp_path, {"random": 0.5, "optuna-tpe": 0.2, "ours": 0.1},
           {"random": 90, "optuna-tpe": 30, "ours": 5})
    table = goals(tmp_path, "ours")
    assert "| best mean rank against every peer | 1.00 vs optuna-tpe 2.00 | **met** |" in table
    assert "0.1005 vs optuna-tpe 0.2005: 50% below | **met** |" in table
    speed = [line for line in table.splitlines() if line.startswith("| ≥ 10×")][0]
    assert "**met**" in speed  # random needs ~90 s, ours ~5 s

    _write(tmp_path, {"random": 0.5, "optuna-tpe": 0.12, "ours": 0.1},
           {"random": 90, "optuna-tpe": 30, "ours": 30})
    table = goals(tmp_path, "ours")
    assert "17% below | **not met** |" in table
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
        w.writerow(["instance", "method", "seed", "regret_100"])
        w.writerows([["a/1", "ray-hyperopt-asha", 1, 0.3],
                     ["b/2", "ray-hyperopt-asha", 1, 0.05]])
    table = goals([main_run, peer_run], "ours")
    assert "2 instances, 1–1 seeds per instance, 3 methods" in table
    assert "| ray-hyperopt-asha | 1.50 | 0.1750 | — | 50% of runs |" in table
    assert "| ≥ 10× speed-up over random (geo-mean) | — (one folder only) | |" in table
