"""The simulated-time runner: Ray's call protocol, determinism, 256 workers, budget accounting."""

from __future__ import annotations

import numpy as np
import pytest
from ray.tune.schedulers import TrialScheduler

from benchmarks import simulator as sim
from search_spaces import Float, SearchSpace
from tuner.budget import BudgetLadder
from tuner.schedulers import make_scheduler
from tuner.searchers import make_searcher


class ToyBench:
    """Learning curves ``acc(e) = q·(1 − exp(−e/5))`` with q from x; 1 s + x s per epoch."""

    name, metric, mode, multi_epoch = "toy", "acc", "max", True
    fidelity_min, fidelity_max = 1, 27

    def __init__(self):
        self.space = SearchSpace({"x": Float(0.0, 1.0)})
        self.calls = 0

    def metric_and_time(self, configs, fidelities):
        self.calls += 1
        x = np.array([c["x"] for c in configs])
        e = np.array(fidelities, float)
        return 1 - (x - 0.3) ** 2 * (1 + 1 / e), e * (1.0 + x)  # cumulative seconds


class Recorder:
    """Wraps a searcher and logs the calls the runner makes, in order."""

    def __init__(self, inner):
        self.inner, self.log = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def set_search_properties(self, *a, **k):
        return self.inner.set_search_properties(*a, **k)

    def suggest(self, trial_id):
        self.log.append(("suggest", trial_id))
        return self.inner.suggest(trial_id)

    def on_trial_result(self, trial_id, result):
        self.log.append(("result", trial_id, result["training_iteration"]))
        return self.inner.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.log.append(("complete", trial_id, None if result is None else
                         result["training_iteration"]))
        return self.inner.on_trial_complete(trial_id, result=result, error=error)


LADDER = BudgetLadder(min=1, max=27, eta=3)


def _run(searcher="random", scheduler="asha", seed=0, workers=4, budget=300.0, **kw):
    bench = ToyBench()
    task = sim.SimTask(bench, LADDER)
    s = make_searcher(searcher, bench.space, metric="acc", mode="max", seed=seed)
    sch = make_scheduler(scheduler, LADDER, metric="acc", mode="max", seed=seed)
    return sim.simulate(task, s, sch, workers=workers, budget=budget, **kw)


def test_deterministic_per_seed_and_seed_matters():
    a, b, c = _run(seed=1), _run(seed=1), _run(seed=2)
    assert a.value == b.value and a.clock == b.clock and a.trial == b.trial
    assert a.value != c.value


def test_budget_is_epochs_and_clock_is_surrogate_seconds():
    t = _run(scheduler="fifo", workers=1, budget=54)
    assert t.spent[-1] == 54 and t.num_trials == 2
    # one worker: the clock is the sum of the two trials' 27 epochs of (1 + x) seconds
    assert t.clock[-1] == pytest.approx(sum(27 * (1 + x) for x in _xs(t)), rel=1e-6)


def _xs(traj):
    # configs of the first two random draws (seed 0) — same searcher, same order
    s = make_searcher("random", ToyBench().space, metric="acc", mode="max", seed=0)
    return [s.suggest(f"t{i}")["x"] for i in range(2)]


def test_ray_call_order_stop_reaches_searcher_only_as_completion():
    bench = ToyBench()
    rec = Recorder(make_searcher("random", bench.space, metric="acc", mode="max", seed=0))
    sch = make_scheduler("asha", LADDER, metric="acc", mode="max", seed=0)
    traj = sim.simulate(sim.SimTask(bench, LADDER), rec, sch, workers=2, budget=200)
    completes = [e for e in rec.log if e[0] == "complete"]
    results = [e for e in rec.log if e[0] == "result"]
    assert completes and results
    for _, tid, level in completes:
        # the STOPping result itself is never passed to on_trial_result (Ray's controller)
        assert ("result", tid, level) not in results
    assert max(traj.level) <= 27
    assert len({e[1] for e in completes}) == len(completes)  # completed once


def test_pausing_scheduler_resumes_from_checkpoint_and_stops_paused_trials():
    t = _run(scheduler="hyperband", workers=8, budget=400, max_concurrent=None, max_pending=8)
    per_trial: dict[int, list[int]] = {}
    for tid, lv in zip(t.trial, t.level):
        per_trial.setdefault(tid, []).append(lv)
    for levels in per_trial.values():  # resumed trials continue, never restart at epoch 1
        assert levels == list(range(1, len(levels) + 1))
    assert len(per_trial) > 8


def test_256_workers_run_in_parallel():
    one = _run(workers=1, budget=2000)
    many = _run(workers=256, budget=2000)
    assert many.spent[-1] >= 2000 and many.num_trials >= 256
    assert many.clock[-1] < one.clock[-1] / 20


def test_concurrency_limit_counts_live_trials():
    # ConcurrencyLimiter(2) on 4 workers behaves exactly like 2 workers
    limited = _run(scheduler="fifo", workers=4, max_concurrent=2, budget=27 * 4)
    two = _run(scheduler="fifo", workers=2, max_concurrent=2, budget=27 * 4)
    assert limited.clock == two.clock and limited.trial == two.trial


def test_rejects_bad_worker_count_and_ladder():
    with pytest.raises(ValueError, match="workers"):
        _run(workers=0)
    with pytest.raises(ValueError, match="ladder.max must be 27"):
        sim.SimTask(ToyBench(), BudgetLadder(min=1, max=9, eta=3))


def test_decision_protocol_result_keys():
    bench = ToyBench()
    seen = []

    class Spy(TrialScheduler):
        def on_trial_add(self, ctl, trial):
            pass

        def on_trial_result(self, ctl, trial, result):
            seen.append(result)
            return TrialScheduler.CONTINUE

        def on_trial_complete(self, ctl, trial, result):
            pass

        def on_trial_remove(self, ctl, trial):
            pass

        def choose_trial_to_run(self, ctl):
            for t in ctl.get_trials():
                if t.status == "PENDING":
                    return t
            return None

        def set_search_properties(self, metric, mode, **spec):
            return True

    s = make_searcher("random", bench.space, metric="acc", mode="max", seed=0)
    sim.simulate(sim.SimTask(bench, LADDER), s, Spy(), workers=1, budget=3)
    assert [r["training_iteration"] for r in seen] == [1, 2, 3]
    assert {"acc", "training_iteration", "time_total_s", "time_this_iter_s"} <= set(seen[0])
