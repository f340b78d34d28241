"""``asha-checked``: ASHA that stops trials only on rungs that rank like the top rung.

Seeded ASHA (``tuner.schedulers.asha``) plus ``tuner.schedulers.rung_quality.RungAgreement``: every
result at a rung and at the top is recorded, and when ASHA would STOP a trial at a rung whose
ranking credibly disagrees with the top rung's (Kendall τ + se below ``tau_min``), the trial
CONTINUEs instead. The value stays in the rung's statistics (Ray's bracket records it either
way), so the rung keeps its cutoff for when it earns trust back.

What that does, without a separate mode for each case: a misleading lowest rung is skipped —
the minimum rung is raised; when every rung below the top misleads, every trial runs to the
top — the method falls back to full fidelity; where the rungs agree, this is ASHA. Trials
pass a distrusted rung, reach the top and add pairs, so the measure keeps learning from an
unselected sample (ASHA alone would only ever see the rung's favourites at the top).
"""

from __future__ import annotations

import math
from typing import Any

from ray.tune.schedulers import TrialScheduler

from tuner.budget import BudgetLadder
from tuner.schedulers.rung_quality import RungAgreement
from tuner.schedulers.asha import SeededASHA

__all__ = ["CheckedASHA"]


class CheckedASHA(SeededASHA):
    """``SeededASHA`` whose STOP is overruled on rungs that mislead (``RungAgreement``)."""

    def __init__(self, ladder: BudgetLadder, *, metric: str | None = None,
                 mode: str | None = None, seed: int | None = 0, brackets: int = 1,
                 stop_last_trials: bool = True, min_pairs: int = 6, tau_min: float = 0.2,
                 z: float = 1.0, window: int = 128):
        super().__init__(ladder, metric=metric, mode=mode, seed=seed, brackets=brackets,
                         stop_last_trials=stop_last_trials)
        rungs = ladder.rung_resources()
        self.agreement = RungAgreement(rungs, ladder.max, window=window, min_pairs=min_pairs,
                                       tau_min=tau_min, z=z)
        self.overruled = 0  # STOPs turned into CONTINUE on a misleading rung

    def _record(self, trial, result: dict) -> tuple[Any, float]:
        """(level, signed value) of a result, recorded for the rung check when both exist."""
        level = result.get(self._time_attr)
        try:
            signed = self._metric_op * float(result.get(self._metric))
        except (TypeError, ValueError):
            signed = math.nan
        if level is not None and math.isfinite(signed):
            self.agreement.record(trial.trial_id, int(level), signed)
        return level, signed

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        level, signed = self._record(trial, result)
        decision = super().on_trial_result(tune_controller, trial, result)
        if decision == TrialScheduler.STOP and level is not None and level < self._max_t \
                and math.isfinite(signed) and self.agreement.misleads(int(level)):
            self._num_stopped -= 1
            self.overruled += 1
            return TrialScheduler.CONTINUE
        return decision

    def on_trial_complete(self, tune_controller, trial, result: dict) -> None:
        """Ray's controller hands a trial's last result (the top rung, when the stop
        criterion ends it there) to ``on_trial_complete`` only, never to ``on_trial_result``
        (``TuneController._process_trial_result``): the top value is recorded here, or the
        check would never see a pair. Recording it twice adds nothing (the first took the
        trial's rung values)."""
        if result:
            self._record(trial, result)
        self.agreement.forget(trial.trial_id)
        super().on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller, trial) -> None:
        self.agreement.forget(trial.trial_id)
        super().on_trial_remove(tune_controller, trial)

    def get_state(self) -> dict:
        state = super().get_state()
        state["agreement"] = self.agreement.get_state()
        state["overruled"] = self.overruled
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.agreement.set_state(state.get("agreement", {}))
        self.overruled = state.get("overruled", 0)
