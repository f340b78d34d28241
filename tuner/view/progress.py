"""Terminal progress for ``tuner launch``: a live status line on a terminal, plain lines in logs.

On a TTY one line is redrawn in place (``\\r`` and erase-to-end-of-line, as pip and tqdm do):
trials done (completed / stopped early / errored), how many run and how far the furthest got,
the best value so far, elapsed time and an ETA — updated on every trial start and result, so a
user sees movement long before the first trial ends. Each finished trial still leaves one
permanent line above it. When stdout is not a TTY (CI logs, ``| tee``) it prints only the plain
lines, one per finished trial and per retry, plus a status line every ``heartbeat_s`` seconds
while nothing else was printed, so a long first trial does not look like a hang. ``quiet=True``
prints errored trials and retries only (the Python API and ``--quiet``).

The counting (``Progress``) is plain Python, testable without Ray; ``ProgressCallback`` is the
thin ``ray.tune.Callback`` around it. Its own module because it subclasses a Ray class: the
runner imports it only after it has set the environment Ray reads at import time (see
``runner.local_only_env``). The callback is pickled into Ray's ``tuner.pkl`` and unpickled by
``--resume``, so it holds no stream: it looks up ``sys.stdout`` when it writes.
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from ray import tune

from tuner.record.results import COMPLETED, ERRORED, STOPPED, status_of

__all__ = ["Progress", "ProgressCallback", "duration"]


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``: short enough for one terminal line."""
    s = round(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Progress:
    """Counts of a run, fed by narrow events (start, result, end); formats the status line."""

    def __init__(self, total: int, metric: str, max_epochs: int, mode: str = "max"):
        self.total, self.metric, self.max_epochs, self.mode = total, metric, max_epochs, mode
        self.ended = {COMPLETED: 0, STOPPED: 0, ERRORED: 0}
        self.epochs: dict[str, int] = {}  # running trial → epochs it reported
        self.best: tuple[float, str, int] | None = None  # value, trial, epoch
        self.first_start: float | None = None  # elapsed seconds when the first trial started

    @property
    def done(self) -> int:
        return sum(self.ended.values())

    def start(self, trial_id: str, elapsed: float = 0.0) -> None:
        self.epochs.setdefault(trial_id, 0)
        if self.first_start is None:
            self.first_start = elapsed

    def result(self, trial_id: str, epoch: int, value: Any) -> None:
        self.epochs[trial_id] = epoch
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value):
            better = self.best is None or (value > self.best[0] if self.mode == "max"
                                           else value < self.best[0])
            if better:
                self.best = (float(value), trial_id, epoch)

    def end(self, trial_id: str, status: str) -> None:
        """``status`` as ``tuner.record.results.status_of`` gives it."""
        self.epochs.pop(trial_id, None)
        kind = ERRORED if status.startswith(ERRORED) else status
        self.ended[kind if kind in self.ended else STOPPED] += 1

    def eta(self, elapsed: float) -> float | None:
        """Seconds left at the rate trials have ended since the first one started (None before
        the first ends); Ray's start and the first workers' start-up are not part of the rate.

        A rate, not a model: an ASHA run ends most trials early and a few late, so the estimate
        is rough at first and firms up as trials end."""
        if not self.done:
            return None
        span = elapsed - (self.first_start or 0.0)
        return max(0.0, span / self.done * (self.total - self.done))

    def status_line(self, elapsed: float, width: int | None = None) -> str:
        """Counts | running | time | best; parts that do not fit ``width`` are left out, the
        least needed first (best, then running), so the line never wraps on a terminal."""
        parts = self._parts(elapsed)  # (priority, text) in display order; 0 = keep longest
        for drop in (3, 2, 1):
            if width is None or len(" | ".join(t for _, t in parts)) < width:
                break
            parts = [(p, t) for p, t in parts if p < drop]
        line = " | ".join(t for _, t in parts)
        if width is not None and len(line) >= width:
            line = line[:max(1, width - 2)] + "…"
        return line

    def _parts(self, elapsed: float) -> list[tuple[int, str]]:
        counts = f"{self.done}/{self.total} done"
        if self.done:
            counts += (f" ({self.ended[COMPLETED]} completed, {self.ended[STOPPED]} stopped "
                       f"early, {self.ended[ERRORED]} errored)")
        parts = [(0, counts)]
        if self.epochs:
            furthest = max(self.epochs.values())
            running = f"{len(self.epochs)} running, furthest at epoch {furthest} of "
            parts.append((2, running + f"{self.max_epochs}"))
        eta = self.eta(elapsed)
        time_part = duration(elapsed)
        if eta is not None and self.done < self.total:
            time_part += f", ETA ~{duration(eta)}"
        parts.append((1, time_part))
        if self.best is not None:
            # the best value any trial reported at any epoch — not yet the winner, which is
            # picked among the trials that trained longest (results.pick_best)
            value, trial_id, epoch = self.best
            best = f"best epoch so far: {self.metric} {value:.4f} ({trial_id}, epoch {epoch})"
            parts.append((3, best))
        return parts


class ProgressCallback(tune.Callback):
    """A live status line on a terminal, one line per finished trial (and retry) otherwise.

    ``live``: None detects a terminal (``sys.stdout.isatty()``, and only when ``write`` is the
    default ``print``: a caller's own ``write`` gets the plain lines); ``quiet`` prints errors
    only. ``stream`` is for tests (default: ``sys.stdout`` at the time of writing).
    """

    def __init__(self, total: int, metric: str, max_epochs: int,
                 write: Callable[[str], None] = print, *, quiet: bool = False,
                 live: bool | None = None, mode: str = "max", stream: TextIO | None = None,
                 redraw_s: float = 0.2, heartbeat_s: float = 60.0, width: int | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.total, self.metric, self.max_epochs, self.write = total, metric, max_epochs, write
        self.quiet, self.live, self.stream = quiet, live, stream
        self.redraw_s, self.heartbeat_s, self.clock = redraw_s, heartbeat_s, clock
        self.width = width  # None: the terminal's, looked up at each drawing
        self.progress = Progress(total, metric, max_epochs, mode)
        self.retries: dict[str, int] = {}
        self.started = clock()
        self._drawn = 0.0      # when the live line was last drawn
        self._printed = self.started  # when a plain line was last printed
        self._showing = False  # a live line is on screen
        self._counted_restored = True  # setup() arms the count of restored trials

    # output -----------------------------------------------------------------------------------
    def _out(self) -> TextIO:
        return self.stream or sys.stdout

    def _is_live(self) -> bool:
        if self.quiet:
            return False
        if self.live is not None:
            return self.live
        isatty = getattr(self._out(), "isatty", None)
        return self.write is print and bool(isatty and isatty())

    def _elapsed(self) -> float:
        return self.clock() - self.started

    def _print(self, line: str, *, error: bool = False) -> None:
        """A permanent line; on a terminal it goes above the live line, which is redrawn."""
        if self.quiet and not error:
            return
        if self._is_live():
            out = self._out()
            out.write("\r\x1b[K" + line + "\n")
            out.flush()
            self._draw(force=True)
        else:
            self.write(line)
        self._printed = self.clock()

    def _draw(self, force: bool = False) -> None:
        if not self._is_live():
            return
        now = self.clock()
        if not force and now - self._drawn < self.redraw_s:
            return
        out = self._out()
        out.write("\r\x1b[K" + self._status(now - self.started))
        out.flush()
        self._drawn, self._showing = now, True

    def _status(self, elapsed: float) -> str:
        """The status line at the terminal's width: a wrapped line cannot be redrawn with
        ``\\r``."""
        return self.progress.status_line(elapsed, self.width or shutil.get_terminal_size().columns)

    def _heartbeat(self) -> None:
        """Plain mode: a status line when nothing was printed for ``heartbeat_s``."""
        if self.quiet or self._is_live() or not self.heartbeat_s:
            return
        if self.clock() - self._printed >= self.heartbeat_s:
            self.write("       " + self.progress.status_line(self._elapsed()))
            self._printed = self.clock()

    def _line(self, trial, what: str) -> None:
        last = trial.last_result or {}
        value = last.get(self.metric)
        val = f"{self.metric}={value:.4f}" if isinstance(value, float) else ""
        self._print(f"[{self.progress.done:>3}/{self.total}] {self._elapsed():6.1f}s  "
                    f"{trial.trial_id}  {what:<26} {val}", error=what.startswith(ERRORED))

    # Ray's hooks -------------------------------------------------------------------------------
    def setup(self, stop=None, num_samples=None, total_num_samples=None, **info):
        self.started = self._printed = self.clock()  # also after --resume unpickles us
        self._counted_restored = False

    def on_step_begin(self, iteration, trials, **info):
        """Once: count the trials a resumed run restored as already ended."""
        if self._counted_restored:
            return
        self._counted_restored = True
        for trial in trials:
            if trial.status in ("TERMINATED", "ERROR") and trial.trial_id not in \
                    self.progress.epochs:
                self.progress.end(trial.trial_id, self._outcome(trial)[0])

    def _outcome(self, trial) -> tuple[str, int]:
        last = trial.last_result or {}
        epochs = int(last.get("training_iteration", 0) or 0)
        error = str(last.get("error") or "") or ("exception" if trial.status == "ERROR" else "")
        return status_of(epochs, self.max_epochs, error), epochs

    def on_trial_start(self, iteration, trials, trial, **info):
        self.progress.start(trial.trial_id, self._elapsed())
        self._draw(force=True)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        epoch = int(result.get("training_iteration", 0) or 0)
        self.progress.result(trial.trial_id, epoch, result.get(self.metric))
        self._draw()
        self._heartbeat()

    def on_step_end(self, iteration, trials, **info):
        self._heartbeat()

    def on_trial_complete(self, iteration, trials, trial, **info):
        status, epochs = self._outcome(trial)
        self.progress.end(trial.trial_id, status)
        if status == COMPLETED:
            what = f"completed ({epochs} epochs)"
        elif status == STOPPED:
            what = f"stopped early at epoch {epochs}"
        else:
            what = status
        self._line(trial, what)

    def on_trial_error(self, iteration, trials, trial, **info):
        self.progress.end(trial.trial_id, f"{ERRORED}: exception")
        self._line(trial, f"{ERRORED}: exception")

    def on_trial_recover(self, iteration, trials, trial, **info):
        self.retries[trial.trial_id] = self.retries.get(trial.trial_id, 0) + 1
        self._print(f"       retrying {trial.trial_id} from its last checkpoint "
                    f"(retry {self.retries[trial.trial_id]})", error=True)

    def on_experiment_end(self, trials, **info):
        if self._showing and self._is_live():
            out = self._out()  # leave the final counts on screen, then a fresh line
            out.write("\r\x1b[K" + self._status(self._elapsed()) + "\n")
            out.flush()
            self._showing = False
