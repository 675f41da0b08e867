"""The learning-rate decays that both halves of the book use, each written once.

- :func:`inverse_time_decay` -- ``alpha_t = alpha_0 / (1 + t / time_const)^beta`` (ICLR section 3.2, after
  Welling & Teh 2011; ``time_const = 5000`` on MNIST): the schedule family offline SMD meta-optimizes and the
  estimators' schedule.
- :func:`geometric_decay` -- ``start (final / start)^frac``: the exponential decay from ``start`` at ``frac = 0``
  to ``final`` at ``frac = 1`` after online SMD stops adapting (ICLR section 3.3).
- :func:`exponential_decay` -- ``lr * factor^k`` for ``k = 1 .. steps``: the decayed tails of ICLR Figs. 1 and 2.

The formulas are pure: JAX arrays (also traced) or Python numbers alone in, a JAX array out; numpy arrays or
scalars in, numpy out (so a report computed from numpy stays float64 whatever JAX's 64-bit mode).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["inverse_time_decay", "geometric_decay", "exponential_decay"]


def _xp(*args):
    """``numpy`` when the arguments are numpy arrays or numpy scalars (and Python numbers), with no JAX array among
    them; else ``jax.numpy`` (Python numbers alone give a weakly typed JAX scalar, which keeps the dtype of the
    float32 arrays it meets)."""
    if any(isinstance(a, jax.Array) for a in args):
        return jnp
    return np if any(isinstance(a, (np.ndarray, np.generic)) for a in args) else jnp


def inverse_time_decay(t, alpha_0, beta, time_const):
    """Learning rate at step ``t``: ``alpha_t = alpha_0 / (1 + t / time_const)^beta`` (ICLR section 3.2), computed
    as ``alpha_0 exp(-beta log1p(t / time_const))``.

    Args: ``t`` step(s) (``>= 0``); ``alpha_0 > 0`` the initial rate; ``beta >= 0`` the decay power;
    ``time_const > 0`` the decay time constant, in steps. Returns: ``alpha_t``, broadcast over the arguments.
    """
    xp = _xp(t, alpha_0, beta, time_const)
    return alpha_0 * xp.exp(-beta * xp.log1p(t / time_const))


def geometric_decay(start, final, frac):
    """``start (final / start)^frac``, computed as ``start exp(frac log(final / start))``: ``start`` at
    ``frac = 0``, ``final`` at ``frac = 1`` (ICLR section 3.3: ``alpha_eff`` decays exponentially to ``1e-4`` at
    the last training step). Args: ``start, final > 0``; ``frac`` the fraction of the decay done."""
    xp = _xp(start, final, frac)
    return start * xp.exp(frac * xp.log(final / start))


def exponential_decay(lr, factor, steps: int):
    """``(lr factor, lr factor^2, ..., lr factor^steps)``: ``steps`` rates decayed by ``factor`` per step (ICLR
    Fig. 1's aggressive schedule, Fig. 2's dashed curves). ``steps`` is a Python integer ``>= 0``."""
    return lr * factor ** _xp(lr, factor).arange(1, steps + 1)
