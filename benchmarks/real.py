"""The same comparison on a real trainable: methods × seeds of the digits MLP through the real
``tuner`` runner on a local Ray — does the simulated ranking hold for real training?

    python -m benchmarks.real --methods random,asha,asha-hyperopt-tpe,asha-mf-optuna-tpe --seeds 3 \
        --num-samples 16 --out benchmarks/results/real-digits

Each run is ``tuner launch examples/digits_mlp.yaml --set method=M --set seed=S`` executed
in one process (one Ray session for all runs). Reported per method: best validation accuracy,
its test accuracy (held-out split), epochs trained in total (the compute spent), wall seconds,
and the mean rank by validation accuracy within each seed.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.output import write_runs

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "examples" / "digits_mlp.yaml"


def run_all(methods: list[str], seeds: int, num_samples: int, max_epochs: int) -> list[dict]:
    import tuner

    rows = []
    storage = tempfile.mkdtemp(prefix="tuner-real-")
    try:
        for seed in range(seeds):
            for method in methods:
                t0 = time.time()
                out = tuner.run(EXPERIMENT, set=[f"method={method}",
                                                 f"budget.max={max_epochs}"],
                                name=f"{method}-s{seed}", storage=storage,
                                num_samples=num_samples, seed=seed, quiet=True)
                rows.append({
                    "method": method, "seed": seed,
                    "best_val_accuracy": out.best.last if out.best else float("nan"),
                    "test_accuracy": out.test.get("test_accuracy", float("nan")),
                    "epochs_total": int(out.trials.epochs.sum()),
                    "wall_seconds": round(time.time() - t0, 1),
                })
                print(rows[-1], flush=True)
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    return rows


def table(rows: list[dict]) -> str:
    import pandas as pd

    df = pd.DataFrame(rows)
    df["rank"] = df.groupby("seed")["best_val_accuracy"].rank(ascending=False)
    agg = df.groupby("method").agg(
        val=("best_val_accuracy", "mean"), test=("test_accuracy", "mean"),
        epochs=("epochs_total", "mean"), wall=("wall_seconds", "mean"),
        rank=("rank", "mean")).sort_values("rank")
    lines = ["| method | best val. accuracy | its test accuracy | epochs trained | wall s | "
             "mean rank |", "|---|---|---|---|---|---|"]
    for name, r in agg.iterrows():
        lines.append(f"| {name} | {r.val:.4f} | {r.test:.4f} | {r.epochs:.0f} | {r.wall:.1f} | "
                     f"{r['rank']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="random,asha,asha-hyperopt-tpe,asha-mf-optuna-tpe")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--num-samples", type=int, default=16)
    parser.add_argument("--max-epochs", type=int, default=27)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    rows = run_all(args.methods.split(","), args.seeds, args.num_samples, args.max_epochs)
    md = table(rows)
    out = write_runs(args.out, rows, md)
    (out / "README.md").write_text(
        f"# {out.name}\n\nCommand (from the repository root):\n\n    python -m benchmarks.real "
        f"--methods {args.methods} --seeds {args.seeds} --num-samples {args.num_samples} "
        f"--max-epochs {args.max_epochs} --out {args.out}\n\n{md}")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
