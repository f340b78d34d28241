"""The user's own code, checked before Ray starts: kinds, signatures, imports, options, the
pausing-scheduler guard, resources; and the pure pieces of what a run writes (ties, order,
manifest round trip, error lines, resume differences). No Ray run here."""
from __future__ import annotations

import json
import sys
import textwrap

import pytest
from ray import tune

from tuner.launch import preflight
from tuner.record import results as res
from tuner.record.collect import error_line
from tuner.experiment.config import load_experiment, parse_experiment
from tuner.errors import ConfigError, TrialCodeError
from tuner.experiment.file_form import experiment_to_raw
from tuner.launch.ray_session import fit, slots
from tuner.trial_fidelity import fidelity
from tuner.experiment.user_code import check_evaluate, resolve_trainable


def train_fn(config):
    ckpt = tune.get_checkpoint()  # noqa: F841 — makes this module "resumable"
    tune.report({"val_accuracy": 0.5})


def two_args(config, extra):
    return None


class WithReset(tune.Trainable):
    def setup(self, config):
        self.x = 0

    def step(self):
        return {"val_accuracy": 0.0}

    def save_checkpoint(self, d):
        return None

    def load_checkpoint(self, c):
        pass

    def reset_config(self, new_config):
        return True


class WithoutReset(tune.Trainable):
    def setup(self, config):
        self.x = 0

    def step(self):
        return {"val_accuracy": 0.0}


BASE = {"name": "t", "trainable": "mlp", "space": {"lr": {"type": "float", "low": 1e-3,
                                                         "high": 0.1, "log": True}},
        "metric": "val_accuracy", "mode": "max", "num_samples": 4,
        "budget": {"min": 1, "max": 9, "eta": 3}}


def parse(**changes):
    return parse_experiment({**BASE, **changes})


# --- kinds ------------------------------------------------------------------------------
def test_kinds_and_actor_reuse():
    assert resolve_trainable("mlp").kind == "torch"
    fn = resolve_trainable(train_fn)
    assert (fn.kind, fn.reuse_actors, fn.resumable) == ("function", True, True)
    with_reset, without = resolve_trainable(WithReset), resolve_trainable(WithoutReset)
    assert with_reset.reuse_actors and with_reset.saves_on_request
    # Ray hangs reusing an actor whose class lacks reset_config: never reuse it
    assert not without.reuse_actors and not without.saves_on_request


def test_wrong_signature_is_one_line():
    with pytest.raises(TrialCodeError, match=r"must take \(config\).*two_args\(config, extra\)"):
        resolve_trainable(two_args)
    with pytest.raises(TrialCodeError, match="evaluate: .* must take \\(config, checkpoint\\)"):
        check_evaluate(train_fn)


def test_a_class_that_is_not_a_trainable():
    with pytest.raises(TrialCodeError, match="not a ray.tune.Trainable subclass"):
        resolve_trainable(dict)


def test_module_that_does_not_import(tmp_path, monkeypatch):
    (tmp_path / "broken_mod.py").write_text("import not_a_real_package_xyz\n")
    (tmp_path / "good_mod.py").write_text("def train(config):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TrialCodeError, match="cannot import module 'broken_mod' "
                                             r"\(ModuleNotFoundError"):
        resolve_trainable("broken_mod:train")
    with pytest.raises(TrialCodeError, match="has no attribute 'nope'"):
        resolve_trainable("good_mod:nope")
    # good_mod never calls get_checkpoint: it cannot continue after a pause
    assert resolve_trainable("good_mod:train").resumable is False


def test_experiment_file_imports_code_next_to_it(tmp_path, monkeypatch):
    """``trainable: mod:fn`` finds a module beside the YAML file, from any directory."""
    (tmp_path / "beside_yaml.py").write_text(textwrap.dedent("""
        from ray import tune
        def train(config):
            tune.report({"val_accuracy": 1.0})
    """))
    exp_file = tmp_path / "exp.yaml"
    exp_file.write_text(json.dumps({**BASE, "trainable": "beside_yaml:train",
                                    "scheduler": "asha", "searcher": "random"}))
    monkeypatch.chdir("/")
    monkeypatch.setattr(sys, "path", list(sys.path))
    exp = load_experiment(exp_file)
    assert exp.trainable == "beside_yaml:train"


# --- parse-time checks ------------------------------------------------------------------
@pytest.mark.parametrize("component,options,message", [
    ("scheduler", {"name": "asha", "bracket": 2}, "scheduler.bracket: unknown option for "
                                                   "scheduler asha; valid: brackets"),
    ("searcher", {"name": "tpe", "n_startp": 5}, "searcher.n_startp: unknown option"),
    ("searcher", {"name": "pso", "swarm": 5}, "searcher.swarm: unknown option for searcher "
                                              "pso"),
])
def test_option_typos_refused_at_parse_time(component, options, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse(**{component: options})


def test_pausing_scheduler_needs_a_resumable_function(tmp_path, monkeypatch):
    (tmp_path / "plain_fn.py").write_text(textwrap.dedent("""
        from ray import tune
        def train(config):
            for e in range(3):
                tune.report({"val_accuracy": e})
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    for scheduler in ("hyperband", "pbt"):
        with pytest.raises(ConfigError, match=f"scheduler {scheduler} pauses trials.*never "
                                              "calls ray.tune.get_checkpoint"):
            parse(trainable="plain_fn:train", scheduler=scheduler, searcher="random")
    for scheduler in ("asha", "median", "fifo"):
        assert parse(trainable="plain_fn:train", scheduler=scheduler,
                     searcher="random").scheduler == scheduler


def test_searcher_options_apply_to_the_methods_searcher():
    """``--set searcher.n_particles=8`` on a file naming only a method."""
    exp = parse(method="asha-pso", searcher={"n_particles": 8})
    assert (exp.searcher, exp.scheduler, exp.searcher_options) == ("pso", "asha",
                                                                   {"n_particles": 8})


def test_overriding_only_the_searcher_keeps_early_stopping():
    exp = parse(searcher="random")
    assert exp.scheduler == "asha-checked"  # the default method's: asha-checked-pso
    assert "scheduler from the default method" in exp.origin


# --- resources --------------------------------------------------------------------------
def test_a_gpu_trial_on_a_machine_without_one_is_refused():
    exp = parse(resources={"cpus": 1, "gpus": 1})
    with pytest.raises(ConfigError, match="resources.gpus: 1 per trial, but this machine has "
                                          "no GPU"):
        preflight.check_local_resources(exp, gpus=0, cpus=2)
    preflight.check_local_resources(exp, gpus=1, cpus=2)  # fits
    with pytest.raises(ConfigError, match="resources.cpus: 4 per trial, but this machine has "
                                          "2 CPU"):
        preflight.check_local_resources(parse(resources={"cpus": 4}), gpus=0, cpus=2)


def test_cluster_without_the_resource_is_named_once():
    lines = []
    preflight.check_cluster_resources(parse(resources={"cpus": 1, "gpus": 1}),
                                      {"CPU": 8.0}, lines.append)
    assert len(lines) == 1 and "needs 1 GPU, the cluster has 0" in lines[0]


@pytest.mark.parametrize("cpus,gpus,cluster,expected", [
    (1, 0.2, {"CPU": 16, "GPU": 1}, 5),   # floored to 4 before the fix
    (1, 0.1, {"CPU": 16, "GPU": 1}, 10),  # 9 before
    (0.1, 0, {"CPU": 2}, 20),             # 19 before
    (1, 0.25, {"CPU": 16, "GPU": 1}, 4),
    (1, 0, {"CPU": 2}, 2),
])
def test_fractional_resources_pack_fully(cpus, gpus, cluster, expected):
    assert slots(parse(resources={"cpus": cpus, "gpus": gpus}), cluster) == expected
    assert fit(1, 0.2) == 5


# --- results ----------------------------------------------------------------------------
def _rec(tid, order, last, epochs=9, status="completed"):
    return res.TrialRecord(tid, {"lr": 0.1}, status, epochs, history=[last], order=order)


def test_ties_go_to_the_trial_created_first():
    # ids sort the other way round: the old tie-break by id digits picked "ff"
    records = [_rec("ff000002", 0, 0.97), _rec("aa000009", 1, 0.97), _rec("bb", 2, 0.95)]
    assert res.pick_best(records, "max").trial_id == "ff000002"
    assert res.pick_best(list(reversed(records)), "max").trial_id == "ff000002"


def test_trials_csv_in_creation_order():
    records = [_rec("zz", 1, 0.5), _rec("aa", 2, 0.6), _rec("mm", 0, 0.7)]
    rows = res.trials_csv(records, ["lr"], "val_accuracy", "max").splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["mm", "zz", "aa"]


def test_interrupted_report_says_so():
    records = [_rec("a", 0, 0.9), _rec("b", 1, 0.5, epochs=3, status=res.INTERRUPTED),
               res.TrialRecord("c", {}, res.NOT_STARTED, 0, order=2)]
    lines = res._outcome_lines(records, planned=6, interrupted=True)
    assert lines[0].startswith("- **interrupted: 1 of 6 trials ended**; 1 interrupted while "
                               "running, 4 not started")


# --- error lines ------------------------------------------------------------------------
def test_error_line_is_the_users_exception():
    text = textwrap.dedent("""
        Failure # 1 (occurred at 2026-11-30)
        ray.exceptions.RayTaskError(ValueError): ray::ImplicitFunc.train() (pid=1, ip=1)
          File "/x/myfn.py", line 3, in train
            raise ValueError(f"lr too large: {config['lr']}")
        ValueError: lr too large: 0.5
    """)
    assert error_line(text) == "ValueError: lr too large: 0.5"
    died = textwrap.dedent("""
        ray.exceptions.ActorDiedError: The actor died because of an error raised in its creation task
          File "/x/cls.py", line 6, in setup
            open("/nonexistent/train.idx")
        FileNotFoundError: [Errno 2] No such file or directory: '/nonexistent/train.idx'
    """)
    assert error_line(died).startswith("FileNotFoundError: [Errno 2] No such file")


# --- manifest and resume ----------------------------------------------------------------
def test_manifest_experiment_parses_back_to_the_same_experiment():
    exp = parse(searcher={"name": "pso", "n_particles": 6}, scheduler={"name": "asha",
                                                                         "brackets": 2},
                config={"dataset": "digits"}, seed=3)
    raw = experiment_to_raw(exp)
    json.dumps(raw)  # plain JSON
    again = parse_experiment(raw)
    assert experiment_to_raw(again) == raw
    assert (again.searcher_options, again.scheduler_options) == ({"n_particles": 6},
                                                                 {"brackets": 2})


def test_resume_differences_listed_except_more_trials():
    before = experiment_to_raw(parse(searcher="pso"))
    now = experiment_to_raw(parse(searcher="random", budget={"min": 1, "max": 3, "eta": 3},
                                  num_samples=8))
    changes = preflight.resume_changes(before, now)
    assert "searcher.name: 'pso' → 'random'" in changes
    assert "budget.max: 9 → 3" in changes
    assert not any(c.startswith("num_samples") for c in changes)


# --- fidelity helper --------------------------------------------------------------------
def test_fidelity_reads_the_ladder_from_the_trial_config():
    exp = parse(budget={"min": 1, "max": 9, "eta": 3, "data_fraction": [0.25, 0.5, 1.0]})
    cfg = exp.trial_config()
    got = [(f.data_fraction, f.last_epoch) for f in (fidelity(cfg, e) for e in (1, 2, 3, 4, 9))]
    assert got == [(0.25, False), (0.5, False), (0.5, False), (1.0, False), (1.0, True)]
    assert fidelity(cfg, 1).rung_epochs == (1, 3, 9) and fidelity(cfg).max_epochs == 9
    with pytest.raises(ValueError, match="epoch must be an integer >= 1"):
        fidelity(cfg, 0)


# --- a Ray Tune param_space as the space ------------------------------------------------
def test_ray_tune_param_space_is_converted():
    from search_spaces import Categorical, Float, Int

    exp = parse(space={"lr": tune.loguniform(1e-4, 1e-1), "depth": tune.randint(1, 4),
                       "hidden": tune.qrandint(16, 64, 16), "width": tune.lograndint(8, 513),
                       "drop": tune.quniform(0.0, 0.5, 0.1), "opt": tune.choice(["adam", "sgd"]),
                       "act": tune.grid_search(["relu", "tanh"]), "dataset": "digits"})
    space = exp.space
    assert space["lr"] == Float(1e-4, 1e-1, log=True)
    assert space["depth"] == Int(1, 3)  # randint excludes its upper bound
    assert space["hidden"] == Int(16, 64, step=16)  # qrandint includes it
    assert space["width"] == Int(8, 512, log=True)
    assert space["drop"] == Float(0.0, 0.5, step=0.1)
    assert space["opt"] == Categorical(["adam", "sgd"])
    assert space["act"] == Categorical(["relu", "tanh"], grid=True)
    assert exp.trial_config()["max_epochs"] == 9 and space["dataset"].value == "digits"


def test_ray_domains_we_cannot_search_are_named():
    with pytest.raises(ConfigError, match="space.noise: .*Normal.* cannot be searched"):
        parse(space={"lr": tune.loguniform(1e-4, 1e-1), "noise": tune.randn(0, 1)})
