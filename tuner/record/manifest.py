"""``manifest.json``: everything needed to know what a run was and to run it again.

Written into the experiment folder when a run starts (and updated on ``--resume``): the
resolved experiment after every override — in the same shape as an experiment file, so
``tuner launch results/NAME/manifest.json`` reruns it under a new name — plus the code and the
machine it ran on: the tuner version; git commit, branch, dirty flag and a hash of the diff of
the working directory when it is a repository; Python and the versions of the libraries that
decide results; host, CPU, GPU and CUDA; the command line; every seed. What MLflow and
Weights & Biases record per run, kept in a plain file next to the results.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import time
from importlib import metadata
from typing import Any

from tuner.errors import ConfigError
from tuner.experiment.file_form import experiment_to_raw

__all__ = ["MANIFEST", "build_manifest", "environment", "manifest_path", "mark_finished",
           "read_manifest", "read_run_manifest", "save_manifest"]

MANIFEST = "manifest.json"
_PACKAGES = ("torch", "ray", "optuna", "hyperopt", "numpy", "pandas", "scipy", "lightning")


def environment(argv: list[str] | None = None) -> dict[str, Any]:
    """Code, libraries and machine of this process."""
    import tuner

    return {
        "tuner_version": tuner.__version__,
        "git": _git(os.getcwd()),
        "python": sys.version.split()[0],
        "packages": {name: _version(name) for name in _PACKAGES},
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": {"model": _cpu_model(), "count": os.cpu_count()},
        "gpu": _gpu(),
        "command": list(sys.argv if argv is None else argv),
        "cwd": os.getcwd(),
    }


def build_manifest(exp: Any, argv: list[str] | None = None) -> dict[str, Any]:
    """The whole record for ``exp``; ``seeds`` repeats every seed the run uses."""
    raw = experiment_to_raw(exp)
    return {
        "format": 1,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "experiment": raw,
        "seeds": {"experiment": exp.seed, "trials": raw["config"].get("seed", exp.seed),
                  "searcher": exp.seed, "scheduler": exp.seed},
        "environment": environment(argv),
    }


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git(cwd: str) -> dict[str, Any] | None:
    """Commit, branch, dirty flag and a hash of ``git diff HEAD`` — None outside a repo."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.decode(errors="replace") if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None
    diff = git("diff", "HEAD") or ""
    status = git("status", "--porcelain") or ""
    return {"commit": commit.strip(), "branch": (git("rev-parse", "--abbrev-ref", "HEAD")
                                                 or "").strip(),
            "dirty": bool(status.strip()),
            "diff_sha256": hashlib.sha256(diff.encode()).hexdigest() if diff else None}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu() -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        return {"count": 0}
    if not torch.cuda.is_available():
        return {"count": 0, "cuda": torch.version.cuda}
    n = torch.cuda.device_count()
    return {"count": n, "models": [torch.cuda.get_device_name(i) for i in range(n)],
            "cuda": torch.version.cuda}


def read_manifest(path: str) -> dict[str, Any]:
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: manifest not found") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable manifest ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("experiment"), dict):
        raise ConfigError(f"{path}: not a tuner manifest (no 'experiment' mapping)")
    return data


def manifest_path(exp: Any) -> str:
    return os.path.join(exp.path, MANIFEST)


def read_run_manifest(exp: Any) -> dict | None:
    """The manifest of ``exp``'s folder as written, or None (remote storage, none yet, or
    unreadable: a run from before manifests)."""
    if "://" in exp.path:
        return None
    try:
        with open(manifest_path(exp)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def save_manifest(exp: Any, resume: bool, argv: list[str] | None) -> None:
    """``manifest.json`` at the start of a run; a resume appends itself to ``resumed``."""
    if "://" in exp.path:
        return
    from tuner.record.results import write_atomic

    previous = read_run_manifest(exp) if resume else None
    record = build_manifest(exp, argv)
    if previous is not None:
        previous.setdefault("resumed", []).append(
            {"at": record["created"], "command": record["environment"]["command"],
             "num_samples": exp.num_samples})
        previous["experiment"]["num_samples"] = exp.num_samples
        previous.pop("finished", None)
        record = previous
    os.makedirs(exp.path, exist_ok=True)
    write_atomic(manifest_path(exp), json.dumps(record, indent=2, default=str) + "\n")


def mark_finished(exp: Any, wall_seconds: float) -> None:
    """Record that every trial ended, so a later ``--resume`` has nothing to redo."""
    data = read_run_manifest(exp)
    if data is None:
        return
    from tuner.record.results import write_atomic

    data["finished"] = True
    data["wall_seconds"] = round(wall_seconds, 2)
    write_atomic(manifest_path(exp), json.dumps(data, indent=2, default=str) + "\n")
