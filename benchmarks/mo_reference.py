"""Each instance's reference front, and the normalised hypervolume regret measured against it.

The measure (issue 23): a method *has*, at simulated time t (or after spending a budget
fraction), the Pareto set of its trials evaluated at **full fidelity** by then — what a user
can deploy, as the single-objective harness's incumbent; a low-fidelity result counts nowhere.

* **Random sample** of an instance: ``SAMPLE`` = 20,000 uniform configurations at full
  fidelity (seed 0), kept as its non-dominated set and the 90th percentile of each loss;
  cached per instance in ``benchmarks/results/mo-reference/``, so every run and folder shares it.
* **Reference front** ``F*``: the non-dominated set of that sample's front together with
  every full-fidelity point any method found in the results folder being summarised.
* **Scale**: each objective as a loss, mapped to [0, 1] from its **ideal** (best on ``F*``)
  to its **worst**: the larger of ``F*``'s nadir (so every point of ``F*`` counts, the most
  accurate and the cheapest included) and the sample's 90th percentile (so a front that spans
  a sliver of an objective does not shut out every point a short search finds). Not the
  sample's maximum: memory and time have long tails that would squeeze the trade-off into a
  sliver of the axis.
* **Reference point**: 1.1 on every scaled objective (``MARGIN`` beyond the worst); a point
  worse than that on any objective adds no volume.
* **Regret** ``r(t) = 1 − HV(S_t) / HV(F*)`` in the scaled space: 1 before the first
  full-fidelity point inside the reference box, 0 for a set as good as ``F*``; never negative,
  since ``F*`` contains every point any method found.

Adding a method to a folder can move ``F*`` (and so the scale) when it finds points beyond
it; the 20,000-point sample keeps that small. The summary writes each instance's ``F*`` size,
ideal, worst and ``HV(F*)`` to ``reference.csv`` beside the table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from tuner.pareto import hypervolume, pareto_mask

__all__ = ["CACHE", "MARGIN", "QUANTILE", "SAMPLE", "Reference", "Sample", "regret_steps",
           "sample"]

SAMPLE = 20_000
QUANTILE = 0.9
MARGIN = 0.1
CACHE = Path(__file__).resolve().parent / "results" / "mo-reference"
_BATCH = 5_000


def _front(losses: np.ndarray) -> np.ndarray:
    """The non-dominated rows, duplicates once (in chunks: ``pareto_mask`` is n²)."""
    x = np.unique(np.asarray(losses, float), axis=0)
    keep = np.concatenate([c[pareto_mask(c)] for c in np.array_split(x, max(1, len(x) // 2000))])
    return keep[pareto_mask(keep)]


@dataclass(frozen=True)
class Sample:
    """What the reference keeps of the random sample: its front and a high quantile per loss."""

    front: np.ndarray
    quantile: np.ndarray


def _draw(mob, size: int, seed: int) -> Sample:
    rng = np.random.default_rng(seed)
    names, losses = list(mob.objectives.names), []
    for start in range(0, size, _BATCH):
        configs = [mob.space.sample(rng) for _ in range(min(_BATCH, size - start))]
        rows = mob.values(configs, [mob.fidelity_max] * len(configs))
        losses.append(np.array([mob.objectives.losses(dict(zip(names, r))) for r in rows]))
    x = np.vstack(losses)
    return Sample(_front(x), np.quantile(x, QUANTILE, axis=0))


def sample(mob, *, size: int = SAMPLE, seed: int = 0, cache: Path | bool = True) -> Sample:
    """The random sample of ``mob`` (losses), read from (and written to) the folder ``cache``
    (``True``: ``CACHE``; ``False``: none)."""
    folder = CACHE if cache is True else cache or None
    path = folder / f"{mob.name.replace('/', '-')}.json" if folder is not None else None
    meta = {"instance": mob.name, "objectives": list(mob.objectives.names),
            "modes": list(mob.objectives.modes), "size": size, "seed": seed,
            "fidelity": mob.fidelity_max, "quantile_level": QUANTILE}
    if path is not None and path.exists():
        saved = json.loads(path.read_text())
        if {k: saved.get(k) for k in meta} == meta:
            return Sample(np.asarray(saved["front"], float), np.asarray(saved["quantile"]))
    drawn = _draw(mob, size, seed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        meta["note"] = ("losses (max objectives negated): the non-dominated configurations "
                        "among `size` uniform draws at full fidelity, and each loss's "
                        "`quantile_level` quantile over them (benchmarks/mo_reference.py)")
        meta["quantile"] = drawn.quantile.tolist()
        rows = ",\n  ".join(json.dumps(r) for r in drawn.front.tolist())
        path.write_text(json.dumps(meta, indent=1)[:-2] + f',\n "front": [\n  {rows}\n ]\n}}\n')
    return drawn


@dataclass(frozen=True)
class Reference:
    """``F*`` of one instance and the scale, reference point and hypervolume it fixes."""

    front: np.ndarray  # losses, non-dominated
    worst: np.ndarray  # per loss: max(nadir of the front, the sample's quantile)

    @classmethod
    def of(cls, drawn: Sample, *found: np.ndarray) -> Reference:
        """The reference from the random sample and the points methods found."""
        sets = [drawn.front] + [np.asarray(p, float) for p in found if len(p)]
        front = _front(np.vstack(sets))
        return cls(front, np.maximum(front.max(axis=0), drawn.quantile))

    @cached_property
    def ideal(self) -> np.ndarray:
        return self.front.min(axis=0)

    def scale(self, losses) -> np.ndarray:
        span = self.worst - self.ideal
        return (np.asarray(losses, float) - self.ideal) / np.where(span > 0, span, 1.0)

    @property
    def point(self) -> list[float]:
        return [1.0 + MARGIN] * self.front.shape[1]

    def hypervolume(self, losses) -> float:
        """Hypervolume of ``losses`` in the scaled space, bounded by the reference point."""
        x = np.asarray(losses, float).reshape(-1, self.front.shape[1])
        return hypervolume(self.scale(x), self.point) if len(x) else 0.0

    @cached_property
    def best(self) -> float:
        """``HV(F*)``."""
        return self.hypervolume(self.front)


def regret_steps(losses, reference: Reference) -> np.ndarray:
    """Regret after each point of one run's full-fidelity points (in the order they came):
    ``1 − HV(points so far) / HV(F*)``, non-increasing."""
    x = np.asarray(losses, float).reshape(-1, reference.front.shape[1])
    best, out = reference.best, np.empty(len(x))
    kept = np.empty((0, x.shape[1]))
    for i, p in enumerate(x):
        if not np.any(np.all(kept <= p, axis=1)):  # a dominated point adds no volume
            kept = np.vstack([kept[~np.all(p <= kept, axis=1)], p])
        out[i] = 1.0 - reference.hypervolume(kept) / best if best > 0 else 0.0
    return np.minimum.accumulate(out)  # a superset's volume: only float noise could rise
