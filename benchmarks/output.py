"""Where a benchmark's runs land: ``runs.csv`` (one row per run) and ``table.md``.

Shared by the real-training benchmarks (``real``, ``feedback_reg``, ``pbt_vs_pb2``) so each
folder under ``benchmarks/results/`` has the same two files next to its README.
"""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["write_runs"]


def write_runs(out: str | Path, rows: list[dict], table_md: str) -> Path:
    """Write ``rows`` to ``out/runs.csv`` and ``table_md`` to ``out/table.md``; return ``out``."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "runs.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (folder / "table.md").write_text(table_md)
    return folder
