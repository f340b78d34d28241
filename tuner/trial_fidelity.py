"""``tuner.fidelity(config, epoch)``: the budget ladder as user code sees it.

Our own trainables read the ladder from two keys every trial's config carries
(``max_epochs``, the top rung, and ``fidelity_schedule``, ``[[up_to_epoch, data_fraction], …]``
when the ladder has data fractions — see ``Experiment.trial_config``). A function trainable, a
``ray.tune.Trainable`` subclass or a Lightning module gets the same config, and this helper turns
those keys into what the user's loop needs: how many epochs at most, and how much of the
training data the coming epoch should use. Pure and Ray-free, so it works in a unit test, in
a function trainable and in a class trainable alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Fidelity", "fidelity"]


@dataclass(frozen=True)
class Fidelity:
    """The ladder at one epoch of one trial."""

    epoch: int  # the 1-based epoch about to be trained
    data_fraction: float  # share of the training set for this epoch (1.0 = all of it)
    max_epochs: int | None  # the top rung: a trial is never trained further (None = unbounded)
    rung_epochs: tuple[int, ...]  # epochs at which the scheduler may judge the trial

    @property
    def last_epoch(self) -> bool:
        """True when this epoch reaches the top rung (the trial ends after it)."""
        return self.max_epochs is not None and self.epoch >= self.max_epochs


def fidelity(config: Mapping[str, Any], epoch: int = 1) -> Fidelity:
    """What ``config`` (a trial's config as tuner passes it) allows at 1-based ``epoch``.

    >>> f = fidelity({"max_epochs": 27, "fidelity_schedule": [[1, 0.25], [3, 0.5], [27, 1.0]]}, 2)
    >>> f.data_fraction, f.max_epochs
    (0.5, 27)
    """
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        raise ValueError(f"fidelity: epoch must be an integer >= 1, got {epoch!r}")
    schedule = config.get("fidelity_schedule") or ()
    fraction = 1.0
    for up_to, share in schedule:
        if epoch <= up_to:
            fraction = float(share)
            break
    max_epochs = config.get("max_epochs")
    rungs = tuple(int(up_to) for up_to, _ in schedule) or config.get("rung_epochs") or ()
    return Fidelity(epoch=epoch, data_fraction=fraction,
                    max_epochs=int(max_epochs) if max_epochs is not None else None,
                    rung_epochs=tuple(int(r) for r in rungs))
