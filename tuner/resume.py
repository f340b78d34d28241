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

from typing import Any

from ray import tune

__all__ = ["SchedulerStateCallback"]


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
        return "restored"
    records = sum(len(rec) for bracket in rungs for _, rec in bracket)
    return f"{records} rung records in {len(rungs)} bracket(s)"
