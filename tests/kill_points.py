"""Kill a process at every step of its file writes: the helper of tests/test_torn_files.py.

``Steps`` wraps what a writer does to the files under one folder and numbers each step:
creating a file (``tempfile.mkstemp``, ``open`` for writing), each ``write`` (whole, and cut
short after a share of its bytes), ``os.fsync``, ``os.replace``/``os.rename``, ``os.unlink``
and ``os.symlink`` (Optuna's journal lock). With ``kill_at=k`` the process sends itself
SIGKILL just before its k-th step (for a cut write: once that share of the bytes is in the
file), so every step of a sequence of writes is a place to die. With ``kill_at=None`` it only
numbers and names the steps, for the parent to loop over.

The ``*_child`` functions are the writers, run in a child forked from a ``forkserver``: a
fresh process (no Ray, no pytest threads) with the imports already done, one per kill.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import random
import signal
import tempfile
from types import SimpleNamespace
from typing import Any, Callable

# what the forkserver imports once, so that each forked child starts at once
# (what the writers import lazily: the searchers, Ray's Trainable, Optuna's importance)
PRELOAD = ["tests.kill_points", "tuner.experiment.config", "tuner.searchers",
           "trainables.registry", "tuner.record.finish", "tuner.record.insights",
           "optuna.importance", "tuner.view.mirror", "tuner.launch.packed.state",
           "tuner.launch.snapshot"]

_WRITES = set("wax+")
NAME = "torn"  # the experiment's name: its folder is <storage>/torn


class Steps:
    """Numbers (and at ``kill_at``, ends the process at) the file steps under ``folder``."""

    def __init__(self, folder: str, kill_at: int | None = None, cuts: tuple = (0.5,)):
        self.folder = os.path.realpath(folder) + os.sep
        self.kill_at, self.cuts = kill_at, tuple(cuts)
        self.steps: list[list[str]] = []   # [kind, path] per step
        self.marks: dict[str, int] = {}    # a writer's own milestones: steps done by then
        self.fds: dict[int, str] = {}      # open descriptors of files under the folder
        self.temps: set[str] = set()       # what mkstemp made under the folder
        self.renamed: dict[str, str] = {}  # temporary path → the file it became

    def inside(self, path: Any) -> bool:
        try:
            return os.path.realpath(os.fsdecode(path)).startswith(self.folder)
        except TypeError:
            return False

    def step(self, kind: str, path: str, before_kill: Callable[[], Any] | None = None) -> None:
        self.steps.append([kind, path])
        if len(self.steps) == self.kill_at:
            if before_kill is not None:
                before_kill()
            os.kill(os.getpid(), signal.SIGKILL)

    def mark(self, name: str) -> None:
        self.marks[name] = len(self.steps)

    def names(self) -> list[str]:
        """``write 50% of trials.csv (temporary file)``: each step with the file it was for."""
        out = []
        for kind, path in self.steps:
            target = self.renamed.get(path) if path in self.temps else None
            what = (f"{os.path.basename(target)} (temporary file)" if target
                    else os.path.basename(path))
            out.append(f"{kind} {what}")
        return out

    def dump(self, file: str) -> None:
        with open(file, "w") as f:
            json.dump({"steps": self.names(), "marks": self.marks}, f)

    # -- the wrapped calls ----------------------------------------------------------------------
    def install(self) -> None:
        real_open, real_mkstemp, real_fdopen = builtins.open, tempfile.mkstemp, os.fdopen
        real = {n: getattr(os, n) for n in ("fsync", "replace", "rename", "unlink", "remove",
                                            "symlink", "write")}

        def open_(file, mode="r", *args, **kwargs):
            if not (_WRITES & set(mode)) or not self.inside(file):
                return real_open(file, mode, *args, **kwargs)
            path = os.fsdecode(file)
            self.step("open", path)
            return self._wrap(real_open(file, mode, *args, **kwargs), path)

        def mkstemp(*args, **kwargs):
            where = kwargs.get("dir", args[2] if len(args) > 2 else None)
            ours = where is not None and self.inside(os.path.join(os.fsdecode(where), "x"))
            if ours:
                self.step("create", os.fsdecode(where))
            fd, path = real_mkstemp(*args, **kwargs)
            if ours:
                self.steps[-1][1] = path
                self.fds[fd] = path
                self.temps.add(path)
            return fd, path

        def fdopen(fd, mode="r", *args, **kwargs):
            f = real_fdopen(fd, mode, *args, **kwargs)
            return self._wrap(f, self.fds[fd]) if fd in self.fds and _WRITES & set(mode) else f

        def fsync(fd):
            if fd in self.fds:
                self.step("fsync", self.fds[fd])
            return real["fsync"](fd)

        def moved(name):
            def move(src, dst, *args, **kwargs):
                if self.inside(dst):
                    self.step(name, os.fsdecode(dst))
                    self.renamed[os.fsdecode(src)] = os.fsdecode(dst)
                return real[name](src, dst, *args, **kwargs)
            return move

        def removed(name):
            def remove(path, *args, **kwargs):
                if self.inside(path):
                    self.step("unlink", os.fsdecode(path))
                return real[name](path, *args, **kwargs)
            return remove

        def symlink(src, dst, *args, **kwargs):
            if self.inside(dst):
                self.step("lock", os.fsdecode(dst))
            return real["symlink"](src, dst, *args, **kwargs)

        def write(fd, data):
            if fd not in self.fds:
                return real["write"](fd, data)
            self._write(self.fds[fd], data, lambda part: real["write"](fd, part), lambda: None)
            return len(data)

        builtins.open = io.open = open_
        tempfile.mkstemp, os.fdopen, os.fsync, os.symlink, os.write = (
            mkstemp, fdopen, fsync, symlink, write)
        os.replace, os.rename = moved("replace"), moved("rename")
        os.unlink, os.remove = removed("unlink"), removed("remove")

    def _write(self, path: str, data: Any, put: Callable, flush: Callable) -> None:
        """A write as steps: before it, and cut after each share of ``self.cuts``."""
        self.step("write", path)
        for cut in self.cuts:
            n = int(len(data) * cut)
            if 0 < n < len(data):
                self.step(f"write {cut:.0%} of", path, lambda n=n: (put(data[:n]), flush()))
        put(data)

    def _wrap(self, f: Any, path: str) -> _File:
        self.fds[f.fileno()] = path
        return _File(f, self, path)


class _File:
    """A file object whose writes are steps; the rest goes to the real one."""

    def __init__(self, f: Any, steps: Steps, path: str):
        self._f, self._steps, self._path = f, steps, path

    def write(self, data: Any) -> int:
        self._steps._write(self._path, data, self._f.write, self._f.flush)
        return len(data)

    def close(self) -> None:
        if not self._f.closed:
            self._steps.fds.pop(self._f.fileno(), None)
        self._f.close()

    def __enter__(self) -> _File:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


# -- a finished run's inputs, without Ray -----------------------------------------------------
def experiment(storage: str) -> Any:
    from tuner.experiment.config import parse_experiment

    return parse_experiment({
        "name": NAME, "trainable": "mlp", "config": {"dataset": "digits"},
        "space": {"lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
                  "hidden": {"type": "categorical", "choices": [16, 32, 64]}},
        "searcher": "random", "scheduler": "asha", "budget": {"min": 1, "max": 9, "eta": 3},
        "metric": "val_accuracy", "mode": "max", "num_samples": 8, "storage": storage})


def records(seed: int) -> list:
    """Eight trials as Ray would leave them (ASHA stopped most early); each seed differs."""
    from tuner.record import results as res

    rng, out = random.Random(seed), []
    for i in range(8):
        epochs = rng.choice([1, 3, 9])
        history = [round(rng.random(), 4) for _ in range(epochs)]
        out.append(res.TrialRecord(
            trial_id=f"s{seed}_{i:05d}", config={"lr": 10 ** rng.uniform(-4, -1),
                                                 "hidden": rng.choice([16, 32, 64])},
            status=res.status_of(epochs, 9, ""), epochs=epochs, history=history, order=i,
            values={"val_accuracy": history[-1]}))
    return out


def _stub_plots(seed: int) -> None:
    """Rendering PNGs is most of ``finish``'s time and none of what is tested: stand-ins of
    100 kB, different per seed, still written by the same code."""
    from tuner.record import insights, results

    def png(kind: str) -> Callable[..., bytes]:
        return lambda *a, **k: b"\x89PNG\r\n\x1a\n" + f"{kind} {seed} ".encode() * 5000

    results.plot_curves = png("curves")
    insights.plot_parallel, insights.plot_slices = png("parallel"), png("slices")


def naive_write(path: str, data: bytes | str) -> None:
    """What ``write_atomic`` must not be: the file opened (emptied) and written in place."""
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def finish_child(storage: str, seed: int, kill_at: int | None, log: str,
                 naive: bool = False) -> None:
    """``tuner.record.finish.finish`` over ``records(seed)``, killed before step ``kill_at``."""
    from tuner.record import finish, results

    _stub_plots(seed)
    if naive:
        results.write_atomic = naive_write
    exp = experiment(storage)
    steps = Steps(exp.path, kill_at)
    steps.install()
    finish.finish(exp, records(seed), interrupted=False, wall=1.0, quiet=True)
    steps.dump(log)


# -- a packed run's saved state ---------------------------------------------------------------
class _Searcher:
    def __init__(self, blob: bytes):
        self.blob = blob

    def save(self, path: str) -> None:
        with open(path, "wb") as f:
            f.write(self.blob)


def pack_snapshot(seed: int, n: int) -> dict:
    """What ``PackedExecutor.save_state`` writes for ``n`` trials: trials, searcher, scheduler."""
    from tuner.launch.packed import state

    rng = random.Random(seed)
    trials = []
    for i in range(n):
        epochs = rng.choice([1, 3, 9])
        history = [round(rng.random(), 4) for _ in range(epochs)]
        folder = f"/results/{NAME}/mlp_{seed}_{i:05d}"
        trials.append(SimpleNamespace(
            trial_id=f"mlp_{seed}_{i:05d}", config={"lr": rng.random(), "hidden": 32}, order=i,
            status="TERMINATED" if i < n - 2 else "RUNNING",
            last_result={"val_accuracy": history[-1], "training_iteration": epochs},
            history=history, epochs=epochs, time_total_s=rng.random() * 10,
            checkpoint=f"{folder}/checkpoint_{epochs:06d}", checkpoint_epoch=epochs,
            checkpoint_reports=epochs, error="", node="node-0", retries=0,
            experiment_tag=f"{i}_lr={rng.random():.4f}"))
    scheduler = SimpleNamespace(get_state=lambda: {"rungs": {1: [0.5] * n, 3: [0.7] * (n // 3)}})
    searcher = _Searcher(bytes(rng.randrange(256) for _ in range(20_000)))
    return state.snapshot(trials, searcher, scheduler, num_samples=n + 4)


def pack_state_child(folder: str, kill_at: int | None, log: str) -> None:
    """``state.write`` of the second snapshot over the first, killed before step ``kill_at``."""
    from tuner.launch.packed import state

    snapshot = pack_snapshot(2, 10)
    steps = Steps(folder, kill_at)
    steps.install()
    state.write(folder, snapshot)
    steps.dump(log)


# -- the Optuna journal ------------------------------------------------------------------------
def study_mirror(path: str) -> Any:
    from tuner.view.mirror import StudyMirror

    return StudyMirror(path, study_name=NAME, metric="val_accuracy", mode="max", dists={},
                       rungs=[1, 3, 9])


def mirror_trial(mirror: Any, ray_id: str, value: float, epochs: int = 3) -> None:
    """One trial run to its end: started, ``epochs`` results, completed."""
    mirror.started(ray_id, {"lr": value})
    for epoch in range(1, epochs + 1):
        mirror.result(ray_id, epoch, value * epoch / epochs, node="node-0")
    mirror.ended(ray_id, "completed", epochs)


def mirror_child(path: str, kill_at: int | None, log: str) -> None:
    """A resumed run's mirror: b0 flushed, then b1 and b2 flushed; killed before ``kill_at``."""
    steps = Steps(os.path.dirname(path), kill_at, cuts=(0.2, 0.5, 0.8))
    steps.install()
    mirror = study_mirror(path)
    mirror_trial(mirror, "b0", 0.61)
    mirror.flush()
    steps.mark("first flush")
    mirror_trial(mirror, "b1", 0.62)
    mirror_trial(mirror, "b2", 0.63)
    mirror.flush()
    steps.dump(log)


# -- Ray's experiment snapshot, kept whole (tuner.launch.snapshot) ----------------------------
SESSION = "2026-12-06_01-21-45"


def ray_snapshot(seed: int, trials: int = 40) -> dict[str, bytes]:
    """A snapshot set as Ray writes it for one driver session: its experiment state (JSON),
    the searcher's and the callbacks' state (pickles) and the search generator's (JSON)."""
    import pickle

    rng = random.Random(seed)
    rows = [[{"trial_id": f"{seed}{i:04d}", "x": rng.random()}, {"iter": rng.randrange(9)}]
            for i in range(trials)]
    return {
        f"experiment_state-{SESSION}.json": json.dumps({"trial_data": rows}).encode(),
        f"searcher-state-{SESSION}.pkl": pickle.dumps({"seed": seed, "rows": rows}),
        f"callback-states-{SESSION}.pkl": pickle.dumps([{"scheduler": {"rungs": rows}}]),
        # a pickle despite its name, as Ray writes it (tune/search/search_generator.py)
        f"search_gen_state-{SESSION}.json": pickle.dumps({"counter": trials}),
    }


def put_files(folder: str, files: dict[str, bytes]) -> None:
    os.makedirs(folder, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


def snapshot_child(kept: str, staging: str, kill_at: int | None, log: str) -> None:
    """``snapshot.keep`` of the set in ``staging`` into ``kept`` (which holds an older one),
    killed before step ``kill_at``."""
    from tuner.launch import snapshot

    steps = Steps(kept, kill_at)
    steps.install()
    snapshot.keep(staging, SESSION, kept)
    steps.dump(log)
