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
and tensorboardX's flush is an ``fsync``. Worse for short trials, each tensorboardX
``SummaryWriter`` sends every event through a ``multiprocessing.Queue`` (a pipe and a feeder
thread) to a writer thread of its own (tensorboardX/event_file_writer.py, ``EventFileWriter``),
all created per trial and joined when it ends: 6–7 ms of CPU and 12–34 ms of the driver's loop
per 10-result trial, more than all our other callbacks together (``python -m
benchmarks.callback_cost``; docs/benchmarks.md, "Framework overhead"). Here each trial's events
go straight from the driver's thread into a buffered file (``_EventFile``: the same
``events.out.tfevents.*`` records, same tags), handed to the operating system — where
TensorBoard reads them — at most every ``flush_secs`` (on the next result, or on the driver's
next loop step when the trial is quiet), when the trial ends and when the experiment ends (also
on Ctrl-C). No ``fsync``: a machine that crashes loses the last seconds of curves, as it does
of Ray's own ``result.json`` and ``progress.csv``.
"""

from __future__ import annotations

import os
import socket
import time

from ray import tune
from ray.tune.logger import TBXLoggerCallback
from ray.tune.result import SHOULD_CHECKPOINT, TIME_TOTAL_S, TRAINING_ITERATION
from tensorboardX import SummaryWriter
from tensorboardX.event_file_writer import directory_check
from tensorboardX.proto.event_pb2 import Event
from tensorboardX.record_writer import RecordWriter
from tensorboardX.writer import FileWriter

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
    """Ray's TensorBoard event files, written from the driver's thread and handed to the
    operating system at most every ``flush_secs`` instead of ``fsync``'ed after every result."""

    def __init__(self, flush_secs: float = 5.0):
        super().__init__()
        self.flush_secs = flush_secs

    def log_trial_start(self, trial):
        if trial in self._trial_writer:
            self._trial_writer[trial].close()
        trial.init_local_path()
        # the class itself, not Ray's ``_summary_writer_cls``: a tuner.pkl pickled before this
        # writer existed (``--resume``) would bring back tensorboardX's own
        writer = _DirectSummaryWriter(trial.local_path, flush_secs=self.flush_secs)
        writer.flush = _later  # Ray flushes after each result; close() still writes the rest
        self._trial_writer[trial] = writer
        self._trial_result[trial] = {}

    def on_step_end(self, iteration, trials, **info):
        """A quiet trial's last results reach the file ``flush_secs`` after they came, not
        only with its next result (tensorboardX's thread did this on its own clock)."""
        for writer in self._trial_writer.values():
            if writer.file_writer is not None:  # None once closed
                writer.file_writer.event_writer.flush_if_due()

    def on_experiment_end(self, trials, **info):
        """Ray ends an interrupted run without ending its trials' loggers: write what they
        hold (tensorboardX's own writer did so from an atexit hook)."""
        for writer in self._trial_writer.values():
            if writer.file_writer is not None:
                writer.file_writer.event_writer.flush()


def _later() -> None:
    """``_EventFile`` flushes every ``flush_secs``; ``close()`` writes the rest."""


class _EventFile:
    """One TensorBoard event file, written synchronously; what tensorboardX's ``EventsWriter``
    writes (a ``file_version`` record, then one framed ``Event`` record each), named as it names
    it, so Ray's ``events.out.tfevents.*`` patterns and TensorBoard find it."""

    def __init__(self, logdir: str, flush_secs: float, filename_suffix: str = ""):
        directory_check(logdir)
        self._logdir, self._flush_secs = logdir, flush_secs
        name = (f"events.out.tfevents.{str(time.time())[:10]}.{socket.gethostname()}"
                f"{filename_suffix}")
        self._records = _UnsyncedRecords(os.path.join(logdir, name))
        self._records.write(Event(wall_time=time.time(),
                                  file_version="brain.Event:2").SerializeToString())
        self._pending, self._due, self._closed = True, 0.0, False  # the first event: at once

    def get_logdir(self) -> str:
        return self._logdir

    def add_event(self, event: Event) -> None:
        if not self._closed:
            self._records.write(event.SerializeToString())
            self._pending = True
            self.flush_if_due()

    def flush_if_due(self) -> None:
        if self._pending and not self._closed and time.monotonic() >= self._due:
            self.flush()

    def flush(self) -> None:
        if not self._closed:
            self._records.flush()
            self._pending, self._due = False, time.monotonic() + self._flush_secs

    def close(self) -> None:
        if not self._closed:
            self._records.close()
            self._closed = True

    def reopen(self) -> None:  # tensorboardX's interface; a closed trial file stays closed
        pass


class _UnsyncedRecords(RecordWriter):
    """tensorboardX's record framing; ``flush`` hands the bytes to the OS without ``fsync``."""

    def flush(self) -> None:
        self._writer.flush()


class _DirectFileWriter(FileWriter):
    """tensorboardX's ``FileWriter`` over an ``_EventFile``: no queue, no thread, no atexit
    hook per trial (``FileWriter.__init__`` would create all three)."""

    def __init__(self, logdir: str, flush_secs: float, filename_suffix: str = ""):
        self.event_writer = _EventFile(str(logdir), flush_secs, filename_suffix)
        self._default_metadata = {}


class _DirectSummaryWriter(SummaryWriter):
    """tensorboardX's ``SummaryWriter`` (``add_scalar``, ``add_histogram``, … as Ray's logger
    calls them) writing through ``_DirectFileWriter``."""

    def _get_file_writer(self):
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = _DirectFileWriter(self.logdir, self._flush_secs,
                                                 self._filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
        return self.file_writer
