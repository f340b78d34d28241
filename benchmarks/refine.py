"""Does coarse-to-fine pay? Two stages (half budget, ``tuner refine``, half budget) vs one stage.

    nice -n 10 python -m benchmarks.refine --instances dev --methods asha --seeds 10 \
        --out benchmarks/results/refine

Both arms use the searcher and scheduler objects ``tuner launch`` builds
(``benchmarks.peers._build_ours`` wiring: ``tuner.compose.methods`` + ``tuner.schedulers``), driven by the
simulated-time runner on YAHPO surrogates with the budget of ``benchmarks.compare`` (YAHPO
protocol). Stage 2 searches the space ``tuner.followup.refine.refine_rows`` narrows from stage 1's trials
at its highest well-populated rung, warm-started with stage 1's best configs, under a fresh seed.
The score of a run is the regret of the best *full-fidelity* result it saw (stage 1's included:
the user has them), so a two-stage run cannot lose what stage 1 found — it can only spend half
its budget less well. Per instance: mean regret per arm with a 95 % t-interval over seeds, and
the paired difference (two-stage − one-stage; negative = refine helps) with its interval.
"""

from __future__ import annotations

import argparse
import csv
import math
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from benchmarks.stats import interval95 as t_interval

__all__ = ["main", "one_stage", "two_stage", "stage_rows", "t_interval"]


def _setup(method: str, bench, space, seed: int, workers: int, points=None):
    """``peers._build_ours`` over a given space (the refined one in stage 2)."""
    from benchmarks.peers import default_ladder
    from benchmarks.simulator import SimTask
    from tuner.compose import methods
    from tuner.schedulers import concurrency_hint, make_scheduler

    searcher_name, scheduler_name = methods.resolve(method=method)
    ladder = default_ladder(bench)
    kw = {"metric": bench.metric, "mode": bench.mode, "seed": seed}
    searcher = methods.build_searcher(searcher_name, space, ladder,
                                      points_to_evaluate=points or None, **kw)
    scheduler = make_scheduler(scheduler_name, ladder, **kw)
    task = SimTask(bench, ladder, multi_fidelity=scheduler_name != "fifo")
    limit = concurrency_hint(scheduler_name, ladder, workers, None)
    return task, searcher, scheduler, {"max_concurrent": limit, "max_pending": limit}


def _run(method, bench, space, seed, workers, budget, points=None):
    from benchmarks.simulator import simulate

    task, searcher, scheduler, wiring = _setup(method, bench, space, seed, workers, points)
    traj = simulate(task, searcher, scheduler, workers=workers, budget=budget, **wiring)
    return task, searcher, traj


def _full_best(task, traj, mode: str) -> float:
    a = traj.arrays()
    full = a["value"][a["level"] == task.levels[-1]]
    if not len(full):
        return math.nan
    return float(full.max() if mode == "max" else full.min())


def stage_rows(task, searcher, traj, min_rows: int = 8) -> list[tuple[dict, float]]:
    """(config, value) per trial at the highest level ``min_rows`` trials reached — what
    ``tuner refine`` reads from trials.csv."""
    last: dict[int, tuple[int, float]] = {}
    for t, lv, v in zip(traj.trial, traj.level, traj.value):
        last[t] = (lv, v)  # levels only grow within a trial
    for level in sorted(set(task.levels), reverse=True):
        rows = [(searcher.configs[f"t{t:06d}"], v) for t, (lv, v) in last.items()
                if lv >= level and math.isfinite(v)]
        if len(rows) >= min_rows:
            return rows
    return [(searcher.configs[f"t{t:06d}"], v) for t, (_, v) in last.items()]


def one_stage(instance: str, method: str, seed: int, workers: int = 4) -> float:
    from benchmarks import yahpo

    bench = yahpo.load(instance)
    task, _, traj = _run(method, bench, bench.space, seed, workers, bench.budget())
    return bench.regret(_full_best(task, traj, bench.mode))


def two_stage(instance: str, method: str, seed: int, workers: int = 4,
              top: float = 0.2, fix_below: float = 0.05) -> tuple[float, float, int]:
    """(regret of the best full-fidelity result over both stages, stage 1's alone, number of
    parameters the refinement fixed)."""
    from benchmarks import yahpo
    from search_spaces import Fixed
    from tuner.followup.refine import refine_rows

    bench = yahpo.load(instance)
    half = bench.budget() / 2
    task, searcher, traj1 = _run(method, bench, bench.space, seed, workers, half)
    ref = refine_rows(bench.space, stage_rows(task, searcher, traj1), bench.mode, top=top,
                      fix_below=fix_below)
    fixed = sum(isinstance(d, Fixed) for d in ref.space.values()) \
        - sum(isinstance(d, Fixed) for d in bench.space.values())
    task2, _, traj2 = _run(method, bench, ref.space, seed + 10_000, workers, half, ref.points)
    b1, b2 = _full_best(task, traj1, bench.mode), _full_best(task2, traj2, bench.mode)
    pick = np.nanmax if bench.mode == "max" else np.nanmin
    return bench.regret(float(pick([b1, b2]))), bench.regret(b1), fixed




def _table(rows: list[dict]) -> str:
    out = ["| instance | method | one stage | two stages | two − one (paired) | "
           "two better / worse | stage 1 alone | fixed params |", "|---" * 8 + "|"]
    keys = sorted({(r["instance"], r["method"]) for r in rows})
    for inst, m in keys:
        rs = [r for r in rows if r["instance"] == inst and r["method"] == m]
        one, two = [r["one"] for r in rs], [r["two"] for r in rs]
        diff = [b - a for a, b in zip(one, two)]
        cells = [t_interval(x) for x in (one, two, diff, [r["stage1"] for r in rs])]
        f = [f"{mu:.4f} ± {hw:.4f}" for mu, hw in cells]
        better = sum(d < -1e-12 for d in diff)
        worse = sum(d > 1e-12 for d in diff)
        out.append(f"| {inst} | {m} | {f[0]} | {f[1]} | {f[2]} | {better} / {worse} | {f[3]} | "
                   f"{np.mean([r['fixed'] for r in rs]):.1f} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore")
    from benchmarks.compare import instance_names

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", default="dev")
    ap.add_argument("--methods", default="asha")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--top", type=float, default=0.2)
    ap.add_argument("--fix-below", type=float, default=0.05,
                    help="importance share under which a parameter is fixed (0: never)")
    ap.add_argument("--out", default="benchmarks/results/refine")
    args = ap.parse_args(argv)
    rows = []
    t0 = time.time()
    for inst in instance_names(args.instances):
        for m in args.methods.split(","):
            for seed in range(args.seeds):
                two, s1, fixed = two_stage(inst, m, seed, args.workers, args.top, args.fix_below)
                rows.append({"instance": inst, "method": m, "seed": seed,
                             "one": one_stage(inst, m, seed, args.workers), "two": two,
                             "stage1": s1, "fixed": fixed})
            print(f"{inst} {m}: {time.time() - t0:.0f} s", file=sys.stderr)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "runs.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    table = _table(rows)
    cmd = "python -m benchmarks.refine " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    (out / "table.md").write_text(table + "\n")
    print(f"{cmd}\n\n{table}\n\n({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
