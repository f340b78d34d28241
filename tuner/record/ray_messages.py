"""Ray's messages that would mislead a ``tuner`` user, replaced by ours.

On Ctrl-C Ray Tune's ``tune.run`` stops gracefully, saves the experiment state, returns
normally and logs "Resume experiment with: Tuner.restore(path=..., trainable=...)" (Ray's
``tune/tune.py``): a tuner user continues with ``tuner launch FILE --resume`` instead, and needs
to know the run did *not* finish. Ray's own signal event is local to ``tune.run``, so its
"Stop signal received" log record is how we learn of the interruption. Building results then
warns "Failed to fetch metrics" for each trial that never reported (Ray's
``tune/analysis/experiment_analysis.py``); our report lists those trials as not started. A
trial whose code raised is logged by Ray with the whole worker traceback (``Trial task
failed``); ours is one line naming the user's exception, with the trial's ``error.txt`` and
``output.log`` for the rest.
"""

from __future__ import annotations

import logging
from typing import Callable

__all__ = ["RayMessages"]

_LOGGERS = ("ray.tune.tune", "ray.tune.analysis.experiment_analysis",
            "ray.tune.result_grid", "ray.tune.impl.tuner_internal",
            "ray.tune.execution.tune_controller")


class RayMessages(logging.Filter):
    """A context manager: while active, drop those records and note an interruption."""

    def __init__(self, write: Callable[[str], None] = print):
        super().__init__()
        self.write = write
        self.interrupted = False

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "Stop signal received" in text:
            self.interrupted = True
            self.write("interrupted: saving the experiment state (Ctrl-C again stops at once)")
            return False
        # a failed trial: Ray logs the whole worker traceback; the progress line and
        # trials.csv give the user's exception, and error.txt / output.log keep the rest
        return not ("Tuner.restore" in text or "Failed to fetch metrics" in text
                    or "has been interrupted" in text or "Trial task failed" in text)

    def __enter__(self) -> "RayMessages":
        for name in _LOGGERS:
            logging.getLogger(name).addFilter(self)
        return self

    def __exit__(self, *exc) -> None:
        for name in _LOGGERS:
            logging.getLogger(name).removeFilter(self)
