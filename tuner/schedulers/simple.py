"""FIFO and the median stopping rule, both ending every trial at the ladder's ``max``.

Ray's ``FIFOScheduler`` and ``MedianStoppingRule`` never stop a trial at a budget; the runner
could add ``stop={"training_iteration": max}`` but then the simulated-time runner would need
the same rule. Here the budget cap is a decision like any other: STOP at ``max``.

``LadderMedian`` is Ray's ``MedianStoppingRule`` (Golovin et al., KDD 2017, "Google Vizier")
on ``training_iteration``: after ``grace_period`` a trial is stopped when its best value so far
is worse than the median of the other trials' running averages up to the same epoch, given at
least ``min_samples_required`` such trials. Ray *pauses* a trial when there are too few peers
and others are waiting; that needs ``controller.get_live_trials()`` and checkpoint churn, so by
default it continues instead (``pause_when_few=True`` restores Ray's behaviour).

Ray's rule keeps every trial's curve keyed by the ``Trial`` object and ``Tuner.restore``
rebuilds the scheduler empty, so a resumed median rule would judge the remaining trials against
nobody. ``get_state``/``set_state`` (carried by ``tuner.launch.resume``) keep the curves by trial id;
Ray re-adds every trial on restore and ``on_trial_add`` hands each its curve back.
"""

from __future__ import annotations

from ray.tune.schedulers import FIFOScheduler, MedianStoppingRule, TrialScheduler

from tuner.budget import BudgetLadder

__all__ = ["LadderFIFO", "LadderMedian"]


class LadderFIFO(FIFOScheduler):
    """Run every trial, in order, to ``ladder.max`` epochs."""

    def __init__(self, ladder: BudgetLadder, *, metric: str | None = None,
                 mode: str | None = None):
        super().__init__()
        self.ladder = ladder
        self._metric, self._mode = metric, mode

    def set_search_properties(self, metric, mode, **spec) -> bool:
        self._metric = self._metric or metric
        self._mode = self._mode or mode
        return True

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        if result.get("training_iteration", 0) >= self.ladder.max:
            return TrialScheduler.STOP
        return TrialScheduler.CONTINUE


class LadderMedian(MedianStoppingRule):
    """Median stopping on epochs, grace period ``ladder.min``, capped at ``ladder.max``."""

    def __init__(self, ladder: BudgetLadder, *, metric: str | None = None,
                 mode: str | None = None, grace_period: int | None = None,
                 min_samples_required: int = 3, pause_when_few: bool = False):
        grace = ladder.min if grace_period is None else grace_period
        if isinstance(grace, bool) or not isinstance(grace, int) or not 1 <= grace <= ladder.max:
            raise ValueError(f"scheduler.grace_period: expected a whole number in "
                             f"[1, {ladder.max}], got {grace_period!r}")
        if isinstance(min_samples_required, bool) or not isinstance(min_samples_required, int) \
                or min_samples_required < 1:
            raise ValueError(f"scheduler.min_samples_required: expected a whole number >= 1, "
                             f"got {min_samples_required!r}")
        super().__init__(time_attr="training_iteration", metric=metric, mode=mode,
                         grace_period=grace, min_samples_required=min_samples_required,
                         min_time_slice=0, hard_stop=True)
        self.ladder = ladder
        self.pause_when_few = pause_when_few
        self._restored: dict[str, dict] = {}

    def _on_insufficient_samples(self, tune_controller, trial, time) -> str:
        if self.pause_when_few:
            return super()._on_insufficient_samples(tune_controller, trial, time)
        return TrialScheduler.CONTINUE

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        action = super().on_trial_result(tune_controller, trial, result)
        if result.get("training_iteration", 0) >= self.ladder.max:
            return TrialScheduler.STOP
        return action

    def on_trial_add(self, tune_controller, trial) -> None:
        super().on_trial_add(tune_controller, trial)
        saved = self._restored.pop(trial.trial_id, None)
        if saved is None:
            return
        self._results[trial] = [dict(r) for r in saved["results"]]
        if saved["stopped"]:
            self._stopped_trials.add(trial)
        if saved["last_pause"] is not None:
            self._last_pause[trial] = saved["last_pause"]

    # Persistence (Tuner.restore rebuilds schedulers empty: ray-project/ray#30838) ----------
    def get_state(self) -> dict:
        """Plain, JSON-serialisable state: each trial's recorded (epoch, value) curve by id,
        whether it was stopped, when it last paused."""
        keys = (self._time_attr, self._metric)
        trials = {}
        for trial in dict.fromkeys([*self._results, *self._stopped_trials]):
            curve = self._results.get(trial, [])
            trials[trial.trial_id] = {
                "results": [{k: r[k] for k in keys if k in r} for r in curve],
                "stopped": trial in self._stopped_trials,
                "last_pause": self._last_pause.get(trial),
            }
        return {"metric": self._metric, "mode": self._mode, "trials": trials}

    def set_state(self, state: dict) -> None:
        if self._metric is None and state.get("metric"):  # else keep what construction gave
            self.set_search_properties(state["metric"], state["mode"])
        self._results.clear()
        self._stopped_trials = set()
        self._last_pause.clear()
        self._restored = {tid: dict(rec) for tid, rec in state["trials"].items()}
