"""Population Based Training on epochs, mutations derived from the search space, seeded.

PBT (Jaderberg et al. 2017) trains a population; every ``perturbation_interval`` epochs a
trial in the bottom quantile copies the *checkpoint* of a random top-quantile trial (exploit)
and continues with a perturbed copy of its config (explore). Ray's ``PopulationBasedTraining``
does this; here:

* ``hyperparam_mutations`` come from the ``SearchSpace``: numeric ranges resample from the
  domain (seeded generator) or scale by 1.2/0.8 and are clipped back into the domain (Ray does
  not clip); categoricals shift to a neighbouring choice or resample. Conditional parameters
  and the parents of conditions are **not** mutated — changing ``optimizer`` would leave
  ``momentum`` dangling — they stay as the cloned trial had them.
* Ray draws with the global ``random`` module; every decision here runs with the scheduler's
  own ``random.Random`` state swapped in, so the same seed gives the same exploit/explore.
* Ray raises when any ``Searcher`` is used with PBT; here the searcher may draw the initial
  population (it should not be a learning one: it sees the original configs only).
* Trials stop at ``ladder.max``; interval defaults to the ladder's second rung (``min·η``).

State across ``--resume`` (``get_state``/``set_state``, carried by ``tuner.launch.resume``): Ray keys
PBT's per-trial state by ``Trial`` object and rebuilds the scheduler empty, so a resumed
population would forget every score, perturbation time and the RNG draws already made. Here it
is snapshotted by trial id and handed back in ``on_trial_add`` when Ray re-adds each trial.
The lineage (who copied whom, at which epoch, with which mutation) is recorded by ``_exploit``
and rendered by :func:`lineage_markdown` for report.md.

Needs from the controller (PBT reaches into it, as in Ray): ``get_trials()``,
``get_live_trials()``, ``_schedule_trial_save(trial, result=)`` and ``pause_trial(trial,
should_checkpoint=)``; trials need ``run_metadata.checkpoint_manager`` (``ray.tune.experiment.
Trial``). The trainable must checkpoint: without one Ray's PBT logs "no checkpoint for trial
… Skip exploit" (ray/tune/schedulers/pbt.py, ``_exploit``) and a paused trial restarts at
epoch 1.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Any

import numpy as np
from ray.tune import Checkpoint
from ray.tune.experiment import Trial
from ray.tune.schedulers import PopulationBasedTraining, TrialScheduler
from ray.tune.schedulers.pbt import _fill_config, _PBTTrialState

from search_spaces import Categorical, Fixed, SearchSpace
from tuner.budget import BudgetLadder
from tuner.schedulers.controller import creation_number

__all__ = ["PopulationState", "SeededPBT", "lineage_markdown", "mutations_from_space"]


class _Resample:
    """A picklable callable drawing one value of ``domain`` from a shared generator."""

    def __init__(self, domain, rng: np.random.Generator):
        self.domain, self.rng = domain, rng

    def __call__(self) -> Any:
        value = self.domain.sample(self.rng)
        return value.item() if isinstance(value, np.generic) else value


def mutations_from_space(space: SearchSpace, rng: np.random.Generator,
                         params: list[str] | None = None) -> dict[str, Any]:
    """``{name: list-of-choices | resampler}`` for the unconditional, non-parent parameters."""
    parents = {p for dom in space.values() for p in dom.when}
    eligible = [n for n, d in space.items()
                if not isinstance(d, Fixed) and not d.when and n not in parents]
    if params is not None:
        bad = sorted(set(params) - set(eligible))
        if bad:
            raise ValueError(f"scheduler.params: {bad[0]!r} cannot be mutated by PBT; "
                             f"mutable: {', '.join(eligible)}")
        eligible = [n for n in eligible if n in params]
    out: dict[str, Any] = {}
    for name in eligible:
        dom = space[name]
        out[name] = list(dom.choices) if isinstance(dom, Categorical) else _Resample(dom, rng)
    return out


_PENDING = "pending-save"  # a snapshot taken while a clone's save was still in flight


def _plain(value: Any) -> Any:
    """numpy scalars → Python numbers, so lineage and state read the same everywhere."""
    return value.item() if isinstance(value, np.generic) else value


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def lineage_markdown(lineage: list[dict], title: str = "PBT lineage") -> list[str]:
    """Markdown lines for report.md: one table row per exploit, in the order they happened.

    Each record is ``{"epoch", "trial", "source", "source_epoch", "changes": {param: [from,
    to, operation]}}`` as :class:`PopulationState` records it. No records → no lines."""
    if not lineage:
        return []
    lines = [f"## {title}", "",
             (f"{len(lineage)} exploit(s). At *epoch* the *trial* loaded the checkpoint "
              "*copied* had at *from epoch* and continued with that trial's config, mutated as "
              "listed."), "",
             "| epoch | trial | copied | from epoch | mutation |", "|---:|---|---|---:|---|"]
    for rec in lineage:
        changes = "; ".join(f"{k} {_fmt(a)} → {_fmt(b)}" + (f" ({op})" if op else "")
                            for k, (a, b, op) in rec["changes"].items())
        lines.append(f"| {rec['epoch']} | {rec['trial']} | {rec['source']} | "
                     f"{rec['source_epoch']} | {changes or 'none (config copied unchanged)'} |")
    return lines


class PopulationState:
    """Population state by trial id, RNG states and lineage, for PBT-like Ray schedulers.

    Mixed into a ``PopulationBasedTraining`` subclass. Ray keys ``_trial_state`` by ``Trial``
    object, and ``Tuner.restore`` re-creates every ``Trial`` and re-adds it
    (``TuneController.add_trial`` → ``on_trial_add``), so the snapshot is keyed by trial id
    and each trial's entry is handed back when Ray adds it again (:meth:`_new_trial_state`).
    Subclasses add their own fields through ``_extra_state``/``_set_extra_state``.
    """

    _explore_label = ""  # operation shown in the lineage when the explore step names none
    _np_global: tuple | None = None  # numpy's global RNG state, for schedulers drawing from it

    def _init_population_state(self) -> None:
        self._lineage: list[dict] = []
        self._restored: dict[str, dict] = {}
        self._last_operations: dict = {}

    @contextmanager
    def _own_random(self):
        """Run with this scheduler's own ``random`` (and numpy global) state swapped in: Ray
        draws exploit partners with ``random.choice`` (PB2 its acquisition starts with
        ``np.random``), so the same seed gives the same decisions whatever else draws."""
        outer = random.getstate()
        random.setstate(self._random_state)
        outer_np = None if self._np_global is None else np.random.get_state()
        if outer_np is not None:
            np.random.set_state(self._np_global)
        try:
            yield
        finally:
            self._random_state = random.getstate()
            random.setstate(outer)
            if outer_np is not None:
                self._np_global = np.random.get_state()
                np.random.set_state(outer_np)

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        if result.get("training_iteration", 0) >= self.ladder.max:
            return TrialScheduler.STOP
        with self._own_random():
            return super().on_trial_result(tune_controller, trial, result)

    @property
    def lineage(self) -> list[dict]:
        """Every exploit so far: who copied whom at which epoch, with which mutation."""
        return list(self._lineage)

    def lineage_lines(self) -> list[str]:
        return lineage_markdown(self._lineage, f"{type(self).__name__.replace('Seeded', '')} "
                                "lineage")

    def choose_trial_to_run(self, tune_controller) -> Any:
        """Ray's rule — the paused or pending trial with the least training — with ties
        (common: the population pauses at the same perturbation epoch) broken by creation
        order, not by the order the controller lists trials in. Ray's own sort is stable over
        ``get_trials()``, whose order ``Tuner.restore`` does not keep (it lists trials as its
        experiment state holds them), so a resumed run would pick another trial than the
        uninterrupted one and diverge from there."""
        candidates = [t for t in tune_controller.get_trials()
                      if t.status in (Trial.PENDING, Trial.PAUSED)
                      and (not self._synch or self._trial_state[t].last_train_time
                           < self._next_perturbation_sync)]
        candidates.sort(key=lambda t: (self._trial_state[t].last_train_time,
                                       creation_number(self._trial_state[t].orig_tag)))
        return candidates[0] if candidates else None

    def _quantiles(self):
        """Ray's quantiles, with equal scores (clones of one donor) in creation order: Ray
        sorts stably over ``_trial_state``, which holds trials in the order they were added,
        and ``Tuner.restore`` re-adds them in another order, so the donor drawn among equal
        trials would differ after a resume."""
        self._trial_state = dict(sorted(self._trial_state.items(),
                                        key=lambda item: creation_number(item[1].orig_tag)))
        return super()._quantiles()

    # Recording the lineage -----------------------------------------------------------------
    def _get_new_config(self, trial, trial_to_clone):
        new_config, operations = super()._get_new_config(trial, trial_to_clone)
        self._last_operations = dict(operations or {})
        return new_config, operations

    def _exploit(self, tune_controller, trial, trial_to_clone) -> None:
        at = self._trial_state[trial].last_train_time
        source_at = self._trial_state[trial_to_clone].last_train_time
        before = dict(trial_to_clone.config)
        self._last_operations = {}
        super()._exploit(tune_controller, trial, trial_to_clone)
        changes = {}
        for key in self._hyperparam_mutations:
            old, new = _plain(before.get(key)), _plain(trial.config.get(key))
            op = str(self._last_operations.get(key) or self._explore_label)
            if old != new:
                changes[key] = [old, new, op]
        self._lineage.append({"epoch": _plain(at), "trial": trial.trial_id,
                              "source": trial_to_clone.trial_id,
                              "source_epoch": _plain(source_at), "changes": changes})

    # Persistence ---------------------------------------------------------------------------
    def _new_trial_state(self, trial) -> _PBTTrialState:
        """Ray's fresh per-trial state, or the snapshot's entry for a re-added trial."""
        state = self._trial_state[trial] = _PBTTrialState(trial)
        saved = self._restored.pop(trial.trial_id, None)
        if saved is not None:
            state.orig_tag = saved["orig_tag"]
            state.last_score = saved["last_score"]
            state.last_perturbation_time = saved["last_perturbation_time"]
            state.last_train_time = saved["last_train_time"]
            state.last_result = saved["last_result"]
            ckpt = saved["checkpoint"]
            # a save that was in flight at the snapshot is the trial's latest checkpoint now
            state.last_checkpoint = trial.checkpoint if ckpt == _PENDING else ckpt
        return state

    def _slim(self, result: dict | None) -> dict | None:
        if result is None:
            return None
        keys = (self._time_attr, self._metric, "training_iteration")
        return {k: _plain(result[k]) for k in keys if k in result}

    def _trial_snapshot(self, state: _PBTTrialState) -> dict:
        ckpt = state.last_checkpoint
        return {"orig_tag": state.orig_tag, "last_score": _plain(state.last_score),
                "last_perturbation_time": _plain(state.last_perturbation_time),
                "last_train_time": _plain(state.last_train_time),
                "last_result": self._slim(state.last_result),
                "checkpoint": ckpt if ckpt is None or isinstance(ckpt, Checkpoint) else _PENDING}

    def get_state(self) -> dict:
        """Picklable state (Ray pickles callback state): per-trial scores, perturbation
        times and checkpoints by trial id, counters, the RNG states, the lineage."""
        version, internal, gauss = self._random_state
        return {
            "seed": self.seed,
            "random": [version, list(internal), gauss],
            "numpy": self._np_rng.bit_generator.state,
            "num_checkpoints": self._num_checkpoints,
            "num_perturbations": self._num_perturbations,
            "next_sync": self._next_perturbation_sync,
            "trials": {t.trial_id: self._trial_snapshot(s) for t, s in self._trial_state.items()},
            "lineage": [dict(rec) for rec in self._lineage],
            **self._extra_state(),
        }

    def set_state(self, state: dict) -> None:
        version, internal, gauss = state["random"]
        self.seed = state["seed"]
        self._random_state = (version, tuple(internal), gauss)
        # in place: the mutation resamplers hold this very generator
        self._np_rng.bit_generator.state = state["numpy"]
        self._num_checkpoints = state["num_checkpoints"]
        self._num_perturbations = state["num_perturbations"]
        self._next_perturbation_sync = state["next_sync"]
        self._trial_state = {}
        self._restored = {tid: dict(rec) for tid, rec in state["trials"].items()}
        self._lineage = [dict(rec) for rec in state["lineage"]]
        self._set_extra_state(state)

    def _extra_state(self) -> dict:
        return {}

    def _set_extra_state(self, state: dict) -> None:
        pass


class SeededPBT(PopulationState, PopulationBasedTraining):
    """PBT on ``training_iteration`` with space-derived, clipped, seeded mutations."""

    def __init__(self, ladder: BudgetLadder, space: SearchSpace, *, metric: str | None = None,
                 mode: str | None = None, seed: int | None = 0,
                 perturbation_interval: int | None = None, quantile_fraction: float = 0.25,
                 resample_probability: float = 0.25, params: list[str] | None = None,
                 synch: bool = False):
        rungs = ladder.rung_resources()
        interval = perturbation_interval or (rungs[1] if len(rungs) > 1 else ladder.max)
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"scheduler.perturbation_interval: expected a whole number >= 1, "
                             f"got {perturbation_interval!r}")
        self.space = space
        self._np_rng = np.random.default_rng(seed)
        mutations = mutations_from_space(space, self._np_rng, params)
        if not mutations:
            raise ValueError("scheduler pbt: the search space has no parameter PBT can mutate "
                             "(unconditional, not a condition's parent, not fixed)")
        super().__init__(time_attr="training_iteration", metric=metric, mode=mode,
                         perturbation_interval=interval, hyperparam_mutations=mutations,
                         quantile_fraction=quantile_fraction,
                         resample_probability=resample_probability,
                         custom_explore_fn=self._clip, log_config=False, synch=synch)
        self.ladder = ladder
        self.seed = seed
        self._random_state = random.Random(seed).getstate()
        self._init_population_state()

    def _clip(self, config: dict) -> dict:
        """Put perturbed numbers back into their domain (×1.2 can leave it)."""
        for name in self._hyperparam_mutations:
            dom = self.space[name]
            if name not in config or not hasattr(dom, "low"):
                continue
            value = float(config[name])
            if dom.step:
                value = dom.low + round((value - dom.low) / dom.step) * dom.step
            value = min(max(value, dom.low), dom.high)
            config[name] = int(round(value)) if dom.kind == "int" else float(value)
        return config

    def on_trial_add(self, tune_controller, trial) -> None:
        # Ray refuses any Searcher next to PBT (``SearchGenerator`` check) because a learning
        # searcher would be fed results of configs PBT has since changed. Our searchers only
        # draw the initial population here (method "pbt" = random + pbt), so the check is
        # skipped; the rest is Ray's on_trial_add.
        if not self._metric or not self._metric_op:
            raise ValueError(f"{type(self).__name__}: metric/mode not set")
        self._new_trial_state(trial)
        with self._own_random():
            for attr, mutation in self._hyperparam_mutations.items():
                if attr not in trial.config:
                    _fill_config(trial.config, attr, mutation)
                    trial.evaluated_params[attr] = trial.config[attr]

