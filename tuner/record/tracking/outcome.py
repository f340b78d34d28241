"""After the result files are written: every trial's final state, the winner, the parent.

Called by the runner (and the packed runner) after ``tuner.record.finish.finish``, finished or
interrupted. The records are the truth: a trial whose tracked outcome differs from its record
(or that no callback saw: every trial of a packed run, which has no Ray callbacks) is replayed
here from its ``result.json`` — only the epochs not yet logged — and ended with its record's
status. Then the winner is tagged with its test score, ``manifest.json`` and ``report.md`` go
to the parent, and the parent ends (FINISHED, or KILLED when interrupted, until ``--resume``).
A run cut short marks no winner: the resumed run will, once.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable
from typing import Any

from tuner.record.tracking.base import metrics_of, outcome_of, spec_of
from tuner.record.tracking.trackers import Trackers

__all__ = ["record_outcome"]

_FILES = ("manifest.json", "report.md")


def record_outcome(exp: Any, records: list, best: Any, test: dict[str, float], *,
                   interrupted: bool, write: Callable[[str], None] = print) -> None:
    """Bring ``exp``'s trackers in line with ``records`` and close its parent run."""
    if not getattr(exp, "tracking", None):
        return
    trackers = Trackers.open(spec_of(exp), warn=write)
    for tracker in list(trackers.trackers):
        _reconcile(trackers, tracker, exp.path, records)
    if best is not None and not interrupted:
        _mark_winner(trackers, records, best, test)
    summary = _summary(exp, records, best, test)
    files = [os.path.join(exp.path, f) for f in _FILES
             if "://" not in exp.path and os.path.exists(os.path.join(exp.path, f))]
    trackers.call("experiment_ended", summary, files, interrupted)
    trackers.call("release")
    trackers.save()


def _reconcile(trackers: Trackers, tracker: Any, path: str, records: list) -> None:
    one = Trackers([tracker], trackers.warn)  # the same guard, for this tracker alone
    for record in records:
        known = tracker.trials.get(record.trial_id, {})
        outcome = outcome_of(record.status)
        if known.get("outcome") == outcome or (outcome == "interrupted" and not record.epochs):
            continue
        one.call("trial_started", record.trial_id, dict(record.config))
        for step, metrics in _results(path, record, tracker.spec.metric):
            one.call("trial_result", record.trial_id, step, metrics, dict(record.config))
        one.call("trial_ended", record.trial_id, record.status)
        if not one:
            trackers.trackers.remove(tracker)
            return


def _results(path: str, record: Any, metric: str) -> list[tuple[int, dict[str, float]]]:
    """(epoch, metrics) as the trial reported them: its ``result.json`` (packed:
    ``<path>/<id>/``, Ray: ``<path>/<trainable>_<id>/``), else the recorded metric alone."""
    if "://" not in path:
        candidates = [os.path.join(path, record.trial_id, "result.json"),
                      *glob.glob(os.path.join(path, f"*_{record.trial_id}", "result.json"))]
        for file in candidates:
            if os.path.exists(file):
                return _read(file)
    return [(i + 1, {metric: v}) for i, v in enumerate(record.history)
            if isinstance(v, (int, float))]


def _read(file: str) -> list[tuple[int, dict[str, float]]]:
    out = []
    with open(file, encoding="utf-8") as f:
        for line in f:
            try:
                result = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill
            out.append((int(result.get("training_iteration", 0) or 0), metrics_of(result)))
    return out


def _mark_winner(trackers: Trackers, records: list, best: Any, test: dict) -> None:
    status = {r.trial_id: r.status for r in records}
    for tracker in list(trackers.trackers):
        one = Trackers([tracker], trackers.warn)
        before = tracker.state.get("best")
        if before and before != best.trial_id and before in tracker.trials:
            one.call("unmark_best", before, status.get(before, "completed"))
        if best.trial_id in tracker.trials:
            one.call("mark_best", best.trial_id, best.status, dict(test))
            tracker.state["best"] = best.trial_id
        if not one:
            trackers.trackers.remove(tracker)


def _summary(exp: Any, records: list, best: Any, test: dict) -> dict[str, Any]:
    out: dict[str, Any] = {"trials": len(records),
                           "completed": sum(r.status == "completed" for r in records),
                           "stopped_early": sum(r.status == "stopped early" for r in records),
                           "errored": sum(r.status.startswith("errored") for r in records)}
    if best is not None:
        out["best_trial"] = best.trial_id
        if best.last is not None:
            out[f"best_{exp.metric}"] = best.last
        out.update({k: float(v) for k, v in test.items()})
    return out
