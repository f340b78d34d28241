"""When a trial saves a checkpoint, and how its TensorBoard events reach the disk.

Both are Ray Tune callbacks in their own module because they subclass Ray classes: the runner
imports it only after it has set the environment Ray reads at import time.

``CheckpointPolicy``: Ray's ``CheckpointConfig(checkpoint_frequency=N)`` saves every N
iterations whatever an iteration costs. With short epochs that doubles the actor round trips per
report (train, then save, then train), and with ``num_to_keep`` set every ``num_to_keep`` saves of
any trial force an experiment snapshot — per-epoch saves were the largest share of
``tuner launch``'s per-trial overhead (benchmarks/results/overhead). Instead this asks Ray for a
save (``should_checkpoint`` in the result, which Ray reads after the callbacks) every
``checkpoint_every`` epochs, skipping those that come sooner than ``checkpoint_interval_s``
seconds of the trial's own training (``time_total_s``) after its last checkpoint. A retry or
``--resume`` then redoes at most max(interval, one epoch) of a trial; long epochs still save
each time. End-of-trial and pause checkpoints are Ray's own and unchanged.

``TensorBoardCallback``: Ray's TensorBoard logger flushes the event file after every result,
and tensorboardX's flush is an ``fsync``. Here the writer's own thread flushes every
``flush_secs`` and closing the writer at the trial's end writes the rest, so TensorBoard shows a
running trial at most that late and a finished one completely — same files, same tags.
"""

from __future__ import annotations

from ray import tune
from ray.tune.logger import TBXLoggerCallback
from ray.tune.result import SHOULD_CHECKPOINT, TIME_TOTAL_S, TRAINING_ITERATION

__all__ = ["CheckpointPolicy", "TensorBoardCallback"]


class CheckpointPolicy(tune.Callback):
    """Checkpoint every ``every`` epochs, but at most once per ``interval_s`` of training."""

    def __init__(self, every: int, interval_s: float):
        self.every, self.interval_s = every, interval_s
        self._saved_at: dict[str, float] = {}  # trial id → its time_total_s at its last save

    def on_trial_result(self, iteration, trials, trial, result, **info):
        epoch = result.get(TRAINING_ITERATION, 0)
        if not self.every or not epoch or epoch % self.every:
            return
        trained = float(result.get(TIME_TOTAL_S, 0.0))
        if trained - self._saved_at.get(trial.trial_id, 0.0) >= self.interval_s:
            result[SHOULD_CHECKPOINT] = True

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
        # every save counts, whoever asked for it (this policy, the end of a trial, a pause)
        last = trial.last_result or {}
        self._saved_at[trial.trial_id] = float(last.get(TIME_TOTAL_S, 0.0))


class TensorBoardCallback(TBXLoggerCallback):
    """Ray's TensorBoard event files, flushed every ``flush_secs`` instead of every result."""

    def __init__(self, flush_secs: float = 5.0):
        super().__init__()
        self.flush_secs = flush_secs

    def log_trial_start(self, trial):
        if trial in self._trial_writer:
            self._trial_writer[trial].close()
        trial.init_local_path()
        writer = self._summary_writer_cls(trial.local_path, flush_secs=self.flush_secs)
        writer.flush = _later  # Ray flushes after each result; close() still writes the rest
        self._trial_writer[trial] = writer
        self._trial_result[trial] = {}


def _later() -> None:
    """The writer's own thread flushes every ``flush_secs``."""
