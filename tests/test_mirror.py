"""The Optuna mirror of a run: what optuna.load_study reads back, resume, batching, failures.

Events are fed to ``StudyMirror`` directly and to ``MirrorCallback`` with small fake trials (no
``ray.init``): the callback only reads ``trial_id``, ``config``, ``status``, ``last_result``.
"""

from __future__ import annotations

import os
import pickle
from types import SimpleNamespace

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from search_spaces import Categorical, Float, Int, SearchSpace
from tuner.view.mirror import JOURNAL, StudyMirror, WriteBehindBackend, distributions

SPACE = SearchSpace({
    "lr": Float(1e-4, 0.1, log=True),
    "hidden": Int(16, 256, log=True),
    "depth": Int(1, 7, step=2),
    "dropout": Float(0.0, 0.5, step=0.1),
    "optimizer": Categorical(["sgd", "adam"]),
    "momentum": Float(0.0, 0.99, when={"optimizer": "sgd"}),
    "dataset": "digits",
})
SGD = {"lr": 0.01, "hidden": 64, "depth": 3, "dropout": 0.2, "optimizer": "sgd",
       "momentum": 0.9, "dataset": "digits", "seed": 0}
ADAM = {"lr": 0.001, "hidden": 32, "depth": 1, "dropout": 0.0, "optimizer": "adam",
        "dataset": "digits", "seed": 0}


def load(path):
    return optuna.load_study(study_name="exp", storage=JournalStorage(JournalFileBackend(path)))


def mirror(path, **kw):
    return StudyMirror(path, study_name="exp", metric="val_accuracy", mode="max",
                       dists=distributions(SPACE), rungs=[1, 3, 9], **kw)


def by_ray_id(study):
    return {t.user_attrs["ray_trial_id"]: t for t in study.trials}


def test_distributions_follow_the_domains():
    d = distributions(SPACE)
    assert d["lr"] == FloatDistribution(1e-4, 0.1, log=True)
    assert d["hidden"] == IntDistribution(16, 256, log=True)
    assert d["depth"] == IntDistribution(1, 7, step=2)
    assert d["dropout"] == FloatDistribution(0.0, 0.5, step=0.1)
    assert d["optimizer"] == CategoricalDistribution(["sgd", "adam"])
    assert "dataset" not in d  # a fixed value is no parameter
    # every value the domain can take lies in the distribution (0.1 steps included)
    for name in ("depth", "dropout"):
        assert all(d[name]._contains(d[name].to_internal_repr(v))
                   for v in SPACE[name].grid_values())


def test_indivisible_float_step_ends_at_the_last_grid_point():
    d = distributions(SearchSpace({"x": Float(0.0, 1.0, step=0.3)}))["x"]
    assert d.high == pytest.approx(0.9) and d.step == 0.3


def _run(m):
    """completed (9 epochs, retried once on another node), stopped early, errored, NaN-ended."""
    m.started("t_ok", SGD)
    for epoch in range(1, 10):
        m.result("t_ok", epoch, 0.5 + epoch / 100, node="node-a" if epoch < 4 else "node-b")
        if epoch == 4:
            m.retried("t_ok")
            m.result("t_ok", 4, 0.541, node="node-b")  # the retry re-reports epoch 4
    m.ended("t_ok", "completed", 9)
    m.started("t_stop", ADAM)
    for epoch in (1, 2, 3):
        m.result("t_stop", epoch, 0.3 + epoch / 100, node="node-a")
    m.ended("t_stop", "stopped early", 3)
    m.started("t_err", ADAM)
    m.result("t_err", 1, 0.2)
    m.ended("t_err", "errored: RuntimeError: boom", 1)


def test_mirror_contents_read_back_with_optuna(tmp_path):
    path = str(tmp_path / JOURNAL)
    m = mirror(path, attrs={"searcher": "tpe"})
    _run(m)
    m.flush()
    study = load(path)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert study.metric_names == ["val_accuracy"]
    assert study.user_attrs == {"searcher": "tpe"}
    trials = by_ray_id(study)
    ok, stop, err = trials["t_ok"], trials["t_stop"], trials["t_err"]
    assert [t.number for t in (ok, stop, err)] == [0, 1, 2]

    assert ok.state == TrialState.COMPLETE and ok.value == pytest.approx(0.59)
    assert ok.intermediate_values[4] == pytest.approx(0.541)
    assert sorted(ok.intermediate_values) == list(range(1, 10))
    assert ok.params == {k: SGD[k] for k in ("lr", "hidden", "depth", "dropout", "optimizer",
                                             "momentum")}
    assert ok.distributions["lr"] == FloatDistribution(1e-4, 0.1, log=True)
    assert ok.user_attrs == {"ray_trial_id": "t_ok", "retries": 1, "epochs": 9, "rung": 2,
                             "node": "node-b", "status": "completed"}

    assert stop.state == TrialState.PRUNED and stop.value == pytest.approx(0.33)
    assert stop.user_attrs["rung"] == 1 and stop.user_attrs["epochs"] == 3
    assert "momentum" not in stop.params  # inactive conditional parameter
    assert set(stop.distributions) == set(stop.params)

    assert err.state == TrialState.FAIL and err.value is None
    assert err.user_attrs["status"] == "errored: RuntimeError: boom"
    assert err.intermediate_values == {1: 0.2}


def test_non_finite_values_are_not_intermediate_values(tmp_path):
    path = str(tmp_path / JOURNAL)
    m = mirror(path)
    m.started("a", ADAM)
    m.result("a", 1, float("nan"))
    m.ended("a", "stopped early", 1)
    m.flush()
    (trial,) = load(path).trials
    assert trial.intermediate_values == {}
    assert trial.state == TrialState.FAIL  # nothing finite to rank it by


def test_writes_wait_for_flush_and_go_in_one_append(tmp_path, monkeypatch):
    path = str(tmp_path / JOURNAL)
    m = mirror(path)
    m.flush()
    size = os.path.getsize(path)
    appends = []
    real = JournalFileBackend.append_logs
    monkeypatch.setattr(JournalFileBackend, "append_logs",
                        lambda self, logs: (appends.append(len(logs)), real(self, logs)))
    _run(m)
    assert os.path.getsize(path) == size and m.pending > 20
    m.flush()
    assert appends == [appends[0]] and appends[0] > 20  # one locked, fsync'ed append
    assert len(load(path).trials) == 3 and m.pending == 0


def test_resume_reopens_the_study_without_duplicates(tmp_path):
    path = str(tmp_path / JOURNAL)
    first = mirror(path)
    first.started("a", SGD)
    first.result("a", 1, 0.4)
    first.ended("a", "stopped early", 1)
    first.started("b", ADAM)
    first.result("b", 1, 0.5)
    first.result("b", 2, 0.6)
    first.flush()
    del first  # the driver died; --resume starts a new process

    again = mirror(path)
    assert sorted(again.running) == ["b"]
    again.started("a", SGD)  # Ray restarts nothing finished, but if it did: no new trial
    again.started("b", ADAM)  # the unfinished one restarts from its checkpoint
    again.result("b", 3, 0.7)
    again.result("a", 2, 0.99)  # a finished trial is not updated
    again.ended("b", "stopped early", 3)
    again.started("c", ADAM)
    again.flush()
    trials = by_ray_id(load(path))
    assert sorted(trials) == ["a", "b", "c"] and trials["c"].number == 2
    assert trials["a"].intermediate_values == {1: 0.4}
    assert trials["b"].intermediate_values == {1: 0.5, 2: 0.6, 3: 0.7}
    assert trials["b"].state == TrialState.PRUNED and trials["b"].value == pytest.approx(0.7)


def test_write_behind_backend_replays_its_own_pending_logs(tmp_path):
    backend = WriteBehindBackend(str(tmp_path / JOURNAL))
    assert list(backend.read_logs(0)) == []
    backend.append_logs([{"n": 0}, {"n": 1}])
    assert list(backend.read_logs(1)) == [{"n": 1}]
    backend.flush()
    backend.append_logs([{"n": 2}])
    assert list(backend.read_logs(2)) == [{"n": 2}]
    assert [log["n"] for log in JournalFileBackend(str(tmp_path / JOURNAL)).read_logs(0)] \
        == [0, 1]


# -- the Ray callback shell, with fake trials ---------------------------------------------------

def fake_trial(trial_id, config, status="RUNNING", last=None, error=None):
    return SimpleNamespace(trial_id=trial_id, config=config, status=status,
                           last_result=last or {}, get_error=lambda: error)


def callback(folder, warnings, **kw):
    from tuner.view.mirror_callback import MirrorCallback

    return MirrorCallback(str(folder), study_name="exp", metric="val_accuracy", mode="max",
                          space=SPACE, max_epochs=3, rungs=[1, 3], warn=warnings.append, **kw)


def _result(epoch, value, **extra):
    return {"training_iteration": epoch, "val_accuracy": value, "hostname": "h1", **extra}


def test_callback_maps_ray_events(tmp_path):
    warnings = []
    cb = callback(tmp_path, warnings, flush_s=3600)
    done = fake_trial("done", SGD)
    stopped = fake_trial("stopped", ADAM)
    nan = fake_trial("nan", ADAM)
    crashed = fake_trial("crashed", ADAM)
    for t in (done, stopped, nan, crashed):
        cb.on_trial_start(0, [], t)
    for epoch in (1, 2, 3):
        done.last_result = _result(epoch, 0.8 + epoch / 100)
        cb.on_trial_result(0, [], done, done.last_result)
    cb.on_trial_recover(0, [], done)
    cb.on_trial_complete(0, [], done)
    stopped.last_result = _result(1, 0.5)
    cb.on_trial_result(0, [], stopped, stopped.last_result)
    cb.on_trial_complete(0, [], stopped)
    nan.last_result = _result(2, float("nan"), error="non-finite loss", done=True)
    cb.on_trial_result(0, [], nan, nan.last_result)
    cb.on_trial_complete(0, [], nan)
    crashed.status = "ERROR"
    crashed.get_error = lambda: SimpleNamespace(cause=ValueError("bad shape\nmore"))
    cb.on_trial_error(0, [], crashed)
    assert not os.path.exists(tmp_path / JOURNAL) or not load(str(tmp_path / JOURNAL)).trials
    cb.on_experiment_end([done, stopped, nan, crashed])
    trials = by_ray_id(load(str(tmp_path / JOURNAL)))
    assert trials["done"].state == TrialState.COMPLETE
    assert trials["done"].value == pytest.approx(0.83)
    assert trials["done"].user_attrs["retries"] == 1 and trials["done"].user_attrs["node"] == "h1"
    assert trials["stopped"].state == TrialState.PRUNED
    assert trials["nan"].state == TrialState.FAIL
    assert trials["nan"].user_attrs["status"] == "errored: non-finite loss"
    assert trials["crashed"].state == TrialState.FAIL
    assert trials["crashed"].user_attrs["status"] == "errored: ValueError: bad shape"
    assert warnings == []


def test_callback_flushes_about_every_flush_s(tmp_path):
    cb = callback(tmp_path, [], flush_s=0.0)
    t = fake_trial("a", ADAM)
    cb.on_trial_start(0, [], t)
    cb.on_trial_result(0, [], t, _result(1, 0.5))
    (trial,) = load(str(tmp_path / JOURNAL)).trials  # visible to the dashboard mid-run
    assert trial.state == TrialState.RUNNING and trial.intermediate_values == {1: 0.5}


def test_experiment_end_reconciles_with_rays_view(tmp_path):
    first = callback(tmp_path, [], flush_s=0.0)
    ended, lost = fake_trial("ended", ADAM), fake_trial("lost", ADAM)
    for t in (ended, lost):
        first.on_trial_start(0, [], t)
    ended.last_result = _result(3, 0.9)
    first.on_trial_result(0, [], ended, ended.last_result)
    # the driver dies; --resume unpickles the callback, and Ray restores "ended" as finished
    # (it ended after the mirror's last flush) and no longer knows "lost"
    resumed = pickle.loads(pickle.dumps(first))
    ended.status = "TERMINATED"
    resumed.on_experiment_end([ended])
    trials = by_ray_id(load(str(tmp_path / JOURNAL)))
    assert trials["ended"].state == TrialState.COMPLETE
    assert trials["lost"].state == TrialState.FAIL
    assert "after --resume" in trials["lost"].user_attrs["status"]


def test_interrupted_trial_stays_running_for_resume(tmp_path):
    cb = callback(tmp_path, [], flush_s=3600)
    t = fake_trial("cut", ADAM)
    cb.on_trial_start(0, [], t)
    t.status = "TERMINATED"  # what Ray's clean-up after Ctrl-C sets, without an end event
    cb.on_experiment_end([t])
    (trial,) = load(str(tmp_path / JOURNAL)).trials
    assert trial.state == TrialState.RUNNING


def test_pickled_callback_reopens_and_appends(tmp_path):
    cb = callback(tmp_path, [], flush_s=0.0)
    a = fake_trial("a", ADAM)
    cb.on_trial_start(0, [], a)
    cb.on_trial_result(0, [], a, _result(1, 0.5))
    resumed = pickle.loads(pickle.dumps(cb))  # what tuner.pkl holds and --resume unpickles
    assert resumed._mirror is None
    resumed.on_trial_start(0, [], a)
    a.last_result = _result(2, 0.6)
    resumed.on_trial_result(0, [], a, a.last_result)
    resumed.on_trial_complete(0, [], a)
    resumed.on_experiment_end([a])
    (trial,) = load(str(tmp_path / JOURNAL)).trials
    assert trial.intermediate_values == {1: 0.5, 2: 0.6}
    assert trial.state == TrialState.PRUNED


def test_unwritable_folder_is_one_warning_not_a_crash(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the experiment folder should be")
    warnings = []
    cb = callback(blocker / "exp", warnings, flush_s=0.0)
    t = fake_trial("a", ADAM, last=_result(1, 0.5))
    cb.on_trial_start(0, [], t)  # must not raise into Ray's loop
    cb.on_trial_result(0, [], t, t.last_result)
    cb.on_trial_complete(0, [], t)
    cb.on_experiment_end([t])
    assert len(warnings) == 1 and "dashboard mirror off" in warnings[0]


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody can write into, root included: a read-only tmpfs mount as root (a
    mode of 0o555 does not stop root), the mode otherwise."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    import subprocess

    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    assert done.returncode == 0, f"cannot mount a read-only tmpfs as root: {done.stderr}"
    yield folder
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_read_only_folder_is_one_warning_not_a_crash(read_only_folder):
    warnings = []
    cb = callback(read_only_folder, warnings, flush_s=0.0)
    t = fake_trial("a", ADAM)
    cb.on_trial_start(0, [], t)
    cb.on_trial_result(0, [], t, _result(1, 0.5))
    cb.on_trial_result(0, [], t, _result(2, 0.6))
    cb.on_experiment_end([t])
    assert len(warnings) == 1 and "dashboard mirror off" in warnings[0], warnings
    assert not any(read_only_folder.iterdir())


def test_a_storage_stall_mid_run_loses_no_result(tmp_path):
    """The folder read-only for a while (the fault soak's storage stall): flushes fail
    without writing, one warning says so, and everything goes in once it is writable."""
    from benchmarks.fault_soak import read_only

    warnings = []
    cb = callback(tmp_path, warnings, flush_s=0.0)
    a, b = fake_trial("a", ADAM), fake_trial("b", SGD)
    cb.on_trial_start(0, [], a)
    cb.on_trial_result(0, [], a, _result(1, 0.5))
    with read_only(tmp_path):
        cb.on_trial_result(0, [], a, _result(2, 0.6))
        cb.on_trial_start(0, [], b)
        cb.on_trial_result(0, [], b, _result(1, 0.4))
        cb.on_trial_result(0, [], a, _result(3, 0.7))
    assert len(warnings) == 1 and "for now" in warnings[0] and "dashboard mirror off" \
        not in warnings[0], warnings
    a.last_result, b.last_result = _result(3, 0.7), _result(1, 0.4)
    cb.on_trial_complete(0, [], a)
    cb.on_trial_complete(0, [], b)
    cb.on_experiment_end([a, b])
    trials = by_ray_id(load(str(tmp_path / JOURNAL)))
    assert trials["a"].intermediate_values == {1: 0.5, 2: 0.6, 3: 0.7}
    assert trials["a"].state == TrialState.COMPLETE and trials["b"].state == TrialState.PRUNED
    assert len(warnings) == 1


def test_failure_mid_run_turns_the_mirror_off(tmp_path):
    warnings = []
    cb = callback(tmp_path, warnings, flush_s=0.0)
    a = fake_trial("a", ADAM)
    cb.on_trial_start(0, [], a)
    cb.on_trial_result(0, [], a, _result(1, 0.5))
    os.remove(tmp_path / JOURNAL)
    os.mkdir(tmp_path / JOURNAL)  # the next append cannot open the file
    cb.on_trial_result(0, [], a, _result(2, 0.6))
    cb.on_trial_result(0, [], a, _result(3, 0.7))
    cb.on_experiment_end([a])
    assert len(warnings) == 1 and "IsADirectoryError" in warnings[0]


def test_remote_storage_is_not_mirrored(tmp_path):
    warnings = []
    from tuner.view.mirror_callback import MirrorCallback

    cb = MirrorCallback("s3://bucket/exp", study_name="exp", metric="m", mode="max",
                        space=SPACE, max_epochs=3, warn=warnings.append)
    t = fake_trial("a", ADAM)
    cb.on_trial_start(0, [], t)
    cb.on_experiment_end([t])
    assert cb._mirror is None and warnings == []


def test_overhead_benchmark_runs(capsys):
    from benchmarks import mirror_overhead

    mirror_overhead.main(["--trials", "2", "--epochs", "3"])
    out = capsys.readouterr().out
    assert "2 trials x 3 results = 6 results" in out and out.count("us per result") == 2
