"""The per-callback cost benchmark drives every callback through a trial's events, and each
callback really does its work there (else the benchmark would time nothing)."""

from __future__ import annotations

import json

import optuna
import pytest

from benchmarks.callback_cost import CALLBACKS, N_REPORTS, main, measure

TRIALS = 3


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    keep = tmp_path_factory.mktemp("callback_cost")
    rows = measure(list(CALLBACKS), trials=TRIALS, repeats=1, keep=str(keep))
    return {r["callback"]: r for r in rows}, keep


def _last_pass(keep, name):
    return keep / f"{name}_1"


def test_every_callback_is_timed(measured):
    rows, _ = measured
    assert list(rows) == list(CALLBACKS)
    assert all(r["wall_ms"] > 0 and r["cpu_ms"] >= 0 for r in rows.values())


def test_each_callback_wrote_what_it_writes_in_a_run(measured):
    rows, keep = measured
    for name in ("ray-json", "ray-csv"):
        for i in range(TRIALS):
            trial = _last_pass(keep, name) / f"trial_{i}"
            if name == "ray-json":
                lines = (trial / "result.json").read_text().splitlines()
                assert [json.loads(line)["epoch"] for line in lines] == \
                    list(range(1, N_REPORTS + 1))
            else:
                assert len((trial / "progress.csv").read_text().splitlines()) == N_REPORTS + 1
    for name in ("tensorboard", "ray-tensorboard"):
        events = list(_last_pass(keep, name).glob("trial_*/events.out.tfevents.*"))
        assert len(events) == TRIALS and all(e.stat().st_size > 0 for e in events), name
    journal = _last_pass(keep, "mirror") / "callback_cost" / "optuna.journal"  # <storage>/<name>
    study = optuna.load_study(study_name="callback_cost", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(journal))))
    assert [len(t.intermediate_values) for t in study.trials] == [N_REPORTS] * TRIALS
    assert rows["progress"]["printed"] >= TRIALS  # a line per finished trial


def test_unknown_callback_is_one_clear_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--callbacks", "progress,nope"])
    assert exc.value.code == 2
    assert "unknown callback(s) nope" in capsys.readouterr().err
