"""Syne Tune's current methods as peers, driven through Syne Tune's own scheduler protocol.

Syne Tune (Salinas et al., AutoML 2022; the ``syne-tune`` package, 0.16) keeps the decision in
one ``TrialScheduler`` (``syne_tune/optimizer/scheduler.py``): ``suggest()`` returns a
``TrialSuggestion`` — a new configuration, or the id of a paused trial to resume —,
``on_trial_result`` answers CONTINUE / PAUSE / STOP, and its ``Tuner`` (``syne_tune/tuner.py``:
``_schedule_new_task``, ``_update_running_trials``) calls ``suggest`` exactly when a worker is
free, ``on_trial_add`` for a new trial, ``on_trial_remove`` after a STOP or PAUSE decision and
``on_trial_complete`` only for a trial that ran to its end. ``SyneScheduler`` (a Ray
``TrialScheduler``) and ``SyneSearcher`` (a Ray ``Searcher``) replay that contract inside our
simulator, so a Syne Tune method is charged the same budget on the same clock as every peer:

* a suggestion is asked for only while running + waiting trials < workers (Syne's Tuner fills
  free workers, it never queues ahead); a resume suggestion is queued and ``choose_trial_to_run``
  hands that paused trial back (promotion-type resume, from its checkpoint: the next level);
* Syne's decision is passed through (CONTINUE / PAUSE / STOP); a trial that ran to the top level
  without a STOP is reported ``on_trial_complete`` (that is how full-fidelity BORE learns),
  one that was stopped or paused is ``on_trial_remove``-d, as the Tuner does.

Methods, by Syne Tune's baseline names (``syne_tune/optimizer/baselines.py``):

* ``syne-bore`` — ``BORE``: ``SingleObjectiveScheduler`` + ``searchers/bore/bore.py::Bore``
  (Tiao et al., ICML 2021; xgboost classifier, 500 random candidates), full fidelity. Its
  candidates are scored in one batch (``batched_bore``: the same suggestions, ~10x faster).
* ``syne-asha-bore`` — ``ASHABORE``: ``schedulers/asha.py::AsynchronousSuccessiveHalving`` with
  ``LastValueMultiFidelitySearcher(searcher="bore")`` (BORE refitted on each trial's latest
  value, ``searchers/last_value_multi_fidelity_searcher.py``).
* ``syne-bohb`` — ``BOHB``: the same ASHA with the KDE searcher
  (``searchers/kde/kde_searcher.py``; Falkner et al. 2018, asynchronous as in Syne Tune).
* ``syne-asha`` — ``ASHA``: random search + the same ASHA (Syne's own, for reference).

Syne Tune 0.16 has no MOBSTER, Hyper-Tune or promotion-type Hyperband any more (the 0.15
rewrite of ``optimizer/`` removed ``HyperbandScheduler``); its ASHA is stopping-type. The
fidelity is our ladder: ``time_attr="training_iteration"`` (the level a result is at),
``max_t`` = the ladder's top, ``grace_period`` = its bottom, ``reduction_factor`` = its η.
The space is translated flat (conditional parameters as plain ones, dropped before the
surrogate sees them), as for the Ray and SMAC peers.

Syne Tune draws some random configurations from the *global* ``np.random`` (``Bore.
_get_random_config``, ``Domain.sample`` without a ``random_state``); every call into it runs
with the run's own global-RNG state swapped in (``_own_rng``), so a run is deterministic per
seed and independent of whatever else shares the process. Optional dependency: the ``bench``
extra (``syne-tune`` installed with ``--no-deps`` next to ``dill statsmodels xgboost-cpu``, so
neither CUDA nor NCCL wheels come in — see docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import math
from datetime import datetime

import numpy as np
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from benchmarks.simulator import SimTask
from search_spaces import Categorical, Fixed, Float, Int, SearchSpace

__all__ = ["SYNE_PEERS", "SyneScheduler", "SyneSearcher", "build_syne", "syne_space", "wire_syne"]

# ours -> (Syne Tune baseline class, multi-fidelity?)
_BASELINES = {"syne-bore": ("BORE", False), "syne-asha-bore": ("ASHABORE", True),
              "syne-bohb": ("BOHB", True), "syne-asha": ("ASHA", True)}
SYNE_PEERS = tuple(_BASELINES)


def syne_space(space: SearchSpace) -> dict:
    """Our space as Syne Tune's ``config_space`` (flat); its ``randint`` bounds are inclusive,
    like ours (``syne_tune/config_space.py``: ``randint(lower, upper + 1)`` when sampling)."""
    from syne_tune import config_space as sc

    out: dict = {}
    for name, d in space.items():
        if isinstance(d, Float):
            out[name] = (sc.loguniform if d.log else sc.uniform)(float(d.low), float(d.high))
        elif isinstance(d, Int):
            out[name] = (sc.lograndint if d.log else sc.randint)(int(d.low), int(d.high))
        elif isinstance(d, Categorical):
            out[name] = sc.choice(list(d.choices))
        elif isinstance(d, Fixed):
            out[name] = d.value  # a constant: Syne adds it back to every suggestion
        else:
            raise TypeError(f"{name}: no Syne Tune domain for {d.kind}")
    return out


class _Shared:
    """One Syne Tune scheduler and what both Ray-side halves need to replay its Tuner."""

    def __init__(self, syne, metric: str, workers: int, seed: int):
        self.syne, self.metric, self.workers = syne, metric, workers
        self.rng = np.random.RandomState(seed).get_state()
        self.syne_trials: dict[str, object] = {}  # our trial id -> Syne Tune's Trial
        self.waiting: list[str] = []  # added, not started yet
        self.running: set[str] = set()
        self.resumes: list[str] = []  # paused trials Syne asked to resume
        self.removed: set[str] = set()  # told on_trial_remove after STOP / PAUSE

    @contextlib.contextmanager
    def own_rng(self):
        """Run with this run's global ``np.random`` state (see the module docstring)."""
        outer = np.random.get_state()
        np.random.set_state(self.rng)
        try:
            yield
        finally:
            self.rng = np.random.get_state()
            np.random.set_state(outer)

    def busy(self) -> int:
        return len(self.running) + len(self.waiting) + len(self.resumes)


class SyneSearcher(Searcher):
    """``scheduler.suggest()`` when a worker is free: a new config, or a resume (queued)."""

    def __init__(self, shared: _Shared, metric: str, mode: str):
        super().__init__(metric=metric, mode=mode)
        self.s = shared

    def suggest(self, trial_id: str) -> dict | str | None:
        if self.s.busy() >= self.s.workers:
            return None  # Syne's Tuner asks only for a free worker
        from threadpoolctl import threadpool_limits

        # one OpenMP thread: xgboost's all-thread default fits and scores Bore's tiny data
        # several times slower on a busy machine (the same values; checked)
        with self.s.own_rng(), threadpool_limits(1, user_api="openmp"):
            suggestion = self.s.syne.suggest()
        if suggestion is None:
            return Searcher.FINISHED  # Syne's Tuner: StopIteration, space exhausted
        if not suggestion.spawn_new_trial_id:
            trial_id = _ours(suggestion.checkpoint_trial_id)
            old = self.s.syne_trials[trial_id].config
            if suggestion.config and any(suggestion.config.get(k) != v for k, v in old.items()):
                raise NotImplementedError("resuming with new hyperparameters: the surrogates "
                                          "map a fixed configuration to a curve")
            self.s.resumes.append(trial_id)
            return None
        if suggestion.checkpoint_trial_id is not None:
            raise NotImplementedError("warm-starting from another trial's checkpoint (PBT): "
                                      "the surrogates map a fixed configuration to a curve")
        return {k: _py(v) for k, v in suggestion.config.items()}

    def on_trial_complete(self, trial_id, result=None, error=False) -> None:
        pass  # Syne Tune learns through its scheduler (SyneScheduler), as in its Tuner


class SyneScheduler(FIFOScheduler):
    """Syne Tune's decisions as Ray's; its Tuner's add / remove / complete calls."""

    def __init__(self, shared: _Shared):
        super().__init__()
        self.s = shared

    def on_trial_add(self, tune_controller, trial) -> None:
        from syne_tune.backend.trial_status import Trial

        st = Trial(trial_id=_syne(trial.trial_id), config=dict(trial.config),
                   creation_time=datetime(2000, 1, 1))
        self.s.syne_trials[trial.trial_id] = st
        self.s.waiting.append(trial.trial_id)
        with self.s.own_rng():
            self.s.syne.on_trial_add(trial=st)

    def choose_trial_to_run(self, tune_controller):
        """The paused trial Syne asked to resume, else the oldest new trial."""
        live = {t.trial_id: t for t in tune_controller.get_trials()}
        for queue in (self.s.resumes, self.s.waiting):
            while queue:
                trial = live.get(queue.pop(0))
                if trial is not None:
                    self.s.running.add(trial.trial_id)
                    self.s.removed.discard(trial.trial_id)  # resumed: reports again
                    return trial
        return None

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        st = self.s.syne_trials[trial.trial_id]
        with self.s.own_rng():
            decision = self.s.syne.on_trial_result(trial=st, result=dict(result))
        if decision not in ("STOP", "PAUSE"):
            return TrialScheduler.CONTINUE
        self.s.running.discard(trial.trial_id)
        self.s.removed.add(trial.trial_id)
        with self.s.own_rng():
            self.s.syne.on_trial_remove(trial=st)  # Tuner: after a STOP or PAUSE
        return TrialScheduler.STOP if decision == "STOP" else TrialScheduler.PAUSE

    def on_trial_complete(self, tune_controller, trial, result: dict) -> None:
        """Ran to its end (the top level) without a STOP or PAUSE: ``on_trial_complete``
        (a PAUSE there ends the trial too, and Syne's Tuner then reports it paused)."""
        self.s.running.discard(trial.trial_id)
        if trial.trial_id in self.s.removed or not result:
            return
        value = result.get(self.s.metric)
        if value is None or not math.isfinite(float(value)):
            return
        with self.s.own_rng():
            self.s.syne.on_trial_complete(trial=self.s.syne_trials[trial.trial_id],
                                          result=dict(result))

    def on_trial_remove(self, tune_controller, trial) -> None:
        self.s.running.discard(trial.trial_id)
        if trial.trial_id in self.s.waiting:
            self.s.waiting.remove(trial.trial_id)
        if trial.trial_id not in self.s.removed:
            self.s.removed.add(trial.trial_id)
            with self.s.own_rng():
                self.s.syne.on_trial_remove(trial=self.s.syne_trials[trial.trial_id])


def _syne(trial_id: str) -> int:
    return int(trial_id.lstrip("t"))


def _ours(trial_id: int) -> str:
    return f"t{trial_id:06d}"  # the simulator's trial ids (benchmarks/simulator.py)


def _py(v):
    return v.item() if isinstance(v, np.generic) else v


def batched_bore():
    """Syne Tune's ``Bore`` with its default acquisition (``acq_optimizer="rs"``) scored in one
    ``predict_proba`` call instead of one per candidate — the same candidates drawn in the same
    order from the same RNG, the same argmin, so the same suggestion (tested), ~10x faster:
    the 500 single-row xgboost calls per suggestion (``bore.py::Bore.suggest``) are what makes
    a full-budget BORE run take minutes. Every other branch is Bore's own code."""
    from syne_tune.optimizer.schedulers.searchers.bore import Bore

    class BatchedBore(Bore):
        def suggest(self, **kwargs):
            if self.acq_optimizer != "rs":
                return super().suggest(**kwargs)
            config = self._next_points_to_evaluate()
            if config is not None:
                return config
            if len(self.inputs) < self.init_random or self.random_state.rand() < self.random_prob:
                return self._get_random_config()
            if not self._train_model(self.inputs, self.targets):
                return self._get_random_config()
            candidates, counter = [], 0
            while len(candidates) < self.feval_acq:  # Bore's loop: without replacement
                xi = self._get_random_config()
                counter += 1
                if counter > 10000:
                    break
                if xi in candidates:
                    continue
                counter = 0
                candidates.append(xi)
            x = np.stack([self._hp_ranges.to_ndarray(c) for c in candidates])
            return candidates[int(np.argmin(self._loss(x)))]

    return BatchedBore


def _make(name: str, bench, ladder, seed: int):
    """Syne Tune's baseline ``name`` (``optimizer/baselines.py``); its Bore batched."""
    from syne_tune.optimizer import baselines

    cls_name, multi = _BASELINES[name]
    kw = {"config_space": syne_space(bench.space), "metric": bench.metric,
          "do_minimize": bench.mode == "min", "random_seed": seed}
    if multi:
        kw.update(time_attr="training_iteration", max_t=ladder.max, grace_period=ladder.min,
                  reduction_factor=ladder.eta)
    syne = getattr(baselines, cls_name)(**kw)
    if cls_name == "BORE":  # as baselines.BORE builds it, with the batched acquisition
        syne.searcher = batched_bore()(config_space=kw["config_space"], random_seed=seed)
    elif cls_name == "ASHABORE":  # LastValueMultiFidelitySearcher refits this class
        syne.searcher.searcher_cls = batched_bore()
    return syne, multi


def wire_syne(syne, bench, ladder, *, multi_fidelity: bool, seed: int, workers: int):
    """(task, searcher, scheduler, wiring) around any Syne Tune ``TrialScheduler``."""
    shared = _Shared(syne, bench.metric, workers, seed)
    task = SimTask(bench, ladder, multi_fidelity=multi_fidelity)
    # the searcher itself gates on free workers; pending = workers lets every free one fill
    # (a paused trial is live for the simulator's limiter, but frees its worker in Syne Tune)
    return (task, SyneSearcher(shared, bench.metric, bench.mode), SyneScheduler(shared),
            {"max_concurrent": None, "max_pending": workers})


def build_syne(name: str, bench, ladder, seed: int, workers: int):
    """(task, searcher, scheduler, wiring) for Syne Tune method ``name`` on ``bench``."""
    if name not in _BASELINES:
        raise KeyError(f"unknown Syne Tune peer {name!r}; one of {', '.join(SYNE_PEERS)}")
    import logging

    logging.getLogger("syne_tune").setLevel(logging.ERROR)
    syne, multi = _make(name, bench, ladder, seed)
    return wire_syne(syne, bench, ladder, multi_fidelity=multi, seed=seed, workers=workers)
