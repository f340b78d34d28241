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

import glob
import os
from typing import Any

from ray import tune

from tuner.launch import snapshot

__all__ = ["SchedulerStateCallback", "SnapshotKeeper", "extend_num_samples", "lineage_lines"]


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


class SnapshotKeeper(tune.Callback):
    """After each of Ray's experiment snapshots, keep a whole copy of it in
    ``<experiment>/.snapshot/`` for a ``--resume`` whose newest one was torn by a kill (why and
    how: ``tuner.launch.snapshot``)."""

    def __init__(self, experiment_path: str):
        self.path = experiment_path
        self.copied: float | None = None  # mtime of the staging state last kept

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        """Ray's last snapshot (``tune.run``: ``checkpoint(force=True)``, then the callbacks'
        ``on_experiment_end``): kept too, or a later ``--resume`` of a finished or stopped
        run would see the kept set lag the folder's and put the older one back."""
        self.on_step_end(-1, trials)

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        if "://" in self.path or not trials:
            return
        staging = getattr(getattr(trials[0], "storage", None),
                          "experiment_driver_staging_path", None)
        states = sorted(glob.glob(os.path.join(staging or "", snapshot.STATE_GLOB)))
        if not states:
            return
        mtime = os.stat(states[-1]).st_mtime
        if mtime == self.copied:
            return  # Ray did not snapshot in this step (it throttles to every few seconds)
        try:
            snapshot.keep(staging, snapshot.session_of(states[-1]),
                          os.path.join(self.path, snapshot.KEPT))
        except OSError:  # storage read-only or full for a moment: the next snapshot retries
            return
        self.copied = mtime


def _describe(state: Any) -> str:
    rungs = (state.get("vectors") or state.get("rungs")) if isinstance(state, dict) else None
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


def extend_num_samples(path: str, num_samples: int) -> bool:
    """Let a resumed run create trials up to ``num_samples``.

    Ray's restore ignores a new ``num_samples``: ``tune.run`` only adds the experiment's
    configurations to the search algorithm when *not* resumed, and ``SearchGenerator`` restores
    its ``total_samples`` from its own state file (``tune/search/search_generator.py``). So the
    newest of those files gets the new total before ``Tuner.restore`` reads it (written the way
    Ray writes it: cloudpickle, then an atomic rename). A searcher that itself finished (a
    grid) stays finished.
    """
    import glob

    import ray.cloudpickle as cloudpickle

    files = sorted(glob.glob(os.path.join(path, "search_gen_state-*.json")))
    if not files:
        return False
    with open(files[-1], "rb") as f:
        state = cloudpickle.load(f)
    if state.get("total_samples", 0) >= num_samples:
        return False
    if state.get("finished") and state.get("counter", 0) < state.get("total_samples", 0):
        return False  # the searcher said FINISHED: more samples would add nothing
    state["total_samples"], state["finished"] = num_samples, False
    tmp = files[-1] + ".tmp"
    with open(tmp, "wb") as f:
        cloudpickle.dump(state, f)
    os.replace(tmp, files[-1])
    return True
