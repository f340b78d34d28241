"""Fault soak on the loopback two-node cluster: 200 short ASHA trials while three trial
processes, the driver (then ``--resume``) and the worker node are killed.

Nothing lost, nothing duplicated: every promised trial ends exactly once (one row each in
trials.csv, no errors, no trial the run did not promise), every injected retry is in
report.md, no restart goes back to epoch 1 once the trial had saved a checkpoint, and the
epochs redone are counted from the trainable's own log (benchmarks/fault_soak.py, which also
prints the figures for docs/cluster.md). Starts its own nodes; never the shared ``ray_session``.
"""

from __future__ import annotations

import json

import pytest

from benchmarks.fault_soak import soak

pytestmark = [pytest.mark.ray, pytest.mark.slow]

TRIALS = 200
EPOCH_S = 0.1


def test_soak_loses_and_duplicates_nothing(tmp_path):
    figures = soak(tmp_path, trials=TRIALS, epoch_seconds=EPOCH_S)
    text = json.dumps(figures, indent=1)
    assert figures["driver_exit"] == 0, text
    # the faults were injected: three distinct trial processes, the driver, the worker node
    faults = figures["faults"]
    assert len(set(faults["trial_process"])) == 3, text
    assert len(faults["driver"]) == 1 and len(faults["worker_node"]) == 1, text
    # every promised trial ends exactly once
    assert figures["trials_in_csv"] == figures["distinct_trials_in_csv"] == TRIALS, text
    assert figures["trials_that_ran"] == TRIALS and figures["unknown_trials"] == [], text
    assert figures["errored"] == [], text
    assert set(figures["statuses"]) <= {"completed", "stopped early"}, text
    # each killed trial was retried, and report.md lists every retry
    assert set(faults["trial_process"]) <= set(figures["retried_trials"]), text
    assert figures["retries_listed_in_report"] == sorted(figures["retried_trials"]), text
    # restarts come from checkpoints: never epoch 1 again once a checkpoint was saved; what is
    # redone at all is at most the epoch in flight per restart, plus the driver's snapshot lag
    # (TUNE_GLOBAL_CHECKPOINT_S = 2 s ≈ 20 epochs of 0.1 s for each of the 3 running trials)
    assert figures["restarts_from_scratch_despite_a_checkpoint"] == 0, text
    assert figures["restarts"] >= 3, text
    snapshot_lag = 3 * int(2 / EPOCH_S)
    assert figures["epochs_redone"] <= figures["restarts"] + snapshot_lag, text
