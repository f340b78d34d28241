"""Which parameters mattered: importance and plots for ``report.md``, over the top rung's trials.

The trials of a run are copied into an in-memory Optuna study (``optuna.trial.create_trial``
with distributions mapped from our domains), so Optuna's own importance evaluators and
``optuna.visualization.matplotlib`` plots work unchanged. Importance is PED-ANOVA by default
(Watanabe et al., IJCAI 2023; ``optuna/importance/_ped_anova/evaluator.py``): Parzen estimators of
the top quantile vs all trials, no scikit-learn, and it handles conditional parameters by regime.
fANOVA (Hutter et al., ICML 2014; a random forest) is available with ``evaluator="fanova"``.

Values come from one rung only: the highest rung that at least ``min_trials`` trials reached, read
at that rung's epoch. Scores from different rungs (fewer epochs, less data) are not comparable,
and ASHA leaves only a few trials at the top rung, so the highest *well-populated* rung is the one
whose ranking we can trust.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from typing import Any

from search_spaces import Categorical, Fixed, Float, Int, SearchSpace
from tuner.budget import BudgetLadder
from tuner.record.results import ERRORED, TrialRecord, write_atomic

__all__ = ["MIN_TRIALS", "RungSample", "importances", "insights_markdown", "optuna_distributions",
           "plot_parallel", "plot_slices", "report_extras", "rung_sample", "to_study"]

MIN_TRIALS = 8
PLOTS = ("parallel_coordinates.png", "slices.png")


@dataclass
class RungSample:
    """The trials read at one rung: ``rung`` index, its epoch, and (config, value) pairs."""

    rung: int
    epoch: int
    points: list[tuple[dict[str, Any], float]]
    counts: dict[int, int]  # rung index -> trials with a finite value there


def _value_at(record: TrialRecord, epoch: int, name: str | None = None) -> float | None:
    if record.status.startswith(ERRORED):
        return None
    if name is not None:  # another objective than the one ``history`` holds
        return record.value_at(name, epoch)
    if len(record.history) < epoch:
        return None
    v = record.history[epoch - 1]
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def rung_sample(records: list[TrialRecord], ladder: BudgetLadder,
                min_trials: int = MIN_TRIALS, name: str | None = None) -> RungSample:
    """The highest rung with at least ``min_trials`` finite values (else the best-populated
    one, which the caller reports as too few); ``name``: another objective's values."""
    per_rung: list[tuple[int, int, list]] = []
    for i, rung in enumerate(ladder.rungs()):
        pts = [(r.config, v) for r in records
               if (v := _value_at(r, rung.resource, name)) is not None]
        per_rung.append((i, rung.resource, pts))
    counts = {i: len(p) for i, _, p in per_rung}
    enough = [x for x in per_rung if len(x[2]) >= min_trials]
    i, epoch, pts = enough[-1] if enough else max(per_rung, key=lambda x: (len(x[2]), x[0]))
    return RungSample(i, epoch, pts, counts)


def optuna_distributions(space: SearchSpace) -> dict[str, Any]:
    """Our domains as Optuna distributions (``Fixed`` parameters are not searched: left out)."""
    from optuna.distributions import (CategoricalDistribution, FloatDistribution,
                                      IntDistribution)

    out: dict[str, Any] = {}
    for name, d in space.items():
        if isinstance(d, Fixed):
            continue
        if isinstance(d, Categorical):
            out[name] = CategoricalDistribution(list(d.choices))
        elif isinstance(d, Int):
            out[name] = IntDistribution(int(d.low), int(d.high), log=d.log, step=int(d.step or 1))
        elif isinstance(d, Float):
            step = d.step
            # Optuna needs (high - low) to be a multiple of step: end on the last grid point
            high = d.grid_values()[-1] if step is not None else d.high
            out[name] = FloatDistribution(float(d.low), float(high), log=d.log, step=step)
    return out


def to_study(points: list[tuple[dict[str, Any], float]], space: SearchSpace, mode: str):
    """An in-memory Optuna study holding one completed trial per point (active params only)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = optuna_distributions(space)
    study = optuna.create_study(direction="maximize" if mode == "max" else "minimize")
    for config, value in points:
        params = {n: config[n] for n in dists if n in config and space.is_active(n, config)}
        params = {n: v for n, v in params.items() if _in(dists[n], v)}
        if not params:
            continue
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions={n: dists[n] for n in params}, value=value))
    return study


def _in(dist, value) -> bool:
    try:
        return dist._contains(dist.to_internal_repr(value))
    except (ValueError, TypeError):
        return False


def importances(study, evaluator: str = "ped-anova", seed: int = 0) -> dict[str, float]:
    """``{param: share}`` summing to 1 (Optuna normalises), most important first.

    PED-ANOVA's target quantile is raised for small studies so that at least 5 trials form the
    "top" set, as its docstring recommends for a stable estimate.
    """
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, PedAnovaImportanceEvaluator

    if evaluator == "fanova":
        ev = FanovaImportanceEvaluator(seed=seed)
    elif evaluator == "ped-anova":
        n = len(study.trials)
        ev = PedAnovaImportanceEvaluator(target_quantile=min(0.5, max(0.1, 5 / max(n, 1))))
    else:
        raise ValueError(f"evaluator: expected 'ped-anova' or 'fanova', got {evaluator!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dict(optuna.importance.get_param_importances(study, evaluator=ev))


# plots ------------------------------------------------------------------------------------
def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def plot_parallel(study, metric: str) -> bytes:
    """Optuna's parallel-coordinate plot (lines coloured by the objective), as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from optuna.visualization.matplotlib import plot_parallel_coordinate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning
        ax = plot_parallel_coordinate(study, target_name=metric)
    ax.set_title(f"{metric} across parameters (one line per trial)")
    fig = ax.figure
    fig.set_size_inches(max(8, 1.6 * len(study.best_trial.params) + 2), 5)
    return _png(fig)


def plot_slices(points: list[tuple[dict[str, Any], float]], space: SearchSpace, metric: str,
                mode: str, order: list[str]) -> bytes:
    """One panel per parameter: value vs metric, each dot coloured by the metric.

    Our own and not ``optuna...plot_slice`` because Optuna colours slices by *trial number*;
    a user asks "where are the good ones", which colour-by-outcome answers at a glance.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in order if n in space and not isinstance(space[n], Fixed)]
    cols = min(3, max(1, len(names)))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    values = [v for _, v in points]
    lo, hi = min(values), max(values)
    cmap = plt.get_cmap("viridis" if mode == "max" else "viridis_r")
    for ax, name in zip(axes.flat, names):
        _slice(ax, name, space[name], points, cmap, lo, hi)
        ax.set_ylabel(metric)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    fig.suptitle(f"{metric} per parameter (colour: {metric}; brighter = better)", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def _slice(ax, name: str, dom, points, cmap, lo: float, hi: float) -> None:
    pts = [(c[name], v) for c, v in points if name in c]
    if isinstance(dom, Categorical):
        labels = [str(c) for c in dom.choices]
        xs = [dom.index(x) + 0.15 * math.sin(7.0 * k) for k, (x, _) in enumerate(pts)]
        ax.set_xticks(range(len(labels)), labels)
    else:
        xs = [float(x) for x, _ in pts]
        if dom.log:
            from matplotlib.ticker import NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # 2×10², 3×10², … overlap
    ys = [v for _, v in pts]
    ax.scatter(xs, ys, c=ys, cmap=cmap, vmin=lo, vmax=hi, s=22, edgecolors="0.3",
               linewidths=0.4)
    ax.set_xlabel(name)
    ax.grid(alpha=0.3)


# the report section ---------------------------------------------------------------------
def insights_markdown(records: list[TrialRecord], space: SearchSpace, metric: str, mode: str,
                      ladder: BudgetLadder, out_dir: str, *, evaluator: str = "ped-anova",
                      min_trials: int = MIN_TRIALS) -> str:
    """The "Parameter importance" section of report.md; writes the PNGs into ``out_dir``."""
    sample = rung_sample(records, ladder, min_trials)
    out = ["## Parameter importance", ""]
    if len(sample.points) < min_trials:
        out.append(f"Not enough trials yet ({len(sample.points)} at rung {sample.rung}; "
                   f"need ≥ {min_trials}).")
        return "\n".join(out) + "\n"
    study = to_study(sample.points, space, mode)
    shares = importances(study, evaluator)
    name = "PED-ANOVA" if evaluator == "ped-anova" else "fANOVA"
    out += [f"{name} (Optuna) over the {len(sample.points)} trials that reached rung "
            f"{sample.rung} ({sample.epoch} epoch{'s' if sample.epoch != 1 else ''}), {metric} "
            f"read at that epoch. A share says how "
            f"much a parameter's value separates the best trials from the rest.", "",
            "| parameter | importance | |", "|---|---|---|"]
    out += [f"| {p} | {s:.2f} | {'█' * round(20 * s)} |" for p, s in shares.items()]
    order = list(shares) or list(space)
    write_atomic(f"{out_dir}/{PLOTS[0]}", plot_parallel(study, metric))
    write_atomic(f"{out_dir}/{PLOTS[1]}", plot_slices(sample.points, space, metric, mode, order))
    out += ["", f"![parallel coordinates]({PLOTS[0]})", "", f"![slices]({PLOTS[1]})"]
    return "\n".join(out) + "\n"


def report_extras(exp, records: list[TrialRecord], best: TrialRecord | None,
                  test: dict[str, float]) -> str:
    """Both sections the runner appends to report.md; each failure is one line, never a crash
    (the run's results are already on disk — an analysis must not lose them)."""
    from tuner.record import confidence

    parts = []
    try:
        from tuner.experiment.user_code import resolve_trainable

        # only our torch trainables build the seeded splits split_sizes reproduces
        known = resolve_trainable(exp.trainable).has_test_split
        sizes = confidence.split_sizes(exp.trial_config()) if known else {}
    except Exception:  # a custom dataset without a loader here: no n, no interval
        sizes = {}
    try:
        parts.append("\n".join(confidence.confidence_lines(
            records, best, test, exp.metric, exp.mode, sizes.get("val"), sizes.get("test")))
            + "\n")
    except Exception as exc:
        parts.append(f"intervals unavailable: {type(exc).__name__}: {exc}\n")
    try:
        parts.append(insights_markdown(records, exp.space, exp.metric, exp.mode, exp.budget,
                                       exp.path))
    except Exception as exc:
        parts.append(f"importance unavailable: {type(exc).__name__}: {exc}\n")
    if getattr(exp, "several", False):
        parts.append(objective_importance(records, exp.space, exp.objectives, exp.budget))
    return "\n" + "\n".join(parts)


def objective_importance(records: list[TrialRecord], space: SearchSpace, objectives: Any,
                         ladder: BudgetLadder, *, min_trials: int = MIN_TRIALS) -> str:
    """Parameter importance per objective (several objectives): for each one after the
    first (the section above is the first's), PED-ANOVA over the trials that reached the
    highest rung with enough values, each read at that rung's epoch. Importance answers
    "which parameter moves this objective": model size is decided by width, not learning
    rate, and the table says so."""
    out = ["## Parameter importance per objective", ""]
    for name, mode in zip(objectives.names[1:], objectives.modes[1:]):
        sample = rung_sample(records, ladder, min_trials, name=name)
        if len(sample.points) < min_trials:
            out += [f"{name} ({mode}): not enough trials ({len(sample.points)}; need ≥ "
                    f"{min_trials}).", ""]
            continue
        shares = importances(to_study(sample.points, space, mode))
        out += [f"{name} ({mode}), {len(sample.points)} trials at rung {sample.rung} "
                f"({sample.epoch} epochs):", "", "| parameter | importance | |", "|---|---|---|"]
        out += [f"| {p} | {s:.2f} | {'█' * round(20 * s)} |" for p, s in shares.items()]
        out.append("")
    return "\n".join(out) + "\n"
