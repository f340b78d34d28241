"""Check a comparison's results against the project's goals for the default method.

    python -m benchmarks.goals benchmarks/results/dev30-w4 [--method asha-pso]
    python -m benchmarks.goals --budgets benchmarks/results/real-mnist1d-cnn-w4-all
    python -m benchmarks.goals --rows asha-checked-pso-scouts,random FOLDER [FOLDER ...]
    python -m benchmarks.goals --versus asha-checked-pso FOLDER [FOLDER ...]

Reads ``runs.csv`` and ``curves.csv(.gz)`` written by ``benchmarks.compare`` and prints, for
the method (default: ``tuner.compose.methods.DEFAULT_METHOD``) against every peer in the run
(``benchmarks.peers.PEERS``): mean rank among all methods of the run, mean normalised regret
at 100 % budget as a ratio to the best peer's, the speed-up over random search (geo-mean and
median over instances), and each goal of issue 12 as met / not met — all on the best
*full-fidelity* result (any-fidelity rank and regret follow as secondary columns):

* best mean rank against every peer;
* mean final regret ≤ 0.5 × the best peer's;
* on no instance worse than the best peer there by more than 0.01 of normalised regret;
* ≥ 10× speed-up over random search (geometric mean over instances, full-fidelity curves).

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


def _paired_runs(outs: list[Path], keep: list[str] | None = None):
    """Merged ``runs.csv`` (only the methods in ``keep`` when given); with several folders
    only the pairs that every method ran."""
    import pandas as pd

    frames = []
    for o in outs:
        df = pd.read_csv(o / "runs.csv")
        if "any_regret_100" not in df.columns:
            raise SystemExit(f"goals: {o}/runs.csv predates the full-fidelity headline (its "
                             "regret_100 is the any-fidelity incumbent); rerun "
                             "python -m benchmarks.compare for it")
        frames.append(df)
    runs = pd.concat(frames, ignore_index=True)
    runs = runs.drop_duplicates(["instance", "method", "seed"])
    if keep:
        runs = runs[runs["method"].isin(keep)].copy()
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
    runs["any_rank"] = runs.groupby(["instance", "seed"])["any_regret_100"].rank(
        method="average")
    agg = runs.groupby("method").agg(regret=("regret_100", "mean"), rank=("rank", "mean"),
                                     any_regret=("any_regret_100", "mean"),
                                     any_rank=("any_rank", "mean"))
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
    header += (" Regret, rank and speed-up are on the best full-fidelity result; the last two "
               "columns (any fidelity) are secondary.")
    columns = ("| method | mean rank | regret 100 % | speed-up vs random (geo-mean ; median) | "
               f"{method} better in | any-fid. rank | any-fid. regret 100 % |")
    lines = [header, "", columns, "|---|---|---|---|---|---|---|"]
    for m in sorted([method] + peers, key=lambda m: agg.loc[m, "rank"]):
        better = "" if m == method else f"{(wide[method] < wide[m]).mean():.0%} of runs"
        name = f"**{m}**" if m == method else m
        lines.append(f"| {name} | {agg.loc[m, 'rank']:.2f} | {agg.loc[m, 'regret']:.4f} | "
                     f"{speed(m)} | {better} | {agg.loc[m, 'any_rank']:.2f} | "
                     f"{agg.loc[m, 'any_regret']:.4f} |")
    lines += ["", "| goal | measured | |", "|---|---|---|"]
    lines += _goal_rows(runs, agg, method, peers, sp.get(method), speed(method))
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _goal_rows(runs, agg, method: str, peers: list[str], sp, speed_txt: str) -> list[str]:
    """Issue 12's goals, each measured on the best full-fidelity result: best mean rank;
    mean regret ≤ 0.5 × the best peer's; on no instance more than 0.01 of normalised regret
    worse than the best peer there; geo-mean speed-up over random ≥ 10×."""
    best_peer = min(peers, key=lambda m: agg.loc[m, "regret"])
    best_rank_peer = min(peers, key=lambda m: agg.loc[m, "rank"])
    ours, theirs = agg.loc[method, "regret"], agg.loc[best_peer, "regret"]
    ratio = ours / theirs if theirs > 0 else float("inf")
    rank_ok = agg.loc[method, "rank"] < agg.loc[best_rank_peer, "rank"]
    per = runs.pivot_table(index="instance", columns="method", values="regret_100",
                           aggfunc="mean")
    gap = per[method] - per[peers].min(axis=1)
    worst = gap.idxmax()
    peer_there = per.loc[worst, peers].astype(float).idxmin()
    rows = [
        f"| best mean rank against every peer | {agg.loc[method, 'rank']:.2f} vs "
        f"{best_rank_peer} {agg.loc[best_rank_peer, 'rank']:.2f} | {_met(rank_ok)} |",
        f"| mean regret ≤ 0.5 × the best peer's | {ours:.4f} vs {best_peer} {theirs:.4f}: "
        f"{ratio:.2f}× | {_met(ratio <= 0.5)} |",
        f"| on no instance worse than the best peer by > 0.01 | worst: {worst} "
        f"{per.loc[worst, method]:.4f} vs {peer_there} {per.loc[worst, peer_there]:.4f} "
        f"({gap.max():+.4f}); {int((gap > 0.01).sum())} of {len(gap)} instances over | "
        f"{_met(gap.max() <= 0.01)} |",
    ]
    if sp:
        geo = math.exp(np.mean(np.log(sp)))
        rows.append(f"| ≥ 10× speed-up over random (geo-mean) | {speed_txt} | {_met(geo >= 10)} |")
    else:
        rows.append("| ≥ 10× speed-up over random (geo-mean) | — (one folder only) | |")
    return rows


BUDGETS = (("regret_fte10", "test_fte10", "10 full trials"),
           ("regret_fte20", "test_fte20", "20 full trials"),
           ("regret_fte50", "test_fte50", "50 full trials"),
           ("regret_100", "test_100", "whole budget"))
TEST_PEERS = ("random", "optuna-study-tpe")  # issue 21: test score ahead of these two


def user_budget_goals(outs: list[Path], method: str, keep: list[str] | None = None) -> str:
    """Issue 21's goals at 10, 20, 50 full-trial equivalents and the whole budget (markdown):
    best mean rank among every method of the run, mean regret ≤ 0.5 × the best peer's, no
    instance > 0.01 behind the best peer, and — on recorded tables — the chosen model's test
    score ahead of random search and Optuna TPE (paired difference, 95 % t-interval)."""
    from benchmarks.peers import PEERS
    from benchmarks.stats import interval95

    runs = _paired_runs(outs, keep)
    methods = list(dict.fromkeys(runs["method"]))
    peers = [m for m in methods if m in PEERS]
    if method not in methods or not peers:
        raise SystemExit(f"goals: need {method!r} and at least one peer ({', '.join(PEERS)}) "
                         f"in the runs; found {', '.join(methods)}")
    seeds = runs.groupby("instance")["seed"].nunique()
    lines = [f"{runs['instance'].nunique()} instances, {seeds.min()}–{seeds.max()} seeds, "
             f"{len(methods)} methods ({', '.join(methods)}); ranks among all of them.", "",
             "| budget | mean rank: ours vs best peer | mean regret: ours vs best peer | worst "
             "instance vs best peer there | test: ours − " + " | test: ours − ".join(TEST_PEERS)
             + " |", "|---|---|---|---|" + "---|" * len(TEST_PEERS)]
    for col, test, label in BUDGETS:
        if col not in runs or runs[col].isna().all():
            continue
        rank = runs.groupby(["instance", "seed"])[col].rank(method="average")
        mean_rank = rank.groupby(runs["method"]).mean()
        regret = runs.groupby("method")[col].mean()
        rp, gp = min(peers, key=mean_rank.get), min(peers, key=regret.get)
        per = runs.pivot_table(index="instance", columns="method", values=col, aggfunc="mean")
        gap = per[method] - per[peers].min(axis=1)
        ratio = regret[method] / regret[gp] if regret[gp] > 0 else math.inf
        cells = [label,
                 f"{mean_rank[method]:.2f} vs {rp} {mean_rank[rp]:.2f} "
                 f"{_met(mean_rank[method] < mean_rank[rp])}",
                 f"{regret[method]:.4f} vs {gp} {regret[gp]:.4f} ({ratio:.2f}×) "
                 f"{_met(ratio <= 0.5)}",
                 f"{gap.idxmax()} {gap.max():+.4f} {_met(gap.max() <= 0.01)}"]
        wide = runs.pivot_table(index=["instance", "seed"], columns="method", values=test) \
            if test in runs else None
        for peer in TEST_PEERS:
            if wide is None or peer not in wide or method not in wide:
                cells.append("—")
                continue
            d, h = interval95((wide[method] - wide[peer]).dropna().to_numpy())
            cells.append(f"{d:+.4f} ± {h:.4f} {_met(d - h > 0)}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rows_table(outs: list[Path], show: list[str]) -> str:
    """The compact table of docs/benchmarks.md: per method, at each of ``BUDGETS``, mean
    regret (mean rank among every method of the runs, on the (instance, seed) pairs all of them
    ran) · mean test score of the chosen model where the runs have one; means over every seed
    a method ran."""
    import pandas as pd

    runs = pd.concat([pd.read_csv(o / "runs.csv") for o in outs], ignore_index=True)
    runs = runs.drop_duplicates(["instance", "method", "seed"])
    n = runs["method"].nunique()
    full = runs[runs.groupby(["instance", "seed"])["method"].transform("nunique") == n]
    cols = [(c, t, label) for c, t, label in BUDGETS if c in runs]
    lines = ["| method | seeds | " + " | ".join(f"@ {label}: regret (rank)"
                                                 + (" · test" if t in runs else "")
                                                 for _, t, label in cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    for m in show:
        g = runs[runs["method"] == m]
        cells = []
        for c, t, _ in cols:
            rank = full.groupby(["instance", "seed"])[c].rank(method="average")[
                full["method"] == m].mean()
            cells.append(f"{g[c].mean():.4f} ({rank:.1f})"
                         + (f" · {g[t].mean():.4f}" if t in runs else ""))
        lines.append(f"| {m} | {g['seed'].nunique()} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def versus(outs: list[Path], method: str, other: str) -> str:
    """Paired ``method − other`` regret at each budget (mean ± 95 % t-interval)."""
    import pandas as pd

    from benchmarks.stats import interval95

    runs = pd.concat([pd.read_csv(o / "runs.csv") for o in outs], ignore_index=True)
    out = []
    for c, _, label in BUDGETS:
        wide = runs.pivot_table(index=["instance", "seed"], columns="method", values=c)
        d, h = interval95((wide[method] - wide[other]).dropna().to_numpy())
        out.append(f"{label}: {method} − {other} = {d:+.4f} ± {h:.4f}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.goals", description=__doc__.split(
        "\n")[0])
    p.add_argument("results", nargs="+", help="folders written by python -m benchmarks.compare")
    p.add_argument("--method", default=None, help="default: tuner.compose.methods.DEFAULT_METHOD")
    p.add_argument("--budgets", action="store_true",
                   help="issue 21's goals at 10, 20, 50 full-trial equivalents and the whole "
                        "budget (regret, rank, test score on recorded tables)")
    p.add_argument("--methods", default=None,
                   help="comma list: judge among these methods only (e.g. the ones every seed ran)")
    p.add_argument("--rows", default=None,
                   help="comma list: print the compact table (regret, rank, test) of these")
    p.add_argument("--versus", default=None,
                   help="a method: paired regret difference of --method against it")
    args = p.parse_args(argv)
    outs = [Path(r) for r in args.results]
    for out in outs:
        if not (out / "runs.csv").exists():
            print(f"goals: {out}/runs.csv not found (run python -m benchmarks.compare first)",
                  file=sys.stderr)
            return 2
    from tuner.compose.methods import DEFAULT_METHOD

    method = args.method or DEFAULT_METHOD
    if args.rows:
        print(rows_table(outs, args.rows.split(",")))
        return 0
    if args.versus:
        print(versus(outs, method, args.versus))
        return 0
    keep = args.methods.split(",") if args.methods else None
    print(user_budget_goals(outs, method, keep) if args.budgets else goals(outs, method))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
