"""One end-to-end Ray run per scheduler with a tiny checkpointing class Trainable.

The curve is synthetic (loss = quality(x) + 1/epoch) so a run is seconds; what is checked is
the wiring: budgets in epochs, pausing schedulers resume from checkpoints (no epoch is ever
reported twice by a trial), ASHA/HyperBand stop what they should, PBT clones a checkpoint.
"""
from __future__ import annotations

import pytest

from search_spaces import Categorical, Float, SearchSpace
from tuner.budget import BudgetLadder
from tuner.compose.methods import build_searcher, resolve
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


def _logging(searcher):
    """Record, in order, each suggestion Ray asks for and each completion it reports
    (``searcher.events``: ``("suggest", id, config)``, ``("complete", id, loss)``). The class
    is swapped, not the methods, so the searcher's state (a dict Ray pickles) stays plain."""
    cls = type(searcher)

    def suggest(self, trial_id):
        config = cls.suggest(self, trial_id)
        if isinstance(config, dict):
            self.events.append(("suggest", trial_id, dict(config)))
        return config

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.events.append(("complete", trial_id, None if error else self.loss_of(result)))
        return cls.on_trial_complete(self, trial_id, result=result, error=error)

    searcher.events = []
    searcher.__class__ = type(f"Logged{cls.__name__}", (cls,),
                              {"suggest": suggest, "on_trial_complete": on_trial_complete})
    return searcher


def _fit(method, tmp_path, num_samples, max_concurrent=None, searcher_options=None,
         searchers=None, **scheduler_options):
    """Run ``method``; ``searchers``, a list, receives the searcher object Ray drove."""
    from ray import tune

    searcher_name, scheduler_name = resolve(method)
    searcher = build_searcher(searcher_name, SPACE, LADDER, metric="val_loss", mode="min",
                              seed=0, points_to_evaluate=None, **(searcher_options or {}))
    if searchers is not None:
        searchers.append(_logging(searcher))
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


def test_bohb_runs_and_its_per_rung_model_proposes(ray_session, tmp_path):
    from optuna.trial import TrialState

    searchers = []
    grid, reached, histories = _fit(
        "bohb", tmp_path, num_samples=12,
        max_concurrent=concurrency_hint("hyperband", LADDER, slots=2),
        searcher_options={"random_fraction": 0.0}, searchers=searchers)  # model whenever fitted
    assert max(reached) == 9 and min(reached) < 9
    (mf,) = searchers
    # what the model learnt at rung 1 is what Ray's trials reported at epoch 1
    at_epoch_1 = {h["trial_id"].iloc[0]: float(h["val_loss"].iloc[0]) for h in histories}
    assert mf.rung_data[1] and {t: loss for t, (_, loss) in mf.rung_data[1].items()} == \
        {t: at_epoch_1[t] for t in mf.rung_data[1]}
    # the first wave (9 trials, as many as run at once) is random: nothing observed yet; the
    # trials proposed after rung 1 filled up come from the model fitted on that rung
    from_model = {t: rung for t, rung in mf.proposed_from.items() if rung is not None}
    assert len(from_model) == 12 - 9 and set(from_model.values()) == {1}, mf.proposed_from
    study, fitted_on = mf._studies[1]
    assert fitted_on >= mf.min_points
    told = [t.value for t in study.trials if t.state == TrialState.COMPLETE]
    assert sorted(told) == sorted(loss for _, loss in list(mf.rung_data[1].values())[:fitted_on])
    configs = {r.metrics["trial_id"]: r.config for r in grid}
    assert all(configs[t]["x"] == mf.configs[t]["x"] for t in from_model)  # Ray ran them


def test_asha_pso_runs_and_particles_move_towards_the_best(ray_session, tmp_path):
    """A particle's first move is ``x + c2·r·(g − x)``, ``r ∈ [0, 1)``: velocity starts at zero
    and its personal best is where it just was, so it heads for the swarm's best ``g`` and
    overshoots it by at most ``c2 − 1`` ≈ 0.5 (tuner/searchers/pso.py ``_move``). Replayed here
    on the events Ray drove: any sampler that does not follow the swarm fails."""
    searchers = []
    grid, reached, _ = _fit("asha-pso", tmp_path, num_samples=12, max_concurrent=2,
                            searcher_options={"n_particles": 4},
                            searchers=searchers)
    assert max(reached) == 9 and min(reached) < 9
    pso = searchers[0]
    suggested = [(tid, config["x"]) for kind, tid, config in pso.events if kind == "suggest"]
    completed = [(tid, loss) for kind, tid, loss in pso.events if kind == "complete"]
    assert len(suggested) == 12 and len(completed) == 12
    x_of = dict(suggested)
    moves = 0
    for k, (tid, _) in enumerate(completed[:4]):  # a first-wave trial ends: its particle moves
        seen = [(loss, x_of[t]) for t, loss in completed[:k + 1]]
        g = min(seen)[1]  # the swarm's best position so far
        x_old, x_new = x_of[tid], suggested[4 + k][1]  # the particle is reused in this order
        d, e = x_new - x_old, g - x_old
        assert d * e >= 0 and abs(d) <= 1.5 * abs(e) + 1e-12, (k, x_old, x_new, g)
        moves += d != 0
    assert moves >= 2  # particles moved, not stood still
