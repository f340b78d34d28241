"""The Ray Tune callback that feeds ``tuner.view.mirror.StudyMirror`` from the driver.

Its own module because it subclasses ``ray.tune.Callback`` (the runner imports it only after it
has set the environment Ray reads at import time); the mapping itself lives in
``tuner.view.mirror`` and is tested without Ray.

It must never slow or break the run: callbacks run in Ray's driver loop, and an exception there
ends the experiment. So the mirror is opened on the first event (Ray creates the experiment folder
at ``fit()``), writes reach the file about once a second and at the end (``flush_s``,
``max_pending``). A flush the folder refuses before writing anything (read-only or full for a
moment) keeps every pending log for the next flush, with one warning line; any other failure —
a corrupt file, a write cut part-way — prints one warning line and switches the mirror off for
the rest of the run. ``tuner.pkl`` pickles this
callback with the run config, and ``Tuner.restore`` (``tuner launch --resume``) unpickles it:
the open file is not part of the pickled state, and the resumed run reopens and appends to the
same study.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from ray import tune
from ray.tune.result import TRAINING_ITERATION

from tuner.view.mirror import StorageAway, StudyMirror, distributions, journal_path
from tuner.record.results import error_text, status_of

__all__ = ["MirrorCallback"]

_ENDED = ("TERMINATED", "ERROR")  # Ray's final Trial.status values


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class MirrorCallback(tune.Callback):
    """Mirror every trial of a run into ``<experiment>/optuna.journal`` (see ``tuner.view.mirror``)."""

    _away = False  # a flush found the folder unwritable: warned once until a flush succeeds

    def __init__(self, path: str, *, study_name: str, metric: str | list[str],
                 mode: str | list[str], space: Any,
                 max_epochs: int, rungs: list[int] | tuple[int, ...] = (),
                 attrs: dict | None = None, flush_s: float = 1.0, max_pending: int = 500,
                 warn: Callable[[str], None] | None = None):
        self.path, self.study_name, self.metric, self.mode = path, study_name, metric, mode
        self.dists = distributions(space)
        self.max_epochs, self.rungs, self.attrs = max_epochs, list(rungs), dict(attrs or {})
        self.flush_s, self.max_pending, self.warn = flush_s, max_pending, warn
        self._mirror: StudyMirror | None = None
        self._off = "://" in path  # optuna-dashboard reads a local file
        self._flushed = 0.0
        self._active: set[str] = set()  # trials this process saw run (not pickled)

    @classmethod
    def for_experiment(cls, exp: Any, **kwargs: Any) -> MirrorCallback:
        from tuner.experiment.user_code import describe_trainable

        attrs = {"metric": exp.search_metric, "mode": exp.search_mode,
                 "trainable": describe_trainable(exp.trainable),
                 "searcher": exp.searcher, "scheduler": exp.scheduler}
        return cls(exp.path, study_name=exp.name, metric=exp.search_metric,
                   mode=exp.search_mode,
                   space=exp.space, max_epochs=exp.budget.max,
                   rungs=exp.budget.rung_resources(), attrs=attrs, **kwargs)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_mirror"] = None  # reopened by the resumed run
        state["_active"] = set()
        state["_off"] = "://" in self.path
        return state

    # plumbing ---------------------------------------------------------------------------------
    def _open(self, trial: Any = None) -> StudyMirror | None:
        if self._mirror is None and not self._off:
            where = getattr(trial, "remote_experiment_path", None)
            if isinstance(where, str) and os.path.isdir(where):
                self.path = where  # the folder --resume found, should it have moved
            os.makedirs(self.path, exist_ok=True)
            self._mirror = StudyMirror(journal_path(self.path), study_name=self.study_name,
                                       metric=self.metric, mode=self.mode, dists=self.dists,
                                       rungs=self.rungs, attrs=self.attrs)
            self._flushed = time.monotonic()
        return self._mirror

    def _safe(self, action: Callable[[StudyMirror], None], trial: Any = None) -> None:
        """Run ``action`` on the mirror; the first failure turns the mirror off, with one line."""
        if self._off:
            return
        try:
            mirror = self._open(trial)
            if mirror is not None:
                action(mirror)
        except StorageAway as exc:  # nothing written, all kept: the next flush tries again
            if not self._away:
                self._away = True
                (self.warn or _stderr)(
                    f"tuner: warning: cannot write {exc.filename} for now ({exc.strerror}); "
                    f"{self._mirror.pending if self._mirror else 0} result(s) wait in memory "
                    "and go in once the folder takes writes again")
            return
        except Exception as exc:  # noqa: BLE001 — nothing may reach Ray's loop from here
            self._off, self._mirror = True, None
            (self.warn or _stderr)(
                f"tuner: warning: dashboard mirror off ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:160] if str(exc) else ''}); "
                f"the run goes on without {journal_path(self.path)}")

    def _flush(self, force: bool = False) -> None:
        mirror = self._mirror
        if mirror is None or self._off:
            return
        due = time.monotonic() - self._flushed >= self.flush_s
        if force or due or mirror.pending >= self.max_pending:
            self._safe(lambda m: m.flush())
            self._flushed = time.monotonic()
            self._away = self._away and mirror.pending > 0

    def _status(self, trial: Any) -> tuple[str, int]:
        last = trial.last_result or {}
        epochs = int(last.get(TRAINING_ITERATION, 0) or 0)
        error = str(last.get("error") or "")
        if trial.status == "ERROR" and not error:
            error = error_text(trial)
        return status_of(epochs, self.max_epochs, error), epochs

    # Ray's hooks -------------------------------------------------------------------------------
    def on_trial_start(self, iteration, trials, trial, **info):
        self._active.add(trial.trial_id)
        self._safe(lambda m: m.started(trial.trial_id, trial.config), trial)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self._active.add(trial.trial_id)
        epoch = int(result.get(TRAINING_ITERATION, 0) or 0)
        first = self.metric if isinstance(self.metric, str) else self.metric[0]
        self._safe(lambda m: m.result(trial.trial_id, epoch, result.get(first),
                                      str(result.get("hostname", ""))), trial)
        self._flush()

    def on_trial_recover(self, iteration, trials, trial, **info):
        self._safe(lambda m: m.retried(trial.trial_id), trial)

    def on_trial_complete(self, iteration, trials, trial, **info):
        status, epochs = self._status(trial)
        self._safe(lambda m: m.ended(trial.trial_id, status, epochs, trial.last_result),
                   trial)

    def on_trial_error(self, iteration, trials, trial, **info):
        error = str((trial.last_result or {}).get("error") or "") or error_text(trial)
        epochs = int((trial.last_result or {}).get(TRAINING_ITERATION, 0) or 0)
        self._safe(lambda m: m.ended(trial.trial_id, status_of(epochs, self.max_epochs, error),
                                     epochs), trial)

    def on_step_end(self, iteration, trials, **info):
        self._flush()

    def on_experiment_end(self, trials, **info):
        self._safe(lambda m: self._reconcile(m, trials))
        self._flush(force=True)

    def _reconcile(self, mirror: StudyMirror, trials: list) -> None:
        """Make the study agree with Ray's final view: a trial that ended while no driver
        listened (before ``--resume``) gets its state; one Ray no longer knows is marked failed.

        A trial that ran in this process without an end event keeps running: on Ctrl-C Ray
        marks live trials TERMINATED when it cleans up (``TuneController._schedule_trial_stop``)
        after saving them as RUNNING, and ``--resume`` continues them."""
        known, running = {t.trial_id for t in trials}, set(mirror.running)
        for trial in trials:
            ended_unseen = trial.trial_id in running and trial.trial_id not in self._active
            if trial.status in _ENDED and ended_unseen:
                status, epochs = self._status(trial)
                mirror.ended(trial.trial_id, status, epochs, trial.last_result)
        for ray_id in mirror.running:
            if ray_id not in known:
                mirror.ended(ray_id, "errored: not in Ray's experiment state after --resume")
