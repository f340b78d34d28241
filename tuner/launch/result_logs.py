"""Ray's ``result.json`` / ``progress.csv`` loggers, without the copy that loses rows.

Ray 2.60's ``JsonLoggerCallback`` and ``CSVLoggerCallback``, whenever a trial with a
checkpoint (re)starts, copy the experiment folder's file over the driver's own
(``ray/tune/logger/logger.py`` ``_restore_from_remote``). Within one driver session the
driver's file is the newer one — it is synced into the experiment folder only every few
seconds — so each pause, PBT exploit or retry threw away the rows since the last sync: an
uninterrupted PBT trial that trained 10 epochs kept rows [7, 8] (found by
tests/test_killed_driver.py), and curves, ``best_epoch`` and the fault ledger read those rows.
Here the copy is made only when the driver has no file of its own, which is what it is for: a
``--resume`` (a new driver session, with an empty staging folder).
"""

from __future__ import annotations

import os
from typing import Any

from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

__all__ = ["CsvLog", "JsonLog"]


class _KeepTheDriversRows:
    def _restore_from_remote(self, file_name: str, trial: Any) -> None:
        local = os.path.join(trial.local_path, file_name)
        if os.path.exists(local) and os.path.getsize(local) > 0:
            return  # this session's own rows: newer than the folder's copy
        super()._restore_from_remote(file_name, trial)  # type: ignore[misc]


class JsonLog(_KeepTheDriversRows, JsonLoggerCallback):
    """Ray's ``result.json`` logger that keeps this session's rows across restarts."""


class CsvLog(_KeepTheDriversRows, CSVLoggerCallback):
    """Ray's ``progress.csv`` logger that keeps this session's rows across restarts."""
