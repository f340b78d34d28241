"""Coarse-to-fine: narrow a finished run's space to where its best trials are, for a next run.

``refine_space(space, rows, mode)`` is pure: ``rows`` are ``(config, value)`` pairs of trials
read at one rung. Rules, each for a reason:

* numeric bounds span the top quantile's values, **in log space for log parameters** (a log
  range's "middle" is its geometric middle), widened by a margin (the top set is a sample: its
  extremes understate where good configs are) and clipped to the original bounds; ints stay
  ints, steps stay on their grid;
* a categorical choice is dropped only with **evidence**: it was tried ``m`` times and never made
  the top set, and a choice as good as the rest would have missed it with probability
  ``(1 - q)^m < alpha`` (q = top fraction). A choice tried twice is kept, however it did;
* parameters that importance (``tuner.record.insights``) finds unimportant are fixed at the best
  trial's value — searching them only spends trials;
* conditionals stay consistent: a child whose parent value is gone goes too, and its ``when``
  keeps only values still possible.

The first run's best configs become ``points_to_evaluate``, so the next run starts where the
last one ended. Syne Tune and Optuna have no such step (Optuna's samplers narrow implicitly);
it is the manual "coarse-to-fine" practice (Bergstra & Bengio, JMLR 2012, §6) made a command.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from search_spaces import Categorical, Fixed, Float, Int, SearchSpace
from tuner.errors import ConfigError
from tuner.followup.run_folder import RunTable, load_run

__all__ = ["Refinement", "RunTable", "front_rung_rows", "load_run", "refine_rows", "refine_run",
           "refine_space",
           "rung_rows", "warm_points", "write_refined"]

MIN_ROWS = 8


@dataclass
class Refinement:
    """The narrowed space, the warm-start points and a line per decision (for the user)."""

    space: SearchSpace
    points: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def _top(rows: list[tuple[dict, float]], mode: str, top: float) -> list[tuple[dict, float]]:
    ranked = sorted(rows, key=lambda r: -r[1] if mode == "max" else r[1])
    return ranked[:max(2, math.ceil(top * len(rows)))]


def _bounds(dom: Float | Int, values: list[float], margin: float) -> tuple[float, float]:
    """[min, max] of the top values, padded by ``margin`` × their spread (at least 5 % of the
    original range, so one surviving value still leaves room), clipped to the original."""
    fwd = math.log if dom.log else float
    back = math.exp if dom.log else float
    lo_o, hi_o = fwd(dom.low), fwd(dom.high)
    lo, hi = fwd(min(values)), fwd(max(values))
    pad = max(margin * (hi - lo), 0.05 * (hi_o - lo_o))
    return back(max(lo_o, lo - pad)), back(min(hi_o, hi + pad))


def _narrow_numeric(dom: Float | Int, values: list[float], margin: float):
    lo, hi = _bounds(dom, values, margin)
    lo, hi = min(lo, min(values)), max(hi, max(values))  # exp(log(x)) may round past x
    if isinstance(dom, Int):
        step = int(dom.step or 1)
        lo = dom.low + step * math.floor((lo - dom.low) / step + 1e-9)
        hi = dom.low + step * math.ceil((hi - dom.low) / step - 1e-9)
        lo, hi = max(int(dom.low), int(lo)), min(int(dom.high), int(hi))
        return Int(lo, hi, log=dom.log, step=dom.step, when=dom.when, name=dom.name)
    if dom.step is not None:
        k_lo = math.floor((lo - dom.low) / dom.step + 1e-9)
        k_hi = math.ceil((hi - dom.low) / dom.step - 1e-9)
        grid = dom.grid_values()
        lo, hi = grid[max(0, k_lo)], grid[min(len(grid) - 1, k_hi)]
    else:
        lo, hi = max(dom.low, lo), min(dom.high, hi)
    return Float(lo, hi, log=dom.log, step=dom.step, when=dom.when, name=dom.name)


def _narrow_choices(dom: Categorical, all_vals: list, top_vals: list, q: float,
                    alpha: float) -> tuple[Categorical, list[str]]:
    keep, notes = [], []
    for c in dom.choices:
        m = sum(1 for v in all_vals if _same(v, c))
        in_top = sum(1 for v in top_vals if _same(v, c))
        if in_top == 0 and m > 0 and (1 - q) ** m < alpha:
            notes.append(f"{dom.name}: dropped {c!r} (tried {m}×, never in the top "
                         f"{q:.0%}; by chance p={(1 - q) ** m:.3f})")
        else:
            keep.append(c)
    return Categorical(tuple(keep), grid=dom.grid, when=dom.when, name=dom.name), notes


def _same(a: Any, b: Any) -> bool:
    return (type(a) is type(b) and a == b) or repr(a) == repr(b)


def refine_space(space: SearchSpace, rows: list[tuple[dict, float]], mode: str, *,
                 top: float = 0.2, margin: float = 0.25, alpha: float = 0.05,
                 unimportant: set[str] | frozenset = frozenset(),
                 n_points: int = 3, keep: dict | None = None) -> Refinement:
    """Narrow ``space`` to the top ``top`` fraction of ``rows`` (see the module docstring);
    ``keep`` (the run's winner at full budget) stays inside and leads the fixed values."""
    if not 0 < top < 1:
        raise ConfigError(f"--top: expected a fraction in (0, 1), got {top}")
    best_rows = _top(rows, mode, top)
    q = len(best_rows) / len(rows)
    if keep:
        best_rows = [(keep, math.nan)] + best_rows
    domains: dict[str, Any] = {}
    notes: list[str] = []
    for name, dom in space.items():
        active_all = [c[name] for c, _ in rows if name in c]
        active_top = [c[name] for c, _ in best_rows if name in c]
        if isinstance(dom, Fixed) or not active_top:
            domains[name] = dom
        elif name in unimportant:
            domains[name] = Fixed(_plain(_best_value(name, best_rows)), when=dom.when)
            notes.append(f"{name}: unimportant → fixed at {domains[name].value!r}")
        elif isinstance(dom, Categorical):
            domains[name], why = _narrow_choices(dom, active_all, active_top, q, alpha)
            notes += why
        else:
            domains[name] = _narrow_numeric(dom, [float(v) for v in active_top], margin)
            notes.append(f"{name}: [{dom.low:.4g}, {dom.high:.4g}] → "
                         f"[{domains[name].low:.4g}, {domains[name].high:.4g}]"
                         + (" (log)" if dom.log else ""))
    new, gone = _consistent(domains)
    notes += [f"{n}: removed (its condition can no longer hold)" for n in gone]
    return Refinement(new, warm_points(new, [c for c, _ in best_rows], n_points), notes)


def _best_value(name: str, best_rows: list[tuple[dict, float]]) -> Any:
    return next(c[name] for c, _ in best_rows if name in c)


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def _possible(dom: Any) -> tuple:
    return dom.choices if isinstance(dom, Categorical) else (dom.value,)


def _consistent(domains: dict[str, Any]) -> tuple[SearchSpace, list[str]]:
    """Drop children whose parent values are gone; trim ``when`` to the values still possible.

    Parents come before children in a ``SearchSpace``'s order, so one pass settles chains."""
    out: dict[str, Any] = {}
    gone: list[str] = []
    for name, dom in domains.items():
        when = {}
        for parent, values in dom.when.items():
            alive = tuple(v for v in values if parent in out
                          and any(_same(v, a) for a in _possible(out[parent])))
            if not alive:
                break
            when[parent] = alive
        else:
            out[name] = dataclasses.replace(dom, when=when) if when != dom.when else dom
            continue
        gone.append(name)
    return SearchSpace(out), gone


def warm_points(space: SearchSpace, configs: list[dict], n: int) -> list[dict[str, Any]]:
    """The first ``n`` of ``configs`` (best first), made points of the new space (fixed values
    applied, removed parameters dropped); a config that no longer fits is skipped, not forced."""
    points: list[dict[str, Any]] = []
    for config in configs:
        point: dict[str, Any] = {}
        for name, dom in space.items():
            if not space.is_active(name, point):
                continue
            if isinstance(dom, Fixed):
                point[name] = dom.value
            elif name in config:
                point[name] = config[name]
        try:
            space.validate_config(point)
        except ValueError:
            continue
        searched = {k: v for k, v in point.items() if not isinstance(space[k], Fixed)}
        if searched not in points:
            points.append(searched)
        if len(points) == n:
            break
    return points


def rung_rows(table: RunTable, ladder, metric: str,
              min_rows: int = MIN_ROWS) -> tuple[int, list[tuple[dict, float]]]:
    """(epochs, rows) at the highest rung that ``min_rows`` trials reached without error.

    With per-epoch histories every trial is read at that rung's epoch (as the report's
    importance is). Without them, trials.csv keeps each trial's *last* value, so a trial that
    went past the rung is ranked by a later value; ASHA promoted exactly those, so the top set
    is the same.
    """
    if table.records:
        from tuner.record.insights import rung_sample

        sample = rung_sample(table.records, ladder, min_rows)
        if len(sample.points) >= min_rows:
            return sample.epoch, sample.points
    usable = [(r, float(r["row"][f"last_{metric}"])) for r in table.rows
              if not r["status"].startswith("errored") and r["row"].get(f"last_{metric}")]
    usable = [(r, v) for r, v in usable if math.isfinite(v)]
    for rung in reversed(ladder.rungs()):
        at = [(r["config"], v) for r, v in usable if r["epochs"] >= rung.resource]
        if len(at) >= min_rows:
            return rung.resource, at
    raise ConfigError(f"{table.path}: too few trials to refine ({len(usable)} finished; "
                      f"need ≥ {min_rows})")


def front_rung_rows(table: RunTable, exp: Any,
                    min_rows: int = MIN_ROWS) -> tuple[int, list[tuple[dict, float]]]:
    """Several objectives: ``(epochs, rows)`` at the highest rung where ``min_rows`` trials
    reported every objective, each row's value minus its MO-ASHA place there
    (``tuner.pareto.priority``: the front first, spread out along it, then the next front),
    so "the top fraction" is the front and what lies nearest it. Read at the rung's epoch
    from per-epoch records, else from trials.csv's last values of trials that reached it."""
    from tuner.pareto import priority

    names = exp.objectives.names
    for rung in reversed(exp.budget.rungs()):
        if table.records:
            pts = [(r.config, [r.value_at(n, rung.resource, exp.metric) for n in names])
                   for r in table.records if not r.status.startswith("errored")]
        else:
            pts = [(r["config"], [_float(r["row"].get(f"last_{n}")) for n in names])
                   for r in table.rows if r["epochs"] >= rung.resource
                   and not r["status"].startswith("errored")]
        pts = [(c, exp.objectives.losses(dict(zip(names, v)))) for c, v in pts
               if all(x is not None for x in v)]
        if len(pts) >= min_rows:
            places = priority([loss for _, loss in pts])
            return rung.resource, [(c, -float(p)) for (c, _), p in zip(pts, places)]
    raise ConfigError(f"{table.path}: too few trials reported every objective to refine "
                      f"(need ≥ {min_rows} at one rung)")


def _float(cell: Any) -> float | None:
    try:
        value = float(cell)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def refine_rows(space: SearchSpace, rows: list[tuple[dict, float]], mode: str, *,
                top: float = 0.2, margin: float = 0.25, fix_below: float = 0.05,
                min_fix_rows: int = 20, keep: dict | None = None) -> Refinement:
    """:func:`refine_space` with the unimportant parameters found by PED-ANOVA (only from
    ``min_fix_rows`` trials on: importance from fewer is too noisy to act on)."""
    from tuner.record import insights

    shares: dict[str, float] = {}
    if len(rows) >= min_fix_rows:
        shares = insights.importances(insights.to_study(rows, space, mode))
    unimportant = {p for p, s in shares.items() if s < fix_below}
    ref = refine_space(space, rows, mode, top=top, margin=margin, unimportant=unimportant,
                       keep=keep)
    ref.notes.insert(0, f"top {top:.0%} used; "
                     + ("importance: " + ", ".join(f"{p} {s:.2f}" for p, s in shares.items())
                        if shares else f"no parameter fixed (< {min_fix_rows} trials)"))
    return ref


def refine_run(table: RunTable, *, top: float = 0.2, margin: float = 0.25,
               fix_below: float = 0.05, min_fix_rows: int = 20) -> tuple[dict, Refinement]:
    """The next experiment (a raw dict) and the refinement behind it."""
    from tuner.experiment.config import parse_experiment

    exp = parse_experiment(dict(table.experiment), base_dir=table.path)
    epochs, rows = front_rung_rows(table, exp) if exp.several else \
        rung_rows(table, exp.budget, exp.metric)
    mode = "max" if exp.several else exp.mode
    # the winner at full budget stays in the space and leads the warm start, even when
    # the rung read here is a cheaper one where it was not yet among the top
    ref = refine_rows(exp.space, rows, mode, top=top, margin=margin, fix_below=fix_below,
                      min_fix_rows=min_fix_rows, keep=table.best.get("config") or None)
    ref.notes[0] = (f"{len(rows)} trials at the {epochs}-epoch rung"
                    + (", ranked by Pareto front (MO-ASHA's order)" if exp.several else "")
                    + "; " + ref.notes[0])
    from search_spaces import space_to_dict

    nxt = dict(table.experiment)
    nxt["name"] = f"{exp.name}-refined"
    nxt["description"] = (f"Refined from {exp.name}: top {top:.0%} of {len(rows)} trials at "
                          f"{epochs} epochs (tuner refine).")
    nxt["space"] = space_to_dict(ref.space)
    nxt["points_to_evaluate"] = ref.points
    return nxt, ref


def write_refined(nxt: dict, out: str | Path) -> tuple[Path, Path]:
    """``out`` (the next experiment, pointing at its space file) and ``<stem>_space.yaml``."""
    import yaml

    from tuner.record.results import write_atomic

    out = Path(out)
    space_file = out.with_name(f"{out.stem}_space.yaml")
    write_atomic(str(space_file), yaml.safe_dump(nxt["space"], sort_keys=False))
    exp = {**nxt, "space": space_file.name}
    write_atomic(str(out), yaml.safe_dump(exp, sort_keys=False, allow_unicode=True))
    return out, space_file


# CLI ------------------------------------------------------------------------------------------
def add_parser(sub) -> None:
    """``tuner refine RUN_DIR [--top 0.2] [--out FILE]`` (registered by tuner.cli)."""
    import argparse

    p = sub.add_parser(
        "refine", help="narrow a finished run's space for a next, finer run",
        description="Read RUN_DIR (manifest.json, trials.csv, best.json) and write a next "
                    "experiment whose space spans the top trials (log-aware, with a margin), "
                    "drops categorical choices only with evidence, fixes unimportant "
                    "parameters and warm-starts from the best configs.")
    p.add_argument("run", help="the finished run's folder, e.g. results/digits_mlp")
    p.add_argument("--top", type=float, default=0.2, help="top fraction kept (default 0.2)")
    p.add_argument("--margin", type=float, default=0.25,
                   help="bounds padded by this × the top values' spread (default 0.25)")
    p.add_argument("--out", help="next experiment file (default RUN/refined.yaml)")
    p.add_argument("--experiment", help="the run's experiment file, for runs without "
                   "manifest.json")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)
    p.set_defaults(handler=command)


def command(args) -> int:
    table = load_run(args.run, args.experiment)
    nxt, ref = refine_run(table, top=args.top, margin=args.margin)
    out, space_file = write_refined(nxt, args.out or table.path / "refined.yaml")
    print("\n".join(f"- {n}" for n in ref.notes))
    print(f"warm start: {len(ref.points)} configs")
    print(f"next experiment: {out} (space: {space_file})\n  tuner launch {out}")
    return 0
