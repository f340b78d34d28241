"""The method registry: every name resolves, overrides, errors name the valid choices."""
from __future__ import annotations

import pytest

from search_spaces import Categorical, Float, SearchSpace
from tuner.budget import BudgetLadder
from tuner.compose.methods import (
    DEFAULT_METHOD,
    DEFAULT_WITHOUT_NUMERIC,
    METHODS,
    MF_SEARCHERS,
    MethodError,
    build_searcher,
    describe,
    resolve,
)
from tuner.searchers.mf_tpe import MultiFidelityTPE
from tuner.schedulers import SCHEDULERS

SPACE = SearchSpace({"x": Float(0, 1), "c": Categorical(("a", "b"))})


# What each method means, written out here rather than read from METHODS (which resolve reads
# too): a wrong pair in the registry, or a resolve that drops the method, fails this table. A new
# method needs its line here.
PAIRS = {
    "random": ("random", "fifo"), "grid": ("grid", "fifo"),
    "hyperopt-tpe": ("hyperopt-tpe", "fifo"), "optuna-tpe": ("optuna-tpe", "fifo"),
    "bayesopt": ("bayesopt", "fifo"), "pso": ("pso", "fifo"),
    "asha": ("random", "asha"), "asha-hyperopt-tpe": ("hyperopt-tpe", "asha"),
    "asha-mf-optuna-tpe": ("mf-optuna-tpe", "asha"), "asha-pso": ("pso", "asha"),
    "asha-checked-pso": ("pso", "asha-checked"),
    "asha-checked-pso-scouts": ("pso", "asha-checked"),
    "asha-pso-2brackets": ("pso", "asha"),
    "asha-promotion": ("random", "asha-promotion"), "asha-promotion-pso": ("pso", "asha-promotion"),
    "hyperband": ("random", "hyperband"), "bohb": ("mf-optuna-tpe", "hyperband"),
    "median": ("random", "median"), "pbt": ("random", "pbt"), "pb2": ("random", "pb2"),
    "optuna-nsga2": ("optuna-nsga2", "fifo"), "asha-optuna-tpe": ("optuna-tpe", "asha"),
}


def test_every_method_resolves_to_its_pair():
    assert {name: resolve(name) for name in METHODS} == PAIRS
    for name, (searcher, scheduler) in PAIRS.items():  # an explicit part overrides the method's
        other = "grid" if searcher == "random" else "random"
        assert resolve(name, searcher=other) == (other, scheduler)
        assert resolve(name, scheduler="fifo") == (searcher, "fifo")
    assert all(text for _, _, text in METHODS.values())


def test_required_methods_exist():
    assert {"random", "grid", "hyperopt-tpe", "optuna-tpe", "asha", "hyperband", "bohb",
            "asha-mf-optuna-tpe", "asha-hyperopt-tpe", "median", "pbt", "bayesopt",
            "pso"} <= set(METHODS)
    assert METHODS["bohb"][:2] == ("mf-optuna-tpe", "hyperband")
    assert METHODS["asha-mf-optuna-tpe"][:2] == ("mf-optuna-tpe", "asha")
    assert METHODS["asha-hyperopt-tpe"][:2] == ("hyperopt-tpe", "asha")
    assert METHODS["optuna-tpe"][:2] == ("optuna-tpe", "fifo")


def test_default_and_partial_specs():
    assert resolve() == METHODS[DEFAULT_METHOD][:2]
    assert resolve(scheduler="asha") == ("random", "asha")
    # only a searcher: the default method's scheduler (the rung-checked ASHA)
    assert resolve(searcher="hyperopt-tpe") == ("hyperopt-tpe", "asha-checked")
    assert resolve("asha", searcher="hyperopt-tpe") == ("hyperopt-tpe", "asha")


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(MethodError, match="unknown method 'bohbb'; one of random, grid"):
        resolve("bohbb")
    with pytest.raises(MethodError, match="unknown scheduler 'sha'"):
        resolve(scheduler="sha")
    with pytest.raises(MethodError, match="searcher 'nope'.*mf-optuna-tpe"):
        resolve(searcher="nope")


def test_pbt_refuses_a_learning_searcher():
    with pytest.raises(MethodError, match="scheduler pbt"):
        resolve("pbt", searcher="hyperopt-tpe")


def test_build_searcher_gives_the_multi_fidelity_one_with_its_knobs():
    s = build_searcher("mf-optuna-tpe", SPACE, BudgetLadder(1, 9, 3), metric="loss", mode="min",
                       seed=0, points_to_evaluate=None, random_fraction=0.5)
    assert isinstance(s, MultiFidelityTPE) and s.random_fraction == 0.5
    assert set(MF_SEARCHERS) == {"mf-optuna-tpe"}


def test_build_searcher_delegates_the_rest():
    s = build_searcher("random", SPACE, BudgetLadder(1, 9, 3), metric="loss", mode="min",
                       seed=0, points_to_evaluate=[{"x": 0.5, "c": "a"}])
    assert s.suggest("t0") == {"x": 0.5, "c": "a"}
    with pytest.raises(MethodError, match="unavailable searcher 'nope'"):
        build_searcher("nope", SPACE, BudgetLadder(1, 9, 3), metric="loss", mode="min")


def test_describe_lists_every_method_and_every_searcher():
    from tuner.searchers import SEARCHERS

    text = describe()
    assert all(name in text for name in METHODS) and "(default)" in text
    listed = text.split("searchers (")[1].split("schedulers (")[0]
    assert {line.split()[0] for line in listed.splitlines()[1:] if line.strip()} == \
        set(SEARCHERS) | set(MF_SEARCHERS)
    assert "optuna-tpe " in listed  # issue 16: it was missing
    listed = text.split("schedulers (")[1].split("deprecated names")[0]
    assert {line.split()[0] for line in listed.splitlines()[1:] if line.strip()} == \
        set(SCHEDULERS)
    assert "method asha-tpe → asha-mf-optuna-tpe" in text


def test_old_names_still_work_and_say_so_once(capsys, monkeypatch):
    from tuner.compose import methods

    monkeypatch.setattr(methods, "_warned", set())
    assert resolve("asha-hyperopt") == ("hyperopt-tpe", "asha")
    assert resolve("tpe") == ("hyperopt-tpe", "fifo")
    assert resolve("asha-tpe") == ("mf-optuna-tpe", "asha")
    assert resolve("asha-hyperopt") == ("hyperopt-tpe", "asha")
    assert resolve("asha", searcher="mf-tpe") == ("mf-optuna-tpe", "asha")
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "tuner: method 'asha-hyperopt' is deprecated, use 'asha-hyperopt-tpe' (the same method; "
        "the new name says whose TPE it runs)",
        "tuner: method 'tpe' is deprecated, use 'hyperopt-tpe' (the same method; the new name "
        "says whose TPE it runs)",
        "tuner: method 'asha-tpe' is deprecated, use 'asha-mf-optuna-tpe' (the same method; the "
        "new name says whose TPE it runs)",
        "tuner: searcher 'mf-tpe' is deprecated, use 'mf-optuna-tpe' (the same searcher; the "
        "new name says whose TPE it runs)",
    ]
    s = build_searcher("mf-tpe", SPACE, BudgetLadder(1, 9, 3), metric="loss", mode="min")
    assert isinstance(s, MultiFidelityTPE)


def test_default_falls_back_when_pso_cannot_move():
    assert resolve() == ("pso", "asha-checked")
    assert resolve(space=SPACE) == ("pso", "asha-checked")  # one numeric parameter is enough
    only_categorical = SearchSpace({"c": Categorical(("a", "b")), "d": Categorical((1, 2))})
    assert resolve(space=only_categorical) == METHODS[DEFAULT_WITHOUT_NUMERIC][:2]
    assert resolve("asha-pso", space=only_categorical) == ("pso", "asha")  # named: as asked


def test_a_method_brings_its_own_scheduler_settings_and_the_user_overrides_them():
    from tuner.compose import methods

    assert methods.scheduler_options("asha-pso-2brackets", "asha") == {"brackets": 2}
    assert methods.scheduler_options("asha-pso-2brackets", "asha", {"brackets": 1}) == \
        {"brackets": 1}
    # a swapped scheduler does not inherit settings meant for the method's own
    assert methods.scheduler_options("asha-pso-2brackets", "fifo") == {}
    assert methods.scheduler_options("asha-pso", "asha") == {}


def test_the_two_bracket_method_reaches_the_scheduler_in_launch_and_in_the_simulator():
    from pathlib import Path

    from benchmarks import peers, synthetic
    from tuner.experiment.config import load_experiment

    example = Path(__file__).resolve().parents[1] / "examples" / "digits_mlp.yaml"
    exp = load_experiment(example, ["method=asha-pso-2brackets"])
    assert (exp.searcher, exp.scheduler, exp.scheduler_options) == ("pso", "asha",
                                                                     {"brackets": 2})
    exp = load_experiment(example, ["method=asha-pso-2brackets", "scheduler.brackets=1"])
    assert exp.scheduler_options == {"brackets": 1}
    bench = synthetic.SyntheticCurves()
    setup = peers.build("asha-pso-2brackets", bench, seed=0, workers=4)
    assert len(setup.scheduler._brackets) == 2
    assert len(peers.build("asha-pso", bench, seed=0, workers=4).scheduler._brackets) == 1
