"""Framework overhead on a trivial trainable: Ray Tune defaults vs ``tuner launch`` vs Optuna.

    python -m benchmarks.overhead --out benchmarks/results/overhead

N trials × ≤ 10 reports of ``benchmarks.trivial`` (no work per report), each run in a fresh
subprocess with Ray on all of the machine's CPUs for every Ray variant, variants interleaved
(so a busy machine slows all of them alike):

* ``ray-defaults`` — ``tune.Tuner(trivial_fn, param_space=U(−5,5)², TuneConfig(num_samples=N,
  metric, mode))``: random search, FIFO, no actor reuse — what the Ray docs start with;
* ``ray-reuse`` — the same with ``reuse_actors=True``, the one flag that removes most of it;
* ``tuner-fifo`` — ``python -m tuner launch`` on a generated experiment file for
  ``benchmarks.trivial:Trivial`` with ``--set method=random``: random search + FIFO, every
  trial's 10 reports — **the same work as both Ray variants**, so these three compare like
  with like (per trial and per report);
* ``tuner-launch`` — the same file with our defaults (default method, ASHA over budget 1..10,
  η=3): fewer reports, since ASHA stops most trials early — what a user gets;
* ``optuna`` — ``study.optimize`` in-process, ``TPESampler`` + ``HyperbandPruner(1, 10, 3)``.

What is measured, per run:

* **process wall** — the whole subprocess: interpreter, imports, Ray's start and shutdown;
* **Ray start** — ``ray.init`` (the same call for both Ray variants; 0 for Optuna);
* **tuning wall** — everything after Ray is up until the search returns, *excluding* Ray's
  start for both Ray variants: building the Tuner + ``Tuner.fit()`` (for ``tuner launch`` the
  runner prints this figure; its results files and test score come after), or
  ``create_study`` + ``study.optimize``. It still holds one-off costs: the first trial actors'
  start-up (~2 s here) and the final clean-up;
* **per trial** = tuning wall / N; **per report** = tuning wall / reports counted by the
  trainable (ASHA and Hyperband stop most trials early, Ray's defaults run all 10 reports);
* **marginal per trial** = (median tuning wall at the largest N − median at the smallest N)
  / (difference in N): what one more trial costs once everything is started — the fairest
  per-trial figure, since the fixed costs cancel.

The ratios compare per-trial figures with ``ray-defaults`` (the issue's target: ``tuner
launch`` ≤ 1/20 of it) and with Optuna. Figures are medians over ``--repeats``; each run's
1-minute load average is recorded, since 2 shared cores make every number noisy.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

__all__ = ["main"]

N_REPORTS = 10
VARIANTS = ("ray-defaults", "ray-reuse", "tuner-fifo", "tuner-launch", "optuna")

_RAY = """
import json, os, sys, time
t_import = time.time()
import ray
from ray import tune
from benchmarks.trivial import trivial_fn
t0 = time.time()
ray.init(address="local", include_dashboard=False, log_to_driver=False)  # all CPUs, as tuner
t1 = time.time()
tuner = tune.Tuner(trivial_fn,
    param_space={"x": tune.uniform(-5, 5), "y": tune.uniform(-5, 5), "max_epochs": 10},
    tune_config=tune.TuneConfig(num_samples=int(sys.argv[2]), metric="loss", mode="min",
                                reuse_actors=sys.argv[3] == "reuse"),
    run_config=tune.RunConfig(storage_path=sys.argv[1], verbose=0))
grid = tuner.fit()
t2 = time.time()
best = grid.get_best_result().metrics["loss"]
ray.shutdown()
print(json.dumps({"init_s": t1 - t0, "tune_s": t2 - t1, "trials": len(grid), "best": best}))
"""

_OPTUNA = """
import json, os, sys, time
import optuna
from benchmarks.trivial import count_report, loss
optuna.logging.set_verbosity(optuna.logging.WARNING)
def objective(trial):
    x, y = trial.suggest_float("x", -5, 5), trial.suggest_float("y", -5, 5)
    for epoch in range(1, 11):
        count_report()
        v = loss(x, y, epoch)
        trial.report(v, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return v
t1 = time.time()
study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0),
    pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=10, reduction_factor=3))
study.optimize(objective, n_trials=int(sys.argv[1]))
t2 = time.time()
print(json.dumps({"init_s": 0.0, "tune_s": t2 - t1, "trials": len(study.trials),
                  "best": study.best_value}))
"""

_EXPERIMENT = """
name: overhead
description: trivial trainable, framework overhead
trainable: benchmarks.trivial:Trivial
space:
  x: {type: float, low: -5, high: 5}
  y: {type: float, low: -5, high: 5}
budget: {min: 1, max: 10, eta: 3}
metric: loss
mode: min
resources: {cpus: 1, gpus: 0}
seed: 0
"""


def _profiled(cmd: list[str], workdir: Path, out: Path | None, tag: str) -> list[str]:
    """``cmd`` run under cProfile into ``out/<tag>.prof`` (the driver's process only; Ray's
    trial actors are other processes); ``python -c SCRIPT`` becomes a script file."""
    if out is None:
        return cmd
    rest = cmd[1:]
    if rest[0] == "-c":
        script = workdir / f"{tag}.py"
        script.write_text(rest[1])
        rest = [str(script), *rest[2:]]
    return [cmd[0], "-m", "cProfile", "-o", str(out / f"{tag}.prof"), *rest]


def _run(variant: str, n: int, workdir: Path, repo: Path, profile: Path | None = None) -> dict:
    tag = f"{variant}-{n}-{len(list(workdir.iterdir()))}"
    counter = workdir / f"{tag}.count"
    counter.write_text("")
    env = {**os.environ, "TRIVIAL_COUNTER": str(counter), "PYTHONPATH": str(repo),
           "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")}
    storage = workdir / f"{tag}-results"
    if variant in ("ray-defaults", "ray-reuse"):
        cmd = [sys.executable, "-c", _RAY, str(storage), str(n),
               "reuse" if variant == "ray-reuse" else "default"]
    elif variant == "optuna":
        cmd = [sys.executable, "-c", _OPTUNA, str(n)]
    elif variant in ("tuner-launch", "tuner-fifo"):
        exp = workdir / "overhead.yaml"
        exp.write_text(textwrap.dedent(_EXPERIMENT))
        cmd = [sys.executable, "-m", "tuner", "launch", str(exp), "--storage", str(storage),
               "--num-samples", str(n)]
        if variant == "tuner-fifo":  # random search + FIFO: every trial's 10 reports, as Ray's
            cmd += ["--set", "method=random"]
    else:
        raise SystemExit(f"unknown variant {variant!r}: {', '.join(VARIANTS)}")
    cmd = _profiled(cmd, workdir, profile, tag)
    load = os.getloadavg()[0]
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, check=False)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{variant} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    reports = len(counter.read_text())
    if variant.startswith("tuner-"):
        # "results: … in 9.6 s (Ray start 4.10 s, tuning 5.01 s)"
        m = re.search(r"\(Ray start ([\d.]+) s, tuning ([\d.]+) s\)", proc.stdout)
        best = re.search(r"validation loss ([\d.]+)", proc.stdout)
        method = re.search(r"searcher (\S+), scheduler (\S+),", proc.stdout)
        info = {"init_s": float(m.group(1)), "tune_s": float(m.group(2)), "trials": n,
                "best": float(best.group(1)) if best else None,
                "method": " + ".join(method.groups()) if method else None}
    else:
        info = json.loads(proc.stdout.strip().splitlines()[-1])
    info.update(variant=variant, n=n, process_s=wall, reports=reports, load=load)
    return info


def _median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows) if rows else float("nan")


def summarise(rows: list[dict]) -> tuple[list[dict], dict[str, float]]:
    """Median figures per (variant, N), and the marginal seconds per trial per variant."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["variant"], r["n"]), []).append(r)
    summary = []
    for (variant, n), rs in groups.items():
        tune_s = _median(rs, "tune_s")
        summary.append({
            "variant": variant, "n": n, "runs": len(rs),
            "process_s": _median(rs, "process_s"), "init_s": _median(rs, "init_s"),
            "tune_s": tune_s, "reports": _median(rs, "reports"),
            "per_trial_s": tune_s / n,
            "per_report_s": statistics.median(r["tune_s"] / max(1, r["reports"]) for r in rs),
        })
    marginal = {}
    for variant in dict.fromkeys(r["variant"] for r in rows):
        sizes = sorted(n for v, n in groups if v == variant)
        if len(sizes) >= 2:
            lo, hi = sizes[0], sizes[-1]
            marginal[variant] = ((_median(groups[variant, hi], "tune_s")
                                  - _median(groups[variant, lo], "tune_s")) / (hi - lo))
    return summary, marginal


def _ratio(value: float, reference: float | None) -> str:
    if not reference or math.isnan(reference) or math.isnan(value) or value <= 0:
        return "–"
    return f"1/{reference / value:,.1f}" if value < reference else f"{value / reference:,.1f}×"


def format_tables(rows: list[dict]) -> str:
    summary, marginal = summarise(rows)
    ref = {(s["variant"], s["n"]): s for s in summary}
    header = ("| variant | N | runs | process wall s | Ray start s | tuning wall s (excl. Ray "
              "start) | reports | s / trial | ms / report | s / trial vs ray-defaults | "
              "vs Optuna |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|---|"]
    order = {v: i for i, v in enumerate(VARIANTS)}
    for s in sorted(summary, key=lambda s: (s["n"], order.get(s["variant"], 9), s["variant"])):
        ray = ref.get(("ray-defaults", s["n"]))
        opt = ref.get(("optuna", s["n"]))
        lines.append(
            f"| {s['variant']} | {s['n']} | {s['runs']} | {s['process_s']:.1f} | "
            f"{s['init_s']:.2f} | {s['tune_s']:.2f} | {s['reports']:.0f} | "
            f"{s['per_trial_s']:.3f} | {1e3 * s['per_report_s']:.1f} | "
            f"{_ratio(s['per_trial_s'], ray and ray['per_trial_s'])} | "
            f"{_ratio(s['per_trial_s'], opt and opt['per_trial_s'])} |")
    if marginal:
        lines += ["", "| variant | marginal s / trial | vs ray-defaults | vs Optuna |",
                  "|---|---|---|---|"]
        for variant, m in sorted(marginal.items(), key=lambda kv: order.get(kv[0], 9)):
            lines.append(f"| {variant} | {m:.3f} | {_ratio(m, marginal.get('ray-defaults'))} "
                         f"| {_ratio(m, marginal.get('optuna'))} |")
    return "\n".join(lines)


def readme(rows: list[dict], command: str, repeats: int) -> str:
    loads = [r["load"] for r in rows]
    methods = sorted({r["method"] for r in rows if r.get("method")})
    return (
        f"# overhead\n\nCommand:\n\n    {command}\n\n"
        f"N trials × ≤ {N_REPORTS} reports of benchmarks.trivial on {os.cpu_count()} CPUs; "
        f"medians over up to {repeats} run(s) per variant and N (column 'runs'); tuner "
        "launch's default method ran "
        f"{' / '.join(methods) or '(not recorded)'}. 'tuning wall' excludes Ray's start for "
        "both Ray variants (Tuner built + fit(); create_study + optimize for Optuna); "
        "'marginal' = difference of tuning walls between the largest and smallest N ÷ the "
        "difference in N. Definitions: benchmarks/overhead.py. 1-minute load average at the "
        f"start of the runs: {min(loads):.1f}–{max(loads):.1f} ({os.cpu_count()} cores).\n\n"
        f"{format_tables(rows)}\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.overhead")
    p.add_argument("--variants", default=",".join(reversed(VARIANTS)))
    p.add_argument("--sizes", default="40,80", help="trial counts (two or more give the "
                   "marginal cost per trial)")
    p.add_argument("--repeats", type=int, default=3, help="runs per variant and N (medians)")
    p.add_argument("--out", required=True)
    p.add_argument("--profile", metavar="DIR", help="run each driver under cProfile and keep "
                   "DIR/<variant>-<N>-<k>.prof (slows the drivers: not for the figures)")
    args = p.parse_args(argv)
    repo = Path(__file__).resolve().parents[1]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = [int(n) for n in args.sizes.split(",")]
    rows = []
    profile = Path(args.profile).resolve() if args.profile else None
    if profile:
        profile.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks.overhead " + " ".join(argv if argv is not None
                                                           else sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="overhead_") as tmp:
        for r in range(args.repeats):
            for n in sizes:
                for v in args.variants.split(","):
                    info = _run(v, n, Path(tmp), repo, profile)
                    info["repeat"] = r
                    rows.append(info)
                    print(json.dumps(info), flush=True)
                    # after every run: a long run stopped early keeps what it measured (the
                    # tables' "runs" column says how many repeats each figure has)
                    (out / "README.md").write_text(readme(rows, command, args.repeats))
                    (out / "runs.json").write_text(json.dumps(rows, indent=1))
    print(format_tables(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
