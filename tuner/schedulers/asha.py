"""Seeded ASHA: Ray's asynchronous successive halving with reproducible brackets.

Ray's ``AsyncHyperBandScheduler`` is the stopping variant of ASHA (Li et al., MLSys 2020):
when a trial first reaches a rung it is stopped unless it is in the top ``1/η`` of the values
recorded there so far. Four things are changed here, nothing else:

* **Brackets by stable hash.** Ray draws each trial's bracket with ``np.random.choice`` (the
  global numpy RNG), so two runs with identical seeds differ. Here the ``k``-th trial added goes
  to the bracket picked by ``sha256(seed, k)`` with Ray's own softmax weights — no RNG at all
  (Optuna's ``HyperbandPruner._get_bracket_id`` does the same with the trial number).
* **Rungs from the ladder.** Ray computes ``int(log(max_t/grace)/log(rf))`` in floating
  point, which can drop the top rung (``log(1000)/log(10) = 2.9999…``). Every bracket's
  milestones are set from :meth:`BudgetLadder.rung_resources` so the plan and the run agree.
* **Diverged trials stop.** A NaN/inf metric compares false against any cutoff, so Ray lets it
  continue and records NaN at the rung; here it is stopped and recorded nowhere.
* **Cutoffs from sorted rungs.** Ray recomputes ``np.nanpercentile`` over every value recorded
  at a rung for each decision (5 ms with 100,000 values); each rung here also keeps its values
  sorted (one ``bisect.insort`` per result) and reads the same percentile off by index.

Ties continue (Ray's rule is ``value < cutoff`` → STOP). The first trial at an empty rung
continues. A trial is judged at most once per rung. What it needs from the controller: nothing
(``on_trial_add``/``on_trial_result`` accept ``None``); from a trial: ``trial_id``.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
from typing import Any

import numpy as np
from ray.tune.schedulers import AsyncHyperBandScheduler, TrialScheduler
from ray.tune.schedulers.async_hyperband import _Bracket

from tuner.budget import BudgetLadder

__all__ = ["JsonStateFile", "SeededASHA", "stable_uniform"]


def stable_uniform(seed: int | None, index: int) -> float:
    """A number in [0, 1) fixed by ``(seed, index)`` — the same on every machine and run."""
    digest = hashlib.sha256(f"{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


class _SortedRung(dict):
    """``trial_id -> value`` (what Ray's bracket records) that also keeps the values sorted."""

    def __init__(self, items: Any = ()):
        super().__init__()
        self.sorted: list[float] = []
        for key, value in dict(items).items():
            self[key] = value

    def __setitem__(self, key: str, value: float) -> None:
        if key in self:
            self.sorted.pop(bisect.bisect_left(self.sorted, self[key]))
        super().__setitem__(key, value)
        bisect.insort(self.sorted, value)

    def update(self, *args: Any, **kwargs: Any) -> None:  # dict.update bypasses __setitem__
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __delitem__(self, key: str) -> None:
        self.sorted.pop(bisect.bisect_left(self.sorted, self[key]))
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        if key not in self:
            return super().pop(key, *default)
        value = self[key]
        del self[key]
        return value

    def __reduce__(self):  # pickle by content (dict subclasses otherwise skip __init__)
        return (_SortedRung, (dict(self),))


class _SortedBracket(_Bracket):
    """Ray's bracket; the cutoff is read off the rung's sorted values."""

    def cutoff(self, recorded: dict) -> float | None:
        if not isinstance(recorded, _SortedRung):
            return super().cutoff(recorded)
        values = recorded.sorted
        if not values:
            return None
        # numpy's default ("linear") percentile, computed the way numpy's _lerp does
        position = (1 - 1 / self.rf) * (len(values) - 1)
        lo = int(math.floor(position))
        hi = min(lo + 1, len(values) - 1)
        t = position - lo
        a, b = values[lo], values[hi]
        return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


class JsonStateFile:
    """Ray's ``TrialScheduler.save/restore`` through the scheduler's own ``get_state`` /
    ``set_state``, as JSON (readable, and no pickle of live Trial objects)."""

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "w") as f:
            json.dump(self.get_state(), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path) as f:
            self.set_state(json.load(f))


class SeededASHA(JsonStateFile, AsyncHyperBandScheduler):
    """ASHA over ``ladder`` (``grace=min``, ``max_t=max``, ``rf=η``) with hashed brackets."""

    def __init__(
        self,
        ladder: BudgetLadder,
        *,
        metric: str | None = None,
        mode: str | None = None,
        seed: int | None = 0,
        brackets: int = 1,
        stop_last_trials: bool = True,
    ):
        rungs = ladder.rung_resources()
        if isinstance(brackets, bool) or not isinstance(brackets, int) or brackets < 1:
            raise ValueError(f"scheduler.brackets: expected a whole number >= 1, got {brackets!r}")
        if brackets > len(rungs):
            raise ValueError(f"scheduler.brackets: at most {len(rungs)} for the ladder "
                             f"{rungs} (one per starting rung), got {brackets}")
        super().__init__(time_attr="training_iteration", metric=metric, mode=mode,
                         max_t=ladder.max, grace_period=ladder.min,
                         reduction_factor=ladder.eta, brackets=brackets,
                         stop_last_trials=stop_last_trials)
        self.ladder = ladder
        self.seed = seed
        self._num_added = 0
        for s, bracket in enumerate(self._brackets):
            bracket.__class__ = _SortedBracket
            bracket._rungs = [(r, _SortedRung()) for r in reversed(rungs[s:])]

    # Decisions ----------------------------------------------------------------------------
    def _bracket_index(self, index: int) -> int:
        sizes = np.array([len(b._rungs) for b in self._brackets], dtype=float)
        weights = np.exp(sizes - sizes.max())
        cumulative = np.cumsum(weights / weights.sum())
        u = stable_uniform(self.seed, index)
        return int(min(np.searchsorted(cumulative, u, side="right"), len(cumulative) - 1))

    def on_trial_add(self, tune_controller, trial) -> None:
        if not self._metric or not self._metric_op:
            super().on_trial_add(tune_controller, trial)  # raises Ray's message
        # Tuner.restore adds every trial again: a live one keeps its bracket, a finished one
        # needs none (and must not advance the hash counter)
        if trial.trial_id in self._trial_info or trial.status in ("TERMINATED", "ERROR"):
            return
        self._trial_info[trial.trial_id] = self._brackets[self._bracket_index(self._num_added)]
        self._num_added += 1

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        if self._time_attr in result and self._metric in result \
                and not _finite(result[self._metric]):
            self._num_stopped += 1
            return TrialScheduler.STOP  # diverged: no place in any rung's statistics
        return super().on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller, trial, result: dict) -> None:
        if result and self._metric in result and not _finite(result[self._metric]):
            self._trial_info.pop(trial.trial_id, None)
            return
        if trial.trial_id in self._trial_info:
            super().on_trial_complete(tune_controller, trial, result or {})

    def on_trial_remove(self, tune_controller, trial) -> None:
        self._trial_info.pop(trial.trial_id, None)

    # Introspection ------------------------------------------------------------------------
    def bracket_of(self, trial_id: str) -> int:
        return self._brackets.index(self._trial_info[trial_id])

    def rung_milestones(self, bracket: int = 0) -> list[int]:
        """Milestones of one bracket, lowest first (equal to ``ladder.rung_resources()[s:]``)."""
        return [m for m, _ in reversed(self._brackets[bracket]._rungs)]

    def recorded(self, bracket: int = 0) -> dict[int, dict[str, float]]:
        """``{milestone: {trial_id: signed value}}`` — the rung history of one bracket."""
        return {m: dict(rec) for m, rec in reversed(self._brackets[bracket]._rungs)}

    # Persistence (Tuner.restore rebuilds schedulers empty: ray-project/ray#30838) ----------
    def get_state(self) -> dict:
        """Plain, JSON-serialisable state: rung history, bracket of each live trial, counters."""
        return {
            "seed": self.seed,
            "num_added": self._num_added,
            "num_stopped": self._num_stopped,
            "metric": self._metric,
            "mode": self._mode,
            "rungs": [[[m, dict(rec)] for m, rec in b._rungs] for b in self._brackets],
            "trial_bracket": {tid: self._brackets.index(b)
                              for tid, b in self._trial_info.items()},
        }

    def set_state(self, state: dict) -> None:
        if len(state["rungs"]) != len(self._brackets):
            raise ValueError(f"scheduler state has {len(state['rungs'])} brackets, "
                             f"this scheduler {len(self._brackets)}")
        self.seed = state["seed"]
        self._num_added = state["num_added"]
        self._num_stopped = state["num_stopped"]
        if self._metric is None and state.get("metric"):  # else keep what construction gave
            self.set_search_properties(state["metric"], state["mode"])
        for bracket, rungs in zip(self._brackets, state["rungs"]):
            bracket._rungs = [(int(m), _SortedRung(rec)) for m, rec in rungs]
        self._trial_info = {tid: self._brackets[i] for tid, i in state["trial_bracket"].items()}

