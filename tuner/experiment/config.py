"""The experiment file: parse, apply ``--set`` overrides, validate — all before Ray starts.

Every rule a user can break raises :class:`ConfigError` with one line that names the field and
what is expected (``num_samples: expected an integer >= 1, got 0``); the CLI turns it into
exit code 2. Components (trainable, searcher, scheduler, method) are chosen by name and checked
against their registries here, so a typo never reaches a Ray worker.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from search_spaces import SearchSpace, SpaceError, load_space
from tuner.budget import BudgetError, BudgetLadder
from tuner.errors import ConfigError

__all__ = ["ConfigError", "Experiment", "Resources", "load_experiment", "apply_overrides",
           "parse_experiment", "KNOWN_KEYS"]

KNOWN_KEYS = {
    "name": "experiment name; results go to <storage>/<name>/ (default: the file's stem)",
    "description": "free text shown in the report",
    "trainable": "mlp | cnn | resnet | transformer, or 'package.module:name' of your own "
                 "function train(config) or ray.tune.Trainable class",
    "evaluate": "optional test-set hook 'package.module:fn', fn(config, checkpoint) -> "
                "{'test_accuracy': …}, run on the winner after tuning",
    "config": "fixed settings passed to every trial (dataset, seed of the data split, …)",
    "space": "search space: inline mapping, or a YAML file (path, or name under search_spaces/)",
    "method": "a named composition of searcher + scheduler (tuner methods lists them)",
    "searcher": "searcher name, or {name: …, options…}",
    "scheduler": "scheduler name, or {name: …, options…}",
    "budget": "{min, max, eta, data_fraction}: the fidelity ladder in epochs",
    "metric": "the reported metric to optimise, e.g. val_accuracy; or a list of them, "
              "e.g. [val_accuracy, params], to find the Pareto front (docs/objectives.md)",
    "mode": "max or min; a list with one per metric when metric is a list",
    "num_samples": "number of trials",
    "resources": "{cpus, gpus} per trial (gpus may be fractional: 0.25 packs 4 trials per GPU), "
                 "or {workers, cpus_per_worker, gpus_per_worker}: each trial data-parallel on "
                 "a Ray Train gang (docs/data_parallel.md)",
    "max_concurrent": "trials running at once (default: as many as resources allow)",
    "seed": "seed of searcher, scheduler and trials",
    "storage": "results directory (local path or a URI Ray supports)",
    "points_to_evaluate": "configs to try first (warm start)",
    "max_failures": "retries per trial after a crash or a lost node (from its last checkpoint)",
    "checkpoint_every": "checkpoint each N epochs (0: only at the end and when paused)",
    "checkpoint_interval_s": "…but not sooner than this many seconds of a trial's training "
                             "after its last checkpoint (default 10; 0: every N epochs)",
    "packing": "{members: N | auto}: train trials of one model shape as one fused model "
               "(docs/packing.md)",
    "tracking": "{mlflow: {tracking_uri, experiment}, wandb: {project, mode}}: record the run "
                "in MLflow / Weights & Biases too (docs/tracking.md)",
}


@dataclass(frozen=True)
class Resources:
    """What one trial holds: ``cpus``/``gpus`` for a one-process trial, or with ``workers``
    a Ray Train gang of that many data-parallel workers (``trainables.distributed``)."""

    cpus: float = 1.0
    gpus: float = 0.0
    workers: int = 0  # 0: one process per trial; N: a gang of N data-parallel workers
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0

    @property
    def data_parallel(self) -> bool:
        return self.workers > 0

    def per_trial(self) -> tuple[float, float]:
        """(CPUs, GPUs) one trial holds: its gang's total when data-parallel."""
        if self.data_parallel:
            return self.workers * self.cpus_per_worker, self.workers * self.gpus_per_worker
        return self.cpus, self.gpus

    def as_ray(self) -> dict[str, float]:
        """Tune's request for the trial's own actor. A data-parallel trial's actor only waits
        on its gang (Train schedules the workers itself), so it asks for 1 MiB of memory:
        Tune refuses an empty request, and a CPU share would keep a gang that fills a node
        from being placed."""
        if self.data_parallel:
            return {"cpu": 0, "memory": 1 << 20}
        return {"cpu": self.cpus, "gpu": self.gpus}

    def to_dict(self) -> dict[str, float | int]:
        """The experiment file's form (what ``_resources`` parses back)."""
        if self.data_parallel:
            return {"workers": self.workers, "cpus_per_worker": self.cpus_per_worker,
                    "gpus_per_worker": self.gpus_per_worker}
        return {"cpus": self.cpus, "gpus": self.gpus}

    def describe(self) -> str:
        if self.data_parallel:
            cpus, gpus = self.per_trial()
            return (f"{self.workers} data-parallel workers × ({self.cpus_per_worker:g} CPU, "
                    f"{self.gpus_per_worker:g} GPU) = {cpus:g} CPU, {gpus:g} GPU per trial")
        return f"{self.cpus:g} CPU, {self.gpus:g} GPU per trial"


@dataclass
class Experiment:
    """A validated experiment: everything the runner needs, nothing left to parse."""

    name: str
    trainable: Any  # registry name, "module:attr", or the class / function itself (Python API)
    space: SearchSpace
    searcher: str
    scheduler: str
    budget: BudgetLadder
    metric: str
    mode: str
    num_samples: int
    seed: int
    storage: str
    resources: Resources = field(default_factory=Resources)
    method: str | None = None
    searcher_options: dict = field(default_factory=dict)
    scheduler_options: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    max_concurrent: int | None = None
    points_to_evaluate: list = field(default_factory=list)
    max_failures: int = 2
    checkpoint_every: int = 1
    checkpoint_interval_s: float = 10.0
    description: str = ""
    evaluate: Any = None  # "module:fn" or a callable: fn(config, checkpoint) -> test metrics
    origin: str = ""  # where searcher and scheduler came from (shown by --dry-run)
    packing: Any = None  # members per pack (int), "auto", or None (off): tuner.launch.packed.run
    tracking: dict = field(default_factory=dict)  # {backend: options}: tuner.record.tracking
    # several objectives (metric/mode lists): all of them, metric/mode above being the first
    objectives: Any = None  # tuner.pareto.Objectives, or None for one objective

    @property
    def several(self) -> bool:
        """Whether the experiment searches for a Pareto front of several objectives."""
        return self.objectives is not None

    @property
    def search_metric(self) -> str | list[str]:
        """What the searcher and scheduler are given: the metric, or every objective."""
        return list(self.objectives.names) if self.several else self.metric

    @property
    def search_mode(self) -> str | list[str]:
        return list(self.objectives.modes) if self.several else self.mode

    @property
    def path(self) -> str:
        """Where Ray's files and ours go: ``<storage>/<name>``."""
        return os.path.join(self.storage, self.name) if "://" not in self.storage \
            else f"{self.storage.rstrip('/')}/{self.name}"

    def trial_config(self) -> dict[str, Any]:
        """Constants every trial receives next to its searched hyperparameters."""
        fixed = dict(self.config)
        fixed.setdefault("seed", self.seed)
        fixed["max_epochs"] = self.budget.max
        fixed["rung_epochs"] = [r.resource for r in self.budget.rungs()]
        schedule = self.budget.fidelity_schedule()
        if schedule:
            fixed["fidelity_schedule"] = schedule
        return fixed


# ---------------------------------------------------------------------------------------
def load_experiment(path: str | Path, overrides: list[str] | None = None,
                    **cli: Any) -> Experiment:
    """Read ``path``, apply ``--set`` overrides and CLI options, validate."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{path}: experiment file not found")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: an experiment file must be a mapping of keys "
                          f"({', '.join(KNOWN_KEYS)})")
    raw = apply_overrides(raw, overrides or [])
    set_keys = {item.partition("=")[0].split(".")[0].strip() for item in overrides or []}
    if "method" in set_keys:
        # `--set method=bohb` means that composition: the file's own searcher/scheduler
        # would otherwise override its parts; explicit --set searcher/scheduler still win
        for part in ("searcher", "scheduler"):
            if part not in set_keys:
                raw.pop(part, None)
    for key, value in cli.items():
        if value is not None:
            raw[key] = value
    raw.setdefault("name", p.stem)
    return parse_experiment(raw, base_dir=p.resolve().parent)


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """``key.sub=value`` by dotted path; values are YAML (``--set budget.max=9``)."""
    out = copy.deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item}: expected key=value, e.g. --set budget.max=9")
        key, _, text = item.partition("=")
        parts = [k for k in key.strip().split(".") if k]
        if not parts:
            raise ConfigError(f"--set {item}: empty key")
        if parts[0] not in KNOWN_KEYS:
            raise ConfigError(f"--set {item}: unknown key {parts[0]!r}; valid keys: "
                              f"{', '.join(KNOWN_KEYS)}")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        node = out
        for depth, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            elif isinstance(nxt, str) and part in ("searcher", "scheduler") and depth == 0:
                nxt = node[part] = {"name": nxt}
            elif not isinstance(nxt, dict):
                raise ConfigError(f"--set {item}: {'.'.join(parts[:depth + 1])} is not a "
                                  f"mapping (it is {nxt!r})")
            node = nxt
        node[parts[-1]] = value
    return out


# ---------------------------------------------------------------------------------------
def _int(raw: dict, key: str, default: Any, minimum: int | None = None) -> Any:
    value = raw.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{key}: expected an integer >= {minimum}, got {value}")
    return value


def _seconds(raw: dict, key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(f"{key}: expected a number of seconds >= 0, got {value!r}")
    return float(value)


def _str(raw: dict, key: str, default: Any = None, required: bool = False) -> Any:
    value = raw.get(key, default)
    if value is None:
        if required:
            raise ConfigError(f"{key}: missing; {KNOWN_KEYS[key]}")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key}: expected a non-empty string, got {value!r}")
    return value.strip()


def _component(raw: dict, key: str) -> tuple[str | None, dict]:
    value = raw.get(key)
    if value is None:
        return None, {}
    if isinstance(value, str):
        return value, {}
    if isinstance(value, dict):
        opts = dict(value)
        name = opts.pop("name", None)
        if name is not None and not isinstance(name, str):
            raise ConfigError(f"{key}.name: expected a {key} name, got {name!r}")
        # no name: options for the method's (or the default's) {key}, e.g. --set searcher.x=1
        return name, opts
    raise ConfigError(f"{key}: expected a name or a mapping with 'name', got {value!r}")


def _origin(method: str | None, searcher: str | None, scheduler: str | None) -> str:
    """Say where the searcher/scheduler pair comes from, for ``--dry-run``."""
    if method is not None:
        parts = [p for p, v in (("searcher", searcher), ("scheduler", scheduler)) if v]
        return f"method {method}" + (f" with the file's {' and '.join(parts)}" if parts else "")
    if searcher is None and scheduler is None:
        return "the default method"
    if scheduler is None:
        return "searcher from the file, scheduler from the default method"
    return "named in the file" if searcher else "scheduler from the file, random searcher"


def _resources(raw: dict) -> Resources:
    value = raw.get("resources", {}) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"resources: expected a mapping {{cpus, gpus}}, got {value!r}")
    if "workers" in value:
        return _gang(value)
    allowed = {"cpus", "gpus"}
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ConfigError(f"resources.{unknown[0]}: unknown key; valid keys: cpus, gpus "
                          "(or workers, cpus_per_worker, gpus_per_worker)")
    out = {key: _amount(value, key, default) for key, default in (("cpus", 1.0), ("gpus", 0.0))}
    if out["cpus"] == 0 and out["gpus"] == 0:
        raise ConfigError("resources: a trial needs cpus > 0 or gpus > 0")
    if out["gpus"] > 1 and not out["gpus"].is_integer():
        raise ConfigError(f"resources.gpus: fractions are only possible below 1 GPU, "
                          f"got {out['gpus']}")
    return Resources(**out)


def _gang(value: dict) -> Resources:
    """``{workers, cpus_per_worker, gpus_per_worker}``: each trial a Ray Train gang."""
    allowed = {"workers", "cpus_per_worker", "gpus_per_worker"}
    unknown = sorted(set(value) - allowed)
    if unknown:
        hint = (f"; with workers, say {unknown[0]}_per_worker" if unknown[0] in ("cpus", "gpus")
                else "")
        raise ConfigError(f"resources.{unknown[0]}: unknown key; valid keys with workers: "
                          f"workers, cpus_per_worker, gpus_per_worker{hint}")
    workers = value["workers"]
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"resources.workers: expected an integer >= 1, got {workers!r}")
    cpus = _amount(value, "cpus_per_worker", 1.0)
    gpus = _amount(value, "gpus_per_worker", 0.0)
    if cpus == 0 and gpus == 0:
        raise ConfigError("resources: a worker needs cpus_per_worker > 0 or gpus_per_worker > 0")
    if gpus > 1 and not gpus.is_integer():
        raise ConfigError(f"resources.gpus_per_worker: fractions are only possible below 1 "
                          f"GPU, got {gpus}")
    return Resources(workers=workers, cpus_per_worker=cpus, gpus_per_worker=gpus)


def _amount(value: dict, key: str, default: float) -> float:
    v = value.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise ConfigError(f"resources.{key}: expected a number >= 0, got {v!r}")
    return float(v)


def _space(raw: dict, base_dir: Path | None) -> SearchSpace:
    value = raw.get("space")
    if isinstance(value, SearchSpace):
        return value
    from tuner.experiment.ray_space import from_ray_space, is_ray_space

    if is_ray_space(value):  # a Ray Tune param_space: tune.loguniform(...), tune.choice(...)
        try:
            return from_ray_space(value)
        except SpaceError as exc:
            raise ConfigError(f"space: {exc}") from None
    if value is None:
        raise ConfigError(f"space: missing; {KNOWN_KEYS['space']}")
    if isinstance(value, str) and base_dir is not None and (base_dir / value).is_file():
        value = str(base_dir / value)
    if not isinstance(value, (str, dict)):
        raise ConfigError(f"space: expected a mapping or a file name, got {value!r}")
    try:
        return load_space(value)
    except SpaceError as exc:
        raise ConfigError(f"space: {exc}") from None


def parse_experiment(raw: dict, base_dir: Path | None = None) -> Experiment:
    """Validate a raw experiment dict (after overrides) into an :class:`Experiment`."""
    if "objectives" in raw:
        raise ConfigError("objectives: not a key; name several objectives as a list, "
                          "metric: [val_accuracy, params] with mode: [max, min]")
    unknown = sorted(set(raw) - set(KNOWN_KEYS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key; valid keys: {', '.join(KNOWN_KEYS)}")
    name = _str(raw, "name", required=True)
    if "/" in name or name in (".", ".."):
        raise ConfigError(f"name: must not contain '/', got {name!r}")
    trainable, info, evaluate = _trainable(raw, base_dir)
    objectives = _objectives(raw)
    metric, mode = objectives.names[0], objectives.modes[0]
    several = objectives.several
    method, origin, (searcher, searcher_options), (scheduler, scheduler_options) = \
        _names(raw, several)
    budget = _budget(raw)
    space = _space(raw, base_dir)
    searcher, scheduler, scheduler_options = _components(
        method, origin, searcher, searcher_options, scheduler, scheduler_options, space, info,
        several)
    exp = Experiment(
        name=name,
        trainable=trainable,
        space=space,
        searcher=searcher,
        scheduler=scheduler,
        method=method,
        searcher_options=searcher_options,
        scheduler_options=scheduler_options,
        budget=budget,
        metric=metric,
        mode=mode,
        num_samples=_int(raw, "num_samples", None, minimum=1) or _missing("num_samples"),
        seed=_int(raw, "seed", 0, minimum=0),
        storage=_storage(raw),
        resources=_resources(raw),
        config=_trial_settings(raw, space),
        max_concurrent=_int(raw, "max_concurrent", None, minimum=1),
        points_to_evaluate=_points(raw, space),
        max_failures=_int(raw, "max_failures", 2, minimum=0),
        checkpoint_every=_int(raw, "checkpoint_every", 1, minimum=0),
        checkpoint_interval_s=_seconds(raw, "checkpoint_interval_s", 10.0),
        description=str(raw.get("description", "") or ""),
        evaluate=evaluate,
        origin=origin,
        objectives=objectives if several else None,
    )
    from tuner.experiment import packing

    from tuner.experiment.tracking import parse_tracking

    exp.tracking = parse_tracking(raw.get("tracking"), storage=exp.storage)
    exp.packing = packing.parse_packing(raw.get("packing"))
    if exp.packing is not None:
        packing.check_packable(exp)  # a model vmap cannot batch: one line before Ray starts
    if exp.resources.data_parallel:
        _check_gang_trainable(exp, info)
    return exp


def _check_gang_trainable(exp: Experiment, info: Any) -> None:
    """What can run data-parallel: ours and functions; not a ``tune.Trainable`` class (its
    ``step`` has no per-worker form), and not packed (a pack is one process)."""
    if info.kind == "class":
        raise ConfigError(f"resources.workers: {info.label} is a ray.tune.Trainable class; "
                          "data-parallel trials run tuner's trainables or a function run on "
                          "every worker (docs/data_parallel.md)")
    if exp.packing is not None:
        raise ConfigError("packing: trials cannot be packed and data-parallel at once; drop "
                          "packing or resources.workers")


def _trainable(raw: dict, base_dir: Path | None) -> tuple[Any, Any, Any]:
    """(trainable as given, what it is, the evaluate hook): imported and checked now."""
    trainable = raw.get("trainable")
    if trainable is None:
        raise ConfigError(f"trainable: missing; {KNOWN_KEYS['trainable']}")
    if isinstance(trainable, str):
        trainable = _str(raw, "trainable", required=True)
    from tuner.experiment import user_code

    user_code.import_paths([str(base_dir)] if base_dir is not None else None)
    info = user_code.resolve_trainable(trainable)
    evaluate = raw.get("evaluate")
    if evaluate is not None:
        user_code.check_evaluate(evaluate)
    return trainable, info, evaluate


def _objectives(raw: dict) -> Any:
    """``metric``/``mode``: one name and a direction, or two lists of the same length."""
    from tuner.pareto import Objectives

    metric, mode = raw.get("metric"), raw.get("mode")
    if not isinstance(metric, (list, tuple)):
        metric, mode = _str(raw, "metric", required=True), _str(raw, "mode", required=True)
        if mode not in ("min", "max"):
            raise ConfigError(f"mode: expected 'min' or 'max', got {mode!r}")
        return Objectives((metric,), (mode,))
    if not metric or not all(isinstance(m, str) and m.strip() for m in metric):
        raise ConfigError(f"metric: expected metric names, got {metric!r}")
    if not isinstance(mode, (list, tuple)):
        raise ConfigError(f"mode: metric is a list of {len(metric)}, so mode must be a list "
                          f"of {len(metric)} (one 'min' or 'max' per metric), got {mode!r}")
    try:
        return Objectives(tuple(m.strip() for m in metric), tuple(mode))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _names(raw: dict, several: bool = False
           ) -> tuple[str | None, str, tuple[str, dict], tuple[str, dict]]:
    """(method, where the pair came from, (searcher, its options), (scheduler, its options)),
    the names resolved through the method as the user gave them."""
    method = _str(raw, "method")
    searcher, searcher_options = _component(raw, "searcher")
    scheduler, scheduler_options = _component(raw, "scheduler")
    origin = _origin(method, searcher, scheduler)
    from tuner.compose import methods  # lazy: imports torch and the searchers only when needed

    try:
        searcher, scheduler = methods.resolve(method=method, searcher=searcher,
                                              scheduler=scheduler, several=several)
    except (KeyError, ValueError) as exc:  # tuner.compose.methods.MethodError is a ValueError
        raise ConfigError(str(exc.args[0])) from None
    return method, origin, (searcher, searcher_options), (scheduler, scheduler_options)


def _components(method: str | None, origin: str, searcher: str, searcher_options: dict,
                scheduler: str, scheduler_options: dict, space: SearchSpace,
                info: Any, several: bool = False) -> tuple[str, str, dict]:
    """(searcher, scheduler, the scheduler's options with the method's), checked against the
    space and the trainable: the default depends on the space (PSO needs a numeric
    parameter), a pausing scheduler needs a trainable that can resume."""
    from tuner.compose import checks, methods  # lazy: imports torch and the searchers
    from tuner.schedulers import PAUSING_SCHEDULERS

    own = method
    if origin.endswith("default method"):  # nothing named, or a searcher without a scheduler
        named = None if origin == "the default method" else searcher
        searcher, scheduler = methods.resolve(method=None, searcher=named, scheduler=None,
                                              space=space, several=several)
        own = methods.default_method(space, several)  # its own settings, where its searcher runs
    scheduler_options = methods.scheduler_options(method, scheduler, scheduler_options)
    searcher_options.update({k: v for k, v in methods.searcher_options(own, searcher).items()
                             if k not in searcher_options})
    checks.check_options("searcher", searcher, searcher_options)
    checks.check_options("scheduler", scheduler, scheduler_options)
    if scheduler in PAUSING_SCHEDULERS and not info.resumable:
        raise ConfigError(f"scheduler {scheduler} pauses trials and resumes them from their "
                          f"checkpoints, but {info.label} "
                          + ("never calls ray.tune.get_checkpoint()" if info.kind == "function"
                             else "does not implement save_checkpoint")
                          + "; use asha, median or fifo, or make it save and restore checkpoints")
    try:
        checks.check_searcher_space(searcher, space)
    except SpaceError as exc:
        raise ConfigError(f"space: {exc} (searcher {searcher})") from None
    return searcher, scheduler, scheduler_options


def _budget(raw: dict) -> BudgetLadder:
    budget_raw = raw.get("budget", {}) or {}
    if not isinstance(budget_raw, dict):
        raise ConfigError(f"budget: expected a mapping {{min, max, eta}}, got {budget_raw!r}")
    try:
        return BudgetLadder.from_dict(budget_raw)
    except (BudgetError, TypeError) as exc:
        raise ConfigError(str(exc)) from None


def _trial_settings(raw: dict, space: SearchSpace) -> dict:
    config = raw.get("config", {}) or {}
    if not isinstance(config, dict):
        raise ConfigError(f"config: expected a mapping of fixed trial settings, got {config!r}")
    clash = sorted(set(config) & set(space))
    if clash:
        raise ConfigError(f"config.{clash[0]}: also a parameter of the search space; "
                          "set it in one place")
    return config


def _points(raw: dict, space: SearchSpace) -> list[dict]:
    from search_spaces import Fixed

    points = raw.get("points_to_evaluate", []) or []
    if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
        raise ConfigError("points_to_evaluate: expected a list of mappings (configs)")
    points = [{**{n: d.value for n, d in space.items()
                  if isinstance(d, Fixed) and space.is_active(n, point)}, **point}
              for point in points]  # fixed values need not be repeated in each point
    for i, point in enumerate(points):
        try:
            space.validate_config(point)
        except SpaceError as exc:
            raise ConfigError(f"points_to_evaluate[{i}]: {exc}") from None
    return points


def _storage(raw: dict) -> str:
    storage = _str(raw, "storage", "results")
    if "://" not in storage:
        storage = os.path.abspath(os.path.expanduser(storage))
    return storage


def _missing(key: str) -> Any:
    raise ConfigError(f"{key}: missing; {KNOWN_KEYS[key]}")
