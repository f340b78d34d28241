"""`tuner launch` on a real two-node Ray cluster on loopback, including losing the worker node.

Each test starts its own nodes with scripts/local_two_node.sh (head: 1 CPU, worker: 2 CPUs + 1
fake GPU), token auth on, and runs the CLI as a separate driver process. It never uses the
shared `ray_session` fixture: that Ray is a single local node, and the test process itself must
not hold a Ray connection (the helpers below run in subprocesses with the cluster's token).

Telling nodes apart on one machine: both nodes report the same `node_ip`/`hostname`, so each
trial's `pid` (in result.json) is joined with the GCS actor table, which keeps every actor, dead
ones included, with its pid and Ray node id (scripts/trial_nodes.py). The worker is the node
that is not the head (the one with `fake_gpu_node` while alive; a dead node reports no
resources).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "local_two_node.sh"
EXPERIMENT = "examples/digits_mlp.yaml"
RAY_BIN = Path(sys.executable).parent / "ray"


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_two_nodes() -> tuple[TwoNodes, str]:
    # short path: Ray's unix sockets live under the temp dir (limit ~107 characters)
    state = tempfile.mkdtemp(prefix="tn", dir="/tmp")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
    }
    env.update(
        TUNER_TWO_NODE_PORT=str(_free_port()),
        TUNER_TWO_NODE_DIR=state,
        RAY=str(RAY_BIN),
        RAY_AUTH_MODE="token",
    )
    t0 = time.monotonic()
    out = subprocess.run(
        [str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=150, check=False
    )
    seconds = time.monotonic() - t0
    if out.returncode != 0:
        subprocess.run([str(SCRIPT), "stop"], env=env, timeout=90, check=False)
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


def _actor_spans(experiment_dir: Path) -> dict[int, tuple[float, float]]:
    """pid -> (first start, last report) over every trial that actor ran (actors are reused)."""
    spans: dict[int, tuple[float, float]] = {}
    for path in experiment_dir.glob("*/result.json"):
        for row in (json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()):
            start, end = row["timestamp"] - row["time_this_iter_s"], row["timestamp"]
            old = spans.get(row["pid"], (start, end))
            spans[row["pid"]] = (min(old[0], start), max(old[1], end))
    return spans


def test_fractional_gpu_trials_run_on_the_gpu_node_two_at_a_time(shared_nodes, tmp_path):
    # 6 trials of 81 epochs: long enough, even on a loaded machine, that the second actor
    # starts before the first (reused) actor has run every trial (with 4 of 27 epochs one CI
    # run saw a single actor run them all)
    out = _launch(
        shared_nodes,
        tmp_path,
        "gpu",
        "resources.gpus=0.5",
        "num_samples=6",
        "budget.max=81",
        "scheduler=fifo",
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    experiment = tmp_path / "gpu"
    trials, _head, worker = _trial_nodes(shared_nodes, experiment)
    assert len(trials) == 6
    assert {n for ns in trials.values() for n in ns} == {worker}  # the head has no GPU
    # two trial actors (reused across trials) alive at the same time, each holding 0.5 GPU
    spans = sorted(_actor_spans(experiment).values())
    assert any(a[1] > b[0] for a, b in itertools.pairwise(spans)), f"no overlap: {spans}"


def test_cpu_trials_use_both_nodes(shared_nodes, tmp_path):
    # 6 trials for the 3 CPU slots, each 81 epochs long: the worker's two reused actors cannot
    # finish them all before the head's actor has started, even when the head's actor starts
    # seconds late on a loaded machine (with 3 trials of 27 epochs, one CI run saw all of them
    # on the worker)
    out = _launch(
        shared_nodes,
        tmp_path,
        "cpu",
        "resources.gpus=0",
        "num_samples=6",
        "budget.max=81",
        "scheduler=fifo",
        "searcher=random",
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    trials, head, worker = _trial_nodes(shared_nodes, tmp_path / "cpu")
    assert len(trials) == 6
    assert {n for ns in trials.values() for n in ns} == {head, worker}


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
