"""SGD with momentum and inverse-time decay: formulas, the optax equivalence and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from shb_lib import decay
from shb_lib.mnist import model, optimizer


def test_inverse_time_decay_formula():
    t = np.array([0.0, 1.0, 500.0, 5000.0, 20000.0])
    got = np.asarray(decay.inverse_time_decay(jnp.asarray(t), 0.3, 1.7, 5000.0))
    assert np.allclose(got, 0.3 / (1 + t / 5000.0) ** 1.7, rtol=1e-12)
    assert np.allclose(np.asarray(decay.inverse_time_decay(jnp.asarray(t), 0.3, 0.0, 5000.0)), 0.3)


def test_momentum_update_convention():
    w, v, g = jnp.array([1.0]), jnp.array([2.0]), jnp.array([0.5])
    w1, v1 = optimizer.momentum_update(w, v, g, 0.1, 0.9)
    assert np.isclose(float(v1[0]), 0.9 * 2.0 + 0.5)
    assert np.isclose(float(w1[0]), 1.0 - 0.1 * (0.9 * 2.0 + 0.5))


def test_sgd_step_takes_the_gradient_of_the_batch_loss():
    k = jax.random.PRNGKey(3)
    w = model.init_mlp(k, (5, 4, 3))
    x, y = jax.random.normal(k, (8, 5)), jnp.arange(8) % 3
    v = jax.tree.map(lambda p: 0.1 * jnp.ones_like(p), w)
    w1, v1 = optimizer.sgd_step(w, v, x, y, 0.05, 0.9)
    g = jax.grad(model.cross_entropy)(w, x, y)
    for a, b, c, d, gi in zip(*(jax.tree.leaves(t) for t in (w1, v1, w, v, g))):
        np.testing.assert_allclose(b, 0.9 * d + gi, rtol=1e-6)
        np.testing.assert_allclose(a, c - 0.05 * (0.9 * d + gi), rtol=1e-6, atol=1e-7)
    assert float(model.cross_entropy(optimizer.sgd_step(w, optimizer.zeros_like_tree(w), x, y, 0.05, 0.0)[0], x, y)) < float(
        model.cross_entropy(w, x, y))  # a small step downhill lowers the batch loss


def test_effective_learning_rate_is_steady_step():
    # constant gradient: the step length tends to alpha / (1 - mu)
    w, v = jnp.zeros(1), jnp.zeros(1)
    for _ in range(300):
        w_prev = w
        w, v = optimizer.momentum_update(w, v, jnp.ones(1), 0.01, 0.9)
    assert np.isclose(float(w_prev[0] - w[0]), float(optimizer.effective_learning_rate(0.01, 0.9)), rtol=1e-6)


def test_equals_optax_sgd_with_schedule():
    optax = pytest.importorskip("optax")
    key = jax.random.PRNGKey(0)
    params = model.init_mlp(key, (12, 7, 5, 3))
    x = jax.random.uniform(key, (6, 40, 12), dtype=jnp.float32)
    y = jax.random.randint(key, (6, 40), 0, 3).astype(jnp.int32)
    alpha_0, beta, mu, K = 0.2, 2.0, 0.9, 3.0
    tx = optimizer.optax_reference(alpha_0, beta, mu, K)
    p_ours, v = params, optimizer.zeros_like_tree(params)
    p_ref, state = params, tx.init(params)
    grad = jax.jit(jax.grad(model.cross_entropy))
    update = jax.jit(tx.update)
    for t in range(6):
        g = grad(p_ours, x[t], y[t])
        p_ours, v = optimizer.momentum_update(p_ours, v, g, decay.inverse_time_decay(float(t), alpha_0, beta, K), mu)
        upd, state = update(grad(p_ref, x[t], y[t]), state, p_ref)
        p_ref = optax.apply_updates(p_ref, upd)
    for a, b in zip(jax.tree.leaves(p_ours), jax.tree.leaves(p_ref)):
        assert a.dtype == jnp.float32
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, name",
    [({"alpha_0": 0.0}, "alpha_0"), ({"alpha_0": -1.0}, "alpha_0"), ({"beta": -0.1}, "beta"),
     ({"mu": 1.0}, "mu"), ({"mu": -0.1}, "mu"), ({"time_const": 0.0}, "time_const")],
)
def test_bad_hyperparameters_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        optimizer.check_hyperparameters(**kwargs)
