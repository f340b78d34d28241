"""Weights & Biases: a group per experiment, one run per trial, one summary run.

W&B has no nested runs, so the experiment is a ``group`` (its name) holding one run per trial
(``job_type="trial"``, named by the trial id) and, written at the end, one summary run
(``job_type="experiment"``) with the experiment's settings, the winner, its test score and
``manifest.json`` / ``report.md`` as an artifact. ``mode`` defaults to ``offline``: files only,
under the run folder (or ``$WANDB_DIR``), uploaded when you choose with ``wandb sync``.

Why not Ray's ``WandbLoggerCallback`` (``ray/air/integrations/wandb.py``): it starts two Ray
actors per trial (a logging process and a queue) because older wandb could hold only one run
per process — wandb ≥ 0.19.10 holds many (``reinit="create_new"``), so here the driver logs
directly; its runs start with ``resume=False`` and ids kept in memory, so ``Tuner.restore``
starts over; and it has no experiment-level run for the winner and the report.

The winner's run has already finished when the winner is known, so it is marked by resuming
it (``resume="allow"``): a short second segment with the tag ``best`` and the test score in
its summary. Offline that is a second ``offline-run-*-<id>`` folder with the same run id;
``wandb sync`` merges them into one run.
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Any

from tuner.record.tracking.base import Tracker, outcome_of

__all__ = ["WandbTracker"]


def _tags(status: str, best: bool = False) -> tuple[str, ...]:
    outcome = outcome_of(status)
    return (("best",) if best else ()) + {"stopped": ("stopped-early",), "errored": ("errored",),
                                         "interrupted": ("interrupted",)}.get(outcome, ())


def _new_id() -> str:
    """A run id, kept in tracking.json: unique in the project, the same on ``--resume``."""
    return uuid.uuid4().hex[:12]


class WandbTracker(Tracker):
    backend = "wandb"

    def open(self) -> None:
        import wandb

        self.wandb = wandb
        self.runs: dict[str, Any] = {}  # open runs of this process, by trial id
        self.state.setdefault("group", self.spec.name)
        self.state.setdefault("project", self.options["project"])
        if self.options.get("dir"):
            os.makedirs(self.options["dir"], exist_ok=True)
        self.store.save()

    def _init(self, run_id: str, name: str, job_type: str, config: dict | None = None):
        """A run of this experiment's group; many live at once in one process."""
        o = self.options
        try:  # the driver's console and system metrics are not the trial's
            settings = self.wandb.Settings(console="off", silent=True, x_disable_stats=True,
                                           x_disable_meta=True)
        except Exception:  # noqa: BLE001 — private settings renamed in a newer wandb
            settings = self.wandb.Settings(console="off", silent=True)
        return self.wandb.init(
            project=self.state["project"], entity=o.get("entity"), group=self.state["group"],
            job_type=job_type, id=run_id, name=name, config=config, dir=o.get("dir"),
            mode=o["mode"], resume="allow", reinit="create_new", settings=settings)

    # trials ----------------------------------------------------------------------------------
    def trial_started(self, trial_id: str, config: dict) -> None:
        if trial_id in self.runs:
            return
        known = self.trials.get(trial_id)
        run_id = known["run"] if known else _new_id()
        self.runs[trial_id] = self._init(run_id, trial_id, "trial", dict(config))
        if known is None:
            self.trials[trial_id] = {"run": run_id, "step": 0}
            self.store.save()
        else:
            known.pop("outcome", None)

    def trial_result(self, trial_id: str, step: int, metrics: dict[str, float],
                     config: dict) -> None:
        if trial_id not in self.runs:
            self.trial_started(trial_id, config)
        if metrics and self.new_step(trial_id, step):
            self.runs[trial_id].log(metrics, step=step)

    def trial_ended(self, trial_id: str, status: str) -> None:
        run = self.runs.pop(trial_id, None)
        if run is None:
            return
        run.summary["status"] = status
        run.tags = tuple(run.tags or ()) + _tags(status)
        run.finish(exit_code=1 if outcome_of(status) in ("errored", "interrupted") else 0)
        self.trials[trial_id]["outcome"] = outcome_of(status)
        self.store.save()

    def release(self) -> None:
        for trial_id in list(self.runs):  # still open when fit() returns: Ctrl-C
            self.trial_ended(trial_id, "interrupted")

    # the end ---------------------------------------------------------------------------------
    def mark_best(self, trial_id: str, status: str, test: dict[str, float]) -> None:
        self._retag(trial_id, status, best=True, summary={"best": True, **test})

    def unmark_best(self, trial_id: str, status: str) -> None:
        self._retag(trial_id, status, best=False, summary={"best": False})

    def _retag(self, trial_id: str, status: str, best: bool, summary: dict) -> None:
        run = self._init(self.trials[trial_id]["run"], trial_id, "trial")
        run.tags = _tags(status, best=best)
        run.summary.update(summary)
        run.finish()

    def experiment_ended(self, summary: dict[str, Any], files: list[str],
                         interrupted: bool) -> None:
        run_id = self.state.setdefault("summary_run", _new_id())
        self.store.save()
        run = self._init(run_id, self.spec.name, "experiment", dict(self.spec.params))
        run.tags = ("interrupted",) if interrupted else ()
        run.summary.update(summary)
        if files:
            name = re.sub(r"[^\w.-]", "-", self.spec.name)
            artifact = self.wandb.Artifact(f"{name}-record", type="tuner-record")
            for path in files:
                artifact.add_file(path)
            run.log_artifact(artifact)
        run.finish()
