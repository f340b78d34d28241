"""Step 2 of a run — composition: a method name becomes a searcher, a scheduler and a limit.

``methods`` (the named searcher + scheduler pairs and the default), ``wiring`` (the one wiring
``tuner launch``, the packed executor and the benchmark simulator share) and ``checks`` (the
options and spaces each component takes, checked at parse time). Built from
``tuner.searchers`` and ``tuner.schedulers``, which know nothing of experiments.
"""
