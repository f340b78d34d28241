"""What a scheduler will do with a budget ladder, before anything runs (``tuner plan``).

``plan(ladder, scheduler)`` returns plain data (JSON-ready): brackets, each a list of rungs
``{"n": configs reaching it, "r": epochs}``, plus the epochs spent. HyperBand's numbers are the
paper's (Li et al. 2018, Table 1) and are what :class:`PaperHyperBand` runs. ASHA's ``n`` is
the expectation ``N·η^−k`` for ``N`` trials in that bracket (the stopping variant is a little
more lenient early on — see tests/schedulers/test_asha.py). Epochs are counted as trials
resume (a survivor adds ``r_i − r_{i−1}``); ``budget_from_scratch`` is the paper's ``Σ n·r``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tuner.budget import BudgetLadder, hyperband_brackets
from tuner.schedulers import SCHEDULERS, SchedulerError

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


def plan(ladder: BudgetLadder, scheduler_name: str, num_samples: int | None = None, *,
         brackets: int = 1) -> dict[str, Any]:
    """Brackets and budgets of ``scheduler_name`` over ``ladder`` for ``num_samples`` trials
    (default: one full HyperBand band / ``max/min`` trials for ASHA)."""
    if scheduler_name not in SCHEDULERS:
        raise SchedulerError(f"unknown scheduler {scheduler_name!r}; one of "
                             f"{', '.join(SCHEDULERS)}")
    paper = hyperband_brackets(ladder.min, ladder.max, ladder.eta)
    band = sum(b.rungs[0][0] for b in paper)
    out: dict[str, Any] = {"scheduler": scheduler_name, "resource": ladder.resource,
                           "min": ladder.min, "max": ladder.max, "eta": ladder.eta}
    if scheduler_name == "hyperband":
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
    rungs = ladder.rungs()
    n = paper[0].rungs[0][0] if num_samples is None else num_samples
    out["num_samples"] = n
    if scheduler_name == "asha":
        if not 1 <= brackets <= len(ladder.rung_resources()):
            raise SchedulerError(f"scheduler.brackets: 1..{len(ladder.rung_resources())}, "
                                 f"got {brackets}")
        sizes = np.array([len(ladder.rung_resources()) - s for s in range(brackets)], float)
        share = np.exp(sizes - sizes.max())
        share = share / share.sum()
        out["brackets"] = []
        for s in range(brackets):
            n_s = n * share[s]
            out["brackets"].append(_bracket(s, [
                {"n": _num(n_s / ladder.eta**k), "r": rung.resource,
                 "data_fraction": rung.data_fraction}
                for k, rung in enumerate(rungs[s:])]))
    else:  # fifo, median (at most), pbt: every trial up to max
        out["brackets"] = [_bracket(0, [{"n": n, "r": ladder.max, "data_fraction":
                                         ladder.fraction_for_epoch(ladder.max)}])]
        if scheduler_name == "median":
            out["note"] = "an upper bound: the median rule stops trials at any epoch"
        if scheduler_name == "pbt":
            rr = ladder.rung_resources()
            out["perturbation_interval"] = rr[1] if len(rr) > 1 else ladder.max
    out["budget"] = _num(sum(b["budget"] for b in out["brackets"]))
    return out


def format_plan(p: dict[str, Any]) -> str:
    """A human-readable table of :func:`plan`'s output."""
    head = (f"{p['scheduler']}: {p['resource']} {p['min']}..{p['max']}, eta={p['eta']}, "
            f"{p['num_samples']} trials")
    lines = [head]
    for b in p["brackets"]:
        cells = "  ".join(f"{rung['n']}@{rung['r']}" +
                          (f"({rung['data_fraction']:.0%})" if rung.get("data_fraction", 1) < 1
                           else "") for rung in b["rungs"])
        lines.append(f"  bracket s={b['s']}: {cells}   [{b['budget']} epochs]")
    if p["scheduler"] == "hyperband":
        lines.append(f"  one band = {p['trials_per_band']} trials, {p['budget_per_band']} epochs;"
                     f" {p['bands']} band(s)")
    if "note" in p:
        lines.append(f"  note: {p['note']}")
    lines.append(f"  total: {p['budget']} epochs")
    return "\n".join(lines)
