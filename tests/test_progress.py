"""Progress output on a terminal (live line) and in logs (plain lines), and quiet mode.

The callback is driven with small fake trials and a fake clock (no ``ray.init``); the terminal
is a ``StringIO`` that says it is a TTY.
"""

from __future__ import annotations

import io
import pickle
from types import SimpleNamespace

from tuner.view.progress import Progress, ProgressCallback, duration


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


class Log(io.StringIO):
    def isatty(self):
        return False


def trial(trial_id, epochs=0, value=None, error=None):
    last = {"training_iteration": epochs}
    if value is not None:
        last["val_accuracy"] = value
    if error:
        last["error"] = error
    return SimpleNamespace(trial_id=trial_id, last_result=last, status="RUNNING", config={})


def report(cb, t, epoch, value):
    t.last_result = {"training_iteration": epoch, "val_accuracy": value}
    cb.on_trial_result(0, [], t, t.last_result)


def screen(text):
    """What a terminal shows: each \\r-redrawn line keeps only its last drawing."""
    lines = []
    for raw in text.split("\n"):
        lines.append(raw.split("\r")[-1].replace("\x1b[K", ""))
    return lines


def test_duration():
    assert [duration(s) for s in (4.4, 65, 3725)] == ["4s", "1m05s", "1h02m"]


def test_progress_counts_and_eta():
    p = Progress(total=10, metric="val_accuracy", max_epochs=9, mode="max")
    p.start("a"), p.start("b")
    p.result("a", 1, 0.5), p.result("b", 3, 0.7), p.result("a", 2, float("nan"))
    assert p.best == (0.7, "b", 3)
    assert p.eta(10.0) is None  # no trial ended yet: no rate
    line = p.status_line(10.0)
    assert "0/10 done" in line and "2 running, furthest at epoch 3 of 9" in line
    assert "best epoch so far: val_accuracy 0.7000 (b, epoch 3)" in line
    assert line.startswith("0/10 done | ") and "ETA" not in line
    p.end("a", "stopped early")
    p.end("b", "errored: RuntimeError: x")
    assert p.ended == {"completed": 0, "stopped early": 1, "errored": 1}
    assert p.eta(20.0) == 80.0  # 10 s per trial ended, 8 to go
    assert "2/10 done (0 completed, 1 stopped early, 1 errored)" in p.status_line(20.0)
    assert "running" not in p.status_line(20.0)


def test_eta_leaves_out_the_time_before_the_first_trial_started():
    p = Progress(total=4, metric="m", max_epochs=3)
    p.start("a", elapsed=40.0)  # Ray and its workers took 40 s to start
    p.end("a", "completed")
    assert p.eta(50.0) == 30.0  # 10 s per trial since the first start, 3 to go


def test_min_mode_keeps_the_lowest():
    p = Progress(total=2, metric="val_loss", max_epochs=3, mode="min")
    p.start("a")
    p.result("a", 1, 0.9), p.result("a", 2, 0.4), p.result("a", 3, 0.6)
    assert p.best == (0.4, "a", 2)


def test_tty_shows_a_live_line_before_any_trial_ends():
    term, clock = Terminal(), Clock()
    cb = ProgressCallback(4, "val_accuracy", 9, stream=term, clock=clock, width=300, mode="max")
    a, b = trial("a"), trial("b")
    cb.on_trial_start(0, [], a)
    cb.on_trial_start(0, [], b)
    clock.now += 5
    report(cb, a, 4, 0.81)
    shown = screen(term.getvalue())
    assert len(shown) == 1  # one line, redrawn in place
    assert shown[0].startswith("0/4 done")
    assert "2 running, furthest at epoch 4 of 9" in shown[0]
    assert "best epoch so far: val_accuracy 0.8100 (a, epoch 4)" in shown[0] and "5s" in shown[0]


def test_tty_redraws_at_most_every_redraw_s():
    term, clock = Terminal(), Clock()
    cb = ProgressCallback(4, "val_accuracy", 9, stream=term, clock=clock, width=300, redraw_s=1.0)
    a = trial("a")
    cb.on_trial_start(0, [], a)
    drawn = term.getvalue().count("\r\x1b[K")
    for epoch in range(1, 6):
        clock.now += 0.1
        report(cb, a, epoch, 0.5)
    assert term.getvalue().count("\r\x1b[K") == drawn  # 0.5 s passed: no redraw yet
    clock.now += 1
    report(cb, a, 6, 0.5)
    assert term.getvalue().count("\r\x1b[K") == drawn + 1


def test_tty_keeps_finished_trials_above_the_live_line():
    term, clock = Terminal(), Clock()
    cb = ProgressCallback(2, "val_accuracy", 3, stream=term, clock=clock, width=300)
    a, b = trial("a"), trial("b")
    cb.on_trial_start(0, [], a)
    cb.on_trial_start(0, [], b)
    report(cb, a, 3, 0.9)
    clock.now += 10
    cb.on_trial_complete(0, [], a)
    shown = screen(term.getvalue())
    assert "a  completed (3 epochs)" in shown[0] and "val_accuracy=0.9000" in shown[0]
    assert shown[1].startswith("1/2 done (1 completed") and "ETA ~10s" in shown[1]
    report(cb, b, 1, 0.4)
    cb.on_trial_complete(0, [], b)
    cb.on_experiment_end([a, b])
    shown = screen(term.getvalue())
    assert "b  stopped early at epoch 1" in shown[1]
    assert shown[2].startswith("2/2 done (1 completed, 1 stopped early, 0 errored) | 10s |")
    assert shown[3] == ""  # the terminal is left on a fresh line


def test_tty_line_fits_the_terminal_width():
    term, clock = Terminal(), Clock()
    cb = ProgressCallback(4, "val_accuracy", 9, stream=term, clock=clock, width=60,
                          redraw_s=0)
    a = trial("a")
    cb.on_trial_start(0, [], a)
    report(cb, a, 4, 0.81)
    drawings = term.getvalue().split("\r\x1b[K")[1:]
    assert drawings and all(len(d) < 60 for d in drawings)  # no wrap: \r redraws it whole
    # the best value goes first, the running trials next: counts and time stay
    assert drawings[-1] == "0/4 done | 1 running, furthest at epoch 4 of 9 | 0s"
    p = cb.progress
    assert p.status_line(0.0, width=30) == "0/4 done | 0s"
    assert p.status_line(0.0, width=6) == "0/4 …"
    assert "best epoch so far" in p.status_line(0.0)  # no width: everything


def test_not_a_tty_prints_plain_lines_only():
    log, clock = Log(), Clock()
    lines = []
    cb = ProgressCallback(3, "val_accuracy", 3, lines.append, stream=log, clock=clock)
    a, b, c = trial("a"), trial("b"), trial("c")
    for t in (a, b, c):
        cb.on_trial_start(0, [], t)
    report(cb, a, 3, 0.9)
    clock.now += 2
    cb.on_trial_complete(0, [], a)
    b.last_result = {"training_iteration": 2, "val_accuracy": float("nan"), "error": "non-finite loss"}
    cb.on_trial_complete(0, [], b)
    cb.on_trial_recover(0, [], c)
    cb.on_trial_error(0, [], c)
    cb.on_experiment_end([a, b, c])
    assert log.getvalue() == ""  # nothing drawn on the stream
    assert lines[0] == "[  1/3]    2.0s  a  completed (3 epochs)       val_accuracy=0.9000"
    assert "b  errored: non-finite loss" in lines[1]
    assert lines[2] == "       retrying c from its last checkpoint (retry 1)"
    assert "[  3/3]" in lines[3] and "c  errored: exception" in lines[3]
    assert len(lines) == 4 and not any("\r" in line for line in lines)


def test_print_is_live_only_on_a_terminal(monkeypatch, capsys):
    cb = ProgressCallback(1, "val_accuracy", 3)  # the runner's call: write=print
    monkeypatch.setattr("sys.stdout", Terminal())
    assert cb._is_live()
    monkeypatch.setattr("sys.stdout", Log())
    assert not cb._is_live()
    assert not ProgressCallback(1, "m", 3, lambda s: None, stream=Terminal())._is_live()
    assert not ProgressCallback(1, "m", 3, stream=Terminal(), live=False)._is_live()


def test_not_a_tty_heartbeat_before_the_first_trial_ends():
    clock, lines = Clock(), []
    cb = ProgressCallback(2, "val_accuracy", 27, lines.append, stream=Log(), clock=clock,
                          heartbeat_s=60)
    a = trial("a")
    cb.on_trial_start(0, [], a)
    clock.now += 30
    report(cb, a, 3, 0.7)
    assert lines == []
    clock.now += 31
    cb.on_step_end(0, [])
    assert len(lines) == 1 and "0/2 done" in lines[0] and "epoch 3 of 27" in lines[0]
    clock.now += 30
    cb.on_step_end(0, [])
    assert len(lines) == 1  # once per heartbeat_s


def test_quiet_prints_errors_only():
    term, lines = Terminal(), []
    cb = ProgressCallback(3, "val_accuracy", 3, lines.append, quiet=True, stream=term)
    a, b = trial("a"), trial("b")
    cb.on_trial_start(0, [], a)
    report(cb, a, 3, 0.9)
    cb.on_trial_complete(0, [], a)
    cb.on_trial_recover(0, [], b)
    cb.on_trial_error(0, [], b)
    cb.on_step_end(0, [])
    cb.on_experiment_end([a, b])
    assert term.getvalue() == ""
    assert len(lines) == 2 and "retrying b" in lines[0] and "b  errored" in lines[1]


def test_resume_counts_the_trials_that_ended_before():
    lines, clock = [], Clock()
    cb = ProgressCallback(3, "val_accuracy", 3, lines.append, stream=Log(), clock=clock)
    cb.setup()
    done = trial("done", epochs=3, value=0.9)
    done.status = "TERMINATED"
    crashed = trial("crashed", epochs=1, value=0.5)
    crashed.status = "ERROR"
    again = trial("again")
    cb.on_step_begin(0, [done, crashed, again])
    cb.on_step_begin(0, [done, crashed, again])  # once only
    assert cb.progress.ended == {"completed": 1, "stopped early": 0, "errored": 1}
    cb.on_trial_start(0, [], again)
    report(cb, again, 1, 0.4)
    cb.on_trial_complete(0, [], again)
    assert lines[-1].startswith("[  3/3]")


def test_old_positional_signature_and_pickling():
    cb = ProgressCallback(24, "val_accuracy", 27, print)
    cb.retries["x"] = 1
    clone = pickle.loads(pickle.dumps(cb))  # Ray keeps callbacks in tuner.pkl for --resume
    assert clone.total == 24 and clone.retries == {"x": 1} and clone.write is print
