"""Kill a ``tuner launch`` driver mid-run and read back what it left: the helper of
tests/test_killed_driver.py.

* ``SlowMLP``: the builtin MLP with a pause before every forward pass, so that a digits epoch
  lasts ~0.2 s (sleeping, not computing) solo, packed (one pause per fused batch) and
  data-parallel alike. Run by Ray as a trial of its own, it also appends each epoch it trains
  to ``<epoch_log>/<trial id>.jsonl`` from the trial's own process: Ray's ``result.json`` is
  no record of what trained — Ray's JSON logger copies the storage copy back over it whenever
  a trial restarts (a PBT pause, an exploit), dropping the rows not yet synced (seen: epochs
  1–8 trained, rows [1, 2, 7, 8] kept).
* The run kinds, as experiment files.
* ``Drivers``: drivers that start in under a second and can be SIGKILLed.
* What the snapshot a resume continues from says about each trial (Ray's experiment state,
  or a packed run's ``pack_state.pkl``), and each trial's per-epoch rows.
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from trainables.base import CHECKPOINT_FILE, MLPTrainable

ROOT = Path(__file__).resolve().parents[1]
NAME = "killed"  # the experiment's name: its folder is <storage>/killed
PAUSE_S = 0.02  # per forward pass: 9 training batches + 1 validation batch per digits epoch
EVERY = 2  # checkpoint_every (checkpoint_interval_s: 0): the checkpoint interval, in epochs
ENDED = ("TERMINATED", "ERROR")


class Pause(nn.Module):
    """Sleeps, then passes its input on (no weights: packs and DDP take it as it is)."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def forward(self, x):
        time.sleep(self.seconds)
        return x


class SlowMLP(MLPTrainable):
    """The builtin MLP behind a ``Pause``; logs each epoch it trains when ``epoch_log`` is set."""

    @classmethod
    def build_model(cls, config, data):
        return nn.Sequential(Pause(float(config.get("pause_s", 0.0))),
                             super().build_model(config, data))

    def setup(self, config):
        super().setup(config)  # also what a reused actor runs for its next trial
        self.since_restore = 0

    def load_checkpoint(self, checkpoint):
        super().load_checkpoint(checkpoint)
        self.since_restore = 0

    def step(self):
        result = super().step()
        self.since_restore += 1  # 1: the first epoch after a start or a restore
        self.log_epoch(int(result["epoch"]))
        return result

    def log_epoch(self, epoch: int) -> None:
        folder = self.config.get("epoch_log")
        if not folder:
            return
        row = {"epoch": epoch, "since_restore": self.since_restore,
               "t": time.time(), "pid": os.getpid()}
        with open(os.path.join(folder, f"{self.trial_id}.jsonl"), "a") as f:
            f.write(json.dumps(row) + "\n")


# -- the run kinds ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    name: str
    lines: str  # the experiment file's lines for this kind
    num_samples: int
    pause_s: float = PAUSE_S  # a packed epoch pauses once per fused batch, not per member
    packed: bool = False
    population: bool = False  # PBT / PB2: a lineage in report.md
    ray_rows: bool = False  # per-epoch rows from Ray's result.json (else the epoch log)


PBT = "scheduler: {name: pbt, perturbation_interval: 2}\nbudget: {min: 1, max: 8, eta: 2}\n"
KINDS = {
    "pbt": Kind("pbt", PBT, 4, population=True),
    "pb2": Kind("pb2", PBT.replace("pbt", "pb2"), 4, population=True),
    "packed-asha": Kind("packed-asha", "scheduler: asha\nbudget: {min: 1, max: 9, eta: 3}\n"
                        "packing: {members: 4}\n", 8, pause_s=0.05, packed=True),
    "packed-pbt": Kind("packed-pbt", PBT + "packing: {members: 2}\n", 4, pause_s=0.05,
                       packed=True, population=True),
    # One trial: a gang takes ~10 s to start here, twice (a second trial cost ~10 s more, and
    # what it adds — the searcher's and ASHA's state — the other kinds check). Rungs at
    # multiples of EVERY all the same: a gang trial ASHA stops before rank 0's first save
    # fails Tune's end-of-trial save (GangTrainable.save_checkpoint: "no checkpoint yet")
    # and is retried from epoch 1.
    "dp-asha": Kind("dp-asha", "scheduler: asha\nbudget: {min: 2, max: 8, eta: 2}\n"
                    "resources: {workers: 2, cpus_per_worker: 1}\n", 1, ray_rows=True),
}


def experiment_file(folder: Path, kind: Kind) -> Path:
    epoch_log = folder / "epochs"
    epoch_log.mkdir()
    path = folder / f"{kind.name}.yaml"
    path.write_text(
        f"name: {NAME}\ntrainable: tests.killed_driver:SlowMLP\n"
        "config: {dataset: digits, hidden: 16, depth: 1, batch_size: 128, optimizer: sgd, "
        f"pause_s: {kind.pause_s}, epoch_log: {epoch_log}}}\n"
        "space:\n  lr: {type: float, low: 1.0e-3, high: 0.3, log: true}\n"
        "  momentum: {type: float, low: 0.0, high: 0.9}\n"
        f"searcher: random\n{kind.lines}metric: val_accuracy\nmode: max\n"
        f"num_samples: {kind.num_samples}\ncheckpoint_every: {EVERY}\n"
        f"checkpoint_interval_s: 0\nseed: 3\nstorage: {folder / 'out'}\n")
    return path


# -- the driver -------------------------------------------------------------------------------
class Drivers:
    """Starts ``tuner launch FILE --address ADDRESS`` drivers, each in a process of its own
    (session) that can be SIGKILLed, forked from a server that imported what a driver needs
    once (``serve``): a driver then starts in well under a second instead of the ~4 s its
    imports take. Each joins the test session's Ray, so killing it leaves that Ray up; Ray
    ends the dead driver's actors itself."""

    def __init__(self) -> None:
        env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
        self.server = subprocess.Popen(
            [sys.executable, "-c", "from tests.killed_driver import serve; serve()"],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.ready = False
        self.pids: list[int] = []

    def launch(self, experiment: Path, address: str, log: Path) -> int:
        """The driver's pid; what it prints goes to ``log``."""
        log.touch()
        if not self.ready:
            assert self.server.stdout.readline() == "ready\n", "the driver server failed"
            self.ready = True
        self.server.stdin.write(f"{log}\t{address}\t{experiment}\n")
        self.server.stdin.flush()
        self.pids.append(int(self.server.stdout.readline()))
        return self.pids[-1]

    def close(self) -> None:
        for pid in self.pids:  # a test that failed before its kill leaves none behind
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.server.stdin.close()
        try:
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()


def serve() -> None:
    """The driver server (``Drivers``): one line per driver on stdin, its pid on stdout."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # ended drivers are reaped at once
    import optuna  # noqa: F401 — what a launch imports, once
    import ray.tune  # noqa: F401
    import sklearn.datasets  # noqa: F401

    import tuner.cli
    import tuner.launch.packed.executor  # noqa: F401
    import tuner.launch.packed.run  # noqa: F401
    import tuner.launch.runner  # noqa: F401

    print("ready", flush=True)
    for line in sys.stdin:
        log, address, experiment = line.rstrip("\n").split("\t")
        pid = os.fork()
        if pid == 0:  # the driver
            code = 1
            try:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.setsid()
                _die_with_parent()
                fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                sys.stdout.reconfigure(line_buffering=True)
                sys.stderr.reconfigure(line_buffering=True)
                code = tuner.cli.main(["launch", experiment, "--address", address])
            except BaseException:  # noqa: BLE001 — said in the log
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        print(pid, flush=True)


def _die_with_parent() -> None:
    """SIGKILL this process when the server ends (it ends when the test process does)."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: Drivers.close kills what is left
        pass


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def kill_when(pid: int, log: Path, ready: Callable[[], bool], timeout: float = 240,
              settle: float = 0.0) -> float:
    """SIGKILL the driver ``pid`` (its whole session) once ``ready()`` (polled every 0.1 s),
    ``settle`` seconds later; when it was killed. Fails, with the driver's output from
    ``log``, if it ended first or ``timeout`` passed."""
    deadline = time.time() + timeout
    try:
        while not ready():
            if not alive(pid) or time.time() > deadline:
                raise AssertionError("the driver ended, or the state to check never came, "
                                     "before the kill:\n" + log.read_text()[-3000:])
            time.sleep(0.1)
        time.sleep(settle)
    finally:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:  # not yet its own session, or gone
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        killed = time.time()
        while alive(pid) and time.time() < killed + 10:
            time.sleep(0.01)
    return killed


def wait_until_freed(ray: Any, timeout: float = 60) -> None:
    """Ray ends a dead driver's actors (trials, packs, gangs) on its own: wait until their
    CPUs are back, so that none still trains or writes when the counting starts."""
    total = ray.cluster_resources().get("CPU", 0)
    deadline = time.time() + timeout
    while ray.available_resources().get("CPU", 0) < total:
        assert time.time() < deadline, f"the killed driver's actors still hold CPUs: " \
                                       f"{ray.available_resources()}"
        time.sleep(0.1)


# -- the snapshot a resume continues from ----------------------------------------------------
@dataclass
class AtSnapshot:
    """One trial as the snapshot has it."""

    status: str
    position: int  # the epoch its training had reached (its last result; PBT: see below)
    checkpoint_epoch: int  # epoch of the checkpoint the snapshot names; 0: none
    rows: int | None = None  # packed: its result.json rows the snapshot accounts for
    last_result_time: float | None = None  # Ray: when the driver took its last result

    @property
    def ended(self) -> bool:
        return self.status in ENDED


@dataclass
class Snapshot:
    trials: dict[str, AtSnapshot]
    lineage: list[dict]


def ray_progress(out: Path) -> Snapshot | None:
    """Statuses, positions and lineage from Ray's newest experiment state in ``out`` (no
    checkpoints: cheap enough to poll); None while there is none, or it is being written."""
    states = sorted(out.glob("experiment_state-*.json"))
    callbacks = sorted(out.glob("callback-states-*.pkl"))
    if not states or not callbacks:
        return None
    try:
        data = json.loads(states[-1].read_text())
        kept = pickle.loads(callbacks[-1].read_bytes())
    except Exception:  # noqa: BLE001 — a copy in progress: try again
        return None
    trials = {}
    for trial_json, meta_json in data["trial_data"]:
        trial, meta = json.loads(trial_json), json.loads(meta_json)
        last = meta.get("last_result") or {}
        trials[trial["trial_id"]] = AtSnapshot(
            status=trial["status"], position=int(last.get("training_iteration", 0)),
            checkpoint_epoch=0, last_result_time=meta.get("last_result_time"))
    lineage = next((s["scheduler"].get("lineage", []) for s in kept.values()
                    if isinstance(s, dict) and isinstance(s.get("scheduler"), dict)), [])
    return Snapshot(trials, list(lineage))


def ray_snapshot(out: Path) -> Snapshot:
    """``ray_progress`` plus each trial's checkpoint, as the resume will read them (through
    Ray's ``ExperimentAnalysis``): the epoch saved in the checkpoint folder it names."""
    from ray.tune import ExperimentAnalysis

    snap = ray_progress(out)
    assert snap is not None, f"no readable experiment state in {out}"
    for trial in ExperimentAnalysis(str(out)).trials:
        at = snap.trials[trial.trial_id]
        if trial.checkpoint is not None:
            at.checkpoint_epoch = saved_epoch(Path(trial.checkpoint.path))
        exploited = [r for r in snap.lineage if r["trial"] == trial.trial_id]
        if exploited and exploited[-1]["epoch"] == at.position:
            # PBT exploited it at its last result: it continues from the copied checkpoint
            # (Ray's PBT hands it the source's), as an uninterrupted run would
            at.position = at.checkpoint_epoch
    return snap


def packed_snapshot(out: Path) -> Snapshot | None:
    """The same from a packed run's ``pack_state.pkl`` (written whole); None while absent."""
    from tuner.launch.packed import state as pack_state

    if not (out / pack_state.STATE_FILE).exists():
        return None
    saved = pack_state.read(str(out))
    trials = {t["trial_id"]: AtSnapshot(status=t["status"], position=int(t["epochs"]),
                                        checkpoint_epoch=int(t["checkpoint_epoch"])
                                        if t["checkpoint"] else 0, rows=len(t["history"]))
              for t in saved["trials"]}
    return Snapshot(trials, list((saved["scheduler"] or {}).get("lineage", [])))


def saved_epoch(checkpoint: Path) -> int:
    import torch

    return int(torch.load(checkpoint / CHECKPOINT_FILE, map_location="cpu",
                          weights_only=False)["epoch"])


# -- per-epoch rows ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    epoch: int
    since_restore: int  # 1: the first epoch after a start, restore, or PBT copy
    t: float  # when: wall time (Ray's rows: whole seconds); packed rows: training time


def rows(folder: Path, kind: Kind) -> dict[str, list[Row]]:
    """Every trial's per-epoch rows, in the order written: the epoch log (solo Ray trials),
    a packed run's own ``<trial>/result.json`` (written by its driver as results come), or
    Ray's ``result.json`` (data-parallel trials, whose gangs train no ``step()`` of ours: under
    ASHA they restart only at the resume, which keeps the rows synced by then)."""
    out = folder / "out" / NAME
    found: dict[str, list[Row]] = {}
    if kind.packed or kind.ray_rows:
        for file in sorted(out.glob("*/result.json")):
            trial_id = file.parent.name.rpartition("_")[2] if kind.ray_rows \
                else file.parent.name
            found[trial_id] = [_row(json.loads(line), kind)
                               for line in file.read_text().splitlines()]
    else:
        for file in sorted((folder / "epochs").glob("*.jsonl")):
            found[file.stem] = [Row(r["epoch"], r["since_restore"], r["t"]) for r in
                                map(json.loads, file.read_text().splitlines())]
    return found


def _row(result: dict, kind: Kind) -> Row:
    # ``t``: when, so that a row written anew never equals an old one
    if kind.packed:  # a member's epoch follows the one it continued from (PBT: its source's)
        return Row(int(result["training_iteration"]), 0, float(result["time_total_s"]))
    return Row(int(result["training_iteration"]), int(result["iterations_since_restore"]),
               float(result["timestamp"]))


def trials_csv(folder: Path) -> list[dict]:
    with (folder / "out" / NAME / "trials.csv").open() as f:
        return list(csv.DictReader(f))


def report_lineage(folder: Path) -> list[str]:
    """The rows of report.md's lineage table ("## PBT lineage" / "## PB2 lineage"), as written."""
    report = (folder / "out" / NAME / "report.md").read_text()
    section = re.search(r"^## \w+ lineage$(.*?)(?=^## |\Z)", report, re.MULTILINE | re.DOTALL)
    return re.findall(r"^\| \d+ \| .* \|$", section.group(1) if section else "", re.MULTILINE)
