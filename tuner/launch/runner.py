"""An unpacked run: experiment → Ray Tune's ``Tuner`` → result files.

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
few seconds rather than fsync'ed per result (``tuner.launch.checkpointing``): per-epoch saves of short
epochs were most of the per-trial overhead (benchmarks/results/overhead).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable

from tuner.errors import ConfigError
from tuner.experiment.config import Experiment
from tuner.launch import preflight
from tuner.launch.failures import clean_failed_launch, storage_error, translated
from tuner.launch.lock import lock_experiment, unlock_experiment
from tuner.launch.outcome import RunOutcome
from tuner.launch.ray_session import init_ray, pbt_params, slots
from tuner.record import manifest
from tuner.record.collect import LOG_FILE

__all__ = ["RunOutcome", "plan_text", "run"]


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
        "metric       " + (", ".join(f"{n} ({m})" for n, m in zip(exp.objectives.names,
                                                               exp.objectives.modes))
                            + " — several objectives: the Pareto front"
                            if exp.several else f"{exp.metric} ({exp.mode})"),
        *([f"packing      {exp.packing} trials of one shape per fused model (tuner.launch.packed.run)"]
          if getattr(exp, "packing", None) is not None else []),
        *([_tracking_line(exp)] if getattr(exp, "tracking", None) else []),
        f"trials       {exp.num_samples}   seed {exp.seed}   "
        f"max concurrent {exp.max_concurrent or 'as resources allow'}",
        f"resources    {exp.resources.describe()}   "
        f"on {'Ray at ' + address if address else 'a local Ray (127.0.0.1 only)'}",
        *_gang_lines(exp),
        f"budget       epochs {exp.budget.min}..{exp.budget.max}, eta {exp.budget.eta}",
        "rungs        " + ", ".join(f"{r.resource} ep @ {r.data_fraction:g} data"
                                    for r in exp.budget.rungs()),
        f"space        {len(exp.space.searchable)} searched parameters: "
        + ", ".join(f"{n} ({d.kind}{', log' if getattr(d, 'log', False) else ''}"
                    f"{', when ' + str(d.when) if d.when else ''})"
                    for n, d in exp.space.searchable.items()),
    ]
    try:
        from tuner.schedulers.plan import format_plan, plan

        # the scheduler's own options (brackets, …) shape the plan, as they shape the run
        lines += ["", format_plan(plan(exp.budget, exp.scheduler, num_samples=exp.num_samples,
                                       space=exp.space, **exp.scheduler_options))]
    except ImportError:
        pass
    return "\n".join(lines)


def _tracking_line(exp: Experiment) -> str:
    """``--dry-run``: where the run is recorded besides its folder (docs/tracking.md)."""
    from tuner.record.tracking import spec_of

    parts = []
    for backend, o in spec_of(exp).backends.items():
        if backend == "mlflow":
            parts.append(f"MLflow {o['tracking_uri']} experiment {o['experiment']!r} (parent run "
                         "+ one child per trial)")
        else:
            parts.append(f"W&B project {o['project']!r} group {exp.name!r} ({o['mode']}"
                         + (f", files in {o['dir']}" if o.get("dir") else "") + ")")
    return "tracking     " + "; ".join(parts)


def _gang_lines(exp: Experiment) -> list[str]:
    """``--dry-run``: a data-parallel trial's gang, its backend, and how many fit here."""
    if not exp.resources.data_parallel:
        return []
    from tuner.launch.data_parallel import describe_gang

    return ["gang         " + describe_gang(exp)]


def _build_tuner(exp: Experiment, resume: bool, callback: Any,
                 address: str | None = None, quiet: bool = False):
    """A restored ``Tuner`` for ``--resume``, else a new one wired as ``tuner launch`` wires."""
    from ray import tune

    from tuner.experiment.user_code import resolve_trainable

    info = resolve_trainable(exp.trainable)
    if exp.resources.data_parallel:  # each trial a Ray Train gang (tuner.launch.data_parallel)
        from tuner.launch.data_parallel import gang_trainable

        info = gang_trainable(exp, info, address)
    trainable = tune.with_resources(info.obj, exp.resources.as_ray())
    if resume:
        return _restore(exp, trainable)
    searcher, scheduler, limit, pausing = _wire(exp, info.obj, callback, address, quiet)
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
        run_config=_run_config(exp, info, callback, scheduler, pausing),
    )


def _restore(exp: Experiment, trainable: Any):
    from ray.tune import Tuner

    if not Tuner.can_restore(exp.path):
        raise ConfigError(f"--resume: {exp.path} holds no restorable Ray experiment")
    try:
        return Tuner.restore(exp.path, trainable=trainable, resume_unfinished=True,
                             resume_errored=False)
    except Exception as exc:  # noqa: BLE001 — a truncated or corrupted state file
        raise ConfigError(f"--resume: the saved experiment state in {exp.path} cannot be "
                          f"read ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                          "); the results so far are untouched — start a new --name"
                          ) from None


def _wire(exp: Experiment, trainable_cls: type, callback: Any, address: str | None,
          quiet: bool) -> tuple[Any, Any, int | None, bool]:
    """(searcher, scheduler, concurrency limit, pausing?) from the one wiring ``tuner launch``
    and the benchmark simulator share (``tuner.compose.wiring``): the limit leaves room for a
    pausing scheduler's whole bracket / population."""
    import ray

    from tuner.compose import wiring

    options = dict(exp.scheduler_options)
    if exp.scheduler in ("pbt", "pb2") and "params" not in options:
        options["params"] = pbt_params(exp, trainable_cls)
    fits = slots(exp, ray.cluster_resources())
    wired = wiring.wire(exp.searcher, exp.scheduler, exp.space, exp.budget,
                        metric=exp.search_metric, mode=exp.search_mode, seed=exp.seed,
                        slots=fits, num_samples=exp.num_samples,
                        points_to_evaluate=exp.points_to_evaluate,
                        searcher_options=exp.searcher_options, scheduler_options=options)
    if exp.max_concurrent is None and not quiet:
        callback.write(f"{fits} trial(s) at once from the cluster's current resources"
                       + ("; an autoscaling cluster starts small — set max_concurrent to the "
                          "size it may grow to" if address else ""))
    return wired.searcher, wired.scheduler, wired.max_concurrent, wired.pausing


def _run_config(exp: Experiment, info: Any, callback: Any, scheduler: Any, pausing: bool):
    """Where results go, when trials save, and the callbacks that record and show the run."""
    from ray import tune

    from tuner.launch.checkpointing import CheckpointPolicy, TensorBoardCallback
    from tuner.launch.result_logs import CsvLog, JsonLog
    from tuner.launch.resume import SchedulerStateCallback, SnapshotKeeper
    from tuner.view.mirror_callback import MirrorCallback  # optuna.journal for the dashboard

    policy = ([CheckpointPolicy(exp.checkpoint_every or (1 if pausing else 0),
                                exp.checkpoint_interval_s)] if info.saves_on_request else [])
    return tune.RunConfig(
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
        # result.json and progress.csv: Ray's loggers, minus a copy that loses rows (Ray adds
        # its own only when none of their class is given)
        callbacks=[callback, JsonLog(), CsvLog(), SchedulerStateCallback(scheduler),
                   MirrorCallback.for_experiment(exp), *policy, TensorBoardCallback(),
                   *_tracking_callbacks(exp), SnapshotKeeper(exp.path)],
        log_to_file=LOG_FILE,  # each trial's prints, quoted when it errors
        verbose=0,
    )


def _tracking_callbacks(exp: Experiment) -> list[Any]:
    """MLflow / W&B, live (tuner.record.tracking), when the experiment names them."""
    if not exp.tracking:
        return []
    from tuner.record.tracking import spec_of
    from tuner.record.tracking.callback import TrackingCallback

    return [TrackingCallback(spec_of(exp))]


def _label(exp: Experiment) -> str:
    return _label_of(exp.trainable)


def _label_of(obj: Any) -> str:
    from tuner.experiment.user_code import describe_trainable

    return describe_trainable(obj)


def _kind(exp: Experiment) -> str:
    from tuner.experiment.user_code import resolve_trainable

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
    if getattr(exp, "packing", None) is not None:  # trials fused into packs
        from tuner.launch.packed.run import run_packed

        return run_packed(exp, address=address, resume=resume, write=write, quiet=quiet,
                          argv=argv)
    preflight.check_storage(exp)
    lock_experiment(exp)  # held until this run ends; a second launch is refused
    try:
        return _run_locked(exp, address=address, resume=resume, write=write, quiet=quiet,
                           argv=argv)
    except OSError as exc:
        raise storage_error(exc, exp) from None
    finally:
        unlock_experiment(exp)


def _run_locked(exp: Experiment, *, address: str | None, resume: bool,
                write: Callable[[str], None], quiet: bool,
                argv: list[str] | None) -> RunOutcome:
    previous = _check_before_ray(exp, resume)
    if preflight.finished_before(previous, exp):
        write(f"nothing to resume: {exp.path} finished all its trials; results unchanged "
              "(raise --num-samples to add trials)")
        return RunOutcome(path=exp.path, finished_before=True)
    if not address:
        preflight.check_local_resources(exp)
    created = "://" not in exp.path and not os.path.exists(exp.path)
    t0 = time.time()
    init_ray(address, exp)
    if address:
        import ray

        preflight.check_cluster_resources(exp, ray.cluster_resources(), write)
    if resume and previous is not None:
        from tuner.launch.resume import extend_num_samples

        extend_num_samples(exp.path, exp.num_samples)
    t1 = time.time()
    interrupted, tuner = _fit(exp, resume, address, write, quiet, argv, created)
    t2 = time.time()
    done = _finish(exp, tuner, interrupted, t0, write, quiet)
    wall = time.time() - t0
    if not quiet:
        write(f"results: {exp.path} (trials.csv, best.json, report.md, curves.png"
              + (", pareto.png" if exp.several else "") + ") in "
              f"{wall:.1f} s (Ray start {t1 - t0:.2f} s, tuning {t2 - t1:.2f} s)")
    sys.stdout.flush()
    return RunOutcome(path=exp.path, records=done.records, best=done.best, test=done.test,
                      wall_seconds=wall, interrupted=interrupted, test_note=done.test_note)


def _check_before_ray(exp: Experiment, resume: bool) -> dict | None:
    """Everything that can be refused before Ray starts; the manifest being resumed."""
    preflight.check_results_dir(exp, resume)
    previous = preflight.check_resume(exp) if resume else None
    if resume:
        note = preflight.check_saved_state(exp.path)
        if note:
            print(note, file=sys.stderr, flush=True)
    return previous


def _fit(exp: Experiment, resume: bool, address: str | None, write: Callable[[str], None],
         quiet: bool, argv: list[str] | None, created: bool) -> tuple[bool, Any]:
    """Ray's ``Tuner.fit`` with our progress lines; (interrupted by Ctrl-C?, the tuner)."""
    from tuner.record.ray_messages import RayMessages
    from tuner.view.progress import ProgressCallback  # imports ray: only after init_ray's env

    callback = ProgressCallback(exp.num_samples, exp.metric, exp.budget.max, write,
                                quiet=quiet, mode=exp.mode)
    messages = RayMessages(write)
    try:
        tuner = _build_tuner(exp, resume, callback, address, quiet=quiet)
        manifest.save_manifest(exp, resume, argv)
        if not quiet:
            write(f"tuning {exp.name}: {exp.num_samples} trials of "
                  f"{_label(exp)}, searcher {exp.searcher}, scheduler {exp.scheduler}, "
                  f"results in {exp.path}")
        with messages:
            tuner.fit()
    except BaseException as exc:
        clean_failed_launch(exp, created)
        raise translated(exc, exp) from None
    return messages.interrupted, tuner


def _finish(exp: Experiment, tuner: Any, interrupted: bool, t0: float,
            write: Callable[[str], None], quiet: bool) -> Any:
    """The result files for what ran, the lineage of a population, the manifest's mark."""
    from tuner.launch.resume import lineage_lines
    from tuner.record.collect import RunMeta, collect_records
    from tuner.record.finish import append_to_report, finish
    from tuner.record.ray_messages import RayMessages

    with RayMessages(write):  # reading the state warns about trials that never reported
        others = tuple(exp.objectives.names[1:]) if exp.several else ()
        meta = RunMeta(exp.metric, exp.mode, exp.budget.max, others,
                       population=exp.scheduler in ("pbt", "pb2"))
        records = collect_records(exp.path, meta, interrupted=interrupted)
    done = finish(exp, records, interrupted=interrupted, wall=time.time() - t0, write=write,
                  quiet=quiet)
    append_to_report(exp.path, lineage_lines(tuner))  # PBT/PB2: who copied whom
    if not interrupted:
        manifest.mark_finished(exp, time.time() - t0)
    from tuner.record.tracking import record_outcome

    # after the files are final: the winner, its test score, manifest.json and report.md
    record_outcome(exp, done.records, done.best, done.test, interrupted=interrupted, write=write)
    return done
