"""A packed run's saved state: what `tuner launch --resume` of a packed run continues from.

For an unpacked run Ray's controller snapshots the experiment every few seconds
(`TUNE_GLOBAL_CHECKPOINT_S`, `ray/tune/execution/experiment_state.py`): the trials, the
searcher (`Searcher.save_to_dir`) and, through `tuner.launch.resume.SchedulerStateCallback`, the
scheduler's `get_state()`. The packed executor plays the controller, so it snapshots the same
three things itself, into one file written whole (`results.write_atomic`: a reader sees the
previous snapshot or the new one, never a part). One file, so the trials, the searcher and
the scheduler in it always describe the same moment.

Member checkpoints live in epoch-named folders, `<trial>/checkpoint_<epoch>`. A folder is
deleted only after a newer snapshot stopped naming it (`prune`), so a driver killed between a
member's save and the next snapshot still finds the checkpoint its snapshot names.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from types import SimpleNamespace
from typing import Any

from tuner.errors import ConfigError

__all__ = [
    "CHECKPOINT_PREFIX",
    "STATE_FILE",
    "TRIAL_FIELDS",
    "packed_records",
    "prune",
    "read",
    "restore_searcher",
    "snapshot",
    "trial_record",
    "write",
]

STATE_FILE = "pack_state.pkl"
FORMAT = 1
CHECKPOINT_PREFIX = "checkpoint_"
# What a trial keeps across a resume (the rest of PackTrial is the live run's bookkeeping).
TRIAL_FIELDS = ("trial_id", "config", "order", "status", "last_result", "history", "epochs",
                "time_total_s", "checkpoint", "checkpoint_epoch", "checkpoint_reports",
                "error", "node", "retries", "experiment_tag")


def snapshot(trials: list, searcher: Any, scheduler: Any, num_samples: int) -> dict:
    """Everything a resumed executor needs, as plain data (plus the searcher's own bytes)."""
    return {
        "format": FORMAT,
        "num_samples": num_samples,
        "trials": [{k: getattr(t, k) for k in TRIAL_FIELDS} for t in trials],
        "searcher": _searcher_bytes(searcher),
        "scheduler": scheduler.get_state() if hasattr(scheduler, "get_state") else None,
    }


def _searcher_bytes(searcher: Any) -> bytes | None:
    """Ray's contract for searcher persistence is `save(path)` / `restore(path)` (what
    `Searcher.save_to_dir` calls); a searcher without it starts afresh on resume, as in an
    unpacked run."""
    fd, tmp = tempfile.mkstemp(prefix=".tuner-searcher-")
    os.close(fd)
    try:
        searcher.save(tmp)
        with open(tmp, "rb") as f:
            return f.read()
    except NotImplementedError:
        return None
    finally:
        os.unlink(tmp)


def restore_searcher(searcher: Any, blob: bytes | None) -> bool:
    if blob is None:
        return False
    fd, tmp = tempfile.mkstemp(prefix=".tuner-searcher-")
    try:
        os.write(fd, blob)
        os.close(fd)
        searcher.restore(tmp)
    finally:
        os.unlink(tmp)
    return True


def write(path: str, state: dict) -> None:
    from ray import cloudpickle

    from tuner.record.results import write_atomic

    write_atomic(os.path.join(path, STATE_FILE), cloudpickle.dumps(state))


def read(path: str) -> dict:
    """The saved state at `path`, or one line saying why a resume cannot use it."""
    import pickle

    file = os.path.join(path, STATE_FILE)
    if not os.path.exists(file):
        raise ConfigError(f"--resume: {path} holds no saved packed-run state ({STATE_FILE}) "
                          "to continue")
    try:
        with open(file, "rb") as f:
            state = pickle.load(f)
    except Exception as exc:  # noqa: BLE001 — cut short, or from another version
        raise ConfigError(f"--resume: the saved packed-run state in {path} cannot be read "
                          f"({type(exc).__name__}); the results so far are untouched — start "
                          "a new --name") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ConfigError(f"--resume: {file} is not a packed-run state this version reads")
    return state


def prune(path: str, trial_ids: set[str], keep: set[str]) -> None:
    """Delete the checkpoint folders of `trial_ids` that no snapshot or scheduler names."""
    keep = {os.path.abspath(k) for k in keep if k}
    for trial_id in trial_ids:
        folder = os.path.join(path, trial_id)
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            full = os.path.abspath(os.path.join(folder, name))
            if name.startswith(CHECKPOINT_PREFIX) and full not in keep:
                shutil.rmtree(full, ignore_errors=True)


def packed_records(path: str, max_epochs: int, interrupted: bool) -> list | None:
    """The `TrialRecord`s of a packed run's folder, from its saved state; None when `path`
    holds no packed run. For readers such as `tuner.load`, which otherwise read Ray's
    experiment state (a packed run has none)."""
    if not os.path.exists(os.path.join(path, STATE_FILE)):
        return None
    return [trial_record(SimpleNamespace(**saved), max_epochs, interrupted)
            for saved in read(path)["trials"]]


def trial_record(trial: Any, max_epochs: int, interrupted: bool = False) -> Any:
    """As `tuner.record.collect` reads an unpacked trial: one stopped by Ctrl-C while running,
    paused or pending is interrupted, one that never trained not started. `trial` is a live
    `PackTrial` or a saved one (the `TRIAL_FIELDS`)."""
    from ray.tune.experiment import Trial

    from tuner.record import results as res

    status = res.status_of(trial.epochs, max_epochs, trial.error)
    finished = trial.status in (Trial.TERMINATED, Trial.ERROR)
    if interrupted and not finished and not trial.error:
        status = res.INTERRUPTED if trial.epochs else res.NOT_STARTED
    return res.TrialRecord(
        trial_id=trial.trial_id, config=dict(trial.config),
        status=status, epochs=trial.epochs,
        history=list(trial.history), error=trial.error, node=trial.node,
        retries=trial.retries, checkpoint=trial.checkpoint, order=trial.order,
        values=res.numbers(getattr(trial, "last_result", None)))
