"""Mini-batches of the training set as index arrays, with the replacement rule of each sampler explicit.

- :func:`epoch_batches` -- *without replacement within an epoch*: consecutive batches of random permutations, so no
  example repeats inside a batch (nor inside an epoch); the whole run's batches are drawn at once. Offline SMD, the
  surfaces, the long runs, the warm start and online SMD's training steps use it.
- :func:`uniform_batches` -- *with replacement*: every index uniform on ``[0, N)``, independent (cheap inside
  ``jit`` and drawable one batch at a time from its own key; a repeat within a batch of 100 from 60000 is rare).
  Online SMD's lookaheads and the estimators' network task use it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import checks

__all__ = ["epoch_batches", "uniform_batches"]


def epoch_batches(key, n_examples: int, num_batches: int, batch_size: int):
    """``(num_batches, batch_size)`` int32 indices: consecutive batches of random epochs (no repeats in a batch).

    ``n_examples >= 1``, ``num_batches >= 0`` and ``1 <= batch_size <= n_examples`` are integers; ``key`` a
    ``jax.random`` key. Raises ``ValueError`` naming a bad argument.
    """
    checks.check_key("key", key)
    n_examples = checks.check_int("n_examples", n_examples, 1)
    num_batches = checks.check_int("num_batches", num_batches, 0)
    batch_size = checks.check_int("batch_size", batch_size, 1)
    if batch_size > n_examples:
        raise ValueError(f"batch_size must be <= the number of examples ({n_examples}), got {batch_size}")
    per_epoch = n_examples // batch_size
    n_epochs = -(-num_batches // per_epoch)
    keys = jax.random.split(key, n_epochs)
    perms = jax.vmap(lambda k: jax.random.permutation(k, n_examples)[: per_epoch * batch_size])(keys)
    return perms.reshape(-1, batch_size)[:num_batches].astype(jnp.int32)


def uniform_batches(key, n_examples, shape, dtype=jnp.int32):
    """Indices of ``shape`` drawn uniformly *with replacement* from ``[0, n_examples)`` (``jax.random.randint``).

    Usable inside ``jit``: ``shape`` is static, ``n_examples`` may be traced; values are not checked here (the
    callers check the data set at their boundary). ``dtype`` an integer dtype (``int`` gives JAX's default).
    """
    return jax.random.randint(key, shape, 0, n_examples, dtype=dtype)
