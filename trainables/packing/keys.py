"""Which trial configs may share a pack: everything but the per-member keys must agree."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from trainables.config import TrainConfig

# Keys members of one pack may differ in. Everything else (the model's shape keys, the batch
# size, the optimiser kind, dataset, device, ...) must be equal: they change the weights'
# shapes, the batch shape every member shares under vmap, or the optimiser code path.
MEMBER_KEYS = frozenset({
    "lr", "weight_decay", "momentum", "nesterov", "dropout", "seed", "max_epochs",
    "fidelity_schedule", "lr_schedule", "warmup_epochs", "step_size", "gamma",
    "plateau_patience", "plateau_factor",
})


def shared_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings all members of a pack share: `TrainConfig` defaults filled in, so an
    explicit default (`optimizer: adam`) and a missing key agree."""
    full = {**dataclasses.asdict(TrainConfig.from_flat(config)), **config}
    return {k: v for k, v in full.items() if k not in MEMBER_KEYS}


def pack_key(config: Mapping[str, Any]) -> str:
    """A string equal for exactly the configs that may train in one pack."""
    return json.dumps(shared_settings(config), sort_keys=True, default=repr)


def mismatch(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The shared settings in which configs `a` and `b` differ."""
    sa, sb = shared_settings(a), shared_settings(b)
    return sorted(k for k in sa.keys() | sb.keys() if repr(sa.get(k)) != repr(sb.get(k)))


def unpackable_reason(cfg: TrainConfig) -> str | None:
    """Why a trial with this config cannot be a pack member (None when it can)."""
    if cfg.lr_schedule == "hypergradient":
        return ("lr_schedule=hypergradient changes each member's lr every batch from its "
                "own gradients; packs support the per-epoch schedules only")
    if cfg.compile:
        return "compile=true: torch.compile of a vmapped functional model is not supported"
    if cfg.amp:
        return "amp=true: packs train in float32 (no per-member GradScaler)"
    return None
