"""What every tracker shares: its settings, ``tracking.json``, the protocol and the guard.

A tracker is a plain object driven by trial events (started, a result, ended) and by the end
of the run (winner, files, parent closed): the same calls come live from Ray's driver loop
(``callback``) and, for a packed run, replayed from the trials' ``result.json`` after it
(``outcome``). ``trackers`` holds the guard that keeps a failing tracker from stopping the run.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TRACKING_FILE", "Tracker", "TrackingSpec", "TrackingState", "metrics_of",
           "outcome_of", "spec_of"]

TRACKING_FILE = "tracking.json"
# Ray's bookkeeping in every result: not metrics of the model (step is training_iteration)
_NOT_METRICS = {"done", "training_iteration", "timestamp", "pid", "iterations_since_restore",
                "time_since_restore", "timesteps_since_restore", "timesteps_total",
                "episodes_total", "should_checkpoint", "epoch"}


@dataclass
class TrackingSpec:
    """The narrow, picklable settings a tracker needs (``tuner.pkl`` keeps the callback)."""

    name: str
    path: str
    metric: str
    mode: str
    max_epochs: int
    backends: dict[str, dict[str, str]]
    params: dict[str, Any] = field(default_factory=dict)  # the experiment's, on the parent


def spec_of(exp: Any) -> TrackingSpec:
    """``exp``'s tracking settings with their defaults resolved now, in the launching process
    (``$MLFLOW_TRACKING_URI``, ``$WANDB_DIR``), so the resumed run uses the same ones."""
    backends = {k: dict(v) for k, v in (getattr(exp, "tracking", None) or {}).items()}
    local = "://" not in exp.path
    if "mlflow" in backends:
        m = backends["mlflow"]
        m.setdefault("tracking_uri", os.environ.get("MLFLOW_TRACKING_URI")
                     or f"sqlite:///{os.path.join(exp.storage, 'mlflow.db')}")
        m.setdefault("experiment", exp.name)
    if "wandb" in backends:
        w = backends["wandb"]
        w.setdefault("mode", "offline")
        dir_ = os.environ.get("WANDB_DIR") or (exp.path if local else "")
        if dir_:
            w.setdefault("dir", dir_)
    params = {"searcher": exp.searcher, "scheduler": exp.scheduler, "metric": exp.metric,
              "mode": exp.mode, "num_samples": exp.num_samples, "seed": exp.seed,
              "budget": f"{exp.budget.min}..{exp.budget.max} epochs, eta {exp.budget.eta}",
              "method": exp.method or "", "path": exp.path}
    return TrackingSpec(name=exp.name, path=exp.path, metric=exp.metric, mode=exp.mode,
                        max_epochs=exp.budget.max, backends=backends, params=params)


def metrics_of(result: dict) -> dict[str, float]:
    """The numbers of one reported result worth a chart: no bools, no Ray bookkeeping."""
    return {k: float(v) for k, v in result.items()
            if k not in _NOT_METRICS and isinstance(v, (int, float))
            and not isinstance(v, bool) and math.isfinite(v)}


def outcome_of(status: str) -> str:
    """tuner's trial status (``tuner.record.results``) in four classes: completed, stopped,
    errored, interrupted — what a tracker's run status can say."""
    if status.startswith("errored"):
        return "errored"
    if status == "stopped early":
        return "stopped"
    return "completed" if status == "completed" else "interrupted"


# remote storage: the state of this process's runs, shared by the callback and the end step
_IN_MEMORY: dict[str, dict[str, Any]] = {}


class TrackingState:
    """``tracking.json``: per backend the parent's ids and per trial its run id, last logged
    step and outcome. With remote storage it stays in this process's memory (a ``--resume``
    there, in a new process, opens a new parent)."""

    def __init__(self, path: str):
        self.file = os.path.join(path, TRACKING_FILE) if "://" not in path else None
        self.data: dict[str, Any] = _IN_MEMORY.setdefault(path, {}) if self.file is None else {}
        if self.file and os.path.exists(self.file):
            with open(self.file, encoding="utf-8") as f:
                self.data = json.load(f)

    def section(self, backend: str) -> dict[str, Any]:
        part = self.data.setdefault(backend, {})
        part.setdefault("trials", {})
        return part

    def save(self) -> None:
        if self.file is None:
            return
        from tuner.record.results import write_atomic

        os.makedirs(os.path.dirname(self.file), exist_ok=True)
        write_atomic(self.file, json.dumps(self.data, indent=2, sort_keys=True) + "\n")


class Tracker:
    """One backend. Subclasses implement the hooks; ``trials`` is their part of the state."""

    backend = ""

    def __init__(self, spec: TrackingSpec, state: TrackingState):
        self.spec, self.store = spec, state
        self.options = spec.backends[self.backend]
        self.state = state.section(self.backend)
        self.trials: dict[str, dict[str, Any]] = self.state["trials"]

    def open(self) -> None: ...
    def trial_started(self, trial_id: str, config: dict) -> None: ...
    def trial_result(self, trial_id: str, step: int, metrics: dict[str, float],
                     config: dict) -> None: ...
    def trial_ended(self, trial_id: str, status: str) -> None: ...
    def mark_best(self, trial_id: str, status: str, test: dict[str, float]) -> None: ...
    def unmark_best(self, trial_id: str, status: str) -> None: ...
    def experiment_ended(self, summary: dict[str, Any], files: list[str],
                         interrupted: bool) -> None: ...
    def release(self) -> None:
        """Let go of live handles at the end of ``fit()`` (W&B: finish open runs)."""

    def new_step(self, trial_id: str, step: int) -> bool:
        """Each epoch once: a retried or resumed trial re-reports epochs after its checkpoint."""
        known = self.trials.get(trial_id, {})
        if step <= int(known.get("step", 0)):
            return False
        known["step"] = step
        return True
