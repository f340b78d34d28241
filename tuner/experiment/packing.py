"""`packing: {members: 16}` in an experiment: parse the setting and check that the model packs.

Trials whose shape-changing settings agree train as one fused model (`trainables.packing`);
`tuner.launch.packed` runs them. What can be known before Ray starts is checked here: the
setting's form, and that two sampled members of the trainable run one training and one
evaluation step under `torch.func.vmap`. See docs/packing.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tuner.errors import ConfigError

__all__ = ["AUTO_MAX", "check_packable", "members_per_pack", "parse_packing"]

AUTO_MAX = 16  # `members: auto` packs up to this many (the CPU benchmark's sweet spot)


def parse_packing(value: Any) -> int | str | None:
    """`{members: N}` / `{members: auto}` / `auto` / `N` → N, "auto" or None (off)."""
    if value is None or value is False:
        return None
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"members"})
        if unknown:
            raise ConfigError(f"packing.{unknown[0]}: unknown key; valid: members")
        value = value.get("members", "auto")
    if value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) \
            or value < 1:
        raise ConfigError(f"packing.members: expected a whole number >= 1 or 'auto', "
                          f"got {value!r}")
    return None if int(value) == 1 else int(value)


def members_per_pack(setting: int | str, num_samples: int, workers: int) -> int:
    """`auto`: spread the trials over the workers, at most AUTO_MAX per pack."""
    if setting != "auto":
        return int(setting)
    return max(1, min(AUTO_MAX, math.ceil(num_samples / max(1, workers))))


def check_packable(exp: Any) -> None:
    """One clear line (ConfigError) unless `exp`'s trials can train packed: the trainable
    is a `TorchTrainable`, and two sampled members run one
    training and one evaluation step under `torch.func.vmap` on a real batch."""
    from tuner.experiment.user_code import resolve_trainable

    cls = resolve_trainable(exp.trainable).obj
    if not (hasattr(cls, "make_run") and hasattr(cls, "build_model")):
        raise ConfigError(f"packing: trainable {getattr(cls, '__name__', cls)} is not a "
                          "trainables.TorchTrainable (built-in or make_trainable(model_fn)); "
                          "only those pack")
    from trainables.config import ConfigError as TrialConfigError
    from trainables.packing import NotPackable, check_vmappable, unpackable_reason

    config = {**exp.trial_config(), **exp.space.sample(np.random.default_rng(exp.seed)),
              "device": "cpu"}
    try:
        runs = [cls.make_run({**config, "seed": int(config.get("seed", 0)) + i})
                for i in range(2)]
        reason = unpackable_reason(runs[0].cfg)
        if reason:
            raise NotPackable(reason)
        x, _ = runs[0].train_data(1.0)
        check_vmappable([r.model for r in runs], x[: runs[0].cfg.batch_size])
    except (NotPackable, TrialConfigError) as exc:
        raise ConfigError(f"packing: {exc}") from None
