"""Does the default's swarm want another size at the budgets users run? (issue 21 candidate)

    python -m benchmarks.swarm_size --instances real/mnist1d-cnn,lcbench/167168 \
        --particles 0,24,40 --seeds 20

The default method (``asha-checked-pso``) built by ``tuner.compose.wiring.wire`` exactly as
``tuner launch`` builds it, but for ``n_particles`` (0 = the default, 10 + 2√d, SPSO 2006),
run for 50 full-trial equivalents in simulated time with 4 workers; printed per instance and
swarm size: the mean normalised regret of the best full-fidelity result after 10, 20 and 50
full-trial equivalents, ± 1.96 standard errors over seeds.
"""

from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np

__all__ = ["main", "regret_at_user_budgets"]

BUDGETS = (10, 20, 50)


def regret_at_user_budgets(instance: str, n_particles: int | None, seed: int,
                           workers: int = 4, scout_fraction: float = 0.0) -> list[float]:
    """One run of the default with ``n_particles``; regret after each of ``BUDGETS``."""
    from benchmarks import peers, simulator
    from benchmarks.compare import full_trial_cost, load_instance
    from tuner.compose import methods, wiring

    bench = load_instance(instance)
    ladder = peers.default_ladder(bench)
    searcher, scheduler = methods.resolve(method=methods.DEFAULT_METHOD, space=bench.space)
    w = wiring.wire(searcher, scheduler, bench.space, ladder, metric=bench.metric,
                    mode=bench.mode, seed=seed, slots=workers,
                    searcher_options={**({"n_particles": n_particles} if n_particles else {}),
                                      **({"scout_fraction": scout_fraction}
                                         if scout_fraction else {})} or None,
                    scheduler_options=methods.scheduler_options(methods.DEFAULT_METHOD,
                                                                scheduler))
    task = simulator.SimTask(bench, ladder, multi_fidelity=True)
    unit = full_trial_cost(bench)
    traj = simulator.simulate(task, w.searcher, w.scheduler, workers=workers,
                              budget=max(BUDGETS) * unit, max_concurrent=w.max_concurrent,
                              max_pending=w.max_concurrent)
    spent = np.asarray(traj.spent)
    best = traj.incumbent(bench.mode, level=task.levels[-1])
    out = []
    for k in BUDGETS:
        j = int(np.searchsorted(spent, k * unit, side="right")) - 1
        out.append(1.0 if j < 0 or np.isnan(best[j]) else bench.regret(float(best[j])))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.swarm_size",
                                description=__doc__.splitlines()[0])
    p.add_argument("--instances", default="real/mnist1d-cnn")
    p.add_argument("--particles", default="0,24,40", help="comma list; 0 = the default size")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--scouts", default="0",
                   help="comma list of scout fractions (uniform draws instead of a particle)")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    warnings.filterwarnings("ignore")
    print("| instance | particles | scouts | " + " | ".join(f"regret @ {k} full trials" for k in BUDGETS)
          + " |\n|---|---|---|" + "---|" * len(BUDGETS))
    for inst in args.instances.split(","):
        for n, f in ((int(x), float(y)) for x in args.particles.split(",")
                     for y in args.scouts.split(",")):
            r = np.array([regret_at_user_budgets(inst, n or None, s, scout_fraction=f)
                          for s in range(args.seeds)])
            half = 1.96 * r.std(axis=0, ddof=1) / np.sqrt(len(r))
            cells = " | ".join(f"{m:.4f} ± {h:.4f}" for m, h in zip(r.mean(axis=0), half))
            print(f"| {inst} | {n or 'default'} | {f:g} | {cells} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
