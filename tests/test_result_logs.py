"""A trial restarted within one driver session keeps the rows it logged (tuner.launch.result_logs).

Ray's loggers copied the experiment folder's ``result.json`` (synced every few seconds) over
the driver's own at every restart with a checkpoint; the rows since the last sync were lost.
A fake trial with both files decides it, no Ray session needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pyarrow.fs
import pytest
from ray.tune.logger import JsonLoggerCallback

from tuner.launch.result_logs import CsvLog, JsonLog


def _trial(tmp_path: Path) -> SimpleNamespace:
    local, remote = tmp_path / "staging", tmp_path / "storage"
    local.mkdir()
    remote.mkdir()
    storage = SimpleNamespace(trial_fs_path=str(remote),
                              storage_filesystem=pyarrow.fs.LocalFileSystem())
    return SimpleNamespace(local_path=str(local), checkpoint=object(), storage=storage)


def _rows(epochs) -> str:
    return "".join(json.dumps({"training_iteration": e}) + "\n" for e in epochs)


@pytest.mark.parametrize("logger, keeps", [(JsonLoggerCallback(), False), (JsonLog(), True)])
def test_a_restart_keeps_the_drivers_newer_rows(tmp_path, logger, keeps):
    trial = _trial(tmp_path)
    (Path(trial.local_path) / "result.json").write_text(_rows(range(1, 9)))  # the driver's
    (Path(trial.storage.trial_fs_path) / "result.json").write_text(_rows([1, 2]))  # synced
    logger._restore_from_remote("result.json", trial)
    rows = (Path(trial.local_path) / "result.json").read_text().splitlines()
    assert len(rows) == (8 if keeps else 2)  # Ray's own logger loses epochs 3-8


@pytest.mark.parametrize("logger, name", [(JsonLog(), "result.json"),
                                          (CsvLog(), "progress.csv")])
def test_a_resumed_session_still_gets_the_folders_rows(tmp_path, logger, name):
    """A new driver session (``--resume``) has no file of its own: the copy is made."""
    trial = _trial(tmp_path)
    (Path(trial.storage.trial_fs_path) / name).write_text("earlier rows\n")
    logger._restore_from_remote(name, trial)
    assert (Path(trial.local_path) / name).read_text() == "earlier rows\n"
