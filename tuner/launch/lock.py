"""One launch per results folder: ``<storage>/.<name>.lock``, held for the whole run.

A second ``tuner launch`` of the same name (a double-click, two terminals) is refused with
one line instead of writing into the same folder as the first.
"""

from __future__ import annotations

import os
from typing import Any

from tuner.errors import ConfigError

__all__ = ["lock_experiment", "unlock_experiment"]

_LOCKS: dict[str, int] = {}  # experiment path → the open lock file of this process


def lock_experiment(exp: Any) -> None:
    """Hold ``<storage>/.<name>.lock`` for the whole run, so a second launch of the same name
    (a double-click, two terminals) is refused instead of writing into the same folder. An
    ``flock`` is released by the kernel when the process dies: no stale locks after a kill."""
    if "://" in exp.storage or exp.path in _LOCKS:
        return
    import fcntl

    lock = os.path.join(exp.storage, f".{exp.name}.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise ConfigError(f"results directory {exp.path} is in use by another tuner launch "
                          f"(pid {owner}); wait for it, or choose another --name") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _LOCKS[exp.path] = fd


def unlock_experiment(exp: Any) -> None:
    fd = _LOCKS.pop(exp.path, None)
    if fd is not None:
        os.close(fd)  # closing the last descriptor releases the flock
