"""The 784-100-100-10 network: shapes, dtypes, loss and gradient against finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import shb_lib  # noqa: F401  (turns on float64 mode, as in the book)
from shb_lib import mlp


def test_paper_network_shapes_and_float32():
    params = mlp.init_mlp(jax.random.PRNGKey(0))
    assert [w.shape for w, _ in params] == [(784, 100), (100, 100), (100, 10)]
    assert mlp.num_params(params) == 784 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(params))
    x = jnp.zeros((5, 784), jnp.float32)
    assert mlp.logits(params, x).dtype == jnp.float32
    assert mlp.cross_entropy(params, x, jnp.zeros(5, jnp.int32)).dtype == jnp.float32
    g = jax.grad(mlp.cross_entropy)(params, x, jnp.zeros(5, jnp.int32))
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(g))


def test_init_std_and_zero_bias():
    params = mlp.init_mlp(jax.random.PRNGKey(1), std=0.05)
    w1, b1 = params[0]
    assert abs(float(jnp.std(w1)) - 0.05) < 0.002
    assert float(jnp.max(jnp.abs(b1))) == 0.0


def test_cross_entropy_is_log_num_classes_for_zero_logits():
    params = tuple((jnp.zeros_like(w), jnp.zeros_like(b)) for w, b in mlp.init_mlp(jax.random.PRNGKey(0)))
    x = jax.random.uniform(jax.random.PRNGKey(2), (7, 784), dtype=jnp.float32)
    y = jnp.arange(7, dtype=jnp.int32)
    assert np.isclose(float(mlp.cross_entropy(params, x, y)), np.log(10), rtol=1e-6)
    assert 0.0 <= float(mlp.error_rate(params, x, y)) <= 1.0


def test_gradient_matches_finite_differences_float64():
    key = jax.random.PRNGKey(3)
    params = mlp.init_mlp(key, (6, 5, 4, 3), dtype=jnp.float64)
    x = jax.random.normal(key, (8, 6), dtype=jnp.float64)
    y = jnp.arange(8, dtype=jnp.int32) % 3
    g = jax.grad(mlp.cross_entropy)(params, x, y)
    w = params[1][0]
    eps = 1e-6
    for (i, j) in [(0, 0), (2, 3), (4, 1)]:
        wp = params[:1] + ((w.at[i, j].add(eps), params[1][1]),) + params[2:]
        wm = params[:1] + ((w.at[i, j].add(-eps), params[1][1]),) + params[2:]
        fd = (mlp.cross_entropy(wp, x, y) - mlp.cross_entropy(wm, x, y)) / (2 * eps)
        assert np.isclose(float(g[1][0][i, j]), float(fd), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kwargs", [{"sizes": (784,)}, {"sizes": (784, 0, 10)}, {"std": 0.0}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        mlp.init_mlp(jax.random.PRNGKey(0), **kwargs)
