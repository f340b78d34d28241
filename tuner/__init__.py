"""tuner: compose searchers, schedulers and budget ladders over Ray Tune for PyTorch models.

Data flows one way, and each step is a subpackage that imports only the steps before it
(``tests/test_architecture.py`` holds the order):

1. :mod:`tuner.searchers`, :mod:`tuner.schedulers` — Ray ``Searcher`` / ``TrialScheduler``
   objects over a search space and a budget ladder (:mod:`tuner.budget`);
2. :mod:`tuner.compose` — a method name → searcher + scheduler + concurrency limit;
3. :mod:`tuner.experiment` — the experiment file parsed and validated before Ray starts;
4. :mod:`tuner.record` — what a run writes: trials.csv, best.json, report.md, the manifest;
5. :mod:`tuner.view` — progress lines, the Optuna journal, the dashboard;
6. :mod:`tuner.launch` — Ray trials, unpacked (Ray Tune's ``Tuner``) or packed (our
   executor), with the checks before Ray starts and ``--resume``;
7. :mod:`tuner.followup` — a run folder read back (``tuner.load``), refine, confirm.

The CLI (:mod:`tuner.cli`) and the Python API (:mod:`tuner.api`: ``tuner.run``,
``tuner.load``) are thin layers over these. Modules that moved keep their old import paths
(:mod:`tuner.moved`), so runs started before the move still resume.

Names are imported on first use, so ``import tuner`` (and ``tuner.fidelity`` inside a trial)
stays cheap and never imports Ray before the runner has set Ray's environment.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from tuner.moved import install as _install_moved_paths

_install_moved_paths()

_LAZY = {
    "run": "tuner.api",
    "load": "tuner.api",
    "Results": "tuner.api",
    "Experiment": "tuner.experiment.config",
    "ConfigError": "tuner.errors",
    "Fidelity": "tuner.trial_fidelity",
    "fidelity": "tuner.trial_fidelity",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tuner' has no attribute {name!r}")
