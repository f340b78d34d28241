"""What a launch returns, packed or not."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunOutcome"]


@dataclass
class RunOutcome:
    path: str
    records: list = field(default_factory=list)
    best: Any = None
    test: dict = field(default_factory=dict)
    wall_seconds: float = 0.0  # all of run(): Ray's start, tuning, test score, result files
    interrupted: bool = False  # stopped by Ctrl-C before every trial ended
    test_note: str = ""  # why there is no test score, when there is none
    finished_before: bool = False  # --resume of a run that had already ended: nothing ran
