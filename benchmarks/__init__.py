"""Benchmarks: YAHPO Gym surrogates, a simulated-time runner that drives the same searcher and
scheduler objects ``tuner launch`` hands to Ray, peers (Ray Tune out of the box, Optuna,
random), the comparison, scale and overhead measurements. See docs/benchmarks.md.

Modules (import what you need; none is imported here, so ``import benchmarks`` is free):
``yahpo``, ``synthetic``, ``simulator``, ``peers``, ``compare``, ``scale``, ``overhead``,
``trivial``.
"""

__all__: list[str] = []
