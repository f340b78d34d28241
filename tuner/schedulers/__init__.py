"""Schedulers by name, every budget taken from the ``BudgetLadder`` (units: epochs).

``make_scheduler(name, ladder, *, metric, mode, seed, **options)`` is the one entry point the
runner and the simulated-time benchmark runner use. Each scheduler answers every result with
CONTINUE / PAUSE / STOP (Ray's ``TrialScheduler`` protocol); what each needs from the
controller and the trial objects is stated in its module docstring and docs/schedulers.md.
Unknown options are rejected with the list of valid ones (Ray's ``create_scheduler`` drops
them silently).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ray.tune.schedulers import TrialScheduler

from tuner.budget import BudgetLadder, hyperband_brackets
from tuner.schedulers.asha import SeededASHA, stable_uniform
from tuner.schedulers.checked_asha import CheckedASHA
from tuner.schedulers.hyperband import PaperHyperBand
from tuner.schedulers.pareto_asha import ParetoASHA
from tuner.schedulers.pareto_hyperband import ParetoHyperBand
from tuner.schedulers.pbt import SeededPBT, mutations_from_space
from tuner.schedulers.promotion_asha import PromotionASHA
from tuner.schedulers.simple import LadderFIFO, LadderMedian

__all__ = [
    "PAUSING_SCHEDULERS",
    "POPULATION_SCHEDULERS",
    "SCHEDULERS",
    "COMMON_OPTIONS",
    "CheckedASHA",
    "LadderFIFO",
    "LadderMedian",
    "MULTI_OBJECTIVE_SCHEDULERS",
    "PaperHyperBand",
    "ParetoASHA",
    "ParetoHyperBand",
    "PromotionASHA",
    "SchedulerError",
    "SeededASHA",
    "SeededPB2",
    "SeededPBT",
    "concurrency_hint",
    "make_scheduler",
    "mutations_from_space",
    "pb2_params",
    "scheduler_options",
    "stable_uniform",
]

SCHEDULERS: dict[str, str] = {
    "fifo": "run every trial to the ladder's max (no early stopping)",
    "asha": "asynchronous successive halving, stopping variant, brackets by stable hash; "
            "MO-ASHA with several objectives",
    "asha-checked": "ASHA that stops only on rungs ranking like the top rung (Kendall tau, "
                    "measured online); none does → full fidelity",
    "asha-promotion": "ASHA, promotion variant: pauses every trial at each rung, resumes the "
                      "best of a rung's top 1/eta when a worker is free (needs checkpoints)",
    "hyperband": "synchronous HyperBand with the paper's brackets; pauses (needs checkpoints); "
                 "MO-ASHA's ranking with several objectives",
    "median": "median stopping rule on epochs, grace = ladder min",
    "pbt": "population based training, mutations from the space (needs checkpoints)",
    "pb2": "population based bandits: PBT with GP-UCB explore (needs checkpoints)",
}

# Schedulers that take several objectives (``metric`` and ``mode`` lists): fifo decides
# nothing; asha and hyperband become MO-ASHA and HyperBand with MO-ASHA's ranking.
MULTI_OBJECTIVE_SCHEDULERS = {
    "fifo": "every trial to the max (nothing to rank)",
    "asha": "MO-ASHA: rungs ranked by non-dominated sorting, ε-net inside a front",
    "hyperband": "HyperBand, each rung ranked as MO-ASHA ranks it",
}

# Schedulers that PAUSE trials: the trainable must save/load checkpoints to resume.
PAUSING_SCHEDULERS = frozenset({"asha-promotion", "hyperband", "pbt", "pb2"})
# Schedulers that clone one trial's checkpoint into another (need the space; never mutate keys
# that reshape the weights).
POPULATION_SCHEDULERS = frozenset({"pbt", "pb2"})


from tuner.errors import SchedulerError  # noqa: E402  (re-exported)


def _fifo(ladder, *, metric, mode, seed, **options):
    if not isinstance(metric, str):  # decides nothing: the first objective is only a label
        metric, mode = metric[0], mode[0]
    return LadderFIFO(ladder, metric=metric, mode=mode, **options)


def _asha(ladder, *, metric, mode, seed, **options):
    if not isinstance(metric, str):
        return ParetoASHA(ladder, metric=metric, mode=mode, seed=seed, **options)
    return SeededASHA(ladder, metric=metric, mode=mode, seed=seed, **options)


def _asha_checked(ladder, *, metric, mode, seed, **options):
    return CheckedASHA(ladder, metric=metric, mode=mode, seed=seed, **options)


def _asha_promotion(ladder, *, metric, mode, seed, **options):
    return PromotionASHA(ladder, metric=metric, mode=mode, **options)


def _hyperband(ladder, *, metric, mode, seed, **options):
    if not isinstance(metric, str):
        return ParetoHyperBand(ladder, metric=metric, mode=mode, **options)
    return PaperHyperBand(ladder, metric=metric, mode=mode, **options)


def _median(ladder, *, metric, mode, seed, **options):
    return LadderMedian(ladder, metric=metric, mode=mode, **options)


def _pbt(ladder, *, metric, mode, seed, space=None, **options):
    if space is None:
        raise SchedulerError("scheduler pbt: needs the search space (options: space=...) to "
                             "derive its mutations")
    return SeededPBT(ladder, space, metric=metric, mode=mode, seed=seed, **options)


def _pb2(ladder, *, metric, mode, seed, space=None, **options):
    if space is None:
        raise SchedulerError("scheduler pb2: needs the search space (options: space=...) to "
                             "derive its bounds")
    return _pb2_class()(ladder, space, metric=metric, mode=mode, seed=seed, **options)


def _pb2_class() -> type:
    """PB2 on first use: Ray's PB2 imports scikit-learn (~0.8 s), which every ``tuner``
    command would otherwise pay at start-up."""
    from tuner.schedulers.pb2 import SeededPB2

    return SeededPB2


_BUILDERS: dict[str, tuple[Callable[..., TrialScheduler], Callable[[], type]]] = {
    "fifo": (_fifo, lambda: LadderFIFO),
    "asha": (_asha, lambda: SeededASHA),
    "asha-checked": (_asha_checked, lambda: CheckedASHA),
    "asha-promotion": (_asha_promotion, lambda: PromotionASHA),
    "hyperband": (_hyperband, lambda: PaperHyperBand),
    "median": (_median, lambda: LadderMedian),
    "pbt": (_pbt, lambda: SeededPBT),
    "pb2": (_pb2, _pb2_class),
}


def __getattr__(name: str) -> Any:
    """``SeededPB2`` and ``pb2_params`` are imported when first asked for (``_pb2_class``)."""
    if name in ("SeededPB2", "pb2_params"):
        from tuner.schedulers import pb2

        return getattr(pb2, name)
    raise AttributeError(f"module 'tuner.schedulers' has no attribute {name!r}")

# Options every builder accepts and ignores when it has no use for them, so the runner can
# pass the same keyword set (e.g. the space) whatever the scheduler.
COMMON_OPTIONS = {"space"}  # options every scheduler accepts


def scheduler_options(name: str) -> list[str]:
    """The options ``make_scheduler(name, ...)`` accepts beyond ladder/metric/mode/seed."""
    cls = _BUILDERS[name][1]()
    skip = {"self", "ladder", "space", "metric", "mode", "seed"}
    names = [p for p in inspect.signature(cls.__init__).parameters if p not in skip]
    return names + (["space"] if name in POPULATION_SCHEDULERS else [])


def make_scheduler(name: str, ladder: BudgetLadder, *, metric: str | list[str],
                   mode: str | list[str], seed: int | None = 0,
                   **options: Any) -> TrialScheduler:
    """Build the scheduler called ``name`` over ``ladder`` (all budgets in epochs).

    ``metric`` and ``mode`` may be lists (several objectives): then only the schedulers of
    ``MULTI_OBJECTIVE_SCHEDULERS`` are built; the others are refused with that list."""
    if name not in _BUILDERS:
        raise SchedulerError(f"unknown scheduler {name!r}; one of {', '.join(SCHEDULERS)}")
    metric, mode = _objectives(name, metric, mode)
    if any(m not in ("min", "max") for m in ([mode] if isinstance(mode, str) else mode)):
        raise SchedulerError(f"scheduler {name}: mode must be 'min' or 'max', got {mode!r}")
    valid = scheduler_options(name)
    unknown = sorted(set(options) - set(valid) - COMMON_OPTIONS)
    if unknown:
        raise SchedulerError(f"scheduler {name}: unknown option {unknown[0]!r}; valid: "
                             f"{', '.join(valid) or '(none)'}")
    if name not in POPULATION_SCHEDULERS:
        options.pop("space", None)
    builder, _ = _BUILDERS[name]
    try:
        return builder(ladder, metric=metric, mode=mode, seed=seed, **options)
    except SchedulerError:
        raise
    except ValueError as exc:
        raise SchedulerError(str(exc)) from exc


def _objectives(name: str, metric: Any, mode: Any) -> tuple[Any, Any]:
    """One objective as strings; several as lists, for a scheduler that takes several."""
    if isinstance(metric, str):
        return metric, mode
    metric, mode = list(metric), [mode] * len(metric) if isinstance(mode, str) else list(mode)
    if len(metric) != len(mode):
        raise SchedulerError(f"metric and mode: {len(metric)} metrics but {len(mode)} modes")
    if len(metric) == 1:
        return metric[0], mode[0]
    if name not in MULTI_OBJECTIVE_SCHEDULERS:
        raise SchedulerError(
            f"scheduler {name} takes one objective, and this experiment names several; "
            f"schedulers that take several: {', '.join(MULTI_OBJECTIVE_SCHEDULERS)} "
            "(docs/objectives.md)")
    return metric, mode


def concurrency_hint(name: str, ladder: BudgetLadder, slots: int | None,
                     num_samples: int | None = None) -> int | None:
    """The ``max_concurrent_trials`` a scheduler needs, given ``slots`` trials can *run*.

    A PAUSED trial still counts as live for Ray's ``ConcurrencyLimiter``. Synchronous
    HyperBand halves a bracket once every trial *added* to it has reached the milestone, so
    with a limit of ``slots`` its brackets hold only ``slots`` trials and almost nothing is
    stopped (measured: 9 trials, limit 2 → 7 reached max instead of 1). It needs room for the
    largest bracket; PBT and PB2 for the whole population. Running trials stay bounded by resources.

    Promotion-type ASHA gets no limit (``None``): every trial it has not stopped waits PAUSED
    at a rung, so any limit would soon be all paused trials, no new one would start, and the
    scheduler would take that for the end of the search (``PromotionASHA._end_of_search``).
    Without a ``ConcurrencyLimiter`` Ray keeps one new trial PENDING at a time (for a custom
    searcher, ``tune_controller._get_max_pending_trials``), so at each free slot the scheduler
    still chooses between a promotion and that new trial; running trials stay bounded by
    resources, and a user's ``max_concurrent`` does not cap them.
    """
    if name == "asha-promotion":
        return None
    if name == "hyperband":
        biggest = max(b.rungs[0][0] for b in hyperband_brackets(ladder.min, ladder.max,
                                                                 ladder.eta))
        return max(slots or 1, biggest)
    if name in POPULATION_SCHEDULERS and num_samples:
        return max(slots or 1, num_samples)
    return slots
