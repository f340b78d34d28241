"""``hyperopt-tpe``: hyperopt's Tree-structured Parzen Estimator on our conditional spaces.

TPE (Bergstra et al., "Algorithms for hyper-parameter optimization", NeurIPS 2011) models
good and bad configurations with one Parzen density per parameter and node of a tree-shaped
space. We translate a flat ``SearchSpace`` into hyperopt's *native* tree — a categorical with
dependants becomes ``hp.choice`` over branch dicts that carry their children — and drive
``tpe.suggest`` on our own ``Trials``. Ray's ``HyperOptSearch`` is not used: it hangs on
``points_to_evaluate`` with nested choices (its ``_convert_categories_to_indices``,
ray/tune/search/hyperopt/hyperopt_search.py, loops on hyperopt ``Apply`` nodes;
hyperopt/hyperopt#646); here the base class serves warm-start
points and their results are written into ``Trials`` with the ``misc.vals/idxs`` hyperopt
would have produced. Failed and NaN trials stay in ``Trials`` as finished with status ``fail``
and no loss, which TPE counts as worst — as it does running trials (hyperopt's own rule, which
spreads concurrent suggestions apart). Dropping failures instead would poison the model: an
unexplored region looks promising to TPE, so a region that always fails would attract every
later suggestion (tests/searchers: ``test_failures_do_not_attract_it``).

Encoding per domain (values hyperopt stores in ``misc.vals``):
float → ``uniform`` / ``loguniform`` (the value itself); stepped float or int → ``uniform``
over the step index −½..n+½; log int → ``loguniform`` widened by half a unit (both rounded
when decoded, see ``_hp``); categorical → ``hp.choice`` (the index). A child conditional on
several parents hangs under the last categorical parent; its other conditions are checked
when the config is built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hyperopt import JOB_STATE_DONE, STATUS_FAIL, STATUS_OK, Trials, hp
from hyperopt import tpe as hyperopt_tpe
from hyperopt.base import Domain as HyperoptDomain

from search_spaces import Categorical, Domain, Fixed, Float, SearchSpace
from tuner.searchers.base import SpaceSearcher

__all__ = ["TPESearcher"]


def _identity(config: Any) -> Any:
    """hyperopt's objective slot; never called (we evaluate through Ray)."""
    return config


@dataclass(frozen=True)
class _Node:
    """One place a parameter occupies in the hyperopt tree."""

    label: str
    name: str
    parent: str | None  # label of the categorical node whose branch holds this node
    branch: int | None  # index of that branch


class _Tree:
    """Translate a ``SearchSpace`` to a hyperopt expression and back."""

    def __init__(self, space: SearchSpace):
        self.space = space
        self.nodes: list[_Node] = []
        self.children = self._children()
        self.expr = self._build(self.children.get(None, {}).get(None, []), None, None)

    def _children(self) -> dict:
        """anchor name -> branch index -> names hanging there (None, None = the root)."""
        out: dict = {}
        for name in self.space.searchable:
            anchor, values = self._anchor(name)
            if anchor is None:
                out.setdefault(None, {}).setdefault(None, []).append(name)
                continue
            parent = self.space[anchor]
            for i, choice in enumerate(parent.choices):
                if values is None or any(choice == v or repr(choice) == repr(v) for v in values):
                    out.setdefault(anchor, {}).setdefault(i, []).append(name)
        return out

    def _anchor(self, name: str) -> tuple[str | None, tuple | None]:
        """The last searchable categorical parent of ``name`` (through fixed parents)."""
        when = self.space[name].when
        parents = [p for p in self.space if p in when]  # in space order: parents first
        for parent in reversed(parents):
            if isinstance(self.space[parent], Categorical):
                return parent, when[parent]
        if parents:  # only fixed parents: hang where the last one hangs
            return self._anchor(parents[-1])
        return None, None

    def _build(self, names: list[str], parent: str | None, branch: int | None) -> dict:
        expr = {}
        for name in names:
            label = name if parent is None else f"{name}|{parent}={branch}"
            self.nodes.append(_Node(label, name, parent, branch))
            dom = self.space[name]
            kids = self.children.get(name, {})
            if isinstance(dom, Categorical) and kids:
                options = [self._build(kids.get(i, []), label, i) for i in range(len(dom.choices))]
                expr[label] = hp.choice(label, options)
            else:
                expr[label] = _hp(label, dom)
        return expr

    def decode(self, vals: dict[str, list]) -> dict[str, Any]:
        """A flat config of active parameters from hyperopt's ``misc.vals``."""
        values = {
            n.name: _from_hp(self.space[n.name], vals[n.label][0])
            for n in self.nodes
            if vals.get(n.label)
        }
        config: dict[str, Any] = {}
        for name, dom in self.space.items():
            if self.space.is_active(name, config):
                config[name] = dom.value if isinstance(dom, Fixed) else values[name]
        return config

    def encode(self, config: dict[str, Any]) -> dict[str, list]:
        """``misc.vals`` for a flat config: one value per reached node, [] elsewhere."""
        vals: dict[str, list] = {n.label: [] for n in self.nodes}
        for n in self.nodes:  # parents precede their branches in self.nodes
            reached = n.parent is None or vals[n.parent] == [n.branch]
            if reached and n.name in config:
                vals[n.label] = [_to_hp(self.space[n.name], config[n.name])]
        return vals


def _steps(dom: Domain) -> tuple[float, int]:
    step = dom.step if dom.step is not None else 1
    return step, math.floor((dom.high - dom.low) / step + 1e-9)


def _hp(label: str, dom: Domain):
    if isinstance(dom, Categorical):
        return hp.choice(label, list(range(len(dom.choices))))
    if isinstance(dom, Float) and dom.step is None:
        if dom.log:
            return hp.loguniform(label, math.log(dom.low), math.log(dom.high))
        return hp.uniform(label, dom.low, dom.high)
    # Ints and stepped floats are continuous here, widened by half a unit so the end points
    # are as likely as the rest, and rounded when decoded. hyperopt's quantised q* densities
    # score candidates with a Python loop over every mixture component (LGMM1_lpdf,
    # GMM1_lpdf): most of a suggestion's time at 1,000 trials, for the same model up to rounding.
    if dom.log:
        return hp.loguniform(label, math.log(dom.low - 0.4999), math.log(dom.high + 0.4999))
    _, n = _steps(dom)
    return hp.uniform(label, -0.4999, n + 0.4999)


def _from_hp(dom: Domain, v: Any) -> Any:
    if isinstance(dom, Categorical):
        return dom.choices[int(v)]
    if isinstance(dom, Float) and dom.step is None:
        return float(min(dom.high, max(dom.low, v)))
    if dom.log:
        return int(min(dom.high, max(dom.low, round(v))))
    step, n = _steps(dom)
    k = min(n, max(0, round(v)))
    return int(dom.low) + k * int(step) if dom.kind == "int" else float(dom.low + k * step)


def _to_hp(dom: Domain, value: Any) -> float:
    if isinstance(dom, Categorical):
        return dom.index(value)
    if (isinstance(dom, Float) and dom.step is None) or dom.log:
        return float(value)
    step, _ = _steps(dom)
    return float(round((value - dom.low) / step))


class TPESearcher(SpaceSearcher):
    """hyperopt TPE on a native conditional tree; seeded, warm-startable, failure-proof."""

    def __init__(
        self, space: SearchSpace, *, n_startup: int = 10, gamma: float = 0.25,
        n_candidates: int = 24, **kwargs: Any
    ):
        super().__init__(space, **kwargs)
        self.n_startup = n_startup
        self.gamma = gamma
        self.n_candidates = n_candidates  # hyperopt's n_EI_candidates
        self._setup()
        self.trials = Trials()
        self._tids: dict[str, int] = {}  # Ray trial id -> hyperopt tid

    def _setup(self) -> None:
        self._tree = _Tree(self.space)
        self._domain = HyperoptDomain(_identity, self._tree.expr) if self._tree.nodes else None

    def _propose(self, trial_id: str) -> dict:
        self._require_metric()
        if self._domain is None:  # nothing searchable: every config is the same
            return self.space.sample(self.rng)
        tid = self.trials.new_trial_ids(1)[0]
        seed = int(self.rng.integers(2**31 - 1))
        docs = hyperopt_tpe.suggest(
            [tid],
            self._domain,
            self.trials,
            seed,
            n_startup_jobs=self.n_startup,
            gamma=self.gamma,
            n_EI_candidates=self.n_candidates,
            verbose=False,
        )
        self.trials.insert_trial_docs(docs)
        self.trials.refresh()
        self._tids[trial_id] = tid
        return self._tree.decode(docs[0]["misc"]["vals"])

    def _observe(self, trial_id: str, config: dict, loss: float | None, result: dict | None):
        if self._domain is None:
            return
        tid = self._tids.pop(trial_id, None)
        if tid is None:  # a warm-start point: write the doc hyperopt would have written
            if loss is None:
                return
            tid = self._insert_point(config)
        doc = next(d for d in self.trials._dynamic_trials if d["tid"] == tid)
        if loss is None:  # kept as a finished 'fail' without loss: TPE counts it as worst
            doc["state"], doc["result"] = JOB_STATE_DONE, {"status": STATUS_FAIL}
        else:
            doc["state"], doc["result"] = JOB_STATE_DONE, {"status": STATUS_OK, "loss": loss}
        self.trials.refresh()

    def _insert_point(self, config: dict) -> int:
        tid = self.trials.new_trial_ids(1)[0]
        vals = self._tree.encode(config)
        idxs = {label: [tid] if v else [] for label, v in vals.items()}
        misc = {
            "tid": tid,
            "cmd": self._domain.cmd,
            "workdir": self._domain.workdir,
            "idxs": idxs,
            "vals": vals,
        }
        docs = self.trials.new_trial_docs([tid], [None], [self._domain.new_result()], [misc])
        self.trials.insert_trial_docs(docs)
        return tid

    # hyperopt's Domain holds compiled graphs; rebuild it instead of pickling it
    def get_state(self) -> dict:
        state = super().get_state()
        state.pop("_tree", None)
        state.pop("_domain", None)
        return state

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        self._setup()
