"""A stub of the controller side a scheduler talks to — enough to drive one without Ray running.

Used by the scheduler decision-table tests (tests/schedulers/). The simulated-time benchmark
runner does not use it: ``benchmarks/simulator.py`` has its own ``SimController``, which also
drives the searcher, keeps only live trials (O(live) at 100k trials) and uses its own
lightweight ``SimTrial`` objects instead of Ray's ``Trial``. This stub keeps the trials,
applies each decision the way Ray's ``TuneController`` does (STOP of a running trial →
``scheduler.on_trial_complete`` with its last result; stopping a PAUSED/PENDING trial →
``scheduler.on_trial_remove``), and answers the few calls Ray's schedulers make back:

* ASHA, FIFO, median: none (``None`` works as controller).
* HyperBand: ``stop_trial(trial)``; reads ``trial.status``/``trial.is_saving``.
* PBT: ``get_trials()``, ``get_live_trials()``, ``pause_trial(trial, should_checkpoint=)``,
  ``_schedule_trial_save(trial, result=)`` (returns the checkpoint PBT will clone).

Trials are ``ray.tune.experiment.Trial(..., stub=True)`` objects (PBT writes into
``trial.run_metadata``). A "checkpoint" here is a ``ray.tune.Checkpoint`` whose path names the
trial and epoch it was taken from, so a test can see which state a trial resumed from.
"""

from __future__ import annotations

from ray.tune import Checkpoint
from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler

__all__ = ["StubController", "make_trial"]


def make_trial(trial_id: str, config: dict | None = None) -> Trial:
    """A Ray ``Trial`` that never starts an actor."""
    return Trial("__stub", config=dict(config or {}), trial_id=trial_id, stub=True)


class StubController:
    """Holds trials and applies a scheduler's decisions; no Ray runtime involved."""

    def __init__(self, scheduler: TrialScheduler):
        self.scheduler = scheduler
        self.trials: list[Trial] = []
        self.saved: dict[str, Checkpoint] = {}  # trial id -> last checkpoint taken

    # Calls the scheduler makes back --------------------------------------------------------
    def get_trials(self) -> list[Trial]:
        return list(self.trials)

    def get_live_trials(self) -> list[Trial]:
        return [t for t in self.trials if t.status not in (Trial.TERMINATED, Trial.ERROR)]

    def stop_trial(self, trial: Trial) -> None:
        if trial.status in (Trial.PENDING, Trial.PAUSED):
            self.scheduler.on_trial_remove(self, trial)
        elif trial.status == Trial.RUNNING:
            self.scheduler.on_trial_complete(self, trial, dict(trial.last_result or {}))
        if trial.status not in (Trial.TERMINATED, Trial.ERROR):
            trial.set_status(Trial.TERMINATED)

    def pause_trial(self, trial: Trial, should_checkpoint: bool = True) -> None:
        if should_checkpoint:
            self._schedule_trial_save(trial, result=trial.last_result)
        trial.set_status(Trial.PAUSED)

    def _schedule_trial_save(self, trial: Trial, result: dict | None = None) -> Checkpoint:
        epoch = (result or {}).get("training_iteration", 0)
        ckpt = Checkpoint(f"/stub/{trial.trial_id}/epoch{epoch}")
        self.saved[trial.trial_id] = ckpt
        return ckpt

    # Driving ------------------------------------------------------------------------------
    def add(self, trial: Trial) -> Trial:
        self.trials.append(trial)
        self.scheduler.on_trial_add(self, trial)
        return trial

    def report(self, trial: Trial, result: dict) -> str:
        """One reported result: returns the decision and applies it to the trial."""
        trial.set_status(Trial.RUNNING)
        trial.run_metadata.last_result = dict(result)
        decision = self.scheduler.on_trial_result(self, trial, dict(result))
        if decision == TrialScheduler.PAUSE:
            trial.set_status(Trial.PAUSED)
        elif decision == TrialScheduler.STOP:
            self.stop_trial(trial)
        return decision

    def choose(self) -> Trial | None:
        return self.scheduler.choose_trial_to_run(self)
