"""A packed run: trials of one shape train as one fused model, each still a trial.

Trials whose shape-changing settings agree train as one fused model (`trainables.packing`)
inside a Ray actor, while our executor (`tuner.launch.packed.executor`) asks the same searcher
and scheduler as `tuner launch` about every member, one result per member and epoch. The result
files come out of `tuner.record.finish` like an unpacked run's. The setting itself is parsed
and checked in `tuner.experiment.packing`. See docs/packing.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from tuner.experiment.packing import check_packable, members_per_pack
from tuner.launch import preflight
from tuner.launch.lock import lock_experiment, unlock_experiment
from tuner.launch.outcome import RunOutcome
from tuner.launch.packed import state as pack_state
from tuner.launch.ray_session import init_ray, pbt_params, slots
from tuner.record import manifest

__all__ = ["run_packed", "trial_prefix"]


def run_packed(exp: Any, *, address: str | None = None, resume: bool = False,
               write: Callable[[str], None] = print, quiet: bool = False,
               argv: list[str] | None = None) -> Any:
    """Tune `exp` with packed trials; writes the same files as `tuner.launch.runner.run`, with
    the same checks before Ray starts, the same lock, manifest and `--resume` rules."""
    preflight.check_storage(exp)
    lock_experiment(exp)  # held until this run ends; a second launch is refused
    try:
        return _run_locked(exp, address=address, resume=resume, write=write, quiet=quiet,
                           argv=argv)
    finally:
        unlock_experiment(exp)


def _run_locked(exp: Any, *, address: str | None, resume: bool,
                write: Callable[[str], None], quiet: bool, argv: list[str] | None) -> Any:
    preflight.check_results_dir(exp, resume)
    previous = preflight.check_resume(exp) if resume else None
    if preflight.finished_before(previous, exp):
        write(f"nothing to resume: {exp.path} finished all its trials; results unchanged "
              "(raise --num-samples to add trials)")
        return RunOutcome(path=exp.path, finished_before=True)
    state = pack_state.read(exp.path) if resume else None
    check_packable(exp)
    if not address:
        preflight.check_local_resources(exp)
    t0 = time.time()
    init_ray(address, exp)
    t1 = time.time()
    import ray

    executor = _executor(exp, ray.cluster_resources(), write)
    os.makedirs(exp.path, exist_ok=True)
    if state is not None:
        line = executor.restore(state)
        if not quiet:
            write(line)
    manifest.save_manifest(exp, resume, argv)
    if not quiet:
        write(f"tuning {exp.name} packed ({executor.plan.members} members per pack, "
              f"{executor.plan.workers} pack worker(s)): {exp.num_samples} trials, searcher "
              f"{exp.searcher}, scheduler {exp.scheduler}, results in {exp.path}")
    executor.run()
    return _results(exp, executor, (t0, t1, time.time()), write, quiet)


def _results(exp: Any, executor: Any, times: tuple[float, float, float],
             write: Callable[[str], None], quiet: bool) -> Any:
    """The result files for what ran (finished, or interrupted by Ctrl-C), as unpacked."""
    from tuner.record.finish import append_to_report, finish

    t0, t1, t2 = times
    interrupted = executor.interrupted
    records = [pack_state.trial_record(t, exp.budget.max, interrupted)
               for t in executor.trials]
    done = finish(exp, records, interrupted=interrupted, wall=time.time() - t0, write=write,
                  quiet=quiet)
    # PBT / PB2: who copied whom (an unpacked run finds its scheduler in the restored Tuner)
    append_to_report(exp.path, list(getattr(executor.scheduler, "lineage_lines", list)()))
    wall = time.time() - t0
    if not interrupted:
        manifest.mark_finished(exp, wall)
    from tuner.record.tracking import record_outcome

    # no Ray callbacks here: the trials are replayed into MLflow / W&B from their result.json
    record_outcome(exp, done.records, done.best, done.test, interrupted=interrupted, write=write)
    if not quiet:
        write(f"results: {exp.path} (trials.csv, best.json, report.md, curves.png"
              + (", pareto.png" if exp.several else "") + ") in "
              f"{wall:.1f} s (Ray start {t1 - t0:.2f} s, tuning {t2 - t1:.2f} s)")
    return RunOutcome(path=exp.path, records=done.records, best=done.best, test=done.test,
                      wall_seconds=wall, interrupted=interrupted, test_note=done.test_note)


def _executor(exp: Any, cluster: dict, write) -> Any:
    """The wiring `tuner launch` uses (`tuner.compose.wiring.wire`: searcher, scheduler,
    limit), with PBT's mutable parameters chosen as for an unpacked run
    (`tuner.launch.ray_session.pbt_params`)."""
    from tuner.compose import wiring
    from tuner.experiment.user_code import resolve_trainable
    from tuner.launch.packed.executor import PackExecutor, PackPlan

    cls = resolve_trainable(exp.trainable).obj
    options = dict(exp.scheduler_options)
    if exp.scheduler in ("pbt", "pb2") and "params" not in options:
        options["params"] = pbt_params(exp, cls)
    workers = slots(exp, cluster)
    members = members_per_pack(exp.packing, exp.num_samples, workers)
    wired = wiring.wire(exp.searcher, exp.scheduler, exp.space, exp.budget,
                        metric=exp.search_metric,
                        mode=exp.search_mode, seed=exp.seed, slots=workers * members,
                        num_samples=exp.num_samples, points_to_evaluate=exp.points_to_evaluate,
                        searcher_options=exp.searcher_options, scheduler_options=options)
    plan = PackPlan(
        base_config=exp.trial_config(), metric=exp.metric, mode=exp.mode,
        max_epochs=exp.budget.max, num_samples=exp.num_samples, workers=workers,
        members=members, limit=wired.max_concurrent or workers * members, path=exp.path,
        cpus=exp.resources.cpus, gpus=exp.resources.gpus,
        checkpoint_every=exp.checkpoint_every, checkpoint_interval_s=exp.checkpoint_interval_s,
        max_failures=exp.max_failures, trial_prefix=trial_prefix(exp.trainable))
    return PackExecutor(plan, cls, wired.searcher, wired.scheduler, write)


def trial_prefix(trainable: Any) -> str:
    """`mlp`, or the class name of `pkg.mod:Name` / a class: the trial id prefix."""
    name = trainable if isinstance(trainable, str) else getattr(trainable, "__name__", "trial")
    return name.rpartition(":")[2].rpartition(".")[2] or "trial"
