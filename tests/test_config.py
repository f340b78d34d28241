"""Every validation rule of the experiment file: one line naming the field, before Ray starts."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tuner.experiment.config import ConfigError, apply_overrides, load_experiment, parse_experiment

ROOT = Path(__file__).resolve().parents[1]
BASE = yaml.safe_load((ROOT / "examples" / "digits_mlp.yaml").read_text())


def parse(**changes):
    raw = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return parse_experiment(raw, base_dir=ROOT / "examples")


def error_of(**changes) -> str:
    with pytest.raises(ConfigError) as info:
        parse(**changes)
    return str(info.value)


def test_demo_experiment_is_valid():
    exp = parse()
    assert exp.trainable == "mlp" and exp.searcher == "hyperopt-tpe" and exp.scheduler == "asha"
    assert exp.num_samples >= 24
    assert {"lr", "weight_decay", "hidden", "depth", "dropout", "batch_size"} <= set(exp.space)
    assert exp.space["lr"].log and exp.space["weight_decay"].log
    assert exp.trial_config()["max_epochs"] == exp.budget.max


def test_unknown_key_lists_valid_keys():
    msg = error_of(schedular="asha")
    assert msg.startswith("schedular: unknown key") and "scheduler" in msg


@pytest.mark.parametrize("key", ["trainable", "metric", "mode", "space", "num_samples"])
def test_missing_field_is_named(key):
    assert error_of(**{key: None}).startswith(f"{key}: missing")


def test_wrong_type_num_samples():
    assert error_of(num_samples="many") == "num_samples: expected an integer, got 'many'"


def test_num_samples_must_be_positive():
    assert error_of(num_samples=0) == "num_samples: expected an integer >= 1, got 0"


def test_bad_mode():
    assert error_of(mode="maximum") == "mode: expected 'min' or 'max', got 'maximum'"


def test_unknown_trainable_lists_names():
    msg = error_of(trainable="mlpp")
    assert msg.startswith("trainable: unknown 'mlpp'") and "mlp" in msg


def test_unknown_searcher_and_scheduler():
    assert "searcher" in error_of(searcher="tpee") and "tpee" in error_of(searcher="tpee")
    assert "asah" in error_of(scheduler="asah")


def test_inverted_budget():
    assert error_of(budget={"min": 9, "max": 3}) == "budget: min must be <= max, got min=9, max=3"


def test_budget_unknown_key():
    assert error_of(budget={"min": 1, "max": 9, "rf": 3}).startswith("budget.rf: unknown key")


def test_empty_range_in_inline_space():
    msg = error_of(space={"lr": {"type": "float", "low": 0.1, "high": 0.01}})
    assert msg == "space: lr: low must be <= high, got low=0.1, high=0.01"


def test_empty_choices_in_inline_space():
    msg = error_of(space={"bs": {"type": "categorical", "choices": []}})
    assert msg == "space: bs: choices must not be empty"


def test_log_scale_rule_names_parameter():
    msg = error_of(space={"lr": {"type": "float", "low": 0, "high": 1, "log": True}})
    assert msg == "space: lr: log scale needs low > 0, got low=0"


def test_missing_space_file():
    assert "not found" in error_of(space="no_such_space")


def test_resources_rules():
    assert error_of(resources={"cpus": -1}).startswith("resources.cpus: expected a number >= 0")
    assert error_of(resources={"gpu": 1}).startswith("resources.gpu: unknown key")
    assert error_of(resources={"cpus": 0, "gpus": 0}).startswith("resources: a trial needs")
    assert parse(resources={"cpus": 1, "gpus": 0.25}).resources.gpus == 0.25


def test_checkpoint_interval_rules():
    assert parse().checkpoint_interval_s == 10.0
    assert parse(checkpoint_interval_s=0).checkpoint_interval_s == 0.0
    assert parse(checkpoint_interval_s=2.5).checkpoint_interval_s == 2.5
    for bad in (-1, "10s", True, float("nan")):
        assert error_of(checkpoint_interval_s=bad).startswith(
            "checkpoint_interval_s: expected a number of seconds >= 0"), bad


def test_points_to_evaluate_checked_against_space():
    msg = error_of(points_to_evaluate=[{"lr": 5.0}])
    assert msg.startswith("points_to_evaluate[0]: lr:")


def test_fixed_setting_must_not_shadow_a_searched_parameter():
    assert error_of(config={"lr": 0.1}).startswith("config.lr: also a parameter")


def test_overrides_by_dotted_path():
    raw = apply_overrides(BASE, ["searcher=random", "budget.max=9", "resources.gpus=0.5"])
    assert raw["searcher"] == "random" and raw["budget"]["max"] == 9
    assert raw["resources"]["gpus"] == 0.5
    assert BASE["searcher"] == "hyperopt-tpe"  # the original is untouched


def test_override_into_named_component_keeps_its_name():
    raw = apply_overrides(BASE, ["scheduler.brackets=2"])
    assert raw["scheduler"] == {"name": "asha", "brackets": 2}


def test_override_errors():
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides(BASE, ["budget.max"])
    with pytest.raises(ConfigError, match="unknown key 'budgett'"):
        apply_overrides(BASE, ["budgett.max=3"])
    with pytest.raises(ConfigError, match="metric is not a mapping"):
        apply_overrides(BASE, ["metric.x=3"])


def test_load_experiment_cli_values_win(tmp_path):
    exp = load_experiment(ROOT / "examples" / "digits_mlp.yaml", ["num_samples=3"],
                          name="x", storage=str(tmp_path), seed=7)
    assert (exp.name, exp.num_samples, exp.seed) == ("x", 3, 7)
    assert exp.path == str(tmp_path / "x")


def test_invalid_yaml_names_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainable: mlp\nspace: [unclosed\n")
    with pytest.raises(ConfigError, match=r"not valid YAML \(line"):
        load_experiment(bad)


def test_set_method_replaces_the_files_searcher_and_scheduler():
    path = ROOT / "examples" / "digits_mlp.yaml"  # has searcher: hyperopt-tpe, scheduler: asha
    exp = load_experiment(path, ["method=hyperband"])
    assert (exp.searcher, exp.scheduler) == ("random", "hyperband")
    exp = load_experiment(path, ["method=hyperband", "searcher=tpe"])
    assert (exp.searcher, exp.scheduler) == ("hyperopt-tpe", "hyperband")  # old name accepted


def test_pbt_never_mutates_keys_that_reshape_the_weights():
    from trainables import MLPTrainable
    from tuner.launch.ray_session import pbt_params

    exp = parse(method="pbt", searcher=None, scheduler=None)
    params = pbt_params(exp, MLPTrainable)
    assert "hidden" not in params and "depth" not in params  # a clone could not load them
    assert {"lr", "weight_decay", "dropout", "batch_size"} <= set(params)
    with pytest.raises(ConfigError, match="nothing to mutate"):
        pbt_params(parse(method="pbt", searcher=None, scheduler=None,
                          space={"hidden": [16, 32], "depth": [1, 2]}), MLPTrainable)


def test_default_method_depends_on_the_space():
    numeric = parse(searcher=None, scheduler=None)
    assert (numeric.searcher, numeric.scheduler) == ("pso", "asha-checked")
    categorical = parse(searcher=None, scheduler=None,
                        space={"optimizer": {"type": "categorical", "choices": ["adam", "sgd"]},
                               "hidden": {"type": "categorical", "choices": [64, 128]}})
    assert (categorical.searcher, categorical.scheduler) == ("hyperopt-tpe", "asha")
