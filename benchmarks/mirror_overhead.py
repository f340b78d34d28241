"""What mirroring a run into ``optuna.journal`` costs the driver, per reported result.

    python -m benchmarks.mirror_overhead [--trials 1000] [--epochs 27]

Feeds ``MirrorCallback`` (fake trials, no Ray) the events of a run of ``--trials`` trials with
``--epochs`` results each, flushing as in a run (``flush_s``), and, for comparison, the same
operations on Optuna's own ``JournalFileBackend``, which locks and ``fsync``s once per operation.
Prints microseconds of driver time per result for both, and the journal's size.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from types import SimpleNamespace

from search_spaces import Categorical, Float, Int, SearchSpace

SPACE = SearchSpace({"lr": Float(1e-4, 0.1, log=True), "hidden": Int(16, 512, log=True),
                     "optimizer": Categorical(["sgd", "adam"]), "dropout": Float(0.0, 0.5)})


def _events(trials: int, epochs: int):
    for i in range(trials):
        trial = SimpleNamespace(trial_id=f"t{i:05d}", status="RUNNING", last_result={},
                                config={"lr": 0.01, "hidden": 64, "optimizer": "adam",
                                        "dropout": 0.1})
        yield "start", trial, None
        for epoch in range(1, epochs + 1):
            trial.last_result = {"training_iteration": epoch, "val_accuracy": 0.5 + epoch / 100,
                                 "hostname": "node"}
            yield "result", trial, trial.last_result
        trial.status = "TERMINATED"
        yield "end", trial, None


def mirrored(trials: int, epochs: int, folder: str, flush_s: float = 1.0) -> float:
    from tuner.view.mirror_callback import MirrorCallback

    cb = MirrorCallback(folder, study_name="bench", metric="val_accuracy", mode="max",
                        space=SPACE, max_epochs=epochs, rungs=[1, 3, 9, 27], flush_s=flush_s)
    start = time.perf_counter()
    for kind, trial, result in _events(trials, epochs):
        if kind == "start":
            cb.on_trial_start(0, [], trial)
        elif kind == "result":
            cb.on_trial_result(0, [], trial, result)
            cb.on_step_end(0, [])
        else:
            cb.on_trial_complete(0, [], trial)
    cb.on_experiment_end([])
    return time.perf_counter() - start


def per_operation(trials: int, epochs: int, path: str) -> float:
    """The same study through Optuna's backend as is: one locked, fsync'ed append per op."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(path))
    study = optuna.create_study(storage=storage, study_name="bench", direction="maximize")
    start = time.perf_counter()
    for i in range(trials):
        trial = study.ask()
        for epoch in range(1, epochs + 1):
            trial.report(0.5 + epoch / 100, epoch)
        study.tell(trial, 0.5 + epochs / 100, state=TrialState.COMPLETE)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=27)
    args = parser.parse_args(argv)
    results = args.trials * args.epochs
    with tempfile.TemporaryDirectory() as folder:
        ours = mirrored(args.trials, args.epochs, folder)
        size = os.path.getsize(os.path.join(folder, "optuna.journal"))
        plain = per_operation(args.trials, args.epochs, os.path.join(folder, "plain.journal"))
    print(f"{args.trials} trials x {args.epochs} results = {results} results")
    print(f"MirrorCallback (write-behind, flush ~1 s): {ours:.2f} s, "
          f"{ours / results * 1e6:.0f} us per result; journal {size / 2**20:.1f} MiB")
    print(f"Optuna JournalFileBackend per operation:  {plain:.2f} s, "
          f"{plain / results * 1e6:.0f} us per result")


if __name__ == "__main__":
    main()
