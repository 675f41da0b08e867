"""The MNIST network of the paper: a 784-100-100-10 multilayer perceptron with ReLU and softmax cross-entropy.

ICLR version, section 3.2 ("Experimental details"): two hidden layers of 100 units, ReLU, weights drawn from a
zero-mean Gaussian. The paper states a standard deviation of 0.1; the authors' code uses 0.05. We use the paper's
0.1 by default (:data:`INIT_STD`); biases start at zero.

Parameters are a tuple of ``(W, b)`` pairs. Every function here is pure and works in the dtype of the parameters,
so the network runs in ``float32`` (the book's default, see :func:`init_mlp`) and in ``float64`` for
finite-difference checks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import checks

#: Layer sizes of the paper's network (ICLR section 3.2).
LAYER_SIZES = (784, 100, 100, 10)
#: Standard deviation of the initial weights (ICLR section 3.2 says 0.1; the authors' code 0.05).
INIT_STD = 0.1


def init_mlp(key, sizes=LAYER_SIZES, std: float = INIT_STD, dtype=jnp.float32):
    """Random initial parameters ``((W1, b1), (W2, b2), (W3, b3))``: ``W ~ N(0, std^2)``, ``b = 0``.

    ``dtype`` is ``float32`` by default (explicit, whatever JAX's 64-bit mode). Raises
    ``ValueError`` naming a bad argument: ``key`` a ``jax.random`` key, ``sizes`` at least two integer widths
    ``>= 1``, ``0 < std < inf``, ``dtype`` float32 or float64.
    """
    checks.check_key("key", key)
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) < 2:
        raise ValueError(f"sizes must list at least two layer widths >= 1, got {sizes!r}")
    sizes = tuple(checks.check_int(f"sizes[{i}]", s, 1) for i, s in enumerate(sizes))
    checks.check_positive("std", std)
    checks.check_float_dtype("dtype", dtype)
    keys = jax.random.split(key, len(sizes) - 1)
    return tuple(
        (std * jax.random.normal(k, (m, n), dtype=dtype), jnp.zeros((n,), dtype=dtype))
        for k, m, n in zip(keys, sizes[:-1], sizes[1:])
    )


def check_float32_params(w0):
    """``w0`` MLP parameters in float32 (the MNIST loops run in float32); returns ``(width, classes)``. Raises
    ``ValueError`` naming ``w0`` otherwise."""
    width, n_classes, dtype = checks.check_mlp_params("w0", w0)
    if dtype != jnp.float32:
        raise ValueError(f"w0 must be float32 (the MNIST training loops run in float32), got {dtype}; "
                         f"use init_mlp(..., dtype=jnp.float32) or jax.tree.map(lambda x: x.astype('float32'), w0)")
    return width, n_classes


def logits(params, x):
    """Class scores ``f(x; theta)``: affine layers with ReLU between them, none after the last."""
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < len(params) - 1:
            h = jax.nn.relu(h)
    return h


def cross_entropy(params, x, y):
    """Mean softmax cross-entropy ``L = -(1/B) sum_i log softmax(f(x_i))_{y_i}`` of a batch (the training loss)."""
    z = logits(params, x)
    logp = jax.nn.log_softmax(z)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None].astype(jnp.int32), axis=1))


def error_rate(params, x, y):
    """Fraction of the batch whose arg-max class differs from the label."""
    return jnp.mean(jnp.argmax(logits(params, x), axis=1) != y)


def num_params(params) -> int:
    """Number of scalar parameters (89 610 for the paper's network)."""
    return sum(int(p.size) for p in jax.tree.leaves(params))
