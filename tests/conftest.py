"""Shared fixtures: one Ray session for the whole test run (ray.init costs ~3 s here)."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_DEDUP_LOGS", "1")
# as tuner.launch.ray_session.init_ray: keep builtins.print when a worker logs a tqdm_ray line
os.environ.setdefault("RAY_TQDM_PATCH_PRINT", "0")


@pytest.fixture(scope="session")
def ray_session():
    """A local Ray with 2 CPUs, shared by every test marked ``ray``. Ray is a core
    dependency: were it broken, these tests fail (a skip would hide it)."""
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
