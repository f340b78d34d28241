"""Check a comparison's results against the project's goals for the default method.

    python -m benchmarks.goals benchmarks/results/dev30-w4 [--method asha-pso]

Reads ``runs.csv`` and ``curves.csv(.gz)`` written by ``benchmarks.compare`` and prints, for
the method (default: ``tuner.methods.DEFAULT_METHOD``) against every peer in the run
(``benchmarks.peers.PEERS``): mean rank among all methods of the run, mean normalised regret
at 100 % budget and how far below the best peer's it is, the speed-up over random search
(geo-mean and median over instances), and each goal as met / not met:

* best mean rank against every peer;
* final regret at least 30 % below the best peer's;
* ≥ 10× speed-up over random search (geometric mean over instances).

Also the share of (instance, seed) pairs where the method's final regret is below each peer's,
so a reader sees whether a mean is carried by one instance.

Several folders (runs are deterministic per seed, so a peer run separately on some seeds can
join the main run): their ``runs.csv`` are merged and only the (instance, seed) pairs every
method ran are kept — a paired comparison. Speed-ups need one folder's shared time grid, so
they are left out then.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

__all__ = ["goals", "main"]


def _curves(out: Path):
    import pandas as pd

    path = out / "curves.csv"
    df = pd.read_csv(path if path.exists() else out / "curves.csv.gz")
    df = df[df["axis"] == "sim_seconds"]
    grids, curves = {}, {}
    for (i, m, s), g in df.groupby(["instance", "method", "seed"], sort=False):
        curves[(i, m, s)] = g["regret"].to_numpy()
        grids[i] = g["x"].to_numpy()
    return grids, curves


def _paired_runs(outs: list[Path]):
    """Merged ``runs.csv``; with several folders only pairs that every method ran."""
    import pandas as pd

    runs = pd.concat([pd.read_csv(o / "runs.csv") for o in outs], ignore_index=True)
    runs = runs.drop_duplicates(["instance", "method", "seed"])
    if len(outs) > 1:
        n_methods = runs["method"].nunique()
        complete = runs.groupby(["instance", "seed"])["method"].transform("nunique") == n_methods
        runs = runs[complete].copy()
    return runs


def goals(outs: Path | list[Path], method: str) -> str:
    """The goal table for ``method`` in one or more results folders (markdown)."""
    from benchmarks.compare import speedups
    from benchmarks.peers import PEERS

    outs = [outs] if isinstance(outs, Path) else list(outs)
    where = " + ".join(str(o) for o in outs)
    runs = _paired_runs(outs)
    methods = list(dict.fromkeys(runs["method"]))
    if method not in methods:
        raise SystemExit(f"goals: {method!r} is not in {where} ({', '.join(methods)})")
    peers = [m for m in methods if m in PEERS]
    if not peers:
        raise SystemExit(f"goals: no peer ({', '.join(PEERS)}) in {where}")
    runs["rank"] = runs.groupby(["instance", "seed"])["regret_100"].rank(method="average")
    agg = runs.groupby("method").agg(regret=("regret_100", "mean"), rank=("rank", "mean"))
    instances = list(dict.fromkeys(runs["instance"]))
    sp = {}
    if len(outs) == 1 and "random" in methods:
        grids, curves = _curves(outs[0])
        sp = speedups(grids, curves, methods, instances)
    wide = runs.pivot_table(index=["instance", "seed"], columns="method", values="regret_100")
    seeds = runs.groupby("instance")["seed"].nunique()

    def speed(m: str) -> str:
        s = sp.get(m)
        return f"{math.exp(np.mean(np.log(s))):.2f}× ; {np.median(s):.2f}×" if s else "—"

    header = (f"{len(instances)} instances, {seeds.min()}–{seeds.max()} seeds per instance, "
              f"{len(methods)} methods in the run; ranks are among all of them.")
    columns = ("| method | mean rank | regret 100 % | speed-up vs random (geo-mean ; median) | "
               f"{method} better in |")
    lines = [header, "", columns, "|---|---|---|---|---|"]
    for m in sorted([method] + peers, key=lambda m: agg.loc[m, "rank"]):
        better = "" if m == method else f"{(wide[method] < wide[m]).mean():.0%} of runs"
        name = f"**{m}**" if m == method else m
        lines.append(f"| {name} | {agg.loc[m, 'rank']:.2f} | {agg.loc[m, 'regret']:.4f} | "
                     f"{speed(m)} | {better} |")
    best_peer = min(peers, key=lambda m: agg.loc[m, "regret"])
    best_rank_peer = min(peers, key=lambda m: agg.loc[m, "rank"])
    ours, theirs = agg.loc[method, "regret"], agg.loc[best_peer, "regret"]
    below = 1 - ours / theirs if theirs > 0 else float("nan")
    geo = math.exp(np.mean(np.log(sp[method]))) if sp.get(method) else float("nan")

    def met(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    rank_ok = agg.loc[method, "rank"] < agg.loc[best_rank_peer, "rank"]
    rank_row = (f"| best mean rank against every peer | {agg.loc[method, 'rank']:.2f} vs "
                f"{best_rank_peer} {agg.loc[best_rank_peer, 'rank']:.2f} | {met(rank_ok)} |")
    regret_row = (f"| regret at 100 % ≥ 30 % below the best peer's | {ours:.4f} vs {best_peer} "
                  f"{theirs:.4f}: {below:.0%} below | {met(below >= 0.30)} |")
    speed_row = (f"| ≥ 10× speed-up over random (geo-mean) | {speed(method)} | {met(geo >= 10)} |"
                 if sp else "| ≥ 10× speed-up over random (geo-mean) | — (one folder only) | |")
    lines += ["", "| goal | measured | |", "|---|---|---|", rank_row, regret_row, speed_row]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.goals", description=__doc__.split(
        "\n")[0])
    p.add_argument("results", nargs="+", help="folders written by python -m benchmarks.compare")
    p.add_argument("--method", default=None, help="default: tuner.methods.DEFAULT_METHOD")
    args = p.parse_args(argv)
    outs = [Path(r) for r in args.results]
    for out in outs:
        if not (out / "runs.csv").exists():
            print(f"goals: {out}/runs.csv not found (run python -m benchmarks.compare first)",
                  file=sys.stderr)
            return 2
    from tuner.methods import DEFAULT_METHOD

    print(goals(outs, args.method or DEFAULT_METHOD))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
