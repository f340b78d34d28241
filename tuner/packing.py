"""`packing: {members: 16}` in an experiment: parse it, check the model packs, run packed.

Trials whose shape-changing settings agree train as one fused model (`trainables.packing`)
inside a Ray actor, while our executor (`tuner.pack_executor`) asks the same searcher and
scheduler as `tuner launch` about every member, one result per member and epoch. The result
files come out of `tuner.finish` like an unpacked run's. See docs/packing.md.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tuner.errors import ConfigError

__all__ = [
    "AUTO_MAX",
    "check_packable",
    "members_per_pack",
    "packed_records",
    "parse_packing",
    "run_packed",
]

AUTO_MAX = 16  # `members: auto` packs up to this many (the CPU benchmark's sweet spot)


def parse_packing(value: Any) -> int | str | None:
    """`{members: N}` / `{members: auto}` / `auto` / `N` → N, "auto" or None (off)."""
    if value is None or value is False:
        return None
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"members"})
        if unknown:
            raise ConfigError(f"packing.{unknown[0]}: unknown key; valid: members")
        value = value.get("members", "auto")
    if value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) \
            or value < 1:
        raise ConfigError(f"packing.members: expected a whole number >= 1 or 'auto', "
                          f"got {value!r}")
    return None if int(value) == 1 else int(value)


def members_per_pack(setting: int | str, num_samples: int, workers: int) -> int:
    """`auto`: spread the trials over the workers, at most AUTO_MAX per pack."""
    if setting != "auto":
        return int(setting)
    return max(1, min(AUTO_MAX, math.ceil(num_samples / max(1, workers))))


def check_packable(exp: Any) -> None:
    """One clear line (ConfigError) unless `exp`'s trials can train packed: the trainable
    is a `TorchTrainable`, and two sampled members run one
    training and one evaluation step under `torch.func.vmap` on a real batch."""
    from tuner.user_code import resolve_trainable

    cls = resolve_trainable(exp.trainable).obj
    if not (hasattr(cls, "make_run") and hasattr(cls, "build_model")):
        raise ConfigError(f"packing: trainable {getattr(cls, '__name__', cls)} is not a "
                          "trainables.TorchTrainable (built-in or make_trainable(model_fn)); "
                          "only those pack")
    from trainables.config import ConfigError as TrialConfigError
    from trainables.packing import NotPackable, check_vmappable, unpackable_reason

    config = {**exp.trial_config(), **exp.space.sample(np.random.default_rng(exp.seed)),
              "device": "cpu"}
    try:
        runs = [cls.make_run({**config, "seed": int(config.get("seed", 0)) + i})
                for i in range(2)]
        reason = unpackable_reason(runs[0].cfg)
        if reason:
            raise NotPackable(reason)
        x, _ = runs[0].train_data(1.0)
        check_vmappable([r.model for r in runs], x[: runs[0].cfg.batch_size])
    except (NotPackable, TrialConfigError) as exc:
        raise ConfigError(f"packing: {exc}") from None


def run_packed(exp: Any, *, address: str | None = None, resume: bool = False,
               write: Callable[[str], None] = print, quiet: bool = False,
               argv: list[str] | None = None) -> Any:
    """Tune `exp` with packed trials; writes the same files as `tuner.runner.run`, with
    the same checks before Ray starts, the same lock, manifest and `--resume` rules."""
    from tuner import preflight

    preflight.check_storage(exp)
    preflight.lock_experiment(exp)  # held until this run ends; a second launch is refused
    try:
        return _run_locked(exp, address=address, resume=resume, write=write, quiet=quiet,
                           argv=argv)
    finally:
        preflight.unlock_experiment(exp)


def _run_locked(exp: Any, *, address: str | None, resume: bool,
                write: Callable[[str], None], quiet: bool, argv: list[str] | None) -> Any:
    from tuner import pack_state, preflight
    from tuner.runner import RunOutcome, _init_ray

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
    _init_ray(address, exp)
    t1 = time.time()
    import ray

    executor = _executor(exp, ray.cluster_resources(), write)
    os.makedirs(exp.path, exist_ok=True)
    if state is not None:
        line = executor.restore(state)
        if not quiet:
            write(line)
    preflight.save_manifest(exp, resume, argv)
    if not quiet:
        write(f"tuning {exp.name} packed ({executor.plan.members} members per pack, "
              f"{executor.plan.workers} pack worker(s)): {exp.num_samples} trials, searcher "
              f"{exp.searcher}, scheduler {exp.scheduler}, results in {exp.path}")
    executor.run()
    return _results(exp, executor, (t0, t1, time.time()), write, quiet)


def _results(exp: Any, executor: Any, times: tuple[float, float, float],
             write: Callable[[str], None], quiet: bool) -> Any:
    """The result files for what ran (finished, or interrupted by Ctrl-C), as unpacked."""
    from tuner import preflight
    from tuner.finish import finish
    from tuner.runner import RunOutcome

    t0, t1, t2 = times
    interrupted = executor.interrupted
    records = [_record(t, exp.budget.max, interrupted) for t in executor.trials]
    done = finish(exp, records, interrupted=interrupted, wall=time.time() - t0, write=write,
                  quiet=quiet)
    _append_lineage(exp.path, executor.scheduler)
    wall = time.time() - t0
    if not interrupted:
        preflight.mark_finished(exp, wall)
    if not quiet:
        write(f"results: {exp.path} (trials.csv, best.json, report.md, curves.png) in "
              f"{wall:.1f} s (Ray start {t1 - t0:.2f} s, tuning {t2 - t1:.2f} s)")
    return RunOutcome(path=exp.path, records=done.records, best=done.best, test=done.test,
                      wall_seconds=wall, interrupted=interrupted, test_note=done.test_note)


def _executor(exp: Any, cluster: dict, write) -> Any:
    """The wiring `tuner launch` uses (`tuner.wiring.wire`: searcher, scheduler, limit), with
    PBT's mutable parameters chosen as for an unpacked run (`tuner.runner._pbt_params`)."""
    from tuner import wiring
    from tuner.pack_executor import PackExecutor, PackPlan
    from tuner.runner import _pbt_params, _slots
    from tuner.user_code import resolve_trainable

    cls = resolve_trainable(exp.trainable).obj
    options = dict(exp.scheduler_options)
    if exp.scheduler in ("pbt", "pb2") and "params" not in options:
        options["params"] = _pbt_params(exp, cls)
    workers = _slots(exp, cluster)
    members = members_per_pack(exp.packing, exp.num_samples, workers)
    wired = wiring.wire(exp.searcher, exp.scheduler, exp.space, exp.budget, metric=exp.metric,
                        mode=exp.mode, seed=exp.seed, slots=workers * members,
                        num_samples=exp.num_samples, points_to_evaluate=exp.points_to_evaluate,
                        searcher_options=exp.searcher_options, scheduler_options=options)
    plan = PackPlan(
        base_config=exp.trial_config(), metric=exp.metric, mode=exp.mode,
        max_epochs=exp.budget.max, num_samples=exp.num_samples, workers=workers,
        members=members, limit=wired.max_concurrent or workers * members, path=exp.path,
        cpus=exp.resources.cpus, gpus=exp.resources.gpus,
        checkpoint_every=exp.checkpoint_every, checkpoint_interval_s=exp.checkpoint_interval_s,
        max_failures=exp.max_failures, trial_prefix=_label(exp.trainable))
    return PackExecutor(plan, cls, wired.searcher, wired.scheduler, write)


def _append_lineage(path: str, scheduler: Any) -> None:
    """PBT / PB2: who copied whom, appended to report.md as `tuner.resume.append_lineage`
    does for an unpacked run (there the scheduler is found through the restored Tuner)."""
    lines = list(getattr(scheduler, "lineage_lines", list)())
    report = os.path.join(path, "report.md")
    if not lines or "://" in path or not os.path.exists(report):
        return
    from tuner.results import write_atomic

    with open(report, encoding="utf-8") as f:
        text = f.read()
    write_atomic(report, text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n")


def _label(trainable: Any) -> str:
    """`mlp`, or the class name of `pkg.mod:Name` / a class: the trial id prefix."""
    name = trainable if isinstance(trainable, str) else getattr(trainable, "__name__", "trial")
    return name.rpartition(":")[2].rpartition(".")[2] or "trial"


def packed_records(path: str, max_epochs: int, interrupted: bool) -> list | None:
    """The `TrialRecord`s of a packed run's folder, from its saved state; None when `path`
    holds no packed run. For readers such as `tuner.load`, which otherwise read Ray's
    experiment state (a packed run has none)."""
    from tuner import pack_state
    from tuner.pack_executor import PackTrial

    if not os.path.exists(os.path.join(path, pack_state.STATE_FILE)):
        return None
    trials = [PackTrial(**saved) for saved in pack_state.read(path)["trials"]]
    return [_record(t, max_epochs, interrupted) for t in trials]


def _record(trial: Any, max_epochs: int, interrupted: bool = False) -> Any:
    """As `tuner.collect` reads an unpacked trial: one stopped by Ctrl-C while running,
    paused or pending is interrupted, one that never trained not started."""
    from tuner import results as res

    status = res.status_of(trial.epochs, max_epochs, trial.error)
    if interrupted and not trial.is_finished() and not trial.error:
        status = res.INTERRUPTED if trial.epochs else res.NOT_STARTED
    return res.TrialRecord(
        trial_id=trial.trial_id, config=dict(trial.config),
        status=status, epochs=trial.epochs,
        history=list(trial.history), error=trial.error, node=trial.node,
        retries=trial.retries, checkpoint=trial.checkpoint, order=trial.order)
