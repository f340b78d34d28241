"""tuner: compose searchers, schedulers and budget ladders over Ray Tune for PyTorch models.

Data flows one way: experiment file (:mod:`tuner.config`) → search space → searcher
(:mod:`tuner.searchers`) → scheduler (:mod:`tuner.schedulers`, :mod:`tuner.budget`) → Ray
trials (:mod:`tuner.runner`, the only module that starts Ray) → results and report
(:mod:`tuner.results`). The CLI (:mod:`tuner.cli`) is a thin layer over these.
"""

__version__ = "0.1.0"
