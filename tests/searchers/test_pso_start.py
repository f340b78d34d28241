"""PSO's first wave is scipy's seeded Latin hypercube: one particle per stratum per coordinate."""

from __future__ import annotations

import numpy as np

from search_spaces import Float, SearchSpace
from tuner.searchers import make_searcher

SPACE = SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(4)})


def test_first_wave_is_a_seeded_latin_hypercube():
    a = make_searcher("pso", SPACE, metric="loss", mode="min", seed=3, n_particles=12)
    b = make_searcher("pso", SPACE, metric="loss", mode="min", seed=3, n_particles=12)
    c = make_searcher("pso", SPACE, metric="loss", mode="min", seed=4, n_particles=12)
    for j in range(4):
        assert sorted(np.floor(a.x[:, j] * 12).astype(int)) == list(range(12))
    assert np.array_equal(a.x, b.x) and not np.array_equal(a.x, c.x)
    first = [a.suggest(f"t{i}") for i in range(12)]
    assert [round(f["x0"], 12) for f in first] == [round(v, 12) for v in a.x[:, 0]]
