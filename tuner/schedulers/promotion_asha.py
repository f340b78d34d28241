"""Promotion-type ASHA: every trial pauses at each rung; a free worker promotes the best.

Li et al., "A System for Massively Parallel Hyperparameter Tuning" (MLSys 2020), Algorithm 2,
and Syne Tune's ``HyperbandScheduler(type="promotion")``
(``syne_tune/optimizer/schedulers/hyperband_promotion.py``, ``PromotionRungSystem``). The
stopping variant (``tuner.schedulers.asha``) judges a trial once, when it reaches a rung,
against whatever the rung holds at that moment — the first arrivals continue on thin evidence.
Here a trial reaching a rung is always PAUSED there, and when Ray asks what to run next
(``choose_trial_to_run``) the answer is, in order:

1. **promote**: from the highest rung down, the best PAUSED trial waiting at a rung that is in
   the top ``⌊n/η⌋`` of the ``n`` values the rung has recorded (the paper's ``top_k(rung,
   |rung|/η)``, so a rung promotes nobody until η trials reached it); it resumes from its
   checkpoint at the next epoch and runs to the next rung;
2. **start**: else the first PENDING trial (a new configuration);
3. **end of the search**: else, when no trial is RUNNING or PENDING either, nothing can change
   any rung again and the trials still paused would wait forever (Ray's run, and the
   simulator's, would never end). Then, while no trial has reached the ladder's max, the best
   paused trial at the highest rung is promoted anyway, rung after rung, so the search ends
   with at least one full-budget result (Syne Tune leaves them paused, its runs end on a time
   budget); once one has, every trial still paused is stopped with its last result
   (``stop_trial``, as Ray's HyperBand stops its paused losers) — by the paper's rule none of
   them would ever be promoted. A concurrency limit that counts paused trials (Ray's
   ``ConcurrencyLimiter``) would look like an exhausted searcher, hence ``concurrency_hint``
   installs none for this scheduler.

A trial reaching ``ladder.max`` is STOPPED (completed). Ties rank by creation order
(``creation_number``), then by the order trials were added. A NaN/inf metric STOPs the trial and
is recorded nowhere. A trial is recorded at most once per rung, so one that restarts from
scratch after an error passes its old rungs. ``choose_trial_to_run`` changes nothing but the
end-of-search stops (Ray requires it to be idempotent): a trial counts as promoted once it
reports again. Needs from the controller: ``get_trials()`` and ``stop_trial(trial)`` (which
must reach ``on_trial_remove``); from a trial: ``trial_id``, ``status``, ``experiment_tag``.
A trial its controller paused between rungs (the packed executor's restore does) was promoted
already and is resumed first. The trainable must resume from its checkpoint
(``PAUSING_SCHEDULERS``).
"""

from __future__ import annotations

import bisect
import math
from typing import Any

from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler

from tuner.budget import BudgetLadder
from tuner.schedulers.asha import JsonStateFile
from tuner.schedulers.controller import creation_number

__all__ = ["PromotionASHA"]

PENDING, RUNNING, PAUSED = Trial.PENDING, Trial.RUNNING, Trial.PAUSED
FINISHED = (Trial.TERMINATED, Trial.ERROR)


class _Rung:
    """One rung: ``trial id -> signed value`` (higher is better), kept ranked best first."""

    def __init__(self, milestone: int):
        self.milestone = milestone
        self.values: dict[str, float] = {}
        self.ranked: list[tuple[float, tuple[int, int], str]] = []

    def record(self, trial_id: str, signed: float, order: tuple[int, int]) -> None:
        self.values[trial_id] = signed
        bisect.insort(self.ranked, (-signed, tuple(order), trial_id))

    def top(self, eta: int) -> list[str]:
        """The paper's ``top_k(rung, |rung|/η)``: the best ``⌊n/η⌋`` ids, best first."""
        return [tid for _, _, tid in self.ranked[: len(self.ranked) // eta]]

    def best_of(self, ids: set[str]) -> str | None:
        return next((tid for _, _, tid in self.ranked if tid in ids), None)


def _set_status(trial: Any, status: str) -> None:
    setter = getattr(trial, "set_status", None)
    if setter is not None:
        setter(status)
    else:
        trial.status = status


class PromotionASHA(JsonStateFile, TrialScheduler):
    """Promotion-type ASHA over ``ladder``: rungs ``min·η^k < max``, one bracket."""

    _supports_buffered_results = False  # a buffered result would carry a trial past its rung

    def __init__(self, ladder: BudgetLadder, *, metric: str | None = None,
                 mode: str | None = None):
        super().__init__()
        if mode not in (None, "min", "max"):
            raise ValueError(f"scheduler asha-promotion: mode must be 'min' or 'max', got {mode!r}")
        self.ladder = ladder
        self._metric, self._mode = metric, mode
        self._time_attr = "training_iteration"
        self._rungs = [_Rung(m) for m in ladder.rung_resources() if m < ladder.max]
        self._order: dict[str, tuple[int, int]] = {}  # trial id -> (creation number, added)
        self._waiting: dict[str, int] = {}  # paused trial id -> index of the rung it waits at
        self._relink: set[str] = set()  # waiting trials Ray has not re-added since set_state
        self.promotions: list[tuple[str, int]] = []  # (trial id, milestone it left), in order
        self.reached_max = 0  # trials completed at ladder.max

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        """Ray's rule (``AsyncHyperBandScheduler``): refuse only a second metric or mode."""
        if (self._metric and metric) or (self._mode and mode):
            return False
        self._metric = self._metric or metric
        self._mode = self._mode or mode
        return True

    # Results ------------------------------------------------------------------------------
    def _signed(self, result: dict) -> float:
        """The metric with larger = better; NaN when it is not a finite number."""
        try:
            value = float(result[self._metric])
        except (TypeError, ValueError):
            return math.nan
        return value if self._mode == "max" else -value

    def _rung_for(self, trial_id: str, level: float) -> int | None:
        """The highest rung at or below ``level``, unless the trial is recorded there or above."""
        below = [i for i, rung in enumerate(self._rungs) if rung.milestone <= level]
        if not below or any(trial_id in r.values for r in self._rungs[below[-1]:]):
            return None
        return below[-1]

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        trial_id = trial.trial_id
        left = self._waiting.pop(trial_id, None)
        if left is not None:  # it reports again: it was promoted from that rung
            self.promotions.append((trial_id, self._rungs[left].milestone))
        if self._time_attr not in result or self._metric not in result:
            return TrialScheduler.CONTINUE
        signed, level = self._signed(result), result[self._time_attr]
        if not math.isfinite(signed) or level >= self.ladder.max:
            return TrialScheduler.STOP  # diverged (recorded nowhere), or done
        i = self._rung_for(trial_id, level)
        if i is None:
            return TrialScheduler.CONTINUE
        self._rungs[i].record(trial_id, signed, self._order_of(trial))
        self._waiting[trial_id] = i
        return TrialScheduler.PAUSE

    def on_trial_complete(self, tune_controller, trial, result: dict) -> None:
        self._waiting.pop(trial.trial_id, None)
        result = result or {}
        if result.get(self._time_attr, 0) >= self.ladder.max and self._metric in result \
                and math.isfinite(self._signed(result)):
            self.reached_max += 1

    def on_trial_remove(self, tune_controller, trial) -> None:
        """A PENDING or PAUSED trial stopped: it waits nowhere; its values stay recorded."""
        self._waiting.pop(trial.trial_id, None)

    def on_trial_error(self, tune_controller, trial) -> None:
        self._waiting.pop(trial.trial_id, None)

    def on_trial_add(self, tune_controller, trial) -> None:
        if not self._metric or not self._mode:
            raise ValueError("scheduler asha-promotion: metric and mode must be set before "
                             "trials are added (make_scheduler(..., metric=, mode=))")
        trial_id = trial.trial_id
        if trial_id in self._relink:  # Tuner.restore re-adds every trial as PENDING
            self._relink.discard(trial_id)
            if trial.status == PENDING:
                _set_status(trial, PAUSED)  # it was waiting at its rung before the restart
            elif trial.status in FINISHED:
                self._waiting.pop(trial_id, None)
            return
        if trial_id not in self._order and trial.status not in FINISHED:
            self._order[trial_id] = (creation_number(getattr(trial, "experiment_tag", "")),
                                     len(self._order))

    def _order_of(self, trial) -> tuple[int, int]:
        if trial.trial_id not in self._order:  # reported without being added (a stand-in)
            self._order[trial.trial_id] = (creation_number(""), len(self._order))
        return self._order[trial.trial_id]

    # Choosing -----------------------------------------------------------------------------
    def choose_trial_to_run(self, tune_controller):
        trials = tune_controller.get_trials()
        paused = {t.trial_id: t for t in trials
                  if t.status == PAUSED and t.trial_id in self._waiting}
        stray = next((t for t in trials if t.status == PAUSED and t.trial_id not in paused), None)
        if stray is not None:  # paused between rungs by its controller (a packed run's restore)
            return stray
        for i in reversed(range(len(self._rungs))):  # the highest rung first
            for trial_id in self._rungs[i].top(self.ladder.eta):
                if trial_id in paused and self._waiting[trial_id] == i:
                    return paused[trial_id]
        pending = next((t for t in trials if t.status == PENDING), None)
        if pending is not None or not paused or any(t.status == RUNNING for t in trials):
            return pending
        return self._end_of_search(tune_controller, paused)

    def _end_of_search(self, tune_controller, paused: dict[str, Any]):
        """Nothing runs, nothing waits to start, no paused trial is in its rung's top: promote
        the best at the highest rung while none reached max, else stop them all."""
        if self.reached_max == 0:
            for i in reversed(range(len(self._rungs))):
                best = self._rungs[i].best_of({t for t in paused if self._waiting[t] == i})
                if best is not None:
                    return paused[best]
        for trial_id in sorted(paused, key=lambda t: self._order.get(t, (0, 0))):
            tune_controller.stop_trial(paused[trial_id])
        return None

    # Introspection ------------------------------------------------------------------------
    def rung_milestones(self, bracket: int = 0) -> list[int]:
        """Epochs at which trials pause, lowest first (``tuner plan`` reads them)."""
        return [rung.milestone for rung in self._rungs]

    def recorded(self) -> dict[int, dict[str, float]]:
        """``{milestone: {trial_id: signed value}}``, signed so that larger is better."""
        return {rung.milestone: dict(rung.values) for rung in self._rungs}

    def waiting(self) -> dict[str, int]:
        """``{trial_id: milestone}`` of the trials paused at a rung, waiting for promotion."""
        return {tid: self._rungs[i].milestone for tid, i in self._waiting.items()}

    def debug_string(self) -> str:
        counts = ", ".join(f"{r.milestone}: {len(r.values)}" for r in self._rungs)
        return f"PromotionASHA: records per rung {{{counts}}}, {len(self._waiting)} paused"

    # Persistence (Tuner.restore rebuilds schedulers empty: ray-project/ray#30838) ----------
    def get_state(self) -> dict:
        """Plain JSON: rung records (one bracket, ``[[milestone, {id: value}], …]`` as
        ``SeededASHA`` writes them), creation order, who waits where, counters."""
        return {
            "metric": self._metric, "mode": self._mode,
            "rungs": [[[r.milestone, dict(r.values)] for r in self._rungs]],
            "order": {tid: list(key) for tid, key in self._order.items()},
            "waiting": dict(self._waiting),
            "promotions": [list(p) for p in self.promotions],
            "reached_max": self.reached_max,
        }

    def set_state(self, state: dict) -> None:
        milestones = [int(m) for m, _ in state["rungs"][0]]
        if milestones != self.rung_milestones():
            raise ValueError(f"scheduler state has rungs {milestones}, this scheduler "
                             f"{self.rung_milestones()}")
        if self._metric is None and state.get("metric"):  # else keep what construction gave
            self.set_search_properties(state["metric"], state["mode"])
        self._order = {tid: (int(a), int(b)) for tid, (a, b) in state["order"].items()}
        self._rungs = [_Rung(m) for m in milestones]
        for rung, (_, values) in zip(self._rungs, state["rungs"][0]):
            for tid, signed in values.items():
                rung.record(tid, float(signed), self._order.get(tid, (creation_number(""), 0)))
        self._waiting = {tid: int(i) for tid, i in state["waiting"].items()}
        self._relink = set(self._waiting)
        self.promotions = [(tid, int(m)) for tid, m in state["promotions"]]
        self.reached_max = int(state["reached_max"])
