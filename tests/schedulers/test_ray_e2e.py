"""One end-to-end Ray run per scheduler with a tiny checkpointing class Trainable.

The curve is synthetic (loss = quality(x) + 1/epoch) so a run is seconds; what is checked is
the wiring: budgets in epochs, pausing schedulers resume from checkpoints (no epoch is ever
reported twice by a trial), ASHA/HyperBand stop what they should, PBT clones a checkpoint.
"""
from __future__ import annotations

import pytest

from search_spaces import Categorical, Float, SearchSpace
from tuner.budget import BudgetLadder
from tuner.methods import build_searcher, resolve
from tuner.schedulers import concurrency_hint, make_scheduler

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SPACE = SearchSpace({"x": Float(0.0, 1.0), "width": Categorical((8, 16, 32))})
LADDER = BudgetLadder(1, 9, 3)


def _trainable():
    from ray import tune

    class Curve(tune.Trainable):
        def setup(self, config):
            self.epoch, self.origin = 0, self.trial_id

        def step(self):
            self.epoch += 1
            loss = (self.config["x"] - 0.3) ** 2 + 1.0 / self.epoch
            return {"val_loss": loss, "epoch": self.epoch, "origin": self.origin}

        def save_checkpoint(self, checkpoint_dir):
            return {"epoch": self.epoch, "origin": self.trial_id}

        def load_checkpoint(self, checkpoint):
            self.epoch, self.origin = checkpoint["epoch"], checkpoint["origin"]

        def reset_config(self, new_config):
            self.config = new_config
            self.epoch, self.origin = 0, self.trial_id
            return True

    return Curve


def _fit(method, tmp_path, num_samples, max_concurrent=None, **scheduler_options):
    from ray import tune

    searcher_name, scheduler_name = resolve(method)
    searcher = build_searcher(searcher_name, SPACE, LADDER, metric="val_loss", mode="min",
                              seed=0, points_to_evaluate=None)
    scheduler = make_scheduler(scheduler_name, LADDER, metric="val_loss", mode="min", seed=0,
                               space=SPACE, **scheduler_options)
    tuner = tune.Tuner(
        _trainable(),
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler,
                                    num_samples=num_samples, reuse_actors=True,
                                    max_concurrent_trials=max_concurrent),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0,
                                  stop={"training_iteration": LADDER.max},
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=4)),
    )
    grid = tuner.fit()
    assert not grid.errors, grid.errors
    histories = [r.metrics_dataframe for r in grid]
    for h in histories:  # resumed from checkpoints: no epoch reported twice by one trial
        assert list(h["epoch"]) == sorted(set(h["epoch"])), list(h["epoch"])
    return grid, [int(h["training_iteration"].max()) for h in histories], histories


def test_fifo_runs_everyone_to_max(ray_session, tmp_path):
    _, reached, _ = _fit("random", tmp_path, num_samples=3, max_concurrent=2)
    assert reached == [9, 9, 9]


def test_asha_stops_early(ray_session, tmp_path):
    _, reached, _ = _fit("asha", tmp_path, num_samples=9, max_concurrent=2)
    assert min(reached) == 1 and reached.count(9) < 9


def test_hyperband_pauses_resumes_and_halves(ray_session, tmp_path):
    # with max_concurrent_trials=2 (the slots) brackets would hold 2 trials: 7 of 9 reach max
    slots = concurrency_hint("hyperband", LADDER, slots=2)
    assert slots == 9
    _, reached, _ = _fit("hyperband", tmp_path, num_samples=9, max_concurrent=slots)
    # one bracket s=2 of 9 trials: 9 reach 1 epoch, 3 reach 3, 1 reaches 9
    assert sorted(reached) == [1] * 6 + [3] * 2 + [9]


def test_median_stops_the_bad_ones(ray_session, tmp_path):
    _, reached, _ = _fit("median", tmp_path, num_samples=8, max_concurrent=2,
                         min_samples_required=2)
    assert reached.count(9) < 8


def test_pbt_clones_a_checkpoint(ray_session, tmp_path):
    slots = concurrency_hint("pbt", LADDER, slots=2, num_samples=4)
    _, reached, histories = _fit("pbt", tmp_path, num_samples=4, max_concurrent=slots)
    assert reached == [9, 9, 9, 9]
    own = [h["origin"].iloc[0] for h in histories]
    assert any(set(h["origin"]) - {o} for h, o in zip(histories, own))  # some trial exploited


def test_bohb_runs(ray_session, tmp_path):
    _, reached, _ = _fit("bohb", tmp_path, num_samples=12,
                         max_concurrent=concurrency_hint("hyperband", LADDER, slots=2))
    assert max(reached) == 9 and min(reached) < 9


def test_asha_pso_runs(ray_session, tmp_path):
    grid, reached, _ = _fit("asha-pso", tmp_path, num_samples=12, max_concurrent=2)
    assert max(reached) == 9 and min(reached) < 9
    assert len({r.config["x"] for r in grid}) == 12  # particles moved: no position repeated
