"""The controller side a scheduler talks to, for everything that plays Ray's controller.

Ray's schedulers call back into ``ray/tune/execution/tune_controller.py``: ASHA, FIFO and median
call nothing; HyperBand calls ``stop_trial`` and reads ``trial.status`` / ``trial.is_saving``;
PBT calls ``get_trials()``, ``get_live_trials()``, ``pause_trial(trial, should_checkpoint=)``,
``_set_trial_status`` and ``_schedule_trial_save(trial, result=)`` and writes the checkpoint a
trial continues from into ``trial.run_metadata.checkpoint_manager``. Three things in this
project play that part without Ray's controller, and all three build on :class:`Controller`:

* the benchmark simulator (``benchmarks/simulator.py``: ``SimController``), in simulated time;
* the packed executor (``tuner.launch.packed.executor.PackExecutor``), over Ray actors that
  each hold a pack of trials;
* :class:`StubController` here, for the scheduler decision tables in ``tests/schedulers/``.

:class:`Controller` holds what they share: the trials, and ``stop_trial`` with Ray's
semantics — stopping a PENDING or PAUSED trial is ``scheduler.on_trial_remove`` plus a
result-less ``searcher.on_trial_complete``; stopping a RUNNING one completes it with its last
result. :class:`ControlledTrial` is what Ray's schedulers and searchers read from a ``Trial``,
hashed by identity like Ray's; the simulator and the packed executor extend it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ray.tune import Checkpoint
from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler

__all__ = ["CheckpointSlot", "ControlledTrial", "Controller", "RunMetadata", "StubController",
           "creation_number", "make_trial"]

PENDING, RUNNING, PAUSED = Trial.PENDING, Trial.RUNNING, Trial.PAUSED
TERMINATED, ERROR = Trial.TERMINATED, Trial.ERROR


def creation_number(experiment_tag: Any) -> int:
    """The search generator's counter, the leading number of Ray's ``experiment_tag``
    (``"3_lr=0.01"``): the one record of creation order a restored trial keeps (Ray's
    experiment state lists trials in the order they last changed, and trial ids are random).
    A trial without one (a stand-in) comes after every numbered one."""
    head = str(experiment_tag or "").split("_", 1)[0]
    return int(head) if head.isdigit() else 1 << 30


class CheckpointSlot:
    """The one part of Ray's ``_CheckpointManager`` PBT touches: ``_exploit`` sets
    ``_latest_checkpoint_result`` (a ``_TrainingResult``) to the checkpoint the trial continues
    from (``ray/tune/schedulers/pbt.py``)."""

    _latest_checkpoint_result: Any = None


class RunMetadata:
    def __init__(self) -> None:
        self.checkpoint_manager = CheckpointSlot()


@dataclass(eq=False, repr=False)
class ControlledTrial:
    """What Ray's schedulers and searchers read from a ``Trial``; hashed by identity."""

    trial_id: str
    config: dict
    status: str = PENDING
    last_result: dict = field(default_factory=dict)
    time_total_s: float = 0.0
    is_saving: bool = False
    experiment_tag: str = ""
    run_metadata: Any = field(default_factory=RunMetadata)
    temporary_state: Any = None

    def __repr__(self) -> str:  # Ray's schedulers log trials by their id, as `Trial` prints
        return self.trial_id

    @property
    def evaluated_params(self) -> dict:
        return self.config

    def is_finished(self) -> bool:
        return self.status in (TERMINATED, ERROR)

    def set_config(self, config: dict) -> None:
        self.config = config

    def set_experiment_tag(self, tag: str) -> None:
        self.experiment_tag = tag


class Controller:
    """The calls a Ray scheduler makes back, with Ray's semantics; subclasses say what a
    running trial's completion, a pause and a save mean for them."""

    def __init__(self, scheduler: TrialScheduler, searcher: Any = None):
        self.scheduler, self.search_alg = scheduler, searcher
        self.trials: list = []

    def get_trials(self) -> list:
        return list(self.trials)

    def get_live_trials(self) -> list:
        return [t for t in self.trials if not t.is_finished()]

    def _set_trial_status(self, trial: Any, status: str) -> None:
        trial.status = status

    def stop_trial(self, trial: Any) -> None:
        """PENDING/PAUSED → ``on_trial_remove`` + result-less completion; RUNNING → completed
        with its last result (``complete_running``)."""
        if trial.is_finished():
            return
        if trial.status in (PENDING, PAUSED):
            self.scheduler.on_trial_remove(self, trial)
            if self.search_alg is not None:
                self.search_alg.on_trial_complete(trial.trial_id)
            self.ended(trial)
        else:
            self.complete_running(trial)

    def complete_running(self, trial: Any) -> None:
        result = dict(trial.last_result or {})
        self.scheduler.on_trial_complete(self, trial, result)
        if self.search_alg is not None:
            self.search_alg.on_trial_complete(trial.trial_id, result=result)
        self.ended(trial)

    def ended(self, trial: Any) -> None:
        """A trial stopped for good (the simulator also forgets it)."""
        self._set_trial_status(trial, TERMINATED)

    def pause_trial(self, trial: Any, should_checkpoint: bool = True) -> None:
        if should_checkpoint:
            self._schedule_trial_save(trial, result=trial.last_result)
        self._set_trial_status(trial, PAUSED)

    def _schedule_trial_save(self, trial: Any, result: dict | None = None) -> Any:
        return None


def make_trial(trial_id: str, config: dict | None = None) -> Trial:
    """A Ray ``Trial`` that never starts an actor."""
    return Trial("__stub", config=dict(config or {}), trial_id=trial_id, stub=True)


class StubController(Controller):
    """Holds Ray ``Trial(..., stub=True)`` objects (PBT writes into ``trial.run_metadata``) and
    applies a scheduler's decisions; no Ray runtime involved, no searcher. A "checkpoint" is a
    ``ray.tune.Checkpoint`` whose path names the trial and epoch it was taken from, so a test
    can see which state a trial resumed from."""

    def __init__(self, scheduler: TrialScheduler):
        super().__init__(scheduler)
        self.saved: dict[str, Checkpoint] = {}  # trial id -> last checkpoint taken

    def _set_trial_status(self, trial: Trial, status: str) -> None:
        trial.set_status(status)

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
