"""The registry, ``check_searcher_space``, and fast checks of the GP searcher (its full
contract run is marked slow: one GP step costs ~0.3-2 s here)."""

from __future__ import annotations

import math

import pytest

from search_spaces import Categorical, Fixed, Float, Int, SearchSpace, SpaceError, load_space
from tuner.searchers import SEARCHERS, check_searcher_space, make_searcher
from tuner.searchers.tpe import _Tree


def test_registry_names():
    assert set(SEARCHERS) == {"random", "grid", "hyperopt-tpe", "bayesopt", "optuna-tpe",
                              "optuna-nsga2", "pso"}


def test_unknown_searcher_lists_the_names():
    space = load_space("digits_mlp")
    for call in (make_searcher, check_searcher_space):
        with pytest.raises(KeyError, match="unknown searcher 'tpee'; one of bayesopt, grid, "):
            call("tpee", space)


def test_grid_refuses_a_float_without_step():
    space = SearchSpace({"lr": Float(1e-4, 0.1, log=True), "depth": Int(1, 3)})
    with pytest.raises(
        SpaceError, match="grid: lr: a continuous float range has no grid; give it a 'step'"
    ):
        check_searcher_space("grid", space)


def test_pso_refuses_an_all_categorical_space():
    space = SearchSpace(
        {"opt": Categorical(["sgd", "adam"]), "act": Categorical(["relu"]), "epochs": Fixed(3)}
    )
    message = "pso: PSO needs at least one numeric .* categorical \\(opt, act\\)"
    with pytest.raises(SpaceError, match=message):
        check_searcher_space("pso", space)
    with pytest.raises(SpaceError, match=message):
        make_searcher("pso", space, metric="loss", mode="min")


@pytest.mark.parametrize("name", sorted(SEARCHERS))
def test_every_searcher_accepts_the_bundled_spaces(name):
    for bundled in ("digits_mlp", "digits_mlp_conditional"):
        space = load_space(bundled)
        if name == "grid":
            with pytest.raises(SpaceError):
                check_searcher_space(name, space)
        else:
            check_searcher_space(name, space)


def test_warm_start_points_are_checked_and_completed():
    space = load_space("digits_mlp")
    point = {
        "lr": 0.01,
        "weight_decay": 1e-4,
        "hidden": 64,
        "depth": 2,
        "dropout": 0.1,
        "batch_size": 32,
    }
    searcher = make_searcher("random", space, metric="loss", mode="min", points_to_evaluate=[point])
    assert searcher.suggest("t0") == {**point, "optimizer": "adam"}  # fixed value filled in
    with pytest.raises(SpaceError, match="lrr: not a parameter of this space"):
        make_searcher("random", space, points_to_evaluate=[{**point, "lrr": 0.1}])
    with pytest.raises(SpaceError, match=": missing \\(active in this config\\)"):
        make_searcher("random", space, points_to_evaluate=[{"lr": 0.01}])


def test_bad_mode_is_refused():
    with pytest.raises(ValueError, match="mode must be 'min' or 'max', got 'minimise'"):
        make_searcher("random", load_space("digits_mlp"), metric="loss", mode="minimise")


@pytest.mark.parametrize("name", ["hyperopt-tpe", "optuna-tpe", "bayesopt", "pso"])
def test_model_based_searchers_need_a_metric(name):
    searcher = make_searcher(name, load_space("digits_mlp"))
    with pytest.raises(RuntimeError, match="needs metric and mode before suggesting"):
        searcher.suggest("t0")


@pytest.mark.parametrize(
    "name", ["hyperopt-tpe", "optuna-tpe", pytest.param("bayesopt", marks=pytest.mark.slow), "pso"]
)
def test_mode_max_maximises(name):
    """The same metric x, maximised and then minimised: late suggestions move apart."""
    late = {}
    for mode in ("max", "min"):
        searcher = make_searcher(
            name,
            SearchSpace({"x": Float(0.0, 1.0)}),
            metric="x",
            mode=mode,
            seed=0,
            **({"n_particles": 4} if name == "pso" else {"n_startup": 4}),
        )
        xs = []
        for i in range(16):
            x = searcher.suggest(f"t{i}")["x"]
            searcher.on_trial_complete(f"t{i}", {"x": x})
            xs.append(x)
        assert searcher.observations[0][1] == (-xs[0] if mode == "max" else xs[0])
        late[mode] = sum(xs[-6:]) / 6
    assert late["max"] > late["min"] + 0.2, late


def test_tpe_tree_puts_children_under_their_branch():
    tree = _Tree(load_space("digits_mlp_conditional"))
    labels = {n.label for n in tree.nodes}
    assert {
        "optimizer",
        "momentum|optimizer=0",
        "weight_decay|optimizer=0",
        "weight_decay|optimizer=2",
        "lr",
    } <= labels
    config = {
        "optimizer": "sgd",
        "lr": 0.01,
        "momentum": 0.9,
        "nesterov": True,
        "weight_decay": 1e-4,
        "hidden": 64,
        "depth": 2,
        "dropout": 0.1,
        "batch_size": 32,
    }
    vals = tree.encode(config)
    assert vals["optimizer"] == [0] and vals["weight_decay|optimizer=2"] == []
    assert tree.decode(vals) == config


def _tiny() -> SearchSpace:
    return SearchSpace(
        {
            "c": Categorical(["a", "b"]),
            "x": Float(0.0, 1.0),
            "y": Float(1e-3, 1.0, log=True, when={"c": "a"}),
            "n": Int(1, 8, log=True),
        }
    )


def _drive(searcher, n: int) -> list[dict]:
    configs = []
    for i in range(n):
        config = searcher.suggest(f"t{i}")
        loss = (config["x"] - 0.3) ** 2 + (0 if config["c"] == "a" else 1) + config["n"] / 8
        if i == 4:
            searcher.on_trial_complete(f"t{i}", {"loss": math.nan})
        else:
            searcher.on_trial_complete(f"t{i}", {"loss": loss}, error=(i == 5))
        configs.append(config)
    return configs


def test_bayesopt_quick_contract():
    """Warm start, conditionals, NaN and errored trials, seeding and pending trials — small."""
    space = _tiny()
    point = {"c": "a", "x": 0.5, "y": 0.01, "n": 2}
    make = lambda: make_searcher(
        "bayesopt",
        space,
        metric="loss",
        mode="min",
        seed=1,
        n_startup=3,
        points_to_evaluate=[point],
    )
    first = _drive(make(), 6)
    assert first[0] == point
    for config in first:
        space.validate_config(config)
    searcher = make()
    assert _drive(searcher, 6) == first
    pending = [searcher.suggest(f"p{i}") for i in range(2)]  # qLogEI over running trials
    for config in pending:
        space.validate_config(config)
