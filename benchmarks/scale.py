"""Decision time per result as trials and workers grow, and ASHA's speed-up with workers.

    python -m benchmarks.scale --out benchmarks/results/scale

Part 1 — on ``SyntheticCurves`` (free to query, so only the searcher + scheduler are timed):
for each method, run to 10 / 1,000 / 100,000 trials with 1 / 16 / 256 simulated workers and
report the mean wall time of the decisions (``suggest``, ``on_trial_add``,
``choose_trial_to_run``, ``on_trial_result`` of scheduler and searcher, completions) per
result over the last 10 % of results — the cost *at* that scale, not averaged from zero.
A run that exceeds ``--max-seconds`` stops there and is reported at the trial count reached.
Target: ≤ 2 ms per decision at 100k trials.

Part 2 — ASHA (ours, random searcher) on lcbench/167168 with the full YAHPO budget: simulated
wall-clock to spend the budget and to reach random search's final regret, 1 → 256 workers.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from benchmarks import simulator as sim
from benchmarks.synthetic import SyntheticCurves
from tuner.budget import BudgetLadder

__all__ = ["asha_workers", "checked_prefilled", "decision_times", "main"]

SCALE_METHODS = ("random", "asha", "hyperband", "asha-mf-optuna-tpe", "ray-asha")


def _setup(method: str, bench, seed: int, workers: int):
    from benchmarks import peers

    if method in ("random", "asha", "hyperband", "asha-mf-optuna-tpe", "bohb", "median"):
        from tuner.compose import methods
        from tuner.schedulers import make_scheduler

        s_name, sch_name = methods.resolve(method=method)
        ladder = BudgetLadder(min=1, max=bench.fidelity_max, eta=3)
        kw = {"metric": bench.metric, "mode": bench.mode, "seed": seed}
        searcher = methods.build_searcher(s_name, bench.space, ladder, points_to_evaluate=None,
                                          **kw)
        from tuner.schedulers import concurrency_hint

        limit = concurrency_hint(sch_name, ladder, workers, None)
        return (sim.SimTask(bench, ladder), searcher, make_scheduler(sch_name, ladder, **kw),
                {"max_concurrent": limit, "max_pending": limit})
    setup = peers.build(method, bench, seed=seed, workers=workers)
    return setup.task, setup.searcher, setup.scheduler, setup.wiring


def decision_times(method: str, trials: int, workers: int, max_seconds: float = 120.0):
    """(ms per decision over the last 10 % of results, trials reached, results, wall s)."""
    bench = SyntheticCurves()
    task, searcher, scheduler, wiring = _setup(method, bench, 0, workers)
    t0 = time.perf_counter()
    traj = sim.simulate(task, searcher, scheduler, workers=workers, max_trials=trials,
                        max_wall_seconds=max_seconds, **wiring)
    wall = time.perf_counter() - t0
    cum = np.asarray(traj.decision_cum)
    n = len(cum)
    k = max(1, n // 10)
    tail = (cum[-1] - cum[-k - 1]) / k if n > k else cum[-1] / max(n, 1)
    return 1e3 * tail, traj.num_trials, n, wall, traj.stopped_early


def asha_prefilled(n: int, decisions: int = 200, ray_default: bool = False) -> float:
    """ms per ASHA decision when the lowest rung already holds ``n`` recorded values.

    The simulated runs above are capped in wall time before 100k trials; this measures the
    cost *at* n directly: the rung's record is filled with n values, then ``decisions`` new
    trials report at that rung (each computes the rung's cutoff, as in a real run)."""
    from ray.tune.schedulers import ASHAScheduler

    from tuner.schedulers import make_scheduler

    ladder = BudgetLadder(min=1, max=27, eta=3)
    if ray_default:
        sch = ASHAScheduler(metric="acc", mode="max", max_t=27)
    else:
        sch = make_scheduler("asha", ladder, metric="acc", mode="max", seed=0)
    rng = np.random.default_rng(0)
    bracket = sch._brackets[0]
    lowest = bracket._rungs[-1][1]
    lowest.update({f"f{i}": float(v) for i, v in enumerate(rng.random(n))})
    trials = [sim.SimTrial(f"t{i}", {}) for i in range(decisions)]
    for t in trials:
        sch.on_trial_add(None, t)
    t0 = time.perf_counter()
    for t, v in zip(trials, rng.random(decisions)):
        sch.on_trial_result(None, t, {"acc": float(v), "training_iteration": 1})
    return 1e3 * (time.perf_counter() - t0) / decisions


def checked_prefilled(n: int, decisions: int = 200) -> tuple[float, float]:
    """ms per ``asha-checked`` decision at a rung holding ``n`` values, worst case: the rung's
    τ window is full and a new top-rung pair arrives before every decision, every decision is
    a STOP checked against τ (``RungAgreement.misleads``), which is recomputed each time a
    tenth of the window is new. Returns (wall ms, CPU ms) per decision: on a shared machine the
    CPU time is the cost, the wall time adds the wait for a core."""
    from tuner.schedulers import make_scheduler

    ladder = BudgetLadder(min=1, max=27, eta=3)
    sch = make_scheduler("asha-checked", ladder, metric="acc", mode="max", seed=0)
    rng = np.random.default_rng(0)
    sch._brackets[0]._rungs[-1][1].update({f"f{i}": float(v)
                                           for i, v in enumerate(rng.random(n))})
    for i in range(300):  # fill the window: rung-1 and top values of finished trials
        sch.agreement.record(f"p{i}", 1, float(rng.random()))
        sch.agreement.record(f"p{i}", 27, float(rng.random()))
    trials = [sim.SimTrial(f"t{i}", {}) for i in range(decisions)]
    for t in trials:
        sch.on_trial_add(None, t)
    wall = cpu = 0.0
    for i, t in enumerate(trials):
        sch.agreement.record(f"q{i}", 1, float(rng.random()))
        sch.agreement.record(f"q{i}", 27, float(rng.random()))  # invalidates the cached τ
        t0, c0 = time.perf_counter(), time.process_time()
        sch.on_trial_result(None, t, {"acc": 0.0, "training_iteration": 1})  # below cutoff
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
    return 1e3 * wall / decisions, 1e3 * cpu / decisions


def asha_workers(instance: str = "lcbench/167168", workers=(1, 4, 16, 64, 256), seeds=3):
    """Simulated seconds to spend the budget / reach random search's final regret."""
    from benchmarks import peers, yahpo
    from benchmarks.compare import best_so_far

    bench = yahpo.load(instance)
    rows = []
    target = np.mean([_final_regret(bench, "random", s, 1) for s in range(seeds)])
    for w in workers:
        ends, hits, finals = [], [], []
        for s in range(seeds):
            setup = peers.build("asha", bench, seed=s, workers=w)
            tr = sim.simulate(setup.task, setup.searcher, setup.scheduler, workers=w,
                              budget=bench.budget(), **setup.wiring)
            reg = np.array([bench.regret(v) for v in best_so_far(np.array(tr.value), "max")])
            ends.append(tr.clock[-1])
            hit = np.nonzero(reg <= target)[0]
            hits.append(tr.clock[hit[0]] if len(hit) else np.nan)
            finals.append(reg[-1])
        rows.append((w, float(np.mean(ends)), float(np.nanmean(hits)) if any(
            not np.isnan(h) for h in hits) else float("nan"), sum(not np.isnan(h) for h in hits),
            float(np.mean(finals))))
    return target, rows


def _final_regret(bench, method, seed, workers):
    from benchmarks import peers

    setup = peers.build(method, bench, seed=seed, workers=workers)
    tr = sim.simulate(setup.task, setup.searcher, setup.scheduler, workers=workers,
                      budget=bench.budget(), **setup.wiring)
    return bench.regret(max(tr.value))


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore")
    p = argparse.ArgumentParser(prog="python -m benchmarks.scale")
    p.add_argument("--methods", default=",".join(SCALE_METHODS))
    p.add_argument("--trials", default="10,1000,100000")
    p.add_argument("--workers", default="1,16,256")
    p.add_argument("--max-seconds", type=float, default=120.0)
    p.add_argument("--skip-asha-workers", action="store_true")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [("| method | trials asked | workers | ms / decision (last 10 %) | trials reached | "
             "results | wall s |"), "|---|---|---|---|---|---|---|"]
    for m in args.methods.split(","):
        for n in map(int, args.trials.split(",")):
            for w in map(int, args.workers.split(",")):
                ms, reached, results, wall, early = decision_times(m, n, w, args.max_seconds)
                flag = f" (stopped at {args.max_seconds:.0f} s)" if early else ""
                lines.append(f"| {m} | {n:,} | {w} | {ms:.3f} | {reached:,}{flag} | "
                             f"{results:,} | {wall:.1f} |")
                print(lines[-1], flush=True)
    text = "## Decision time per result (SyntheticCurves, 27 epochs, η=3)\n\n" + "\n".join(lines)
    pre = ["| recorded at the rung | ours: SeededASHA ms / decision | Ray ASHAScheduler ms / decision |",
           "|---|---|---|"]
    for n in (10, 1_000, 100_000):
        pre.append(f"| {n:,} | {asha_prefilled(n):.3f} | {asha_prefilled(n, ray_default=True):.3f} |")
    print("\n".join(pre), flush=True)
    text += ("\n\n## ASHA decision with n values already recorded at the rung\n\n"
             + "\n".join(pre))
    chk = ["| recorded at the rung | asha-checked wall ms / decision (a new top pair each time) "
           "| CPU ms / decision |", "|---|---|---|"]
    for n in (10, 1_000, 100_000):
        wall, cpu = checked_prefilled(n, decisions=1000)
        chk.append(f"| {n:,} | {wall:.3f} | {cpu:.3f} |")
    print("\n".join(chk), flush=True)
    text += ("\n\n## asha-checked decision, worst case (a new top pair before every decision)"
             "\n\n" + "\n".join(chk))
    if not args.skip_asha_workers:
        target, rows = asha_workers()
        t1 = rows[0][1]
        h1 = rows[0][2]
        wl = [f"Target: random search's mean final regret with 1 worker = {target:.4f}.", "",
              ("| workers | sim. s to spend budget | speed-up | sim. s to reach target | "
              "speed-up | runs reaching | final regret |"), "|---|---|---|---|---|---|---|"]
        for w, end, hit, n_hit, fin in rows:
            wl.append(f"| {w} | {end:,.0f} | {t1 / end:.1f}× | {hit:,.0f} | "
                      f"{h1 / hit if not np.isnan(hit) else float('nan'):.1f}× | {n_hit} | {fin:.4f} |")
        text += ("\n\n## ASHA (ours) on lcbench/167168, full YAHPO budget, 3 seeds\n\n"
                 + "\n".join(wl))
        print("\n".join(wl))
    command = "python -m benchmarks.scale " + " ".join(argv if argv is not None
                                                        else sys.argv[1:])
    (out / "README.md").write_text(f"# scale\n\nCommand:\n\n    {command}\n\n{text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
