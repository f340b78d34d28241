"""Ray Tune's trial events → the trackers, live, from the driver.

Its own module because it subclasses ``ray.tune.Callback`` (the runner imports it only after
it has set the environment Ray reads at import time). ``tuner.pkl`` pickles it with the run
config and ``Tuner.restore`` unpickles it for ``--resume``: the live clients are not pickled,
and the resumed callback reopens the parent and children named in ``tracking.json``.
"""

from __future__ import annotations

from typing import Any

from ray import tune
from ray.tune.result import TRAINING_ITERATION

from tuner.record.results import error_text, status_of
from tuner.record.tracking.base import TrackingSpec, metrics_of
from tuner.record.tracking.trackers import Trackers

__all__ = ["TrackingCallback"]

_ENDED = ("TERMINATED", "ERROR")  # Ray's final Trial.status values


class TrackingCallback(tune.Callback):
    """Feed every trial's start, results and end to the experiment's trackers."""

    def __init__(self, spec: TrackingSpec):
        self.spec = spec
        self._trackers: Trackers | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_trackers": None}  # reopened from tracking.json

    def _live(self) -> Trackers:
        if self._trackers is None:
            self._trackers = Trackers.open(self.spec)
        return self._trackers

    def setup(self, stop=None, num_samples=None, total_num_samples=None, **info):
        self._live()  # the parent exists before the first trial starts

    def on_trial_start(self, iteration, trials, trial, **info):
        self._live().call("trial_started", trial.trial_id, dict(trial.config))

    def on_trial_result(self, iteration, trials, trial, result, **info):
        step = int(result.get(TRAINING_ITERATION, 0) or 0)
        self._live().call("trial_result", trial.trial_id, step, metrics_of(result),
                          dict(trial.config))

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._live().call("trial_ended", trial.trial_id, self._status(trial))

    def on_trial_error(self, iteration, trials, trial, **info):
        self._live().call("trial_ended", trial.trial_id, self._status(trial, error_text(trial)))

    def on_experiment_end(self, trials, **info):
        """After a normal end every trial has ended; after Ctrl-C the rest were cut short."""
        live = self._live()
        for trial in trials:
            if trial.status not in _ENDED:
                live.call("trial_ended", trial.trial_id, "interrupted")
        live.call("release")
        live.save()

    def _status(self, trial: Any, error: str = "") -> str:
        last = trial.last_result or {}
        epochs = int(last.get(TRAINING_ITERATION, 0) or 0)
        return status_of(epochs, self.spec.max_epochs, error or str(last.get("error") or ""))
