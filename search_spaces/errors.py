"""The one exception type of this package: a ``ValueError`` whose message names the parameter."""

from __future__ import annotations

__all__ = ["SpaceError"]


class SpaceError(ValueError):
    """A search space (or a config checked against it) breaks a rule; the message says which."""
