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

__all__ = ["MANIFEST", "experiment_to_raw", "environment", "build_manifest", "read_manifest",
           "rerun_raw", "rerun_experiment"]

MANIFEST = "manifest.json"
_PACKAGES = ("torch", "ray", "optuna", "hyperopt", "numpy", "pandas", "scipy", "lightning")


def experiment_to_raw(exp: Any) -> dict[str, Any]:
    """The resolved :class:`~tuner.config.Experiment` as an experiment-file mapping."""
    from search_spaces.loader import space_to_dict
    from tuner.user_code import describe_trainable

    raw: dict[str, Any] = {
        "name": exp.name,
        "description": exp.description,
        "trainable": describe_trainable(exp.trainable),
        "config": dict(exp.config),
        "space": space_to_dict(exp.space),
        "searcher": {"name": exp.searcher, **exp.searcher_options},
        "scheduler": {"name": exp.scheduler, **exp.scheduler_options},
        "budget": exp.budget.to_dict() if hasattr(exp.budget, "to_dict") else _ladder(exp),
        "metric": exp.metric,
        "mode": exp.mode,
        "num_samples": exp.num_samples,
        "seed": exp.seed,
        "storage": exp.storage,
        "resources": {"cpus": exp.resources.cpus, "gpus": exp.resources.gpus},
        "max_concurrent": exp.max_concurrent,
        "points_to_evaluate": list(exp.points_to_evaluate),
        "max_failures": exp.max_failures,
        "checkpoint_every": exp.checkpoint_every,
        "checkpoint_interval_s": exp.checkpoint_interval_s,
    }
    if exp.evaluate is not None:
        raw["evaluate"] = describe_trainable(exp.evaluate)
    for key in ("packing",):  # optional keys other modules add to Experiment
        if getattr(exp, key, None) is not None:
            raw[key] = _plain(getattr(exp, key))
    return json.loads(json.dumps(raw, default=_plain))


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(value)
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def _ladder(exp: Any) -> dict[str, Any]:
    b = exp.budget
    out = {"min": b.min, "max": b.max, "eta": b.eta}
    if b.data_fraction:
        out["data_fraction"] = list(b.data_fraction)
    return out


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


def rerun_raw(path: str, name: str | None = None) -> dict[str, Any]:
    """The experiment of the manifest at ``path``, renamed so it never overwrites the
    original: ``NAME-rerun``, ``NAME-rerun2``, … (or ``name``)."""
    raw = dict(read_manifest(path)["experiment"])
    if name:
        raw["name"] = name
        return raw
    storage = raw.get("storage", "results")
    base = f"{raw['name']}-rerun"
    candidate, k = base, 1
    while "://" not in storage and os.path.exists(os.path.join(storage, candidate)):
        k += 1
        candidate = f"{base}{k}"
    raw["name"] = candidate
    return raw


def rerun_experiment(path: str, dotted: list[str], overrides: dict[str, Any]):
    """The validated experiment for ``tuner launch MANIFEST`` and ``tuner.run(MANIFEST)``:
    the recorded one, renamed (or ``overrides["name"]``), with ``--set`` and overrides."""
    from pathlib import Path

    from tuner import config

    raw = config.apply_overrides(rerun_raw(path, overrides.get("name")), dotted)
    raw.update({k: v for k, v in overrides.items() if v is not None and k != "name"})
    return config.parse_experiment(raw, base_dir=Path.cwd())
