"""Divergence reported one way (shb_lib.divergence): inf, never nan; a diverged run stays diverged; flags."""

import jax.numpy as jnp
import numpy as np

from shb_lib import divergence


def test_finite_or_inf_turns_nan_and_overflow_into_inf():
    x = jnp.array([1.0, jnp.nan, -jnp.inf, jnp.inf])
    np.testing.assert_array_equal(divergence.finite_or_inf(x), [1.0, np.inf, np.inf, np.inf])


def test_finite_or_inf_with_also_makes_the_whole_estimate_inf():
    g = jnp.array([1.0, 2.0])
    np.testing.assert_array_equal(divergence.finite_or_inf(g, also=jnp.float64(3.0)), [1.0, 2.0])
    np.testing.assert_array_equal(divergence.finite_or_inf(g, also=jnp.float64(jnp.nan)), [np.inf, np.inf])
    np.testing.assert_array_equal(divergence.finite_or_inf(jnp.array([1.0, jnp.nan]), also=1.0), [np.inf, np.inf])


def test_inf_from_first_keeps_a_diverged_run_diverged():
    losses = jnp.array([[1.0, jnp.nan, 0.5], [1.0, 0.5, 0.25]])
    np.testing.assert_array_equal(divergence.inf_from_first(losses), [[1.0, np.inf, np.inf], [1.0, 0.5, 0.25]])


def test_mark_diverged_runs_flags_overflow_and_a_tenfold_rise():
    loss = np.array([[0.4, 0.3, 0.2], [0.4, np.nan, 0.1], [0.4, 4.5, 0.3], [0.4, 3.9, 0.3]])
    out, overflowed, diverged = divergence.mark_diverged_runs(loss)
    np.testing.assert_array_equal(out[1], [0.4, np.inf, np.inf])
    np.testing.assert_array_equal(overflowed, [False, True, False, False])
    np.testing.assert_array_equal(diverged, [False, True, True, False])  # 4.5 > 10 x 0.4; 3.9 is not
    assert np.isnan(loss[1, 1])  # the input is left alone
