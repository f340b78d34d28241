"""The Ray session a launch runs in, and what the cluster's resources allow.

Shared by the unpacked runner (``tuner.launch.runner``) and the packed one
(``tuner.launch.packed``): the environment Ray reads at start-up, a local session bound to
loopback only, how many trials fit at once, and which parameters PBT may mutate.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from tuner.errors import ConfigError

__all__ = ["RAY_ENV", "fit", "init_ray", "local_only_env", "pbt_params", "slots"]

# Environment Ray reads at import/init time; users may override any of them.
RAY_ENV = {
    "TUNE_GLOBAL_CHECKPOINT_S": "2",        # snapshot period (default "auto" ≥ 10 s)
    "RAY_AIR_NEW_OUTPUT": "0",  # legacy reporter: silent at verbose=0 (the new one prints a box)
    "TUNE_WARN_THRESHOLD_S": "2",
    # checkpoints every epoch force small state snapshots; Ray warns about each one
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
    "RAY_DEDUP_LOGS": "1",
    "RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS": "0",
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
}


def slots(exp: Any, cluster: dict[str, float]) -> int:
    """Trials that fit at once: the user's limit, else what the cluster's CPUs/GPUs allow —
    for data-parallel trials, whole gangs (a trial's actor asks Tune for almost nothing, so
    without this limit idle drivers would pile up waiting for workers)."""
    if exp.max_concurrent:
        return exp.max_concurrent
    cpus, gpus = exp.resources.per_trial()
    fits = []
    if cpus > 0:
        fits.append(fit(cluster.get("CPU", 1), cpus))
    if gpus > 0:
        fits.append(fit(cluster.get("GPU", 0), gpus))
    return max(1, min(fits) if fits else 1)


def fit(have: float, each: float) -> int:
    """How many ``each`` fit in ``have``: 1 // 0.2 is 4.0 in floating point (0.2 is a hair
    above 1/5), so divide first and absorb the rounding before flooring."""
    return int(have / each + 1e-9)


def local_only_env() -> None:
    """Make a local Ray bind every server to 127.0.0.1 instead of the machine's address.

    Ray picks the loopback address as the node IP when clusters are "disabled" (its mode for
    laptops on macOS/Windows, ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``), and since
    ray-project/ray#59852 its servers bind to the node IP rather than 0.0.0.0. Must be set
    before ``import ray``; ``tuner launch`` without ``--address`` does so first thing.
    """
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def init_ray(address: str | None, exp: Any = None) -> None:
    """Start (or join, with ``address``) Ray; a session already up in this process is reused
    and this process's environment is left alone — but for one switch: Ray replaces this
    process's ``builtins.print`` with ``tqdm_ray.safe_print`` the first time a worker logs a
    ``tqdm_ray`` line (Ray Train's workers do), after which the run's own callbacks, which
    hold the original ``print``, no longer pickle (``--resume``, a second ``tuner.run``).
    ``RAY_TQDM_PATCH_PRINT=0`` keeps ``print`` as it is; Ray reads it at that moment."""
    os.environ.setdefault("RAY_TQDM_PATCH_PRINT", "0")
    already = sys.modules.get("ray")
    if already is not None and already.is_initialized():
        return
    for key, value in RAY_ENV.items():
        os.environ.setdefault(key, value)
    if not address:
        local_only_env()
    import ray
    common = dict(include_dashboard=False, log_to_driver=False, logging_level="WARNING",
                  configure_logging=True)
    if address:
        ray.init(address=address, **common)
    else:
        # a laptop run listens on loopback only (local_only_env); nothing is exposed
        ray.init(address="local", **common)


def pbt_params(exp: Any, trainable_cls: type) -> list[str]:
    """What PBT may mutate: not the keys that reshape the weights (an exploited trial loads
    another trial's checkpoint), nor conditional parameters and their parents."""
    shape = set(getattr(trainable_cls, "shape_keys", ()))
    parents = {p for dom in exp.space.values() for p in dom.when}
    params = [n for n, d in exp.space.searchable.items()
              if n not in shape and not d.when and n not in parents]
    if not params:
        raise ConfigError(f"scheduler {exp.scheduler}: nothing to mutate — every searched "
                          f"parameter ({', '.join(exp.space.searchable)}) changes the model's "
                          "shape or is conditional")
    return params
