"""`tuner refine` on hand-made trial tables: log bounds, ints, conditionals, choice evidence."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from search_spaces import Categorical, Fixed, Float, Int, SearchSpace
from tuner.followup import refine
from tuner.experiment.config import load_experiment
from tuner.errors import ConfigError


def _rows(space, f, n=100, seed=0):
    rng = np.random.default_rng(seed)
    return [(c, f(c)) for c in (space.sample(rng) for _ in range(n))]


def test_log_bounds_are_quantiles_in_log_space_with_a_margin():
    space = SearchSpace({"lr": Float(1e-5, 1.0, log=True)})
    # top 20 %: lr in 1e-3 .. 1e-2 exactly; the rest far away
    rows = [({"lr": 10 ** (-3 + k / 19)}, 1.0) for k in range(20)]
    rows += [({"lr": 10 ** (-5 + 1.5 * k / 79)}, 0.1) for k in range(80)]
    dom = refine.refine_space(space, rows, "max", top=0.2, margin=0.25).space["lr"]
    # padding 0.25 × one decade each side, in log space (linear would give ~1e-3 - 2.25e-3)
    assert dom.log and dom.low == pytest.approx(10 ** -3.25, rel=1e-6)
    assert dom.high == pytest.approx(10 ** -1.75, rel=1e-6)


def test_bounds_are_clipped_to_the_original_and_min_mode_picks_the_lowest():
    space = SearchSpace({"x": Float(0.0, 1.0)})
    rows = [({"x": k / 99}, k / 99) for k in range(100)]  # a loss: best near x = 0
    dom = refine.refine_space(space, rows, "min", top=0.2).space["x"]
    assert dom.low == 0.0 and 0.2 < dom.high < 0.3


def test_ints_stay_ints_and_on_their_step():
    space = SearchSpace({"width": Int(16, 512, log=True), "layers": Int(1, 9, step=2)})
    rows = [({"width": w, "layers": l}, 1.0 if 60 <= w <= 100 and l in (3, 5) else 0.0)
            for w in (16, 24, 32, 48, 64, 80, 100, 128, 256, 512) for l in (1, 3, 5, 7, 9)]
    new = refine.refine_space(space, rows, "max", top=0.12).space  # the 6 best
    assert isinstance(new["width"], Int) and isinstance(new["width"].low, int)
    assert 16 < new["width"].low <= 64 and 100 <= new["width"].high < 512
    assert new["layers"].step == 2 and (new["layers"].low, new["layers"].high) in {(1, 5), (3, 5),
                                                                                   (3, 7), (1, 7)}
    assert all((v - 1) % 2 == 0 for v in new["layers"].grid_values())


def test_a_choice_is_dropped_with_evidence_and_kept_without():
    space = SearchSpace({"act": Categorical(("relu", "tanh", "gelu"))})
    rows = [({"act": "relu"}, 1.0 - k / 100) for k in range(20)]
    rows += [({"act": "tanh"}, 0.5 - k / 100) for k in range(30)]  # 30× tried, never top
    rows += [({"act": "gelu"}, 0.1)] * 2  # tried twice: no evidence either way
    ref = refine.refine_space(space, rows, "max", top=0.2)
    assert ref.space["act"].choices == ("relu", "gelu")
    assert any("dropped 'tanh'" in n for n in ref.notes)


def test_conditional_child_goes_with_its_parents_choice():
    space = SearchSpace({
        "opt": Categorical(("sgd", "adam")),
        "momentum": Float(0.0, 0.99, when={"opt": "sgd"}),
        "beta1": Float(0.8, 0.99, when={"opt": "adam"})})
    rows = [({"opt": "adam", "beta1": 0.9 + k / 1000}, 1.0 - k / 1000) for k in range(30)]
    rows += [({"opt": "sgd", "momentum": k / 40}, 0.2) for k in range(30)]
    ref = refine.refine_space(space, rows, "max", top=0.2)
    assert set(ref.space) == {"opt", "beta1"} and ref.space["opt"].choices == ("adam",)
    assert any("momentum: removed" in n for n in ref.notes)
    # a parent fixed as unimportant: the children of other values go too
    ref = refine.refine_space(space, rows, "max", top=0.2, unimportant={"opt"})
    assert ref.space["opt"] == Fixed("adam") and "momentum" not in ref.space
    assert ref.space["beta1"].when == {"opt": ("adam",)}


def test_unimportant_parameters_are_fixed_at_the_best_value_and_points_are_valid():
    space = SearchSpace({"lr": Float(1e-4, 1e-1, log=True), "noise": Float(0.0, 1.0)})
    rows = _rows(space, lambda c: -(math.log10(c["lr"]) + 2) ** 2)
    ref = refine.refine_space(space, rows, "max", unimportant={"noise"}, n_points=3)
    best = max(rows, key=lambda r: r[1])[0]
    assert ref.space["noise"] == Fixed(best["noise"])
    assert len(ref.points) == 3 and ref.points[0] == {"lr": best["lr"]}
    for p in ref.points:
        ref.space.validate_config({**p, "noise": best["noise"]})


def test_top_must_be_a_fraction():
    with pytest.raises(ConfigError, match="--top"):
        refine.refine_space(SearchSpace({"x": Float(0, 1)}), [({"x": 0.5}, 1.0)] * 3, "max",
                            top=1.5)


# the run folder ---------------------------------------------------------------------------
EXP = {"name": "toy", "trainable": "mlp", "space": {
    "lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
    "width": {"type": "int", "low": 8, "high": 128, "log": True},
    "act": {"type": "categorical", "choices": ["relu", "tanh"]},
    "optimizer": "adam"},
    "searcher": "random", "scheduler": "asha", "budget": {"min": 1, "max": 9, "eta": 3},
    "metric": "val_accuracy", "mode": "max", "num_samples": 40, "seed": 0}


def _run_folder(tmp_path, manifest=True):
    rng = np.random.default_rng(1)
    space = load_experiment_space()
    lines = ["trial_id,lr,width,act,optimizer,status,epochs,last_val_accuracy,"
             "best_val_accuracy,best_epoch,retries,node"]
    best = None
    for i in range(40):
        c = space.sample(rng)
        acc = 1 - (math.log10(c["lr"]) + 2) ** 2 / 9
        epochs = 9 if i < 12 else 3 if i < 30 else 1
        status = "completed" if epochs == 9 else "stopped early"
        lines.append(f"t_{i:03d},{c['lr']:.6g},{c['width']},{c['act']},adam,{status},{epochs},"
                     f"{acc:.6g},{acc:.6g},{epochs},0,")
        if epochs == 9 and (best is None or acc > best[1]):
            best = (f"t_{i:03d}", acc, c)
    lines.append("t_err,0.01,32,relu,adam,errored: RuntimeError: x,0,,,,0,")
    (tmp_path / "trials.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "best.json").write_text(json.dumps({"trial_id": best[0], "config": best[2]}))
    if manifest:
        (tmp_path / "manifest.json").write_text(json.dumps(
            {"experiment": {**EXP, "storage": str(tmp_path.parent)}}))
    return best


def load_experiment_space():
    from search_spaces import space_from_dict

    return space_from_dict(EXP["space"])


def test_refine_run_writes_a_next_experiment_that_loads(tmp_path):
    best = _run_folder(tmp_path)
    table = refine.load_run(tmp_path)
    nxt, ref = refine.refine_run(table, top=0.25)
    out, space_file = refine.write_refined(nxt, tmp_path / "refined.yaml")
    assert yaml.safe_load(space_file.read_text())["lr"]["log"] is True
    exp = load_experiment(out)
    assert exp.name == "toy-refined" and exp.space["optimizer"] == Fixed("adam")
    assert exp.points_to_evaluate[0]["lr"] == best[2]["lr"]  # full precision from best.json
    assert "12 trials at the 9-epoch rung" in ref.notes[0]
    assert exp.space["lr"].low > 1e-4 or exp.space["lr"].high < 0.1


def test_without_manifest_the_experiment_file_stands_in(tmp_path):
    _run_folder(tmp_path, manifest=False)
    with pytest.raises(ConfigError, match="--experiment"):
        refine.load_run(tmp_path)
    f = tmp_path / "exp.yaml"
    f.write_text(yaml.safe_dump(EXP))
    assert len(refine.load_run(tmp_path, str(f)).rows) == 41


def test_cli_refine(tmp_path, capsys):
    from tuner.cli import main

    _run_folder(tmp_path)
    assert main(["refine", str(tmp_path), "--top", "0.3", "--out", str(tmp_path / "n.yaml")]) == 0
    assert (tmp_path / "n.yaml").is_file() and (tmp_path / "n_space.yaml").is_file()
    assert "lr:" in capsys.readouterr().out
    assert main(["refine", str(tmp_path / "nope")]) == 2


def test_the_kept_winner_stays_inside_and_leads_the_warm_start():
    space = SearchSpace({"x": Float(0.0, 1.0), "c": Categorical(("a", "b"))})
    rows = [({"x": k / 99, "c": "a"}, k / 99) for k in range(100)]  # top: x near 1, c = a
    ref = refine.refine_space(space, rows, "max", keep={"x": 0.1, "c": "b"})
    assert ref.space["x"].low <= 0.1 and ref.space["c"].choices == ("a", "b")
    assert ref.points[0] == {"x": 0.1, "c": "b"}
