"""The YAHPO loader reproduces known surrogate outputs and the config spaces."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import yahpo
from search_spaces import Categorical, Float, Int

try:
    yahpo.data_dir()
    HAVE_DATA = True
except yahpo.DataMissing as exc:  # pragma: no cover - CI has the data
    HAVE_DATA, WHY = False, str(exc)

needs_data = pytest.mark.skipif(not HAVE_DATA, reason="YAHPO data v1.0.2 not found at "
                                "../shared/benchdata or $TUNER_BENCHDATA")


def expected_best_of_n(values: np.ndarray, n: int) -> float:
    """E[max of n draws] from the empirical distribution (exact order statistics)."""
    s = np.sort(values)
    k = np.arange(1, len(s) + 1) / len(s)
    return float(((k**n - (k - 1 / len(s)) ** n) * s).sum())


def test_missing_data_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNER_BENCHDATA", str(tmp_path))
    with pytest.raises(yahpo.DataMissing, match="yahpo_data repository at v1.0.2"):
        yahpo.data_dir()


@needs_data
@pytest.mark.parametrize("instance, reference", [
    ("lcbench/167168", (72.83, 77.57, 80.84, 83.30)),
    pytest.param("lcbench/189906", (82.80, 86.17, 88.20, 89.43), marks=pytest.mark.slow),
])
def test_random_search_best_of_n_matches_reference(instance, reference):
    # 20,000 configs sampled from *our* space at epoch 52 = random search averaged over
    # infinitely many seeds, up to the sampling noise of the top order statistics.
    bench = yahpo.load(instance)
    rng = np.random.default_rng(0)
    configs = [bench.space.sample(rng) for _ in range(20_000)]
    values, _ = bench.metric_and_time(configs, [52] * len(configs))
    for n, ref, tol in zip((10, 30, 100, 300), reference, (0.5, 0.5, 0.6, 0.8)):
        assert expected_best_of_n(values, n) == pytest.approx(ref, abs=tol)


@needs_data
def test_spaces_types_bounds_log_and_conditions():
    lc = yahpo.load("lcbench/167168")
    assert set(lc.space) == {"batch_size", "learning_rate", "momentum", "weight_decay",
                             "num_layers", "max_units", "max_dropout"}  # no task id, no epoch
    assert lc.space["batch_size"] == Int(16, 512, log=True)
    assert isinstance(lc.space["learning_rate"], Float) and lc.space["learning_rate"].log
    xgb = yahpo.load("rbv2_xgboost/12")
    assert "repl" not in xgb.space and "trainsize" not in xgb.space and "task_id" not in xgb.space
    assert xgb.space["booster"] == Categorical(("gblinear", "gbtree", "dart"))
    assert xgb.space["rate_drop"].when == {"booster": ("dart",)}
    assert xgb.space["eta"].when == {"booster": ("dart", "gbtree")}
    assert xgb.dim == 14 and lc.dim == 7


@needs_data
def test_encoding_inactive_and_fixed_columns():
    xgb = yahpo.load("rbv2_xgboost/12")
    cfg = {"booster": "gblinear", "alpha": 1.0, "lambda": 1.0, "nrounds": 10,
           "subsample": 0.5, "num.impute.selected.cpo": "impute.mean"}
    x_cat, x_cont = xgb.encode([cfg], [0.5])
    cont = dict(zip(xgb.sc.cont_cols, x_cont[0]))
    assert cont["eta"] == 0 and cont["rate_drop"] == 0  # inactive numerics are 0
    assert cont["repl"] == 10 and cont["trainsize"] == 0.5
    enc = xgb._encoding
    assert list(x_cat[0]) == [enc["task_id"]["12"], enc["booster"]["gblinear"],
                              enc["num.impute.selected.cpo"]["impute.mean"]]


@needs_data
def test_known_outputs_deterministic_and_batched():
    lc = yahpo.load("lcbench/167168")
    cfg = {"batch_size": 64, "learning_rate": 0.01, "momentum": 0.9, "weight_decay": 0.001,
           "num_layers": 3, "max_units": 256, "max_dropout": 0.2}
    single = [lc.metric_and_time([cfg], [e]) for e in (1, 2)]
    batch_v, batch_t = lc.metric_and_time([cfg, cfg], [1, 2])
    assert [s[0][0] for s in single] == pytest.approx(list(batch_v), abs=1e-4)
    assert batch_v[0] == pytest.approx(22.763845, abs=1e-3)  # surrogate value, epoch 1
    assert batch_t[1] > batch_t[0] > 0  # cumulative seconds


@needs_data
def test_budget_and_regret():
    lc = yahpo.load("lcbench/167168")
    # ⌈20·52 + 40·√7·52⌉ = ⌈6543.15⌉ (the data README rounds this to 6,543)
    assert lc.budget() == 6544
    assert yahpo.load("rbv2_rpart/14").budget() == 110
    assert lc.regret(lc.metric_max) == 0 and lc.regret(lc.metric_min) == 1


@needs_data
def test_instance_lists_and_unknown_names():
    assert len(yahpo.instances("lcbench")) == 34
    with pytest.raises(KeyError, match="unknown instance"):
        yahpo.load("lcbench/1")
    with pytest.raises(KeyError, match="unknown YAHPO scenario"):
        yahpo.load("nb301/CIFAR10")
