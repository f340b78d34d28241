"""When trials checkpoint (every N epochs, at most once per interval of training), and
TensorBoard files that are complete although not flushed after every result."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tuner.launch.checkpointing import CheckpointPolicy, TensorBoardCallback
from tuner.experiment.config import parse_experiment
from tuner.schedulers.controller import make_trial


def _asks(policy: CheckpointPolicy, trial, epoch: int, trained_s: float) -> bool:
    result = {"training_iteration": epoch, "time_total_s": trained_s, "loss": 1.0}
    policy.on_trial_result(iteration=0, trials=[trial], trial=trial, result=result)
    if result.get("should_checkpoint"):  # Ray saves; the trial's last result is this one
        trial.update_last_result(result)
        policy.on_checkpoint(iteration=0, trials=[trial], trial=trial, checkpoint=None)
    return bool(result.get("should_checkpoint"))


def test_short_epochs_checkpoint_once_per_interval():
    policy, trial = CheckpointPolicy(every=1, interval_s=10.0), make_trial("t1")
    # epochs of 3 s: saves after 12 s, 24 s, ... of training, never sooner than 10 s apart
    asked = [_asks(policy, trial, e, 3.0 * e) for e in range(1, 11)]
    assert asked == [False, False, False, True, False, False, False, True, False, False]


def test_long_epochs_checkpoint_every_epoch():
    policy, trial = CheckpointPolicy(every=1, interval_s=10.0), make_trial("t1")
    assert [_asks(policy, trial, e, 30.0 * e) for e in range(1, 5)] == [True] * 4


def test_every_n_epochs_and_zero_interval_is_every_n_epochs():
    policy, trial = CheckpointPolicy(every=3, interval_s=0.0), make_trial("t1")
    assert [e for e in range(1, 10) if _asks(policy, trial, e, 0.01 * e)] == [3, 6, 9]
    never = CheckpointPolicy(every=0, interval_s=0.0)
    assert not any(_asks(never, make_trial("t2"), e, 100.0 * e) for e in range(1, 5))


def test_any_save_restarts_the_interval_and_trials_are_separate():
    policy, a, b = CheckpointPolicy(every=1, interval_s=10.0), make_trial("a"), make_trial("b")
    a.update_last_result({"training_iteration": 3, "time_total_s": 9.0})
    policy.on_checkpoint(iteration=0, trials=[a], trial=a, checkpoint=None)  # e.g. a pause
    assert not _asks(policy, a, 4, 12.0)  # 3 s after that save
    assert _asks(policy, b, 4, 12.0)  # b never saved
    assert _asks(policy, a, 5, 19.5)


def _tags(path: Path) -> list[tuple[int, str, float]]:
    from tensorboardX.proto import event_pb2

    data, i, out = path.read_bytes(), 0, []
    while i < len(data):
        (n,) = struct.unpack("Q", data[i:i + 8])
        event = event_pb2.Event()
        event.ParseFromString(data[i + 12:i + 12 + n])
        i += 12 + n + 4
        out += [(event.step, v.tag, v.simple_value) for v in event.summary.value]
    return out


class _Trial:
    """What Ray's TensorBoard logger reads of a trial."""

    def __init__(self, path: Path):
        self.local_path, self.evaluated_params = str(path), {"lr": 0.1}

    def init_local_path(self) -> None:
        pass


def test_tensorboard_events_are_complete_when_the_trial_ends(tmp_path):
    callback, trial = TensorBoardCallback(flush_secs=60), _Trial(tmp_path)
    callback.log_trial_start(trial)
    for epoch in range(1, 6):
        callback.log_trial_result(0, trial, {"training_iteration": epoch, "loss": 1.0 / epoch})
    callback.log_trial_end(trial)
    events = [e for f in tmp_path.glob("events.out.tfevents.*") for e in _tags(f)]
    losses = sorted((step, value) for step, tag, value in events if tag == "ray/tune/loss")
    assert losses == [(e, pytest.approx(1.0 / e)) for e in range(1, 6)]


def test_tensorboard_writes_without_a_thread_per_trial(tmp_path):
    """tensorboardX's own writer starts a queue feeder and a writer thread per trial."""
    import threading

    callback = TensorBoardCallback(flush_secs=60)
    before = threading.active_count()
    trials = [_Trial(tmp_path / f"t{i}") for i in range(3)]
    for i, trial in enumerate(trials):
        (tmp_path / f"t{i}").mkdir()
        callback.log_trial_start(trial)
        callback.log_trial_result(0, trial, {"training_iteration": 1, "loss": 1.0})
    assert threading.active_count() == before
    for trial in trials:
        callback.log_trial_end(trial)


def test_tensorboard_shows_a_quiet_trial_flush_secs_late(tmp_path, monkeypatch):
    """The first result is in the file at once, later ones within ``flush_secs`` — also when
    no further result comes (the driver's loop step flushes), and all of them at the end."""
    from tuner.launch import checkpointing

    callback, trial = TensorBoardCallback(flush_secs=60), _Trial(tmp_path)
    callback.log_trial_start(trial)

    def steps() -> list[int]:
        return sorted(step for f in tmp_path.glob("events.out.tfevents.*")
                      for step, tag, _ in _tags(f) if tag == "ray/tune/loss")

    for epoch in (1, 2, 3):
        callback.log_trial_result(0, trial, {"training_iteration": epoch, "loss": 1.0 / epoch})
    callback.on_step_end(iteration=0, trials=[])
    assert steps() == [1]  # 2 and 3 wait for the next flush, at most flush_secs
    now = checkpointing.time.monotonic()
    monkeypatch.setattr(checkpointing.time, "monotonic", lambda: now + 61)
    callback.on_step_end(iteration=1, trials=[])
    assert steps() == [1, 2, 3]
    callback.log_trial_result(0, trial, {"training_iteration": 4, "loss": 0.25})
    callback.log_trial_end(trial)
    assert steps() == [1, 2, 3, 4]


def test_tensorboard_writes_running_trials_when_the_experiment_ends(tmp_path):
    """Ctrl-C: Ray ends the experiment without ending the trials' loggers."""
    callback, trial = TensorBoardCallback(flush_secs=60), _Trial(tmp_path)
    callback.log_trial_start(trial)
    for epoch in (1, 2, 3):
        callback.log_trial_result(0, trial, {"training_iteration": epoch, "loss": 1.0 / epoch})
    callback.on_experiment_end(trials=[])
    steps = sorted(step for f in tmp_path.glob("events.out.tfevents.*")
                   for step, tag, _ in _tags(f) if tag == "ray/tune/loss")
    assert steps == [1, 2, 3]


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.parametrize("interval, saves", [(10.0, 1), (0.0, 3)])
def test_trials_save_each_epoch_only_when_asked(ray_session, tmp_path, interval, saves):
    """Millisecond epochs: with the default interval only the end-of-trial checkpoint is
    taken; with 0 every epoch saves (Ray numbers checkpoints in order, keeps the last 2)."""
    from tuner.launch.runner import run

    exp = parse_experiment({
        "name": "ckpt", "trainable": "benchmarks.trivial:Trivial",
        "space": {"x": {"type": "float", "low": -5, "high": 5}, "y": 0.0},
        "searcher": "random", "scheduler": "fifo", "budget": {"min": 1, "max": 3, "eta": 3},
        "metric": "loss", "mode": "min", "num_samples": 2, "seed": 0,
        "checkpoint_interval_s": interval, "storage": str(tmp_path)})
    outcome = run(exp, write=lambda line: None)
    assert [r.epochs for r in outcome.records] == [3, 3]
    for record in outcome.records:
        trial_dir = Path(record.checkpoint).parent
        indices = sorted(int(p.name.rsplit("_", 1)[1]) for p in trial_dir.glob("checkpoint_*"))
        assert indices[-1] == saves - 1, indices
        assert list(trial_dir.glob("events.out.tfevents.*"))
    assert "test_loss" in outcome.test  # the winner's end checkpoint is scored
