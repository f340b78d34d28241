"""A run folder read back as one object: ``tuner.load(path)`` → :class:`Results`.

Finished or interrupted, packed or not: the manifest says what ran, Ray's experiment state
(or a packed run's ``pack_state.pkl``) holds every trial's per-epoch history, ``best.json``
the winner's test score. ``tuner.run`` returns the same object for the run it just made.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from typing import Any

from tuner.errors import ConfigError

__all__ = ["Results", "first", "load"]


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
        """The metric, or the first of several objectives."""
        return first(self.experiment["metric"])

    @property
    def mode(self) -> str:
        return first(self.experiment["mode"])

    @property
    def objectives(self):
        """Every objective (``tuner.pareto.Objectives``): one, or the several the run named."""
        from tuner.pareto import Objectives

        return Objectives.of(self.experiment["metric"], self.experiment["mode"])

    @functools.cached_property
    def pareto(self):
        """The Pareto set as a DataFrame: one row per member (the first objective best
        first) with every objective, its test scores (from ``best.json``) and its params.
        With one objective: the winner's row."""
        import pandas as pd

        from tuner.record.front import front_rows, pareto_members

        members = pareto_members(self.records, self.objectives) \
            if self.objectives.several else [r for r in [self.best] if r is not None]
        tests = _front_tests(self.path)
        if self.best is not None and self.test:
            tests.setdefault(self.best.trial_id, self.test)
        return pd.DataFrame(front_rows(members, self.objectives, list(self.experiment["space"]),
                                       tests))

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
        from tuner.record.finish import checkpoint_at

        return checkpoint_at(self.experiment.get("storage", ""), self.best.checkpoint)

    @functools.cached_property
    def trials(self):
        import pandas as pd

        from tuner.record.results import trials_table

        return pd.DataFrame(trials_table(self.records, list(self.experiment["space"]),
                                         self.metric, self.mode, self.objectives.names[1:]))

    @functools.cached_property
    def curves(self):
        """Every numeric metric each trial reported, per epoch (long format)."""
        import pandas as pd

        from tuner.record.collect import curve_rows

        return pd.DataFrame(curve_rows(self.path),
                            columns=["trial_id", "epoch", "metric", "value"])

    def best_model(self):
        """The winning ``torch.nn.Module`` with its trained weights (our trainables)."""
        if self.best is None or not self.best.checkpoint:
            raise ConfigError(f"{self.path}: no winning checkpoint to load")
        import trainables

        from tuner.experiment.user_code import resolve_trainable

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


def _scheduler_name(exp: dict) -> str | None:
    """The scheduler a manifest names (``{"name": …, options}``, or a bare name)."""
    scheduler = exp.get("scheduler")
    return scheduler.get("name") if isinstance(scheduler, dict) else scheduler


def load(path: str | os.PathLike) -> Results:
    """The :class:`Results` of the experiment folder at ``path`` (finished or interrupted)."""
    from tuner.record import manifest as mf
    from tuner.record.collect import RunMeta, collect_records
    from tuner.launch.packed.state import packed_records
    from tuner.record.ray_messages import RayMessages
    from tuner.record.results import pick_best

    path = str(path)
    if "://" not in path:  # Ray reads a relative path as a URI without a scheme and fails
        path = os.path.abspath(path)
    file = os.path.join(path, mf.MANIFEST)
    if not os.path.isfile(file):
        raise ConfigError(f"{path}: no {mf.MANIFEST} here — not a tuner experiment folder "
                          "(or one from before manifests)")
    manifest = mf.read_manifest(file)
    exp = manifest["experiment"]
    others = () if isinstance(exp["metric"], str) else tuple(exp["metric"][1:])
    meta = RunMeta(first(exp["metric"]), first(exp["mode"]), int(exp["budget"]["max"]), others,
                   population=_scheduler_name(exp) in ("pbt", "pb2"))
    interrupted = not manifest.get("finished")  # set when every trial of the run ended
    records = packed_records(path, meta.max_epochs, interrupted)  # a packed run: its state
    if records is None:
        with RayMessages(lambda _line: None):
            records = collect_records(path, meta, interrupted=interrupted)
    best = pick_best(records, meta.mode)
    if not isinstance(exp["metric"], str):  # several objectives: the front's lead member
        from tuner.pareto import Objectives
        from tuner.record.front import pareto_members

        best = next(iter(pareto_members(records, Objectives.of(exp["metric"], exp["mode"]))),
                    None)
    test, note = _test_from_best_json(path, best)
    return Results(path=path, experiment=exp, records=records, best=best, test=test,
                   test_note=note, interrupted=interrupted)


def first(value: Any) -> Any:
    """A manifest's ``metric``/``mode``: the value, or the first of a list of them."""
    return value if isinstance(value, str) else value[0]


def _front_tests(path: str) -> dict[str, dict]:
    """Test scores of the Pareto members ``best.json`` lists, by trial id."""
    try:
        with open(os.path.join(path, "best.json")) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return {m["trial_id"]: dict(m.get("test") or {}) for m in data.get("pareto", [])}


def _test_from_best_json(path: str, best: Any) -> tuple[dict, str]:
    try:
        with open(os.path.join(path, "best.json")) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}, "no best.json (the run has not written its results)"
    if best is None or data.get("trial_id") != best.trial_id:
        return {}, "best.json is about another trial than the current winner"
    return dict(data.get("test") or {}), str(data.get("test_note", ""))
