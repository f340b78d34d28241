"""Data-parallel trials: one Tune trial = one Ray Train ``TorchTrainer`` gang.

Ray 2.60 runs Train v2 (``RAY_TRAIN_V2_ENABLED`` on by default). Its Tune integration is a Tune
*function* that builds a ``TorchTrainer`` and calls ``fit()``; Ray's own
``ray/tune/integration/ray_train.py::TuneReportCallback`` then forwards worker reports to Tune.
We keep the TorchTrainer and replace the rest, for reasons read off Ray's source:

* the callback forwards ``metrics[0]`` — rank 0's numbers as if they were the trial's — where
  a sharded trial's training loss is the mean over all workers' shards;
* it puts only a ``checkpoint_path`` string into the metrics, never a Tune checkpoint, so a
  trial paused by HyperBand / PBT / PB2 would restart from epoch 0;
* it returns as soon as the result is queued, so the gang trains on while the scheduler is
  still deciding: a trial could run past its rung on a stale decision;
* a Tune function is stopped by ending its thread; the gang's placement group then outlives
  the trial (see :class:`GangTrainable`), and the next trial waits for it forever.

:class:`ForwardToTune` (a Train ``UserCallback``, run on Train's controller) averages every
numeric metric over the workers, hands metrics + rank 0's checkpoint to the trial through a
:class:`Channel` actor and waits for the answer; :class:`GangTrainable` (a
``tune.Trainable``, one ``step`` per
report) answers when Tune asks for the next step, i.e. once the scheduler let the trial go on.
Ray Train keeps the gang, the process group (NCCL on whole GPUs, gloo on CPUs and shared
GPUs) and worker-failure retries (``ray.train.FailureConfig``); we keep sharding, averaging
and checkpoints.

Resuming: inside the workers :func:`get_checkpoint` returns this Train run's latest checkpoint
after a worker was lost and the gang restarted, else the Tune checkpoint the trial was started
from (a paused trial resumed, a PBT clone, ``--resume``). Checkpoints are written by rank 0 and
hold the unwrapped model, so they load on any number of workers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import torch

RESUME_KEY = "_tuner_resume_from"  # the Tune checkpoint a gang starts from (train_loop_config)
GATE_KEY = "_tuner_channel"  # the trial's Channel actor (train_loop_config)
PRIVATE_KEYS = (RESUME_KEY, GATE_KEY)
CHECKPOINT_FILE = "trainable.pt"

__all__ = ["Channel", "ForwardToTune", "GangSpec", "GangTrainable", "average_metrics",
           "data_parallel_trial", "get_checkpoint", "report", "save_due", "shard_batches",
           "torch_trainable_loop"]


class GangSpec:
    """Workers per trial and what each holds."""

    def __init__(self, workers: int, cpus_per_worker: float = 1.0,
                 gpus_per_worker: float = 0.0, max_failures: int = 2,
                 watch_preemption: bool = True) -> None:
        self.workers = int(workers)
        self.cpus_per_worker = float(cpus_per_worker)
        self.gpus_per_worker = float(gpus_per_worker)
        self.max_failures = int(max_failures)
        # Train's PreemptionWatcher (one more actor per gang) drains a gang from a node that
        # is about to be taken (spot); a local run has no such node
        self.watch_preemption = bool(watch_preemption)

    @property
    def backend(self) -> str:
        """NCCL when each worker holds whole GPUs; gloo on CPUs and when workers share a GPU
        (NCCL refuses two ranks on one device: "Duplicate GPU detected")."""
        return "nccl" if self.gpus_per_worker >= 1 else "gloo"

    def scaling_config(self) -> Any:
        from ray.train import ScalingConfig

        per_worker = {"CPU": self.cpus_per_worker}
        if self.gpus_per_worker > 0:
            per_worker["GPU"] = self.gpus_per_worker
        return ScalingConfig(num_workers=self.workers, use_gpu=self.gpus_per_worker > 0,
                             resources_per_worker=per_worker)


# -- metrics ------------------------------------------------------------------------------
def average_metrics(per_worker: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The trial's metrics from every worker's report: numbers are averaged over the workers
    that reported them, anything else (strings, ``done``) is taken from rank 0,
    ``samples_per_s`` is summed (the gang's throughput), and the integer counts ``epoch``
    and ``params`` (every worker holds the whole model) stay rank 0's ints."""
    out = dict(per_worker[0])
    for key, first in per_worker[0].items():
        if isinstance(first, bool) or not isinstance(first, (int, float)):
            continue
        values = [float(m[key]) for m in per_worker
                  if isinstance(m.get(key), (int, float)) and not isinstance(m.get(key), bool)]
        out[key] = sum(values) if key == "samples_per_s" else sum(values) / len(values)
        if isinstance(first, int) and key in ("epoch", "training_iteration", "params"):
            out[key] = int(first)
    out["workers"] = len(per_worker)
    return out


def _train_callback_base() -> type:
    from ray.train.v2.api.callback import UserCallback

    return UserCallback


class ForwardToTune(_train_callback_base()):
    """Train controller side: average the workers' reports, pass them (with rank 0's
    checkpoint path) to the trial, and wait until Tune has taken the result. An ``"abort"``
    answer (the trial was stopped or paused) aborts the Train run from inside, so the gang's
    placement group is removed before the trial's actor goes away."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self.aborting = False

    def after_report(self, run_context: Any, metrics: list[dict[str, Any]],
                     checkpoint: Any) -> None:
        if self.aborting:
            return
        item = {"metrics": average_metrics(metrics),
                "checkpoint": checkpoint.path if checkpoint is not None else None}
        import ray

        if ray.get(self.channel.put_result.remote(item)) == "abort":
            self.aborting = True
            ray.get_runtime_context().current_actor.abort.remote()  # runs after we return


class Channel:
    """The meeting point of one gang's three parties (one async Ray actor per trial): Train's
    controller hands over each averaged result and waits for Tune's answer; the trial takes
    results and answers; the workers wait until the answer was CONTINUE.

    Ray Train's workers do not wait for the controller after ``ray.train.report``: a gang
    whose trial the scheduler is about to stop or pause trains on (a paused trial's gang was
    seen training past its rung). :func:`report` makes each worker wait here until the
    scheduler let the trial go on; a STOP or PAUSE aborts the gang while it waits. One actor,
    not Ray's ``Queue``s: each is a process to start, and a gang already starts several.
    """

    def __init__(self) -> None:
        import asyncio

        self.results: asyncio.Queue = asyncio.Queue(maxsize=1)
        self.answers: asyncio.Queue = asyncio.Queue(maxsize=1)
        self.taken = 0  # results Tune took and let go on
        self.changed = asyncio.Condition()

    async def put_result(self, item: dict) -> Any:
        """Controller: hand over one result; returns Tune's answer (True or "abort")."""
        await self.results.put(item)
        answer = await self.answers.get()
        if answer is True:
            async with self.changed:
                self.taken += 1
                self.changed.notify_all()
        return answer

    async def get_result(self, timeout: float) -> dict | None:
        import asyncio

        try:
            return await asyncio.wait_for(self.results.get(), timeout)
        except asyncio.TimeoutError:
            return None

    async def answer(self, value: Any) -> None:
        await self.answers.put(value)

    async def count(self) -> int:
        return self.taken

    async def wait_beyond(self, seen: int) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: self.taken > seen)


# -- the Tune trainable -------------------------------------------------------------------
def _tune_trainable_base() -> type:
    from ray import tune

    return tune.Trainable


class GangTrainable(_tune_trainable_base()):
    """One trial = one ``TorchTrainer`` run; one ``step()`` = one averaged report.

    A class rather than a Tune function so that Tune's own hooks do the work: ``save`` on a
    pause copies rank 0's latest checkpoint, ``restore`` makes the next gang start from it,
    and ``cleanup`` (called whenever Tune stops the trial) aborts the Train run and waits for
    its gang to go. A Tune function is stopped by ending its thread, and the gang's placement
    group would outlive it (Train's ``PlacementGroupCleaner`` asks the dashboard whether the
    controller lives, and there is no dashboard in a ``tuner launch`` session).

    Subclasses set ``loop_per_worker`` and ``gang`` (:func:`data_parallel_trial`).
    """

    loop_per_worker: Callable[[dict], Any]
    gang: GangSpec
    shape_keys: frozenset = frozenset()

    def setup(self, config: dict[str, Any]) -> None:
        self.resume_from: str | None = None
        self.last_checkpoint: str | None = None
        self.finished = False
        self.thread: threading.Thread | None = None
        self.failure: list[BaseException] = []
        self.waiting_ack = False

    def step(self) -> dict[str, Any]:
        import ray

        if self.thread is None:
            self._start()
        elif self.waiting_ack:
            ray.get(self.channel.answer.remote(True))
        item = self._next_result()
        self.waiting_ack = True
        self.last_checkpoint = item["checkpoint"] or self.last_checkpoint
        self.finished = bool(item["metrics"].get("done"))
        return item["metrics"]

    def _start(self) -> None:
        import ray

        self.channel = ray.remote(num_cpus=0)(Channel).remote()
        config = {**self.config, RESUME_KEY: self.resume_from, GATE_KEY: self.channel}
        trainer = _trainer(type(self).loop_per_worker, type(self).gang, config, self.trial_id,
                           self.logdir, ForwardToTune(self.channel))
        self.thread = threading.Thread(target=self._fit, args=(trainer,), daemon=True,
                                       name="train-fit")
        self.thread.start()

    def _fit(self, trainer: Any) -> None:
        try:
            trainer.fit()
        except BaseException as exc:  # noqa: BLE001 — raised by step() on Tune's thread
            self.failure.append(exc)

    def _next_result(self) -> dict[str, Any]:
        import ray

        while True:
            item = ray.get(self.channel.get_result.remote(0.5))
            if item is not None:
                return item
            if self.thread is not None and not self.thread.is_alive():
                if self.failure:
                    raise self.failure[0]
                raise RuntimeError("the Train run ended without a final report "
                                   "(its loop returned before max_epochs)")

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        source = self.last_checkpoint or self.resume_from
        if source is None:
            raise RuntimeError("no checkpoint yet: rank 0 saves every checkpoint_every epochs")
        shutil.copytree(source, checkpoint_dir, dirs_exist_ok=True)

    def load_checkpoint(self, checkpoint_dir: str) -> None:
        self.resume_from = checkpoint_dir  # the next gang starts from here
        self.last_checkpoint = None

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        return False  # a gang belongs to the trial that started it

    def cleanup(self) -> None:
        """Tune stops the trial: let a finished run end, abort any other, wait for the gang."""
        if self.thread is None:
            return
        if self.waiting_ack:
            import ray

            ray.get(self.channel.answer.remote(True if self.finished else "abort"))
        self.thread.join(timeout=120)


def _trainer(loop: Callable[[dict], Any], gang: GangSpec, config: dict, trial_id: str,
             logdir: str | None, forward: ForwardToTune) -> Any:
    from ray.train import CheckpointConfig, FailureConfig, RunConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    # Train's controller collects the workers' reports when it polls them, every 2 s by
    # default: every epoch of a gang would last ≥ 2 s (benchmarks/data_parallel.py). Train
    # passes this variable on from the process that creates the trainer to its controller.
    os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.25")
    if not gang.watch_preemption:
        os.environ.setdefault("RAY_TRAIN_ENABLE_PREEMPTION_WATCHER", "0")
    return TorchTrainer(
        loop,
        train_loop_config=config,
        torch_config=TorchConfig(backend=gang.backend),
        scaling_config=gang.scaling_config(),
        run_config=RunConfig(
            # a fresh Train run per start: Train v2 would otherwise restore the run of the
            # same name from storage, which is wrong after a PBT exploit
            name=f"{trial_id}-{uuid.uuid4().hex[:6]}",
            storage_path=os.path.join(logdir or tempfile.gettempdir(), "train"),
            failure_config=FailureConfig(max_failures=gang.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
            callbacks=[forward],
        ),
    )


def data_parallel_trial(loop_per_worker: Callable[[dict], Any], gang: GangSpec,
                        name: str = "data_parallel", shape_keys: frozenset = frozenset()
                        ) -> type[GangTrainable]:
    """A Tune trainable whose every trial trains ``loop_per_worker`` on ``gang``."""
    return type(name, (GangTrainable,), {"loop_per_worker": staticmethod(loop_per_worker),
                                         "gang": gang, "shape_keys": frozenset(shape_keys),
                                         "__module__": __name__})


# -- inside the workers -------------------------------------------------------------------
def get_checkpoint(config: Mapping[str, Any]) -> str | None:
    """The checkpoint folder a worker resumes from: this Train run's latest (a worker was
    lost and the gang restarted), else the Tune checkpoint the trial started from, else None.
    For user code run data-parallel: call it with the ``config`` your function received."""
    import ray.train

    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        return checkpoint.path
    return config.get(RESUME_KEY)


def report(config: Mapping[str, Any], metrics: dict[str, Any],
           checkpoint_dir: str | None = None) -> None:
    """``ray.train.report`` for one worker of a gang, then wait for the scheduler's decision.

    Every worker calls it once per epoch; pass ``checkpoint_dir`` from rank 0 only. Returns
    when Tune let the trial go on; when the scheduler stops or pauses the trial, the gang is
    aborted while it waits here, so no epoch is trained on a stale decision. (Plain
    ``ray.train.report`` works too, but the gang then trains on while Tune decides.)
    """
    import ray
    import ray.train

    gate = config.get(GATE_KEY)
    seen = ray.get(gate.count.remote()) if gate is not None else 0
    checkpoint = None if checkpoint_dir is None else ray.train.Checkpoint.from_directory(
        checkpoint_dir)
    ray.train.report(metrics, checkpoint=checkpoint)
    if gate is not None:
        ray.get(gate.wait_beyond.remote(seen))


def shard_batches(rank: int, world: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """Rank ``rank``'s share of each global batch of indices (every ``world``-th one).

    All workers draw the same shuffled order (same seed), so with DDP averaging the
    gradients, ``world`` workers on a global batch B take the same step as one worker on B.
    """
    return lambda idx: idx[rank::world]


def save_due(epoch: int, checkpoint_every: int, decide_at: Collection[int] | None,
             done: bool) -> bool:
    """Whether rank 0 saves after ``epoch``: every ``checkpoint_every`` epochs (0: never on
    that account), at the end, and at each epoch where the scheduler may stop or pause the
    trial (``decide_at``; None: at any epoch). Tune asks a stopped or paused trial for its
    checkpoint; a gang stopped between saves had none to give and errored (its trial was
    retried from epoch 1), or a paused one handed back an older epoch than Tune recorded."""
    every = checkpoint_every > 0 and epoch % checkpoint_every == 0
    return every or done or decide_at is None or epoch in decide_at


def torch_trainable_loop(cls: type, checkpoint_every: int, config: dict,
                         decide_at: Collection[int] | None = ()) -> None:
    """Train one of our ``TorchTrainable`` trials as one worker of its gang (DDP); rank 0
    saves as :func:`save_due` says."""
    import ray.train
    from ray.train.torch import prepare_model

    from trainables.run import TrainingRun

    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    run: TrainingRun = cls.make_run({k: v for k, v in config.items() if k not in PRIVATE_KEYS},
                                    assigned_gpus=_worker_gpus())
    resume = get_checkpoint(config)
    if resume is not None:
        run.restore(Path(resume) / CHECKPOINT_FILE)
    torch.manual_seed(run.cfg.seed + 1000 * rank + run.epoch)  # dropout differs per shard
    run.forward = prepare_model(run.model, move_to_device=run.device)
    run.batch_filter = shard_batches(rank, world)
    while run.cfg.max_epochs is None or run.epoch < run.cfg.max_epochs:
        metrics = run.train_one_epoch()
        save = rank == 0 and save_due(run.epoch, checkpoint_every, decide_at,
                                      bool(metrics.get("done")))
        _report(run, config, metrics, save)
        if metrics.get("done"):
            return


def _report(run: Any, config: Mapping[str, Any], metrics: dict, save: bool) -> None:
    if not save:
        report(config, metrics)
        return
    with tempfile.TemporaryDirectory() as folder:
        run.save(Path(folder) / CHECKPOINT_FILE)
        report(config, metrics, folder)


def _worker_gpus() -> list:
    import ray

    return list(ray.get_gpu_ids())
