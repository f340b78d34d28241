"""Checks before Ray starts: the results folder, a resumed experiment, this machine's resources.

Each refusal is one :class:`~tuner.errors.ConfigError` line (exit code 2) and touches nothing:
a run that would wait forever for a GPU the laptop does not have, or silently relabel a
finished run with settings it never ran with, is stopped before it starts.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable

from tuner.errors import ConfigError

__all__ = ["check_results_dir", "check_local_resources", "check_cluster_resources",
           "resume_changes", "check_resume", "extend_num_samples", "save_manifest",
           "mark_finished", "finished_before"]

# Keys a resumed run may differ in without changing what it computes.
_FREE_ON_RESUME = {"name", "storage", "description", "num_samples"}


def check_results_dir(exp: Any, resume: bool) -> None:
    if "://" in exp.path:
        return  # remote storage: Ray's own checks apply
    exists = os.path.exists(exp.path) and os.listdir(exp.path)
    if exists and not resume:
        raise ConfigError(f"results directory {exp.path} already exists; pass --resume to "
                          "continue it, or choose another --name / --storage")
    if resume and not exists:
        raise ConfigError(f"--resume: no experiment at {exp.path} to continue")


def check_local_resources(exp: Any, gpus: int | None = None, cpus: int | None = None) -> None:
    """A local run asks only for what this machine has (Ray would wait forever otherwise)."""
    if gpus is None:
        gpus = _local_gpus()
    cpus = cpus or os.cpu_count() or 1
    want = exp.resources
    if want.gpus > 0 and gpus == 0:
        raise ConfigError(f"resources.gpus: {want.gpus:g} per trial, but this machine has no "
                          "GPU (set resources.gpus: 0, or join a cluster with --address)")
    if want.gpus > gpus:
        raise ConfigError(f"resources.gpus: {want.gpus:g} per trial, but this machine has "
                          f"{gpus} GPU(s)")
    if want.cpus > cpus:
        raise ConfigError(f"resources.cpus: {want.cpus:g} per trial, but this machine has "
                          f"{cpus} CPU(s)")


def _local_gpus() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:
        return 0


def check_cluster_resources(exp: Any, cluster: dict[str, float],
                            write: Callable[[str], None]) -> None:
    """Against a cluster an autoscaler may still add what is missing: say so once."""
    for key, want in (("GPU", exp.resources.gpus), ("CPU", exp.resources.cpus)):
        have = float(cluster.get(key, 0))
        if want > 0 and have < want:
            write(f"note: each trial needs {want:g} {key}, the cluster has {have:g} now; "
                  f"trials wait until a node with {key}s joins (an autoscaler may add one)")


def _manifest_path(exp: Any) -> str:
    from tuner.manifest import MANIFEST

    return os.path.join(exp.path, MANIFEST)


def _read(exp: Any) -> dict | None:
    if "://" in exp.path:
        return None
    try:
        with open(_manifest_path(exp)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def resume_changes(before: dict, now: dict) -> list[str]:
    """``key: old → new`` for every setting that differs between two experiment mappings."""
    out: list[str] = []

    def walk(a: Any, b: Any, key: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                walk(a.get(k), b.get(k), f"{key}.{k}" if key else str(k))
        elif a != b and key.split(".")[0] not in _FREE_ON_RESUME:
            out.append(f"{key}: {a!r} → {b!r}")

    walk(before, now, "")
    return out


def check_resume(exp: Any) -> dict | None:
    """Refuse a resumed run whose settings differ from the run it continues; allow a larger
    ``num_samples`` (more trials, like Optuna's ``optimize`` on an existing study)."""
    from tuner.manifest import experiment_to_raw

    manifest = _read(exp)
    if manifest is None:
        return None  # a run from before manifests: nothing to compare with
    before = manifest["experiment"]
    now = experiment_to_raw(exp)
    changes = resume_changes(before, now)
    if changes:
        raise ConfigError("--resume: settings differ from the run being continued: "
                          + "; ".join(changes[:6]) + (" …" if len(changes) > 6 else "")
                          + " (resume unchanged, or start a new --name)")
    if now["num_samples"] < before["num_samples"]:
        raise ConfigError(f"--resume: num_samples {now['num_samples']} is below the "
                          f"{before['num_samples']} trials already planned")
    return manifest


def finished_before(manifest: dict | None, exp: Any) -> bool:
    """The run being resumed had ended and nothing new is asked of it."""
    return bool(manifest and manifest.get("finished")
                and exp.num_samples <= manifest["experiment"]["num_samples"])


def extend_num_samples(path: str, num_samples: int) -> bool:
    """Let a resumed run create trials up to ``num_samples``.

    Ray's restore ignores a new ``num_samples``: ``tune.run`` only adds the experiment's
    configurations to the search algorithm when *not* resumed, and ``SearchGenerator`` restores
    its ``total_samples`` from its own state file (``tune/search/search_generator.py``). So the
    newest of those files gets the new total before ``Tuner.restore`` reads it (written the way
    Ray writes it: cloudpickle, then an atomic rename). A searcher that itself finished (a
    grid) stays finished.
    """
    import glob

    import ray.cloudpickle as cloudpickle

    files = sorted(glob.glob(os.path.join(path, "search_gen_state-*.json")))
    if not files:
        return False
    with open(files[-1], "rb") as f:
        state = cloudpickle.load(f)
    if state.get("total_samples", 0) >= num_samples:
        return False
    if state.get("finished") and state.get("counter", 0) < state.get("total_samples", 0):
        return False  # the searcher said FINISHED: more samples would add nothing
    state["total_samples"], state["finished"] = num_samples, False
    tmp = files[-1] + ".tmp"
    with open(tmp, "wb") as f:
        cloudpickle.dump(state, f)
    os.replace(tmp, files[-1])
    return True


def save_manifest(exp: Any, resume: bool, argv: list[str] | None) -> None:
    """``manifest.json`` at the start of a run; a resume appends itself to ``resumed``."""
    if "://" in exp.path:
        return
    from tuner import manifest as mf
    from tuner.results import write_atomic

    previous = _read(exp) if resume else None
    record = mf.build_manifest(exp, argv)
    if previous is not None:
        previous.setdefault("resumed", []).append(
            {"at": record["created"], "command": record["environment"]["command"],
             "num_samples": exp.num_samples})
        previous["experiment"]["num_samples"] = exp.num_samples
        previous.pop("finished", None)
        record = previous
    os.makedirs(exp.path, exist_ok=True)
    write_atomic(_manifest_path(exp), json.dumps(record, indent=2, default=str) + "\n")


def mark_finished(exp: Any, wall_seconds: float) -> None:
    """Record that every trial ended, so a later ``--resume`` has nothing to redo."""
    data = _read(exp)
    if data is None:
        return
    from tuner.results import write_atomic

    data["finished"] = True
    data["wall_seconds"] = round(wall_seconds, 2)
    write_atomic(_manifest_path(exp), json.dumps(data, indent=2, default=str) + "\n")


# --- storage -----------------------------------------------------------------------------
MIN_FREE_MB = 50  # room for Ray's experiment state, trial folders, checkpoints and our files
_LOCKS: dict[str, int] = {}  # experiment path → the open lock file of this process


def check_storage(exp: Any, min_free_mb: float = MIN_FREE_MB) -> None:
    """The results folder can be created and written, with some room to spare.

    As root a read-only *permission* is not enforced, so this writes a probe file instead of
    asking ``os.access``; a read-only mount or a full disk fails here, before Ray starts,
    rather than as a traceback from Ray's first experiment snapshot.
    """
    if "://" in exp.storage:
        return
    import errno
    import shutil
    import tempfile

    try:
        os.makedirs(exp.storage, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".tuner-probe-", dir=exp.storage)
        os.write(fd, b"x" * 4096)
        os.fsync(fd)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(f"storage: cannot write to {exp.storage} "
                          f"({exc.strerror or errno.errorcode.get(exc.errno, exc)})") from None
    free_mb = shutil.disk_usage(exp.storage).free / 2**20
    if free_mb < min_free_mb:
        raise ConfigError(f"storage: only {free_mb:.1f} MB free at {exp.storage}; a run needs "
                          f"at least {min_free_mb:g} MB for trial folders, checkpoints and "
                          "results")


def lock_experiment(exp: Any) -> None:
    """Hold ``<storage>/.<name>.lock`` for the whole run, so a second launch of the same name
    (a double-click, two terminals) is refused instead of writing into the same folder. An
    ``flock`` is released by the kernel when the process dies: no stale locks after a kill."""
    if "://" in exp.storage or exp.path in _LOCKS:
        return
    import fcntl

    lock = os.path.join(exp.storage, f".{exp.name}.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise ConfigError(f"results directory {exp.path} is in use by another tuner launch "
                          f"(pid {owner}); wait for it, or choose another --name") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _LOCKS[exp.path] = fd


def unlock_experiment(exp: Any) -> None:
    fd = _LOCKS.pop(exp.path, None)
    if fd is not None:
        os.close(fd)  # closing the last descriptor releases the flock


def check_saved_state(path: str) -> None:
    """Refuse ``--resume`` over an experiment state that does not parse.

    Ray's controller, failing to read its newest ``experiment_state-*.json``, logs the error
    and *restarts the experiment from scratch* (``tune/execution/tune_controller.py``), which
    would run every trial again over the old results. A state cut short by a full disk or a
    kill is caught here instead.
    """
    import glob

    if "://" in path:
        return
    states = sorted(glob.glob(os.path.join(path, "experiment_state-*.json")))
    if not states:
        raise ConfigError(f"--resume: {path} holds no saved experiment state to continue")
    try:
        with open(states[-1]) as f:
            json.load(f)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--resume: the saved experiment state in {path} cannot be read "
                          f"({os.path.basename(states[-1])}: {exc}); the results so far are "
                          "untouched — start a new --name") from None
