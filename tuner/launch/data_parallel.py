"""Data-parallel trials in ``tuner launch``: each trial a Ray Train gang.

The experiment's ``resources: {workers, cpus_per_worker, gpus_per_worker}`` turns every trial
into a ``trainables.distributed.GangTrainable``, which trains the trial on a ``TorchTrainer``
gang: our ``TorchTrainable``s through
``trainables.distributed.torch_trainable_loop`` (sharded batches, DDP, rank-0 checkpoints),
a user's function as each worker's loop (it reads ``ray.train`` and
``trainables.distributed.get_checkpoint``). How many trials run at once follows from the
cluster and the gang (``ray_session.slots``).
"""

from __future__ import annotations

import functools
from typing import Any

from tuner.experiment.user_code import TrainableInfo

__all__ = ["decision_epochs", "describe_gang", "gang_spec", "gang_trainable"]


def gang_spec(exp: Any, address: str | None = None) -> Any:
    """The experiment's gang: workers and their resources, retries = ``max_failures``;
    Train's preemption watcher only on a cluster (``address``)."""
    from trainables.distributed import GangSpec

    r = exp.resources
    return GangSpec(r.workers, r.cpus_per_worker, r.gpus_per_worker,
                    max_failures=exp.max_failures, watch_preemption=address is not None)


def describe_gang(exp: Any) -> str:
    """One line for ``--dry-run`` and ``tuner plan``: the gang, its backend, how many fit."""
    from tuner.launch.preflight import local_capacity
    from tuner.launch.ray_session import slots

    gang = gang_spec(exp)
    here = local_capacity()
    return (f"Ray Train TorchTrainer, {gang.workers} workers, backend {gang.backend}, worker "
            f"failures retried {gang.max_failures}× from the last checkpoint; "
            f"{slots(exp, here)} trial(s) at once on this machine ({here['CPU']:g} CPU, "
            f"{here['GPU']:g} GPU)")


def gang_trainable(exp: Any, info: TrainableInfo, address: str | None = None) -> TrainableInfo:
    """The Tune trainable that runs each trial on its gang (what PBT must not mutate kept)."""
    from trainables.distributed import data_parallel_trial, torch_trainable_loop

    if info.kind == "torch":
        pausing_every = exp.checkpoint_every or (1 if _pausing(exp) else 0)
        loop = functools.partial(torch_trainable_loop, info.obj, pausing_every,
                                 decide_at=decision_epochs(exp))
    else:
        loop = info.obj
    cls = data_parallel_trial(loop, gang_spec(exp, address),
                              name=getattr(info.obj, "__name__", "trial"),
                              shape_keys=getattr(info.obj, "shape_keys", frozenset()))
    # a Tune class: saved on request, restored, cleaned up when stopped; never reused, since
    # its Train run belongs to the trial that started it
    return TrainableInfo(cls, "class", info.label, reuse_actors=False,
                         resumable=info.resumable)


def decision_epochs(exp: Any) -> frozenset[int] | None:
    """Epochs where ``exp``'s scheduler may stop or pause a trial, so its gang's rank 0 saves
    there (``trainables.distributed.save_due``): none under FIFO, the rungs of the budget
    ladder under ASHA and HyperBand, any epoch (None) under the median rule, PBT and PB2."""
    from tuner.budget import hyperband_brackets

    ladder = exp.budget
    if exp.scheduler == "fifo":
        return frozenset()
    if exp.scheduler == "hyperband":  # the paper's milestones: max·η^-s·η^i, not always ASHA's
        return frozenset(int(r) for b in hyperband_brackets(ladder.min, ladder.max, ladder.eta)
                         for r, *_ in b.rungs)
    if exp.scheduler.startswith("asha"):
        return frozenset(ladder.rung_resources())
    return None


def _pausing(exp: Any) -> bool:
    from tuner.schedulers import PAUSING_SCHEDULERS

    return exp.scheduler in PAUSING_SCHEDULERS
