"""`tuner launch` on a real two-node Ray cluster on loopback, including losing the worker node.

Each test starts its own nodes with scripts/local_two_node.sh (head: 1 CPU, worker: 2 CPUs + 1
fake GPU), token auth on, and runs the CLI as a separate driver process. It never uses the
shared `ray_session` fixture: that Ray is a single local node, and the test process itself must
not hold a Ray connection (the helpers below run in subprocesses with the cluster's token).

Telling nodes apart on one machine: both nodes report the same `node_ip`/`hostname` (so does
trials.csv's `node` column), so each trial's `pid` (in result.json) is joined with the GCS actor
table, which keeps every actor, dead ones included, with its pid and Ray node id
(scripts/trial_nodes.py); the placement tests' trials record their Ray node id themselves. The
worker is the node that is not the head (the one with `fake_gpu_node` while alive; a dead node
reports no resources).

Forcing placement instead of hoping for it: with `reuse_actors=True` Ray Tune hands a finished
trial's actor to the next pending trial and drops the actor it was still starting for it
(`TuneController._maybe_reuse_cached_actor`), so short trials can all run, one after another,
in the first actor to come up, on one node, however many slots the cluster has. The placement
tests therefore run `RendezvousMLP`: the digits MLP whose trials each wait, before their first
epoch, until every trial of the run is inside its first epoch. No trial can finish (and free
its actor) before all of them hold their resources at once, so Ray must find room for all of
them together, and the node each one landed on follows from the nodes' declared resources. Had
Ray placed them wrongly (a GPU trial on the head, a third 0.5-GPU trial on the one GPU) they
could not all run at once: the rendezvous times out, the trials fail, and so does the test.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from benchmarks.fault_soak import port_taken, quiet_port
from trainables.base import MLPTrainable

pytestmark = [pytest.mark.ray, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "local_two_node.sh"
EXPERIMENT = "examples/digits_mlp.yaml"
RAY_BIN = Path(sys.executable).parent / "ray"
# "tests.cluster.test_multinode": Ray workers import it from the driver's cwd (ROOT)
THIS_MODULE = ".".join(Path(__file__).resolve().relative_to(ROOT).with_suffix("").parts)
RENDEZVOUS_TIMEOUT_S = 120.0  # only ever waited out when the trials cannot all run at once


class RendezvousMLP(MLPTrainable):
    """The digits MLP, but a trial's first epoch waits until `rendezvous_size` trials have
    reached theirs: all of them then run at once, each holding its resources. Each trial
    records in `rendezvous_dir/<trial_id>.json` its Ray node id and GPU ids, and the cluster's
    nodes with their declared resources. Not meeting within RENDEZVOUS_TIMEOUT_S fails the
    trial (and the test)."""

    def setup(self, config):
        super().setup(config)
        self._meet_at = (config.get("rendezvous_dir"), int(config.get("rendezvous_size", 0)))

    def step(self):
        if self._meet_at[0]:
            self._meet(Path(self._meet_at[0]), self._meet_at[1])
            self._meet_at = (None, 0)
        return super().step()

    def _meet(self, folder: Path, size: int) -> None:
        import ray

        ctx = ray.get_runtime_context()
        record = {
            "trial": self.trial_id,
            "node": ctx.get_node_id(),
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
            "nodes": {n["NodeID"]: n["Resources"] for n in ray.nodes() if n["Alive"]},
        }
        tmp = folder / f".{self.trial_id}.tmp"
        tmp.write_text(json.dumps(record))
        tmp.rename(folder / f"{self.trial_id}.json")  # whole files only
        deadline = time.monotonic() + RENDEZVOUS_TIMEOUT_S
        while (arrived := len(list(folder.glob("*.json")))) < size:
            if time.monotonic() > deadline:
                raise RuntimeError(f"rendezvous: {arrived} of {size} trials running at once")
            time.sleep(0.05)


@dataclass
class TwoNodes:
    address: str
    env: dict  # environment for drivers: RAY_ADDRESS + the cluster's auth settings
    script_env: dict
    start_seconds: float
    state: Path  # the script's state directory: head.pid, worker.pid, logs

    def node_of_pid(self, pid: int) -> str | None:
        """'head' or 'worker': which node's `ray start` process the pid descends from."""
        roles = {
            int((self.state / f"{r}.pid").read_text()): r
            for r in ("head", "worker")
            if (self.state / f"{r}.pid").exists()
        }
        while pid > 1:
            if pid in roles:
                return roles[pid]
            try:
                pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                return None
        return None

    def stop(self) -> None:
        subprocess.run([str(SCRIPT), "stop"], env=self.script_env, timeout=90, check=False)

    def kill_worker(self) -> None:
        out = subprocess.run(
            [str(SCRIPT), "kill-worker"],
            env=self.script_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.returncode == 0, out.stderr


def _start_two_nodes() -> tuple[TwoNodes, str]:
    # short path: Ray's unix sockets live under the temp dir (limit ~107 characters)
    state = tempfile.mkdtemp(prefix="tn", dir="/tmp")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
    }
    env.update(TUNER_TWO_NODE_DIR=state, RAY=str(RAY_BIN), RAY_AUTH_MODE="token")
    for attempt in range(3):  # a port lost to another process between choice and bind
        env["TUNER_TWO_NODE_PORT"] = str(quiet_port())
        t0 = time.monotonic()
        out = subprocess.run(
            [str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=150,
            check=False,
        )
        seconds = time.monotonic() - t0
        if out.returncode == 0:
            break
        subprocess.run([str(SCRIPT), "stop"], env=env, timeout=90, check=False)
        if attempt == 2 or not port_taken(out.stdout + out.stderr):
            pytest.fail(f"local_two_node.sh start failed:\n{out.stdout}\n{out.stderr}")
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in Path(state, "env").read_text().splitlines()
    )
    driver_env = {**env, **exports}
    return TwoNodes(exports["RAY_ADDRESS"], driver_env, env, seconds, Path(state)), state


@pytest.fixture(scope="module")
def shared_nodes():
    nodes, state = _start_two_nodes()
    yield nodes
    nodes.stop()
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def fresh_nodes():
    nodes, state = _start_two_nodes()
    yield nodes
    nodes.stop()
    shutil.rmtree(state, ignore_errors=True)


def _launch_args(nodes: TwoNodes, storage: Path, name: str, *sets: str) -> list[str]:
    args = [
        sys.executable,
        "-m",
        "tuner",
        "launch",
        EXPERIMENT,
        "--address",
        nodes.address,
        "--storage",
        str(storage),
        "--name",
        name,
    ]
    for item in sets:
        args += ["--set", item]
    return args


def _launch(nodes: TwoNodes, storage: Path, name: str, *sets: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        _launch_args(nodes, storage, name, *sets),
        cwd=ROOT,
        env=nodes.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _trial_nodes(nodes: TwoNodes, experiment_dir: Path) -> tuple[dict, str, str]:
    """(trial_id -> [node id per process], head node id, worker node id)."""
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "trial_nodes.py"),
            str(experiment_dir),
            "--address",
            nodes.address,
        ],
        env=nodes.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    # a dead node reports no resources, so the worker is "the node that is not the head"
    head = [n for n, v in info["nodes"].items() if "node:__internal_head__" in v["resources"]]
    worker = [n for n in info["nodes"] if n not in head]
    assert len(worker) == 1 and len(head) == 1, info["nodes"]
    return info["trials"], head[0], worker[0]


def _last_results(experiment_dir: Path) -> dict[str, dict]:
    last = {}
    for path in experiment_dir.glob("*/result.json"):
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
        if lines:
            row = json.loads(lines[-1])
            last[row["trial_id"]] = row
    return last


@dataclass
class Placement:
    stdout: str  # of `tuner launch`
    trials: dict  # trial id -> its record: node (Ray node id), gpu_ids
    head: str  # Ray node ids
    worker: str
    resources: dict  # node id -> the node's declared resources


def _launch_rendezvous(
    nodes: TwoNodes, storage: Path, name: str, trials: int, *sets: str
) -> Placement:
    """`tuner launch` of `trials` RendezvousMLP trials that must all run at once."""
    meet = storage / f"{name}-rendezvous"
    meet.mkdir()
    out = _launch(
        nodes,
        storage,
        name,
        f"trainable={THIS_MODULE}:RendezvousMLP",
        f"config.rendezvous_dir={meet}",
        f"config.rendezvous_size={trials}",
        f"num_samples={trials}",
        "budget.max=1",  # placement is the point, not training
        "scheduler=fifo",
        "max_failures=0",  # a missed rendezvous fails the run at once
        *sets,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    # tuner exits 0 with errored trials: each must have met the others and finished its epoch
    last = _last_results(storage / name)
    assert len(last) == trials and all(r["training_iteration"] == 1 for r in last.values()), last
    met = {r["trial"]: r for r in (json.loads(p.read_text()) for p in meet.glob("*.json"))}
    assert set(met) == set(last), (met, last)
    nodes = next(iter(met.values()))["nodes"]
    head = [n for n, res in nodes.items() if "node:__internal_head__" in res]
    assert len(nodes) == 2 and len(head) == 1, nodes
    worker = next(n for n in nodes if n != head[0])
    return Placement(out.stdout, met, head[0], worker, nodes)


def test_fractional_gpu_trials_run_on_the_gpu_node_two_at_a_time(shared_nodes, tmp_path):
    # 0.5 GPU and 0.5 CPU per trial: by CPUs the worker (2 CPUs, 1 GPU) would hold four and
    # the head (1 CPU, no GPU) two, by its one GPU the worker holds two and the head none; so
    # `tuner launch` runs 2 at once, and the two trials, which must run together, can only do
    # so side by side on the worker
    run = _launch_rendezvous(
        shared_nodes, tmp_path, "gpu", 2, "resources.gpus=0.5", "resources.cpus=0.5"
    )
    assert "GPU" not in run.resources[run.head], run.resources
    assert run.resources[run.worker]["GPU"] == 1, run.resources
    assert "2 trial(s) at once from the cluster's current resources" in run.stdout, run.stdout
    # both on the worker at the same time (the rendezvous), sharing its one GPU: each was
    # given GPU 0 (Ray's id; the GPU is a logical one)
    assert [(r["node"], r["gpu_ids"]) for r in run.trials.values()] == [(run.worker, ["0"])] * 2


def test_cpu_trials_use_both_nodes(shared_nodes, tmp_path):
    # 3 trials of 1 CPU that must all run at once on 3 CPUs: the head's 1 and the worker's 2
    run = _launch_rendezvous(
        shared_nodes, tmp_path, "cpu", 3, "resources.gpus=0", "searcher=random"
    )
    assert (run.resources[run.head]["CPU"], run.resources[run.worker]["CPU"]) == (1, 2)
    assert "3 trial(s) at once from the cluster's current resources" in run.stdout, run.stdout
    placed = sorted(r["node"] for r in run.trials.values())
    assert placed == sorted([run.head, run.worker, run.worker]), (placed, run.head, run.worker)
    assert all(r["gpu_ids"] == [] for r in run.trials.values()), run.trials


def _wait_for_a_trial_on_the_worker(
    nodes: TwoNodes, experiment: Path, proc: subprocess.Popen, epochs: int, timeout: float
) -> str:
    """Poll result.json files until a trial reports from a worker-node process; its id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before the worker could be killed"
        for trial, row in _last_results(experiment).items():
            # early in its run (epochs of a few ms: it must not finish before the kill lands)
            if row["training_iteration"] <= epochs // 9 and nodes.node_of_pid(row["pid"]) == "worker":
                return trial
        time.sleep(0.2)
    pytest.fail(f"no trial reported from the worker node within {timeout} s")


def test_experiment_finishes_after_losing_the_worker_node(fresh_nodes, tmp_path):
    epochs, log = 81, tmp_path / "launch.log"  # a file, not a pipe nobody reads while we poll
    proc = subprocess.Popen(
        _launch_args(
            fresh_nodes,
            tmp_path,
            "ft",
            "resources.gpus=0",
            "num_samples=4",
            "searcher=random",
            "scheduler=fifo",
            f"budget.max={epochs}",
            "max_failures=3",
            "checkpoint_interval_s=0",  # every epoch: the default skips saves < 10 s apart
        ),
        cwd=ROOT,
        env=fresh_nodes.env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    experiment = tmp_path / "ft"
    try:
        victim = _wait_for_a_trial_on_the_worker(fresh_nodes, experiment, proc, epochs, 180)
        fresh_nodes.kill_worker()
        proc.wait(timeout=400)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, log.read_text()[-4000:]

    last = _last_results(experiment)
    assert len(last) == 4
    assert all(r["training_iteration"] == epochs for r in last.values()), last
    trials, head, worker = _trial_nodes(fresh_nodes, experiment)
    moved = [t for t, ns in trials.items() if ns[0] == worker and ns[-1] == head]
    # the trial seen on the worker moved, unless it outran the kill (then another one did);
    # a trial that stayed on the worker finished there (all reached `epochs`, checked above)
    assert moved and (victim in moved or trials[victim] == [worker]), (victim, trials)
    for trial in moved:  # resumed from a checkpoint, not restarted from epoch 1
        rows = [
            json.loads(ln)
            for p in experiment.glob(f"*{trial}*/result.json")
            for ln in p.read_text().splitlines()
            if ln.strip()
        ]
        iterations = [r["training_iteration"] for r in rows]
        restarts = [b for a, b in itertools.pairwise(iterations) if b <= a]
        assert all(b > 1 for b in restarts), iterations
