"""Forward-mode hypergradients: against central finite differences (float64) and reverse mode; memory; bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from shb_lib.mnist import hypergrad as hg
from shb_lib.mnist import model


def _problem(dtype, horizon=12, batch_size=10, key=0, time_const=4.0, mu=0.8):
    k = jax.random.PRNGKey(key)
    kx, ky, kw, kp = jax.random.split(k, 4)
    x = jax.random.uniform(kx, (300, 16), dtype=dtype)
    y = jax.random.randint(ky, (300,), 0, 4).astype(jnp.int32)
    w0 = model.init_mlp(kw, (16, 8, 6, 4), std=0.3, dtype=dtype)
    return hg.make_offline_problem(kp, x, y, w0, horizon, batch_size, n_eval_batches=3, time_const=time_const, mu=mu)


@pytest.fixture(scope="module")
def problem64():
    return _problem(jnp.float64)


@pytest.mark.parametrize("with_mu", [False, True])
def test_forward_mode_matches_central_finite_differences_float64(problem64, with_mu):
    h = hg.default_hparams(beta=0.7, alpha_0=0.08, mu=0.8 if with_mu else None, dtype=jnp.float64)
    value, grads = hg.hypergradient(h, problem64)
    assert set(grads) == set(h)
    assert np.isclose(float(value), float(hg.meta_objective(h, problem64)), rtol=1e-12)
    eps = 1e-5
    for name in h:
        hp = dict(h, **{name: h[name] + eps})
        hm = dict(h, **{name: h[name] - eps})
        fd = (hg.meta_objective(hp, problem64) - hg.meta_objective(hm, problem64)) / (2 * eps)
        assert abs(float(fd)) > 1e-7  # the check is not vacuous
        np.testing.assert_allclose(float(grads[name]), float(fd), rtol=1e-6, atol=1e-10)


def test_forward_mode_matches_reverse_mode(problem64):
    h = hg.default_hparams(beta=3.0, alpha_0=0.05, mu=0.7, dtype=jnp.float64)
    v_f, g_f = hg.hypergradient(h, problem64)
    v_r, g_r = hg.reverse_hypergradient(h, problem64)
    assert np.isclose(float(v_f), float(v_r), rtol=1e-12)
    for name in h:
        np.testing.assert_allclose(float(g_f[name]), float(g_r[name]), rtol=1e-9, atol=1e-14)


def test_float32_forward_mode_close_to_float64_reverse_mode():
    p64 = _problem(jnp.float64)
    p32 = jax.tree.map(lambda a: a.astype(jnp.float32) if jnp.issubdtype(a.dtype, jnp.floating) else a, p64)
    h32 = hg.default_hparams(beta=0.5, alpha_0=0.05)
    h64 = hg.default_hparams(beta=0.5, alpha_0=0.05, dtype=jnp.float64)
    v32, g32 = hg.hypergradient(h32, p32)
    _, g64 = hg.reverse_hypergradient(h64, p64)
    assert v32.dtype == jnp.float32 and all(g.dtype == jnp.float32 for g in g32.values())
    assert p32.images.dtype == jnp.float32 and p32.time_const.dtype == jnp.float32
    for name in h32:
        np.testing.assert_allclose(float(g32[name]), float(g64[name]), rtol=2e-3, atol=1e-6)


def test_default_hparams_are_the_papers_initial_values():
    for beta in (0.1, 10.0):
        h = hg.default_hparams(beta=beta)
        a0, b, mu = hg.hparams_to_schedule(h)
        assert np.isclose(a0, 0.01, rtol=1e-6) and np.isclose(b, beta, rtol=1e-6) and np.isclose(mu, 0.9)
        assert all(v.dtype == jnp.float32 for v in h.values())
    assert set(hg.default_hparams(mu=0.9)) == set(hg.HPARAM_NAMES)


def test_memory_of_forward_mode_does_not_grow_with_horizon():
    mem = {}
    for T in (10, 400):
        p = _problem(jnp.float32, horizon=T)
        m = hg.hypergradient.lower(hg.default_hparams(mu=0.9), p).compile().memory_analysis()
        mem[T] = m
    # the inputs grow (the T x B table of batch indices) but the scratch memory does not
    assert mem[400].argument_size_in_bytes > mem[10].argument_size_in_bytes
    assert mem[400].temp_size_in_bytes <= 1.1 * mem[10].temp_size_in_bytes + 1024


def test_diverging_lookahead_is_reported_not_nan():
    # inputs of 1e30 overflow float32 in the first layer: the loss becomes NaN/inf
    p = _problem(jnp.float32, horizon=5)
    p = p._replace(images=p.images * jnp.float32(1e30))
    h = hg.default_hparams(alpha_0=0.5, beta=0.01)
    v, g = hg.hypergradient(h, p)
    assert np.isinf(float(v)) and all(np.isfinite(float(x)) for x in g.values())
    assert np.isinf(float(hg.meta_objective(h, p)))


@pytest.mark.parametrize(
    "kwargs, name",
    [({"horizon": 0}, "horizon"), ({"batch_size": 0}, "batch_size"), ({"mu": 1.0}, "mu"),
     ({"mu": -0.5}, "mu"), ({"n_eval_batches": 0}, "n_eval_batches"), ({"time_const": -1.0}, "time_const")],
)
def test_bad_problem_arguments(kwargs, name):
    x = jnp.zeros((50, 4), jnp.float32)
    y = jnp.zeros((50,), jnp.int32)
    w0 = model.init_mlp(jax.random.PRNGKey(0), (4, 3, 2))
    args = dict(horizon=5, batch_size=5, n_eval_batches=1, time_const=10.0, mu=0.9)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        hg.make_offline_problem(jax.random.PRNGKey(0), x, y, w0, **args)


@pytest.mark.parametrize("kwargs, name", [({"alpha_0": 0.0}, "alpha_0"), ({"beta": -1.0}, "beta"),
                                          ({"mu": 1.0}, "mu")])
def test_bad_hparams(kwargs, name):
    with pytest.raises(ValueError, match=name):
        hg.default_hparams(**kwargs)
