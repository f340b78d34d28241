"""The ``tracking:`` key of an experiment file: which external trackers record the run.

Checked when the file is parsed, before Ray starts, like every other key: an unknown backend,
an unknown option, a W&B run without its project, or a backend whose package is not installed
is one :class:`~tuner.errors.ConfigError` line naming the field (exit code 2), not a traceback
from Ray's driver loop an hour into the run. The trackers themselves live in
``tuner.record.tracking``; this module only knows their settings.

    tracking:
      mlflow: {tracking_uri: sqlite:///results/mlflow.db, experiment: digits}
      wandb: {project: digits-hpo, mode: offline}
"""

from __future__ import annotations

import importlib.util
from typing import Any

from tuner.errors import ConfigError

__all__ = ["BACKENDS", "parse_tracking"]

# backend → {option: what it is}; every option is a string
BACKENDS: dict[str, dict[str, str]] = {
    "mlflow": {
        "tracking_uri": "where runs go: sqlite:///path/mlflow.db, http://host:5000, … "
                        "(default: $MLFLOW_TRACKING_URI, else sqlite:///<storage>/mlflow.db)",
        "experiment": "the MLflow experiment holding the parent run (default: the name)",
        "artifact_location": "where a new MLflow experiment keeps artifacts (default: "
                             "mlartifacts/ beside a sqlite database, else the server's)",
    },
    "wandb": {
        "project": "the W&B project (required)",
        "entity": "the W&B team or user (default: yours)",
        "mode": "offline (default: files only, upload later with `wandb sync`), online, "
                "disabled",
        "dir": "where W&B writes its files (default: $WANDB_DIR, else the run folder)",
    },
}
_PACKAGES = {"mlflow": ("mlflow", "pip install -e .[mlflow]"),
             "wandb": ("wandb", "pip install -e .[wandb]")}
_WANDB_MODES = ("offline", "online", "disabled")


def parse_tracking(value: Any, *, storage: str = "") -> dict[str, dict[str, str]]:
    """``{backend: {option: value}}`` for the trackers named, ``{}`` when none is."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"tracking: expected a mapping {{mlflow: {{…}}, wandb: {{…}}}}, "
                          f"got {value!r}")
    out = {}
    for backend, options in value.items():
        if backend not in BACKENDS:
            raise ConfigError(f"tracking.{backend}: unknown tracking backend; valid: "
                              f"{', '.join(BACKENDS)}")
        out[backend] = _options(backend, options)
    if "wandb" in out:
        _check_wandb(out["wandb"])
    if "mlflow" in out:
        _check_mlflow(out["mlflow"], storage)
    for backend in out:
        _check_installed(backend)
    return out


def _options(backend: str, options: Any) -> dict[str, str]:
    if options is None:  # `mlflow:` alone: every option at its default
        return {}
    if not isinstance(options, dict):
        raise ConfigError(f"tracking.{backend}: expected a mapping of options "
                          f"({', '.join(BACKENDS[backend])}), got {options!r}")
    unknown = sorted(set(options) - set(BACKENDS[backend]))
    if unknown:
        raise ConfigError(f"tracking.{backend}.{unknown[0]}: unknown key; valid keys: "
                          f"{', '.join(BACKENDS[backend])}")
    for key, v in options.items():
        if not isinstance(v, str) or not v.strip():
            raise ConfigError(f"tracking.{backend}.{key}: expected a non-empty string, "
                              f"got {v!r}")
    return {k: v.strip() for k, v in options.items()}


def _check_wandb(options: dict[str, str]) -> None:
    if "project" not in options:
        raise ConfigError(f"tracking.wandb.project: missing; {BACKENDS['wandb']['project']}")
    mode = options.setdefault("mode", "offline")
    if mode not in _WANDB_MODES:
        raise ConfigError(f"tracking.wandb.mode: expected one of {', '.join(_WANDB_MODES)}, "
                          f"got {mode!r}")


def _check_mlflow(options: dict[str, str], storage: str) -> None:
    """A remote results folder has no local disk for the default sqlite database."""
    import os

    if "tracking_uri" in options or os.environ.get("MLFLOW_TRACKING_URI"):
        return
    if "://" in storage:
        raise ConfigError("tracking.mlflow.tracking_uri: missing; with remote storage "
                          f"({storage}) give the MLflow server's URI, e.g. http://host:5000")


def _check_installed(backend: str) -> None:
    module, install = _PACKAGES[backend]
    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"tracking.{backend}: the {module} package is not installed "
                          f"({install})")
