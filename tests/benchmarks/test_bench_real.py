"""benchmarks.real's table: means per method and ranks within each seed."""

from __future__ import annotations

from benchmarks.real import table


def test_table_ranks_within_seeds():
    rows = [
        {"method": "a", "seed": 0, "best_val_accuracy": 0.9, "test_accuracy": 0.8,
         "epochs_total": 10, "wall_seconds": 1.0},
        {"method": "b", "seed": 0, "best_val_accuracy": 0.8, "test_accuracy": 0.9,
         "epochs_total": 30, "wall_seconds": 3.0},
        {"method": "a", "seed": 1, "best_val_accuracy": 0.7, "test_accuracy": 0.6,
         "epochs_total": 20, "wall_seconds": 2.0},
        {"method": "b", "seed": 1, "best_val_accuracy": 0.7, "test_accuracy": 0.7,
         "epochs_total": 40, "wall_seconds": 4.0},
    ]
    lines = table(rows).splitlines()
    assert lines[2] == "| a | 0.8000 | 0.7000 | 15 | 1.5 | 1.25 |"  # 1st, then tied 1.5th
    assert lines[3] == "| b | 0.7500 | 0.8000 | 35 | 3.5 | 1.75 |"
