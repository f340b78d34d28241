"""A local run (no --address) exposes nothing: every Ray server listens on loopback only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import json, psutil
from tuner.launch.ray_session import init_ray
init_ray(None)  # the runner imports ray itself, after setting the loopback-only env
import ray
ray.get(ray.remote(lambda: 1).remote())  # start a worker too
session = ray._private.worker._global_node.session_name
pids = {p.pid for p in psutil.process_iter(["cmdline"])
        if any(session in c for c in (p.info["cmdline"] or []))}
pids |= {c.pid for c in psutil.Process().children(recursive=True)} | {psutil.Process().pid}
listening = []
for pid in pids:
    try:
        conns = psutil.Process(pid).net_connections(kind="inet")
    except psutil.Error:
        continue
    listening += [c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN]
print(json.dumps({"node_ip": ray.nodes()[0]["NodeManagerAddress"], "listening": listening}))
ray.shutdown()
"""


@pytest.mark.ray
@pytest.mark.slow
def test_local_ray_listens_on_loopback_only():
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["node_ip"] == "127.0.0.1"
    assert len(out["listening"]) >= 3  # gcs, raylet, worker, …
    loopback = {"127.0.0.1", "::ffff:127.0.0.1", "::1"}
    assert set(out["listening"]) <= loopback, out["listening"]
