"""The method registry: every name resolves, overrides, errors name the valid choices."""
from __future__ import annotations

import pytest

from search_spaces import Categorical, Float, SearchSpace
from tuner.budget import BudgetLadder
from tuner.methods import (
    DEFAULT_METHOD,
    DEFAULT_WITHOUT_NUMERIC,
    METHODS,
    MF_SEARCHERS,
    MethodError,
    build_searcher,
    describe,
    resolve,
)
from tuner.mf_searcher import MultiFidelityTPE
from tuner.schedulers import SCHEDULERS

SPACE = SearchSpace({"x": Float(0, 1), "c": Categorical(("a", "b"))})


def test_every_method_resolves_to_its_pair():
    for name, (searcher, scheduler, text) in METHODS.items():
        assert resolve(name) == (searcher, scheduler)
        assert scheduler in SCHEDULERS and text


def test_required_methods_exist():
    assert {"random", "grid", "tpe", "asha", "hyperband", "bohb", "asha-tpe", "asha-hyperopt",
            "median", "pbt", "bayesopt", "pso"} <= set(METHODS)
    assert METHODS["bohb"][:2] == ("mf-tpe", "hyperband")
    assert METHODS["asha-tpe"][:2] == ("mf-tpe", "asha")
    assert METHODS["asha-hyperopt"][:2] == ("tpe", "asha")


def test_default_and_partial_specs():
    assert resolve() == METHODS[DEFAULT_METHOD][:2]
    assert resolve(scheduler="asha") == ("random", "asha")
    assert resolve(searcher="tpe") == ("tpe", "fifo")
    assert resolve("asha", searcher="tpe") == ("tpe", "asha")


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(MethodError, match="unknown method 'bohbb'; one of random, grid"):
        resolve("bohbb")
    with pytest.raises(MethodError, match="unknown scheduler 'sha'"):
        resolve(scheduler="sha")
    with pytest.raises(MethodError, match="searcher 'nope'.*mf-tpe"):
        resolve(searcher="nope")


def test_pbt_refuses_a_learning_searcher():
    with pytest.raises(MethodError, match="scheduler pbt"):
        resolve("pbt", searcher="tpe")


def test_build_searcher_gives_the_multi_fidelity_one_with_its_knobs():
    s = build_searcher("mf-tpe", SPACE, BudgetLadder(1, 9, 3), metric="loss", mode="min",
                       seed=0, points_to_evaluate=None, random_fraction=0.5)
    assert isinstance(s, MultiFidelityTPE) and s.random_fraction == 0.5
    assert set(MF_SEARCHERS) == {"mf-tpe"}


def test_build_searcher_delegates_the_rest():
    s = build_searcher("random", SPACE, BudgetLadder(1, 9, 3), metric="loss", mode="min",
                       seed=0, points_to_evaluate=[{"x": 0.5, "c": "a"}])
    assert s.suggest("t0") == {"x": 0.5, "c": "a"}
    with pytest.raises(MethodError, match="unavailable searcher 'nope'"):
        build_searcher("nope", SPACE, BudgetLadder(1, 9, 3), metric="loss", mode="min")


def test_describe_lists_every_method():
    text = describe()
    assert all(name in text for name in METHODS) and "(default)" in text


def test_default_falls_back_when_pso_cannot_move():
    assert resolve() == ("pso", "asha")
    assert resolve(space=SPACE) == ("pso", "asha")  # one numeric parameter is enough
    only_categorical = SearchSpace({"c": Categorical(("a", "b")), "d": Categorical((1, 2))})
    assert resolve(space=only_categorical) == METHODS[DEFAULT_WITHOUT_NUMERIC][:2]
    assert resolve("asha-pso", space=only_categorical) == ("pso", "asha")  # named: as asked
