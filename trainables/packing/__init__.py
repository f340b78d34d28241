"""Trial packing: k trials of one model shape trained as one vmapped model (HFTA-style
horizontal fusion with `torch.func`), each member keeping its own hyperparameters,
optimiser state, data order, schedule and `TrainingRun` checkpoint. See docs/packing.md."""

from __future__ import annotations

from trainables.packing.keys import MEMBER_KEYS, mismatch, pack_key, unpackable_reason
from trainables.packing.optim import FusedOptimizer
from trainables.packing.run import PackedRun
from trainables.packing.stack import MemberDropout, NotPackable, check_vmappable

__all__ = [
    "MEMBER_KEYS",
    "FusedOptimizer",
    "MemberDropout",
    "NotPackable",
    "PackedRun",
    "check_vmappable",
    "mismatch",
    "pack_key",
    "unpackable_reason",
]
