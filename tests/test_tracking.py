"""Experiment tracking (``tracking:``, tuner.record.tracking): MLflow and W&B, read back with
their own client and file formats.

Config errors are checked without either package. The tracker tests drive the Ray callback
with stand-in trials (no Ray started); one small real run on the shared Ray session feeds both
backends, then is resumed with more trials through ``Tuner.restore`` — the same parent run.
"""

from __future__ import annotations

import importlib.util
import json
import pickle
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.optional import require
from tests.tracking_files import wandb_runs
from tuner.cli import main
from tuner.errors import ConfigError
from tuner.experiment import tracking as tracking_config
from tuner.experiment.config import parse_experiment

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "digits_mlp.yaml"
MLFLOW = "mlflow is the extra `mlflow` (pip install -e .[mlflow]; .ci/run installs it)"
WANDB = "wandb is the extra `wandb` (pip install -e .[wandb]; .ci/run installs it)"


def _raw(tmp_path: Path, **changes) -> dict:
    raw = {
        "name": "tracked", "trainable": "mlp", "config": {"dataset": "digits"},
        "space": {"lr": {"type": "categorical", "choices": [0.003, 0.03, 0.1]},
                  "hidden": {"type": "int", "low": 16, "high": 48}, "depth": 1,
                  "batch_size": 64, "optimizer": "sgd", "momentum": 0.9},
        "searcher": "random", "scheduler": "asha", "budget": {"min": 1, "max": 3, "eta": 3},
        "metric": "val_accuracy", "mode": "max", "num_samples": 4, "seed": 1,
        "storage": str(tmp_path / "results"),
    }
    raw.update(changes)
    return raw


@pytest.fixture
def quiet_wandb(monkeypatch, tmp_path):
    """W&B's own folders (settings, cache, artifact staging) inside the test's folder."""
    for var, sub in (("WANDB_DATA_DIR", "data"), ("WANDB_CACHE_DIR", "cache"),
                     ("WANDB_CONFIG_DIR", "config")):
        monkeypatch.setenv(var, str(tmp_path / "wandb-home" / sub))
    monkeypatch.setenv("WANDB_SILENT", "true")
    for var in ("WANDB_DIR", "WANDB_MODE", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(var, raising=False)


# --- settings: one line naming the field, before Ray starts ----------------------------------
@pytest.mark.parametrize("tracking, message", [
    ("mlflow", "tracking: expected a mapping {mlflow: {…}, wandb: {…}}, got 'mlflow'"),
    ({"neptune": {}}, "tracking.neptune: unknown tracking backend; valid: mlflow, wandb"),
    ({"wandb": {"mode": "offline"}}, "tracking.wandb.project: missing; the W&B project"),
    ({"wandb": {"project": "p", "mode": "sometimes"}},
     "tracking.wandb.mode: expected one of offline, online, disabled, got 'sometimes'"),
    ({"mlflow": {"uri": "sqlite:///x.db"}},
     "tracking.mlflow.uri: unknown key; valid keys: tracking_uri, experiment"),
    ({"mlflow": {"experiment": ""}}, "tracking.mlflow.experiment: expected a non-empty string"),
    ({"mlflow": ["tracking_uri"]}, "tracking.mlflow: expected a mapping of options"),
])
def test_bad_tracking_is_one_line(tmp_path, tracking, message):
    with pytest.raises(ConfigError) as info:
        parse_experiment(_raw(tmp_path, tracking=tracking))
    assert str(info.value).startswith(message), str(info.value)


def test_remote_storage_needs_a_tracking_uri(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(ConfigError, match=r"^tracking\.mlflow\.tracking_uri: missing; with "
                                          r"remote storage \(s3://bucket/runs\)"):
        parse_experiment(_raw(tmp_path, storage="s3://bucket/runs", tracking={"mlflow": None}))


@pytest.mark.parametrize("backend", ["mlflow", "wandb"])
def test_a_backend_not_installed_is_refused_before_ray(tmp_path, monkeypatch, backend):
    real = importlib.util.find_spec
    monkeypatch.setattr(tracking_config.importlib.util, "find_spec",
                        lambda name, *a: None if name == backend else real(name, *a))
    options = {"project": "p"} if backend == "wandb" else {}
    with pytest.raises(ConfigError) as info:
        parse_experiment(_raw(tmp_path, tracking={backend: options}))
    assert str(info.value) == (f"tracking.{backend}: the {backend} package is not installed "
                               f"(pip install -e .[{backend}])")


def test_cli_exit_2_with_the_field(tmp_path, capsys):
    bad = tmp_path / "e.yaml"
    bad.write_text(DEMO.read_text() + "\ntracking: {wandb: {mode: offline}}\n")
    assert main(["launch", str(bad), "--dry-run", "--storage", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tuner: error: tracking.wandb.project: missing")


def test_dry_run_says_where_the_run_is_tracked(tmp_path, capsys, quiet_wandb):
    require("mlflow", MLFLOW)
    require("wandb", WANDB)
    rc = main(["launch", str(DEMO), "--dry-run", "--storage", str(tmp_path), "--set",
               "tracking={mlflow: {experiment: demo}, wandb: {project: hpo}}"])
    lines = capsys.readouterr().out.splitlines()
    assert rc == 0
    db = tmp_path / "mlflow.db"
    assert (f"tracking     MLflow sqlite:///{db} experiment 'demo' (parent run + one child per "
            f"trial); W&B project 'hpo' group 'digits_mlp' (offline, files in "
            f"{tmp_path / 'digits_mlp'})") in lines


def test_the_manifest_form_keeps_tracking_only_when_on(tmp_path):
    from tuner.experiment.file_form import experiment_to_raw

    require("mlflow", MLFLOW)
    assert "tracking" not in experiment_to_raw(parse_experiment(_raw(tmp_path)))
    exp = parse_experiment(_raw(tmp_path, tracking={"mlflow": {"experiment": "e"}}))
    assert experiment_to_raw(exp)["tracking"] == {"mlflow": {"experiment": "e"}}


def test_the_python_api_passes_tracking_through(tmp_path):
    """``tuner.run(..., tracking=...)`` is a top-level override, parsed like the file's key."""
    from tuner.api import _experiment

    require("wandb", WANDB)
    exp = _experiment(_raw(tmp_path), [], {"tracking": {"wandb": {"project": "p"}}})
    assert exp.tracking == {"wandb": {"project": "p", "mode": "offline"}}
    with pytest.raises(ConfigError, match=r"^tracking\.wandb\.project: missing"):
        _experiment(_raw(tmp_path), [], {"tracking": {"wandb": {}}})


# --- the trackers, driven by the Ray callback with stand-in trials -----------------------
def _trial(trial_id: str) -> SimpleNamespace:
    return SimpleNamespace(trial_id=trial_id, config={"lr": 0.1, "hidden": 8},
                           status="RUNNING", last_result={},
                           get_error=lambda: RuntimeError("loss is nan"))


def _report(callback, trial, epoch: int, acc: float) -> None:
    result = {"training_iteration": epoch, "val_accuracy": acc, "val_loss": 1 - acc,
              "done": False, "time_this_iter_s": 0.1, "trial_id": trial.trial_id,
              "hostname": "h", "config": {}}
    trial.last_result = result
    callback.on_trial_result(epoch, [], trial, result)


def test_callback_parent_children_statuses_and_resume(tmp_path, quiet_wandb):
    """Finished, stopped early, errored, cut short by Ctrl-C; then the callback unpickled as
    ``Tuner.restore`` does: the same parent, the cut trial's run continued."""
    mlflow = require("mlflow", MLFLOW)
    require("wandb", WANDB)
    from tuner.record.tracking import TrackingSpec
    from tuner.record.tracking.callback import TrackingCallback

    uri, run = f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "run")
    spec = TrackingSpec(name="unit", path=run, metric="val_accuracy", mode="max", max_epochs=3,
                        backends={"mlflow": {"tracking_uri": uri, "experiment": "unit"},
                                  "wandb": {"project": "p", "mode": "offline", "dir": run}},
                        params={"searcher": "random"})
    callback = TrackingCallback(spec)
    callback.setup()
    done, stopped, failed, cut = (_trial(t) for t in ("done", "stopped", "failed", "cut"))
    for trial in (done, stopped, failed, cut):
        callback.on_trial_start(0, [], trial)
    for epoch in (1, 2, 3):
        _report(callback, done, epoch, 0.5 + epoch / 10)
    _report(callback, stopped, 1, 0.3)
    _report(callback, failed, 1, 0.2)
    _report(callback, cut, 1, 0.4)
    _report(callback, cut, 1, 0.4)  # a retried trial re-reports: logged once
    for trial, hook in ((done, "on_trial_complete"), (stopped, "on_trial_complete"),
                        (failed, "on_trial_error")):
        trial.status = "TERMINATED" if hook == "on_trial_complete" else "ERROR"
        getattr(callback, hook)(0, [], trial)
    callback.on_experiment_end([done, stopped, failed, cut])

    client = mlflow.tracking.MlflowClient(uri)
    experiment = client.get_experiment_by_name("unit")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    parent = runs.pop("unit")
    assert {r.data.tags["mlflow.parentRunId"] for r in runs.values()} == {parent.info.run_id}
    assert {n: r.info.status for n, r in runs.items()} == {
        "done": "FINISHED", "stopped": "FINISHED", "failed": "FAILED", "cut": "KILLED"}
    assert runs["stopped"].data.tags["tuner.stopped_early"] == "true"
    assert runs["failed"].data.tags["tuner.error"] == "errored: RuntimeError: loss is nan"
    assert runs["done"].data.params == {"lr": "0.1", "hidden": "8"}
    history = client.get_metric_history(runs["done"].info.run_id, "val_accuracy")
    assert [(m.step, round(m.value, 2)) for m in history] == [(1, 0.6), (2, 0.7), (3, 0.8)]
    assert "time_this_iter_s" in runs["done"].data.metrics  # numbers kept, Ray's keys not
    assert "training_iteration" not in runs["done"].data.metrics
    assert len(client.get_metric_history(runs["cut"].info.run_id, "val_accuracy")) == 1

    resumed = pickle.loads(pickle.dumps(callback))  # what Tuner.restore hands back
    resumed.setup()
    assert client.get_run(parent.info.run_id).info.status == "RUNNING"
    resumed.on_trial_start(0, [], cut)
    for epoch in (1, 2, 3):  # restored from its epoch-1 checkpoint? epoch 1 is not relogged
        _report(resumed, cut, epoch, 0.4 + epoch / 10)
    cut.status = "TERMINATED"
    resumed.on_trial_complete(0, [], cut)
    resumed.on_experiment_end([done, stopped, failed, cut])
    after = client.search_runs([experiment.experiment_id])
    assert len(after) == 5  # one parent, four children: nothing opened twice
    cut_run = client.get_run(runs["cut"].info.run_id)
    assert cut_run.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(cut_run.info.run_id,
                                                      "val_accuracy")] == [1, 2, 3]

    wb = wandb_runs(run)
    trials = {r.name: r for r in wb.values() if r.job_type == "trial"}
    assert set(trials) == {"done", "stopped", "failed", "cut"}
    assert {r.group for r in wb.values()} == {"unit"}
    assert [h["_step"] for h in trials["done"].history] == [1, 2, 3]
    assert [h["_step"] for h in trials["cut"].history] == [1, 2, 3]  # two segments, one run
    assert trials["cut"].segments == 2
    assert trials["stopped"].tags == ["stopped-early"]
    assert trials["failed"].exit_codes == [1] and trials["done"].exit_codes == [0]
    state = json.loads((tmp_path / "run" / "tracking.json").read_text())
    assert state["mlflow"]["parent_run_id"] == parent.info.run_id


def test_a_failing_tracker_warns_once_and_the_run_goes_on():
    from tuner.record.tracking import Trackers

    class Broken:
        backend = "mlflow"

        def trial_started(self, *args):
            raise ConnectionError("http://mlflow:5000 refused\nretry 3")

    lines: list[str] = []
    trackers = Trackers([Broken()], warn=lines.append)
    trackers.call("trial_started", "t1", {})
    trackers.call("trial_started", "t2", {})
    assert lines == ["tuner: warning: mlflow tracking off (trial_started: ConnectionError: "
                     "http://mlflow:5000 refused); the run goes on without it"]
    assert not trackers


# --- one real run on Ray, resumed with more trials ---------------------------------------
@pytest.mark.ray
@pytest.mark.slow
def test_a_real_run_in_mlflow_and_wandb_and_its_resume(ray_session, tmp_path, quiet_wandb,
                                                       capfd):
    mlflow = require("mlflow", MLFLOW)
    require("wandb", WANDB)
    from tuner.launch.runner import run

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    raw = _raw(tmp_path, tracking={"mlflow": {"tracking_uri": uri, "experiment": "digits"},
                                   "wandb": {"project": "digits-hpo"}})
    outcome = run(parse_experiment(raw), write=lambda line: None)
    folder = tmp_path / "results" / "tracked"
    assert "tracking off" not in capfd.readouterr().err  # live, not only replayed at the end
    trials_csv = (folder / "trials.csv").read_text().splitlines()[1:]
    best = json.loads((folder / "best.json").read_text())

    client = mlflow.tracking.MlflowClient(uri)
    experiment = client.get_experiment_by_name("digits")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = {r.data.tags["tuner.trial_id"]: r for r in runs if r not in parents}
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    parent = parents[0]
    assert len(children) == len(trials_csv) == 4
    assert {r.data.tags["mlflow.parentRunId"] for r in children.values()} == {
        parent.info.run_id}
    for record in outcome.records:
        child = children[record.trial_id]
        assert child.info.status == "FINISHED"
        assert child.data.params["lr"] == str(record.config["lr"])
        history = client.get_metric_history(child.info.run_id, "val_accuracy")
        assert [m.step for m in history] == list(range(1, record.epochs + 1))
        assert [m.value for m in history] == pytest.approx(record.history)
        assert (child.data.tags.get("tuner.stopped_early") == "true") == (
            record.status == "stopped early")
    # which trials ASHA stops depends on the order two concurrent trials reach a rung; the
    # tag follows trials.csv either way (the callback test pins a stopped trial's tags)
    winner = children[best["trial_id"]]
    assert winner.data.tags["tuner.best"] == "true"
    assert [c for c in children.values() if c.data.tags.get("tuner.best")] == [winner]
    assert winner.data.metrics["test_accuracy"] == pytest.approx(best["test"]["test_accuracy"])
    assert parent.data.tags["tuner.best_trial"] == best["trial_id"]
    assert sorted(a.path for a in client.list_artifacts(parent.info.run_id)) == [
        "manifest.json", "report.md"]
    local = client.download_artifacts(parent.info.run_id, "report.md", str(tmp_path))
    assert Path(local).read_text() == (folder / "report.md").read_text()

    wb = wandb_runs(str(folder))
    trials = {r.name: r for r in wb.values() if r.job_type == "trial"}
    summary_runs = [r for r in wb.values() if r.job_type == "experiment"]
    assert set(trials) == {r.trial_id for r in outcome.records}
    assert {r.group for r in wb.values()} == {"tracked"}
    for record in outcome.records:
        history = trials[record.trial_id].history
        assert [h["_step"] for h in history] == list(range(1, record.epochs + 1))
        assert [h["val_accuracy"] for h in history] == pytest.approx(record.history)
        assert trials[record.trial_id].config["lr"] == record.config["lr"]
    assert "best" in trials[best["trial_id"]].tags
    assert trials[best["trial_id"]].summary["test_accuracy"] == pytest.approx(
        best["test"]["test_accuracy"])
    assert len(summary_runs) == 1
    assert summary_runs[0].summary["best_trial"] == best["trial_id"]
    assert summary_runs[0].artifacts == {"tracked-record": ["manifest.json", "report.md"]}

    # --resume with two more trials (Tuner.restore): the same parent, two more children
    state = json.loads((folder / "tracking.json").read_text())
    more = run(parse_experiment({**raw, "num_samples": 6}), resume=True,
               write=lambda line: None)
    assert "tracking off" not in capfd.readouterr().err
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert [p.info.run_id for p in parents] == [state["mlflow"]["parent_run_id"]]
    assert parents[0].info.status == "FINISHED"
    assert len(runs) == 1 + 6 == 1 + len(more.records)
    best_after = json.loads((folder / "best.json").read_text())["trial_id"]
    assert [r.data.tags["tuner.trial_id"] for r in runs
            if r.data.tags.get("tuner.best") == "true"] == [best_after]
    wb = wandb_runs(str(folder))
    assert len([r for r in wb.values() if r.job_type == "experiment"]) == 1
    assert len([r for r in wb.values() if r.job_type == "trial"]) == 6


@pytest.mark.ray
@pytest.mark.slow
def test_a_packed_run_is_replayed_into_mlflow(ray_session, tmp_path, quiet_wandb, capfd):
    """Packed trials have no Ray callbacks: each is replayed from its result.json at the end."""
    mlflow = require("mlflow", MLFLOW)
    from tests.test_packing import _raw as packed_raw
    from tuner.launch.runner import run

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    raw = packed_raw(tmp_path, num_samples=3, tracking={"mlflow": {"tracking_uri": uri}})
    outcome = run(parse_experiment(raw), write=lambda line: None)
    assert "tracking off" not in capfd.readouterr().err
    client = mlflow.tracking.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("packed").experiment_id])
    parent = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = {r.data.tags["tuner.trial_id"]: r for r in runs if r not in parent}
    assert len(parent) == 1 and parent[0].info.status == "FINISHED"
    assert set(children) == {r.trial_id for r in outcome.records}
    for record in outcome.records:
        history = client.get_metric_history(children[record.trial_id].info.run_id,
                                            "val_accuracy")
        assert [m.value for m in history] == pytest.approx(record.history)
        assert [m.step for m in history] == list(range(1, record.epochs + 1))
    assert children[outcome.best.trial_id].data.tags["tuner.best"] == "true"
    assert sorted(a.path for a in client.list_artifacts(parent[0].info.run_id)) == [
        "manifest.json", "report.md"]


def test_remote_storage_keeps_the_ids_in_this_process():
    """No tracking.json on S3: the live callback and the end step still share one parent."""
    from tuner.record.tracking.base import TrackingState

    first = TrackingState("s3://bucket/runs/exp")
    first.section("mlflow")["parent_run_id"] = "p1"
    first.save()  # nothing to write
    assert TrackingState("s3://bucket/runs/exp").section("mlflow")["parent_run_id"] == "p1"
