"""The searcher contract: one shared class every searcher passes, driven without Ray.

Each searcher subclasses ``SearcherContract`` and overrides the ``factory`` fixture
(``factory(space, seed=..., points_to_evaluate=...) -> Searcher``).
"""

from __future__ import annotations

import math
import pickle

import pytest
from ray import cloudpickle
from ray.tune.search import ConcurrencyLimiter, Searcher
from searcher_kit import METRIC, conditional_space, mixed_loss, run, time_limit

from search_spaces import Categorical, Float, Int, SearchSpace
from tuner.searchers import make_searcher

WARM = [
    {
        "optimizer": "sgd",
        "lr": 0.05,
        "momentum": 0.9,
        "nesterov": False,
        "dampening": 0.1,
        "weight_decay": 1e-4,
        "hidden": 64,
        "depth": 2,
        "dropout": 0.1,
        "batch_size": 32,
        "schedule": "constant",
        "label_smoothing": 0.05,
    },
    {
        "optimizer": "adam",
        "lr": 0.001,
        "hidden": 128,
        "depth": 1,
        "dropout": 0.0,
        "batch_size": 64,
        "schedule": "cosine",
        "warmup": 4,
        "beta2": 0.999,
        "label_smoothing": 0.0,
        "epochs": 5,
    },
]


def _factory(name: str, **extra):
    def build(space, seed=0, points_to_evaluate=None):
        return make_searcher(
            name,
            space,
            metric=METRIC,
            mode="min",
            seed=seed,
            points_to_evaluate=points_to_evaluate,
            **extra,
        )

    return build


class SearcherContract:
    """Behaviour every searcher shares; ``n`` trials per test keeps model-based ones busy."""

    n = 24
    seeded = True  # False for searchers with nothing random (grid)

    @pytest.fixture
    def factory(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def test_suggestions_lie_in_the_space_and_respect_conditions(self, factory):
        space = conditional_space()
        configs, _ = run(factory(space, seed=1), mixed_loss, self.n)
        for config in configs:
            space.validate_config(config)  # only active parameters, each inside its domain
            assert ("momentum" in config) == (config["optimizer"] == "sgd")
            assert ("dampening" in config) == (config.get("nesterov") is False)
            assert config["epochs"] == 5
        if self.seeded:  # a grid walks its first parameter slowest
            assert {c["optimizer"] for c in configs} >= {"sgd", "adam"}, "a branch never tried"

    def test_same_seed_gives_same_suggestions(self, factory):
        space = conditional_space()
        first, _ = run(factory(space, seed=7), mixed_loss, self.n)
        again, _ = run(factory(space, seed=7), mixed_loss, self.n)
        assert first == again
        other, _ = run(factory(space, seed=8), mixed_loss, self.n)
        assert (other != first) == self.seeded

    def test_points_to_evaluate_come_first_without_hanging(self, factory):
        space = conditional_space()
        with time_limit(60):
            searcher = factory(space, seed=2, points_to_evaluate=[dict(p) for p in WARM])
            configs, _ = run(searcher, mixed_loss, len(WARM) + 4)
        assert configs[0] == {**WARM[0], "epochs": 5}
        assert configs[1] == WARM[1]
        for config in configs[len(WARM) :]:
            space.validate_config(config)

    def test_survives_errored_nan_and_missing_results(self, factory):
        space = conditional_space()
        searcher = factory(space, seed=3)
        bad = [
            {"result": {METRIC: -1e9}, "error": True},  # errored: its last value is no loss
            {"result": {METRIC: math.nan}},
            {"result": {METRIC: math.inf}},
            {"result": {"other": 1.0}},
            {"result": None, "error": True},
            {"result": {METRIC: "oops"}},
        ]
        for i in range(self.n):
            config = searcher.suggest(f"t{i}")
            space.validate_config(config)
            searcher.on_trial_result(f"t{i}", {"training_iteration": 1})  # metric-less result
            kwargs = bad[i % len(bad)] if i % 2 else {"result": {METRIC: mixed_loss(config)}}
            searcher.on_trial_complete(f"t{i}", **kwargs)
        good = [loss for _, loss in searcher.observations]
        assert len(good) == self.n // 2
        assert all(math.isfinite(loss) and loss > -1e8 for loss in good)

    def test_failures_do_not_attract_it(self, factory):
        """Trials with x > 0.8 error out (reporting a tempting -100) or give NaN; a searcher
        that learnt from them would crowd that corner. Random puts 20% of trials there."""
        space = SearchSpace(
            {"x": Float(0.0, 1.0), "y": Float(0.0, 1.0), "c": Categorical(["a", "b"])}
        )
        searcher = factory(space, seed=4)
        xs = []
        for i in range(40):
            config = searcher.suggest(f"t{i}")
            if config == Searcher.FINISHED:  # a small grid runs out
                break
            xs.append(config["x"])
            if config["x"] > 0.8:
                result, error = ({METRIC: -100.0}, True) if i % 2 else ({METRIC: math.nan}, False)
            else:
                result = {METRIC: (config["x"] - 0.2) ** 2 + (config["y"] - 0.5) ** 2}
                error = False
            searcher.on_trial_complete(f"t{i}", result=result, error=error)
        assert sum(x > 0.8 for x in xs[20:]) <= 9

    def test_many_pending_trials(self, factory):
        space = conditional_space()
        searcher = factory(space, seed=5)
        ids = [f"t{i}" for i in range(30)]
        configs = {i: searcher.suggest(i) for i in ids}  # nothing completes meanwhile
        configs = {i: c for i, c in configs.items() if c != Searcher.FINISHED}
        assert len(configs) >= 8
        for config in configs.values():
            space.validate_config(config)
        for i in reversed(list(configs)):
            searcher.on_trial_complete(i, {METRIC: mixed_loss(configs[i])})
        for j in range(3):
            config = searcher.suggest(f"u{j}")
            if config != Searcher.FINISHED:
                space.validate_config(config)

    def test_under_a_concurrency_limiter(self, factory):
        space = conditional_space()
        limiter = ConcurrencyLimiter(factory(space, seed=6), max_concurrent=3)
        live = [f"t{i}" for i in range(3)]
        configs = {i: limiter.suggest(i) for i in live}
        assert limiter.suggest("t3") is None  # full: Ray asks again later
        limiter.on_trial_complete("t1", {METRIC: mixed_loss(configs["t1"])})
        config = limiter.suggest("t3")
        assert config is not None and config != Searcher.FINISHED
        space.validate_config(config)

    def test_save_and_restore_continue_identically(self, factory, tmp_path):
        space = conditional_space()
        searcher = factory(space, seed=9)
        run(searcher, mixed_loss, self.n // 2)
        searcher.save(str(tmp_path / "searcher.pkl"))
        expected = [searcher.suggest(f"n{i}") for i in range(3)]
        restored = factory(space, seed=123)
        restored.restore(str(tmp_path / "searcher.pkl"))
        assert [restored.suggest(f"n{i}") for i in range(3)] == expected

    def test_pickles_like_ray_does(self, factory):
        """Ray cloudpickles the searcher with the Tuner's state before the first trial."""
        space = conditional_space()
        searcher = factory(space, seed=10)
        run(searcher, mixed_loss, 4)
        clone = pickle.loads(cloudpickle.dumps(searcher))
        assert [clone.suggest(f"n{i}") for i in range(2)] == [
            searcher.suggest(f"n{i}") for i in range(2)
        ]


class TestRandom(SearcherContract):
    @pytest.fixture
    def factory(self):
        return _factory("random")


def _coarse(space: SearchSpace, points: list[dict]) -> SearchSpace:
    """The same space with one value per numeric parameter (plus those of the warm-start
    points), so its grid stays small."""
    out = {}
    for name, dom in space.items():
        if isinstance(dom, (Float, Int)):
            values = {dom.from_unit(0.5)} | {p[name] for p in points if name in p}
            dom = Categorical(sorted(values), when=dom.when)
        out[name] = dom
    return SearchSpace(out)


class TestGrid(SearcherContract):
    seeded = False

    @pytest.fixture
    def factory(self):
        grid = _factory("grid")
        return lambda space, **kw: grid(_coarse(space, kw.get("points_to_evaluate") or []), **kw)


class TestTPE(SearcherContract):
    @pytest.fixture
    def factory(self):
        return _factory("hyperopt-tpe", n_startup=8)


class TestOptunaTPE(SearcherContract):
    @pytest.fixture
    def factory(self):
        return _factory("optuna-tpe", n_startup=8)


class TestPSO(SearcherContract):
    @pytest.fixture
    def factory(self):
        return _factory("pso")


@pytest.mark.slow
class TestBayesOpt(SearcherContract):
    n = 14

    @pytest.fixture
    def factory(self):
        return _factory("bayesopt", n_startup=8)
