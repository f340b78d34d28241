"""One test per validation rule of ``search_spaces``, plus sampling and the YAML round trip."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from search_spaces import (
    Categorical,
    Fixed,
    Float,
    Int,
    SearchSpace,
    SpaceError,
    load_space,
    space_from_dict,
    space_to_dict,
)


def _load(text: str) -> SearchSpace:
    return space_from_dict(yaml.safe_load(text))


# --- one rule each -------------------------------------------------------------------------
def test_log_scale_needs_positive_low():
    with pytest.raises(SpaceError) as err:
        _load("lr: {type: float, low: 0, high: 0.1, log: true}")
    assert str(err.value) == "lr: log scale needs low > 0, got low=0"


def test_log_scale_rule_in_python():
    # a domain built on its own does not know its name yet; the rule fires at construction
    with pytest.raises(SpaceError, match=r"^log scale needs low > 0, got low=0$"):
        Float(0, 0.1, log=True)
    with pytest.raises(SpaceError, match=r"^lr: log scale needs low > 0, got low=0.0$"):
        Float(0.0, 0.1, log=True, name="lr")


def test_space_error_is_a_value_error():
    assert issubclass(SpaceError, ValueError)


def test_unknown_key_lists_the_valid_ones():
    with pytest.raises(SpaceError) as err:
        _load("lr: {type: float, low: 1e-4, high: 0.1, logg: true}")
    assert "unknown key 'logg'" in str(err.value)
    assert "valid keys: high, log, low, step, type, when" in str(err.value)


def test_unknown_type_lists_the_types():
    with pytest.raises(SpaceError, match="lr: unknown type 'real'; one of float, int, categorical"):
        _load("lr: {type: real, low: 0, high: 1}")


def test_unhashable_type_is_a_space_error():
    with pytest.raises(SpaceError, match="unknown type"):
        _load("lr: {type: [float], low: 0, high: 1}")


def test_missing_type():
    with pytest.raises(SpaceError, match="lr: missing 'type'"):
        _load("lr: {low: 0, high: 1}")


def test_missing_bound():
    with pytest.raises(SpaceError, match="lr: float needs 'high'"):
        _load("lr: {type: float, low: 0}")


def test_condition_on_a_missing_parameter():
    with pytest.raises(
        SpaceError,
        match="momentum: condition on 'optimiser', which is not a "
        "parameter; known: optimizer, momentum",
    ):
        _load("""
        optimizer: [sgd, adam]
        momentum: {type: float, low: 0, high: 1, when: {optimiser: sgd}}
        """)


def test_condition_on_itself():
    with pytest.raises(SpaceError, match="a: a parameter cannot be conditional on itself"):
        SearchSpace({"a": Categorical([1, 2], when={"a": 1})})


def test_condition_on_a_numeric_parent():
    with pytest.raises(SpaceError, match="m: condition on 'lr' needs a categorical or fixed"):
        SearchSpace({"lr": Float(0, 1), "m": Float(0, 1, when={"lr": 0.5})})


def test_condition_value_that_can_never_hold():
    with pytest.raises(
        SpaceError,
        match=r"momentum: condition optimizer='sgdd' can never hold; "
        r"optimizer is one of \['sgd', 'adam'\]",
    ):
        _load("""
        optimizer: [sgd, adam]
        momentum: {type: float, low: 0, high: 1, when: {optimizer: sgdd}}
        """)


def test_condition_lists_no_values():
    with pytest.raises(SpaceError, match="'when' on 'optimizer' lists no values"):
        SearchSpace({"optimizer": Categorical(["sgd"]), "m": Float(0, 1, when={"optimizer": []})})


def test_when_must_be_a_mapping():
    with pytest.raises(SpaceError, match="'when' must be a mapping"):
        Float(0, 1, when=["optimizer"])


def test_cycle_is_named():
    with pytest.raises(SpaceError, match="conditions form a cycle: a -> b -> a"):
        SearchSpace(
            {"a": Categorical([1, 2], when={"b": 1}), "b": Categorical([1, 2], when={"a": 1})}
        )


def test_empty_choices():
    with pytest.raises(SpaceError, match="opt: choices must not be empty"):
        _load("opt: {type: categorical, choices: []}")


def test_choices_must_be_a_list():
    with pytest.raises(SpaceError, match="opt: choices must be a list, got 'sgd'"):
        _load("opt: {type: categorical, choices: sgd}")


def test_duplicate_choices():
    with pytest.raises(SpaceError, match="choices must be distinct"):
        Categorical(["a", "a"])


def test_inverted_bounds():
    with pytest.raises(SpaceError, match="depth: low must be <= high, got low=5, high=1"):
        _load("depth: {type: int, low: 5, high: 1}")


def test_non_positive_step():
    with pytest.raises(SpaceError, match="w: step must be > 0, got step=0"):
        Int(0, 10, step=0, name="w")


def test_step_and_log_do_not_combine():
    with pytest.raises(SpaceError, match="step and log cannot be combined"):
        Float(1, 10, log=True, step=1)


def test_int_bounds_must_be_whole():
    with pytest.raises(SpaceError, match="depth: int low must be a whole number, got 1.5"):
        _load("depth: {type: int, low: 1.5, high: 4}")


def test_grid_over_a_continuous_range_in_yaml():
    with pytest.raises(
        SpaceError, match="lr: a grid needs a list of 'values'; a range has no grid"
    ):
        _load("lr: {type: grid, low: 0, high: 1}")


def test_grid_over_a_continuous_float():
    space = SearchSpace({"lr": Float(0, 1)})
    with pytest.raises(SpaceError, match="lr: grid search needs a finite set of values"):
        space.grid()


def test_yaml_exponent_strings_are_numbers():
    # YAML 1.1 reads 1e-4 (no dot) as a string; users should not have to write 1.0e-4
    space = _load("lr: {type: float, low: 1e-4, high: 1e-1, log: true}")
    assert space["lr"].low == pytest.approx(1e-4) and space["lr"].high == pytest.approx(0.1)
    assert _load("n: {type: int, low: 1, high: 1e3}")["n"].high == 1000


@pytest.mark.parametrize(
    "text, message",
    [
        ("lr: {type: float, low: abc, high: 1}", "lr: low must be a number, got 'abc'"),
        ("lr: {type: float, low: [0], high: 1}", "lr: low must be a number, got [0]"),
        ("lr: {type: float, low: true, high: 1}", "lr: low must be a number, got True"),
        ("lr: {type: float, low: .nan, high: 1}", "lr: low must be finite"),
        ("lr: {type: float, low: 0, high: 1, log: yes please}", "lr: log must be true or false"),
        ("lr: {type: float, low: 0, high: 1, step: x}", "lr: step must be a number"),
    ],
)
def test_bad_types(text, message):
    with pytest.raises(SpaceError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _load(text)


def test_empty_space():
    with pytest.raises(SpaceError, match="non-empty mapping"):
        space_from_dict({})


def test_unknown_bundled_space_lists_the_bundled_ones():
    with pytest.raises(SpaceError, match="bundled spaces: digits_mlp, digits_mlp_conditional"):
        load_space("no_such_space")


# --- configs ---------------------------------------------------------------------------------
@pytest.fixture
def conditional() -> SearchSpace:
    return load_space("digits_mlp_conditional")


def test_validate_config_rules(conditional):
    good = {
        "optimizer": "adam",
        "lr": 0.01,
        "hidden": 64,
        "depth": 2,
        "dropout": 0.1,
        "batch_size": 32,
    }
    conditional.validate_config(good)
    with pytest.raises(SpaceError, match="momentum: set but inactive"):
        conditional.validate_config({**good, "momentum": 0.9})
    with pytest.raises(SpaceError, match="momentum: missing"):
        conditional.validate_config(
            {**good, "optimizer": "sgd", "nesterov": True, "weight_decay": 1e-4}
        )
    with pytest.raises(SpaceError, match="lrr: not a parameter"):
        conditional.validate_config({**good, "lrr": 1})
    with pytest.raises(SpaceError, match="depth: 9 is outside"):
        conditional.validate_config({**good, "depth": 9})


def test_contains_respects_steps_and_types():
    assert Int(32, 512, step=32).contains(64) and not Int(32, 512, step=32).contains(65)
    assert Float(0, 1, step=0.1).contains(0.30000000000000004)
    assert not Float(0, 1, step=0.1).contains(0.35)
    assert not Int(0, 5).contains(True) and not Float(0, 1).contains(True)
    assert Categorical([0, False]).index(False) == 1  # False is not 0
    assert Categorical([16, 32]).contains(np.int64(16))


def test_stepped_values_never_leave_the_grid():
    dom = Int(32, 500, step=32)
    values = {dom.from_unit(u) for u in np.linspace(0, 1, 1001)}
    assert values == set(dom.grid_values()) and max(values) == 480
    assert Float(0, 1, step=0.1).grid_values()[3] == 0.3


@pytest.mark.parametrize("dom", [Int(1, 512, log=True), Int(0, 7), Int(2, 20, step=3)])
def test_int_unit_mapping_round_trips(dom):
    for v in dom.grid_values():
        assert dom.from_unit(dom.to_unit(v)) == v


def test_sampling_respects_conditionals(conditional):
    rng = np.random.default_rng(0)
    configs = [conditional.sample(rng) for _ in range(300)]
    for config in configs:
        conditional.validate_config(config)
        assert ("momentum" in config) == (config["optimizer"] == "sgd")
        assert ("weight_decay" in config) == (config["optimizer"] in ("sgd", "adamw"))
    assert {c["optimizer"] for c in configs} == {"sgd", "adam", "adamw"}
    assert all(isinstance(c["hidden"], int) and 32 <= c["hidden"] <= 512 for c in configs)


def test_sampling_is_seeded(conditional):
    a = [conditional.sample(np.random.default_rng(3)) for _ in range(5)]
    b = [conditional.sample(np.random.default_rng(3)) for _ in range(5)]
    assert a == b


def test_log_int_end_points_are_sampled():
    dom = Int(1, 4, log=True)
    seen = {dom.sample(np.random.default_rng(i)) for i in range(200)}
    assert seen == {1, 2, 3, 4}


def test_grid_respects_conditionals():
    space = SearchSpace(
        {
            "opt": Categorical(["sgd", "adam"]),
            "m": Categorical([0.0, 0.9], when={"opt": "sgd"}),
            "depth": Int(1, 2),
        }
    )
    assert len(space.grid()) == (2 + 1) * 2
    for config in space.grid():
        space.validate_config(config)


def test_parents_are_ordered_before_children():
    space = SearchSpace({"m": Float(0, 1, when={"opt": "sgd"}), "opt": Categorical(["sgd"])})
    assert list(space) == ["opt", "m"]


# --- YAML round trip -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["digits_mlp", "digits_mlp_conditional"])
def test_bundled_spaces_round_trip(name):
    space = load_space(name)
    again = space_from_dict(yaml.safe_load(yaml.safe_dump(space_to_dict(space))))
    assert dict(again) == dict(space)


def test_every_kind_round_trips(tmp_path):
    space = SearchSpace(
        {
            "opt": Categorical(["sgd", "adam"]),
            "act": Categorical(["relu", "tanh"], grid=True),
            "lr": Float(1e-4, 0.1, log=True),
            "m": Float(0.0, 0.99, step=0.01, when={"opt": "sgd"}),
            "w": Int(32, 512, step=32, when={"opt": ["sgd", "adam"]}),
            "layers": Fixed([64, 64]),
            "extra": Fixed({"a": 1}),
            "seed": Fixed(0),
            "tag": Fixed("x", when={"opt": "adam"}),
        }
    )
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space_to_dict(space), sort_keys=False))
    assert dict(load_space(path)) == dict(space)
