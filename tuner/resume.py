"""Keep the scheduler's state across ``tuner launch --resume``.

Ray's ``Tuner.restore`` rebuilds the scheduler empty from ``tuner.pkl`` (ray-project/ray#30838,
open): a resumed ASHA would forget every rung it recorded and judge the remaining trials
against nobody. Ray *does* snapshot callbacks that implement ``get_state``/``set_state``
together with the experiment state, and ``tuner.pkl`` pickles the callback together with the
scheduler it points at — so this callback carries the scheduler's own ``get_state()`` into
each snapshot and hands it back to the rebuilt scheduler on restore. Both come from the same
snapshot, so the rung history matches the trials being resumed.
"""

from __future__ import annotations

import os
from typing import Any

from ray import tune

__all__ = ["SchedulerStateCallback", "append_lineage", "lineage_lines"]


class SchedulerStateCallback(tune.Callback):
    """Snapshot ``scheduler.get_state()`` with Ray's experiment state; restore it on resume."""

    def __init__(self, scheduler: Any):
        self.scheduler = scheduler
        self.restored = False

    @property
    def supported(self) -> bool:
        return hasattr(self.scheduler, "get_state") and hasattr(self.scheduler, "set_state")

    def get_state(self) -> dict | None:
        if not self.supported:
            return None
        return {"scheduler": self.scheduler.get_state()}

    def set_state(self, state: dict) -> None:
        if self.supported and state and state.get("scheduler") is not None:
            self.scheduler.set_state(state["scheduler"])
            self.restored = True
            print(f"resumed scheduler state: {_describe(state['scheduler'])}", flush=True)


def _describe(state: Any) -> str:
    rungs = state.get("rungs") if isinstance(state, dict) else None
    if not rungs:
        if isinstance(state, dict) and "lineage" in state:  # PBT, PB2
            return (f"population of {len(state['trials'])}, {len(state['lineage'])} exploit(s) "
                    "in the lineage")
        if isinstance(state, dict) and "trials" in state:  # median stopping
            return f"{len(state['trials'])} trial curve(s)"
        return "restored"
    records = sum(len(rec) for bracket in rungs for _, rec in bracket)
    return f"{records} rung records in {len(rungs)} bracket(s)"


def lineage_lines(tuner: Any) -> list[str]:
    """report.md lines for the lineage of a population scheduler (PBT, PB2) ``tuner`` ran.

    The scheduler is found through this callback in the tuner's run config: after
    ``Tuner.restore`` both come from the same ``tuner.pkl``, and the callback is what carried
    the scheduler's state (lineage included) across the restart. No such scheduler, or no
    lineage → no lines."""
    try:
        callbacks = tuner._local_tuner.get_run_config().callbacks or []
    except AttributeError:  # a Tuner without a local run config (Ray client): no lineage
        return []
    for callback in callbacks:
        if isinstance(callback, SchedulerStateCallback):
            lines = getattr(callback.scheduler, "lineage_lines", None)
            return list(lines()) if lines else []
    return []


def append_lineage(path: str, tuner: Any) -> bool:
    """Append the lineage section to ``{path}/report.md`` (rewritten whole, atomically).

    Returns whether a section was added: only for a population scheduler that exploited, and
    only for a local results folder (a remote report is left as written)."""
    lines = lineage_lines(tuner)
    report = os.path.join(path, "report.md")
    if not lines or "://" in path or not os.path.exists(report):
        return False
    from tuner.results import write_atomic

    with open(report, encoding="utf-8") as f:
        text = f.read()
    write_atomic(report, text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n")
    return True
