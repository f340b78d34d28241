"""Recorded-curve benchmarks of real training: tables made by our own trainables.

``task`` reads a task file (the grid, the space searchers see, the snapping rule), ``recorder``
trains every grid point for the whole schedule and writes the table, ``table`` serves it to the
simulated-time harness as an instance like a YAHPO one (``real/<task>``).
"""
