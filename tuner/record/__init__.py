"""Step 4 of a run — the record: what a run leaves in its folder.

``results`` (trial records, ``trials.csv``, ``best.json``, ``report.md``, ``curves.png``, each
written whole), ``collect`` (records from Ray's experiment state), ``finish`` (the winner, its
test score and the files), ``insights`` and ``confidence`` (importance, intervals, plots in the
report), ``manifest`` (what ran, where, with which code; marked finished at the end) and
``ray_messages`` (Ray's log lines a user should not have to read); ``tracking`` (the run in
MLflow and Weights & Biases: a parent per experiment, a child per trial).
"""
