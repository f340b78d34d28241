"""One wiring for an experiment: searcher + scheduler + concurrency limit, built in one place.

``tuner launch`` (``tuner.launch.runner``) and the simulated-time benchmark runner
(``benchmarks.peers``) both call ``wire``, so what a benchmark measures is what a user runs.
Before this module each built its own: the benchmark's copy had drifted (the space passed only
to PBT, no warm start), which is how a measured method stops being the shipped one (issue 12).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from search_spaces import SearchSpace
from tuner.budget import BudgetLadder

__all__ = ["Wiring", "wire"]


@dataclass
class Wiring:
    """What Ray's ``TuneConfig`` gets: ``search_alg``, ``scheduler``, ``max_concurrent_trials``."""

    searcher: Any
    scheduler: Any
    max_concurrent: int | None
    pausing: bool = field(default=False)


def wire(searcher: str, scheduler: str, space: SearchSpace, ladder: BudgetLadder, *,
         metric: str, mode: str, seed: int | None, slots: int | None,
         num_samples: int | None = None, points_to_evaluate: list[dict] | None = None,
         searcher_options: dict | None = None,
         scheduler_options: dict | None = None) -> Wiring:
    """Build the named searcher and scheduler over ``ladder`` and the concurrency limit.

    ``slots`` is how many trials can *run* at once (resources, or the simulator's workers);
    the limit is ``concurrency_hint``'s, since Ray's ``ConcurrencyLimiter`` counts PAUSED trials
    as live and a pausing scheduler needs room for a whole bracket / population. The space
    always reaches the scheduler (``make_scheduler`` ignores it where it has no use for it);
    ``points_to_evaluate`` (the warm start) always reaches the searcher.
    """
    from tuner.compose.methods import build_searcher
    from tuner.schedulers import PAUSING_SCHEDULERS, concurrency_hint, make_scheduler

    common = {"metric": metric, "mode": mode, "seed": seed}
    search = build_searcher(searcher, space, ladder, points_to_evaluate=points_to_evaluate or None,
                            **common, **(searcher_options or {}))
    sched = make_scheduler(scheduler, ladder, space=space, **common, **(scheduler_options or {}))
    limit = concurrency_hint(scheduler, ladder, slots, num_samples)
    return Wiring(search, sched, limit, pausing=scheduler in PAUSING_SCHEDULERS)
