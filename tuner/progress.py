"""Terminal progress for ``tuner launch``: a Ray Tune callback printing one line per trial.

Its own module because it subclasses ``ray.tune.Callback``: the runner imports it only after
it has set the environment Ray reads at import time (see ``runner.local_only_env``).
"""

from __future__ import annotations

import time
from typing import Callable

from ray import tune

__all__ = ["ProgressCallback"]


class ProgressCallback(tune.Callback):
    """One line per finished trial (and per retry) instead of Ray's periodic tables."""

    def __init__(self, total: int, metric: str, max_epochs: int,
                 write: Callable[[str], None] = print):
        self.total, self.metric, self.max_epochs, self.write = total, metric, max_epochs, write
        self.done = 0
        self.retries: dict[str, int] = {}
        self.started = time.time()

    def _line(self, trial, what: str) -> None:
        self.done += 1
        last = trial.last_result or {}
        value = last.get(self.metric)
        val = f"{self.metric}={value:.4f}" if isinstance(value, float) else ""
        self.write(f"[{self.done:>3}/{self.total}] {time.time() - self.started:6.1f}s  "
                   f"{trial.trial_id}  {what:<26} {val}")

    def on_trial_complete(self, iteration, trials, trial, **info):
        last = trial.last_result or {}
        epochs = last.get("training_iteration", 0)
        if last.get("error"):
            what = f"errored: {last['error']}"
        elif epochs >= self.max_epochs:
            what = f"completed ({epochs} epochs)"
        else:
            what = f"stopped early at epoch {epochs}"
        self._line(trial, what)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._line(trial, "errored: exception")

    def on_trial_recover(self, iteration, trials, trial, **info):
        self.retries[trial.trial_id] = self.retries.get(trial.trial_id, 0) + 1
        self.write(f"       retrying {trial.trial_id} from its last checkpoint "
                   f"(retry {self.retries[trial.trial_id]})")
