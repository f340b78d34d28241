"""k models of one shape as one: stacked weights, one template module, a vmapped forward.

This is PyTorch's model-ensembling recipe (`torch.func.stack_module_state` +
`vmap(functional_call)`), which fuses like HFTA's rewritten ops without rewriting them: under
`vmap` a linear layer becomes a batched matmul and a convolution a grouped convolution
(functorch's batching rules). Two things the recipe leaves out, added here:

* **per-member dropout probability** — `nn.Dropout(p)` holds `p` as a Python float, the same
  for every member. The template's dropouts are swapped for `MemberDropout`, whose `p` is a
  buffer, so it is stacked like any other buffer and each member reads its own; masks differ
  per member because the forward runs under `vmap(randomness="different")`.
* **member ↔ solo weights** — a member's model may differ from the template only in where
  it has dropout modules (`MLP` adds `nn.Dropout` only when `dropout > 0`, which shifts the
  `Sequential` indices in its state-dict keys), so weights are matched by position and
  shape, not by name; that is what lets a solo checkpoint load into a slot and back.

BatchNorm running statistics are buffers, stacked per member and updated in place by the
batch-norm kernel under `vmap`, so each member keeps its own.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call, vmap

DROPOUT_BUFFER = "member_p"


class NotPackable(ValueError):
    """The model cannot be trained as a pack; the message says why in one line."""


class MemberDropout(nn.Module):
    """`nn.Dropout` with `p` as a (stackable) buffer: keep with prob 1-p, scale by 1/(1-p)."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.register_buffer(DROPOUT_BUFFER, torch.tensor(float(p)))
        # False when every member's p is 0 (set by the pack, outside vmap): skips the masks
        self.any_member = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.any_member):
            return x
        keep = 1.0 - self.member_p
        # rand in [0, 1): p = 0 keeps everything and scales by exactly 1
        return x * (torch.rand_like(x) < keep).to(x.dtype) / keep


def _dropouts(model: nn.Module) -> list[tuple[str, nn.Dropout]]:
    return [(n, m) for n, m in model.named_modules() if type(m) is nn.Dropout]


def make_template(models: Sequence[nn.Module]) -> nn.Module:
    """A deep copy of the member with the most dropout modules, dropouts made per-member."""
    richest = max(models, key=lambda m: len(_dropouts(m)))
    template = copy.deepcopy(richest)
    for name, _ in _dropouts(template):
        parent_name, _, child = name.rpartition(".")
        parent = template.get_submodule(parent_name) if parent_name else template
        setattr(parent, child, MemberDropout())
    return template


def set_dropout_active(template: nn.Module, buffers: dict[str, torch.Tensor]) -> None:
    """Let each `MemberDropout` skip its masks when no member in `buffers` uses dropout."""
    for name, module in template.named_modules():
        if isinstance(module, MemberDropout):
            key = f"{name}.{DROPOUT_BUFFER}" if name else DROPOUT_BUFFER
            module.any_member = bool((buffers[key] > 0).any())


def _state_names(template: nn.Module) -> list[str]:
    return [n for n in template.state_dict() if not n.endswith(DROPOUT_BUFFER)]


def member_tensors(template: nn.Module, model: nn.Module) -> dict[str, torch.Tensor]:
    """The member's weights and buffers under the template's names (matched by position)."""
    names = _state_names(template)
    ref = template.state_dict()
    own = list(model.state_dict().items())
    if len(own) != len(names) or any(ref[n].shape != t.shape for n, (_, t) in zip(names, own)):
        raise NotPackable(
            f"{type(model).__name__}: members differ in their weights' shapes "
            f"({len(own)} vs {len(names)} tensors); only models of one shape pack")
    tensors = {n: t for n, (_, t) in zip(names, own)}
    ps = [m.p for _, m in _dropouts(model)]
    slots = [n for n in template.state_dict() if n.endswith(DROPOUT_BUFFER)]
    if ps and len(ps) != len(slots):
        raise NotPackable(f"{type(model).__name__}: members have {len(ps)} vs {len(slots)} "
                          "dropout layers; only models of one structure pack")
    for i, name in enumerate(slots):
        tensors[name] = torch.tensor(float(ps[i]) if ps else 0.0)
    return tensors


def stack(template: nn.Module, models: Sequence[nn.Module], device: torch.device
          ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Stacked `(params, buffers)` on `device`: params are fresh leaves needing grad."""
    per_member = [member_tensors(template, m) for m in models]
    param_names = {n for n, _ in template.named_parameters()}
    params, buffers = {}, {}
    for name in template.state_dict():
        stacked = torch.stack([t[name].detach() for t in per_member]).to(device)
        if name in param_names:
            params[name] = stacked.requires_grad_(True)
        else:
            buffers[name] = stacked
    return params, buffers


def vmapped(template: nn.Module, x_batched: bool):
    """`f(params, buffers, x) -> logits [k, n, classes]`, members on dim 0 of everything."""

    def one(params, buffers, x):
        return functional_call(template, (params, buffers), (x,))

    return vmap(one, in_dims=(0, 0, 0 if x_batched else None), randomness="different")


def check_vmappable(models: Sequence[nn.Module], x: torch.Tensor) -> None:
    """Train and eval one vmapped step of two members on `x`; NotPackable says why not.

    Catches what `vmap` cannot batch: data-dependent Python control flow (`.item()`, `if`
    on a tensor), in-place writes into unbatched buffers, ops without batching rules.
    """
    models = list(models)[:2] if len(models) > 1 else [models[0], models[0]]
    template = make_template(models)
    try:
        params, buffers = stack(template, models, x.device)
        buffers = {n: b.clone() for n, b in buffers.items()}
        for training in (True, False):
            template.train(training)
            out = vmapped(template, x_batched=False)(params, buffers, x)
            if training:
                out.float().sum().backward()
    except NotPackable:
        raise
    except Exception as err:  # vmap raises RuntimeError/ValueError/NotImplementedError
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise NotPackable(f"{type(models[0]).__name__} does not run under torch.func.vmap "
                          f"({type(err).__name__}: {first[:160]})") from err
