"""The Python API: ``tuner.run(...)`` runs an experiment, ``tuner.load(path)`` reads one back.

It mirrors the CLI — the same parsing, validation, runner and result files — so a notebook,
a script and ``tuner launch`` produce the same folder. One call runs and one object answers
(Optuna's ``study.optimize`` / ``study.best_params`` / ``trials_dataframe()``, Syne Tune's
``load_experiment`` → ``best_config()`` and a DataFrame), instead of Ray's ``ResultGrid``
whose best trial and DataFrame take separate metric/mode/scope arguments.

Every user mistake raises :class:`tuner.ConfigError` with the CLI's one-line message.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tuner.errors import ConfigError

from tuner.followup.run_results import Results, load

__all__ = ["run", "load", "Results"]


def run(experiment: Any, *, resume: bool = False, address: str | None = None,
        quiet: bool = False, set: list[str] | None = None, **overrides: Any) -> "Results":
    """Tune ``experiment`` and return its :class:`Results`.

    ``experiment``: a YAML path (or a ``manifest.json`` to rerun), a dict shaped like an
    experiment file, or an :class:`~tuner.experiment.config.Experiment`. ``overrides`` replace top-level
    keys — ``num_samples=8``, ``name="quick"``, ``trainable=my_train_fn``,
    ``space=SearchSpace(...)`` — and ``set=["budget.max=9"]`` changes one nested field, like
    ``--set``. ``resume=True`` continues an interrupted run; ``address`` joins a Ray cluster.
    ``quiet=True`` prints nothing but errors.
    """
    if not address:
        from tuner.launch.ray_session import local_only_env

        local_only_env()  # before anything imports ray
    exp = _experiment(experiment, set or [], overrides)
    from tuner.launch.runner import run as run_experiment

    outcome = run_experiment(exp, address=address, resume=resume, write=print, quiet=quiet,
                             argv=["tuner.run", repr(experiment)[:200]])
    results = load(outcome.path)
    results.interrupted = outcome.interrupted
    return results


def _experiment(experiment: Any, dotted: list[str], overrides: dict[str, Any]):
    """Parse whatever was given into a validated Experiment (errors → ConfigError)."""
    from search_spaces import SpaceError
    from tuner.experiment import config

    try:
        if isinstance(experiment, config.Experiment):
            if dotted:
                raise ConfigError("set=: use overrides on an Experiment object, or pass a "
                                  "dict or a YAML path")
            return _replace(experiment, overrides)
        if isinstance(experiment, (str, os.PathLike)):
            return _from_path(Path(experiment), dotted, overrides)
        if isinstance(experiment, dict):
            raw = config.apply_overrides(_shallow_copy(experiment), dotted)
            raw.update(overrides)
            raw.setdefault("name", _default_name(raw.get("trainable")))
            return config.parse_experiment(raw, base_dir=Path.cwd())
    except SpaceError as exc:
        raise ConfigError(f"space: {exc}") from None
    raise ConfigError(f"experiment: expected a YAML path, a dict or an Experiment, got "
                      f"{type(experiment).__name__}")


def _default_name(trainable: Any) -> str:
    """``<trainable>_<date>_<time>`` like Ray's own experiment names: running the same dict
    twice in a notebook starts a new folder instead of being refused."""
    import time

    from tuner.experiment.user_code import describe_trainable

    base = describe_trainable(trainable).rsplit(":", 1)[-1].split(".")[-1] or "experiment"
    return f"{base}_{time.strftime('%Y-%m-%d_%H-%M-%S')}"


def _shallow_copy(raw: dict) -> dict:
    """Copy a dict whose values may be functions, classes or a SearchSpace (not deep-copyable
    in general): nested plain dicts are copied so ``set=`` never changes the caller's."""
    return {k: _shallow_copy(v) if isinstance(v, dict) else v for k, v in raw.items()}


def _from_path(path: Path, dotted: list[str], overrides: dict[str, Any]):
    from tuner.experiment import config
    from tuner.launch.rerun import rerun_experiment

    if path.suffix == ".json":
        return rerun_experiment(str(path), dotted, overrides)
    plain = {k: v for k, v in overrides.items() if _yaml_friendly(v)}
    objects = {k: v for k, v in overrides.items() if k not in plain}
    exp = config.load_experiment(path, dotted, **plain)
    return _replace(exp, objects) if objects else exp


def _yaml_friendly(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, list, dict))


def _replace(exp: Any, overrides: dict[str, Any]):
    """Overrides on an Experiment object, re-validated through the same parser."""
    if not overrides:
        return exp
    from tuner.experiment import config
    from tuner.experiment.file_form import experiment_to_raw

    raw = experiment_to_raw(exp)
    raw["trainable"], raw["space"] = exp.trainable, exp.space
    if exp.evaluate is not None:
        raw["evaluate"] = exp.evaluate
    raw.update(overrides)
    return config.parse_experiment(raw, base_dir=Path.cwd())
