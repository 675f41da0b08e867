"""Divergence, reported one way everywhere: a diverged number is ``+inf`` (never ``nan``), a diverged run is
flagged.

- :func:`finite_or_inf` -- inside ``jit``: a non-finite value (overflow, or the ``nan`` of ``inf - inf``) becomes
  ``+inf``; with ``also`` given, so does every element when ``also`` is not finite (an estimate of a run whose
  loss diverged).
- :func:`inf_from_first` -- a run's record: from its first non-finite entry on, every later one is ``inf`` too
  (last axis = time; works on JAX and numpy arrays).
- :func:`mark_diverged_runs` -- the network runs' records: ``inf`` from the first non-finite record on, and a
  ``diverged`` flag per run when a record is not finite or rose above :data:`DIVERGENCE_FACTOR` times the first.

Consumers of possibly diverged results say what they do with them (skip, refuse with
:class:`shb_lib.checks.DivergedError`, or keep the ``inf``).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

__all__ = ["DIVERGENCE_FACTOR", "finite_or_inf", "inf_from_first", "mark_diverged_runs"]

#: A network run whose recorded training loss rises above this many times its initial loss is flagged diverged
#: (as is one whose loss overflows): a loss of 198 from a start of 0.4 is no longer training.
DIVERGENCE_FACTOR = 10.0


def finite_or_inf(x, also=None):
    """``x`` where finite, ``+inf`` elsewhere; with ``also``: ``+inf`` in every element of ``x`` unless ``also``
    and all of ``x`` are finite (the estimate of a run whose loss ``also`` diverged is ``inf`` as a whole)."""
    if also is None:
        return jnp.where(jnp.isfinite(x), x, jnp.inf)
    ok = jnp.isfinite(also) & jnp.all(jnp.isfinite(x))
    return jnp.where(ok, x, jnp.inf)


def inf_from_first(losses):
    """``inf`` from the first non-finite entry of each run on (last axis = time): a diverged run stays diverged."""
    bad = ~jnp.isfinite(losses)
    return jnp.where(jnp.cumsum(bad, axis=-1) > 0, jnp.inf, losses)


def mark_diverged_runs(loss, factor: float = DIVERGENCE_FACTOR):
    """Records ``loss`` ``(runs, R)`` (column 0 = the initial loss) as float64 numpy with ``inf`` from the first
    non-finite record on, and per run ``(overflowed, diverged)``: ``overflowed`` a record is not finite;
    ``diverged`` that, or a record above ``factor`` times the initial one. Returns ``(loss, overflowed,
    diverged)``."""
    loss = np.asarray(loss, np.float64).copy()
    bad = np.logical_or.accumulate(~np.isfinite(loss), axis=1)
    loss[bad] = np.inf
    overflowed = bad[:, -1]
    return loss, overflowed, overflowed | np.any(loss > factor * loss[:, :1], axis=1)
