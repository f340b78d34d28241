"""Several objectives after tuning: the Pareto set of a run, as rows, markdown, JSON and a plot.

The set is taken where the single-objective winner is (``results.pick_best``): among the trials
that trained longest without error and reported every objective, because a trial stopped at
a low rung was measured at a cheaper fidelity and its values are not comparable with full-budget
ones (its short training would otherwise put an untrained small model on the front). Members
are those no other such trial dominates (``tuner.pareto``), equal points all kept, ordered by
the first objective (best first), ties by creation order.
"""

from __future__ import annotations

import json
from typing import Any

from tuner.pareto import Objectives, pareto_mask
from tuner.record.results import ERRORED, TrialRecord, figure_png

__all__ = ["front_json", "front_markdown", "front_rows", "pareto_members", "plot_front"]


def _comparable(records: list[TrialRecord], objectives: Objectives) -> list[TrialRecord]:
    ok = [r for r in records if not r.status.startswith(ERRORED)
          and all(r.value(n) is not None for n in objectives.names)]
    longest = max((r.epochs for r in ok), default=0)
    return [r for r in ok if r.epochs == longest]


def pareto_members(records: list[TrialRecord], objectives: Objectives) -> list[TrialRecord]:
    """The Pareto set of ``records`` (see the module docstring), first objective best first."""
    pool = _comparable(records, objectives)
    if not pool:
        return []
    losses = [objectives.losses(r.values) for r in pool]
    members = [(loss, r) for loss, r, keep in zip(losses, pool, pareto_mask(losses)) if keep]
    members.sort(key=lambda m: (tuple(m[0]), m[1].order))
    return [r for _, r in members]


def front_rows(members: list[TrialRecord], objectives: Objectives, params: list[str],
               tests: dict[str, dict] | None = None) -> list[dict[str, Any]]:
    """One row per member: trial id, epochs, every objective, its test scores, its params."""
    rows = []
    for r in members:
        test = (tests or {}).get(r.trial_id, {})
        rows.append({"trial_id": r.trial_id, "epochs": r.epochs,
                     **{n: r.value(n) for n in objectives.names},
                     **{f"test_{k.removeprefix('test_')}": v for k, v in test.items()},
                     **{p: r.config.get(p) for p in params}})
    return rows


def front_json(members: list[TrialRecord], objectives: Objectives, params: list[str],
               tests: dict[str, dict], notes: dict[str, str]) -> list[dict[str, Any]]:
    """``best.json``'s ``pareto`` list: per member what the single winner's entry holds."""
    out = []
    for r in members:
        entry = {"trial_id": r.trial_id,
                 "params": {p: r.config[p] for p in params if p in r.config},
                 "config": r.config, "checkpoint": r.checkpoint, "epochs": r.epochs,
                 "objectives": {n: r.value(n) for n in objectives.names},
                 "test": tests.get(r.trial_id, {})}
        if notes.get(r.trial_id):
            entry["test_note"] = notes[r.trial_id]
        out.append(json.loads(json.dumps(entry, default=str)))
    return out


def front_markdown(rows: list[dict[str, Any]], objectives: Objectives,
                   params: list[str], total: int) -> list[str]:
    """The report's "Pareto front" section (its plot is ``pareto.png``)."""
    directions = ", ".join(f"{n} ({m})" for n, m in zip(objectives.names, objectives.modes))
    out = ["## Pareto front", "",
           f"Objectives: {directions}. {len(rows)} of {total} trials are on the front (among "
           "the trials that trained longest; none of them is beaten on every objective).", ""]
    if not rows:
        return out + ["No trial reported every objective at the top fidelity."]
    tests = [k for k in rows[0] if k.startswith("test_")]
    head = ["trial", "epochs", *objectives.names, *tests, *params]
    out += ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for row in rows:
        cells = [row["trial_id"], row["epochs"], *(row[n] for n in objectives.names),
                 *(row.get(t) for t in tests), *(row.get(p) for p in params)]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return out + ["", "![Pareto front](pareto.png)"]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def plot_front(records: list[TrialRecord], members: list[TrialRecord],
               objectives: Objectives) -> bytes:
    """PNG of the first two objectives: every trial that trained longest (grey), the front
    (bold, joined in order), trials stopped earlier at their last rung (faint)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_name, y_name = objectives.names[:2]
    pool = _comparable(records, objectives)
    longest = pool[0].epochs if pool else 0
    early = [r for r in records if r.epochs < longest and r.value(x_name) is not None
             and r.value(y_name) is not None and not r.status.startswith(ERRORED)]
    fig, ax = plt.subplots(figsize=(7, 5), dpi=110)
    for group, style in ((early, dict(color="0.8", s=12, label=f"stopped before epoch "
                                      f"{longest}")),
                         (pool, dict(color="0.45", s=18, label=f"trained {longest} epochs"))):
        if group:
            ax.scatter([r.value(x_name) for r in group], [r.value(y_name) for r in group],
                       **style)
    if members:
        pts = sorted((r.value(x_name), r.value(y_name)) for r in members)
        ax.plot(*zip(*pts), color="tab:red", lw=1.5, marker="o", ms=6, label="Pareto front")
    for axis, name in ((ax.set_xscale, x_name), (ax.set_yscale, y_name)):
        seen = [r.value(name) for r in pool + early]
        if seen and min(seen) > 0 and max(seen) > 100 * min(seen):
            axis("log")  # sizes and latencies span decades
    ax.set_xlabel(f"{x_name} ({objectives.modes[0]})")
    ax.set_ylabel(f"{y_name} ({objectives.modes[1]})")
    if len(objectives.names) > 2:
        ax.set_title(f"first two of {len(objectives.names)} objectives", fontsize=9)
    if pool or early:
        ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    return figure_png(fig)
