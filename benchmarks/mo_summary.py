"""The tables of a ``benchmarks.mo_compare`` folder: hypervolume regret, rank, speed-up, goals.

``summary(folder)`` reads ``runs.csv`` and ``points.csv``, keeps the (instance, seed) pairs
every method finished, builds each instance's reference (``benchmarks.mo_reference``: the
cached random sample's front plus every point found), and returns markdown; it also writes
``table.md`` and ``reference.csv`` into the folder.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["goals", "paired", "regret_table", "summary"]

PERCENTS = (25, 50, 100)
GOAL_SPEEDUP = 3.0
TIME_POINTS = 60


def _load(folder: Path):
    """Paired runs and their points (only pairs every method finished)."""
    import pandas as pd

    runs = pd.read_csv(folder / "runs.csv").drop_duplicates(["instance", "method", "seed"])
    points = pd.read_csv(folder / "points.csv").drop_duplicates()
    n = runs["method"].nunique()
    runs = runs[runs.groupby(["instance", "seed"])["method"].transform("nunique") == n].copy()
    keys = set(zip(runs["instance"], runs["method"], runs["seed"]))
    points = points[[k in keys for k in zip(points["instance"], points["method"],
                                              points["seed"])]]
    return runs, points


def _references(runs, points) -> dict:
    """Per instance: ``Reference`` from the cached random sample and every point found."""
    from benchmarks import mo_reference, mo_yahpo

    refs = {}
    for inst in runs["instance"].unique():
        mob = mo_yahpo.load(inst)
        cols = [f"loss{i}" for i in range(len(mob.objectives.names))]
        found = points.loc[points["instance"] == inst, cols].to_numpy(float)
        refs[inst] = mo_reference.Reference.of(mo_reference.sample(mob), found)
    return refs


def _regrets(runs, points, refs) -> dict:
    """(instance, method, seed) → (spent, clock, regret after each point)."""
    from benchmarks.mo_reference import regret_steps

    out = {}
    for key, g in points.groupby(["instance", "method", "seed"], sort=False):
        ref = refs[key[0]]
        losses = g[[f"loss{i}" for i in range(ref.front.shape[1])]].to_numpy(float)
        out[key] = (g["spent"].to_numpy(), g["clock"].to_numpy(), regret_steps(losses, ref))
    for key in zip(runs["instance"], runs["method"], runs["seed"]):
        out.setdefault(key, (np.zeros(0), np.zeros(0), np.zeros(0)))
    return out


def _step(xs: np.ndarray, regret: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Regret at each of ``at`` (1 before the first point counts)."""
    j = np.searchsorted(xs, at, side="right") - 1
    return np.where(j >= 0, regret[np.clip(j, 0, None)] if len(regret) else 1.0, 1.0)


def regret_table(runs: pd.DataFrame, curves: dict) -> pd.DataFrame:
    """``runs`` with ``regret_25``/``_50``/``_100`` (of the budget) and ``rank``."""
    df = runs.copy()
    for pct in PERCENTS:
        df[f"regret_{pct}"] = [
            float(_step(curves[k][0], curves[k][2], np.array([b * pct / 100 * (1 + 1e-12)]))[0])
            for k, b in zip(zip(df["instance"], df["method"], df["seed"]), df["budget"])]
    df["rank"] = df.groupby(["instance", "seed"])["regret_100"].rank(method="average")
    return df


def _time_grids(runs, curves):
    """Per instance a log grid of simulated seconds, and each run's regret on it."""
    grids, on_grid = {}, {}
    for inst, g in runs.groupby("instance"):
        keys = list(zip(g["instance"], g["method"], g["seed"]))
        firsts = [curves[k][1][0] for k in keys if len(curves[k][1])]
        grid = np.geomspace(max(1e-3, min(firsts, default=1.0)),
                            max(g["sim_seconds"].max(), 2e-3), TIME_POINTS)
        grids[inst] = grid
        for k in keys:
            on_grid[k] = _step(curves[k][1], curves[k][2], grid)
    return grids, on_grid


def goals(df: pd.DataFrame, speed: dict, ours: list[str]) -> list[str]:
    """Issue 23's goals for each of ``ours``: the best mean regret of every method at 25, 50
    and 100 % of the budget; a ≥ 3× speed-up over random search (geo-mean over instances)."""
    means = df.groupby("method")[[f"regret_{p}" for p in PERCENTS]].mean()
    lines = []
    for m in ours:
        if m not in means.index:
            continue
        cells = []
        for p in PERCENTS:
            col = f"regret_{p}"
            others = means[col].drop(m)
            best = others.idxmin()
            ok = means.loc[m, col] <= others.min()
            cells.append(f"{p} %: {'met' if ok else 'not met'} ({means.loc[m, col]:.4f} vs "
                         f"{best} {others.min():.4f})")
        s = speed.get(m, [])
        geo = math.exp(np.mean(np.log(s))) if s else math.nan
        sp = (f"{'met' if geo >= GOAL_SPEEDUP else 'not met'} ({geo:.2f}×)" if s else "—")
        lines.append(f"- {m}: best hypervolume — " + "; ".join(cells)
                     + f". ≥ {GOAL_SPEEDUP:.0f}× speed-up over random: {sp}")
    return lines


def _markdown(df, speed, methods, n_pairs: int) -> list[str]:
    agg = df.groupby("method")[[f"regret_{p}" for p in PERCENTS] + ["rank"]].mean()
    order = sorted(methods, key=lambda m: agg.loc[m, "rank"])
    lines = [f"{df['instance'].nunique()} instances, {n_pairs} (instance, seed) pairs, "
             f"{len(methods)} methods; mean normalised hypervolume regret of the full-fidelity "
             "Pareto set (0 = the reference front):", "",
             "| method | regret 25 % | regret 50 % | regret 100 % | mean rank | "
             "speed-up vs random (geo-mean; median) |", "|---|---|---|---|---|---|"]
    for m in order:
        s = speed.get(m, [])
        sp = f"{math.exp(np.mean(np.log(s))):.2f}× ; {np.median(s):.2f}×" if s else "—"
        a = agg.loc[m]
        lines.append(f"| {m} | {a.regret_25:.4f} | {a.regret_50:.4f} | {a.regret_100:.4f} | "
                     f"{a['rank']:.2f} | {sp} |")
    per = df.pivot_table(index="instance", columns="method", values="regret_100",
                         aggfunc="mean")[order]
    lines += ["", "Mean regret at 100 % of the budget, per instance:", "",
              "| instance | " + " | ".join(order) + " |", "|---|" + "---|" * len(order)]
    for inst, r in per.iterrows():
        lines.append(f"| {inst} | " + " | ".join(f"{v:.4f}" for v in r.values) + " |")
    if speed:
        instances = list(dict.fromkeys(df["instance"]))
        lines += ["", "Speed-up over random search, per instance (time random needs to reach "
                  "its final mean regret ÷ the method's; ≤ where never reached):", "",
                  "| instance | " + " | ".join(order) + " |", "|---|" + "---|" * len(order)]
        for k, inst in enumerate(instances):
            lines.append(f"| {inst} | " + " | ".join(f"{speed[m][k]:.2f}×" for m in order)
                         + " |")
    return lines + _clock_table(df, order)


def _clock_table(df: pd.DataFrame, order: list[str]) -> list[str]:
    """Per scenario: the simulated seconds a method takes to spend the budget ÷ random's
    (what the speed-up's time axis charges: on a data-fraction fidelity a small fit need not
    cost its fraction of a full one's seconds)."""
    if "random" not in order:
        return []
    df = df.assign(scenario=df["instance"].str.split("/").str[0])
    ratio = df.groupby(["scenario", "method"])["sim_seconds"].mean().unstack()
    ratio = ratio.div(ratio["random"], axis=0)[order]
    lines = ["", "Simulated seconds to spend the budget ÷ random search's (mean per scenario):",
             "", "| scenario | " + " | ".join(order) + " |", "|---|" + "---|" * len(order)]
    for sc, r in ratio.iterrows():
        lines.append(f"| {sc} | " + " | ".join(f"{v:.2f}" for v in r.values) + " |")
    return lines


def paired(df: pd.DataFrame, ours: list[str]) -> list[str]:
    """Each pair of ``ours``, paired by (instance, seed): mean regret difference ± 95 %
    interval at 25 / 50 / 100 % of the budget, and the share of pairs the first wins."""
    from benchmarks.stats import interval95

    lines = []
    for i, a in enumerate(ours):
        for b in ours[i + 1:]:
            cells = []
            for p in PERCENTS:
                wide = df.pivot_table(index=["instance", "seed"], columns="method",
                                      values=f"regret_{p}")
                d = (wide[a] - wide[b]).to_numpy()
                mean, half = interval95(d)
                cells.append(f"{p} %: {mean:+.4f} ± {half:.4f} (lower in "
                             f"{np.mean(d < 0):.0%}, higher in {np.mean(d > 0):.0%})")
            lines.append(f"- {a} − {b}: " + "; ".join(cells))
    return lines


def _write_references(folder: Path, refs: dict) -> None:
    import csv

    with open(folder / "reference.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["instance", "front_size", "ideal_losses", "worst_losses", "hv_reference"])
        for inst, ref in refs.items():
            w.writerow([inst, len(ref.front), " ".join(f"{v:.6g}" for v in ref.ideal),
                        " ".join(f"{v:.6g}" for v in ref.worst), f"{ref.best:.6f}"])


def summary(folder: Path) -> str:
    """The markdown tables and goal lines of ``folder``; also ``table.md``, ``reference.csv``."""
    from benchmarks.compare import speedups
    from benchmarks.mo_peers import OURS

    runs, points = _load(folder)
    if runs.empty:
        return f"{folder}: no (instance, seed) pair finished by every method yet"
    refs = _references(runs, points)
    curves = _regrets(runs, points, refs)
    df = regret_table(runs, curves)
    methods = list(dict.fromkeys(df["method"]))
    instances = list(dict.fromkeys(df["instance"]))
    grids, on_grid = _time_grids(runs, curves)
    speed = speedups(grids, on_grid, methods, instances) if "random" in methods else {}
    n_pairs = len(df.groupby(["instance", "seed"]))
    lines = _markdown(df, speed, methods, n_pairs)
    ours = [m for m in OURS if m in methods]
    if ours:
        best = min(ours, key=lambda m: df.loc[df["method"] == m, "rank"].mean())
        lines += ["", f"Ours by mean rank: {best} first ("
                  + ", ".join(f"{m} {df.loc[df['method'] == m, 'rank'].mean():.2f}"
                              for m in ours) + ").", "",
                  "Ours paired by (instance, seed), regret difference (negative: the first "
                  "is better):", ""]
        lines += paired(df, ours) + ["", "Goals (issue 23):", ""] + goals(df, speed, ours)
    text = "\n".join(lines)
    (folder / "table.md").write_text(text + "\n")
    _write_references(folder, refs)
    return text
