"""The size/speed objectives every trial reports (`params`, `latency_ms`): the right numbers,
every epoch, the same for a packed member as for its solo run, and kept whole by the
data-parallel averaging. No Ray actors."""

from __future__ import annotations

import math

import torch

from trainables.base import MLPTrainable
from trainables.cost import count_params, latency_ms
from trainables.distributed import average_metrics
from trainables.models import build_model
from trainables.packing import PackedRun

BASE = dict(dataset="digits", hidden=16, depth=1, batch_size=128, device="cpu")


def _mlp(hidden: int) -> torch.nn.Module:
    return build_model("mlp", {"hidden": hidden, "depth": 2}, (1, 8, 8), 10)


def test_params_counts_every_trainable_weight_and_tells_widths_apart():
    narrow, wide = _mlp(8), _mlp(32)
    assert count_params(narrow) == sum(p.numel() for p in narrow.parameters())
    assert count_params(wide) == sum(p.numel() for p in wide.parameters())
    assert count_params(narrow) < count_params(wide)
    wide.net[1].weight.requires_grad_(False)  # frozen weights are not trainable size
    assert count_params(wide) == sum(p.numel() for p in wide.parameters() if p.requires_grad)


def test_latency_is_per_example_and_leaves_the_training_mode_alone():
    model = build_model("mlp", {"hidden": 16, "dropout": 0.5}, (1, 8, 8), 10).train()
    ms = latency_ms(model, torch.randn(100, 1, 8, 8))
    assert 0 < ms < 1000 and math.isfinite(ms)
    assert model.training
    assert math.isnan(latency_ms(model, torch.randn(0, 1, 8, 8)))


def _assert_costs(metrics: dict) -> None:
    assert isinstance(metrics["params"], int) and metrics["params"] > 0
    assert 0 < metrics["latency_ms"] and math.isfinite(metrics["latency_ms"])


def test_solo_run_reports_both_every_epoch():
    run = MLPTrainable.make_run(BASE)
    epochs = [run.train_one_epoch() for _ in range(3)]
    for m in epochs:
        _assert_costs(m)
    assert epochs[0]["params"] == count_params(run.model)
    # measured once per run, reported every epoch
    assert len({(m["params"], m["latency_ms"]) for m in epochs}) == 1


def test_packed_member_reports_its_own_model_not_the_packs():
    configs = {"plain": dict(BASE, lr=3e-3, seed=0), "dropout": dict(BASE, lr=1e-2, seed=1,
                                                                      dropout=0.3)}
    pack = PackedRun(MLPTrainable)
    for member, config in configs.items():
        pack.add(member, config)
    epochs = [pack.train_one_epoch() for _ in range(2)]
    for member, config in configs.items():
        solo = MLPTrainable.make_run(config).model_costs()
        for out in epochs:
            _assert_costs(out[member])
            assert out[member]["params"] == solo["params"]


def test_data_parallel_keeps_params_an_int_and_averages_latency():
    merged = average_metrics([{"params": 1234, "latency_ms": 0.1, "epoch": 1},
                              {"params": 1234, "latency_ms": 0.3, "epoch": 1}])
    assert merged["params"] == 1234 and isinstance(merged["params"], int)
    assert math.isclose(merged["latency_ms"], 0.2)
