"""How sure is the winner? Wilson intervals for accuracies and a within-noise check of the top.

An accuracy on n examples is a binomial proportion; its 95 % Wilson score interval (Wilson 1927;
Brown, Cai & DasGupta, Stat. Sci. 2001, who recommend it over the normal ("Wald") interval for
small n and p near 1) is what a report should print next to it — on digits' 360 validation
images, 0.97 means roughly 0.95–0.98. We only have each trial's accuracy, not its per-example
predictions, so two configs are compared with an unpaired two-proportion z-test; the trials share
the validation set, so a paired test (McNemar) would be sharper — ours errs toward "within noise".
"""

from __future__ import annotations

import math
from typing import Any

from tuner.record.results import ERRORED, TrialRecord

__all__ = ["wilson_interval", "within_noise", "split_sizes", "confidence_lines"]

Z95 = 1.959963984540054


def wilson_interval(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion ``p`` observed on ``n`` examples."""
    if n <= 0:
        raise ValueError(f"wilson_interval: n must be >= 1, got {n}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"wilson_interval: p must be in [0, 1], got {p}")
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def within_noise(p1: float, p2: float, n: int, z: float = Z95) -> bool:
    """True when accuracies ``p1`` and ``p2`` on ``n`` examples each do not differ at 95 %
    (pooled two-proportion z-test)."""
    pooled = (p1 + p2) / 2
    se = math.sqrt(max(pooled * (1 - pooled), 1e-12) * 2 / n)
    return abs(p1 - p2) <= z * se


def split_sizes(config: dict[str, Any]) -> dict[str, int]:
    """Examples in the validation and test splits of the trial's dataset (the same seeded split
    the trainable builds: ``trainables.base`` loads ``load_dataset(dataset, seed=seed)``)."""
    from trainables.data import load_dataset

    ds = load_dataset(config.get("dataset", "digits"), seed=int(config.get("seed", 0)),
                      data_dir=config.get("data_dir"))
    return {"val": int(ds.split("val")[1].shape[0]), "test": int(ds.split("test")[1].shape[0])}


def _is_accuracy(metric: str) -> bool:
    return "acc" in metric.lower()


def _fmt(p: float, n: int) -> str:
    lo, hi = wilson_interval(p, n)
    return f"{p:.4f} [{lo:.4f}, {hi:.4f}] (n={n})"


def confidence_lines(records: list[TrialRecord], best: TrialRecord | None,
                     test: dict[str, float], metric: str, mode: str, n_val: int | None,
                     n_test: int | None, top: int = 5) -> list[str]:
    """Markdown lines: the winner's intervals and which of the top configs it cannot beat."""
    out = ["## How sure is the winner?", ""]
    if best is None or best.last is None:
        return out + ["No winner to judge."]
    if not _is_accuracy(metric) or not n_val:
        return out + [f"Intervals need an accuracy metric and the split size; {metric} on "
                      f"{n_val or 'an unknown number of'} examples has none here."]
    out += ["95 % Wilson intervals (an accuracy on n examples is a binomial proportion):", "",
            f"- validation {metric}: {_fmt(best.last, n_val)}"]
    test_acc = next((v for k, v in test.items() if _is_accuracy(k)), None)
    if test_acc is not None and n_test:
        out.append(f"- test accuracy: {_fmt(test_acc, n_test)}")
    rivals = _rivals(records, best, mode, top)
    close = [r for r in rivals if within_noise(best.last, r.last, n_val)]
    if not rivals:
        return out
    out.append("")
    if close:
        out.append(f"Within noise of the winner ({len(close)} of the next {len(rivals)} at "
                   f"{best.epochs} epoch{'s' if best.epochs != 1 else ''}; difference below a "
                   "95 % two-proportion test): "
                   + ", ".join(f"{r.trial_id} ({r.last:.4f})" for r in close)
                   + ". The choice among them is not settled by this validation set — "
                     "`tuner confirm` retrains them with fresh seeds.")
    else:
        out.append(f"The winner is ahead of the next {len(rivals)} configs by more than noise.")
    return out


def _rivals(records: list[TrialRecord], best: TrialRecord, mode: str, top: int) -> list:
    """The next ``top`` trials trained as long as the winner (scores comparable)."""
    pool = [r for r in records if r is not best and r.epochs == best.epochs
            and r.last is not None and not r.status.startswith(ERRORED)]
    pool.sort(key=lambda r: -r.last if mode == "max" else r.last)
    return pool[:top]
