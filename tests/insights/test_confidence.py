"""Wilson intervals and the within-noise note (pure)."""
from __future__ import annotations

import pytest

from tuner.record.confidence import confidence_lines, wilson_interval, within_noise
from tuner.record.results import TrialRecord


def test_wilson_matches_the_closed_form_and_stays_inside_0_1():
    lo, hi = wilson_interval(0.97, 360)
    assert (round(lo, 4), round(hi, 4)) == (0.9468, 0.9833)  # ≈ ±1.4 points, as the issue says
    assert wilson_interval(1.0, 20)[1] == 1.0 and wilson_interval(1.0, 20)[0] > 0.8
    assert wilson_interval(0.0, 20)[0] == 0.0
    lo_small, hi_small = wilson_interval(0.5, 10)
    lo_big, hi_big = wilson_interval(0.5, 1000)
    assert hi_small - lo_small > 5 * (hi_big - lo_big)


@pytest.mark.parametrize("p, n", [(0.5, 0), (1.2, 10), (-0.1, 10)])
def test_wilson_rejects_nonsense(p, n):
    with pytest.raises(ValueError):
        wilson_interval(p, n)


def test_within_noise_depends_on_n():
    assert within_noise(0.96, 0.95, 360)
    assert not within_noise(0.96, 0.95, 100_000)
    assert not within_noise(0.97, 0.80, 360)


def _rec(tid, acc, epochs=9):
    return TrialRecord(tid, {}, "completed", epochs, [acc] * epochs)


def test_lines_name_the_rivals_within_noise_and_ignore_shorter_trials():
    best = _rec("a", 0.97)
    recs = [best, _rec("b", 0.965), _rec("c", 0.80), _rec("d", 0.99, epochs=3)]
    text = "\n".join(confidence_lines(recs, best, {"test_accuracy": 0.95}, "val_accuracy",
                                      "max", 360, 359))
    assert "0.9700 [0.9468, 0.9833] (n=360)" in text
    assert "test accuracy: 0.9500" in text
    assert "b (0.9650)" in text and "c (" not in text and "d (" not in text


def test_lines_say_when_the_winner_is_clear_or_intervals_do_not_apply():
    best = _rec("a", 0.99)
    text = "\n".join(confidence_lines([best, _rec("b", 0.5)], best, {}, "val_accuracy", "max",
                                      10_000, None))
    assert "ahead of the next 1 configs by more than noise" in text
    text = "\n".join(confidence_lines([best], best, {}, "val_loss", "min", 360, 359))
    assert "need an accuracy metric" in text
