"""The Python API: ``tuner.run(...)`` runs an experiment, ``tuner.load(path)`` reads one back.

It mirrors the CLI — the same parsing, validation, runner and result files — so a notebook,
a script and ``tuner launch`` produce the same folder. One call runs and one object answers
(Optuna's ``study.optimize`` / ``study.best_params`` / ``trials_dataframe()``, Syne Tune's
``load_experiment`` → ``best_config()`` and a DataFrame), instead of Ray's ``ResultGrid``
whose best trial and DataFrame take separate metric/mode/scope arguments.

Every user mistake raises :class:`tuner.ConfigError` with the CLI's one-line message.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from pathlib import Path
from typing import Any

from tuner.errors import ConfigError

__all__ = ["run", "load", "Results"]


def run(experiment: Any, *, resume: bool = False, address: str | None = None,
        quiet: bool = False, set: list[str] | None = None, **overrides: Any) -> "Results":
    """Tune ``experiment`` and return its :class:`Results`.

    ``experiment``: a YAML path (or a ``manifest.json`` to rerun), a dict shaped like an
    experiment file, or an :class:`~tuner.config.Experiment`. ``overrides`` replace top-level
    keys — ``num_samples=8``, ``name="quick"``, ``trainable=my_train_fn``,
    ``space=SearchSpace(...)`` — and ``set=["budget.max=9"]`` changes one nested field, like
    ``--set``. ``resume=True`` continues an interrupted run; ``address`` joins a Ray cluster.
    ``quiet=True`` prints nothing but errors.
    """
    if not address:
        from tuner.runner import local_only_env

        local_only_env()  # before anything imports ray
    exp = _experiment(experiment, set or [], overrides)
    from tuner.runner import run as run_experiment

    outcome = run_experiment(exp, address=address, resume=resume, write=print, quiet=quiet,
                             argv=["tuner.run", repr(experiment)[:200]])
    results = load(outcome.path)
    results.interrupted = outcome.interrupted
    return results


def _experiment(experiment: Any, dotted: list[str], overrides: dict[str, Any]):
    """Parse whatever was given into a validated Experiment (errors → ConfigError)."""
    from search_spaces import SpaceError
    from tuner import config

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

    from tuner.user_code import describe_trainable

    base = describe_trainable(trainable).rsplit(":", 1)[-1].split(".")[-1] or "experiment"
    return f"{base}_{time.strftime('%Y-%m-%d_%H-%M-%S')}"


def _shallow_copy(raw: dict) -> dict:
    """Copy a dict whose values may be functions, classes or a SearchSpace (not deep-copyable
    in general): nested plain dicts are copied so ``set=`` never changes the caller's."""
    return {k: _shallow_copy(v) if isinstance(v, dict) else v for k, v in raw.items()}


def _from_path(path: Path, dotted: list[str], overrides: dict[str, Any]):
    from tuner import config, manifest

    if path.suffix == ".json":
        return manifest.rerun_experiment(str(path), dotted, overrides)
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
    from tuner import config, manifest

    raw = manifest.experiment_to_raw(exp)
    raw["trainable"], raw["space"] = exp.trainable, exp.space
    if exp.evaluate is not None:
        raw["evaluate"] = exp.evaluate
    raw.update(overrides)
    return config.parse_experiment(raw, base_dir=Path.cwd())


# ---------------------------------------------------------------------------------------
@dataclasses.dataclass
class Results:
    """A finished or interrupted experiment, read from its folder.

    ``trials`` has one row per trial (creation order); ``curves`` one row per trial, epoch
    and reported metric; ``best_*`` describe the winner as ``best.json`` does.
    """

    path: str
    experiment: dict
    records: list
    best: Any = None
    test: dict = dataclasses.field(default_factory=dict)
    test_note: str = ""
    interrupted: bool = False

    @property
    def metric(self) -> str:
        return self.experiment["metric"]

    @property
    def mode(self) -> str:
        return self.experiment["mode"]

    @property
    def best_config(self) -> dict | None:
        """The winner's whole config: searched values and fixed settings."""
        return dict(self.best.config) if self.best is not None else None

    @property
    def best_params(self) -> dict | None:
        """Only the searched values (Optuna's ``best_params``)."""
        if self.best is None:
            return None
        return {p: self.best.config[p] for p in self.experiment["space"]
                if p in self.best.config}

    @property
    def best_trial(self) -> dict | None:
        """The winner's row of :attr:`trials` as a dict."""
        if self.best is None:
            return None
        frame = self.trials
        return frame[frame.trial_id == self.best.trial_id].iloc[0].to_dict()

    @property
    def best_checkpoint(self):
        """The winner's last checkpoint as a ``ray.tune.Checkpoint`` (None if it saved none)."""
        if self.best is None or not self.best.checkpoint:
            return None
        from tuner.finish import _checkpoint

        return _checkpoint(self.experiment.get("storage", ""), self.best.checkpoint)

    @functools.cached_property
    def trials(self):
        import pandas as pd

        from tuner.results import trials_table

        return pd.DataFrame(trials_table(self.records, list(self.experiment["space"]),
                                         self.metric, self.mode))

    @functools.cached_property
    def curves(self):
        """Every numeric metric each trial reported, per epoch (long format)."""
        import pandas as pd

        from tuner.collect import curve_rows

        return pd.DataFrame(curve_rows(self.path),
                            columns=["trial_id", "epoch", "metric", "value"])

    def best_model(self):
        """The winning ``torch.nn.Module`` with its trained weights (our trainables)."""
        if self.best is None or not self.best.checkpoint:
            raise ConfigError(f"{self.path}: no winning checkpoint to load")
        import trainables

        from tuner.user_code import resolve_trainable

        info = resolve_trainable(self.experiment["trainable"])
        if info.kind != "torch":
            raise ConfigError("best_model(): only tuner's own trainables know how to rebuild "
                              "their model; load results.best_checkpoint in your code")
        with self.best_checkpoint.as_directory() as directory:
            return trainables.load_model(info.obj, self.best.config, directory)

    def __repr__(self) -> str:
        best = (f"best {self.metric}={self.best.last:.4g} ({self.best.trial_id})"
                if self.best is not None and self.best.last is not None else "no best trial")
        return (f"Results({self.path!r}: {len(self.records)} trials, {best}"
                + (", interrupted" if self.interrupted else "") + ")")


def load(path: str | os.PathLike) -> Results:
    """The :class:`Results` of the experiment folder at ``path`` (finished or interrupted)."""
    from tuner import manifest as mf
    from tuner.collect import RunMeta, collect_records
    from tuner.packing import packed_records
    from tuner.ray_messages import RayMessages
    from tuner.results import pick_best

    path = str(path)
    file = os.path.join(path, mf.MANIFEST)
    if not os.path.isfile(file):
        raise ConfigError(f"{path}: no {mf.MANIFEST} here — not a tuner experiment folder "
                          "(or one from before manifests)")
    manifest = mf.read_manifest(file)
    exp = manifest["experiment"]
    meta = RunMeta(exp["metric"], exp["mode"], int(exp["budget"]["max"]))
    interrupted = not manifest.get("finished")  # set when every trial of the run ended
    records = packed_records(path, meta.max_epochs, interrupted)  # a packed run: its state
    if records is None:
        with RayMessages(lambda _line: None):
            records = collect_records(path, meta, interrupted=interrupted)
    best = pick_best(records, meta.mode)
    test, note = _test_from_best_json(path, best)
    return Results(path=path, experiment=exp, records=records, best=best, test=test,
                   test_note=note, interrupted=interrupted)


def _test_from_best_json(path: str, best: Any) -> tuple[dict, str]:
    try:
        with open(os.path.join(path, "best.json")) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}, "no best.json (the run has not written its results)"
    if best is None or data.get("trial_id") != best.trial_id:
        return {}, "best.json is about another trial than the current winner"
    return dict(data.get("test") or {}), str(data.get("test_note", ""))
