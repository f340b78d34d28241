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
from typing import Any, Callable

import numpy as np

from tuner.errors import ConfigError

__all__ = ["AUTO_MAX", "UNSUPPORTED_SCHEDULERS", "parse_packing", "check_packable",
           "members_per_pack", "run_packed"]

AUTO_MAX = 16  # `members: auto` packs up to this many (the CPU benchmark's sweet spot)
# PBT / PB2 copy one trial's checkpoint into another mid-run (`exploit`), which needs Ray's
# checkpoint bookkeeping the executor does not play; they run unpacked.
UNSUPPORTED_SCHEDULERS = frozenset({"pbt", "pb2"})


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
    """One clear line (ConfigError) unless `exp`'s trials can train packed: the scheduler
    is supported, the trainable is a `TorchTrainable`, and two sampled members run one
    training and one evaluation step under `torch.func.vmap` on a real batch."""
    if exp.scheduler in UNSUPPORTED_SCHEDULERS:
        raise ConfigError(f"packing: scheduler {exp.scheduler} copies checkpoints between "
                          "trials mid-run; packed runs support fifo, asha, median and hyperband")
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
               write: Callable[[str], None] = print, quiet: bool = False) -> Any:
    """Tune `exp` with packed trials; writes the same files as `tuner.runner.run`."""
    from tuner import preflight, registry
    from tuner.finish import finish
    from tuner.runner import RunOutcome, _init_ray, _slots

    if resume:
        raise ConfigError("packing: --resume of a packed run is not supported yet; "
                          "start it again under a new --name")
    preflight.check_results_dir(exp, resume)
    check_packable(exp)
    t0 = time.time()
    _init_ray(address, exp)
    t1 = time.time()
    import ray

    executor = _executor(exp, ray.cluster_resources(), write, registry, _slots)
    os.makedirs(exp.path, exist_ok=True)
    if not quiet:
        write(f"tuning {exp.name} packed ({executor.plan.members} members per pack, "
              f"{executor.plan.workers} pack worker(s)): {exp.num_samples} trials, searcher "
              f"{exp.searcher}, scheduler {exp.scheduler}, results in {exp.path}")
    trials = executor.run()
    t2 = time.time()
    records = [_record(t, exp.budget.max) for t in trials]
    done = finish(exp, records, interrupted=False, wall=time.time() - t0, write=write,
                  quiet=quiet)
    wall = time.time() - t0
    if not quiet:
        write(f"results: {exp.path} (trials.csv, best.json, report.md, curves.png) in "
              f"{wall:.1f} s (Ray start {t1 - t0:.2f} s, tuning {t2 - t1:.2f} s)")
    return RunOutcome(path=exp.path, records=done.records, best=done.best, test=done.test,
                      wall_seconds=wall, test_note=done.test_note)


def _executor(exp: Any, cluster: dict, write, registry, slots_of) -> Any:
    from tuner.pack_executor import PackExecutor, PackPlan
    from tuner.schedulers import concurrency_hint
    from tuner.user_code import resolve_trainable

    searcher = registry.build_searcher(
        exp.searcher, exp.space, exp.budget, metric=exp.metric, mode=exp.mode, seed=exp.seed,
        points_to_evaluate=exp.points_to_evaluate or None, **exp.searcher_options)
    scheduler = registry.build_scheduler(
        exp.scheduler, exp.budget, metric=exp.metric, mode=exp.mode, seed=exp.seed,
        space=exp.space, **dict(exp.scheduler_options))
    workers = slots_of(exp, cluster)
    members = members_per_pack(exp.packing, exp.num_samples, workers)
    limit = concurrency_hint(exp.scheduler, exp.budget, workers * members, exp.num_samples)
    plan = PackPlan(
        base_config=exp.trial_config(), metric=exp.metric, mode=exp.mode,
        max_epochs=exp.budget.max, num_samples=exp.num_samples, workers=workers,
        members=members, limit=limit or workers * members, path=exp.path,
        cpus=exp.resources.cpus, gpus=exp.resources.gpus,
        checkpoint_every=exp.checkpoint_every, checkpoint_interval_s=exp.checkpoint_interval_s,
        max_failures=exp.max_failures, trial_prefix=_label(exp.trainable))
    cls = resolve_trainable(exp.trainable).obj
    return PackExecutor(plan, cls, searcher, scheduler, write)


def _label(trainable: Any) -> str:
    """`mlp`, or the class name of `pkg.mod:Name` / a class: the trial id prefix."""
    name = trainable if isinstance(trainable, str) else getattr(trainable, "__name__", "trial")
    return name.rpartition(":")[2].rpartition(".")[2] or "trial"


def _record(trial: Any, max_epochs: int) -> Any:
    from tuner import results as res

    return res.TrialRecord(
        trial_id=trial.trial_id, config=dict(trial.config),
        status=res.status_of(trial.epochs, max_epochs, trial.error), epochs=trial.epochs,
        history=list(trial.history), error=trial.error, node=trial.node,
        retries=trial.retries, checkpoint=trial.checkpoint, order=trial.order)
