"""``asha-pso``: PSO moved by the last rung each trial reached, under ASHA (no Ray needed).

Runs in the benchmark's simulated-time runner on free synthetic learning curves, with the
searcher and scheduler ``tuner launch`` builds for the method.
"""
from __future__ import annotations

import numpy as np

from benchmarks import peers, simulator
from benchmarks.synthetic import SyntheticCurves
from tuner.compose.methods import METHODS, resolve


def _final_regret(method: str, seed: int, bench) -> tuple[float, object]:
    setup = peers.build(method, bench, seed=seed, workers=4)
    traj = simulator.simulate(setup.task, setup.searcher, setup.scheduler, workers=4,
                              budget=bench.budget(), **setup.wiring)
    values = traj.arrays()["value"]
    return bench.regret(values.max()), setup.searcher


def test_asha_pso_is_pso_under_asha():
    assert resolve("asha-pso") == ("pso", "asha") == METHODS["asha-pso"][:2]


def test_stopped_trials_move_the_swarm_and_it_beats_random_asha():
    bench = SyntheticCurves(max_epochs=27, dim=4)
    ours, random_asha = [], []
    for seed in range(5):
        regret, searcher = _final_regret("asha-pso", seed, bench)
        ours.append(regret)
        random_asha.append(_final_regret("asha", seed, bench)[0])
        pso = searcher
        # every trial ASHA stopped was reported back: only the ones still running when the
        # budget ran out (at most one per worker) are out
        assert len(pso._busy) <= 4
        assert np.isfinite(pso.pbest_loss).all() and pso.gbest_x is not None
    assert np.mean(ours) < 0.5 * np.mean(random_asha), (ours, random_asha)
