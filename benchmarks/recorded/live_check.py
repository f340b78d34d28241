"""Does the table rank methods as live training does? Real ``tuner.run`` beside the simulation.

    python -m benchmarks.recorded.live_check --table real/digits-mlp \
        --methods asha-checked-pso,random,asha-hyperopt-tpe --seeds 3 --num-samples 30 \
        --out benchmarks/results/real-digits-mlp-live

For each method and seed, the same experiment twice: once trained for real by ``tuner.run`` on
a local Ray (the table's trainable, fixed settings, the space searchers see there, the ladder
1, 3, 9, 27, ``num_samples`` trials, one CPU per trial), once simulated on the table with the
same method, seed, number of trials and concurrency (``--concurrency``, 2 on this 2-core
machine). The live run trains configurations off
the grid (its searcher proposes continuous values); its chosen model's validation score is
normalised by the table's range, so both regrets are on one scale. The check: the methods rank
the same way, and the live and simulated mean regrets differ by no more than the table's
seed-to-seed noise (the standard deviation of the repeated configurations, normalised the same
way) — the differences a different seed alone would make.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time

from benchmarks.output import write_runs
from benchmarks.recorded.table import TableBenchmark, load
from benchmarks.stats import interval95

__all__ = ["live", "main", "simulated"]


def experiment(bench: TableBenchmark, method: str, seed: int, num_samples: int,
               concurrency: int, storage: str) -> dict:
    """The table's task as a ``tuner.run`` experiment."""
    task = bench.task
    return {"name": f"{task.name}-{method}-s{seed}", "trainable": task.trainable,
            "config": dict(task.config), "space": bench.space, "metric": bench.metric,
            "mode": bench.mode, "method": method, "num_samples": num_samples, "seed": seed,
            "budget": {"min": task.ladder_min, "max": task.epochs, "eta": 3},
            "resources": {"cpus": 1, "gpus": 0}, "max_concurrent": concurrency,
            "storage": storage}


def live(bench: TableBenchmark, method: str, seed: int, num_samples: int,
         concurrency: int) -> dict:
    """One real run: the chosen model's validation and test scores, epochs, wall time."""
    import tuner

    storage = tempfile.mkdtemp(prefix="tuner-live-")
    t0 = time.time()
    try:
        res = tuner.run(experiment(bench, method, seed, num_samples, concurrency, storage),
                        quiet=True)
        val = res.best.last if res.best else math.nan
        return {"val": val, "test": res.test.get(bench.metric.replace("val_", "test_", 1),
                                                 math.nan),
                "regret": bench.regret(val), "epochs": int(res.trials.epochs.sum()),
                "wall_seconds": round(time.time() - t0, 1)}
    finally:
        shutil.rmtree(storage, ignore_errors=True)


def simulated(bench: TableBenchmark, method: str, seed: int, num_samples: int,
              workers: int) -> dict:
    """The same experiment on the table in simulated time."""
    from benchmarks import peers, simulator

    setup = peers.build(method, bench, seed=seed, workers=workers)
    traj = simulator.simulate(setup.task, setup.searcher, setup.scheduler, workers=workers,
                              budget=math.inf, max_trials=num_samples, **setup.wiring)
    cfg = traj.incumbent_config(bench.mode, setup.task.levels[-1], math.inf)
    val = float(bench.metric_and_time([cfg], [bench.fidelity_max])[0][0]) if cfg else math.nan
    return {"val": val, "test": bench.test_score(cfg) if cfg else math.nan,
            "regret": bench.regret(val), "epochs": int(traj.spent[-1]) if traj.spent else 0}


def table(rows: list[dict], bench: TableBenchmark) -> str:
    """Live and simulated mean regret and test score per method, and the noise they are
    judged against."""
    import pandas as pd

    df = pd.DataFrame(rows)
    noise = bench.noise()
    sd = noise["val_sd"] / (bench.metric_max - bench.metric_min)
    lines = ["| method | live regret | simulated regret | live − simulated | live test | "
             "simulated test | live epochs | simulated epochs |", "|---|" + "---|" * 7]
    for m, g in df.groupby("method", sort=False):
        lr, lh = interval95(g.live_regret)
        sr, sh = interval95(g.sim_regret)
        d, dh = interval95(g.live_regret - g.sim_regret)
        lines.append(f"| {m} | {lr:.4f} ± {lh:.4f} | {sr:.4f} ± {sh:.4f} | {d:+.4f} ± {dh:.4f}"
                     f" | {g.live_test.mean():.4f} | {g.sim_test.mean():.4f} | "
                     f"{g.live_epochs.mean():.0f} | {g.sim_epochs.mean():.0f} |")
    order = lambda col: list(df.groupby("method")[col].mean().sort_values().index)  # noqa: E731
    same = order("live_regret") == order("sim_regret")
    return ("\n".join(lines) + f"\n\nRanking by mean regret — live: {', '.join(order('live_regret'))}"
            f"; simulated: {', '.join(order('sim_regret'))} ({'the same' if same else 'differs'})."
            f"\nSeed-to-seed noise of the table ({noise['configs']} configurations × "
            f"{noise.get('seeds', 0)} seeds): validation sd {noise['val_sd']:.4f} = {sd:.4f} "
            f"in normalised regret.\n")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks.recorded.live_check",
                                description=__doc__.splitlines()[0])
    p.add_argument("--table", default="real/digits-mlp")
    p.add_argument("--methods", default="asha-checked-pso,random,asha-hyperopt-tpe")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--num-samples", type=int, default=30)
    p.add_argument("--concurrency", type=int, default=2, help="trials at once, live and simulated")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    bench = load(args.table)
    rows = []
    for seed in range(args.seeds):
        for method in args.methods.split(","):
            real = live(bench, method, seed, args.num_samples, args.concurrency)
            sim = simulated(bench, method, seed, args.num_samples, args.concurrency)
            rows.append({"method": method, "seed": seed,
                         **{f"live_{k}": v for k, v in real.items()},
                         **{f"sim_{k}": v for k, v in sim.items()}})
            print(rows[-1], flush=True)
    md = table(rows, bench)
    out = write_runs(args.out, rows, md)
    (out / "README.md").write_text(
        f"# {out.name}\n\nCommand (from the repository root):\n\n    python -m "
        f"benchmarks.recorded.live_check {' '.join(argv)}\n\n{md}")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
