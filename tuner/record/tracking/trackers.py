"""The configured trackers behind one guard: a tracker must never stop the run.

Callbacks run in Ray's driver loop, where an exception ends the experiment; a tracking server
that is down or a full disk must not cost the tuning. So the first exception a tracker raises
prints one warning line and switches that tracker off; the run and its own result files go on.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from tuner.record.tracking.base import TRACKING_FILE, Tracker, TrackingSpec, TrackingState

__all__ = ["Trackers"]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Trackers:
    """The configured trackers, each behind the guard: a failure warns once, then it is off."""

    def __init__(self, trackers: list[Tracker], warn: Callable[[str], None] | None = None):
        self.trackers, self.warn = list(trackers), warn or _stderr

    @classmethod
    def open(cls, spec: TrackingSpec, warn: Callable[[str], None] | None = None) -> Trackers:
        state = TrackingState(spec.path)
        built = cls([], warn)
        for backend in spec.backends:
            built.trackers.append(built._make(backend, spec, state))
        built.call("open")
        return built

    @staticmethod
    def _make(backend: str, spec: TrackingSpec, state: TrackingState) -> Tracker:
        if backend == "mlflow":
            from tuner.record.tracking.mlflow_tracker import MlflowTracker

            return MlflowTracker(spec, state)
        from tuner.record.tracking.wandb_tracker import WandbTracker

        return WandbTracker(spec, state)

    def call(self, hook: str, *args: Any) -> None:
        for tracker in list(self.trackers):
            try:
                getattr(tracker, hook)(*args)
            except Exception as exc:  # noqa: BLE001 — tracking must never stop the run
                self.trackers.remove(tracker)
                text = str(exc).splitlines()[0][:200] if str(exc) else ""
                self.warn(f"tuner: warning: {tracker.backend} tracking off ({hook}: "
                          f"{type(exc).__name__}: {text}); the run goes on without it")

    def __bool__(self) -> bool:
        return bool(self.trackers)

    def save(self) -> None:
        if self.trackers:
            try:
                self.trackers[0].store.save()
            except OSError as exc:
                self.warn(f"tuner: warning: cannot write {TRACKING_FILE} ({exc})")
