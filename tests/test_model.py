"""The 784-100-100-10 network: shapes, dtypes, loss and gradient against finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from shb_lib.mnist import model


def test_paper_network_shapes_and_float32():
    params = model.init_mlp(jax.random.PRNGKey(0))
    assert [w.shape for w, _ in params] == [(784, 100), (100, 100), (100, 10)]
    assert model.num_params(params) == 784 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(params))
    x = jnp.zeros((5, 784), jnp.float32)
    assert model.logits(params, x).dtype == jnp.float32
    assert model.cross_entropy(params, x, jnp.zeros(5, jnp.int32)).dtype == jnp.float32
    g = jax.grad(model.cross_entropy)(params, x, jnp.zeros(5, jnp.int32))
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(g))


def test_init_std_and_zero_bias():
    params = model.init_mlp(jax.random.PRNGKey(1), std=0.05)
    w1, b1 = params[0]
    assert abs(float(jnp.std(w1)) - 0.05) < 0.002
    assert float(jnp.max(jnp.abs(b1))) == 0.0


def test_cross_entropy_is_log_num_classes_for_zero_logits():
    params = tuple((jnp.zeros_like(w), jnp.zeros_like(b)) for w, b in model.init_mlp(jax.random.PRNGKey(0)))
    x = jax.random.uniform(jax.random.PRNGKey(2), (7, 784), dtype=jnp.float32)
    y = jnp.arange(7, dtype=jnp.int32)
    assert np.isclose(float(model.cross_entropy(params, x, y)), np.log(10), rtol=1e-6)
    assert 0.0 <= float(model.error_rate(params, x, y)) <= 1.0


def test_gradient_matches_finite_differences_float64():
    key = jax.random.PRNGKey(3)
    params = model.init_mlp(key, (6, 5, 4, 3), dtype=jnp.float64)
    x = jax.random.normal(key, (8, 6), dtype=jnp.float64)
    y = jnp.arange(8, dtype=jnp.int32) % 3
    g = jax.grad(model.cross_entropy)(params, x, y)
    w = params[1][0]
    eps = 1e-6
    for (i, j) in [(0, 0), (2, 3), (4, 1)]:
        wp = params[:1] + ((w.at[i, j].add(eps), params[1][1]),) + params[2:]
        wm = params[:1] + ((w.at[i, j].add(-eps), params[1][1]),) + params[2:]
        fd = (model.cross_entropy(wp, x, y) - model.cross_entropy(wm, x, y)) / (2 * eps)
        assert np.isclose(float(g[1][0][i, j]), float(fd), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kwargs", [{"sizes": (784,)}, {"sizes": (784, 0, 10)}, {"std": 0.0}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        model.init_mlp(jax.random.PRNGKey(0), **kwargs)
