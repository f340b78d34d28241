"""Syne Tune's schedulers (the ``bench`` extra) in the harness: its protocol replayed as its
Tuner drives it, runs deterministic per seed, the model-based methods learn, and a tiny
comparison on a YAHPO instance. In CI (``CI`` set) a missing syne-tune (or, for BORE, xgboost)
fails these tests; elsewhere they skip."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from benchmarks import compare, peers, simulator, synthetic, yahpo
from search_spaces import Categorical, Fixed, Float, Int, SearchSpace
from tests.benchmarks.conftest import require_method, require_peer


@pytest.fixture(autouse=True)
def _syne_tune():
    require_peer("syne_tune")


def _run(name, bench, *, seed=0, workers=2, budget):
    setup = peers.build(name, bench, seed=seed, workers=workers)
    traj = simulator.simulate(setup.task, setup.searcher, setup.scheduler, workers=workers,
                              budget=budget, **setup.wiring)
    return setup, traj


def _per_trial(traj) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for t, lv in zip(traj.trial, traj.level):
        out.setdefault(t, []).append(lv)
    return out


def test_space_translation_keeps_bounds_scales_and_constants():
    from syne_tune import config_space as sc

    from benchmarks.syne_peers import syne_space

    space = SearchSpace({"lr": Float(1e-4, 1e-1, log=True), "d": Int(1, 3),
                         "w": Int(16, 512, log=True), "act": Categorical(["relu", "tanh"]),
                         "k": Fixed(7)})
    cs = syne_space(space)
    assert isinstance(cs["lr"], sc.Float) and (cs["lr"].lower, cs["lr"].upper) == (1e-4, 1e-1)
    assert cs["k"] == 7 and list(cs["act"].categories) == ["relu", "tanh"]
    rs = np.random.RandomState(0)
    lr = np.array([cs["lr"].sample(random_state=rs) for _ in range(400)])
    assert 0.35 < np.mean(lr < 10**-2.5) < 0.65  # log scale: half the draws below the midpoint
    ds = {cs["d"].sample(random_state=rs) for _ in range(300)}
    assert ds == {1, 2, 3}  # Syne's randint is inclusive, like ours
    for _ in range(200):
        config = {k: (v.sample(random_state=rs) if hasattr(v, "sample") else v)
                  for k, v in cs.items()}
        space.validate_config(config)


def test_asha_bore_stops_only_at_its_rungs_and_is_told_every_result():
    require_method("syne-asha-bore")
    bench = synthetic.SyntheticCurves(max_epochs=27)
    setup, traj = _run("syne-asha-bore", bench, budget=150)
    syne = setup.scheduler.s.syne
    curves = _per_trial(traj)
    for levels in curves.values():
        assert levels == list(range(1, len(levels) + 1))  # epoch by epoch, never resumed
    ended = [lv[-1] for t, lv in curves.items() if f"t{t:06d}" not in setup.scheduler.s.running]
    assert set(ended) <= {3, 9, 27} and 27 in ended and {3, 9} & set(ended)
    # every result reached Syne's searcher (LastValueMultiFidelitySearcher), in order
    seen = syne.searcher.trial_results
    assert sum(len(v) for v in seen.values()) == len(traj.value)
    for t, levels in curves.items():
        assert len(seen[t]) == len(levels)
    # stopped trials were removed from ASHA's bookkeeping (Syne's Tuner: on_trial_remove)
    assert set(syne.trial_info) == {int(t[1:]) for t in setup.scheduler.s.running}


class _PauseAtFirstRung:
    """A promotion-type Syne scheduler: PAUSE every trial at its first level, resume paused
    trials first; records the Tuner's calls so the replay can be checked."""

    def __init__(self, space):
        from syne_tune.optimizer.scheduler import TrialScheduler

        class Sched(TrialScheduler):
            def __init__(s):
                super().__init__(random_seed=0)
                s.calls, s.paused, s.n = [], [], 0

            def suggest(s):
                from syne_tune.optimizer.scheduler import TrialSuggestion

                s.calls.append(("suggest",))
                if s.paused:
                    return TrialSuggestion.resume_suggestion(s.paused.pop(0))
                s.n += 1
                return TrialSuggestion.start_suggestion({"x0": 0.1 * (s.n % 9), "x1": 0.3,
                                                         "x2": 0.3})

            def on_trial_add(s, trial):
                s.calls.append(("add", trial.trial_id))

            def on_trial_result(s, trial, result):
                lv = result["training_iteration"]
                s.calls.append(("result", trial.trial_id, lv))
                if lv == 1:
                    s.paused.append(trial.trial_id)
                    return "PAUSE"
                return "CONTINUE"

            def on_trial_remove(s, trial):
                s.calls.append(("remove", trial.trial_id))

            def on_trial_complete(s, trial, result):
                s.calls.append(("complete", trial.trial_id, result["training_iteration"]))

        self.sched = Sched()


def test_pause_and_resume_replay_syne_tuner():
    from benchmarks.syne_peers import wire_syne

    bench = synthetic.MisleadingFidelity()
    syne = _PauseAtFirstRung(bench.space).sched
    ladder = peers.default_ladder(bench)
    task, searcher, scheduler, wiring = wire_syne(syne, bench, ladder, multi_fidelity=True,
                                                  seed=0, workers=2)
    traj = simulator.simulate(task, searcher, scheduler, workers=2, budget=12, **wiring)
    curves = _per_trial(traj)
    assert any(levels == [1, 3, 9, 27] for levels in curves.values())
    for levels in curves.values():  # resumed from its checkpoint: the next level each time
        assert levels == [1, 3, 9, 27][:len(levels)]
    calls = syne.calls
    for t, levels in curves.items():
        mine = [c for c in calls if len(c) > 1 and c[1] == t]
        assert mine[:3] == [("add", t), ("result", t, 1), ("remove", t)]  # paused → removed
        if levels[-1] == 27:  # ran to its end without a STOP: on_trial_complete, once
            assert mine[-1] == ("complete", t, 27)
            assert sum(c[0] == "complete" for c in mine) == 1
    # Syne's Tuner asks for a suggestion only for a free worker: never more than 2 running
    running, peak = set(), 0
    for t, lv in zip(traj.trial, traj.level):
        running.add(t)
        peak = max(peak, len(running))
        if lv in (1, 27):
            running.discard(t)
    assert peak <= 2


@pytest.mark.parametrize(("name", "budget"), [("syne-bohb", 8), ("syne-bore", 9)])
def test_deterministic_per_seed(name, budget):
    """Same seed, same run — whatever the process's global RNG did in between (Syne Tune
    draws random configurations from it); another seed, another run."""
    require_method(name)
    bench = synthetic.MisleadingFidelity()
    a = _run(name, bench, seed=3, budget=budget)[1]
    np.random.seed(12345)
    b = _run(name, bench, seed=3, budget=budget)[1]
    c = _run(name, bench, seed=4, budget=budget)[1]
    assert a.value == b.value and a.level == b.level and a.trial == b.trial
    assert a.value != c.value


def test_bore_learns_at_full_fidelity():
    """After its 6 random draws BORE proposes near the optimum: over two seeds, the last 10
    trials' mean quality is well above a random draw's (~0.42 in expectation here). Measured:
    0.62 (seeds 0, 1); with its tell cut (``on_trial_complete`` a no-op) 0.38."""
    require_method("syne-bore")
    bench = synthetic.MisleadingFidelity()
    first, last = [], []
    for seed in (0, 1):
        traj = _run("syne-bore", bench, seed=seed, budget=26)[1]
        assert set(traj.level) == {27} and len(traj.value) == 26
        q = [(v - 0.5) / 0.4 for v in traj.value]  # full fidelity: 0.5 + 0.4·q
        first += q[:6]
        last += q[-10:]
    assert np.mean(last) > 0.55 and np.mean(last) > np.mean(first) + 0.1


@pytest.mark.slow
def test_tiny_comparison_with_syne_tune(tmp_path):
    try:
        yahpo.data_dir()
    except yahpo.DataMissing:  # pragma: no cover - CI has the data
        pytest.skip("YAHPO data v1.0.2 not found")
    out = tmp_path / "syne"
    methods = ["random", "syne-bore", "syne-asha-bore", "syne-bohb", "syne-asha"]
    for m in methods:
        require_method(m)
    argv = ["--instances", "rbv2_rpart/14", "--methods", ",".join(methods), "--seeds", "1",
            "--workers", "2", "--budget-scale", "0.15", "--out", str(out)]
    assert compare.main(argv) == 0
    with open(out / "runs.csv") as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    assert set(rows) == set(methods)
    table = (out / "table.md").read_text()
    bench = yahpo.load("rbv2_rpart/14")
    # a bad baseline: the median full-fidelity regret of a single random configuration (how
    # well each model learns is tested on the synthetic benchmarks above; here: the wiring)
    rng = np.random.default_rng(0)
    configs = [bench.space.sample(rng) for _ in range(200)]
    values, _ = bench.metric_and_time(configs, [1.0] * len(configs))
    median_single = float(np.median([bench.regret(v) for v in values]))
    for m in methods[1:]:
        assert f"| {m} |" in table
        assert float(rows[m]["spent"]) >= 0.15 * bench.budget()
        assert float(rows[m]["regret_100"]) < median_single, (m, rows[m], median_single)
    multi = ("syne-asha-bore", "syne-bohb", "syne-asha")
    assert all(int(rows[m]["trials"]) > int(rows["syne-bore"]["trials"]) for m in multi)


def test_batched_bore_suggests_exactly_what_bore_does():
    """The batched acquisition (one predict_proba for all candidates) is only faster: from the
    same state and global RNG it returns Bore's own suggestion, again and again."""
    import copy

    require_peer("xgboost")
    from syne_tune.optimizer.schedulers.searchers.bore import Bore

    from benchmarks.syne_peers import batched_bore, syne_space

    bench = synthetic.SyntheticCurves(dim=4)
    cs = syne_space(bench.space)
    fast = batched_bore()(config_space=cs, random_seed=1)
    rng = np.random.default_rng(0)
    for i in range(12):
        config = bench.space.sample(rng)
        fast.on_trial_complete(i, config, -bench._quality(config))
    slow = copy.deepcopy(fast)
    slow.__class__ = Bore
    from threadpoolctl import threadpool_limits

    for seed in range(2):
        with threadpool_limits(1, user_api="openmp"):  # Bore's 500 single-row predicts
            np.random.seed(seed)
            mine = fast.suggest()
            np.random.seed(seed)
            theirs = slow.suggest()
        assert mine == theirs and fast.random_state.rand() == slow.random_state.rand()
