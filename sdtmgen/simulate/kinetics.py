"""Latent blood-count curves: per subject, control points drawn from the spec, joined log-linearly.

A reported test's true value is the sum of one or more latent curves (leukocytes = neutrophils +
lymphocytes + other leukocytes). A subject-level recovery delay (normal, plus a long tail for slow
recoverers) shifts every curve's recovery points together, so slow neutrophil recovery comes with
slow platelet recovery. Windows where a test's noiseless curve is below a threshold (e.g. ANC < 0.5)
anchor clinical events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdtmgen.simulate import draw
from sdtmgen.spec.simulation import BloodCounts, LabWindow

GRID_DAYS = 200  # daily grid (chemo days 1..GRID_DAYS) on which windows are found


@dataclass
class Curve:
    x: np.ndarray  # (S, K) chemo days of the control points, increasing
    logy: np.ndarray  # (S, K) log values


def recovery_delay(bc: BloodCounts, rng: np.random.Generator, n: int) -> np.ndarray:
    r = bc.recovery
    delay = rng.normal(0.0, r.sd_days, n)
    slow = rng.random(n) < r.slow_probability
    extra = draw.uniform(rng, r.slow_days, n)
    return delay + np.where(slow, extra, 0.0)


def draw_curves(bc: BloodCounts, rng: np.random.Generator, n: int, delay: np.ndarray) -> dict[str, Curve]:
    curves: dict[str, Curve] = {}
    for spec in bc.curves:
        k = len(spec.points)
        x = np.empty((n, k))
        y = np.empty((n, k))
        for i, p in enumerate(spec.points):
            if p.day is not None:
                xi = draw.uniform(rng, p.day, n) + (delay if p.recovery else 0.0)
            else:
                xi = x[:, i - 1] + draw.uniform(rng, p.after, n)
            if i:
                xi = np.maximum(xi, x[:, i - 1] + 0.5)
            x[:, i] = xi
            if p.value is not None:
                y[:, i] = draw.uniform(rng, p.value, n)
            else:
                y[:, i] = y[:, p.of] * draw.uniform(rng, p.factor, n)
        curves[spec.name] = Curve(x=x, logy=np.log(np.maximum(y, 1e-6)))
    return curves


def evaluate(curve: Curve, t: np.ndarray) -> np.ndarray:
    """Curve values at days t (S, T): log-linear between points, flat outside."""
    x, ly = curve.x, curve.logy
    out = np.where(t < x[:, :1], ly[:, :1], ly[:, -1:])
    for k in range(x.shape[1] - 1):
        x0, x1 = x[:, k : k + 1], x[:, k + 1 : k + 2]
        inside = (t >= x0) & (t < x1)
        frac = (t - x0) / (x1 - x0)
        out = np.where(inside, ly[:, k : k + 1] + frac * (ly[:, k + 1 : k + 2] - ly[:, k : k + 1]), out)
    return np.exp(out)


def true_values(
    bc: BloodCounts, curves: dict[str, Curve], t: np.ndarray, only: set[str] | None = None
) -> dict[str, np.ndarray]:
    """Noiseless value of every reported test (or those in `only`; canonical unit) at days t."""
    cache: dict[str, np.ndarray] = {}
    out = {}
    for test in bc.tests:
        if only is not None and test.name not in only:
            continue
        total = np.zeros(t.shape)
        for name in test.sum_of:
            if name not in cache:
                cache[name] = evaluate(curves[name], t)
            total = total + cache[name]
        out[test.name] = np.maximum(total, test.minimum)
    return out


@dataclass
class Window:
    start: np.ndarray  # (S,) chemo day; valid where `has`
    end: np.ndarray
    has: np.ndarray


def lab_windows(
    bc: BloodCounts, curves: dict[str, Curve], windows: dict[str, LabWindow], n: int
) -> dict[str, Window]:
    """First run of days (on the daily grid) where each window's test is below its threshold."""
    days = np.arange(1, GRID_DAYS + 1, dtype=float)
    grid = np.broadcast_to(days, (n, GRID_DAYS))
    values = true_values(bc, curves, grid, only={w.test for w in windows.values()})
    out = {}
    for name, w in windows.items():
        below = values[w.test] < w.below
        has = below.any(axis=1)
        first = np.argmax(below, axis=1)
        after = ~below & (np.arange(GRID_DAYS)[None, :] > first[:, None])
        recovered = after.any(axis=1)
        end = np.where(recovered, np.argmax(after, axis=1) - 1, GRID_DAYS - 1)
        out[name] = Window(start=np.where(has, first + 1, 0), end=np.where(has, end + 1, 0), has=has)
    return out
