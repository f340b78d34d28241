"""Runs started before ``tuner/`` became subpackages still resume (issue 20, item 4).

``tests/fixtures/runs_before_subpackages/`` holds two run folders that the code before the
move made (commit 7a10597, 4 trials each of the digits MLP under the default method):
``old_run`` through Ray Tune, whose ``tuner.pkl`` pickles ``tuner.runner``,
``tuner.mirror_callback``, ``tuner.progress``, ``tuner.resume``, ``tuner.checkpointing`` and
``tuner.rung_quality`` objects by those paths; and ``old_packed``, a packed run with its
``pack_state.pkl``. Each is resumed with ``num_samples`` raised from 4 to 6: the old trials
are kept as they were and two new ones run.
"""

from __future__ import annotations

import csv
import importlib
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "runs_before_subpackages"


def test_every_old_path_names_the_module_that_now_holds_its_code():
    import tuner  # noqa: F401 — installs the finder
    from tuner.moved import MOVED

    for old, new in MOVED.items():
        assert importlib.import_module(old) is importlib.import_module(new), old
    from tuner.runner import run  # a user's import from before the move

    assert run is importlib.import_module("tuner.launch.runner").run


def test_the_old_pickle_names_the_old_paths():
    """The fixture really is from before the move (else the resume below proves nothing)."""
    data = (FIXTURES / "old_run" / "tuner.pkl").read_bytes()
    for old in (b"tuner.mirror_callback", b"tuner.rung_quality", b"tuner.runner"):
        assert old in data


def _copy(name: str, tmp_path: Path, num_samples: int) -> Path:
    shutil.copytree(FIXTURES / name, tmp_path / "out" / name)
    text = (FIXTURES / f"{name}.yaml").read_text()
    text = text.replace("STORAGE", str(tmp_path / "out"))
    text = text.replace("num_samples: 4", f"num_samples: {num_samples}")
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def _rows(folder: Path) -> list[dict]:
    with open(folder / "trials.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.parametrize("name", ["old_run", "old_packed"])
def test_a_run_from_before_the_move_resumes(name, tmp_path, ray_session, capsys):
    import tuner

    before = _rows(FIXTURES / name)
    experiment = _copy(name, tmp_path, num_samples=6)
    results = tuner.run(str(experiment), resume=True)
    rows = _rows(tmp_path / "out" / name)
    assert len(rows) == 6 and len({r["trial_id"] for r in rows}) == 6
    old = {r["trial_id"]: r for r in rows if r["trial_id"] in {b["trial_id"] for b in before}}
    assert {k: (v["status"], v["epochs"]) for k, v in old.items()} == {
        b["trial_id"]: (b["status"], b["epochs"]) for b in before}  # kept, not rerun
    assert not any(r["status"].startswith("errored") for r in rows)
    assert len(results.records) == 6 and results.best is not None
    if name == "old_run":  # the scheduler state came back out of the old pickles
        assert "resumed scheduler state:" in capsys.readouterr().out
