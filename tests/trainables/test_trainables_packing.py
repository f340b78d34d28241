"""Trial packing: the fused optimiser equals torch.optim per member, packed members train
as they would alone (MLP and CNN), membership changes leave the others alone, and member
checkpoints are `TrainingRun` states in both directions. No Ray."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from trainables.data import load_dataset
from trainables.models import build_model
from trainables.packing import FusedOptimizer, MemberDropout, NotPackable, PackedRun
from trainables.packing.stack import check_vmappable, vmapped
from trainables.run import TrainingRun

# Fused kernels reduce in another order than the solo ones; over a few epochs of digits the
# validation loss of a packed member stays within this of its solo run (observed ~1e-6).
TOL = 1e-4


class Shell:
    """What PackedRun needs from a trainable class (TorchTrainable has the same two)."""

    def __init__(self, model: str) -> None:
        self.model = model

    def build_model(self, config, data):
        return build_model(self.model, config, data.input_shape, data.num_classes)

    def make_run(self, config, assigned_gpus=None):
        return TrainingRun(config, self.build_model, assigned_gpus=assigned_gpus)


MLP = Shell("mlp")
CNN = Shell("cnn")
MLP_BASE = dict(dataset="digits", hidden=32, depth=2, batch_size=64, device="cpu")
CNN_BASE = dict(dataset="digits", channels=4, depth=2, batch_size=64, device="cpu")


# ---- fused optimiser ------------------------------------------------------------------
HYPERS = [dict(lr=0.1, weight_decay=0.0, momentum=0.9, nesterov=True),
          dict(lr=0.03, weight_decay=1e-2, momentum=0.0, nesterov=False),
          dict(lr=0.01, weight_decay=1e-3, momentum=0.5, nesterov=False)]


def _torch_opt(kind, params, h):
    if kind == "sgd":
        return torch.optim.SGD(params, lr=h["lr"], momentum=h["momentum"],
                               nesterov=h["nesterov"], weight_decay=h["weight_decay"])
    cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
    return cls(params, lr=h["lr"], weight_decay=h["weight_decay"])


@pytest.mark.parametrize("kind", ["sgd", "adam", "adamw"])
def test_fused_step_equals_torch_optim_per_member(kind):
    gen = torch.Generator().manual_seed(0)
    shapes = [(5, 3), (7,)]
    stacked = [torch.randn(len(HYPERS), *s, generator=gen) for s in shapes]
    fused = FusedOptimizer([t.clone().requires_grad_() for t in stacked], kind, len(HYPERS))
    for name in fused.hyper:
        fused.hyper[name][:] = torch.tensor([float(h[name]) for h in HYPERS])
    solo = [[t[i].clone().requires_grad_() for t in stacked] for i in range(len(HYPERS))]
    opts = [_torch_opt(kind, ps, h) for ps, h in zip(solo, HYPERS)]
    for step in range(5):
        grads = [torch.randn(len(HYPERS), *s, generator=gen) for s in shapes]
        rows = torch.tensor([0, 2]) if step == 3 else None  # member 1 sits one step out
        for p, g in zip(fused.params, grads):
            p.grad = g.clone()
        fused.step(rows)
        for i, (ps, opt) in enumerate(zip(solo, opts)):
            if rows is not None and i not in rows.tolist():
                continue
            for p, g in zip(ps, grads):
                p.grad = g[i].clone()
            opt.step()
    for i, ps in enumerate(solo):
        for p, fp in zip(ps, fused.params):
            torch.testing.assert_close(fp[i], p.detach(), rtol=1e-5, atol=1e-6)


# ---- packed vs solo curves ------------------------------------------------------------
def _solo_curve(shell, config, epochs):
    run = shell.make_run(config)
    return [run.train_one_epoch() for _ in range(epochs)]


def _assert_same_curve(packed, solo):
    for p, s in zip(packed, solo, strict=True):
        assert p["epoch"] == s["epoch"] and p["lr"] == pytest.approx(s["lr"], rel=1e-12)
        assert p["data_fraction"] == s["data_fraction"]
        for key in ("train_loss", "val_loss", "val_accuracy"):
            assert abs(p[key] - s[key]) <= TOL, (key, p[key], s[key])


MLP_MEMBERS = [
    dict(MLP_BASE, lr=3e-3, seed=0),
    dict(MLP_BASE, lr=1e-2, weight_decay=1e-3, seed=1, lr_schedule="step", step_size=1),
    dict(MLP_BASE, lr=1e-3, seed=2, lr_schedule="cosine", warmup_epochs=1, max_epochs=3),
    # a data-fraction ladder: its epochs are shorter, so it steps in its own group
    dict(MLP_BASE, lr=5e-3, seed=3, fidelity_schedule=[[1, 0.3]], lr_schedule="plateau",
         plateau_patience=0),
]
CNN_MEMBERS = [
    dict(CNN_BASE, optimizer="sgd", lr=0.05, momentum=0.9, nesterov=True, seed=0),
    dict(CNN_BASE, optimizer="sgd", lr=0.1, momentum=0.0, weight_decay=1e-3, seed=4,
         lr_schedule="exponential", gamma=0.7),
]


@pytest.mark.parametrize("shell,members", [(MLP, MLP_MEMBERS), (CNN, CNN_MEMBERS)],
                         ids=["mlp", "cnn"])
def test_packed_member_matches_solo_run(shell, members):
    pack = PackedRun(shell)
    for i, config in enumerate(members):
        pack.add(i, config)
    curves = [pack.train_one_epoch() for _ in range(3)]
    for i, config in enumerate(members):
        _assert_same_curve([c[i] for c in curves], _solo_curve(shell, config, 3))
    ends = {i for i, c in enumerate(members) if c.get("max_epochs") == 3}
    assert {i for i, m in curves[-1].items() if m.get("done")} == ends


def test_batchnorm_running_statistics_are_per_member():
    pack = PackedRun(CNN)
    for i, config in enumerate(CNN_MEMBERS):
        pack.add(i, config)
    pack.train_one_epoch()
    name = next(n for n in pack.buffers if n.endswith("running_mean"))
    means = pack.buffers[name]
    assert not torch.allclose(means[0], means[1])
    solo = CNN.make_run(CNN_MEMBERS[1])
    solo.train_one_epoch()
    torch.testing.assert_close(means[1], solo.model.state_dict()[name], rtol=1e-4, atol=1e-5)


def test_dropout_probability_is_per_member():
    no_drop, drop = dict(MLP_BASE, lr=3e-3, seed=0), dict(MLP_BASE, lr=3e-3, seed=0, dropout=0.5)
    pack = PackedRun(MLP)
    pack.add("plain", no_drop)
    pack.add("dropout", drop)
    out = pack.train_one_epoch()
    # p = 0 in a pack whose template has dropout layers is exactly no dropout
    _assert_same_curve([out["plain"]], _solo_curve(MLP, no_drop, 1))
    assert abs(out["dropout"]["train_loss"] - out["plain"]["train_loss"]) > 1e-3


def test_member_dropout_masks_differ_and_follow_p():
    module = MemberDropout().train()
    p = torch.tensor([0.0, 0.5, 0.9])
    x = torch.ones(3, 20000)
    f = vmapped(module, x_batched=True)
    out = f({}, {"member_p": p}, x)
    dropped = (out == 0).float().mean(dim=1)
    assert dropped[0] == 0 and abs(dropped[1] - 0.5) < 0.02 and abs(dropped[2] - 0.9) < 0.02
    assert torch.allclose(out[1].mean(), torch.tensor(1.0), atol=0.05)  # rescaled by 1/(1-p)


# ---- membership changes ---------------------------------------------------------------
@pytest.mark.parametrize("compact", [False, True], ids=["refill", "compact"])
def test_removing_and_adding_members_leaves_the_others_unchanged(compact):
    a, b, c = MLP_MEMBERS[0], MLP_MEMBERS[1], dict(MLP_BASE, lr=2e-3, seed=7)
    pack = PackedRun(MLP)
    pack.add("a", a)
    pack.add("b", b)
    first = pack.train_one_epoch()
    pack.remove("a")  # e.g. ASHA stopped it
    if compact:
        pack.compact()
        assert pack.size == 1
    second = pack.train_one_epoch()  # b alone (or b beside a free slot)
    pack.add("c", c)  # refills a's slot (or grows the compacted pack)
    assert pack.size == 2
    third = pack.train_one_epoch()
    _assert_same_curve([first["b"], second["b"], third["b"]], _solo_curve(MLP, b, 3))
    _assert_same_curve([third["c"]], _solo_curve(MLP, c, 1))


def test_members_train_only_when_asked():
    pack = PackedRun(MLP)
    pack.add(0, MLP_MEMBERS[0])
    pack.add(1, MLP_MEMBERS[1])
    before = {n: p[1].detach().clone() for n, p in pack.params.items()}
    out = pack.train_one_epoch([0])
    assert list(out) == [0]
    assert all(torch.equal(before[n], p[1]) for n, p in pack.params.items())
    _assert_same_curve([pack.train_one_epoch([1])[1]], _solo_curve(MLP, MLP_MEMBERS[1], 1))


def test_configs_that_change_shared_settings_do_not_pack():
    pack = PackedRun(MLP)
    pack.add(0, MLP_BASE)
    with pytest.raises(NotPackable, match="hidden"):
        pack.add(1, dict(MLP_BASE, hidden=64))
    with pytest.raises(NotPackable, match="batch_size"):
        pack.add(2, dict(MLP_BASE, batch_size=32))
    with pytest.raises(NotPackable, match="hypergradient"):
        pack.add(3, dict(MLP_BASE, lr_schedule="hypergradient"))


def test_a_diverging_member_ends_alone():
    good = dict(MLP_BASE, optimizer="sgd", lr=0.05, seed=0)
    bad = dict(MLP_BASE, optimizer="sgd", lr=1e6, seed=1)
    pack = PackedRun(MLP)
    pack.add("good", good)
    pack.add("bad", bad)
    out = pack.train_one_epoch()
    solo_bad = MLP.make_run(bad).train_one_epoch()
    assert out["bad"]["done"] and out["bad"]["error"] == solo_bad["error"]
    assert math.isnan(out["bad"]["val_loss"])
    _assert_same_curve([out["good"]], _solo_curve(MLP, good, 1))


# ---- checkpoints ----------------------------------------------------------------------
@pytest.mark.parametrize("shell,members", [(MLP, MLP_MEMBERS[:2]), (CNN, CNN_MEMBERS)],
                         ids=["mlp", "cnn"])
def test_member_checkpoint_restores_into_solo_run(shell, members, tmp_path):
    from trainables.base import CHECKPOINT_FILE

    pack = PackedRun(shell)
    for i, config in enumerate(members):
        pack.add(i, config)
    pack.train_one_epoch()
    pack.train_one_epoch()
    pack.save_member(1, tmp_path / CHECKPOINT_FILE)
    solo = shell.make_run(members[1])
    solo.restore(tmp_path / CHECKPOINT_FILE)  # what TorchTrainable.load_checkpoint does
    assert solo.epoch == 2
    _assert_same_curve([solo.train_one_epoch()], [pack.train_one_epoch()[1]])


def test_solo_checkpoint_loads_into_a_pack_slot(tmp_path):
    config = MLP_MEMBERS[1]
    solo = MLP.make_run(config)
    solo.train_one_epoch()
    solo.save(tmp_path / "solo.pt")
    state = torch.load(tmp_path / "solo.pt", weights_only=False)
    pack = PackedRun(MLP)
    pack.add("other", MLP_MEMBERS[0])
    pack.add("resumed", config, state=state)
    out = pack.train_one_epoch()["resumed"]
    assert out["epoch"] == 2
    _assert_same_curve([out], [solo.train_one_epoch()])


def test_trainable_load_checkpoint_reads_a_member_checkpoint(tmp_path):
    from trainables.base import CHECKPOINT_FILE, MLPTrainable
    from trainables.evaluate import evaluate_checkpoint

    config = dict(MLP_BASE, lr=3e-3)
    pack = PackedRun(MLPTrainable)
    pack.add(0, config)
    first = pack.train_one_epoch()[0]
    pack.save_member(0, tmp_path / CHECKPOINT_FILE)
    shell = MLPTrainable.__new__(MLPTrainable)  # the Ray actor's state without an actor
    shell.run = MLPTrainable.make_run(config)
    MLPTrainable.load_checkpoint(shell, str(tmp_path))
    assert shell.run.epoch == 1
    scored = evaluate_checkpoint(MLPTrainable, config, tmp_path, split="val")
    assert scored["val_loss"] == pytest.approx(first["val_loss"], abs=TOL)
    assert scored["val_accuracy"] == pytest.approx(first["val_accuracy"], abs=TOL)


# ---- user models ----------------------------------------------------------------------
class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(64, 10)

    def forward(self, x):
        h = self.linear(x.flatten(1))
        if h.sum() > 0:  # Python control flow on a tensor value: vmap cannot batch it
            h = h * 2
        return h


def test_model_with_data_dependent_control_flow_is_not_packable():
    with pytest.raises(NotPackable, match="does not run under torch.func.vmap"):
        check_vmappable([DataDependent(), DataDependent()], torch.zeros(2, 1, 8, 8))
    data = load_dataset("digits")
    models = [build_model("cnn", CNN_BASE, data.input_shape, data.num_classes) for _ in "ab"]
    check_vmappable(models, data.x_train[:4])  # the CNN (BatchNorm, dropout) packs


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_packed_cnn_matches_solo_on_cuda():
    members = [dict(c, device="cuda") for c in CNN_MEMBERS]
    pack = PackedRun(CNN)
    for i, config in enumerate(members):
        pack.add(i, config)
    curves = [pack.train_one_epoch() for _ in range(2)]
    assert pack.params[next(iter(pack.params))].device.type == "cuda"
    for i, config in enumerate(members):
        solo = _solo_curve(CNN, config, 2)
        for p, s in zip([c[i] for c in curves], solo):
            assert math.isclose(p["val_loss"], s["val_loss"], abs_tol=1e-3)
