"""The only module that starts Ray: experiment → Tuner → results files.

Ray settings chosen for low overhead on many short trials (notes §8: defaults cost ~1.4 s per
trial here, reuse + a concurrency limit ~0.1–0.15 s): ``reuse_actors=True`` (our trainables
implement ``reset_config``), ``max_concurrent_trials`` = the slots the resources allow (so a
model-based searcher sees results before proposing more, ray-project/ray#14770), Ray's own
progress tables off in favour of one line per finished trial, metric/mode given once to the
searcher and scheduler. Experiment snapshots are taken every few seconds instead of ≥ 10 s so
``--resume`` redoes little (notes §5.3). Trials checkpoint every ``checkpoint_every`` epochs but
at most once per ``checkpoint_interval_s`` of training, and TensorBoard files are flushed every
few seconds rather than fsync'ed per result (``tuner.checkpointing``): per-epoch saves of short
epochs were most of the per-trial overhead (benchmarks/results/overhead).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from tuner.config import ConfigError, Experiment
from tuner import registry, results as res

__all__ = ["run", "plan_text", "RunOutcome"]

# Environment Ray reads at import/init time; users may override any of them.
_RAY_ENV = {
    "TUNE_GLOBAL_CHECKPOINT_S": "2",        # snapshot period (default "auto" ≥ 10 s)
    "RAY_AIR_NEW_OUTPUT": "0",  # legacy reporter: silent at verbose=0 (the new one prints a box)
    "TUNE_WARN_THRESHOLD_S": "2",
    # checkpoints every epoch force small state snapshots; Ray warns about each one
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
    "RAY_DEDUP_LOGS": "1",
    "RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS": "0",
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
}


@dataclass
class RunOutcome:
    path: str
    records: list = field(default_factory=list)
    best: Any = None
    test: dict = field(default_factory=dict)
    wall_seconds: float = 0.0  # all of run(): Ray's start, tuning, test score, result files


def _slots(exp: Experiment, cluster: dict[str, float]) -> int:
    """Trials that fit at once: the user's limit, else what the cluster's CPUs/GPUs allow."""
    if exp.max_concurrent:
        return exp.max_concurrent
    fits = []
    if exp.resources.cpus > 0:
        fits.append(int(cluster.get("CPU", 1) // exp.resources.cpus + 1e-9))
    if exp.resources.gpus > 0:
        fits.append(int(cluster.get("GPU", 0) // exp.resources.gpus + 1e-9))
    return max(1, min(fits) if fits else 1)


def plan_text(exp: Experiment, address: str | None = None) -> str:
    """What ``--dry-run`` prints: components, trials, rungs with fidelity, resources."""
    lines = [
        f"experiment   {exp.name}  →  {exp.path}",
        f"trainable    {exp.trainable}   config {exp.trial_config()}",
        f"method       searcher={exp.searcher} {exp.searcher_options or ''}  "
        f"scheduler={exp.scheduler} {exp.scheduler_options or ''}".rstrip(),
        f"metric       {exp.metric} ({exp.mode})",
        f"trials       {exp.num_samples}   seed {exp.seed}   "
        f"max concurrent {exp.max_concurrent or 'as resources allow'}",
        f"resources    {exp.resources.cpus:g} CPU, {exp.resources.gpus:g} GPU per trial   "
        f"on {'Ray at ' + address if address else 'a local Ray (127.0.0.1 only)'}",
        f"budget       epochs {exp.budget.min}..{exp.budget.max}, eta {exp.budget.eta}",
        "rungs        " + ", ".join(f"{r.resource} ep @ {r.data_fraction:g} data"
                                    for r in exp.budget.rungs()),
        f"space        {len(exp.space.searchable)} searched parameters: "
        + ", ".join(f"{n} ({d.kind}{', log' if getattr(d, 'log', False) else ''}"
                    f"{', when ' + str(d.when) if d.when else ''})"
                    for n, d in exp.space.searchable.items()),
    ]
    try:
        from tuner.plan import format_plan, plan

        lines += ["", format_plan(plan(exp.budget, exp.scheduler, num_samples=exp.num_samples))]
    except ImportError:
        pass
    return "\n".join(lines)


def _check_results_dir(exp: Experiment, resume: bool) -> None:
    if "://" in exp.path:
        return  # remote storage: Ray's own checks apply
    exists = os.path.exists(exp.path) and os.listdir(exp.path)
    if exists and not resume:
        raise ConfigError(f"results directory {exp.path} already exists; pass --resume to "
                          "continue it, or choose another --name / --storage")
    if resume and not exists:
        raise ConfigError(f"--resume: no experiment at {exp.path} to continue")


def local_only_env() -> None:
    """Make a local Ray bind every server to 127.0.0.1 instead of the machine's address.

    Ray picks the loopback address as the node IP when clusters are "disabled" (its mode for
    laptops on macOS/Windows, ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``), and since
    ray-project/ray#59852 its servers bind to the node IP rather than 0.0.0.0. Must be set
    before ``import ray``; ``tuner launch`` without ``--address`` does so first thing.
    """
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def _init_ray(address: str | None, exp: Experiment | None = None) -> None:
    for key, value in _RAY_ENV.items():
        os.environ.setdefault(key, value)
    if not address:
        local_only_env()
    import ray

    if ray.is_initialized():
        return
    common = dict(include_dashboard=False, log_to_driver=False, logging_level="WARNING",
                  configure_logging=True)
    if address:
        ray.init(address=address, **common)
    else:
        # a laptop run listens on loopback only (local_only_env); nothing is exposed
        ray.init(address="local", **common)


def _pbt_params(exp: Experiment, trainable_cls: type) -> list[str]:
    """What PBT may mutate: not the keys that reshape the weights (an exploited trial loads
    another trial's checkpoint), nor conditional parameters and their parents."""
    shape = set(getattr(trainable_cls, "shape_keys", ()))
    parents = {p for dom in exp.space.values() for p in dom.when}
    params = [n for n, d in exp.space.searchable.items()
              if n not in shape and not d.when and n not in parents]
    if not params:
        raise ConfigError(f"scheduler pbt: nothing to mutate — every searched parameter "
                          f"({', '.join(exp.space.searchable)}) changes the model's shape "
                          "or is conditional")
    return params


def _build_tuner(exp: Experiment, resume: bool, callback: Any,
                 address: str | None = None):
    import ray
    from ray import tune

    trainable_cls = registry.get_trainable(exp.trainable)
    trainable = tune.with_resources(trainable_cls, exp.resources.as_ray())
    if resume:
        from ray.tune import Tuner

        if not Tuner.can_restore(exp.path):
            raise ConfigError(f"--resume: {exp.path} holds no restorable Ray experiment")
        return tune.Tuner.restore(exp.path, trainable=trainable, resume_unfinished=True,
                                  resume_errored=False)

    searcher = registry.build_searcher(
        exp.searcher, exp.space, exp.budget, metric=exp.metric, mode=exp.mode, seed=exp.seed,
        points_to_evaluate=exp.points_to_evaluate or None, **exp.searcher_options)
    options = dict(exp.scheduler_options)
    if exp.scheduler == "pbt" and "params" not in options:
        options["params"] = _pbt_params(exp, trainable_cls)
    scheduler = registry.build_scheduler(
        exp.scheduler, exp.budget, metric=exp.metric, mode=exp.mode, seed=exp.seed,
        space=exp.space, **options)
    from tuner.checkpointing import CheckpointPolicy, TensorBoardCallback
    from tuner.resume import SchedulerStateCallback
    from tuner.schedulers import PAUSING_SCHEDULERS, concurrency_hint

    slots = _slots(exp, ray.cluster_resources())
    # paused trials count against max_concurrent_trials: a pausing scheduler needs room for
    # a whole bracket / population, or its brackets hold only `slots` trials each
    limit = concurrency_hint(exp.scheduler, exp.budget, slots, exp.num_samples)
    pausing = exp.scheduler in PAUSING_SCHEDULERS
    if exp.max_concurrent is None:
        callback.write(f"{slots} trial(s) at once from the cluster's current resources"
                       + ("; an autoscaling cluster starts small — set max_concurrent to the "
                          "size it may grow to" if address else ""))
    return tune.Tuner(
        trainable,
        param_space=exp.trial_config(),
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=exp.num_samples,
            max_concurrent_trials=limit,
            reuse_actors=True,
            trial_dirname_creator=_trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=exp.name,
            storage_path=exp.storage,
            stop={"training_iteration": exp.budget.max},
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=4 if exp.scheduler == "pbt" else 2,
                checkpoint_frequency=0,  # CheckpointPolicy asks for mid-trial saves
                checkpoint_at_end=True,
            ),
            failure_config=tune.FailureConfig(max_failures=exp.max_failures),
            # Ray adds its CSV and JSON loggers (result.json, progress.csv) itself
            callbacks=[callback, SchedulerStateCallback(scheduler),
                       CheckpointPolicy(exp.checkpoint_every or (1 if pausing else 0),
                                        exp.checkpoint_interval_s),
                       TensorBoardCallback()],
            verbose=0,
        ),
    )


def _trial_dirname(trial) -> str:
    """``mlp_3f2a1b0c`` instead of Ray's 130-character name built from the config."""
    return f"{trial.trainable_name}_{trial.trial_id}"


def _retries(path: str) -> dict[str, int]:
    """Retries per trial from Ray's experiment state (survives ``--resume``, unlike a
    counter in this process)."""
    try:
        from ray.tune import ExperimentAnalysis

        # num_failures counts the final failure of an errored trial too; that one is no retry
        return {t.trial_id: int(t.num_failures) - (1 if t.status == "ERROR" else 0)
                for t in ExperimentAnalysis(path).trials}
    except Exception:  # an unreadable state only costs the retry column
        return {}


def _records(exp: Experiment, grid, retries: dict[str, int]) -> list[res.TrialRecord]:
    records = []
    for result in grid:
        metrics = result.metrics or {}
        trial_id = metrics.get("trial_id") or os.path.basename(str(result.path))
        history: list[float] = []
        try:
            df = result.metrics_dataframe
            if df is not None and exp.metric in df:
                history = [float(v) for v in df[exp.metric].tolist()]
        except Exception:  # a trial that died before its first report has no progress file
            history = []
        if not history and exp.metric in metrics:
            history = [float(metrics[exp.metric])]
        error = ""
        if result.error is not None:
            error = type(result.error).__name__
            cause = getattr(result.error, "cause", None)
            if cause is not None:
                error = f"{type(cause).__name__}: {str(cause).splitlines()[0][:120]}"
        elif metrics.get("error"):
            error = str(metrics["error"])
        epochs = int(metrics.get("training_iteration", len(history)) or 0)
        config = {k: v for k, v in (result.config or {}).items()}
        records.append(res.TrialRecord(
            trial_id=trial_id, config=config,
            status=res.status_of(epochs, exp.budget.max, error), epochs=epochs,
            history=history, error=error, node=str(metrics.get("hostname", "")),
            retries=retries.get(trial_id, 0),
            checkpoint=result.checkpoint.path if result.checkpoint else None))
    records.sort(key=lambda r: r.trial_id)
    return records


def _test_metrics(exp: Experiment, grid, best: res.TrialRecord | None) -> dict[str, float]:
    """Score the winner's final checkpoint on the held-out test split, in this process."""
    trainable_cls = registry.get_trainable(exp.trainable)
    if best is None or not hasattr(trainable_cls, "make_run"):
        return {}  # a plain ray.tune.Trainable has no held-out split we know how to score
    import trainables

    for result in grid:
        if (result.metrics or {}).get("trial_id") == best.trial_id and result.checkpoint:
            with result.checkpoint.as_directory() as directory:
                out = trainables.evaluate_checkpoint(trainable_cls, result.config, directory,
                                                     split="test")
            return {k: float(v) for k, v in out.items()}
    return {}


def run(exp: Experiment, *, address: str | None = None, resume: bool = False,
        write: Callable[[str], None] = print) -> RunOutcome:
    """Tune ``exp`` on Ray and write trials.csv, best.json, report.md and curves.png."""
    _check_results_dir(exp, resume)
    t0 = time.time()
    _init_ray(address, exp)
    t1 = time.time()
    from tuner.progress import ProgressCallback  # imports ray: only after _init_ray's env

    callback = ProgressCallback(exp.num_samples, exp.metric, exp.budget.max, write)
    tuner = _build_tuner(exp, resume, callback, address)
    write(f"tuning {exp.name}: {exp.num_samples} trials of {exp.trainable}, searcher "
          f"{exp.searcher}, scheduler {exp.scheduler}, results in {exp.path}")
    grid = tuner.fit()
    t2 = time.time()
    records = _records(exp, grid, _retries(exp.path) or callback.retries)
    best = res.pick_best(records, exp.mode)
    test = _test_metrics(exp, grid, best)
    wall = time.time() - t0
    params = list(exp.space)
    method = exp.method or f"{exp.searcher} + {exp.scheduler}"
    res.write_atomic(f"{exp.path}/trials.csv", res.trials_csv(records, params, exp.metric,
                                                              exp.mode))
    if best is not None:
        res.write_atomic(f"{exp.path}/best.json", res.best_json(
            best, metric=exp.metric, mode=exp.mode, test=test, params=params))
    res.write_atomic(f"{exp.path}/report.md", res.report_markdown(
        name=exp.name, description=exp.description, method=method, trainable=exp.trainable,
        records=records, ladder=exp.budget, metric=exp.metric, mode=exp.mode, best=best,
        test=test, params=params, wall_seconds=wall))
    res.write_atomic(f"{exp.path}/curves.png", res.plot_curves(records, exp.metric, best,
                                                               exp.budget))
    write("")
    write(res.summary_table(records, exp.metric, exp.mode))
    if best is not None:
        cfg = {p: best.config[p] for p in params if p in best.config}
        write(f"\nbest trial {best.trial_id}: validation {exp.metric} {best.last:.4f}"
              + "".join(f", {k} {v:.4f}" for k, v in test.items()))
        write(f"best config: {cfg}")
    write(f"results: {exp.path} (trials.csv, best.json, report.md, curves.png) in {wall:.1f} s "
          f"(Ray start {t1 - t0:.2f} s, tuning {t2 - t1:.2f} s)")
    sys.stdout.flush()
    return RunOutcome(path=exp.path, records=records, best=best, test=test, wall_seconds=wall)


