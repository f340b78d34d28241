"""tuner: compose searchers, schedulers and budget ladders over Ray Tune for PyTorch models.

Data flows one way: experiment file (:mod:`tuner.config`) → search space → searcher
(:mod:`tuner.searchers`) → scheduler (:mod:`tuner.schedulers`, :mod:`tuner.budget`) → Ray
trials (:mod:`tuner.runner`, the only module that starts Ray) → results and report
(:mod:`tuner.results`). The CLI (:mod:`tuner.cli`) and the Python API (:mod:`tuner.api`:
``tuner.run``, ``tuner.load``) are thin layers over these.

Names are imported on first use, so ``import tuner`` (and ``tuner.fidelity`` inside a trial)
stays cheap and never imports Ray before the runner has set Ray's environment.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "run": "tuner.api",
    "load": "tuner.api",
    "Results": "tuner.api",
    "Experiment": "tuner.config",
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
