"""The learning-rate decays (shb_lib.decay): each formula, numpy in numpy out, JAX in JAX out."""

import jax
import jax.numpy as jnp
import numpy as np

from shb_lib import decay


def test_inverse_time_decay_is_the_formula_on_numpy_and_jax():
    t = np.array([0.0, 1.0, 10.0, 5000.0, 1e5])
    want = 0.3 / (1 + t / 5000.0) ** 1.7
    got_np = decay.inverse_time_decay(t, 0.3, 1.7, 5000.0)
    got_jax = decay.inverse_time_decay(jnp.asarray(t), 0.3, 1.7, 5000.0)
    assert isinstance(got_np, np.ndarray) and isinstance(got_jax, jax.Array)
    np.testing.assert_allclose(got_np, want, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(got_jax), want, rtol=1e-13)
    np.testing.assert_allclose(decay.inverse_time_decay(t, 0.3, 0.0, 5000.0), 0.3)  # beta = 0: constant


def test_inverse_time_decay_traces_under_jit():
    f = jax.jit(lambda t, b: decay.inverse_time_decay(t, 0.1, b, 50.0))
    np.testing.assert_allclose(float(f(50.0, 1.0)), 0.05, rtol=1e-12)


def test_geometric_decay_runs_from_start_to_final():
    frac = np.linspace(0.0, 1.0, 5)
    a = decay.geometric_decay(0.5, 1e-4, frac)
    np.testing.assert_allclose(a[[0, -1]], [0.5, 1e-4], rtol=1e-12)
    np.testing.assert_allclose(a[1:] / a[:-1], (1e-4 / 0.5) ** 0.25, rtol=1e-12)  # a constant factor per step


def test_exponential_decay_multiplies_by_the_factor_each_step():
    np.testing.assert_allclose(decay.exponential_decay(1.5, 0.9, 3), [1.35, 1.215, 1.0935], rtol=1e-14)
    assert decay.exponential_decay(1.5, 0.9, 0).shape == (0,)
    assert isinstance(decay.exponential_decay(jnp.float64(1.5), 0.9, 3), jax.Array)
