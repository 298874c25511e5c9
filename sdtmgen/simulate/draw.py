"""Vectorised random draws from the spec's ranges and weight tables.

Every helper draws a full array of the requested size even when only some elements are used, so a
simulation's random stream does not depend on which events happened to occur.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from sdtmgen.spec.simulation import minutes


def uniform(rng: np.random.Generator, span: Sequence[float], size) -> np.ndarray:
    return rng.uniform(span[0], span[1], size)


def integers(rng: np.random.Generator, span: Sequence[int], size) -> np.ndarray:
    """Inclusive integer range."""
    return rng.integers(int(span[0]), int(span[1]) + 1, size)


def times(rng: np.random.Generator, span: Sequence[str], size) -> np.ndarray:
    """Minutes after midnight, uniform in an 'HH:MM' window."""
    return rng.integers(minutes(span[0]), minutes(span[1]) + 1, size)


def pick_index(rng: np.random.Generator, weights: Mapping, size) -> np.ndarray:
    """Indices into list(weights), drawn with probability proportional to the weights."""
    w = np.asarray(list(weights.values()), dtype=float)
    return rng.choice(len(w), size=size, p=w / w.sum())


def pick(rng: np.random.Generator, weights: Mapping, size) -> np.ndarray:
    """Keys of a weight table drawn in proportion to their weights (object array for text keys)."""
    keys = np.array(list(weights.keys()), dtype=object)
    return keys[pick_index(rng, weights, size)]
