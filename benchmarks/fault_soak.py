"""Fault soak: many short trials on the loopback two-node cluster while things die.

    nice -n 10 python -m benchmarks.fault_soak --trials 1000 --faults large \
        --out benchmarks/results/soak-1000
    nice -n 10 python -m benchmarks.fault_soak --trials 1000 --faults large --packed \
        --out benchmarks/results/soak-1000-packed

(figures.json, the run's report.md, the trainable's epochs.log and the drivers' output land in
``--out``; the run itself goes to a temporary folder.)

Starts its own two nodes (scripts/local_two_node.sh: head 1 CPU, worker 2 CPUs), runs
``tuner launch`` (the default method unless ``--method``) as a separate driver process against
them and, spread over the run (:class:`Faults`; ``ci``: 6 faults, ``large``: 10), injects

1. SIGKILLs of trial processes: each a trial that is past its first rung and mid-run, so the
   kill lands on a running trial, not on an idle reusable actor (packed: a pack worker, all its
   members at once); each waits until the driver has retried it,
2. SIGKILLs of the driver (its whole process group), each followed by ``--resume``,
3. a storage stall: the results folder read-only for a few seconds (:func:`read_only`),
4. the worker node killed (``local_two_node.sh kill-worker``: raylet and all its processes).

:class:`SoakTrainable` appends every event to one log from inside the trial (``O_APPEND``
lines below ``PIPE_BUF``, so processes never interleave): each finished epoch, each checkpoint
saved and each checkpoint loaded. From it and the run's own files :func:`figures` counts
trials promised/ended, faults, retries (``trials.csv``/``report.md``), epochs redone and
epochs redone *although a checkpoint covered them*. A packed run trains small MLPs (packing
needs a ``TorchTrainable``), so :func:`packed_figures` counts from the run's files alone.
tests/cluster/test_fault_soak.py runs the ``ci`` form and asserts on these figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ray import tune

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "local_two_node.sh"
MAX_EPOCHS = 9  # ASHA rungs 1, 3, 9 (η = 3)
# Ray snapshots the experiment every 2 s (TUNE_GLOBAL_CHECKPOINT_S), from its control loop;
# on a loaded 2-core machine that loop was seen 6+ s late (1 redone epoch in 4 soaks)
SNAPSHOT_LAG_S = 10.0
SAVE_IN_FLIGHT_S = 1.0  # a checkpoint this shortly before a kill may not have reached the driver
NODE_DYING_S = 5.0  # trial processes on a killed node were seen running 1.6 s after its raylet
# a killed driver's trial actors live on (on the cluster) until Ray sees their owner gone: one
# soak saw a trial's first epoch land 2 ms after the kill, unknown to the resumed driver
DRIVER_DYING_S = 5.0


def _log(path: str, *event) -> None:
    line = json.dumps(list(event)) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


class SoakTrainable(tune.Trainable):
    """A few-ms-per-epoch curve that logs ("epoch"|"save"|"load", trial, epoch, pid, time)."""

    def setup(self, config: dict) -> None:
        self.epoch = 0

    def step(self) -> dict:
        time.sleep(float(self.config.get("epoch_seconds", 0.1)))
        self.epoch += 1
        _log(self.config["soak_log"], "epoch", self.trial_id, self.epoch, os.getpid(),
             time.time())
        loss = (float(self.config["x"]) - 0.3) ** 2 + 1.0 / self.epoch
        return {"val_loss": loss, "epoch": self.epoch}

    def save_checkpoint(self, checkpoint_dir: str) -> dict:
        _log(self.config["soak_log"], "save", self.trial_id, self.epoch, os.getpid(),
             time.time())
        return {"epoch": self.epoch}

    def load_checkpoint(self, checkpoint: dict) -> None:
        self.epoch = int(checkpoint["epoch"])
        _log(self.config["soak_log"], "load", self.trial_id, self.epoch, os.getpid(),
             time.time())

    def reset_config(self, new_config: dict) -> bool:
        self.config, self.epoch = new_config, 0
        return True


def write_experiment(folder: Path, trials: int, log: Path, epoch_seconds: float,
                     method: str | None = None) -> Path:
    """The soak's experiment file: ``method`` None is what a user gets without naming one
    (the default method, tuner/compose/methods.py)."""
    path = folder / "soak.yaml"
    path.write_text(json.dumps({
        "name": "soak", "trainable": "benchmarks.fault_soak:SoakTrainable",
        "config": {"soak_log": str(log), "epoch_seconds": epoch_seconds},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        **({"method": method} if method else {}),
        "budget": {"min": 1, "max": MAX_EPOCHS, "eta": 3},
        "metric": "val_loss", "mode": "min", "num_samples": trials, "seed": 0,
        "max_failures": 3, "checkpoint_every": 1, "checkpoint_interval_s": 0,
        "resources": {"cpus": 1, "gpus": 0}, "storage": str(folder / "out"),
    }))
    return path


# The cluster -------------------------------------------------------------------------------
def quiet_port(rng: random.Random | None = None) -> int:
    """A free loopback port below the kernel's ephemeral range (32768–60999 by default).

    A port from ``bind(0)`` is ephemeral: once released, any outgoing connection (the
    suite's own Ray session opens many) may take it before the GCS binds it — CI saw
    "Failed to start the grpc server … port 38635". Ports 20000–32767 are above Ray's
    worker range (10002–19999) and never handed out as source ports.
    """
    import socket

    rng = rng or random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32700)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port in 20000–32700")


def start_nodes(state: Path, attempts: int = 3) -> tuple[dict, dict, str]:
    """(script env, driver env, address) for two fresh loopback nodes with token auth;
    a start that loses its port to another process is retried on a fresh port."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")}
    env.update(TUNER_TWO_NODE_DIR=str(state), RAY_AUTH_MODE="token",
               RAY=str(Path(sys.executable).parent / "ray"))
    for attempt in range(attempts):
        env["TUNER_TWO_NODE_PORT"] = str(quiet_port())
        out = subprocess.run([str(SCRIPT), "start"], env=env, capture_output=True, text=True,
                             timeout=180, check=False)
        if out.returncode == 0:
            break
        subprocess.run([str(SCRIPT), "stop"], env=env, timeout=90, check=False)
        if attempt == attempts - 1 or not port_taken(out.stdout + out.stderr):
            raise RuntimeError(f"local_two_node.sh start failed:\n{out.stdout}\n{out.stderr}")
    exports = dict(line.removeprefix("export ").split("=", 1)
                   for line in (state / "env").read_text().splitlines())
    return env, {**env, **exports, "PYTHONUNBUFFERED": "1"}, exports["RAY_ADDRESS"]


def port_taken(log: str) -> bool:
    """Whether a failed start lost its port (worth a retry) rather than failing for good."""
    return "Address already in use" in log or "Failed to start the grpc server" in log


def stop_nodes(script_env: dict) -> None:
    subprocess.run([str(SCRIPT), "stop"], env=script_env, timeout=120, check=False)


# The soak ----------------------------------------------------------------------------------
def read_log(log: Path) -> list[list]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _launch(exp: Path, address: str, env: dict, out: Path, resume: bool) -> subprocess.Popen:
    args = [sys.executable, "-m", "tuner", "launch", str(exp), "--address", address]
    return subprocess.Popen(args + (["--resume"] if resume else []), cwd=ROOT, env=env,
                            stdout=out.open("a"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _wait(count: Callable[[], int], proc: subprocess.Popen, started: int,
          timeout: float) -> None:
    """Until ``count()`` (trials started so far) reaches ``started`` (or the driver ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if count() >= started:
            return
        time.sleep(0.2)
    if proc.poll() is None:  # a stalled driver: its threads' stacks into its log (tuner.cli)
        os.kill(proc.pid, signal.SIGUSR2)
        time.sleep(2)
    raise RuntimeError(f"fewer than {started} trials started within {timeout} s "
                       f"(driver exit code {proc.poll()}; a stalled driver's stacks are at "
                       "the end of driver.log)")


def logged_trials(log: Path) -> Callable[[], int]:
    """Trials started, as :class:`SoakTrainable` logs them (an epoch finished)."""
    return lambda: len({e[1] for e in read_log(log) if e[0] == "epoch"})


def ended_trials(driver_out: Path) -> Callable[[], int]:
    """Trials ended, as a packed run's driver says them ("trial … ended after …"): a packed
    run starts its trials by the pack (most of them early), so the faults follow its ends."""
    return lambda: driver_out.read_text(errors="replace").count(" ended after ")


def _zombie_or_gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _kill_a_running_trial(log: Path, epoch_seconds: float, spare: set[str],
                          timeout: float = 120) -> str:
    """SIGKILL the process of a trial that is past rung 1 (epochs 4-7 go on to 9: ASHA has no
    rung between 3 and 9) and reported within the last epoch, so that process is busy with
    this trial — not an idle actor waiting for reuse. ``spare``: trials not to pick again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = time.time()
        for kind, trial, epoch, pid, at in reversed(read_log(log)[-50:]):
            if kind == "epoch" and trial not in spare and 4 <= epoch <= MAX_EPOCHS - 2 \
                    and now - at < epoch_seconds and not _zombie_or_gone(pid):
                os.kill(pid, signal.SIGKILL)
                return trial
        time.sleep(0.02)
    raise RuntimeError("no trial mid-run to kill")


def _wait_for_restore(log: Path, trial: str, proc: subprocess.Popen, timeout: float) -> None:
    """Until ``trial`` has loaded a checkpoint again: the driver has handled its failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if any(e[0] == "load" and e[1] == trial for e in read_log(log)):
            return
        time.sleep(0.2)
    raise RuntimeError(f"trial {trial} was not retried within {timeout} s")


@dataclass(frozen=True)
class Faults:
    """What one soak injects, spread over the run by :meth:`schedule`."""

    trial_kills: int = 3
    driver_kills: int = 1
    node_kill: bool = True
    storage_stall_s: float = 3.0  # 0: no stall

    def schedule(self, trials: int) -> list[tuple[int, str]]:
        """(trials started before it, kind) per fault, in order: the trial kills evenly, the
        driver kills and the storage stall among them, the node kill last (from then on the
        head's one CPU runs the rest), all between 10 % and 75 % of the trials started (a
        packed run: ended)."""
        kinds = ["trial"] * self.trial_kills
        if self.storage_stall_s:
            kinds.insert(len(kinds) // 2, "stall")
        for i in range(self.driver_kills):
            kinds.insert(round((i + 1) * len(kinds) / (self.driver_kills + 1)) + i, "driver")
        kinds += ["node"] * self.node_kill
        last = max(1, len(kinds) - 1)
        return [(max(1, round(trials * (0.1 + 0.65 * i / last))), kind)
                for i, kind in enumerate(kinds)]


CI_FAULTS = Faults()  # every kind once, three trial kills: tests/cluster/test_fault_soak.py
LARGE_FAULTS = Faults(trial_kills=6, driver_kills=2)  # 10 faults: docs/cluster.md


@contextmanager
def read_only(folder: Path):
    """The results folder read-only while the block runs, then writable again: a storage
    stall (an NFS server away for a moment). Root writes through a ``chmod``, so as root the
    folder gets a read-only bind mount over itself (new opens fail with EROFS; descriptors
    already open write on, as they do on a stalled mount that comes back)."""
    path = str(folder)
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")] if p.is_dir()}
        for p in modes:
            p.chmod(0o555)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    for step in (["mount", "--bind", path, path], ["mount", "-o", "remount,bind,ro", path]):
        # the kernel refuses the read-only remount ("mount point is busy") while a file is
        # open for writing through the new bind mount: the run writes all the time, so retry
        for _ in range(100):
            out = subprocess.run(step, capture_output=True, text=True, check=False)
            if out.returncode == 0 or "busy" not in out.stderr:
                break
            time.sleep(0.05)
        if out.returncode:
            subprocess.run(["umount", "-l", path], capture_output=True, check=False)
            raise RuntimeError(f"storage stall: {' '.join(step)} failed: {out.stderr.strip()}")
    try:
        yield
    finally:
        if subprocess.run(["umount", path], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", path], capture_output=True, check=True)


def soak(folder: Path, trials: int = 200, epoch_seconds: float = 0.1,
         faults: Faults = CI_FAULTS, timeout: float | None = None,
         method: str | None = None, packed: bool = False) -> dict:
    """Run the soak in ``folder``; return the figures (:func:`figures`, or
    :func:`packed_figures` for a packed run) plus the faults injected."""
    log, driver_out = folder / "epochs.log", folder / "driver.log"
    experiment = folder / "out" / "soak"
    exp = (write_packed_experiment(folder, trials, method) if packed
           else write_experiment(folder, trials, log, epoch_seconds, method))
    count = ended_trials(driver_out) if packed else logged_trials(log)
    timeout = timeout or max(900.0, 2.0 * trials)
    state = Path(tempfile.mkdtemp(prefix="sk", dir="/tmp"))  # short: Ray's unix sockets
    script_env, env, address = start_nodes(state)
    t0 = time.monotonic()
    done: dict[str, list] = {"trial_process": [], "driver": [], "worker_node": [],
                             "storage_stall": [], "process_kill_times": []}
    run = _Driver(exp, address, env, driver_out)
    try:
        for started, kind in faults.schedule(trials):
            _wait(count, run.proc, started, timeout / 3)
            _inject(kind, run, log, epoch_seconds, faults, done, script_env, timeout, packed)
        code = run.proc.wait(timeout=timeout)
    finally:
        run.kill()
        stop_nodes(script_env)
    wall = time.monotonic() - t0
    result = (packed_figures(experiment, trials) if packed else
              figures(experiment, read_log(log), trials, done["driver"],
                      done["process_kill_times"], done["worker_node"], done["storage_stall"]))
    result.update(driver_exit=code, wall_seconds=round(wall, 1), faults=done,
                  fault_count=sum(len(done[k]) for k in ("trial_process", "driver",
                                                         "worker_node", "storage_stall")))
    return result


class _Driver:
    """The ``tuner launch`` process of the soak; relaunched with ``--resume`` after a kill."""

    def __init__(self, exp: Path, address: str, env: dict, out: Path):
        self.exp, self.address, self.env, self.out = exp, address, env, out
        self.proc = _launch(exp, address, env, out, resume=False)

    def kill_and_resume(self) -> float:
        os.killpg(self.proc.pid, signal.SIGKILL)  # the driver and anything it started
        self.proc.wait()
        at = time.time()
        self.proc = _launch(self.exp, self.address, self.env, self.out, resume=True)
        return at

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)


def _inject(kind: str, run: _Driver, log: Path, epoch_seconds: float, faults: Faults,
            done: dict, script_env: dict, timeout: float, packed: bool) -> None:
    """One fault of ``kind``, recorded in ``done`` with when it happened."""
    if kind == "trial" and packed:
        done["trial_process"].append(_kill_a_pack_worker(run, timeout / 3))
        done["process_kill_times"].append(time.time())
    elif kind == "trial":
        victim = _kill_a_running_trial(log, epoch_seconds, set(done["trial_process"]))
        done["trial_process"].append(victim)
        done["process_kill_times"].append(time.time())
        _wait_for_restore(log, victim, run.proc, timeout / 3)
    elif kind == "driver":
        done["driver"].append(run.kill_and_resume())
    elif kind == "stall":
        start = time.time()
        with read_only(log.parent / "out" / "soak"):
            time.sleep(faults.storage_stall_s)
        done["storage_stall"].append([start, time.time()])
    elif kind == "node":
        out = subprocess.run([str(SCRIPT), "kill-worker"], env=script_env, capture_output=True,
                             text=True, timeout=60, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"kill-worker failed: {out.stderr}")
        done["worker_node"].append(time.time())


# Packed runs --------------------------------------------------------------------------------
LOST_WORKER = "a pack worker was lost"  # tuner/launch/packed/executor.py, PackExecutor._lost


def write_packed_experiment(folder: Path, trials: int, method: str | None = None) -> Path:
    """A packed run of small MLPs on digits (a pack's members differ in ``lr`` only): packing
    needs a ``TorchTrainable``, so not :class:`SoakTrainable`; the figures come from the
    run's own files (:func:`packed_figures`). Small batches make an epoch long enough (a few
    tenths of a second per pack) for every fault to land before the run ends."""
    path = folder / "soak.yaml"
    path.write_text(json.dumps({
        "name": "soak", "trainable": "mlp",
        "config": {"dataset": "digits", "hidden": 128, "depth": 2, "batch_size": 16},
        "space": {"lr": {"type": "float", "low": 1e-3, "high": 0.3, "log": True}},
        **({"method": method} if method else {}),
        "packing": {"members": 8},
        "budget": {"min": 1, "max": MAX_EPOCHS, "eta": 3},
        "metric": "val_accuracy", "mode": "max", "num_samples": trials, "seed": 0,
        "max_failures": 3, "checkpoint_every": 1, "checkpoint_interval_s": 0,
        "resources": {"cpus": 1, "gpus": 0}, "storage": str(folder / "out"),
    }))
    return path


def _pack_workers() -> list[int]:
    """Pids of the processes holding packs (Ray titles an actor's process ``ray::<class>``)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().startswith(
                    b"ray::PackWorker") and not _zombie_or_gone(int(proc.name)):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def _kill_a_pack_worker(run: _Driver, timeout: float) -> int:
    """SIGKILL one pack worker, then wait until the driver has replaced it (its log says so):
    every member in it resumes from its last checkpoint."""
    deadline = time.monotonic() + timeout
    before = run.out.read_text(errors="replace").count(LOST_WORKER)
    while not (pids := _pack_workers()):
        if time.monotonic() > deadline:
            raise RuntimeError("no pack worker to kill")
        time.sleep(0.05)
    victim = random.Random(len(pids)).choice(pids)
    os.kill(victim, signal.SIGKILL)
    while run.out.read_text(errors="replace").count(LOST_WORKER) <= before:
        if time.monotonic() > deadline or run.proc.poll() is not None:
            raise RuntimeError(f"the driver did not replace the killed pack worker {victim}")
        time.sleep(0.2)
    return victim


def packed_figures(experiment: Path, promised: int) -> dict:
    """Trials and redone epochs of a packed run, from its ``trials.csv`` and each trial's
    ``result.json`` (one line per reported epoch, appended again after a restart): an epoch
    reported twice was redone; a restart at epoch 1 after later epochs started over."""
    rows = list(csv.DictReader((experiment / "trials.csv").open()))
    csv_ids = {r["trial_id"] for r in rows}
    runs = {p.parent.name: [int(json.loads(line)["training_iteration"])
                            for line in p.read_text().splitlines() if line.strip()]
            for p in experiment.glob("*/result.json")}
    redone = sum(len(epochs) - len(set(epochs)) for epochs in runs.values())
    scratch = sum(1 for epochs in runs.values()
                  for before, now in zip(epochs, epochs[1:]) if now == 1 and before >= 1)
    retried = {r["trial_id"]: int(r["retries"]) for r in rows if int(r.get("retries") or 0)}
    return {
        "trials_promised": promised, "trials_in_csv": len(rows),
        "distinct_trials_in_csv": len(csv_ids), "trials_that_ran": len(runs),
        "unknown_trials": sorted(set(runs) - csv_ids),
        "errored": {r["trial_id"]: r["status"] for r in rows if r["status"].startswith("err")},
        "statuses": dict(sorted(_count(r["status"] for r in rows).items())),
        "epochs_total": sum(len(e) for e in runs.values()), "epochs_redone": redone,
        "restarts_from_epoch_1": scratch, "retries": sum(retried.values()),
        "retried_trials": retried,
    }


class _Explained:
    """Which lost work a fault explains, from when the drivers, processes and node were killed
    and when the storage stalled.

    A driver kill loses what happened after Ray's last experiment snapshot (``lag`` seconds
    before it, and up to ``DRIVER_DYING_S`` after it, while its actors still ran); a process
    kill, a checkpoint written ``SAVE_IN_FLIGHT_S`` before it; a node kill, one written up to
    ``NODE_DYING_S`` after it; a storage stall, a checkpoint written while the folder was
    read-only (it never reached storage) or just before (see :func:`figures`).
    """

    def __init__(self, drivers_killed_at, kills_at, node_kills_at, stalls, lag: float):
        self.drivers_killed_at, self.lag = list(drivers_killed_at), lag
        self.kills_at, self.node_kills_at = kills_at, node_kills_at
        self.stalls = [tuple(s) for s in stalls]

    def in_lag(self, at: float) -> bool:
        """``at`` lies in a killed driver's last snapshot window, which the resumed run forgot,
        or in the moments after the kill while its trial actors still ran (``DRIVER_DYING_S``).
        A driver killed while Ray wrote its snapshot resumes from the kept one before it
        (``tuner.launch.snapshot``): the window is then one snapshot longer, within ``lag``."""
        return any(k - self.lag <= at <= k + DRIVER_DYING_S for k in self.drivers_killed_at)

    def lost(self, save_at: float) -> bool:
        """A checkpoint saved at ``save_at`` the restarted run could not know of."""
        return (self.in_lag(save_at)
                or any(k - SAVE_IN_FLIGHT_S <= save_at <= k for k in self.kills_at)
                or any(k - SAVE_IN_FLIGHT_S <= save_at <= k + NODE_DYING_S
                       for k in self.node_kills_at)
                or any(a - SAVE_IN_FLIGHT_S <= save_at <= b for a, b in self.stalls))


def _replay(events: list[list], explained: _Explained):
    """Walk the trainable's log in time order; per trial the epochs finished (in order) and
    the time first seen, and the counts of restores, redone epochs and restarts — each kind
    split into all and those no fault explains."""
    done: dict[str, list[int]] = defaultdict(list)  # epochs in the order they were finished
    saves: dict[str, list[tuple[int, float]]] = defaultdict(list)
    count = defaultdict(int)
    first_seen: dict[str, float] = {}
    for kind, trial, epoch, _pid, at in sorted(events, key=lambda e: e[4]):
        first_seen.setdefault(trial, at)
        if kind == "save":
            saves[trial].append((epoch, at))
        elif kind == "load":
            count["restores"] += 1
        elif kind == "epoch":
            _count_epoch(trial, epoch, done, saves, count, explained)
            done[trial].append(epoch)
    return done, count, first_seen


def _count_epoch(trial: str, epoch: int, done: dict, saves: dict, count: dict,
                 explained: _Explained) -> None:
    """Count an epoch finished again (covered by a checkpoint or not) and a restart that goes
    back on finished work (from epoch 1 although a checkpoint existed, or not)."""
    covering = [t for e, t in saves[trial] if e >= epoch]
    if epoch in done[trial]:
        count["redone"] += 1
        if covering:  # a checkpoint at or after this epoch had been written
            count["redone_covered"] += 1
            count["redone_covered_unexplained"] += not explained.lost(max(covering))
    if done[trial] and epoch <= done[trial][-1]:
        count["restarts_redoing_work"] += 1
        if epoch == 1 and saves[trial]:
            count["from_scratch"] += 1
            count["from_scratch_unexplained"] += not explained.lost(saves[trial][-1][1])


def _trial_figures(rows: list[dict], promised: int, done: dict, first_seen: dict,
                   explained: _Explained) -> dict:
    """Trials promised, in ``trials.csv``, that ran, unknown to the run, errored, by status."""
    csv_ids = {r["trial_id"] for r in rows}
    unknown = sorted(set(done) - csv_ids)
    return {
        "trials_promised": promised,
        "trials_in_csv": len(rows),
        "distinct_trials_in_csv": len(csv_ids),
        "trials_that_ran": len(done),
        "trials_in_csv_that_ran": len(csv_ids & set(done)),
        "unknown_trials": unknown,
        "unknown_trials_unexplained": [t for t in unknown
                                       if not explained.in_lag(first_seen[t])],
        "errored": {r["trial_id"]: r["status"] for r in rows if r["status"].startswith("err")},
        "statuses": dict(sorted(_count(r["status"] for r in rows).items())),
    }


def _work_figures(done: dict, count: dict, retried: dict, report: str) -> dict:
    """Epochs run and redone, restores, restarts, and retries (and which report.md lists)."""
    section = report.split("## Retried trials", 1)[1] if "## Retried trials" in report else ""
    return {
        "epochs_total": sum(len(v) for v in done.values()),
        "epochs_redone": count["redone"],
        "epochs_redone_covered_by_a_checkpoint": count["redone_covered"],
        "epochs_redone_covered_unexplained": count["redone_covered_unexplained"],
        "restores_from_a_checkpoint": count["restores"],
        "restarts_redoing_work": count["restarts_redoing_work"],
        "restarts_from_scratch_despite_a_checkpoint": count["from_scratch"],
        "restarts_from_scratch_unexplained": count["from_scratch_unexplained"],
        "retries": sum(retried.values()),
        "retried_trials": retried,
        "retries_listed_in_report": sorted(t for t in retried if f"- {t}:" in section),
    }


def figures(experiment: Path, events: list[list], promised: int,
            drivers_killed_at: list[float], kills_at: list[float] = (),
            node_kills_at: list[float] = (), stalls: list = (),
            lag: float = SNAPSHOT_LAG_S) -> dict:
    """Trials, retries and redone epochs from the run's files and the trainable's log.

    A driver kill loses what happened after Ray's last experiment snapshot (taken every
    ``TUNE_GLOBAL_CHECKPOINT_S`` = 2 s, later under load): a checkpoint written then is
    unknown to the resumed run, a trial started then is unknown too (the searcher draws a
    replacement). Such redone work is *explained* when it lies within ``lag`` seconds before
    the kill. A process killed just after writing a checkpoint loses it too: the driver had
    not received it yet (``SAVE_IN_FLIGHT_S`` before a kill in ``kills_at``); on a killed node
    the trial processes outlive the raylet for a moment and may write one more checkpoint
    nobody receives (up to ``NODE_DYING_S`` after a kill in ``node_kills_at``). A checkpoint
    written while the folder was read-only (a ``(start, end)`` in ``stalls``) never reached
    storage. Anything else is counted as unexplained."""
    rows = list(csv.DictReader((experiment / "trials.csv").open()))
    report = (experiment / "report.md").read_text()
    retried = {r["trial_id"]: int(r["retries"]) for r in rows if int(r.get("retries") or 0)}
    explained = _Explained(drivers_killed_at, kills_at, node_kills_at, stalls, lag)
    done, count, first_seen = _replay(events, explained)
    return {**_trial_figures(rows, promised, done, first_seen, explained),
            **_work_figures(done, count, retried, report)}


def _count(items) -> dict:
    out: dict = defaultdict(int)
    for item in items:
        out[item] += 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--epoch-seconds", type=float, default=0.1)
    parser.add_argument("--faults", choices=("ci", "large"), default="ci",
                        help="ci: 3 trial kills, 1 driver kill, 1 storage stall, 1 node kill; "
                             "large: 6 trial kills, 2 driver kills, 1 stall, 1 node kill")
    parser.add_argument("--method", default=None, help="default: the default method")
    parser.add_argument("--packed", action="store_true",
                        help="a packed run of small MLPs (packing: {members: 8})")
    parser.add_argument("--out", required=True, help="folder for figures.json and report.md")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="tuner-soak-"))  # the run: a folder per trial
    faults = LARGE_FAULTS if args.faults == "large" else CI_FAULTS
    result = soak(folder, args.trials, args.epoch_seconds, faults, method=args.method,
                  packed=args.packed)
    result["command"] = "python -m benchmarks.fault_soak " + " ".join(
        argv if argv is not None else sys.argv[1:])
    (out / "figures.json").write_text(json.dumps(result, indent=1))
    shutil.copy(folder / "out" / "soak" / "report.md", out / "report.md")
    for name in ("epochs.log", "driver.log"):  # the evidence behind the figures
        if (folder / name).exists():
            shutil.copy(folder / name, out / name)
    shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
