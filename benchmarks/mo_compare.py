"""Several objectives on YAHPO surrogates: normalised hypervolume regret vs time (issue 23).

    python -m benchmarks.mo_compare --instances dev --seeds 10 --workers 4 --jobs 2 \
        --budget-scale 0.25 --out benchmarks/results/mo-dev-w4
    python -m benchmarks.mo_compare --summary benchmarks/results/mo-dev-w4

Objectives per scenario: ``benchmarks.mo_yahpo``; methods: ``benchmarks.mo_peers``; the
measure and each instance's reference front: ``benchmarks.mo_reference``. Budget per run as
the single-objective harness (``benchmarks.compare``: YAHPO's ⌈20·r_max + 40·√d·r_max⌉
fidelity units; ``--budget-scale`` takes a fraction of it — the recorded runs use 0.25, see
docs/benchmarks.md), on the same simulated clock (``benchmarks.simulator``); a result whose
cost crosses the budget counts nowhere.

A run writes, as each (instance, method, seed) ends, one row to ``runs.csv`` and to
``points.csv`` the full-fidelity points that were non-dominated among the run's full-fidelity
points when they came (losses, with the budget spent and the simulated time): the only ones
that can ever add hypervolume. Rerunning the same command skips every row already in
``runs.csv``, so a stopped run resumes. Regret is computed only by ``--summary``, once every
method's points are known (the reference front includes them).

``--summary`` keeps the (instance, seed) pairs every method finished (paired), and prints:
mean regret at 25 / 50 / 100 % of the budget, mean rank at 100 %, the speed-up over random
search (``benchmarks.compare.speedups``: time random needs to reach its final mean regret ÷ the
time each method needs, on each instance's log grid of simulated seconds; geo-mean and median
over instances), regret and speed-up per instance, each method's simulated seconds per scenario
÷ random's, our methods paired by (instance, seed), and the issue's goals for each of ours
(best mean regret of every method at 25, 50 and 100 %; ≥ 3× speed-up, geo-mean). It writes the
same to ``table.md`` and each instance's reference to ``reference.csv``
(``benchmarks.mo_summary``).
"""

from __future__ import annotations

import argparse
import csv
import math
import multiprocessing
import shlex
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

__all__ = ["front_arrivals", "main", "run", "run_one"]

_LOSSES = ("loss0", "loss1", "loss2")


def front_arrivals(traj, objectives, top: int) -> list[tuple[float, float, np.ndarray]]:
    """(budget spent, simulated time, losses) of each full-fidelity result within the budget
    that no earlier one of them weakly dominates, in the order they came."""
    out: list[tuple[float, float, np.ndarray]] = []
    limit = traj.budget * (1 + 1e-12)
    for spent, clock, value, level in zip(traj.spent, traj.clock, traj.value, traj.level):
        if level != top or spent > limit:
            continue
        losses = objectives.losses(dict(zip(objectives.names, value)))
        if losses is None or any(np.all(p <= losses) for _, _, p in out):
            continue
        out.append((float(spent), float(clock), losses))
    return out


def run_one(instance: str, method: str, seed: int, workers: int, budget_scale: float = 1.0):
    """One run → (row for ``runs.csv``, rows for ``points.csv``)."""
    warnings.filterwarnings("ignore")
    from benchmarks import mo_peers, mo_yahpo, simulator

    mob = mo_yahpo.load(instance)
    budget = mob.budget() * budget_scale
    setup = mo_peers.build(method, mob, seed=seed, workers=workers)
    t0 = time.perf_counter()
    traj = simulator.simulate(setup.task, setup.searcher, setup.scheduler, workers=workers,
                              budget=budget, **setup.wiring)
    wall = time.perf_counter() - t0
    top = setup.task.levels[-1]
    key = {"instance": instance, "method": method, "seed": seed}
    row = {**key, "workers": workers, "budget": budget,
           "spent": traj.spent[-1] if traj.spent else 0.0, "trials": traj.num_trials,
           "results": len(traj.spent), "full_fidelity": int(np.sum(np.asarray(traj.level) == top)),
           "sim_seconds": traj.clock[-1] if traj.clock else 0.0, "wall_seconds": round(wall, 3)}
    points = [{**key, "spent": s, "clock": c,
               **{k: (f"{v:.10g}" if i < len(p) else "") for i, (k, v) in
                  enumerate(zip(_LOSSES, list(p) + [math.nan] * 3))}}
              for s, c, p in front_arrivals(traj, setup.task.bench.objectives, top)]
    return row, points


def _job(job: tuple):
    return job, run_one(*job)


def _append(path: Path, rows: list[dict], fields: list[str]) -> None:
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def _finished(out: Path) -> set[tuple[str, str, int]]:
    path = out / "runs.csv"
    if not path.exists():
        return set()
    with open(path) as f:
        return {(r["instance"], r["method"], int(r["seed"])) for r in csv.DictReader(f)}


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end our own worker processes (by handle)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()


def _results(jobs: list[tuple], processes: int):
    """(job, result) of each run as it ends: here, or in ``processes`` spawned workers
    (spawned: the parent holds onnxruntime sessions, from the reference samples)."""
    if processes <= 1:
        yield from map(_job, jobs)
        return
    pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
    try:
        for future in as_completed([pool.submit(_job, j) for j in jobs]):
            yield future.result()
    finally:
        _stop(pool)


def _prepare(args: argparse.Namespace, argv: list[str] | None) -> tuple[Path, list[tuple]]:
    """The folder (its README with the command, the reference samples built) and the runs
    not in its ``runs.csv`` yet, seed-major."""
    from benchmarks import mo_reference, mo_yahpo

    instances = mo_yahpo.instance_names(args.instances)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks.mo_compare " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    (out / "README.md").write_text(
        f"# {out.name}\n\nCommand (from the repository root; rerun it to resume):\n\n"
        f"    {command}\n\nSummary: `python -m benchmarks.mo_compare --summary {out}` "
        "(table.md). Files: runs.csv (one row per run), points.csv (each run's full-fidelity "
        "points that were non-dominated when they came, as losses), reference.csv. See "
        "docs/benchmarks.md, \"Several objectives\".\n")
    for name in instances:  # the shared reference samples, once, before any worker
        mo_reference.sample(mo_yahpo.load(name))
    done = _finished(out)
    jobs = [(i, m, s, args.workers, args.budget_scale)
            for s in range(args.first_seed, args.first_seed + args.seeds)
            for i in instances for m in methods if (i, m, s) not in done]
    print(f"{len(jobs)} runs to go ({len(done)} done)", file=sys.stderr)
    return out, jobs


def run(args: argparse.Namespace, argv: list[str] | None) -> int:
    """Every (instance, method, seed) not in ``runs.csv`` yet, rows written as runs end."""
    from benchmarks import mo_peers

    unknown = [m for m in args.methods.split(",") if m.strip() not in mo_peers.METHODS]
    if unknown:
        print(f"mo_compare: unknown method {unknown[0]!r}; one of "
              f"{', '.join(mo_peers.METHODS)}", file=sys.stderr)
        return 2
    out, jobs = _prepare(args, argv)
    t0 = time.perf_counter()
    deadline = t0 + 60 * args.max_minutes if args.max_minutes else math.inf
    results = _results(jobs, args.jobs)
    try:
        for k, (_, (row, points)) in enumerate(results, 1):
            _append(out / "points.csv", points,
                    ["instance", "method", "seed", "spent", "clock", *_LOSSES])
            _append(out / "runs.csv", [row], list(row))
            if k % 10 == 0 or k == len(jobs):
                print(f"[{k}/{len(jobs)}] {time.perf_counter() - t0:.0f}s", file=sys.stderr)
            if time.perf_counter() > deadline and k < len(jobs):
                print("stopped at --max-minutes; rerun the command to resume", file=sys.stderr)
                break
    finally:
        results.close()
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    from benchmarks import mo_peers

    p = argparse.ArgumentParser(prog="python -m benchmarks.mo_compare",
                                description=__doc__.split("\n")[0])
    p.add_argument("--summary", metavar="FOLDER", help="print the tables of a results folder")
    p.add_argument("--instances", default="dev", help="'dev', 'holdout' or scenario/instance")
    p.add_argument("--methods", default=",".join(mo_peers.METHODS))
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--jobs", type=int, default=1, help="processes")
    p.add_argument("--budget-scale", type=float, default=1.0, help="fraction of the budget")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop after this long (finished rows stay; rerun to resume)")
    p.add_argument("--out")
    args = p.parse_args(argv)
    if not args.summary and not args.out:
        p.error("give --out FOLDER to run, or --summary FOLDER")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.summary:
        from benchmarks.mo_summary import summary

        text = summary(Path(args.summary))
        print(text)
        return 0
    return run(args, argv)


if __name__ == "__main__":
    raise SystemExit(main())
