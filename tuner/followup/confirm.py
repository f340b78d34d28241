"""``tuner confirm``: retrain a run's top configs with fresh seeds, so the pick is not a lucky seed.

A search picks the maximum of many noisy validation scores, and the maximum of noisy scores is
biased upward ("overfitting the validation set": Cawley & Talbot, JMLR 2010; Bouthillier et al.,
MLSys 2021, who show seed variance alone reorders close configs). Retraining each of the top
``k`` configs with ``s`` fresh seeds, at full budget, gives mean ± spread per config on
validation and test — a measured answer to "is #1 really better than #2?".

Built on the runner ``tuner.run`` uses (``tuner.launch.runner.run``): one experiment whose searcher proposes exactly
the ``k × s`` points (``points_to_evaluate`` of the random searcher, each with its seed;
``num_samples = k × s``)
under the FIFO scheduler, so every retrain runs to the full budget, in parallel on Ray, with
the same retries and checkpoints as any run. The seed is a searched value because
``TrainConfig.seed`` is what trials read; it fixes the data split, the initialisation and the
data order together, so the spread is that of a repeated hold-out (split variation included),
and each retrain's test score is on the test split of its own seed.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from tuner.errors import ConfigError
from tuner.record.results import ERRORED, TrialRecord

__all__ = ["ConfigScore", "confirm_experiment", "confirm_markdown", "run_confirm", "summarise",
           "top_configs"]


@dataclass
class ConfigScore:
    """One top config: its rank in the first run and the fresh-seed scores."""

    rank: int
    trial_id: str
    config: dict[str, Any]
    original: float
    val: list[float]
    test: list[float]
    others: dict[str, list[float]] = field(default_factory=dict)  # other objectives (fresh)

    @staticmethod
    def _ms(xs: list[float]) -> str:
        if not xs:
            return "–"
        sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
        mean = statistics.fmean(xs)
        if abs(mean) >= 1000:  # a count (parameters) or a long time: digits, not decimals
            return f"{mean:.6g} ± {sd:.3g} (n={len(xs)})"
        return f"{mean:.4f} ± {sd:.4f} (n={len(xs)})"


def top_configs(table, metric: str, mode: str, k: int) -> list[tuple[str, dict, float]]:
    """(trial id, config, value) of the ``k`` best distinct configs, longest-trained first
    (as ``results.pick_best`` ranks: a shorter trial's score is from a cheaper fidelity)."""
    rows = []
    for r in table.rows:
        cell = r["row"].get(f"last_{metric}", "")
        if r["status"].startswith(ERRORED) or not cell or not math.isfinite(float(cell)):
            continue
        rows.append((r["epochs"], float(cell), r))
    sign = -1 if mode == "max" else 1
    rows.sort(key=lambda t: (-t[0], sign * t[1]))
    out: list[tuple[str, dict, float]] = []
    for _, value, r in rows:
        if all(r["config"] != c for _, c, _ in out):
            out.append((r["trial_id"], r["config"], value))
        if len(out) == k:
            break
    if not out:
        raise ConfigError(f"{table.path}: no finished trial to confirm")
    return out


def front_configs(table, k: int | None) -> list[tuple[str, dict, float]]:
    """(trial id, searched config, first objective) of each Pareto member ``best.json``
    lists (several objectives), in its order; ``k`` caps how many."""
    front = table.best.get("pareto") or []
    if not front:
        raise ConfigError(f"{table.path}: best.json lists no Pareto front to confirm")
    first = next(iter(table.best.get("objectives") or {}), table.best.get("metric"))
    return [(m["trial_id"], dict(m["params"]), float(m["objectives"][first]))
            for m in front[:k]]


def confirm_experiment(raw: dict[str, Any], configs: list[dict], seeds: list[int],
                       name: str) -> dict[str, Any]:
    """The raw experiment that retrains ``configs`` × ``seeds`` at full budget (FIFO)."""
    from search_spaces import space_from_dict, space_to_dict
    from tuner.experiment.config import parse_experiment

    space = parse_experiment(dict(raw)).space
    if "seed" in space:
        raise ConfigError("confirm: 'seed' is a searched parameter here; nothing to vary")
    spec = space_to_dict(space)
    spec["seed"] = {"type": "categorical", "choices": list(seeds)}
    space_from_dict(spec)  # validates
    out = {k: v for k, v in raw.items() if k not in ("method", "searcher", "scheduler")}
    out["config"] = {k: v for k, v in (raw.get("config") or {}).items() if k != "seed"}
    out.update(name=name, space=spec, searcher="random", scheduler="fifo",
               num_samples=len(configs) * len(seeds),
               points_to_evaluate=[{**c, "seed": s} for c in configs for s in seeds],
               description=f"tuner confirm: {len(configs)} configs × seeds {seeds}")
    return out


def summarise(top: list[tuple[str, dict, float]], records: list[TrialRecord],
              test: dict[str, dict[str, float]], others: tuple[str, ...] = ()
              ) -> list[ConfigScore]:
    """Group the retrains by config (a record's config minus its seed); ``others``: the
    other objectives of a multi-objective run, collected per config too."""
    scores = [ConfigScore(i + 1, tid, cfg, value, [], [], {n: [] for n in others})
              for i, (tid, cfg, value) in enumerate(top)]
    for r in records:
        if r.status.startswith(ERRORED) or r.last is None:
            continue
        for s in scores:
            if all(_same(r.config.get(k), v) for k, v in s.config.items()):
                s.val.append(r.last)
                for n in others:
                    if r.value(n) is not None:
                        s.others[n].append(r.value(n))
                acc = next((v for k, v in test.get(r.trial_id, {}).items() if "acc" in k), None)
                if acc is not None:
                    s.test.append(acc)
                break
    return scores


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-5)
        except (TypeError, ValueError):
            return False
    return a == b or repr(a) == repr(b)


def confirm_markdown(name: str, metric: str, scores: list[ConfigScore], seeds: list[int],
                     front: bool = False) -> str:
    others = list(scores[0].others) if scores else []
    what = (f"The {len(scores)} Pareto members" if front else f"Top {len(scores)} configs")
    out = [f"# Confirm `{name}`", "",
           f"{what} retrained at full budget with fresh seeds {seeds} "
           "(a seed re-draws split, initialisation and data order); mean ± standard deviation.",
           "", f"| {'member' if front else 'rank'} | trial | first run {metric} | validation "
               "(fresh seeds) | " + "".join(f"{n} (fresh seeds) | " for n in others)
               + "test accuracy (fresh seeds) | config |", "|---" * (6 + len(others)) + "|"]
    for s in scores:
        cfg = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in s.config.items())
        out.append(f"| {s.rank} | {s.trial_id} | {s.original:.4f} | {s._ms(s.val)} | "
                   + "".join(f"{s._ms(s.others[n])} | " for n in others)
                   + f"{s._ms(s.test)} | {cfg} |")
    if front:
        return "\n".join(out) + "\n"
    best = max((s for s in scores if s.val), key=lambda s: statistics.fmean(s.val),
               default=None)
    if best is not None:
        out += ["", f"Best mean on fresh seeds: rank {best.rank} ({best.trial_id})"
                + (" — the first run's pick holds." if best.rank == 1 else
                   " — not the first run's pick: its ordering did not hold on fresh seeds "
                   "(compare the spreads before switching).")]
    return "\n".join(out) + "\n"


def _test_scores(exp, records: list[TrialRecord]) -> dict[str, dict[str, float]]:
    """Each retrain's final checkpoint scored on its test split, the way the runner scores
    a winner (``tuner.record.finish.test_score``: our trainables, or the experiment's ``evaluate``
    hook; local or object-store checkpoints)."""
    from tuner.record.finish import test_score

    out = {}
    for r in records:
        if r.checkpoint and not r.status.startswith(ERRORED):
            scores, _note = test_score(exp, r)
            if scores:
                out[r.trial_id] = scores
    return out


def run_confirm(run_dir: str, *, top: int | None = None, seeds: int = 3,
                name: str | None = None,
                experiment_file: str | None = None, address: str | None = None,
                quiet: bool = False, write=print) -> list[ConfigScore]:
    """Retrain on Ray (``tuner.launch.runner.run``, as ``tuner.run`` does), score, and write
    ``confirm.md`` and ``confirm.json`` into the confirm run's folder."""
    from pathlib import Path

    from tuner.experiment.config import parse_experiment
    from tuner.followup.run_folder import load_run
    from tuner.followup.run_results import load
    from tuner.launch.runner import run
    from tuner.record.results import write_atomic

    if (top is not None and top < 1) or seeds < 1:
        raise ConfigError(f"confirm: --top and --seeds must be >= 1, got {top}, {seeds}")
    table = load_run(run_dir, experiment_file)
    first = parse_experiment(dict(table.experiment), base_dir=table.path)
    best = front_configs(table, top) if first.several else \
        top_configs(table, first.metric, first.mode, top or 3)
    fresh = [first.seed + 1 + j for j in range(seeds)]
    raw = confirm_experiment(table.experiment, [c for _, c, _ in best], fresh,
                             name or f"{first.name}-confirm")
    if not address:
        from tuner.launch.ray_session import local_only_env

        local_only_env()  # before anything imports ray
    outcome = run(parse_experiment(dict(raw), base_dir=Path.cwd()), address=address,
                  quiet=quiet, argv=["tuner.run", repr(raw)[:200]])
    results = load(outcome.path)
    exp = parse_experiment(raw, base_dir=table.path)
    others = tuple(exp.objectives.names[1:]) if exp.several else ()
    scores = summarise(best, results.records, _test_scores(exp, results.records), others)
    md = confirm_markdown(exp.name, exp.metric, scores, fresh, front=exp.several)
    write_atomic(f"{results.path}/confirm.md", md)
    write_atomic(f"{results.path}/confirm.json", json.dumps(
        [s.__dict__ for s in scores], indent=2, default=str) + "\n")
    if not quiet:
        write("\n" + md)
    return scores


def add_parser(sub) -> None:
    """``tuner confirm RUN_DIR [--top 3] [--seeds 3]`` (registered by tuner.cli)."""
    import argparse

    p = sub.add_parser(
        "confirm", help="retrain a run's top configs with fresh seeds (mean ± spread)",
        description="Retrain the top configs of RUN_DIR with fresh seeds at full budget, in "
                    "parallel on Ray, and report mean ± spread on validation and test per "
                    "config (written to <storage>/<name>-confirm/confirm.md). A run with "
                    "several objectives retrains its Pareto front.")
    p.add_argument("run", help="the finished run's folder, e.g. results/digits_mlp")
    p.add_argument("--top", type=int, default=None,
                   help="configs to retrain (default 3; with several objectives every "
                        "Pareto member)")
    p.add_argument("--seeds", type=int, default=3, help="fresh seeds per config (default 3)")
    p.add_argument("--name", help="name of the confirm run (default NAME-confirm)")
    p.add_argument("--experiment", help="the run's experiment file, for runs without "
                   "manifest.json")
    p.add_argument("--address", help="join a running Ray cluster (default: local Ray)")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)
    p.set_defaults(handler=command)


def command(args) -> int:
    if not args.address:
        from tuner.launch.ray_session import local_only_env

        local_only_env()  # before anything imports ray
    scores = run_confirm(args.run, top=args.top, seeds=args.seeds, name=args.name,
                         experiment_file=args.experiment, address=args.address)
    return 0 if any(s.val for s in scores) else 1
