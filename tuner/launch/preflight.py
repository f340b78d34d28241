"""Checks before Ray starts: the results folder, storage, a resumed experiment, resources.

Each refusal is one :class:`~tuner.errors.ConfigError` line (exit code 2) and writes nothing
(the storage check writes and removes one probe file): a run that would wait forever for a
GPU the laptop does not have, or silently relabel a finished run with settings it never ran
with, is stopped before it starts. Writing the manifest is ``tuner.record.manifest``'s job,
holding the lock ``tuner.launch.lock``'s, extending a resumed run ``tuner.launch.resume``'s.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable

from tuner.errors import ConfigError
from tuner.experiment.file_form import experiment_to_raw
from tuner.record.manifest import read_run_manifest

__all__ = ["check_cluster_resources", "check_gang", "check_local_resources", "check_results_dir",
           "check_resume", "check_saved_state", "check_storage", "finished_before",
           "local_capacity", "resume_changes"]

# Keys a resumed run may differ in without changing what it computes.
_FREE_ON_RESUME = {"name", "storage", "description", "num_samples"}
# Searcher settings a newer default adds: absent from a run started before, they change
# nothing on resume — Ray restores the searcher it pickled, with the settings it had.
_ADDED_DEFAULTS = {"searcher.scout_fraction"}


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
        gpus = int(local_capacity()["GPU"])
    cpus = cpus or os.cpu_count() or 1
    want = exp.resources
    if want.data_parallel:
        check_gang(want, {"CPU": cpus, "GPU": gpus}, "this machine")
        return
    if want.gpus > 0 and gpus == 0:
        raise ConfigError(f"resources.gpus: {want.gpus:g} per trial, but this machine has no "
                          "GPU (set resources.gpus: 0, or join a cluster with --address)")
    if want.gpus > gpus:
        raise ConfigError(f"resources.gpus: {want.gpus:g} per trial, but this machine has "
                          f"{gpus} GPU(s)")
    if want.cpus > cpus:
        raise ConfigError(f"resources.cpus: {want.cpus:g} per trial, but this machine has "
                          f"{cpus} CPU(s)")


def check_gang(want: Any, have: dict[str, float], where: str) -> None:
    """A data-parallel trial's whole gang must fit ``where`` (Train would wait forever)."""
    cpus, gpus = want.per_trial()
    if want.gpus_per_worker > 0 and not have.get("GPU"):
        raise ConfigError(f"resources.gpus_per_worker: {want.gpus_per_worker:g} per worker, but "
                          f"{where} has no GPU (set gpus_per_worker: 0 to train on CPUs)")
    for key, need in (("GPU", gpus), ("CPU", cpus)):
        if need > float(have.get(key, 0)) + 1e-9:
            raise ConfigError(f"resources.workers: a gang of {want.workers} workers needs "
                              f"{need:g} {key}s, but {where} has {float(have.get(key, 0)):g}; "
                              "use fewer workers or less per worker")


def local_capacity() -> dict[str, float]:
    """This machine's CPUs and GPUs, as a local Ray would count them."""
    try:
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:
        gpus = 0
    return {"CPU": float(os.cpu_count() or 1), "GPU": float(gpus)}


def check_cluster_resources(exp: Any, cluster: dict[str, float],
                            write: Callable[[str], None]) -> None:
    """Against a cluster an autoscaler may still add what is missing: say so once. A
    data-parallel gang larger than the whole cluster is refused (exit 2)."""
    if exp.resources.data_parallel:
        check_gang(exp.resources, cluster, "the cluster")
        return
    for key, want in (("GPU", exp.resources.gpus), ("CPU", exp.resources.cpus)):
        have = float(cluster.get(key, 0))
        if want > 0 and have < want:
            write(f"note: each trial needs {want:g} {key}, the cluster has {have:g} now; "
                  f"trials wait until a node with {key}s joins (an autoscaler may add one)")


def resume_changes(before: dict, now: dict) -> list[str]:
    """``key: old → new`` for every setting that differs between two experiment mappings."""
    out: list[str] = []

    def walk(a: Any, b: Any, key: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                walk(a.get(k), b.get(k), f"{key}.{k}" if key else str(k))
        elif a is None and key in _ADDED_DEFAULTS:
            return
        elif a != b and key.split(".")[0] not in _FREE_ON_RESUME:
            out.append(f"{key}: {a!r} → {b!r}")

    walk(before, now, "")
    return out


def check_resume(exp: Any) -> dict | None:
    """Refuse a resumed run whose settings differ from the run it continues; allow a larger
    ``num_samples`` (more trials, like Optuna's ``optimize`` on an existing study)."""
    manifest = read_run_manifest(exp)
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


# --- storage -----------------------------------------------------------------------------
MIN_FREE_MB = 50  # room for Ray's experiment state, trial folders, checkpoints and our files


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


def check_saved_state(path: str) -> str | None:
    """Refuse ``--resume`` over an experiment state that does not parse.

    Ray's controller, failing to read its newest ``experiment_state-*.json``, logs the error
    and *restarts the experiment from scratch* (``tune/execution/tune_controller.py``), which
    would run every trial again over the old results. A state cut short by a kill while Ray
    wrote it is first replaced by the last whole copy ``SnapshotKeeper`` kept
    (``tuner.launch.snapshot``; the line returned says so); one cut short with nothing whole
    kept (a full disk, a run from before the keeper) is refused here.
    """
    import glob

    from tuner.launch.snapshot import put_back

    if "://" in path:
        return None
    note = put_back(path) if os.path.isdir(path) else None
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
    return note
