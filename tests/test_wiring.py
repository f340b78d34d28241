"""``tuner.compose.wiring.wire`` builds searcher + scheduler + limit, and both paths go through it."""

from __future__ import annotations

import pytest

from search_spaces import Float, SearchSpace
from tuner.compose import wiring
from tuner.budget import BudgetLadder
from tuner.experiment.config import parse_experiment

SPACE = SearchSpace({"x": Float(-5.0, 5.0), "y": Float(0.0, 1.0)})
LADDER = BudgetLadder(min=1, max=9, eta=3)


def test_wire_passes_the_warm_start_and_the_space_and_sizes_the_limit():
    w = wiring.wire("hyperopt-tpe", "pbt", SPACE, LADDER, metric="loss", mode="min", seed=0, slots=2,
                    num_samples=6, points_to_evaluate=[{"x": 1.0, "y": 0.5}])
    assert w.searcher.suggest("t0") == {"x": 1.0, "y": 0.5}  # the warm start comes first
    assert w.max_concurrent == 6 and w.pausing  # PBT: room for the whole population
    w = wiring.wire("random", "hyperband", SPACE, LADDER, metric="loss", mode="min", seed=0,
                    slots=2)
    assert w.max_concurrent == 9  # the largest bracket, not the 2 slots
    w = wiring.wire("pso", "asha", SPACE, LADDER, metric="loss", mode="min", seed=0, slots=4,
                    searcher_options={"n_particles": 5}, scheduler_options={})
    assert len(w.searcher.x) == 5
    assert w.max_concurrent == 4 and not w.pausing


@pytest.fixture
def spy(monkeypatch):
    calls = []
    real = wiring.wire

    def recording(*args, **kwargs):
        calls.append((args[:2], kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(wiring, "wire", recording)
    return calls


def test_the_simulator_builds_our_methods_through_wire(spy):
    from benchmarks import peers, synthetic

    setup = peers.build("asha-pso", synthetic.SyntheticCurves(), seed=0, workers=3)
    assert [c[0] for c in spy] == [("pso", "asha")] and spy[0][1]["slots"] == 3
    assert setup.wiring == {"max_concurrent": 3, "max_pending": 3}


def test_tuner_launch_builds_through_wire(spy, monkeypatch, tmp_path):
    import ray

    from tuner.launch import runner

    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0})
    exp = parse_experiment({
        "name": "wired", "trainable": "benchmarks.trivial:Trivial",
        "space": {"x": {"type": "float", "low": -5, "high": 5}, "y": 0.0},
        "searcher": "hyperopt-tpe", "scheduler": "asha", "budget": {"min": 1, "max": 9, "eta": 3},
        "metric": "loss", "mode": "min", "num_samples": 4, "seed": 0,
        "points_to_evaluate": [{"x": 1.0}], "storage": str(tmp_path)})

    class Quiet:
        retries = 0

        def write(self, line):
            pass

    tuner = runner._build_tuner(exp, False, Quiet())
    assert [c[0] for c in spy] == [("hyperopt-tpe", "asha")]
    kwargs = spy[0][1]
    assert kwargs["slots"] == 2 and kwargs["points_to_evaluate"][0]["x"] == 1.0
    assert kwargs["num_samples"] == 4
    assert tuner._local_tuner._tune_config.max_concurrent_trials == 2
