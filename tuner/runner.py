"""The only module that starts Ray: experiment → Tuner → results files.

Ray settings chosen for low overhead on many short trials (``python -m benchmarks.overhead``,
benchmarks/results/overhead: Ray's defaults cost 1.4–1.6 s per trivial trial, ``tuner launch``
0.08–0.12 s): ``reuse_actors=True`` (our trainables implement ``reset_config``),
``max_concurrent_trials`` = the slots the resources allow (so a model-based searcher sees
results before proposing more, ray-project/ray#14770), Ray's own progress tables off in favour
of one line per finished trial, metric/mode given once to the searcher and scheduler.
Experiment snapshots are taken every few seconds instead of ≥ 10 s so ``--resume`` redoes
little (Ray's ``TUNE_GLOBAL_CHECKPOINT_S=auto`` waits ``max(10 s, 19 × snapshot time)``,
ray/tune/execution/experiment_state.py). Trials checkpoint every ``checkpoint_every`` epochs but
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

from tuner.collect import LOG_FILE
from tuner.launch_errors import clean_failed_launch, storage_error, translated
from tuner.config import ConfigError, Experiment

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
    interrupted: bool = False  # stopped by Ctrl-C before every trial ended
    test_note: str = ""  # why there is no test score, when there is none
    finished_before: bool = False  # --resume of a run that had already ended: nothing ran


def _slots(exp: Experiment, cluster: dict[str, float]) -> int:
    """Trials that fit at once: the user's limit, else what the cluster's CPUs/GPUs allow."""
    if exp.max_concurrent:
        return exp.max_concurrent
    fits = []
    if exp.resources.cpus > 0:
        fits.append(_fit(cluster.get("CPU", 1), exp.resources.cpus))
    if exp.resources.gpus > 0:
        fits.append(_fit(cluster.get("GPU", 0), exp.resources.gpus))
    return max(1, min(fits) if fits else 1)


def _fit(have: float, each: float) -> int:
    """How many ``each`` fit in ``have``: 1 // 0.2 is 4.0 in floating point (0.2 is a hair
    above 1/5), so divide first and absorb the rounding before flooring."""
    return int(have / each + 1e-9)


def plan_text(exp: Experiment, address: str | None = None) -> str:
    """What ``--dry-run`` prints: components, trials, rungs with fidelity, resources."""
    lines = [
        f"experiment   {exp.name}  →  {exp.path}",
        f"trainable    {_label(exp)} ({_kind(exp)})   config {exp.trial_config()}",
        f"method       searcher={exp.searcher} {exp.searcher_options or ''}  "
        f"scheduler={exp.scheduler} {exp.scheduler_options or ''}".rstrip()
        + (f"   ({exp.origin})" if exp.origin else ""),
        "test score   " + (f"evaluate hook {_label_of(exp.evaluate)}" if exp.evaluate
                            else "held-out split of the dataset" if _kind(exp) == "tuner trainable"
                            else "none (no evaluate: hook given)"),
        f"metric       {exp.metric} ({exp.mode})",
        *([f"packing      {exp.packing} trials of one shape per fused model (tuner.packing)"]
          if getattr(exp, "packing", None) is not None else []),
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

        # the scheduler's own options (brackets, …) shape the plan, as they shape the run
        lines += ["", format_plan(plan(exp.budget, exp.scheduler, num_samples=exp.num_samples,
                                       space=exp.space, **exp.scheduler_options))]
    except ImportError:
        pass
    return "\n".join(lines)


def _check_results_dir(exp: Experiment, resume: bool) -> None:
    from tuner.preflight import check_results_dir

    check_results_dir(exp, resume)


def local_only_env() -> None:
    """Make a local Ray bind every server to 127.0.0.1 instead of the machine's address.

    Ray picks the loopback address as the node IP when clusters are "disabled" (its mode for
    laptops on macOS/Windows, ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``), and since
    ray-project/ray#59852 its servers bind to the node IP rather than 0.0.0.0. Must be set
    before ``import ray``; ``tuner launch`` without ``--address`` does so first thing.
    """
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def _init_ray(address: str | None, exp: Experiment | None = None) -> None:
    already = sys.modules.get("ray")
    if already is not None and already.is_initialized():
        return  # reuse the caller's session; and leave this process's environment alone
    for key, value in _RAY_ENV.items():
        os.environ.setdefault(key, value)
    if not address:
        local_only_env()
    import ray
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
        raise ConfigError(f"scheduler {exp.scheduler}: nothing to mutate — every searched "
                          f"parameter ({', '.join(exp.space.searchable)}) changes the model's "
                          "shape or is conditional")
    return params


def _build_tuner(exp: Experiment, resume: bool, callback: Any,
                 address: str | None = None, quiet: bool = False):
    import ray
    from ray import tune

    from tuner.user_code import resolve_trainable

    info = resolve_trainable(exp.trainable)
    trainable_cls = info.obj
    trainable = tune.with_resources(info.obj, exp.resources.as_ray())
    if resume:
        from ray.tune import Tuner

        if not Tuner.can_restore(exp.path):
            raise ConfigError(f"--resume: {exp.path} holds no restorable Ray experiment")

        try:
            return tune.Tuner.restore(exp.path, trainable=trainable, resume_unfinished=True,
                                      resume_errored=False)
        except Exception as exc:  # noqa: BLE001 — a truncated or corrupted state file
            raise ConfigError(f"--resume: the saved experiment state in {exp.path} cannot be "
                              f"read ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                              "); the results so far are untouched — start a new --name"
                              ) from None

    options = dict(exp.scheduler_options)
    if exp.scheduler in ("pbt", "pb2") and "params" not in options:
        options["params"] = _pbt_params(exp, trainable_cls)
    from tuner import wiring
    from tuner.checkpointing import CheckpointPolicy, TensorBoardCallback
    from tuner.resume import SchedulerStateCallback
    from tuner.mirror_callback import MirrorCallback  # optuna.journal for the dashboard

    slots = _slots(exp, ray.cluster_resources())
    # one wiring for tuner launch and the benchmark simulator (tuner/wiring.py): the limit
    # leaves room for a pausing scheduler's whole bracket / population
    wired = wiring.wire(exp.searcher, exp.scheduler, exp.space, exp.budget, metric=exp.metric,
                        mode=exp.mode, seed=exp.seed, slots=slots, num_samples=exp.num_samples,
                        points_to_evaluate=exp.points_to_evaluate,
                        searcher_options=exp.searcher_options, scheduler_options=options)
    searcher, scheduler, limit, pausing = (wired.searcher, wired.scheduler,
                                           wired.max_concurrent, wired.pausing)
    if exp.max_concurrent is None and not quiet:
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
            # only where a new trial can be swapped in: ours and functions (Ray's
            # FunctionTrainable) implement reset_config; a class without it hangs the run
            reuse_actors=info.reuse_actors,
            trial_dirname_creator=_trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=exp.name,
            storage_path=exp.storage,
            stop={"training_iteration": exp.budget.max},
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=4 if exp.scheduler in ("pbt", "pb2") else 2,
                checkpoint_frequency=0,  # CheckpointPolicy asks for mid-trial saves
                # a function saves when it chooses (Ray refuses checkpoint_at_end for it);
                # a class without save_checkpoint cannot save at all
                checkpoint_at_end=info.saves_on_request,
            ),
            failure_config=tune.FailureConfig(max_failures=exp.max_failures),
            # Ray adds its CSV and JSON loggers (result.json, progress.csv) itself
            callbacks=[callback, SchedulerStateCallback(scheduler),
                       MirrorCallback.for_experiment(exp),
                       *([CheckpointPolicy(exp.checkpoint_every or (1 if pausing else 0),
                                           exp.checkpoint_interval_s)]
                         if info.saves_on_request else []),
                       TensorBoardCallback()],
            log_to_file=LOG_FILE,  # each trial's prints, quoted when it errors
            verbose=0,
        ),
    )


def _label(exp: Experiment) -> str:
    return _label_of(exp.trainable)


def _label_of(obj: Any) -> str:
    from tuner.user_code import describe_trainable

    return describe_trainable(obj)


def _kind(exp: Experiment) -> str:
    from tuner.user_code import resolve_trainable

    kinds = {"torch": "tuner trainable", "class": "ray.tune.Trainable class",
             "function": "function trainable"}
    return kinds[resolve_trainable(exp.trainable).kind]


def _trial_dirname(trial) -> str:
    """``mlp_3f2a1b0c`` instead of Ray's 130-character name built from the config."""
    return f"{trial.trainable_name}_{trial.trial_id}"


def run(exp: Experiment, *, address: str | None = None, resume: bool = False,
        write: Callable[[str], None] = print, quiet: bool = False,
        argv: list[str] | None = None) -> RunOutcome:
    """Tune ``exp`` on Ray and write trials.csv, best.json, report.md and curves.png.

    Everything that can be known before trials start is checked first (the results folder,
    a changed experiment on ``--resume``, resources this machine lacks). A launch that fails
    before any trial reported leaves no folder behind to block a rerun. Ctrl-C lets Ray save
    its state, then writes the result files for what ran, marked interrupted.
    """
    if getattr(exp, "packing", None) is not None:  # trials fused into packs: tuner.packing
        from tuner.packing import run_packed

        return run_packed(exp, address=address, resume=resume, write=write, quiet=quiet,
                          argv=argv)
    from tuner import preflight

    preflight.check_storage(exp)
    preflight.lock_experiment(exp)  # held until this run ends; a second launch is refused
    try:
        return _run_locked(exp, address=address, resume=resume, write=write, quiet=quiet,
                           argv=argv)
    except OSError as exc:
        raise storage_error(exc, exp) from None
    finally:
        preflight.unlock_experiment(exp)


def _run_locked(exp: Experiment, *, address: str | None, resume: bool,
                write: Callable[[str], None], quiet: bool,
                argv: list[str] | None) -> RunOutcome:
    from tuner import preflight

    preflight.check_results_dir(exp, resume)
    previous = preflight.check_resume(exp) if resume else None
    if resume:
        preflight.check_saved_state(exp.path)
    if preflight.finished_before(previous, exp):
        write(f"nothing to resume: {exp.path} finished all its trials; results unchanged "
              "(raise --num-samples to add trials)")
        return RunOutcome(path=exp.path, finished_before=True)
    if not address:
        preflight.check_local_resources(exp)
    created = "://" not in exp.path and not os.path.exists(exp.path)
    t0 = time.time()
    _init_ray(address, exp)
    if address:
        import ray

        preflight.check_cluster_resources(exp, ray.cluster_resources(), write)
    if resume and previous is not None:
        preflight.extend_num_samples(exp.path, exp.num_samples)
    t1 = time.time()
    from tuner.progress import ProgressCallback  # imports ray: only after _init_ray's env
    from tuner.ray_messages import RayMessages

    callback = ProgressCallback(exp.num_samples, exp.metric, exp.budget.max, write,
                                quiet=quiet, mode=exp.mode)
    messages = RayMessages(write)
    try:
        tuner = _build_tuner(exp, resume, callback, address, quiet=quiet)
        preflight.save_manifest(exp, resume, argv)
        if not quiet:
            write(f"tuning {exp.name}: {exp.num_samples} trials of "
                  f"{_label(exp)}, searcher {exp.searcher}, scheduler {exp.scheduler}, "
                  f"results in {exp.path}")
        with messages:
            tuner.fit()
    except BaseException as exc:
        clean_failed_launch(exp, created)
        raise translated(exc, exp) from None
    t2 = time.time()
    from tuner.collect import RunMeta, collect_records
    from tuner.finish import finish

    with messages:  # reading the state warns about trials that never reported
        records = collect_records(exp.path, RunMeta(exp.metric, exp.mode, exp.budget.max),
                                  interrupted=messages.interrupted)
    interrupted = messages.interrupted
    done = finish(exp, records, interrupted=interrupted, wall=time.time() - t0, write=write,
                  quiet=quiet)
    from tuner.resume import append_lineage  # PBT/PB2: who copied whom, into report.md

    append_lineage(exp.path, tuner)
    wall = time.time() - t0
    if not interrupted:
        preflight.mark_finished(exp, wall)
    if not quiet:
        write(f"results: {exp.path} (trials.csv, best.json, report.md, curves.png) in "
              f"{wall:.1f} s (Ray start {t1 - t0:.2f} s, tuning {t2 - t1:.2f} s)")
    sys.stdout.flush()
    return RunOutcome(path=exp.path, records=done.records, best=done.best, test=done.test,
                      wall_seconds=wall, interrupted=interrupted, test_note=done.test_note)
