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

What Ray's controller does besides, done here too: a snapshot of trials, searcher and
scheduler every `snapshot_s` seconds and at the end (`tuner.launch.packed.state`), which `--resume`
continues from; a first Ctrl-C stops handing out epochs, lets the ones in flight finish,
checkpoints every running member and snapshots (Ray's `tune.run` stops the same way, a second
Ctrl-C at once); PBT's exploit (`_schedule_trial_save`, `pause_trial`, and the checkpoint it
writes into `trial.run_metadata.checkpoint_manager`) between members of any pack.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler
from ray.tune.search import Searcher

from tuner.launch.packed import state as pack_state
from tuner.launch.packed.state import CHECKPOINT_PREFIX
from tuner.schedulers.controller import ControlledTrial, Controller

PENDING, RUNNING, PAUSED = Trial.PENDING, Trial.RUNNING, Trial.PAUSED
TERMINATED, ERROR = Trial.TERMINATED, Trial.ERROR
RESULT_FILE = "result.json"  # one JSON line per reported epoch, as Ray writes per trial


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
        self.failed: dict[str, str] = {}  # member id -> why it could not join (`add`)

    def add(self, member_id: str, config: dict, checkpoint: str | None) -> None:
        import ray
        import torch

        from trainables.base import CHECKPOINT_FILE
        from trainables.packing import PackedRun, pack_key

        key = pack_key({**getattr(self.cls, "defaults", {}), **config})
        try:
            state = None
            if checkpoint:
                state = torch.load(os.path.join(checkpoint, CHECKPOINT_FILE),
                                   map_location="cpu", weights_only=False)
            if key not in self.packs:
                self.packs[key] = PackedRun(self.cls, assigned_gpus=list(ray.get_gpu_ids()))
            self.packs[key].add(member_id, config, state)
        except Exception as exc:  # noqa: BLE001 — this member errors, its pack trains on
            text = str(exc).strip().splitlines()
            self.failed[member_id] = f"{type(exc).__name__}: {text[0][:200] if text else ''}"
            if key in self.packs and not self.packs[key].members:
                del self.packs[key]
            return
        self.key_of[member_id] = key

    def save(self, member_ids: list[str], directories: list[str]) -> None:
        from trainables.base import CHECKPOINT_FILE

        for member_id, directory in zip(member_ids, directories):
            os.makedirs(directory, exist_ok=True)
            tmp = os.path.join(directory, CHECKPOINT_FILE + ".tmp")
            self.packs[self.key_of[member_id]].save_member(member_id, tmp)
            os.replace(tmp, os.path.join(directory, CHECKPOINT_FILE))

    def remove(self, member_id: str) -> None:
        key = self.key_of.pop(member_id, None)
        if key is None:  # never joined
            self.failed.pop(member_id, None)
            return
        self.packs[key].remove(member_id)
        if not self.packs[key].members:
            del self.packs[key]

    def train(self, member_ids: list[str]) -> tuple[dict[str, dict], str]:
        """One epoch of every pack; free rows nobody refilled are compacted away first.
        A member whose `add` failed gets `{"add_error": why}` instead of metrics."""
        out: dict[str, dict] = {m: {"add_error": self.failed.pop(m)} for m in member_ids
                                if m in self.failed}
        for key, pack in self.packs.items():
            ids = [m for m in member_ids if self.key_of.get(m) == key]
            if ids:
                pack.compact()
                out.update(pack.train_one_epoch(ids))
        return out, socket.gethostname()


@dataclass(eq=False, repr=False)
class PackTrial(ControlledTrial):
    """A member of a pack, as a trial; what the executor keeps besides Ray's fields."""

    order: int = 0
    history: list = field(default_factory=list)
    epochs: int = 0
    checkpoint: str | None = None  # directory holding the member's TrainingRun state
    checkpoint_epoch: int = 0
    checkpoint_reports: int = 0  # len(history) when `checkpoint` was taken
    saved_at: float | None = None  # monotonic time of the last periodic checkpoint
    error: str = ""
    node: str = ""
    retries: int = 0
    worker: Any = None  # the _Worker holding it while RUNNING
    pending_action: str | None = None  # "pause" / "drop" (pause, no save) / "stop" asked
    # while its epoch was in flight


@dataclass(eq=False)
class _Worker:
    handle: Any
    members: list = field(default_factory=list)
    keys: dict = field(default_factory=dict)  # pack key -> members of that shape
    busy: bool = False
    lost: BaseException | None = None  # the actor died during an awaited save
    ready: Any = None  # the actor's `__ray_ready__` reference, until it has started
    born: float = 0.0  # time.monotonic() at its creation


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
    snapshot_s: float = 2.0  # Ray's TUNE_GLOBAL_CHECKPOINT_S as tuner.launch.runner sets it
    place_s: float = 60.0  # a new pack actor the cluster cannot place this long is given up


class PackExecutor(Controller):
    """Tune with packs: the controller role of Ray's `TuneController`, for packed trials."""

    def __init__(self, plan: PackPlan, trainable_cls: Any, searcher: Searcher,
                 scheduler: TrialScheduler, write: Callable[[str], None] = print) -> None:
        super().__init__(scheduler, searcher)
        self.plan, self.cls, self.write = plan, trainable_cls, write
        self.workers: list[_Worker] = []
        self.inflight: dict[Any, _Worker] = {}
        self.searcher_done = False
        self.interrupted = False  # a Ctrl-C stopped the run before every trial ended
        self._ctrl_c = False  # set by the signal handler, reported by the loop
        self.pinned: dict[str, str] = {}  # trial id -> checkpoint PBT may still clone
        self._dirty: set[str] = set()  # trials with checkpoint folders to prune
        self._snapshot_at = time.monotonic()
        self._unlogged: dict[str, list[dict]] = {}  # results the folder refused for now
        self._away = False  # the results folder refused a write (warned once per stall)

    # ---- what Ray's schedulers call on the controller ------------------------------------
    def _schedule_trial_save(self, trial: PackTrial, *args, **kwargs) -> Any:
        """PBT asks a top trial for the checkpoint a bottom one may clone: saved now (the
        trial's epoch has just returned, so its worker is idle), kept until PBT asks again
        (`pinned`), handed back as the `ray.tune.Checkpoint` Ray's controller would give."""
        from ray.tune import Checkpoint

        if trial.status == RUNNING and not trial.worker.busy:
            self._save(trial.worker, [trial])
        if not trial.checkpoint:
            return None
        self.pinned[trial.trial_id] = trial.checkpoint
        return Checkpoint.from_directory(trial.checkpoint)

    def pause_trial(self, trial: PackTrial, should_checkpoint: bool = True) -> None:
        if trial.status != RUNNING:
            return
        if trial.worker.busy:
            trial.pending_action = "pause" if should_checkpoint else "drop"
            return
        self._leave(trial, save=should_checkpoint)
        trial.status = PAUSED

    def complete_running(self, trial: PackTrial) -> None:
        """Stopping a running member: at once, or when its epoch in flight returns."""
        if trial.worker.busy:
            trial.pending_action = "stop"
            return
        self._complete(trial, trial.last_result)

    # ---- the loop ------------------------------------------------------------------------
    def run(self) -> list[PackTrial]:
        """Until every trial ended, or a Ctrl-C: then the epochs in flight finish, every
        running member is checkpointed and the state saved (`interrupted` is set)."""
        import ray

        self._properties()
        try:
            with self._first_ctrl_c():
                self._fill()
                while self.inflight:
                    ready, _ = ray.wait(list(self.inflight), num_returns=1, timeout=1.0)
                    self._note_ctrl_c()
                    if ready:
                        self._collect(ready[0])
                    if not self.interrupted:
                        self._give_up_unplaceable()
                        self._fill()
                    if time.monotonic() - self._snapshot_at >= self.plan.snapshot_s:
                        self.save_state(final=False)
                if self.interrupted:
                    self._save_running()
                self.save_state()
        finally:
            self._release_workers()
        return self.trials

    def _release_workers(self) -> None:
        """End the pack actors, as Ray's controller ends trial actors: in a Ray session that
        outlives the run (``tuner.run`` in a notebook, a test's shared session) they would
        keep their CPUs and GPUs, and the next run would wait for them."""
        import ray

        for worker in self.workers:
            try:
                ray.kill(worker.handle)
            except Exception:  # noqa: BLE001 — an actor already lost with its node
                pass
        self.workers.clear()

    def _properties(self) -> None:
        self.search_alg.set_search_properties(self.plan.metric, self.plan.mode, {})
        self.scheduler.set_search_properties(self.plan.metric, self.plan.mode)

    def _collect(self, ref: Any) -> None:
        import ray

        worker = self.inflight.pop(ref)
        worker.busy = False
        try:
            metrics, node = ray.get(ref)
        except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as exc:
            self._lost(worker, exc)
        else:
            self._process(worker, metrics, node)
            if worker.lost is not None and worker in self.workers:
                self._lost(worker, worker.lost)  # died while saving a member that left it

    @contextmanager
    def _first_ctrl_c(self):
        """The first SIGINT only sets a flag (the loop stops gracefully); the handler it
        replaced is back at once, so a second Ctrl-C raises KeyboardInterrupt as usual."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum, frame) -> None:
            self._ctrl_c = True
            signal.signal(signal.SIGINT, previous)

        signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _note_ctrl_c(self) -> None:
        if self._ctrl_c and not self.interrupted:
            self.interrupted = True
            self.write("interrupted: saving the experiment state (Ctrl-C again stops at once)")

    def _save_running(self) -> None:
        for worker in self.workers:
            running = [t for t in worker.members if t.status == RUNNING]
            if running:
                self._save(worker, running)

    # ---- persistence (tuner.launch.packed.state) -----------------------------------------
    def save_state(self, final: bool = True) -> None:
        """Snapshot trials + searcher + scheduler; then drop checkpoints nothing names.

        Mid-run (``final=False``) a folder that refuses the snapshot for a moment (read-only,
        full: the fault soak's storage stall) is said once and tried again a period later;
        the last snapshot must be written."""
        self._snapshot_at = time.monotonic()
        try:
            self._write_results()
            pack_state.write(self.plan.path, pack_state.snapshot(
                self.trials, self.search_alg, self.scheduler, self.plan.num_samples))
        except OSError as exc:
            if final:
                raise
            self._refused(exc)
            return
        if self._dirty:
            keep = {t.checkpoint for t in self.trials} | set(self.pinned.values())
            pack_state.prune(self.plan.path, self._dirty, keep)
            self._dirty = set()

    def restore(self, state: dict) -> str:
        """Continue from a snapshot, as `TuneController.resume` does: the searcher and the
        scheduler get their saved state, then every trial is added again in creation order;
        members that were running go back to their last checkpoint (or start over)."""
        pack_state.restore_searcher(self.search_alg, state.get("searcher"))
        if state.get("scheduler") is not None and hasattr(self.scheduler, "set_state"):
            self.scheduler.set_state(state["scheduler"])
        self._properties()
        for saved in state["trials"]:
            trial = PackTrial(**saved)
            if trial.status == RUNNING:
                self._rewind(trial)
            self.trials.append(trial)
            self.scheduler.on_trial_add(self, trial)
        self._set_aside_orphans()
        ended = sum(t.is_finished() for t in self.trials)
        resumed = sum(t.status == PAUSED for t in self.trials)
        return (f"resumed {len(self.trials)} trial(s): {ended} ended, {resumed} continue "
                "from their checkpoints, "
                f"{len(self.trials) - ended - resumed} start from epoch 1")

    def _set_aside_orphans(self) -> None:
        """Rename the folders of trials the snapshot never knew to ``<id>.orphan``.

        A killed driver may have started trials after its last snapshot; the resumed one
        numbers its trials on from that snapshot, so it would hand such an id to a new trial
        and append to the orphan's ``result.json``. Set aside, the orphan's rows stay what
        they are: results lost in flight (``tuner.record.ledger`` counts them)."""
        known = {t.trial_id for t in self.trials}
        try:
            names = os.listdir(self.plan.path)
        except FileNotFoundError:
            return
        for name in names:
            folder = os.path.join(self.plan.path, name)
            if name in known or "." in name or not os.path.isfile(
                    os.path.join(folder, RESULT_FILE)):
                continue
            target, n = f"{folder}.orphan", 1
            while os.path.exists(target):
                target, n = f"{folder}.orphan{n}", n + 1
            os.replace(folder, target)

    def _rewind(self, trial: PackTrial) -> None:
        """Back to the trial's last checkpoint, or to nothing if it has none."""
        if not trial.checkpoint:
            trial.checkpoint_epoch = trial.checkpoint_reports = 0
        trial.epochs = trial.checkpoint_epoch
        trial.history = trial.history[:trial.checkpoint_reports]
        trial.status = PAUSED if trial.checkpoint else PENDING

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
        handle = actor.remote(self.cls, int(max(1, self.plan.cpus)))
        worker = _Worker(handle, ready=handle.__ray_ready__.remote(), born=time.monotonic())
        self.workers.append(worker)
        return worker

    def _give_up_unplaceable(self) -> None:
        """Give up a new pack actor the cluster has not placed for ``place_s`` while other
        workers run, and run with the workers that are there.

        Found by the packed fault soak: after a node died, the executor replaced its lost
        workers with actors the smaller cluster could not place, the lost members waited in
        them, and the live workers, once empty, held the CPUs those actors waited for — a
        driver that never ended. Ray Tune's controller has no such trap (a pending trial has
        no actor yet); here its members go back to waiting (no retry counted) and the run
        keeps at most as many workers as have started."""
        import ray

        waiting = [w for w in self.workers if w.ready is not None]
        if not waiting:
            return
        ready, _ = ray.wait([w.ready for w in waiting], num_returns=len(waiting), timeout=0)
        for worker in waiting:
            if worker.ready in ready:
                worker.ready = None
        started = [w for w in self.workers if w.ready is None]
        late = [w for w in waiting if w.ready is not None
                and time.monotonic() - w.born > self.plan.place_s]
        if not started or not late:
            return
        for worker in late:
            self._drop_worker(worker)
        self.plan.workers = len(self.workers)
        self.write(f"{len(late)} new pack worker(s) not placed in {self.plan.place_s:g} s "
                   f"(the cluster is smaller now?); going on with {len(self.workers)}")

    def _drop_worker(self, worker: _Worker) -> None:
        """End an actor that never started; its members wait for another worker."""
        import ray

        ray.kill(worker.handle)
        self.workers.remove(worker)
        for ref in [r for r, w in self.inflight.items() if w is worker]:
            del self.inflight[ref]
        for trial in worker.members:
            trial.worker = None
            self._rewind(trial)

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
        """Into `<trial>/checkpoint_<epoch>` (awaited); a trial whose checkpoint is already
        of this epoch is skipped (nothing trained since). An actor lost meanwhile, or a save
        the storage refused, leaves their checkpoints as they were (a lost actor marks the
        worker `lost`)."""
        import ray

        trials = [t for t in trials if t.checkpoint != self._checkpoint_dir(t)]
        if not trials or worker.lost is not None:
            return
        dirs = [self._checkpoint_dir(t) for t in trials]
        try:
            ray.get(worker.handle.save.remote([t.trial_id for t in trials], dirs))
        except ray.exceptions.RayActorError as exc:
            # the actor died after it reported this epoch (the fault soak kills pack workers):
            # these trials keep their last checkpoint; the worker's other members are handed
            # to `_lost` once this batch of results is processed (`_collect`)
            worker.lost = exc
            return
        except ray.exceptions.RayTaskError as exc:
            # the folder refused it (read-only or full for a moment: the soak's storage stall);
            # Ray Tune would fail such a trial, here it trains on and the next save tries again
            cause = str(exc.cause if exc.cause is not None else exc).strip().splitlines()
            if not self._away:  # one line per stall
                self.write(f"checkpoint of {len(trials)} member(s) not saved "
                           f"({type(exc.cause).__name__}: {cause[-1][:160] if cause else ''}"
                           "); members keep their last checkpoint until a save succeeds")
            self._away = True
            return
        self._away = False
        for trial, directory in zip(trials, dirs):
            trial.checkpoint, trial.checkpoint_epoch = directory, trial.epochs
            trial.checkpoint_reports = len(trial.history)
            self._dirty.add(trial.trial_id)

    def _checkpoint_dir(self, trial: PackTrial) -> str:
        return os.path.join(self.plan.path, trial.trial_id,
                            f"{CHECKPOINT_PREFIX}{trial.epochs:06d}")

    # ---- results -------------------------------------------------------------------------
    def _process(self, worker: _Worker, metrics: dict[str, dict], node: str) -> None:
        for trial in list(worker.members):
            if trial.status != RUNNING or trial.worker is not worker:
                continue  # stopped or paused by a decision about another member
            if trial.pending_action:
                action, trial.pending_action = trial.pending_action, None
                self._leave(trial, save=action == "pause")
                if action in ("pause", "drop"):
                    trial.status = PAUSED
                else:
                    self._complete(trial, trial.last_result, left=True)
                continue
            m = metrics[trial.trial_id]
            if "add_error" in m:
                self._fail(trial, m["add_error"])
            else:
                self._report(trial, m, node)
        due = [t for t in worker.members if self._checkpoint_due(t)]
        if due:
            self._save(worker, due)

    def _report(self, trial: PackTrial, m: dict, node: str) -> None:
        trial.epochs, trial.node = int(m["epoch"]), node
        trial.time_total_s += float(m["epoch_seconds"])
        result = {**m, "training_iteration": trial.epochs, "trial_id": trial.trial_id,
                  "time_total_s": trial.time_total_s, "time_this_iter_s": m["epoch_seconds"],
                  "hostname": node, "done": bool(m.get("done")),
                  "timestamp": int(time.time())}  # as Ray stamps each result
        trial.history.append(float(m.get(self.plan.metric, math.nan)))
        trial.error = str(m.get("error", "") or "")
        trial.last_result = result
        self._log_result(trial, result)
        if result["done"] or trial.epochs >= self.plan.max_epochs:
            decision = TrialScheduler.STOP  # Ray's stopper / done: no on_trial_result
        else:
            decision = self.scheduler.on_trial_result(self, trial, result)
            self._adopt_exploits()
        if decision == TrialScheduler.STOP:
            result["done"] = True
            self._complete(trial, result)
        else:
            self.search_alg.on_trial_result(trial.trial_id, result)
            if decision == TrialScheduler.PAUSE and trial.status == RUNNING:
                self._leave(trial, save=True)
                trial.status = PAUSED

    def _log_result(self, trial: PackTrial, result: dict) -> None:
        """Append to the trial's ``result.json`` (as Ray's JSON logger does); rows the
        folder refuses wait in memory and go in with the next write that succeeds."""
        self._unlogged.setdefault(trial.trial_id, []).append(result)
        try:
            self._write_results(trial.trial_id)
        except OSError as exc:
            self._refused(exc)

    def _write_results(self, *trial_ids: str) -> None:
        for trial_id in trial_ids or list(self._unlogged):
            folder = os.path.join(self.plan.path, trial_id)
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, RESULT_FILE), "a") as f:
                f.write("".join(json.dumps(r, default=str) + "\n"
                                for r in self._unlogged[trial_id]))
            del self._unlogged[trial_id]
        self._away = False

    def _refused(self, exc: OSError) -> None:
        if not self._away:
            self._away = True
            self.write(f"cannot write into {self.plan.path} for now ({exc.strerror or exc}); "
                       "results and the snapshot wait in memory and go in once it takes "
                       "writes again")

    def _adopt_exploits(self) -> None:
        """Give each trial PBT just exploited into (Ray: the checkpoint it restores from
        when it starts again) its own copy of the cloned member's checkpoint, now: the
        source's folder may be pruned once the source saves again. The trial continues at
        the source's epoch; its own reported history is kept (its lineage)."""
        for trial in self.trials:
            slot = trial.run_metadata.checkpoint_manager
            chosen, slot._latest_checkpoint_result = slot._latest_checkpoint_result, None
            source = getattr(getattr(chosen, "checkpoint", None), "path", None)
            if not source:
                continue
            epoch = checkpoint_epoch_of(source)
            target = os.path.join(self.plan.path, trial.trial_id, f"{CHECKPOINT_PREFIX}"
                                  f"{epoch:06d}_from_{os.path.basename(os.path.dirname(source))}")
            tmp = target + ".tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(source, tmp)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
            trial.checkpoint, trial.checkpoint_epoch, trial.epochs = target, epoch, epoch
            trial.checkpoint_reports = len(trial.history)
            self._dirty.add(trial.trial_id)

    def _complete(self, trial: PackTrial, result: dict, *, left: bool = False) -> None:
        if not left:
            self._leave(trial, save=True)
        self.pinned.pop(trial.trial_id, None)  # PBT clones live trials only
        self.scheduler.on_trial_complete(self, trial, result)
        self.search_alg.on_trial_complete(trial.trial_id, result=result)
        trial.status = TERMINATED
        value = trial.history[-1] if trial.history else math.nan
        self.write(f"trial {trial.trial_id} ended after {trial.epochs} epoch(s): "
                   f"{self.plan.metric} {value:.4f}")

    def _fail(self, trial: PackTrial, error: str) -> None:
        """A member that could not join its pack (say, its checkpoint did not load) errors
        alone, like a Ray trial whose restore raised; the pack's other members train on."""
        self._leave(trial, save=False)
        trial.status, trial.error = ERROR, error
        self.pinned.pop(trial.trial_id, None)
        self.scheduler.on_trial_error(self, trial)
        self.search_alg.on_trial_complete(trial.trial_id, error=True)
        self.write(f"trial {trial.trial_id} errored: {error}")

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
            self._rewind(trial)
        self.write(f"a pack worker was lost ({type(exc).__name__}); "
                   f"{len(worker.members)} member(s) resume from their checkpoints")


def checkpoint_epoch_of(path: str) -> int:
    """The epoch in a checkpoint folder's name: `checkpoint_000004[_from_<trial>]` → 4."""
    name = os.path.basename(os.path.normpath(path))
    digits = name[len(CHECKPOINT_PREFIX):].split("_", 1)[0]
    return int(digits) if name.startswith(CHECKPOINT_PREFIX) and digits.isdigit() else 0
