"""MLflow: a parent run per experiment, a nested child run per trial, through ``MlflowClient``.

Why not Ray's ``MLflowLoggerCallback`` (``ray/air/integrations/mlflow.py``): it opens one
top-level run per trial and no parent, so the trials of one experiment are not nested
(ray-project/ray#19978); it sets the tracking URI with the process-global
``mlflow.set_tracking_uri`` in the driver only, so MLflow inside the trials still points at a
local ``mlruns`` (the URI "ignored", ray-project/ray#36257), and the driver's own MLflow calls
are redirected as a side effect; it keeps the run of each trial only in memory,
so ``Tuner.restore`` opens a second run for every trial; and it logs every key of Ray's
result, bookkeeping included. Here one ``MlflowClient(tracking_uri=…)`` is used explicitly, the
ids are kept in ``tracking.json``, and the children carry ``mlflow.parentRunId``.

Statuses: a trial that trained its full budget, or that ASHA / Hyperband stopped early (a
normal end of a multi-fidelity search, tagged ``tuner.stopped_early=true``), is FINISHED; an
errored trial FAILED (``tuner.error`` says why); one cut short by Ctrl-C KILLED, until
``--resume`` sets it RUNNING again. The parent likewise: FINISHED, or KILLED when interrupted.
"""

from __future__ import annotations

import os
import time
from typing import Any

from tuner.record.tracking.base import Tracker, outcome_of

__all__ = ["MlflowTracker"]

_STATUS = {"completed": "FINISHED", "stopped": "FINISHED", "errored": "FAILED",
           "interrupted": "KILLED"}
_MAX_PARAM = 500  # MLflow's limit before 2.x servers; longer values are cut, not refused


class MlflowTracker(Tracker):
    backend = "mlflow"

    def open(self) -> None:
        from mlflow.tracking import MlflowClient

        uri = self.state.setdefault("tracking_uri", self.options["tracking_uri"])
        self.client = MlflowClient(tracking_uri=uri)
        parent = self.state.get("parent_run_id")
        if parent:  # --resume: the same parent, running again
            self.client.update_run(parent, status="RUNNING")
            return
        experiment_id = self._experiment_id()
        run = self.client.create_run(experiment_id, run_name=self.spec.name,
                                     tags={"tuner.experiment": self.spec.name,
                                           "tuner.path": self.spec.path})
        self._params(run.info.run_id, self.spec.params)
        self.state.update(experiment_id=experiment_id, parent_run_id=run.info.run_id)
        self.store.save()

    def _experiment_id(self) -> str:
        name = self.options["experiment"]
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        return self.client.create_experiment(name, artifact_location=self._artifacts())

    def _artifacts(self) -> str | None:
        """A sqlite store's artifacts beside its database, not in the current directory
        (MLflow's default, ``./mlruns``, depends on where ``tuner`` was started)."""
        if "artifact_location" in self.options:
            return self.options["artifact_location"]
        uri = self.state["tracking_uri"]
        if uri.startswith("sqlite:///"):
            folder = os.path.dirname(os.path.abspath(uri[len("sqlite:///"):]))
            return "file://" + os.path.join(folder, "mlartifacts")
        return None

    def _params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(str(k), str(v)[:_MAX_PARAM]) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(run_id, params=items[i:i + 100])

    # trials ----------------------------------------------------------------------------------
    def trial_started(self, trial_id: str, config: dict) -> None:
        known = self.trials.get(trial_id)
        if known is not None:
            if known.get("outcome"):  # resumed, or retried after an error
                self.client.update_run(known["run"], status="RUNNING")
                known.pop("outcome")
            return
        run = self.client.create_run(
            self.state["experiment_id"], run_name=trial_id,
            tags={"mlflow.parentRunId": self.state["parent_run_id"],
                  "tuner.trial_id": trial_id, "tuner.experiment": self.spec.name})
        # the trial's starting config (PBT's later mutations are in the report's lineage)
        self._params(run.info.run_id, config)
        self.trials[trial_id] = {"run": run.info.run_id, "step": 0}
        self.store.save()

    def trial_result(self, trial_id: str, step: int, metrics: dict[str, float],
                     config: dict) -> None:
        from mlflow.entities import Metric

        if trial_id not in self.trials:
            self.trial_started(trial_id, config)
        if not metrics or not self.new_step(trial_id, step):
            return
        now = int(time.time() * 1000)
        self.client.log_batch(self.trials[trial_id]["run"],
                              metrics=[Metric(k, v, now, step) for k, v in metrics.items()])

    def trial_ended(self, trial_id: str, status: str) -> None:
        known = self.trials.get(trial_id)
        if known is None:
            return
        outcome = outcome_of(status)
        run = known["run"]
        if outcome == "stopped":
            self.client.set_tag(run, "tuner.stopped_early", "true")
        if outcome == "errored":
            self.client.set_tag(run, "tuner.error", status[:_MAX_PARAM])
        self.client.set_terminated(run, _STATUS[outcome])
        known["outcome"] = outcome
        self.store.save()

    # the end ---------------------------------------------------------------------------------
    def mark_best(self, trial_id: str, status: str, test: dict[str, float]) -> None:
        from mlflow.entities import Metric

        run = self.trials[trial_id]["run"]
        self.client.set_tag(run, "tuner.best", "true")
        now, step = int(time.time() * 1000), int(self.trials[trial_id].get("step", 0))
        tests = [Metric(k, float(v), now, step) for k, v in test.items()]
        if tests:
            self.client.log_batch(run, metrics=tests)
        parent = self.state["parent_run_id"]
        self.client.set_tag(parent, "tuner.best_trial", trial_id)
        self.client.set_tag(parent, "tuner.best_run_id", run)

    def unmark_best(self, trial_id: str, status: str) -> None:
        """A resumed run with more trials found a new winner: the old one is no longer it."""
        self.client.delete_tag(self.trials[trial_id]["run"], "tuner.best")

    def experiment_ended(self, summary: dict[str, Any], files: list[str],
                         interrupted: bool) -> None:
        from mlflow.entities import Metric

        parent = self.state["parent_run_id"]
        now = int(time.time() * 1000)
        numbers = {k: v for k, v in summary.items() if isinstance(v, (int, float))}
        if numbers:
            self.client.log_batch(parent, metrics=[Metric(k, float(v), now, 0)
                                                   for k, v in numbers.items()])
        for path in files:
            self.client.log_artifact(parent, path)
        self.client.set_terminated(parent, "KILLED" if interrupted else "FINISHED")
        self.store.save()
