"""scripts/local_two_node.sh: argument and auth handling that needs no Ray (fast).

Starting real nodes is covered by test_multinode.py (slow)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "local_two_node.sh"


def _run(*args: str, state: Path, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "TUNER_TWO_NODE_DIR": str(state), "RAY": "/bin/false", **env}
    return subprocess.run(
        [str(SCRIPT), *args], env=full_env, capture_output=True, text=True, timeout=30, check=False
    )


def test_unknown_subcommand_prints_usage_and_exits_2(tmp_path):
    out = _run("restart", state=tmp_path)
    assert out.returncode == 2 and "usage:" in out.stderr


def test_bad_auth_mode_is_rejected_before_any_node_starts(tmp_path):
    out = _run("start", state=tmp_path, RAY_AUTH_MODE="tokn")
    assert out.returncode == 2 and "RAY_AUTH_MODE must be token or disabled" in out.stderr
    assert not (tmp_path / "head.pid").exists()


def test_stop_and_status_without_nodes_are_harmless(tmp_path):
    assert _run("stop", state=tmp_path).returncode == 0
    out = _run("status", state=tmp_path)
    assert out.returncode == 0 and "head: stopped" in out.stdout


def test_failed_node_start_is_reported_with_its_log(tmp_path):
    # RAY=/bin/false: the head process exits at once; the script must say so and exit 2
    out = _run("start", state=tmp_path, RAY_AUTH_MODE="token")
    assert out.returncode == 2 and "head node exited during start" in out.stderr
    token = tmp_path / "auth_token"
    assert token.stat().st_mode & 0o077 == 0  # the generated token is private to its owner


def test_nodes_start_without_the_local_only_switch(tmp_path):
    # a process that ran a local `tuner launch` in-process has RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
    # (tuner.launch.runner.local_only_env); a worker node started with it refuses to join the cluster
    fake_ray = tmp_path / "ray"
    fake_ray.write_text('#!/usr/bin/env bash\necho "switch=${RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER-unset}"\n')
    fake_ray.chmod(0o755)
    out = _run("start", state=tmp_path, RAY=str(fake_ray), RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    assert "switch=unset" in (tmp_path / "head.log").read_text(), out.stderr
    out = _run("start", state=tmp_path / "on", RAY=str(fake_ray),
               RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="1")  # a macOS user's explicit opt-in stays
    assert "switch=1" in (tmp_path / "on" / "head.log").read_text(), out.stderr
