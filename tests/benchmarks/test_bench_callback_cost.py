"""The per-callback cost benchmark drives every callback through a trial's events."""

from __future__ import annotations

import pytest

from benchmarks.callback_cost import CALLBACKS, main, measure


def test_every_callback_runs_a_trials_events_and_is_timed():
    rows = measure(list(CALLBACKS), trials=2, repeats=1)
    assert [r["callback"] for r in rows] == list(CALLBACKS)
    assert all(r["wall_ms"] > 0 and r["cpu_ms"] >= 0 for r in rows)


def test_unknown_callback_is_one_clear_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--callbacks", "progress,nope"])
    assert exc.value.code == 2
    assert "unknown callback(s) nope" in capsys.readouterr().err
