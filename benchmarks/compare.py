"""Side-by-side comparison on YAHPO surrogates, YAHPO paper protocol (Pfisterer et al. 2022).

    python -m benchmarks.compare --instances dev --methods random,asha,asha-pso \
        --seeds 30 --workers 4 --out benchmarks/results/NAME

Budget per run: ⌈20·r_max + 40·√d·r_max⌉ fidelity units (lcbench: epochs; rbv2/iaml: one unit =
one fit on all the data). Incumbent (the headline): the best *full-fidelity* result so far — what
a user can ship; a low-fidelity prediction can exceed anything full fidelity reaches (rbv2_rpart:
0.9577 at 1/27 of the data, 0.9546 on all of it). Regret, rank and speed-up are computed on it;
the best result at *any* fidelity (the YAHPO/Syne Tune convention) is a secondary column
(``any_regret_*``, axes ``*_any`` in ``curves.csv``). A result whose cost crosses the budget
counts in neither. Normalised regret uses the instance's global min/max (``global_statistics``),
so absolute values are not those of the paper (which normalises by its own runs): compare
orderings and ratios.

Outputs in ``--out``: ``runs.csv`` (one row per run), ``curves.csv`` (gzip it before checking
in; ``replot`` reads either) (regret at 50 budget
fractions and on a shared simulated-time grid, per run), ``regret.png`` (mean ± 95 % CI),
``table.md`` and ``README.md`` (the exact command and the table).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import shlex
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["FRACTIONS", "main", "run_one", "summarise"]

FRACTIONS = np.round(np.linspace(0.02, 1.0, 50), 4)
USER_BUDGETS = (10, 20, 50)  # full-trial equivalents: what a user runs with a day on one GPU
TIME_POINTS = 60  # log-spaced simulated-time grid per instance


def instance_names(spec: str) -> list[str]:
    """``dev``, ``scenario/*``, ``real`` (every recorded table) or names, comma-separated."""
    from benchmarks import yahpo
    from benchmarks.recorded import table

    out: list[str] = []
    for item in spec.split(","):
        item = item.strip()
        if item == "dev":
            out.extend(yahpo.DEV_INSTANCES)
        elif item == "real":
            out.extend(table.instances())
        elif item.endswith(("/*", ":all")):
            sc = item.split("/")[0].split(":")[0]
            out.extend(f"{sc}/{i}" for i in yahpo.instances(sc))
        elif item:
            out.append(item)
    return list(dict.fromkeys(out))


def load_instance(name: str):
    """A YAHPO instance (``lcbench/167168``) or a recorded table of real training
    (``real/mnist1d-cnn``, ``benchmarks.recorded.table``): both answer the same calls."""
    if name.startswith("real/"):
        from benchmarks.recorded import table

        return table.load(name)
    from benchmarks import yahpo

    return yahpo.load(name)


def full_trial_cost(bench) -> float:
    """Budget units of one trial at full fidelity: the issue's "full-trial equivalent"."""
    return float(bench.fidelity_max) if bench.multi_epoch else 1.0


def best_so_far(values: np.ndarray, mode: str) -> np.ndarray:
    return np.maximum.accumulate(values) if mode == "max" else np.minimum.accumulate(values)


def _regret_curve(bench, incumbent: np.ndarray) -> np.ndarray:
    """Normalised regret after each result; 1 (the worst) before the first that counts."""
    return np.array([1.0 if math.isnan(v) else bench.regret(v) for v in incumbent])


def run_one(instance: str, method: str, seed: int, workers: int, budget_scale: float = 1.0):
    """One run → (row, {axis: regret at FRACTIONS}, {axis: (clock, regret after each result)}).

    Axis ``full`` (the headline): the best result at the top level — a model a user can ship;
    axis ``any``: the best at any fidelity (the YAHPO/Syne Tune convention, secondary). A result
    whose cost crosses the budget counts in neither (``Trajectory.incumbent``).
    """
    warnings.filterwarnings("ignore")
    from benchmarks import peers, simulator

    bench = load_instance(instance)
    budget = bench.budget() * budget_scale
    setup = peers.build(method, bench, seed=seed, workers=workers)
    t0 = time.perf_counter()
    traj = simulator.simulate(setup.task, setup.searcher, setup.scheduler, workers=workers,
                              budget=budget, **setup.wiring)
    wall = time.perf_counter() - t0
    a = traj.arrays()
    spent, clock = a["spent"], a["clock"]
    idx = np.searchsorted(spent, FRACTIONS * budget, side="right") - 1
    row = {"instance": instance, "method": method, "seed": seed, "workers": workers,
           "budget": budget, "spent": float(spent[-1]) if len(spent) else 0.0,
           "trials": traj.num_trials, "results": len(spent)}
    fracs, runs = {}, {}
    for axis, level in (("full", setup.task.levels[-1]), ("any", None)):
        regret = _regret_curve(bench, traj.incumbent(bench.mode, level=level))
        if not len(regret):
            regret = np.ones(1)
        at_frac = np.where(idx >= 0, regret[np.clip(idx, 0, len(regret) - 1)], 1.0)
        prefix = "" if axis == "full" else "any_"
        for pct in (25, 50):
            row[f"{prefix}regret_{pct}"] = float(at_frac[np.searchsorted(FRACTIONS, pct / 100)])
        row[f"{prefix}regret_100"] = float(at_frac[-1])
        fracs[axis], runs[axis] = at_frac, (clock, regret)
    row.update(_at_user_budgets(bench, traj, spent, setup.task.levels[-1]))
    row.update({
        "sim_seconds": float(clock[-1]) if len(clock) else 0.0,
        "decision_ms_per_result": 1e3 * traj.decision_seconds / max(1, traj.num_decisions),
        "wall_seconds": wall,
    })
    return row, fracs, runs


def _at_user_budgets(bench, traj, spent: np.ndarray, top: int) -> dict:
    """Regret of the best full-fidelity result after 10, 20 and 50 full-trial equivalents
    (NaN past the run's budget) and, on a recorded table, the test score of the model chosen
    there and at the whole budget — the figure a user gets."""
    unit, out = full_trial_cost(bench), {}
    regret = _regret_curve(bench, traj.incumbent(bench.mode, level=top))
    for k in USER_BUDGETS:
        j = np.searchsorted(spent, k * unit, side="right") - 1
        inside = k * unit <= traj.budget * (1 + 1e-9)
        out[f"regret_fte{k}"] = (float(regret[j]) if j >= 0 and len(regret) else 1.0) \
            if inside else math.nan
    if hasattr(bench, "test_score"):
        for k in (*USER_BUDGETS, None):
            cfg = traj.incumbent_config(bench.mode, top, k * unit if k else traj.budget)
            out[f"test_fte{k}" if k else "test_100"] = (
                bench.test_score(cfg) if cfg is not None else math.nan)
    return out


def _job(args):
    return args, run_one(*args)


def _time_curves(runs: dict, instances: list[str]):
    """Per instance: log grid over simulated time, regret per run on it."""
    grids, curves = {}, {}
    for inst in instances:
        clocks = [c for (i, _, _), (c, _) in runs.items() if i == inst and len(c)]
        lo = max(1e-3, min(c[0] for c in clocks))
        hi = max(c[-1] for c in clocks)
        grid = np.geomspace(lo, hi, TIME_POINTS)
        grids[inst] = grid
        for key, (c, r) in runs.items():
            if key[0] != inst:
                continue
            j = np.searchsorted(c, grid, side="right") - 1
            # after a run ends (budget spent) its regret stays at its final value
            curves[key] = np.where(j >= 0, r[np.clip(j, 0, None)], 1.0)
    return grids, curves


def speedups(grids, curves, methods, instances, baseline="random") -> dict[str, list[float]]:
    """Time the baseline needs to reach its final mean regret ÷ time the method needs."""
    out: dict[str, list[float]] = {m: [] for m in methods}
    for inst in instances:
        grid = grids[inst]
        mean = {m: np.mean([v for (i, mm, _), v in curves.items() if i == inst and mm == m],
                           axis=0) for m in methods}
        if baseline not in mean:
            continue
        target = mean[baseline][-1]
        t_base = grid[np.argmax(mean[baseline] <= target + 1e-12)]
        for m in methods:
            hit = np.nonzero(mean[m] <= target + 1e-12)[0]
            # never reached: the method's whole run is a lower bound on its time (speed-up ≤)
            t_m = grid[hit[0]] if len(hit) else grid[-1]
            out[m].append(t_base / t_m if len(hit) else min(1.0, t_base / t_m))
    return out


def summarise(rows: list[dict], fracs: dict, grids, curves, methods, instances) -> str:
    """Markdown table on the best *full-fidelity* result: mean regret at 25/50/100 %, mean
    rank, speed-up vs random on the full-fidelity curves; any-fidelity regret as a secondary
    column (the YAHPO/Syne Tune convention, which credits models no user can deploy)."""
    import pandas as pd

    df = pd.DataFrame(rows)
    df["rank"] = df.groupby(["instance", "seed"])["regret_100"].rank(method="average")
    sp = speedups(grids, curves, methods, instances) if "random" in methods else {}
    lines = [("| method | regret 25 % | regret 50 % | regret 100 % | mean rank | "
              "speed-up vs random (geo-mean; median) | any-fidelity regret 100 % (secondary) |"),
             "|---|---|---|---|---|---|---|"]
    agg = df.groupby("method").agg(r25=("regret_25", "mean"), r50=("regret_50", "mean"),
                                   r100=("regret_100", "mean"),
                                   rany=("any_regret_100", "mean"), rank=("rank", "mean"))
    for m in sorted(methods, key=lambda m: agg.loc[m, "rank"]):
        s = sp.get(m, [])
        sp_txt = (f"{math.exp(np.mean(np.log(s))):.2f}× ; {np.median(s):.2f}×" if s else "—")
        a = agg.loc[m]
        lines.append(f"| {m} | {a.r25:.4f} | {a.r50:.4f} | {a.r100:.4f} | {a['rank']:.2f} | "
                     f"{sp_txt} | {a.rany:.4f} |")
    per = df.pivot_table(index="instance", columns="method", values="regret_100", aggfunc="mean")
    lines += ["", "Mean normalised regret of the best full-fidelity result at 100 % budget, per "
              "instance:", "",
              "| instance | " + " | ".join(per.columns) + " |",
              "|---|" + "---|" * len(per.columns)]
    for inst, r in per.iterrows():
        lines.append(f"| {inst} | " + " | ".join(f"{v:.4f}" for v in r.values) + " |")
    return "\n".join(lines)


def summarise_user_budgets(rows: list[dict], methods: list[str]) -> str:
    """Markdown: regret of the best full-fidelity result after 10 / 20 / 50 full-trial
    equivalents and at the whole budget, mean rank at each; on recorded tables, the chosen
    model's test score (mean and 95 % t-interval over seeds and instances)."""
    import pandas as pd

    from benchmarks.stats import interval95

    df = pd.DataFrame(rows)
    cols = [f"regret_fte{k}" for k in USER_BUDGETS] + ["regret_100"]
    heads = [f"{k} full trials" for k in USER_BUDGETS] + ["whole budget"]
    for c in cols:
        df[f"rank_{c}"] = df.groupby(["instance", "seed"])[c].rank(method="average")
    agg = df.groupby("method")[cols + [f"rank_{c}" for c in cols]].mean()
    lines = ["| method | " + " | ".join(f"regret, rank @ {h}" for h in heads) + " |",
             "|---|" + "---|" * len(cols)]
    for m in sorted(methods, key=lambda m: agg.loc[m, "rank_regret_fte20"]):
        cells = [f"{agg.loc[m, c]:.4f}, {agg.loc[m, 'rank_' + c]:.2f}" for c in cols]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    tests = [c for c in [f"test_fte{k}" for k in USER_BUDGETS] + ["test_100"] if c in df]
    if tests:
        lines += ["", "Test score of the chosen model (mean ± 95 % interval over runs):", "",
                  "| method | " + " | ".join(f"@ {h}" for h in heads) + " |",
                  "|---|" + "---|" * len(tests)]
        for m in sorted(methods, key=lambda m: -df.loc[df.method == m, "test_fte20"].mean()):
            cells = []
            for c in tests:
                mean, half = interval95(df.loc[df.method == m, c].dropna().to_numpy())
                cells.append(f"{mean:.4f} ± {half:.4f}")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(fracs, grids, curves, methods, instances, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(instances) + 1
    cols = min(4, n)
    rows_ = math.ceil(n / cols)
    fig, axes = plt.subplots(rows_, cols, figsize=(4.2 * cols, 3.3 * rows_), squeeze=False)
    for ax, inst in zip(axes.flat, instances + ["mean over instances"]):
        for m in methods:
            if inst == "mean over instances":
                ys = np.array([np.mean([v for (i, mm, s), v in fracs.items()
                                        if i == ii and mm == m], axis=0) for ii in instances])
            else:
                ys = np.array([v for (i, mm, _), v in fracs.items() if i == inst and mm == m])
            mu = ys.mean(axis=0)
            ci = 1.96 * ys.std(axis=0, ddof=1) / math.sqrt(len(ys)) if len(ys) > 1 else 0 * mu
            ax.plot(FRACTIONS, mu, label=m)
            ax.fill_between(FRACTIONS, np.maximum(mu - ci, 1e-6), mu + ci, alpha=0.15)
        ax.set_yscale("symlog", linthresh=1e-3)  # regret can dip below 0: see docs
        ax.set_title(inst, fontsize=9)
        ax.set_xlabel("fraction of budget")
        ax.set_ylabel("regret, best full-fidelity result")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    fig, axes = plt.subplots(rows_, cols, figsize=(4.2 * cols, 3.3 * rows_), squeeze=False)
    for ax, inst in zip(axes.flat, instances):
        for m in methods:
            ys = np.array([v for (i, mm, _), v in curves.items() if i == inst and mm == m])
            mu = ys.mean(axis=0)
            ci = 1.96 * ys.std(axis=0, ddof=1) / math.sqrt(len(ys)) if len(ys) > 1 else 0 * mu
            ax.plot(grids[inst], mu, label=m)
            ax.fill_between(grids[inst], np.maximum(mu - ci, 1e-6), mu + ci, alpha=0.15)
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_title(inst, fontsize=9)
        ax.set_xlabel("simulated wall-clock seconds")
    for ax in list(axes.flat)[len(instances):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path.with_name("regret_vs_time.png"), dpi=110)
    plt.close(fig)


def replot(out: Path) -> None:
    """Redraw both figures from ``curves.csv`` (e.g. after a plotting change)."""
    import pandas as pd

    path = out / "curves.csv"
    df = pd.read_csv(path if path.exists() else out / "curves.csv.gz")
    fracs, curves, grids = {}, {}, {}
    for (i, m, s, axis), g in df.groupby(["instance", "method", "seed", "axis"], sort=False):
        if axis == "budget_fraction":
            fracs[(i, m, s)] = g["regret"].to_numpy()
        elif axis == "sim_seconds":
            curves[(i, m, s)] = g["regret"].to_numpy()
            grids[i] = g["x"].to_numpy()
    instances = list(dict.fromkeys(k[0] for k in fracs))
    methods = list(dict.fromkeys(k[1] for k in fracs))
    plot(fracs, grids, curves, methods, instances, out / "regret.png")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line: which instances, methods and seeds, how many processes, where to."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__.split(
        "\n")[0])
    p.add_argument("--instances", default="dev",
                   help="comma list of scenario/instance, 'dev' (9 YAHPO-SO), 'lcbench/*'")
    p.add_argument("--methods", default="random,ray-asha,optuna-study-tpe,asha,asha-pso")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0,
                   help="seeds first-seed .. first-seed+seeds-1 (runs are deterministic per seed)")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--jobs", type=int, default=1, help="processes")
    p.add_argument("--budget-scale", type=float, default=1.0, help="fraction of the budget")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop after this long, keeping only complete seeds (seed-major order)")
    p.add_argument("--out", required=True)
    return p.parse_args(argv)


@dataclass
class _Collected:
    """The finished runs, keyed (instance, method, seed): what every output is made of.

    ``fracs``/``runs`` hold the full-fidelity axis (the headline), ``fracs_any``/``runs_any``
    the any-fidelity one; ``seeds_done`` counts the seeds complete for every instance x method.
    """

    seeds_done: int
    rows: list[dict] = field(default_factory=list)
    fracs: dict = field(default_factory=dict)
    runs: dict = field(default_factory=dict)
    fracs_any: dict = field(default_factory=dict)
    runs_any: dict = field(default_factory=dict)

    def add(self, job: tuple, row: dict, frac: dict, run: dict) -> None:
        """Keep one finished run: its row and both axes of its regret curves."""
        key = job[:3]
        self.rows.append(row)
        self.fracs[key], self.runs[key] = frac["full"], run["full"]
        self.fracs_any[key], self.runs_any[key] = frac["any"], run["any"]

    def keep_only(self, keep: set) -> None:
        """Drop the runs of incomplete seeds (after a stop)."""
        self.rows = [r for r in self.rows if (r["instance"], r["method"], r["seed"]) in keep]
        self.fracs, self.runs, self.fracs_any, self.runs_any = (
            {k: v for k, v in d.items() if k in keep}
            for d in (self.fracs, self.runs, self.fracs_any, self.runs_any))


def _stop_pool(pool: ProcessPoolExecutor | None) -> None:
    """End the worker processes now instead of letting queued runs finish after a stop."""
    if pool:
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            proc.terminate()  # our own workers, by handle


def _run_all(args: argparse.Namespace, instances: list[str], methods: list[str], path: Path,
             t0: float) -> _Collected:
    """Every run, one row of ``runs.csv`` each as it ends; on Ctrl-C or past --max-minutes,
    only the seeds complete for every instance x method are kept (and ``runs.csv`` rewritten)."""
    # seed-major, so an interrupted run (Ctrl-C) still has every instance x method per seed
    jobs = [(i, m, s, args.workers, args.budget_scale)
            for s in range(args.first_seed, args.first_seed + args.seeds)
            for i in instances for m in methods]
    done = _Collected(seeds_done=args.seeds)
    pool = ProcessPoolExecutor(args.jobs) if args.jobs > 1 else None
    results = (f.result() for f in [pool.submit(_job, j) for j in jobs]) if pool \
        else map(_job, jobs)
    deadline = t0 + 60 * args.max_minutes if args.max_minutes else None
    with open(path, "w", newline="") as f:
        writer = None
        try:
            for k, (job, (row, frac, run)) in enumerate(results, 1):
                done.add(job, row, frac, run)
                if writer is None:
                    writer = csv.DictWriter(f, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow(row)
                f.flush()
                if k % 20 == 0 or k == len(jobs):
                    print(f"[{k}/{len(jobs)}] {time.perf_counter() - t0:.0f}s", file=sys.stderr)
                if deadline and time.perf_counter() > deadline and k < len(jobs):
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            done.seeds_done = len(done.rows) // (len(instances) * len(methods))
            print(f"stopped early: keeping the {done.seeds_done} complete seeds",
                  file=sys.stderr)
            _stop_pool(pool)
            done.keep_only({(i, m, s) for i in instances for m in methods
                            for s in range(args.first_seed, args.first_seed + done.seeds_done)})
        if done.seeds_done < args.seeds:  # rewrite runs.csv with the complete seeds only
            _rewrite_rows(f, done.rows)
    return done


def _rewrite_rows(f, rows: list[dict]) -> None:
    """Replace what ``runs.csv`` holds by ``rows`` (the complete seeds after a stop)."""
    f.seek(0)
    f.truncate()
    writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["instance"])
    writer.writeheader()
    writer.writerows(rows)


def _write_curves(path: Path, done: _Collected, grids, curves, curves_any) -> None:
    """``curves.csv``: regret per run at the budget fractions and on the time grid, both axes
    (what ``replot`` redraws the figures from)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["instance", "method", "seed", "axis", "x", "regret"])
        for suffix, fr, cu in (("", done.fracs, curves), ("_any", done.fracs_any, curves_any)):
            for (i, m, s), v in fr.items():
                w.writerows([i, m, s, "budget_fraction" + suffix, x, f"{y:.6g}"]
                            for x, y in zip(FRACTIONS, v))
            for (i, m, s), v in cu.items():
                w.writerows([i, m, s, "sim_seconds" + suffix, f"{x:.6g}", f"{y:.6g}"]
                            for x, y in zip(grids[i], v))


def _write_readme(out: Path, argv: list[str] | None, args: argparse.Namespace,
                  instances: list[str], methods: list[str], seeds_done: int, t0: float,
                  table: str) -> None:
    """``README.md``: the exact command that made this folder, its scale, and the table."""
    command = "python -m benchmarks.compare " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    (out / "README.md").write_text(
        f"# {out.name}\n\nCommand (from the repository root):\n\n    {command}\n\n"
        f"{len(instances)} instances × {len(methods)} methods × {seeds_done} seeds "
        f"(asked: {args.seeds}), "
        f"{args.workers} simulated workers, budget ×{args.budget_scale} of the YAHPO budget; "
        f"{time.perf_counter() - t0:.0f} s on {os.cpu_count()} CPU cores.\n\n"
        f"Instances: {', '.join(instances)}\n\n{table}\n\n"
        "Files: runs.csv (one row per run), curves.csv, regret.png (vs budget fraction), "
        "regret_vs_time.png (vs simulated wall-clock). See docs/benchmarks.md.\n")


def _write_results(out: Path, done: _Collected, instances: list[str],
                   methods: list[str]) -> str:
    """``curves.csv``, ``table.md`` and both figures from the kept runs; returns the table."""
    grids, curves = _time_curves(done.runs, instances)
    _, curves_any = _time_curves(done.runs_any, instances)
    _write_curves(out / "curves.csv", done, grids, curves, curves_any)
    table = summarise(done.rows, done.fracs, grids, curves, methods, instances)
    table += ("\n\nAt the budgets users run (full-trial equivalents: runs of the whole "
              "schedule's cost), read from the same runs:\n\n"
              + summarise_user_budgets(done.rows, methods))
    (out / "table.md").write_text(table + "\n")
    plot(done.fracs, grids, curves, methods, instances, out / "regret.png")
    return table


def main(argv: list[str] | None = None) -> int:
    """Parse, run every instance x method x seed, write the outputs; the exit status."""
    args = _parse_args(argv)
    from benchmarks import peers

    instances = instance_names(args.instances)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in peers.ALL_METHODS]
    if unknown:
        print(f"compare: unknown method {unknown[0]!r}; one of {', '.join(peers.ALL_METHODS)}",
              file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    done = _run_all(args, instances, methods, out / "runs.csv", t0)
    if not done.rows:
        print("compare: no complete seed within --max-minutes", file=sys.stderr)
        return 1
    table = _write_results(out, done, instances, methods)
    _write_readme(out, argv, args, instances, methods, done.seeds_done, t0, table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
