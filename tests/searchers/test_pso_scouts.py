"""Scouts (issue 21): a share of PSO's new trials are uniform draws, the default method's
searcher runs with half of them, and runs started before that resume unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from search_spaces import Float, SearchSpace, SpaceError
from tuner.compose.methods import DEFAULT_METHOD, METHODS, searcher_options
from tuner.launch.preflight import resume_changes
from tuner.searchers import make_searcher

SPACE = SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(3)})


def positions(fraction: float, n: int = 400, seed: int = 0) -> tuple[int, float]:
    """(proposals that were a particle's position, mean loss of the last 100) on a sphere
    around 0.2, every trial completing at once."""
    pso = make_searcher("pso", SPACE, metric="loss", mode="min", seed=seed, n_particles=8,
                        scout_fraction=fraction)
    on_swarm, losses = 0, []
    for i in range(n):
        swarm = {tuple(np.round(p, 12)) for p in pso.x}
        cfg = pso.suggest(f"t{i}")
        x = np.array([cfg[f"x{j}"] for j in range(3)])
        on_swarm += tuple(np.round(x, 12)) in swarm
        loss = float(((x - 0.2) ** 2).sum())
        losses.append(loss)
        pso.on_trial_complete(f"t{i}", {"loss": loss, "training_iteration": 1})
    return on_swarm, float(np.mean(losses[-100:]))


def test_without_scouts_every_proposal_is_a_particle():
    assert positions(0.0)[0] == 400


def test_half_the_proposals_are_scouts_and_the_swarm_still_converges():
    on_swarm, late = positions(0.5)
    assert 150 <= on_swarm <= 250  # ~half; the rest uniform draws
    uniform = float(((np.random.default_rng(0).random((10_000, 3)) - 0.2) ** 2).sum(1).mean())
    # the swarm's half closes in on the optimum: the late mean is well below uniform sampling's
    assert late < 0.75 * uniform


def test_scouts_are_seeded():
    assert positions(0.5, n=60, seed=1) == positions(0.5, n=60, seed=1)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5])
def test_a_scout_fraction_outside_0_1_is_refused(bad):
    with pytest.raises(SpaceError, match="scout_fraction must be in"):
        make_searcher("pso", SPACE, metric="loss", mode="min", seed=0, scout_fraction=bad)


def test_the_default_method_runs_half_scouts_and_the_user_setting_wins():
    assert METHODS[DEFAULT_METHOD][0] == "pso"
    assert searcher_options(DEFAULT_METHOD, "pso") == {"scout_fraction": 0.5}
    assert searcher_options(DEFAULT_METHOD, "pso", {"scout_fraction": 0.0}) == {
        "scout_fraction": 0.0}
    assert searcher_options(DEFAULT_METHOD, "hyperopt-tpe") == {}  # searcher swapped
    assert searcher_options("asha-checked-pso", "pso") == {}


def test_an_experiment_with_no_method_gets_the_defaults_scouts(tmp_path):
    from tuner.experiment.config import load_experiment

    path = tmp_path / "exp.yaml"
    path.write_text("name: e\ntrainable: mlp\nconfig: {dataset: digits}\n"
                    "space: {lr: {type: float, low: 1.0e-4, high: 1.0e-1, log: true}}\n"
                    "budget: {min: 1, max: 9, eta: 3}\nmetric: val_accuracy\nmode: max\n"
                    "num_samples: 4\n")
    exp = load_experiment(path)
    assert (exp.searcher, exp.scheduler) == METHODS[DEFAULT_METHOD][:2]
    assert exp.searcher_options == {"scout_fraction": 0.5}
    exp = load_experiment(path, ["searcher.scout_fraction=0.25"])
    assert exp.searcher_options == {"scout_fraction": 0.25}


def test_a_run_started_before_the_scouts_resumes():
    before = {"searcher": {"name": "pso"}, "seed": 0}
    assert resume_changes(before, {"searcher": {"name": "pso", "scout_fraction": 0.5},
                                   "seed": 0}) == []
    changed = {"searcher": {"name": "pso", "scout_fraction": 0.25}}
    assert resume_changes({"searcher": {"name": "pso", "scout_fraction": 0.5}}, changed)
