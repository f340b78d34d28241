"""Declarative search spaces: float/int (uniform or log, optional step), categorical, grid,
fixed, and conditional parameters — validated at construction with messages that name the
parameter and the rule. Pure Python + numpy; imports nothing else of this project."""

from search_spaces.domains import Categorical, Domain, Fixed, Float, Int
from search_spaces.errors import SpaceError
from search_spaces.loader import SPACES_DIR, load_space, space_from_dict, space_to_dict
from search_spaces.space import SearchSpace

__all__ = [
    "SPACES_DIR",
    "Categorical",
    "Domain",
    "Fixed",
    "Float",
    "Int",
    "SearchSpace",
    "SpaceError",
    "load_space",
    "space_from_dict",
    "space_to_dict",
]
