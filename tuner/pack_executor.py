"""The packed executor: our searcher and scheduler objects, Ray actors that each hold a pack.

Design (b) of issue 14. Ray Tune's controller gives every trial its own actor, so k trials
in one fused model cannot be k Ray trials without a second scheduler inside the pack (a pack
actor shared by member trials, design (a), would have to hold k `step()` calls open until
every live member asked, with timeouts when one is paused). Instead this module plays the
controller itself, exactly as `benchmarks/simulator.py` already does in simulated time: the
very searcher and scheduler `tuner launch` hands to Ray are called with Ray's
`on_trial_add` / `on_trial_result` / `on_trial_complete` / `choose_trial_to_run` protocol
(`ray/tune/execution/tune_controller.py`), once per member and per epoch. So each member
stays a trial: ASHA stops member 3 and the others go on; the stopped member's row is refilled
by the next suggestion of the same shape, or the pack is compacted before its next epoch when
none is waiting (compaction costs one re-stack; a free row costs a gather every batch).

A lost actor (node failure) is replaced; its members restart from their last checkpoint
(`checkpoint_every`), like a Ray trial after a failure, up to `max_failures` times.
"""

from __future__ import annotations

import math
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler
from ray.tune.search import Searcher

PENDING, RUNNING, PAUSED = Trial.PENDING, Trial.RUNNING, Trial.PAUSED
TERMINATED, ERROR = Trial.TERMINATED, Trial.ERROR
CHECKPOINT_DIR = "checkpoint"


class PackWorker:
    """Ray actor holding one `PackedRun` per model shape among its members.

    Members of one shape train fused; packs of different shapes on the same worker train one
    after the other within an epoch call (what unpacked trials sharing the slot would do), so
    a suggestion of a new shape never waits for a whole worker to empty.
    """

    def __init__(self, trainable_cls: Any, threads: int) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        self.cls = trainable_cls
        self.packs: dict[str, Any] = {}  # pack key -> PackedRun
        self.key_of: dict[str, str] = {}  # member id -> pack key

    def add(self, member_id: str, config: dict, checkpoint: str | None) -> None:
        import ray
        import torch

        from trainables.base import CHECKPOINT_FILE
        from trainables.packing import PackedRun, pack_key

        key = pack_key({**getattr(self.cls, "defaults", {}), **config})
        if key not in self.packs:
            self.packs[key] = PackedRun(self.cls, assigned_gpus=list(ray.get_gpu_ids()))
        state = None
        if checkpoint:
            state = torch.load(os.path.join(checkpoint, CHECKPOINT_FILE), map_location="cpu",
                               weights_only=False)
        self.packs[key].add(member_id, config, state)
        self.key_of[member_id] = key

    def save(self, member_ids: list[str], directories: list[str]) -> None:
        from trainables.base import CHECKPOINT_FILE

        for member_id, directory in zip(member_ids, directories):
            os.makedirs(directory, exist_ok=True)
            tmp = os.path.join(directory, CHECKPOINT_FILE + ".tmp")
            self.packs[self.key_of[member_id]].save_member(member_id, tmp)
            os.replace(tmp, os.path.join(directory, CHECKPOINT_FILE))

    def remove(self, member_id: str) -> None:
        key = self.key_of.pop(member_id)
        self.packs[key].remove(member_id)
        if not self.packs[key].members:
            del self.packs[key]

    def train(self, member_ids: list[str]) -> tuple[dict[str, dict], str]:
        """One epoch of every pack; free rows nobody refilled are compacted away first."""
        out: dict[str, dict] = {}
        for key, pack in self.packs.items():
            ids = [m for m in member_ids if self.key_of[m] == key]
            if ids:
                pack.compact()
                out.update(pack.train_one_epoch(ids))
        return out, socket.gethostname()


@dataclass(eq=False)
class PackTrial:
    """What Ray's schedulers and searchers read from a `Trial`; hashed by identity."""

    trial_id: str
    config: dict
    order: int = 0
    status: str = PENDING
    last_result: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    epochs: int = 0
    time_total_s: float = 0.0
    checkpoint: str | None = None  # directory holding the member's TrainingRun state
    checkpoint_epoch: int = 0
    saved_at: float | None = None  # monotonic time of the last periodic checkpoint
    error: str = ""
    node: str = ""
    retries: int = 0
    worker: Any = None  # the _Worker holding it while RUNNING
    pending_action: str | None = None  # "pause" / "stop" asked while its epoch was in flight
    is_saving: bool = False
    experiment_tag: str = ""
    run_metadata: Any = None
    temporary_state: Any = None

    @property
    def evaluated_params(self) -> dict:
        return self.config

    def is_finished(self) -> bool:
        return self.status in (TERMINATED, ERROR)

    def set_config(self, config: dict) -> None:
        self.config = config

    def set_experiment_tag(self, tag: str) -> None:
        self.experiment_tag = tag


@dataclass(eq=False)
class _Worker:
    handle: Any
    members: list = field(default_factory=list)
    keys: dict = field(default_factory=dict)  # pack key -> members of that shape
    busy: bool = False


@dataclass
class PackPlan:
    """What the executor needs from the experiment (narrow, so tests need no Experiment)."""

    base_config: dict
    metric: str
    mode: str
    max_epochs: int
    num_samples: int
    workers: int
    members: int
    limit: int  # live trials at most (Ray's max_concurrent_trials)
    path: str
    cpus: float = 1.0
    gpus: float = 0.0
    checkpoint_every: int = 1
    checkpoint_interval_s: float = 10.0
    max_failures: int = 2
    trial_prefix: str = "trial"


class PackExecutor:
    """Tune with packs: the controller role of Ray's `TuneController`, for packed trials."""

    def __init__(self, plan: PackPlan, trainable_cls: Any, searcher: Searcher,
                 scheduler: TrialScheduler, write: Callable[[str], None] = print) -> None:
        self.plan, self.cls, self.write = plan, trainable_cls, write
        self.search_alg, self.scheduler = searcher, scheduler
        self.trials: list[PackTrial] = []
        self.workers: list[_Worker] = []
        self.inflight: dict[Any, _Worker] = {}
        self.searcher_done = False

    # ---- what Ray's schedulers call on the controller ------------------------------------
    def get_trials(self) -> list[PackTrial]:
        return list(self.trials)

    def get_live_trials(self) -> set[PackTrial]:
        return {t for t in self.trials if not t.is_finished()}

    def _set_trial_status(self, trial: PackTrial, status: str) -> None:
        trial.status = status

    def _schedule_trial_save(self, trial, *args, **kwargs) -> None:
        return None

    def pause_trial(self, trial: PackTrial, should_checkpoint: bool = True) -> None:
        if trial.status != RUNNING:
            return
        if trial.worker.busy:
            trial.pending_action = "pause"
            return
        self._leave(trial, save=True)
        trial.status = PAUSED

    def stop_trial(self, trial: PackTrial) -> None:
        """Ray's semantics: PENDING/PAUSED → `on_trial_remove` + result-less completion."""
        if trial.is_finished():
            return
        if trial.status in (PENDING, PAUSED):
            self.scheduler.on_trial_remove(self, trial)
            self.search_alg.on_trial_complete(trial.trial_id)
            trial.status = TERMINATED
            return
        if trial.worker.busy:
            trial.pending_action = "stop"
            return
        self._complete(trial, trial.last_result)

    # ---- the loop ------------------------------------------------------------------------
    def run(self) -> list[PackTrial]:
        import ray

        self.search_alg.set_search_properties(self.plan.metric, self.plan.mode, {})
        self.scheduler.set_search_properties(self.plan.metric, self.plan.mode)
        self._fill()
        while self.inflight:
            ready, _ = ray.wait(list(self.inflight), num_returns=1)
            worker = self.inflight.pop(ready[0])
            worker.busy = False
            try:
                metrics, node = ray.get(ready[0])
            except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as exc:
                self._lost(worker, exc)
            else:
                self._process(worker, metrics, node)
            self._fill()
        return self.trials

    def _fill(self) -> None:
        while True:
            self._top_up()
            trial = self.scheduler.choose_trial_to_run(self)
            worker = None if trial is None else self._worker_for(trial)
            if worker is None:
                break
            self._join(trial, worker)
        for worker in self.workers:
            if worker.members and not worker.busy:
                ids = [t.trial_id for t in worker.members]
                self.inflight[worker.handle.train.remote(ids)] = worker
                worker.busy = True

    def _top_up(self) -> None:
        """New trials from the searcher while fewer than `limit` are live (Ray's
        ConcurrencyLimiter) and at most `members` wait unplaced."""
        while not self.searcher_done and len(self.trials) < self.plan.num_samples:
            live = self.get_live_trials()
            waiting = sum(t.status == PENDING for t in live)
            if len(live) >= self.plan.limit or waiting >= self.plan.members:
                return
            trial_id = f"{self.plan.trial_prefix}_{len(self.trials):05d}"
            suggestion = self.search_alg.suggest(trial_id)
            if suggestion is None:
                return
            if suggestion == Searcher.FINISHED:
                self.searcher_done = True
                return
            trial = PackTrial(trial_id, {**self.plan.base_config, **suggestion},
                              order=len(self.trials))
            self.trials.append(trial)
            self.scheduler.on_trial_add(self, trial)

    def _worker_for(self, trial: PackTrial) -> _Worker | None:
        """An idle worker with room: one already holding the trial's shape (most members of
        it first, so packs fill up), else a new worker while there are slots, else the least
        loaded one."""
        key = self._key(trial)
        room = [w for w in self.workers if not w.busy and len(w.members) < self.plan.members]
        same = [w for w in room if w.keys.get(key)]
        if same:
            return max(same, key=lambda w: w.keys[key])
        if len(self.workers) < self.plan.workers:
            return self._new_worker()
        return min(room, key=lambda w: len(w.members)) if room else None

    def _key(self, trial: PackTrial) -> str:
        from trainables.packing import pack_key

        return pack_key({**getattr(self.cls, "defaults", {}), **trial.config})

    def _new_worker(self) -> _Worker:
        import ray

        actor = ray.remote(PackWorker).options(num_cpus=self.plan.cpus, num_gpus=self.plan.gpus)
        worker = _Worker(actor.remote(self.cls, int(max(1, self.plan.cpus))))
        self.workers.append(worker)
        return worker

    def _join(self, trial: PackTrial, worker: _Worker) -> None:
        """Not awaited: an actor runs its calls in order, so the next `train` sees the
        member, and a fresh actor's start-up overlaps the others' (a failed add fails that
        `train`, which counts as a lost worker)."""
        resume = trial.checkpoint if trial.status == PAUSED or trial.epochs else None
        worker.handle.add.remote(trial.trial_id, trial.config, resume)
        key = self._key(trial)
        worker.keys[key] = worker.keys.get(key, 0) + 1
        worker.members.append(trial)
        trial.worker, trial.status = worker, RUNNING

    def _leave(self, trial: PackTrial, *, save: bool) -> None:
        worker = trial.worker
        if save:
            self._save(worker, [trial])  # awaited: a resume may go to another worker
        worker.handle.remove.remote(trial.trial_id)  # ordered before the worker's next call
        worker.members.remove(trial)
        key = self._key(trial)
        worker.keys[key] -= 1
        if not worker.keys[key]:
            del worker.keys[key]
        trial.worker = None

    def _save(self, worker: _Worker, trials: list[PackTrial]) -> None:
        import ray

        dirs = [os.path.join(self.plan.path, t.trial_id, CHECKPOINT_DIR) for t in trials]
        ray.get(worker.handle.save.remote([t.trial_id for t in trials], dirs))
        for trial, directory in zip(trials, dirs):
            trial.checkpoint, trial.checkpoint_epoch = directory, trial.epochs

    # ---- results -------------------------------------------------------------------------
    def _process(self, worker: _Worker, metrics: dict[str, dict], node: str) -> None:
        for trial in list(worker.members):
            if trial.status != RUNNING or trial.worker is not worker:
                continue  # stopped or paused by a decision about another member
            if trial.pending_action:
                action, trial.pending_action = trial.pending_action, None
                self._leave(trial, save=action == "pause")
                if action == "pause":
                    trial.status = PAUSED
                else:
                    self._complete(trial, trial.last_result, left=True)
                continue
            self._report(trial, metrics[trial.trial_id], node)
        due = [t for t in worker.members if self._checkpoint_due(t)]
        if due:
            self._save(worker, due)

    def _report(self, trial: PackTrial, m: dict, node: str) -> None:
        trial.epochs, trial.node = int(m["epoch"]), node
        trial.time_total_s += float(m["epoch_seconds"])
        result = {**m, "training_iteration": trial.epochs, "trial_id": trial.trial_id,
                  "time_total_s": trial.time_total_s, "time_this_iter_s": m["epoch_seconds"],
                  "hostname": node, "done": bool(m.get("done"))}
        trial.history.append(float(m.get(self.plan.metric, math.nan)))
        trial.error = str(m.get("error", "") or "")
        trial.last_result = result
        if result["done"] or trial.epochs >= self.plan.max_epochs:
            decision = TrialScheduler.STOP  # Ray's stopper / done: no on_trial_result
        else:
            decision = self.scheduler.on_trial_result(self, trial, result)
        if decision == TrialScheduler.STOP:
            result["done"] = True
            self._complete(trial, result)
        else:
            self.search_alg.on_trial_result(trial.trial_id, result)
            if decision == TrialScheduler.PAUSE and trial.status == RUNNING:
                self._leave(trial, save=True)
                trial.status = PAUSED

    def _complete(self, trial: PackTrial, result: dict, *, left: bool = False) -> None:
        if not left:
            self._leave(trial, save=True)
        self.scheduler.on_trial_complete(self, trial, result)
        self.search_alg.on_trial_complete(trial.trial_id, result=result)
        trial.status = TERMINATED
        value = trial.history[-1] if trial.history else math.nan
        self.write(f"trial {trial.trial_id} ended after {trial.epochs} epoch(s): "
                   f"{self.plan.metric} {value:.4f}")

    def _checkpoint_due(self, trial: PackTrial) -> bool:
        every = self.plan.checkpoint_every
        if not every or trial.epochs % every or trial.epochs == trial.checkpoint_epoch:
            return False
        now = time.monotonic()
        if trial.saved_at is not None and now - trial.saved_at < self.plan.checkpoint_interval_s:
            return False
        trial.saved_at = now
        return True

    def _lost(self, worker: _Worker, exc: BaseException) -> None:
        """A pack actor died: its members go back to PENDING and resume from their last
        checkpoint (or start over), each failure counting as one retry."""
        self.workers.remove(worker)
        for trial in worker.members:
            trial.worker, trial.retries = None, trial.retries + 1
            if trial.retries > self.plan.max_failures:
                trial.status, trial.error = ERROR, f"{type(exc).__name__}: pack worker lost"
                self.scheduler.on_trial_error(self, trial)
                self.search_alg.on_trial_complete(trial.trial_id, error=True)
                continue
            trial.epochs = trial.checkpoint_epoch
            trial.history = trial.history[:trial.checkpoint_epoch]
            trial.status = PAUSED if trial.checkpoint else PENDING
        self.write(f"a pack worker was lost ({type(exc).__name__}); "
                   f"{len(worker.members)} member(s) resume from their checkpoints")
