"""Mirror a run into an Optuna study file, so optuna-dashboard shows it while it trains.

Storage first, views for free: optuna-dashboard already draws history, intermediate values,
parallel coordinates, slices, importance, a timeline and a filterable trial table from any Optuna
storage (its ``_app.py`` is a small WSGI app polled by the page), so the run is written as one
Optuna study per experiment — one Optuna trial per Ray trial, with its parameters and their
distributions, every epoch's metric as an intermediate value (step = epoch), and its end state
(completed → COMPLETE, stopped early → PRUNED, errored → FAIL) — and no plotting of our own.

Storage: Optuna's journal file (``optuna.storages.JournalStorage`` over ``JournalFileBackend``,
``<experiment>/optuna.journal``) rather than SQLite. It is one append-only file of JSON lines:
no database server or schema, nothing to migrate between Optuna versions, a reader (the dashboard)
never blocks the writer, a half-written last line is skipped by readers
(``JournalFileBackend.read_logs``; ``WriteBehindBackend`` cuts it before it appends again, see
``_mend``), and ``optuna-dashboard PATH`` opens it as a plain path. Its
weakness — every writer replays the whole file — does not matter with one writer (the driver).

Batching: ``JournalFileBackend.append_logs`` takes a lock and ``fsync``s, and ``JournalStorage``
calls it once per operation (``_write_log``), i.e. once per reported epoch. ``WriteBehindBackend``
keeps appended logs in memory (the storage reads them back from there, so its replayed state stays
whole) and ``flush()`` writes them in one locked append with one ``fsync``. The driver-side
callback (``tuner.view.mirror_callback``) flushes about once a second and at the end.

``StudyMirror`` is the mapping, kept free of Ray: it takes narrow events (trial started with its
config, a result with epoch and value, a retry, the end with our status string from
``tuner.record.results.status_of``) and owns the map Ray trial id → Optuna trial id, rebuilt from the
``ray_trial_id`` user attribute when a resumed run reopens the file, so no trial is mirrored twice.
"""

from __future__ import annotations

import logging
import math
import errno
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import optuna
from optuna.distributions import (BaseDistribution, CategoricalDistribution,
                                  FloatDistribution, IntDistribution)
from optuna.storages import JournalStorage
from optuna.storages.journal import (BaseJournalBackend, JournalFileBackend,
                                      JournalFileSymlinkLock)
from optuna.study import StudyDirection
from optuna.trial import TrialState

from tuner.record.results import COMPLETED, ERRORED

__all__ = ["JOURNAL", "StorageAway", "StudyMirror", "WriteBehindBackend", "distributions", "journal_path"]

JOURNAL = "optuna.journal"  # the study file inside an experiment folder


def journal_path(experiment_path: str) -> str:
    return os.path.join(experiment_path, JOURNAL)


# -- search_spaces domains → optuna.distributions ---------------------------------------------

def _choice(value: Any) -> Any:
    """A categorical choice Optuna can store (None, bool, int, float, str); others as repr."""
    value = value.item() if hasattr(value, "item") and not isinstance(value, (list, tuple)) \
        else value
    return value if value is None or isinstance(value, (bool, int, float, str)) else repr(value)


def _distribution(dom: Any) -> BaseDistribution | None:
    kind = getattr(dom, "kind", "")
    if kind == "float":
        step = dom.step
        high = dom.high if step is None else dom.grid_values()[-1]  # the last grid point
        return FloatDistribution(float(dom.low), float(high), log=bool(dom.log), step=step)
    if kind == "int":
        step = int(dom.step or 1)
        high = dom.low + (dom.high - dom.low) // step * step
        return IntDistribution(int(dom.low), int(high), log=bool(dom.log), step=step)
    if kind == "categorical":
        return CategoricalDistribution([_choice(c) for c in dom.choices])
    return None  # fixed values are constants of the run, not parameters of a trial


def distributions(space: Mapping[str, Any]) -> dict[str, BaseDistribution]:
    """Optuna's distribution for every searched parameter of a ``SearchSpace``.

    Bounds are inclusive in both libraries; a stepped range ends at its last grid point (what
    ``Float.grid_values`` gives), so Optuna does not warn about an indivisible range.
    """
    out = {}
    for name, dom in space.items():
        dist = _distribution(dom)
        if dist is not None:
            out[name] = dist
    return out


def _params(config: Mapping[str, Any], dists: Mapping[str, BaseDistribution]
            ) -> tuple[dict[str, Any], dict[str, BaseDistribution]]:
    """The trial's active parameters (an inactive conditional one is absent from its config)
    that lie in their distribution; a value outside it (a PBT perturbation past a bound) is
    left out rather than failing the trial's mirror."""
    params, used = {}, {}
    for name, dist in dists.items():
        if name not in config:
            continue
        value = _choice(config[name]) if isinstance(dist, CategoricalDistribution) \
            else config[name]
        try:
            if dist._contains(dist.to_internal_repr(value)):
                params[name], used[name] = value, dist
        except (ValueError, TypeError):
            continue
    return params, used


# -- a journal backend that writes in batches --------------------------------------------------

class WriteBehindBackend(BaseJournalBackend):
    """``JournalFileBackend`` whose appends wait in memory until :meth:`flush`.

    The file is read once, when the storage opens it; after that ``read_logs`` serves only this
    process's own logs, so the ``JournalStorage`` on top replays exactly what it wrote and never
    re-reads lines it has already applied. Hence one process may create studies and trials in the
    file (the driver); readers such as the dashboard, and its notes, are fine.
    """

    def __init__(self, path: str):
        self._path = path
        self._lock = JournalFileSymlinkLock(path)  # JournalFileBackend's own default
        self._file = JournalFileBackend(path, lock_obj=self._lock)
        self._pending: list[dict[str, Any]] = []
        self._base: int | None = None  # log number of pending[0]; None until the file is read
        _break_stale_lock(path)
        self._mend()

    def read_logs(self, log_number_from: int) -> Iterator[dict[str, Any]]:
        if self._base is None:
            for log in self._file.read_logs(log_number_from):
                log_number_from += 1
                yield log
            self._base = log_number_from
        yield from self._pending[max(0, log_number_from - self._base):]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        self._pending.extend(logs)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> None:
        """One locked append and one ``fsync`` for everything since the last flush.

        A flush the folder refused before a byte reached the file (read-only for a moment,
        full, a stalled mount: the fault soak stalls it) raises :class:`StorageAway` and keeps
        everything pending for the next flush, so nothing is lost or written twice."""
        if self._pending:
            size = _size(self._path)
            try:
                self._mend()
                self._file.append_logs(self._pending)
            except OSError as exc:
                if exc.errno not in _AWAY or _size(self._path) != size:
                    raise  # part of the append may be in the file: a retry could double it
                raise StorageAway(exc.errno, exc.strerror or str(exc), self._path) from exc
            self._base = (self._base or 0) + len(self._pending)
            self._pending = []

    def _mend(self) -> None:
        """Cut a last line a writer killed mid-append left without its newline.

        Optuna's reader skips such a line only while it is the last one; an append would glue
        its first line to it, and the file would stop loading (``read_logs`` raises on a bad
        line followed by others). The cut is taken under the journal's lock, after a check
        without it (a reader of one byte) that almost always finds the file whole."""
        if not _torn(self._path):
            return
        self._lock.acquire()
        try:
            _cut_torn_line(self._path)
        finally:
            self._lock.release()


# what a folder says while it cannot take writes for a while (read-only, full, an NFS server
# away), as opposed to a file that is wrong (a folder in its place, a bad name)
_AWAY = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EIO,
         errno.ESTALE, errno.EAGAIN, errno.ETIMEDOUT}


class StorageAway(OSError):
    """The journal's folder refused a flush that wrote nothing; the logs stay pending."""


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _break_stale_lock(path: str) -> None:
    """Remove the journal's lock a killed driver left behind.

    Only the driver writes the journal, and it holds the run's own lock
    (``tuner.launch.lock``) while it does; readers (the dashboard, ``optuna.load_study``) take
    no lock. So a journal lock present when the mirror opens was left by a driver killed in
    the middle of a flush — Optuna would wait out its 30 s grace period for it inside Ray's
    driver loop before breaking it."""
    try:
        os.unlink(path + ".lock")  # optuna.storages.journal._file.LOCK_FILE_SUFFIX
    except FileNotFoundError:
        pass


def _torn(path: str) -> bool:
    """Whether the file at ``path`` ends part-way through a line."""
    try:
        with open(path, "rb") as f:
            end = f.seek(0, os.SEEK_END)
            if end == 0:
                return False
            f.seek(end - 1)
            return f.read(1) != b"\n"
    except FileNotFoundError:
        return False


def _cut_torn_line(path: str) -> None:
    """Truncate ``path`` after its last newline (to nothing when it holds none)."""
    with open(path, "rb+") as f:
        end = keep = f.seek(0, os.SEEK_END)
        if end == 0:
            return
        f.seek(end - 1)
        if f.read(1) == b"\n":
            return  # whole again (a writer finished it while we waited for the lock)
        while keep > 0:
            start = max(0, keep - (1 << 16))
            f.seek(start)
            newline = f.read(keep - start).rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            keep = start
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna logs "A new study created …" at INFO and warns that metric names are
    experimental; neither belongs in a run's output."""
    logger = logging.getLogger("optuna")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


# -- events → Optuna trials ---------------------------------------------------------------------

class StudyMirror:
    """One Optuna study mirroring one run, fed by narrow events (no Ray in here)."""

    def __init__(self, path: str, *, study_name: str, metric: str | Sequence[str],
                 mode: str | Sequence[str], dists: Mapping[str, BaseDistribution],
                 rungs: Sequence[int] = (), attrs: Mapping[str, Any] | None = None):
        """``metric``/``mode`` lists (several objectives) make a multi-objective study: each
        epoch's intermediate value is the first objective (Optuna keeps one per step), and a
        trial that ends gets every objective as its values."""
        self.metrics = [metric] if isinstance(metric, str) else list(metric)
        modes = [mode] if isinstance(mode, str) else list(mode)
        self.path, self.metric, self.dists = path, self.metrics[0], dict(dists)
        self.rungs = sorted(rungs)
        self.backend = WriteBehindBackend(path)
        self.storage = JournalStorage(self.backend)
        directions = [StudyDirection.MAXIMIZE if m == "max" else StudyDirection.MINIMIZE
                      for m in modes]
        with _quiet_optuna():
            study = optuna.create_study(storage=self.storage, study_name=study_name,
                                        directions=directions, load_if_exists=True)
            if not study.metric_names:
                study.set_metric_names(self.metrics)
            for key, value in (attrs or {}).items():
                if study.user_attrs.get(key) != value:  # a resumed run adds no lines
                    study.set_user_attr(key, value)
        self.study_id = self.storage.get_study_id_from_name(study_name)
        self._ids: dict[str, int] = {}            # Ray trial id → Optuna trial id
        self._last: dict[str, tuple[int, float]] = {}  # last (epoch, value) per Ray trial
        self._attrs: dict[str, dict[str, Any]] = {}    # user attrs written so far
        self._finished: set[str] = set()
        self._reopen()
        self.flush()  # the study shows in the dashboard before the first trial starts

    def _reopen(self) -> None:
        """Rebuild the maps from a file an earlier (interrupted) run wrote."""
        for trial in self.storage.get_all_trials(self.study_id, deepcopy=False):
            ray_id = trial.user_attrs.get("ray_trial_id")
            if ray_id is None:
                continue
            self._ids[ray_id] = self.storage.get_trial_id_from_study_id_trial_number(
                self.study_id, trial.number)
            self._attrs[ray_id] = dict(trial.user_attrs)
            if trial.intermediate_values:
                step = max(trial.intermediate_values)
                self._last[ray_id] = (step, trial.intermediate_values[step])
            if trial.state.is_finished():
                self._finished.add(ray_id)

    # events -----------------------------------------------------------------------------------
    def started(self, ray_id: str, config: Mapping[str, Any]) -> None:
        """A Ray trial started (or restarted after a retry or ``--resume``: no new trial)."""
        if ray_id in self._ids:
            return
        params, used = _params(config, self.dists)
        attrs = {"ray_trial_id": ray_id, "retries": 0}
        template = optuna.trial.create_trial(state=TrialState.RUNNING, params=params,
                                             distributions=used, user_attrs=attrs)
        self._ids[ray_id] = self.storage.create_new_trial(self.study_id, template_trial=template)
        self._attrs[ray_id] = dict(attrs)

    def result(self, ray_id: str, epoch: int, value: Any, node: str = "") -> None:
        """One epoch's metric; a retry re-reporting an epoch overwrites it."""
        if ray_id not in self._ids or ray_id in self._finished:
            return
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value):
            self.storage.set_trial_intermediate_value(self._ids[ray_id], int(epoch), float(value))
            self._last[ray_id] = (int(epoch), float(value))
        rung = self._rung(int(epoch))  # "epochs" is written at the end: the curve shows it
        if rung is not None:
            self._attr(ray_id, "rung", rung)
        if node:
            self._attr(ray_id, "node", node)

    def retried(self, ray_id: str) -> None:
        if ray_id in self._ids and ray_id not in self._finished:
            self._attr(ray_id, "retries", int(self._attrs[ray_id].get("retries", 0)) + 1)

    def ended(self, ray_id: str, status: str, epochs: int | None = None,
              values: Mapping[str, Any] | None = None) -> None:
        """``status`` is ``tuner.record.results.status_of``'s: completed / stopped early /
        errored: …; ``values``: the trial's last result, read for every objective of a
        multi-objective study."""
        if ray_id not in self._ids or ray_id in self._finished:
            return
        if epochs is not None:
            self._attr(ray_id, "epochs", int(epochs))
        self._attr(ray_id, "status", status)
        last = self._last.get(ray_id)
        if len(self.metrics) > 1:
            state, several = self._several(status, values or {})
            self.storage.set_trial_state_values(self._ids[ray_id], state, several)
            self._finished.add(ray_id)
            return
        if status.startswith(ERRORED):
            state, values = TrialState.FAIL, None
        elif status == COMPLETED and last is not None:
            state, values = TrialState.COMPLETE, [last[1]]
        elif last is not None:  # as Optuna's tell(state=PRUNED): the last intermediate value
            state, values = TrialState.PRUNED, [last[1]]
        else:  # ended without one finite value: nothing to rank it by
            state, values = TrialState.FAIL, None
        self.storage.set_trial_state_values(self._ids[ray_id], state, values)
        self._finished.add(ray_id)

    # helpers ----------------------------------------------------------------------------------
    def _several(self, status: str, result: Mapping[str, Any]
                 ) -> tuple[TrialState, list[float] | None]:
        """A multi-objective trial's end: COMPLETE with every objective; stopped early is
        PRUNED without values (Optuna gives pruned trials of such studies none, and its Pareto
        views then hold full-fidelity trials only); errored or an objective missing: FAIL."""
        values = [result.get(name) for name in self.metrics]
        finite = all(isinstance(v, (int, float)) and not isinstance(v, bool)
                     and math.isfinite(v) for v in values)
        if status.startswith(ERRORED):
            return TrialState.FAIL, None
        if status == COMPLETED:
            return (TrialState.COMPLETE, [float(v) for v in values]) if finite \
                else (TrialState.FAIL, None)
        return TrialState.PRUNED, None

    def _attr(self, ray_id: str, key: str, value: Any) -> None:
        """Write a user attribute only when it changes: every write is a line in the file."""
        if self._attrs[ray_id].get(key) != value:
            self.storage.set_trial_user_attr(self._ids[ray_id], key, value)
            self._attrs[ray_id][key] = value

    def _rung(self, epoch: int) -> int | None:
        reached = [i for i, r in enumerate(self.rungs) if r <= epoch]
        return reached[-1] if reached else None

    @property
    def running(self) -> list[str]:
        """Ray ids mirrored as running (for reconciling with Ray's view at the end)."""
        return [r for r in self._ids if r not in self._finished]

    @property
    def pending(self) -> int:
        return self.backend.pending

    def flush(self) -> None:
        self.backend.flush()
