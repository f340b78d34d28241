"""Every error a user can cause, in one module that imports nothing of ours.

``ConfigError`` is the one class the Python API raises (``tuner.ConfigError``) and the CLI turns
into one line on stderr and exit code 2. The more specific classes subclass it, so
``except tuner.ConfigError`` catches a bad budget, an unknown method or a scheduler option typo
alike; they live here so that ``tuner.experiment.config``, ``tuner.compose.checks``, ``tuner.compose.methods`` and
``tuner.schedulers`` can all raise them without importing one another.
"""

from __future__ import annotations

__all__ = ["ConfigError", "BudgetError", "MethodError", "SchedulerError", "TrialCodeError",
           "StorageError"]


class ConfigError(ValueError):
    """The experiment (file, dict or override) breaks a rule; the message names the field."""


class BudgetError(ConfigError):
    """A budget section breaks a rule; the message names the field."""


class MethodError(ConfigError):
    """A method/searcher/scheduler name is unknown or the pair does not work together."""


class SchedulerError(ConfigError):
    """A scheduler name or option is wrong; the message names it and the valid choices."""


class TrialCodeError(ConfigError):
    """The user's training code cannot run as written (does not import, wrong signature, never
    reports the metric): a user error, found before or at the first result."""


class StorageError(ConfigError):
    """The results folder cannot be written (read-only, full, in use by another launch)."""
