"""After a run: ``run_results`` (``tuner.load``: a run folder as one object), ``run_folder``
(the table ``refine`` and ``confirm`` read), ``refine`` (a narrower space around the good
trials) and ``confirm`` (the top configs retrained with fresh seeds)."""
