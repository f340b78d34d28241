"""Sorted rungs: the same cutoffs and decisions as Ray's percentile over every value."""

from __future__ import annotations

import pickle

import numpy as np
from ray.tune.schedulers.async_hyperband import _Bracket

from tuner.schedulers.asha import _SortedBracket, _SortedRung
from tuner.schedulers.controller import make_trial


def test_cutoff_matches_numpy_percentile():
    rng = np.random.default_rng(0)
    bracket = _SortedBracket(1, 27, 3, 0)
    for n in (1, 2, 3, 7, 100, 1001):
        values = rng.normal(size=n).round(2)  # rounding makes ties
        rung = _SortedRung({f"t{i}": v for i, v in enumerate(values)})
        assert bracket.cutoff(rung) == np.nanpercentile(values, (1 - 1 / 3) * 100)
    assert bracket.cutoff(_SortedRung()) is None


def test_decisions_equal_rays_bracket_and_survive_pickling():
    rng = np.random.default_rng(1)
    ray_bracket, ours = _Bracket(1, 27, 3, 0), _SortedBracket(1, 27, 3, 0)
    ours._rungs = [(m, _SortedRung()) for m, _ in ours._rungs]
    for i in range(400):
        trial = make_trial(f"t{i}")
        epoch = int(rng.choice([1, 3, 9, 27]))
        value = round(float(rng.normal()), 1)  # ties
        assert ours.on_result(trial, epoch, value) == ray_bracket.on_result(trial, epoch, value)
        if i == 200:
            ours = pickle.loads(pickle.dumps(ours))
    for (m1, r1), (m2, r2) in zip(ours._rungs, ray_bracket._rungs):
        assert m1 == m2 and dict(r1) == r2 and r1.sorted == sorted(r2.values())


def test_every_way_of_writing_keeps_the_rung_sorted():
    rung = _SortedRung({"a": 3.0})
    rung.update({"b": 1.0}, c=2.0)
    rung["a"] = 0.5  # a trial's value replaced
    assert rung.sorted == [0.5, 1.0, 2.0]
    del rung["b"]
    assert rung.pop("c") == 2.0 and rung.pop("zzz", None) is None
    assert rung.sorted == [0.5] and dict(rung) == {"a": 0.5}
