"""How well does a low rung rank configurations the way the top rung does? Measured online.

A multi-fidelity method trusts its low rungs: ASHA stops a trial whose value at rung ``r`` is
below the rung's cutoff. That only helps when rung ``r`` ranks configurations like full
fidelity. On some problems it does not — rbv2_rpart's fits on 1/27 of the data, or any task
whose short runs favour settings that lose later — and then early stopping throws away the
configurations that would have won, and nothing notices (issue 12: ``asha-pso`` ends at random
search's regret on one rbv2_rpart instance).

``RungAgreement`` watches every trial's signed value (larger is better) at each rung and,
when a trial reaches the top rung, pairs its value there with its values at the rungs below.
Per rung it keeps the last ``window`` pairs and computes Kendall's τ-b between the rung's
values and the top's (``scipy.stats.kendalltau``) — again whenever a tenth of the window is
new — with the standard error of τ under
independence, ``sqrt(2(2n+5) / (9n(n−1)))`` (Kendall 1938) — conservative (the spread of τ
shrinks as |τ| grows). A rung *misleads* when even the upper end of τ ± ``z``·se stays below
``tau_min``: a rung is kept until the evidence is against it, and a distrusted rung is
re-measured as more trials pass it.

This is the idea of Hyper-Tune's rung weights (Li et al., VLDB 2022; Syne Tune
``hypertune/hypertune_bracket_distribution.py`` weighs each rung by its ranking loss against
the top rung over trials seen at both) and of PASHA's ranking check (Bohdal et al., ICLR 2023;
Syne Tune ``hyperband_pasha.py``, which compares rankings of the two top rungs), reduced to
what a stopping decision needs: a yes/no per rung, with its uncertainty. Cheap: the values
are recorded in O(1); τ is recomputed over at most ``window`` pairs only after a tenth of
them changed, so its cost is spread over many decisions and does not grow with the number of
trials (``benchmarks/scale.py``: ``checked_prefilled``).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

__all__ = ["RungAgreement", "TauEstimate", "kendall_tau"]


@dataclass(frozen=True)
class TauEstimate:
    """Kendall's τ-b over ``n`` pairs and its standard error under independence."""

    tau: float
    se: float
    n: int

    def upper(self, z: float) -> float:
        return self.tau + z * self.se


def kendall_tau(x, y) -> TauEstimate:
    """τ-b between two equally long sequences; τ = 0 when either is constant or n < 2."""
    from scipy.stats import kendalltau

    n = len(x)
    if n < 2:
        return TauEstimate(0.0, math.inf, n)
    tau = kendalltau(x, y).statistic
    se = math.sqrt(2 * (2 * n + 5) / (9 * n * (n - 1)))
    return TauEstimate(0.0 if math.isnan(tau) else float(tau), se, n)


class RungAgreement:
    """Per rung: pairs (value at the rung, value at the top) of trials seen at both."""

    def __init__(self, rungs: list[int], top: int, *, window: int = 128, min_pairs: int = 6,
                 tau_min: float = 0.2, z: float = 1.0):
        if min_pairs < 3:
            raise ValueError(f"rung check: min_pairs must be >= 3, got {min_pairs}")
        self.rungs, self.top = [r for r in rungs if r < top], top
        self.min_pairs, self.tau_min, self.z = min_pairs, tau_min, z
        self._values: dict[str, dict[int, float]] = {}  # live trials: rung -> signed value
        self._pairs = {r: deque(maxlen=window) for r in self.rungs}
        self._cache: dict[int, TauEstimate] = {}
        self._fresh: dict[int, int] = {r: 0 for r in self.rungs}  # pairs added since computed

    def record(self, trial_id: str, rung: int, value: float) -> None:
        """A trial's signed value (larger is better) at a rung, or at the top."""
        if rung == self.top:
            seen = self._values.pop(trial_id, {})
            for r, v in seen.items():
                self._pairs[r].append((v, value))
                self._fresh[r] += 1
                # refresh τ once a tenth of the window is new: a decision costs O(1) amortised
                if self._fresh[r] * 10 >= len(self._pairs[r]):
                    self._cache.pop(r, None)
        elif rung in self._pairs:
            self._values.setdefault(trial_id, {}).setdefault(rung, value)

    def forget(self, trial_id: str) -> None:
        """A trial that ended below the top contributes no pair."""
        self._values.pop(trial_id, None)

    def estimate(self, rung: int) -> TauEstimate:
        if rung not in self._cache:
            self._fresh[rung] = 0
            pairs = self._pairs[rung]
            self._cache[rung] = kendall_tau([a for a, _ in pairs], [b for _, b in pairs])
        return self._cache[rung]

    def misleads(self, rung: int) -> bool:
        """True when rung's τ with the top is credibly below ``tau_min`` (enough pairs and
        τ + z·se < tau_min): its ranking should not stop trials."""
        if rung not in self._pairs or len(self._pairs[rung]) < self.min_pairs:
            return False
        return self.estimate(rung).upper(self.z) < self.tau_min

    def pairs(self, rung: int) -> list[tuple[float, float]]:
        """The (rung value, top value) pairs τ is computed from, oldest first."""
        return list(self._pairs[rung])

    def get_state(self) -> dict[str, list]:
        """The pairs per rung (what ``--resume`` must carry; live trials' values are redone
        as they report again)."""
        return {str(r): list(map(list, p)) for r, p in self._pairs.items()}

    def set_state(self, state: dict[str, list]) -> None:
        for r, pairs in state.items():
            self._pairs[int(r)].extend(tuple(p) for p in pairs)
        self._cache.clear()
        self._fresh = {r: 0 for r in self.rungs}

    def summary(self) -> dict[int, TauEstimate]:
        return {r: self.estimate(r) for r in self.rungs}
