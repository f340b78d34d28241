"""What a scheduler will do with a budget ladder, before anything runs (``tuner plan``).

``plan(ladder, scheduler, num_samples, **options)`` returns plain data (JSON-ready): brackets,
each a list of rungs ``{"n": configs reaching it, "r": epochs}``, plus the epochs spent. The
options are the experiment's ``scheduler:`` options: the plan builds the scheduler with them
through :func:`tuner.schedulers.make_scheduler` (so a bad option fails here exactly as it would
at launch) and reads its brackets, milestones and intervals off that object, so the plan and
the run cannot disagree (``brackets: 3`` → three ASHA brackets).

HyperBand's numbers are the paper's (Li et al. 2018, Table 1) and are what
:class:`PaperHyperBand` runs. ASHA's ``n`` is the expectation ``N·η^−k`` for the ``N`` trials
its hash sends to that bracket (the stopping variant is a little more lenient early on — see
tests/schedulers/test_asha.py); the text marks such a count ``~`` and rounds it, the JSON keeps
two decimals. Epochs are counted as trials resume (a survivor adds ``r_i − r_{i−1}``);
``budget_from_scratch`` is the paper's ``Σ n·r``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tuner.budget import BudgetLadder, hyperband_brackets
from tuner.schedulers import SCHEDULERS, SchedulerError, make_scheduler, scheduler_options

__all__ = ["format_plan", "plan"]


def _num(x: float) -> int | float:
    return int(round(x)) if abs(x - round(x)) < 1e-9 else round(float(x), 2)


def _spent(rungs: list[dict]) -> tuple[float, float]:
    """(epochs with resume, epochs if every rung restarts from scratch)."""
    resumed = sum(rung["n"] * (rung["r"] - prev["r"] if i else rung["r"])
                  for i, (prev, rung) in enumerate(zip([rungs[0]] + rungs, rungs)))
    scratch = sum(rung["n"] * rung["r"] for rung in rungs)
    return resumed, scratch


def _bracket(s: int, rungs: list[dict]) -> dict:
    resumed, scratch = _spent(rungs)
    return {"s": s, "rungs": rungs, "budget": _num(resumed), "budget_from_scratch": _num(scratch)}


def _scheduler(name: str, ladder: BudgetLadder, space: Any, options: dict) -> Any:
    """The scheduler the run would build, or None for PBT without a space (``tuner plan
    --scheduler pbt``: its mutations need one; its options are still checked by name)."""
    if name in ("pbt", "pb2") and space is None:
        valid = scheduler_options(name)
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise SchedulerError(f"scheduler {name}: unknown option {unknown[0]!r}; valid: "
                                 f"{', '.join(valid)}")
        return None
    return make_scheduler(name, ladder, metric="_plan", mode="max", seed=0, space=space,
                          **options)


def _hyperband(out: dict, ladder: BudgetLadder, num_samples: int | None) -> dict:
    paper = hyperband_brackets(ladder.min, ladder.max, ladder.eta)
    band = sum(b.rungs[0][0] for b in paper)
    n = band if num_samples is None else num_samples
    out["brackets"] = [_bracket(b.s, [{"n": ni, "r": ri,
                                       "data_fraction": ladder.fraction_for_epoch(ri)}
                                      for ni, ri in b.rungs]) for b in paper]
    out["trials_per_band"] = band
    out["num_samples"] = n
    out["bands"] = _num(n / band)
    per_band = sum(b["budget"] for b in out["brackets"])
    out["budget_per_band"] = per_band
    out["budget"] = _num(per_band * n / band)
    return out


def _asha(sched: Any, ladder: BudgetLadder, n: int, brackets: int) -> list[dict]:
    """Bracket ``s`` starts at rung ``s``; trials split by :class:`SeededASHA`'s weights
    (Ray's softmax over the brackets' rung counts)."""
    rungs = ladder.rungs()
    sizes = np.array([len(sched.rung_milestones(s)) for s in range(brackets)], float)
    share = np.exp(sizes - sizes.max())
    share = share / share.sum()
    out = []
    for s in range(brackets):
        start = rungs[[r.resource for r in rungs].index(sched.rung_milestones(s)[0]):]
        out.append(_bracket(s, [{"n": _num(n * share[s] / ladder.eta**k), "r": rung.resource,
                                 "data_fraction": rung.data_fraction}
                                for k, rung in enumerate(start)]))
    return out


def plan(ladder: BudgetLadder, scheduler_name: str, num_samples: int | None = None, *,
         space: Any = None, **options: Any) -> dict[str, Any]:
    """Brackets and budgets of ``scheduler_name`` built with ``options`` over ``ladder`` for
    ``num_samples`` trials (default: one full HyperBand band / ``max/min`` trials for ASHA).
    ``space`` is only needed by PBT (its mutations come from it)."""
    if scheduler_name not in SCHEDULERS:
        raise SchedulerError(f"unknown scheduler {scheduler_name!r}; one of "
                             f"{', '.join(SCHEDULERS)}")
    sched = _scheduler(scheduler_name, ladder, space, options)
    out: dict[str, Any] = {"scheduler": scheduler_name, "resource": ladder.resource,
                           "min": ladder.min, "max": ladder.max, "eta": ladder.eta}
    if options:
        out["options"] = dict(options)
    if scheduler_name == "hyperband":
        return _hyperband(out, ladder, num_samples)
    paper = hyperband_brackets(ladder.min, ladder.max, ladder.eta)
    n = paper[0].rungs[0][0] if num_samples is None else num_samples
    out["num_samples"] = n
    if scheduler_name in ("asha", "asha-promotion"):  # promotion: the same rungs, one bracket
        out["brackets"] = _asha(sched, ladder, n, options.get("brackets", 1))
    else:  # fifo, median (at most), pbt: every trial up to max
        out["brackets"] = [_bracket(0, [{"n": n, "r": ladder.max, "data_fraction":
                                         ladder.fraction_for_epoch(ladder.max)}])]
        if scheduler_name == "median":
            out["note"] = (f"an upper bound: the median rule stops trials at any epoch from "
                           f"{sched._grace_period} on")
        if scheduler_name in ("pbt", "pb2"):
            rr = ladder.rung_resources()
            default = rr[1] if len(rr) > 1 else ladder.max
            out["perturbation_interval"] = (sched._perturbation_interval if sched is not None
                                            else options.get("perturbation_interval") or default)
    out["budget"] = _num(sum(b["budget"] for b in out["brackets"]))
    return out


def _count(x: int | float) -> str:
    """An exact count as is; an expectation rounded and marked ``~`` (``<1`` below one)."""
    if float(x).is_integer():
        return str(int(x))
    return "<1" if x < 1 else f"~{round(x)}"


def format_plan(p: dict[str, Any]) -> str:
    """A human-readable table of :func:`plan`'s output."""
    head = (f"{p['scheduler']}: {p['resource']} {p['min']}..{p['max']}, eta={p['eta']}, "
            f"{p['num_samples']} trials")
    if p.get("options"):
        head += "; " + ", ".join(f"{k}={v}" for k, v in p["options"].items())
    lines = [head]
    for b in p["brackets"]:
        cells = "  ".join(f"{_count(rung['n'])}@{rung['r']}" +
                          (f"({rung['data_fraction']:.0%})" if rung.get("data_fraction", 1) < 1
                           else "") for rung in b["rungs"])
        lines.append(f"  bracket s={b['s']}: {cells}   [{_count(b['budget'])} epochs]")
    if p["scheduler"] == "hyperband":
        lines.append(f"  one band = {p['trials_per_band']} trials, {p['budget_per_band']} epochs;"
                     f" {p['bands']} band(s)")
    if "perturbation_interval" in p:
        lines.append(f"  perturbation interval: {p['perturbation_interval']} epochs")
    if "note" in p:
        lines.append(f"  note: {p['note']}")
    if any(not float(r["n"]).is_integer() for b in p["brackets"] for r in b["rungs"]):
        lines.append("  ~, <1: an expected count (trials × η^−rung), rounded; the run's own "
                     "counts vary around it")
    elif not float(p["budget"]).is_integer():  # hyperband, part of a band
        lines.append("  ~: one band's epochs × trials / trials per band, rounded")
    lines.append(f"  total: {_count(p['budget'])} epochs")
    return "\n".join(lines)
