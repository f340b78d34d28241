"""Synchronous HyperBand with the paper's brackets (Li et al., JMLR 2018, Algorithm 1).

Ray's ``HyperBandScheduler`` keeps the right machinery — trials PAUSE at their bracket's
milestone until the bracket catches up, then the bottom is stopped and the rest resume from
their checkpoints — but its arithmetic is not the paper's (docs/schedulers.md has the table):

* ``s_max = round(log_η(max_t))`` ignores the minimum budget and rounds up
  (``max=54, η=3`` → 5 brackets, one of them empty at ``r = int(54/81) = 0``);
* bracket sizes use that ``s_max`` (``n = ⌈5/4·27⌉ = 34`` instead of 27), survivors are
  ``⌈n/η⌉`` instead of ``⌊n·η^−i⌋``, and ``r = int(max_t·η^−s)`` truncates;
* brackets fill from ``s = 0`` (no early stopping at all) upwards, so a short run spends most
  of its trials in the bracket that never stops anything.

``PaperHyperBand`` subclasses it and takes every number from :func:`hyperband_brackets`:
brackets fill from ``s_max`` (most exploratory) down, rung ``i`` of bracket ``s`` runs to
``r_i`` and keeps ``n_{i+1}`` trials. When a bracket is not full (the run ran out of trials,
or the pending queue was short when its trials reached the milestone) it keeps the same
*fraction* ``n_{i+1}/n_i`` of the trials that entered the rung, at least one — Ray's count
would keep everyone. Trials whose metric is NaN rank last.

Needs from the controller: ``stop_trial(trial)`` (called for PAUSED bad trials, which must
then reach ``on_trial_remove``); from a trial: ``trial_id``, ``status``, ``is_saving``.
The trainable must checkpoint, otherwise an unpaused trial restarts from scratch.
"""

from __future__ import annotations

import math

from ray.tune.schedulers import HyperBandScheduler
from ray.tune.schedulers.hyperband import _Bracket

from tuner.budget import Bracket, BudgetLadder, hyperband_brackets

__all__ = ["PaperBracket", "PaperHyperBand"]


class _TrialRef:
    """Stands in for a trial between ``set_state`` and Ray re-adding it (by id)."""

    status = "PAUSED"
    is_saving = False

    def __init__(self, trial_id: str):
        self.trial_id = trial_id

    def __repr__(self) -> str:
        return f"_TrialRef({self.trial_id})"


class PaperBracket(_Bracket):
    """One bracket following the paper's ``(n_i, r_i)`` list."""

    def __init__(self, spec: Bracket, *, time_attr: str, max_t: int, eta: int,
                 stop_last_trials: bool):
        n0, r0 = spec.rungs[0]
        super().__init__(time_attr=time_attr, max_trials=n0, init_t_attr=r0, max_t_attr=max_t,
                         eta=eta, s=len(spec.rungs) - 1, stop_last_trials=stop_last_trials)
        self.spec = spec
        self.stage = 0
        self.entered: int | None = None  # trials that entered the current rung
        self._total_work = spec.budget

    def successive_halving(self, metric: str, metric_op: float):
        if self._halves == 0 and not self.stop_last_trials:
            return list(self._live_trials), []
        n_now = self.spec.rungs[self.stage][0]
        self.stage += 1
        self._halves -= 1
        n_next, r_next = self.spec.rungs[self.stage]
        entered = self.entered if self.entered is not None else len(self._all_trials)
        keep = max(1, math.floor(entered * n_next / n_now + 1e-9))
        self.entered = keep
        self._n = keep
        self._r = self._cumul_r = r_next

        ranked = self.ranked(metric, metric_op)
        good, bad = ranked[:keep], ranked[keep:]
        return good, bad

    def ranked(self, metric: str, metric_op: float) -> list:
        """The live trials, best first; NaN or missing ranks last. ``sorted`` is stable with
        ``reverse=True`` too: among equal scores the earlier-added wins."""

        def score(trial) -> float:
            value = (self._live_trials[trial] or {}).get(metric)
            try:
                value = metric_op * float(value)
            except (TypeError, ValueError):
                return -math.inf
            return value if math.isfinite(value) else -math.inf

        return sorted(self._live_trials, key=score, reverse=True)


class PaperHyperBand(HyperBandScheduler):
    """HyperBand on ``training_iteration`` with the brackets of ``hyperband_brackets(ladder)``."""

    def __init__(self, ladder: BudgetLadder, *, metric: str | None = None,
                 mode: str | None = None, stop_last_trials: bool = True):
        super().__init__(time_attr="training_iteration", metric=metric, mode=mode,
                         max_t=ladder.max, reduction_factor=ladder.eta,
                         stop_last_trials=stop_last_trials)
        self.ladder = ladder
        self.paper_brackets = hyperband_brackets(ladder.min, ladder.max, ladder.eta)
        self._s_max_1 = len(self.paper_brackets)
        # Ray calls these with the bracket's position p in the band; position p = paper[p]
        self._get_n0 = self._paper_n0
        self._get_r0 = self._paper_r0

    def _paper_n0(self, p: int) -> int:
        return self.paper_brackets[p].rungs[0][0]

    def _paper_r0(self, p: int) -> int:
        return self.paper_brackets[p].rungs[0][1]

    def _create_bracket(self, p: int) -> PaperBracket:
        return PaperBracket(self.paper_brackets[p], time_attr=self._time_attr,
                             max_t=self._max_t_attr, eta=self._eta,
                             stop_last_trials=self._stop_last_trials)

    def bracket_of(self, trial) -> tuple[int, int]:
        """``(band index, paper s)`` of a trial."""
        bracket, band = self._trial_info[trial]
        return band, bracket.spec.s

    # Persistence ----------------------------------------------------------------------------
    # Tuner.restore rebuilds schedulers empty (ray-project/ray#30838) and re-adds every trial
    # as PENDING (finished ones as TERMINATED). The state keeps, by trial id, the bracket
    # structure (membership, stage, survivor count) and each live trial's last (epoch, metric).
    # A re-added trial that was waiting at its milestone is set back to PAUSED (the controller
    # files it by the status it has after on_trial_add): it must not train past the milestone
    # before its bracket is halved, and Ray's halving raises TuneError on a PENDING loser.

    def get_state(self) -> dict:
        brackets = []
        for band_idx, band in enumerate(self._hyperbands):
            for pos, b in enumerate(band):
                if b is None:
                    continue
                brackets.append({
                    "band": band_idx, "pos": pos, "stage": b.stage, "entered": b.entered,
                    "n": b._n, "r": b._r, "halves": b._halves,
                    "live": [[t.trial_id, self._slim(r)] for t, r in b._live_trials.items()],
                    "all": [t.trial_id for t in b._all_trials],
                })
        current = None
        for band_idx, band in enumerate(self._hyperbands):
            for pos, b in enumerate(band):
                if b is not None and b is self._state["bracket"]:
                    current = [band_idx, pos]
        return {"bands": [len(band) for band in self._hyperbands], "brackets": brackets,
                "current": current, "band_idx": self._state["band_idx"],
                "num_stopped": self._num_stopped}

    def _slim(self, result: dict | None) -> dict | None:
        if result is None:
            return None
        return {k: result[k] for k in (self._time_attr, self._metric) if k in result}

    def set_state(self, state: dict) -> None:
        bands: list[list] = [[None] * n for n in state["bands"]]
        self._restored: dict[str, tuple[PaperBracket, int]] = {}
        for spec in state["brackets"]:
            b = self._create_bracket(spec["pos"])
            b.stage, b.entered, b._n, b._halves = spec["stage"], spec["entered"], spec["n"], \
                spec["halves"]
            b._r = b._cumul_r = spec["r"]
            b._all_trials = [_TrialRef(tid) for tid in spec["all"]]
            b._live_trials = {_TrialRef(tid): result for tid, result in spec["live"]}
            for ref in b._live_trials:
                self._restored[ref.trial_id] = (b, spec["band"])
            bands[spec["band"]][spec["pos"]] = b
        self._hyperbands = bands
        cur = state["current"]
        self._state = {"bracket": bands[cur[0]][cur[1]] if cur else None,
                       "band_idx": state["band_idx"]}
        self._trial_info = {}
        self._num_stopped = state["num_stopped"]

    def on_trial_add(self, tune_controller, trial) -> None:
        restored = getattr(self, "_restored", None)
        if restored and trial.trial_id in restored:
            bracket, band = restored.pop(trial.trial_id)

            def swap(t):
                return trial if getattr(t, "trial_id", None) == trial.trial_id else t

            bracket._live_trials = {swap(t): r for t, r in bracket._live_trials.items()}
            bracket._all_trials = [swap(t) for t in bracket._all_trials]
            self._trial_info[trial] = (bracket, band)
            if trial.status == "PENDING" and not bracket.continue_trial(trial):
                trial.set_status("PAUSED")  # waiting at its milestone, as before the crash
            return
        if restored is not None and trial.status in ("TERMINATED", "ERROR"):
            return  # a finished trial re-added by Tuner.restore: no place in any bracket
        super().on_trial_add(tune_controller, trial)

    def _forget_unrestored(self) -> None:
        """Trials of the snapshot that Ray did not re-add (lost): drop them from brackets."""
        for bracket, _ in getattr(self, "_restored", {}).values():
            for ref in [t for t in bracket._live_trials if isinstance(t, _TrialRef)]:
                bracket.cleanup_trial(ref)
        self._restored = {}

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        if getattr(self, "_restored", None):
            self._forget_unrestored()
        return super().on_trial_result(tune_controller, trial, result)

    def choose_trial_to_run(self, tune_controller):
        if getattr(self, "_restored", None):
            self._forget_unrestored()
        return super().choose_trial_to_run(tune_controller)
