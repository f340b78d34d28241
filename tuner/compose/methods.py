"""Methods are compositions: one registry ``name -> (searcher, scheduler, description)``.

The CLI, the runner and the benchmarks all say ``method: bohb`` and mean the same pair; there
is no subclass per combination. ``resolve`` turns what a user wrote (a method, and/or an
explicit searcher/scheduler) into the pair, validated before Ray starts; ``build_searcher``
builds the searcher, including the multi-fidelity one that needs the budget ladder.
Searchers other than ours are looked up in ``tuner.searchers.SEARCHERS`` lazily, at call time.
"""

from __future__ import annotations

from typing import Any

from search_spaces import SearchSpace
from tuner.budget import BudgetLadder
from tuner.schedulers import SCHEDULERS

__all__ = [
    "DEFAULT_METHOD",
    "DEFAULT_MULTI_OBJECTIVE",
    "DEFAULT_WITHOUT_NUMERIC",
    "METHODS",
    "METHOD_ALIASES",
    "METHOD_SCHEDULER_OPTIONS",
    "MF_SEARCHERS",
    "MethodError",
    "SEARCHER_ALIASES",
    "build_searcher",
    "canonical",
    "default_method",
    "describe",
    "multi_objective_methods",
    "resolve",
    "scheduler_options",
    "searcher_names",
]

METHODS: dict[str, tuple[str, str, str]] = {
    "random": ("random", "fifo", "random search, every trial to the max budget"),
    "grid": ("grid", "fifo", "every point of a finite grid, to the max budget"),
    "hyperopt-tpe": ("hyperopt-tpe", "fifo", "hyperopt's TPE, every trial to the max budget"),
    "optuna-tpe": ("optuna-tpe", "fifo",
                   "Optuna's multivariate TPE (constant liar), every trial to the max budget"),
    "optuna-nsga2": ("optuna-nsga2", "fifo",
                     "Optuna's NSGA-II (several objectives), every trial to the max budget"),
    "asha-optuna-tpe": ("optuna-tpe", "asha",
                        "Optuna's TPE (MOTPE for several objectives) on finished trials + ASHA "
                        "(MO-ASHA)"),
    "asha": ("random", "asha", "random search + asynchronous successive halving (MO-ASHA "
                               "with several objectives)"),
    "hyperband": ("random", "hyperband", "random search + synchronous HyperBand (paper brackets)"),
    "bohb": ("mf-optuna-tpe", "hyperband", "BOHB: Optuna TPE per rung + synchronous HyperBand"),
    "asha-mf-optuna-tpe": ("mf-optuna-tpe", "asha",
                           "Optuna TPE per rung + ASHA (asynchronous BOHB)"),
    "asha-hyperopt-tpe": ("hyperopt-tpe", "asha",
                          "Ray's usual wiring: hyperopt's TPE on finished trials + ASHA"),
    "asha-pso": ("pso", "asha", "asynchronous PSO moved by each trial's last rung + ASHA"),
    "asha-checked-pso": ("pso", "asha-checked",
                         "asha-pso whose rungs stop trials only while they rank like the top"),
    "asha-checked-pso-scouts": ("pso", "asha-checked",
                                "asha-checked-pso where half the new trials are uniform "
                                "scouts (cheap exploration under ASHA)"),
    "asha-pso-2brackets": ("pso", "asha",
                           "asha-pso over two ASHA brackets: ~1 trial in 4 starts at rung 2"),
    "asha-promotion": ("random", "asha-promotion",
                       "random search + promotion-type ASHA: trials pause at each rung, the "
                       "top 1/eta resume (needs checkpoints)"),
    "asha-promotion-pso": ("pso", "asha-promotion",
                           "PSO + promotion-type ASHA; PSO learns from finished trials only, "
                           "so mostly scouts (docs/schedulers.md)"),
    "median": ("random", "median", "random search + median stopping rule"),
    "pbt": ("random", "pbt", "population based training from a random population"),
    "pb2": ("random", "pb2", "population based bandits (GP-UCB explore), random population"),
    "bayesopt": ("bayesopt", "fifo", "Gaussian-process Bayesian optimisation, full budget"),
    "pso": ("pso", "fifo", "particle swarm optimisation, full budget"),
}

# Measured, not assumed (docs/benchmarks.md): asha-pso has the best mean rank of the
# multi-fidelity methods on the 9 dev instances (dev30-w4, 30 seeds) and against every peer
# but SMAC3's multi-fidelity facade at full fidelity. asha-checked-pso is asha-pso plus the
# rung check: on the dev instances the two are level (paired -0.0002 +- 0.0005 at 4 workers,
# +0.0003 +- 0.0005 at 1 on rbv2; identical on lcbench at 4 workers, -0.0119 vs -0.0102 at 1),
# and on an instance built to mislead (benchmarks.synthetic.MisleadingFidelity) it falls back
# to full fidelity where asha-pso cannot (0.17 vs 0.69 final regret): a default that notices
# misleading rungs at no cost where they agree (issue 12). Confirmed on the held-out set
# (level mean regret, better mean rank, fewer instances far behind the best peer).
DEFAULT_METHOD = "asha-checked-pso-scouts"
# PSO needs a numeric parameter to move along: on a space without one the default is this.
DEFAULT_WITHOUT_NUMERIC = "asha-hyperopt-tpe"
# Several objectives (``metric: [..]``): random proposals + MO-ASHA (Schmucker et al. 2021),
# chosen on the YAHPO dev instances against MOTPE + MO-ASHA (docs/objectives.md).
DEFAULT_MULTI_OBJECTIVE = "asha"

# Searchers that live here because they need the ladder (they learn per rung).
MF_SEARCHERS = {"mf-optuna-tpe": "Optuna's TPE fitted on the highest rung with enough points "
                                  "(BOHB's model)"}

# A method's own scheduler settings, under what the user writes (``scheduler.brackets`` wins).
# Two brackets (Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys
# 2020, §3: ASHA with several brackets, as HyperBand hedges): the second bracket's trials are
# never judged on the lowest rung — a hedge against a misleading first rung that costs
# nothing to detect. Ray's ``AsyncHyperBandScheduler`` weights bracket s by e^(rungs_s - max),
# so with 4 rungs ~27 % of trials land there. Measured, not the default: docs/benchmarks.md.
METHOD_SCHEDULER_OPTIONS: dict[str, dict[str, Any]] = {"asha-pso-2brackets": {"brackets": 2}}

# A method's own searcher settings, under what the user writes (``searcher.scout_fraction``
# wins). Scouts: half the new trials are uniform draws instead of a particle's next position.
# Under ASHA a poor scout costs one rung, so exploring stays cheap while the swarm exploits
# (measured for issue 21: docs/benchmarks.md, "Candidates for the default").
METHOD_SEARCHER_OPTIONS: dict[str, dict[str, Any]] = {
    "asha-checked-pso-scouts": {"scout_fraction": 0.5}}

# Old names that did not say whose TPE they ran (issue 12): still accepted, with one
# deprecation line per name and process.
METHOD_ALIASES = {"tpe": "hyperopt-tpe", "asha-tpe": "asha-mf-optuna-tpe",
                  "asha-hyperopt": "asha-hyperopt-tpe"}
SEARCHER_ALIASES = {"tpe": "hyperopt-tpe", "mf-tpe": "mf-optuna-tpe"}
_warned: set[tuple[str, str]] = set()

# A learning searcher next to PBT would be fed results of configs PBT has since changed.
_PBT_SEARCHERS = frozenset({"random", "grid"})


from tuner.errors import MethodError  # noqa: E402  (re-exported)


def searcher_names() -> list[str]:
    """Every searcher name available now (ours + ``tuner.searchers.SEARCHERS``)."""
    from tuner.searchers import SEARCHERS  # lazily: searchers are added by others

    return sorted(set(SEARCHERS) | set(MF_SEARCHERS))


def default_method(space: SearchSpace | None = None, several: bool = False) -> str:
    """``DEFAULT_METHOD``, or ``DEFAULT_WITHOUT_NUMERIC`` for a space PSO cannot move in, or
    ``DEFAULT_MULTI_OBJECTIVE`` for several objectives."""
    if several:
        return DEFAULT_MULTI_OBJECTIVE
    if space is not None:
        from search_spaces import SpaceError
        from tuner.searchers.pso import check_pso_space

        try:
            check_pso_space(space)
        except SpaceError:
            return DEFAULT_WITHOUT_NUMERIC
    return DEFAULT_METHOD


def canonical(kind: str, name: str | None) -> str | None:
    """The current name for ``name`` (a ``method`` or ``searcher``); an old alias prints one
    deprecation line to stderr, once per name and process, so logs stay readable."""
    aliases = METHOD_ALIASES if kind == "method" else SEARCHER_ALIASES
    if name not in aliases:
        return name
    new = aliases[name]
    if (kind, name) not in _warned:
        _warned.add((kind, name))
        import sys

        print(f"tuner: {kind} {name!r} is deprecated, use {new!r} (the same {kind}; the new "
              "name says whose TPE it runs)", file=sys.stderr)
    return new


def resolve(method: str | None = None, searcher: str | None = None,
            scheduler: str | None = None, space: SearchSpace | None = None,
            several: bool = False) -> tuple[str, str]:
    """``(searcher_name, scheduler_name)``; an explicit searcher/scheduler overrides the
    method's part. Nothing given → ``default_method(space)``. Only a searcher given → it runs
    under the default method's scheduler (a ``--set searcher=random`` keeps early stopping);
    only a scheduler given → random search proposes for it. Old names are accepted
    (``canonical``). ``several``: the experiment names several objectives — the default is
    ``DEFAULT_MULTI_OBJECTIVE``, and a searcher or scheduler that takes one is refused."""
    method, searcher = canonical("method", method), canonical("searcher", searcher)
    if method is not None:
        if method not in METHODS:
            raise MethodError(f"unknown method {method!r}; one of {', '.join(METHODS)}")
        base_searcher, base_scheduler, _ = METHODS[method]
    elif searcher is None and scheduler is None:
        base_searcher, base_scheduler, _ = METHODS[default_method(space, several)]
    else:
        base_searcher, base_scheduler = "random", METHODS[default_method(space, several)][1]
    searcher_name = searcher or base_searcher
    scheduler_name = scheduler or base_scheduler
    if scheduler_name not in SCHEDULERS:
        raise MethodError(f"unknown scheduler {scheduler_name!r}; one of {', '.join(SCHEDULERS)}")
    available = searcher_names()
    if searcher_name not in available:
        raise MethodError(f"unknown or unavailable searcher {searcher_name!r}; one of "
                          f"{', '.join(available)}")
    if several:
        _check_several(method, searcher_name, scheduler_name)
    if scheduler_name in ("pbt", "pb2") and searcher_name not in _PBT_SEARCHERS:
        raise MethodError(f"scheduler {scheduler_name} mutates configs itself; use searcher "
                          f"random or grid for its initial population, got {searcher_name!r}")
    return searcher_name, scheduler_name


def _check_several(method: str | None, searcher: str, scheduler: str) -> None:
    """Several objectives: refuse a searcher or scheduler that takes one, in one line that
    names the ones that take several."""
    from tuner.schedulers import MULTI_OBJECTIVE_SCHEDULERS
    from tuner.searchers import MULTI_OBJECTIVE_SEARCHERS

    which = f" (method {method})" if method else ""
    if searcher not in MULTI_OBJECTIVE_SEARCHERS:
        raise MethodError(f"searcher {searcher}{which} takes one objective, and this "
                          f"experiment names several; searchers that take several: "
                          f"{', '.join(MULTI_OBJECTIVE_SEARCHERS)}; methods: "
                          f"{', '.join(multi_objective_methods())}")
    if scheduler not in MULTI_OBJECTIVE_SCHEDULERS:
        raise MethodError(f"scheduler {scheduler}{which} takes one objective, and this "
                          f"experiment names several; schedulers that take several: "
                          f"{', '.join(MULTI_OBJECTIVE_SCHEDULERS)}; methods: "
                          f"{', '.join(multi_objective_methods())}")


def multi_objective_methods() -> list[str]:
    """The methods whose searcher and scheduler both take several objectives."""
    from tuner.schedulers import MULTI_OBJECTIVE_SCHEDULERS
    from tuner.searchers import MULTI_OBJECTIVE_SEARCHERS

    return [n for n, (se, sc, _) in METHODS.items()
            if se in MULTI_OBJECTIVE_SEARCHERS and sc in MULTI_OBJECTIVE_SCHEDULERS]


def scheduler_options(method: str | None, scheduler: str, given: dict | None = None) -> dict:
    """The scheduler's options: the method's own (``METHOD_SCHEDULER_OPTIONS``, only while
    the method's scheduler is the one in use), then what the user ``given``, which wins."""
    own = METHOD_SCHEDULER_OPTIONS.get(canonical("method", method) or "", {})
    if method in METHODS and METHODS[method][1] != scheduler:
        own = {}  # the user swapped the scheduler: the method's settings were for its own
    return {**own, **(given or {})}


def searcher_options(method: str | None, searcher: str, given: dict | None = None) -> dict:
    """The searcher's options: the method's own (``METHOD_SEARCHER_OPTIONS``, only while the
    method's searcher is the one in use), then what the user ``given``, which wins."""
    own = METHOD_SEARCHER_OPTIONS.get(canonical("method", method) or "", {})
    if method in METHODS and METHODS[method][0] != searcher:
        own = {}  # the user swapped the searcher: the method's settings were for its own
    return {**own, **(given or {})}


def build_searcher(searcher_name: str, space: SearchSpace, ladder: BudgetLadder, *,
                   metric: str, mode: str, seed: int | None = None,
                   points_to_evaluate: list[dict] | None = None, **options: Any):
    """The searcher called ``searcher_name``; ``options`` are its constructor knobs."""
    common = dict(metric=metric, mode=mode, seed=seed, points_to_evaluate=points_to_evaluate)
    searcher_name = SEARCHER_ALIASES.get(searcher_name, searcher_name)
    if searcher_name == "mf-optuna-tpe":
        from tuner.searchers.mf_tpe import MultiFidelityTPE

        return MultiFidelityTPE(space, ladder, **common, **options)
    from tuner.searchers import SEARCHERS, make_searcher

    if searcher_name not in SEARCHERS:
        raise MethodError(f"unknown or unavailable searcher {searcher_name!r}; one of "
                          f"{', '.join(searcher_names())}")
    return make_searcher(searcher_name, space, **common, **options)


def describe() -> str:
    """The registry as plain-text tables (``tuner methods``): methods, then every searcher and
    every scheduler (from their registries, so a new one is listed without an edit here), then
    the deprecated names — column widths from the names, so long names stay aligned."""
    from tuner.searchers import SEARCHERS

    sw = max(len(s) for s, _, _ in METHODS.values())
    kw = max(len(k) for _, k, _ in METHODS.values())
    width = max(map(len, METHODS))
    lines = [f"{'method':<{width}}  {'searcher':<{sw}}  {'scheduler':<{kw}}  description"]
    for name, (searcher, scheduler, text) in METHODS.items():
        mark = " (default)" if name == DEFAULT_METHOD else ""
        mark += " (default without numeric parameters)" if name == DEFAULT_WITHOUT_NUMERIC else ""
        mark += " (default for several objectives)" if name == DEFAULT_MULTI_OBJECTIVE else ""
        lines.append(f"{name:<{width}}  {searcher:<{sw}}  {scheduler:<{kw}}  {text}{mark}")
    texts = {n: (cls.__doc__ or "").strip().splitlines()[0] for n, cls in SEARCHERS.items()}
    texts.update(MF_SEARCHERS)
    width = max(map(len, texts))
    lines += ["", "searchers (searcher: NAME overrides a method's):"]
    lines += [f"  {n:<{width}}  {texts[n]}" for n in sorted(texts)]
    width = max(map(len, SCHEDULERS))
    lines += ["", "schedulers (scheduler: NAME overrides a method's):"]
    lines += [f"  {n:<{width}}  {text}" for n, text in SCHEDULERS.items()]
    old = {**{f"method {a}": b for a, b in METHOD_ALIASES.items()},
           **{f"searcher {a}": b for a, b in SEARCHER_ALIASES.items()}}
    lines += ["", "deprecated names (still accepted): "
              + ", ".join(f"{a} → {b}" for a, b in old.items())]
    return "\n".join(lines)
