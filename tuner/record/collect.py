"""Ray's experiment folder → one :class:`~tuner.record.results.TrialRecord` per trial.

Read from Ray's own saved experiment state (``ray.tune.ExperimentAnalysis``), not from the
in-memory ``ResultGrid``, so the runner after ``fit()`` and :func:`tuner.load` on a finished,
interrupted or killed run build the very same records. Trials keep the order Ray created them
in (the experiment state lists them so), which is what ``trials.csv`` and tie-breaks use: Ray's
trial ids are random hex.

An errored trial is described by the user's own exception — ``ValueError: bad lr`` — not by the
Ray wrapper around it (``RayTaskError(ValueError)``, or ``ActorDiedError`` when a class
trainable's ``setup`` raised): the last exception line in Ray's ``error.txt`` that is not one
of Ray's.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

from tuner.record import results as res

__all__ = ["RunMeta", "collect_records", "error_line", "final_rows", "LOG_FILE"]

LOG_FILE = "output.log"  # each trial's stdout and stderr (RunConfig(log_to_file=LOG_FILE))

_RAY_ERRORS = ("RayTaskError", "RayActorError", "ActorDiedError", "TuneError",
               "RaySystemError", "ActorUnavailableError", "WorkerCrashedError",
               "TaskCancelledError")
_EXC_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning)"
                       r"(?:\([\w.]+\))?)(?::\s*(.*))?$")


@dataclass(frozen=True)
class RunMeta:
    """The narrow facts about an experiment that reading its trials needs."""

    metric: str
    mode: str
    max_epochs: int
    others: tuple[str, ...] = ()  # the other objectives, read per epoch too
    population: bool = False  # PBT / PB2: a trial's rows before an exploit are its lineage


def collect_records(path: str, meta: RunMeta, interrupted: bool = False
                    ) -> list[res.TrialRecord]:
    """Every trial of the Ray experiment at ``path``, in creation order (the leading number
    of Ray's ``experiment_tag``, ``tuner.schedulers.controller.creation_number``). In a run
    stopped before its end (``interrupted``: Ctrl-C, a killed driver) the trials Ray left running,
    paused or pending are marked interrupted / not started. (A finished HyperBand run may
    leave trials PAUSED at a milestone of a bracket that never filled: stopped early.)"""
    from ray.tune import ExperimentAnalysis

    from tuner.schedulers.controller import creation_number

    analysis = ExperimentAnalysis(path)
    trials = sorted(analysis.trials, key=lambda t: creation_number(t.experiment_tag))
    return [_record(trial, order, meta, interrupted, analysis._fs)
            for order, trial in enumerate(trials)]


def _record(trial: Any, order: int, meta: RunMeta, interrupted: bool, fs: Any
            ) -> res.TrialRecord:
    last = dict(trial.last_result or {})
    rows = final_rows(_result_rows(trial, fs), meta.population)
    history, epochs = _history(rows, meta.metric)
    histories = {n: _history(rows, n)[0] for n in meta.others}
    if not history and isinstance(last.get(meta.metric), (int, float)):
        history = [float(last[meta.metric])]
    epochs = max(epochs, int(last.get("training_iteration", 0) or 0))
    error = ""
    if trial.status == "ERROR":
        error = error_line(_read(trial.error_file)) or "error (no message)"
    elif last.get("error"):
        error = str(last["error"])
    status = res.status_of(epochs, meta.max_epochs, error)
    if trial.status == "PENDING" and not epochs:
        status = res.NOT_STARTED
    elif trial.status in ("RUNNING", "PAUSED", "PENDING") and interrupted and not error:
        status = res.INTERRUPTED
    checkpoint = trial.checkpoint
    failures = int(getattr(trial, "num_failures", 0) or 0)
    return res.TrialRecord(
        trial_id=trial.trial_id, config=dict(trial.config or {}), status=status, epochs=epochs,
        history=history, error=error, node=str(last.get("hostname", "")),
        retries=failures - (1 if trial.status == "ERROR" else 0),
        checkpoint=checkpoint.path if checkpoint is not None else None, order=order,
        log=_log_path(trial), values=res.numbers(last), histories=histories)


def curve_rows(path: str) -> list[tuple[str, int, str, float]]:
    """``(trial_id, epoch, metric, value)`` for every numeric value every trial reported."""
    from ray.tune import ExperimentAnalysis

    from tuner.record.ray_messages import RayMessages

    with RayMessages(lambda _line: None):
        analysis = ExperimentAnalysis(path)
    skip = {"training_iteration", "timestamp", "time_this_iter_s", "time_total_s", "pid",
            "time_since_restore", "iterations_since_restore", "done"}
    out = []
    for trial in analysis.trials:
        for row in _result_rows(trial, analysis._fs):
            epoch = int(row.get("training_iteration", 0) or 0)
            out += [(trial.trial_id, epoch, key, float(value)) for key, value in row.items()
                    if key not in skip and isinstance(value, (int, float))
                    and not isinstance(value, bool)]
    return out


def final_rows(rows: list[dict], population: bool = False) -> list[dict]:
    """A trial's ``result.json`` rows as its final curve: one per epoch.

    A trial restarted from a checkpoint (a retry after a fault, a driver's ``--resume``)
    appends the epochs it redoes again (Ray's logger reopens the file in append mode), so the
    rows of those epochs are there twice; the later ones replace the earlier ones, or a
    trial killed at epoch 8 and restored at 7 would show 9 results and a best epoch of 9.
    What each fault cost is in report.md (``tuner.record.ledger``). PBT / PB2 keep every row:
    a trial restored from another's checkpoint keeps its own results before that exploit."""
    if population:
        return rows
    out: list[dict] = []
    for row in rows:
        epoch = int(row.get("training_iteration", 0) or 0)
        while out and int(out[-1].get("training_iteration", 0) or 0) >= epoch:
            out.pop()
        out.append(row)
    return out


def _history(rows: list[dict], metric: str) -> tuple[list[float], int]:
    """The metric per reported epoch from the trial's ``result.json`` rows (and how many)."""
    values = [float(r[metric]) for r in rows if isinstance(r.get(metric), (int, float))]
    epochs = max((int(r.get("training_iteration", 0) or 0) for r in rows), default=0)
    return values, epochs


def _result_rows(trial: Any, fs: Any) -> list[dict]:
    try:
        from pathlib import Path

        file = Path(trial.storage.trial_fs_path, "result.json").as_posix()
        with fs.open_input_stream(file) as stream:
            text = stream.readall().decode("utf-8")
    except Exception:  # noqa: BLE001 — a trial that never reported has no result file
        return []
    rows = []
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a kill
    return rows


def _log_path(trial: Any) -> str | None:
    """The trial's output next to its results (copied from Ray's working dir on this node).

    Ray writes ``log_to_file`` into the trial's working directory under its session folder
    and uploads it only with ``SyncConfig(sync_artifacts=True)``, which adds a sync per
    checkpoint to every trial; a local run copies the few files once here instead. On a
    cluster a trial's output stays on the node that ran it.
    """
    storage = getattr(trial, "storage", None)
    if storage is None:
        return None
    stored = os.path.join(storage.trial_fs_path, LOG_FILE)
    try:
        working = os.path.join(storage.trial_working_directory, LOG_FILE)
    except Exception:  # noqa: BLE001 — a state from another machine has no working dir
        working = ""
    local_storage = "://" not in str(getattr(storage, "storage_path", ""))
    if working and os.path.exists(working) and local_storage and os.path.isdir(
            storage.trial_fs_path):
        if not os.path.exists(stored) or os.path.getmtime(working) > os.path.getmtime(stored):
            import shutil

            shutil.copyfile(working, stored)
    return stored if local_storage and os.path.exists(stored) else None


def _read(path: str | None) -> str:
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def error_line(text: str) -> str:
    """``ExcType: first line of its message`` of the innermost non-Ray exception in ``text``.

    Ray's ``error.txt`` nests the user's traceback inside its own wrappers; the last
    exception line that is not Ray's is what the user raised.
    """
    found = ""
    for line in text.splitlines():
        m = _EXC_LINE.match(line)
        if not m:
            continue
        name = m.group(1).split("(")[0].rsplit(".", 1)[-1]
        if name in _RAY_ERRORS:
            inner = re.search(r"\((\w+)\)", m.group(1))
            found = found or (f"{inner.group(1)}: {(m.group(2) or '').strip()}"
                              if inner else "")
            continue
        found = f"{name}: {(m.group(2) or '').strip()}".rstrip(": ")
    return found[:200]
