"""Tests of the noisy quadratic model (shb_lib.nqm): exactness against Monte Carlo, the closed-form greedy step
against brute force, the paper's published numbers, the special cases where greedy is optimal, and bad input."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from hypothesis import example, given, settings
from hypothesis import strategies as st

import shb_lib.nqm as nqm


def small_problem(n=4, seed=0, noise=1.0, var=0.3):
    rng = np.random.default_rng(seed)
    h = np.sort(rng.uniform(0.2, 5.0, n))
    return nqm.NoisyQuadratic(h=h, sigma2=noise * rng.uniform(0.1, 1.0, n), theta0_mean=rng.normal(0, 2, n),
                              theta0_var=var)


# --- the problem ------------------------------------------------------------------------------------------------------

def test_chebyshev_spectrum_is_the_mapped_chebyshev_zeros():
    n, lo, hi = 37, 0.05, 10.0
    h = np.asarray(nqm.chebyshev_spectrum(n, lo, hi))
    x = (2 * h - (lo + hi)) / (hi - lo)  # back to [-1, 1]
    assert h.shape == (n,) and np.all(np.diff(h) > 0) and lo < h[0] and h[-1] < hi
    np.testing.assert_allclose(np.cos(n * np.arccos(x)), 0.0, atol=1e-10)  # zeros of T_n


def test_paper_problem_matches_section_2_3():
    p = nqm.paper_problem()
    assert p.n == 1000
    np.testing.assert_allclose(p.sigma2 * p.h, 1.0)
    np.testing.assert_allclose(p.theta0_mean, math.sqrt(10.0))
    assert float(jnp.max(p.theta0_var)) == 0.0
    assert float(jnp.max(nqm.paper_problem(noise=False).sigma2)) == 0.0


def test_problem_is_a_pytree_usable_inside_jit_and_vmap():
    p = small_problem()
    lrs, mus = jnp.full(5, 0.1), jnp.full(5, 0.5)
    f = jax.jit(lambda q: nqm.final_excess_loss(q, lrs, mus))
    np.testing.assert_allclose(f(p), nqm.rollout(p, lrs, mus)[-1], rtol=1e-12)
    both = jax.tree_util.tree_map(lambda a, b: jnp.stack([a, b]), p, p.with_noise_scale(0.0))
    out = jax.vmap(lambda q: nqm.final_excess_loss(q, lrs, mus))(both)
    assert out[1] < out[0]  # noise only adds variance


@pytest.mark.parametrize("kwargs, name", [
    ({"h": [1.0, 0.0]}, "h"), ({"h": [1.0, -2.0]}, "h"), ({"h": [[1.0]]}, "h"), ({"h": [1.0, np.nan]}, "h"),
    ({"sigma2": [0.1, -0.1]}, "sigma2"), ({"sigma2": [0.1, 0.1, 0.1]}, "sigma2"),
    ({"theta0_var": -1.0}, "theta0_var"), ({"theta0_mean": [1.0, 2.0, 3.0]}, "theta0_mean"),
])
def test_bad_problem_raises_value_error_naming_the_parameter(kwargs, name):
    args = {"h": [1.0, 2.0], "sigma2": 0.1, "theta0_mean": 1.0, "theta0_var": 0.0} | kwargs
    with pytest.raises(ValueError, match=name):
        nqm.NoisyQuadratic(**args)


@pytest.mark.parametrize("lr, mu, name", [(-0.1, 0.5, "lr"), (0.1, 1.0, "momentum"), (0.1, -1.0, "momentum"),
                                          (np.nan, 0.0, "lr"), (0.1, 1.5, "momentum")])
def test_bad_step_hyperparameters(lr, mu, name):
    p = small_problem()
    with pytest.raises(ValueError, match=rf"{name}.*(range|>=|<)"):
        nqm.step(p, nqm.init_moments(p), lr, mu)


def test_bad_schedules():
    p = small_problem()
    with pytest.raises(ValueError, match="T >= 1"):
        nqm.rollout(p, [], [])
    with pytest.raises(ValueError, match="momenta.*shape"):
        nqm.rollout(p, [0.1, 0.1], [0.5])
    with pytest.raises(ValueError, match="lrs.*>= 0"):
        nqm.simulate(p, [0.1, -0.1], [0.5, 0.5], 10, jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="momenta"):
        nqm.rollout(p, [0.1], [1.0])
    for f in (nqm.greedy_schedule, nqm.optimized_schedule, nqm.fixed_schedule):
        with pytest.raises(ValueError, match="T must be"):
            f(p, 0)


def test_diverging_schedule_is_reported_as_inf_never_nan():
    p = small_problem()
    T = 400
    losses = np.asarray(nqm.rollout(p, np.full(T, 3.0), np.full(T, 0.9)))
    assert not np.any(np.isnan(losses))
    assert np.isinf(losses[-1]) and np.all(np.isinf(losses[np.argmax(np.isinf(losses)):]))
    sims = np.asarray(nqm.simulate(p, np.full(T, 3.0), np.full(T, 0.9), 3, jax.random.PRNGKey(1)))
    assert not np.any(np.isnan(sims)) and np.all(np.isinf(sims[:, -1]))


# --- exact recursion against Monte Carlo ----------------------------------------------------------------------------

Z_MAX = 4.5  # P(max_t |z_t| > 4.5) < 30 * 7e-6 for 30 (correlated) steps of standard normal z


def _mc_z(problem, lrs, mus, n_runs=4000, seed=0):
    exact = nqm.rollout(problem, lrs, mus)
    sims = nqm.simulate(problem, lrs, mus, n_runs, jax.random.PRNGKey(seed))
    z, _, _ = nqm.monte_carlo_zscores(sims, exact)
    return np.asarray(z)


def test_exact_recursion_agrees_with_monte_carlo_per_step():
    p = small_problem(n=4)
    rng = np.random.default_rng(3)
    lrs = rng.uniform(0.05, 0.3, 30)
    mus = rng.uniform(-0.5, 0.9, 30)  # includes negative momentum
    z = _mc_z(p, lrs, mus)
    assert np.all(np.isfinite(z)) and np.max(np.abs(z)) < Z_MAX


def test_monte_carlo_check_detects_a_ten_percent_error_in_the_noise():
    p = small_problem(n=4)
    rng = np.random.default_rng(3)
    lrs, mus = rng.uniform(0.05, 0.3, 30), rng.uniform(-0.5, 0.9, 30)
    sims = nqm.simulate(p, lrs, mus, 4000, jax.random.PRNGKey(0))
    wrong = nqm.rollout(p.with_noise_scale(1.1), lrs, mus)  # the recursion with 10% too much noise
    z, _, _ = nqm.monte_carlo_zscores(sims, wrong)
    assert np.max(np.abs(np.asarray(z))) > Z_MAX


def test_moment_means_agree_with_monte_carlo():
    p = small_problem(n=3, seed=5)
    lrs, mus = np.full(10, 0.2), np.full(10, 0.6)
    traj = nqm.trajectory(p, lrs, mus)
    # simulate theta itself: the loss of a one-coordinate problem with h = 2 is theta^2
    for i in range(3):
        one = nqm.NoisyQuadratic(h=[float(p.h[i])], sigma2=[float(p.sigma2[i])],
                                 theta0_mean=[float(p.theta0_mean[i])], theta0_var=[float(p.theta0_var[i])])
        sims = nqm.simulate(one, lrs, mus, 4000, jax.random.PRNGKey(i))
        z, _, _ = nqm.monte_carlo_zscores(sims, 0.5 * p.h[i] * traj.theta2[:, i])
        assert np.max(np.abs(np.asarray(z))) < Z_MAX


# --- the greedy step ---------------------------------------------------------------------------------------------

@jax.jit
def _one_step_loss_by_recursion(problem, moments, lr, mu):
    return nqm.expected_loss(problem, nqm.dynamics._step(problem, moments, lr, mu))


_loss_grid = jax.jit(jax.vmap(_one_step_loss_by_recursion, in_axes=(None, None, 0, 0)))


def _one_step_expected_loss(problem, moments, lr, mu):
    """Through the recursion (ICLR Theorem 1), not through the closed form."""
    return float(_one_step_loss_by_recursion(problem, moments, lr, mu))


def _brute_force(problem, moments):
    f = lambda x: _one_step_expected_loss(problem, moments, x[0], x[1])  # noqa: E731
    A, M = np.meshgrid(np.linspace(0, 2.5 / float(jnp.max(problem.h)), 41), np.linspace(-0.99, 0.99, 41))
    vals = np.asarray(_loss_grid(problem, moments, jnp.asarray(A.ravel()), jnp.asarray(M.ravel()))).reshape(A.shape)
    i = np.unravel_index(np.argmin(vals), vals.shape)
    res = scipy.optimize.minimize(f, x0=[A[i], M[i]], method="Nelder-Mead",
                                  options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 4000})
    return res.x, res.fun


def _moments_after(problem, lrs, mus):
    m = nqm.init_moments(problem)
    for lr, mu in zip(lrs, mus):
        m = nqm.step(problem, m, lr, mu)
    return m


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), seed=st.integers(0, 10_000), k=st.integers(1, 4), noise=st.sampled_from([0.0, 0.3, 1.0]))
@example(n=1, seed=3721, k=3, noise=0.0)  # singular: one noiseless coordinate, the best next loss is exactly 0
def test_greedy_step_equals_brute_force_minimiser(n, seed, k, noise):
    rng = np.random.default_rng(seed)
    p = nqm.NoisyQuadratic(h=rng.uniform(0.1, 5.0, n), sigma2=noise * rng.uniform(0.0, 2.0, n),
                           theta0_mean=rng.normal(0, 2, n), theta0_var=rng.uniform(0, 1, n))
    hmax = float(jnp.max(p.h))
    m = _moments_after(p, rng.uniform(0, 2.2 / hmax, k), rng.uniform(-0.9, 0.9, k))
    lr, mu = (float(x) for x in nqm.greedy_step(p, m))
    (lr_b, mu_b), f_b = _brute_force(p, m)
    f_g = _one_step_expected_loss(p, m, lr, mu)
    scale = float(nqm.expected_loss(p, m)) + 1e-300  # the loss now: rounding is relative to it
    q = nqm.one_step_quadratic(p, m)
    cond = float(q.P * q.R - q.Q**2) / float(q.P * q.R + 1e-300)
    # The closed form is at least as good as any point brute force finds. When the 2x2 system is (nearly) singular,
    # e.g. a single noiseless coordinate whose moments have rank one, the minimum is ~0 and the solve loses digits:
    # there it must still reach the minimum to 1e-8 of the current loss (a wrong formula misses by orders more).
    assert f_g <= f_b + (1e-12 if cond > 1e-3 else 1e-8) * scale
    if cond > 1e-3:  # well-posed: the minimiser is unique and brute force finds it
        assert lr == pytest.approx(lr_b, rel=1e-4, abs=1e-6 / hmax)
        assert mu == pytest.approx(mu_b, abs=1e-4)


def test_greedy_momentum_can_be_negative_and_is_still_the_minimiser():
    # an overshooting first step leaves theta and v positively correlated: the best momentum is negative
    p = nqm.NoisyQuadratic(h=[1.0, 4.0], sigma2=[1.0, 1.0], theta0_mean=[0.5, 2.0], theta0_var=0.1)
    m = _moments_after(p, [0.6], [0.0])  # 0.6 * 4 = 2.4: the high-curvature coordinate overshoots
    assert float(m.theta_v[1]) > 0
    lr, mu = (float(x) for x in nqm.greedy_step(p, m))
    assert mu < -0.3
    (lr_b, mu_b), f_b = _brute_force(p, m)
    assert lr == pytest.approx(lr_b, rel=1e-5) and mu == pytest.approx(mu_b, abs=1e-5)
    assert _one_step_expected_loss(p, m, lr, mu) <= f_b * (1 + 1e-12)


def test_greedy_step_at_t0_is_plain_sgd_greedy_and_momentum_zero():
    p = small_problem()
    m = nqm.init_moments(p)
    lr, mu = (float(x) for x in nqm.greedy_step(p, m))
    assert mu == 0.0
    h, a = np.asarray(p.h), np.asarray(m.theta2)
    assert lr == pytest.approx(np.sum(h**2 * a) / np.sum(h**3 * (a + np.asarray(p.sigma2))), rel=1e-12)
    # the momentum does not matter at t = 0, and lr is the minimiser over lr
    losses = [_one_step_expected_loss(p, m, lr, x) for x in (-0.5, 0.0, 0.7)]
    assert max(losses) - min(losses) <= 1e-12 * abs(losses[0])
    assert _one_step_expected_loss(p, m, lr, 0.0) <= min(_one_step_expected_loss(p, m, lr * f, 0.0)
                                                         for f in (0.99, 1.01))


def test_greedy_step_closed_form_is_the_papers_theorem_2():
    p = small_problem(seed=7)
    m = _moments_after(p, [0.2, 0.1], [0.0, 0.5])
    h, s2 = np.asarray(p.h), np.asarray(p.sigma2)
    At, Av, Etv = np.asarray(m.theta2), np.asarray(m.v2), np.asarray(m.theta_v)
    num = np.sum(h**2 * At * np.sum(h * Av) - np.sum(h * Etv) * h**2 * Etv)
    den = np.sum(h**3 * (At + s2) * np.sum(h * Av) - np.sum(h**2 * Etv) * h**2 * Etv)
    alpha = num / den
    mu = -np.sum(h * (1 - alpha * h) * Etv) / np.sum(h * Av)
    lr_g, mu_g = nqm.greedy_step(p, m)
    assert float(lr_g) == pytest.approx(alpha, rel=1e-10) and float(mu_g) == pytest.approx(mu, rel=1e-10)


# --- schedules ------------------------------------------------------------------------------------------------------

def test_hand_written_adjoint_equals_autodiff():
    p = small_problem(n=6)
    rng = np.random.default_rng(0)
    lrs, mus = jnp.asarray(rng.uniform(0, 0.3, 20)), jnp.asarray(rng.uniform(-0.5, 0.95, 20))
    loss, g_lr, g_mu = nqm.final_excess_loss_and_grad(p, lrs, mus)
    ref, (r_lr, r_mu) = jax.value_and_grad(nqm.final_excess_loss, argnums=(1, 2))(p, lrs, mus)
    np.testing.assert_allclose(loss, ref, rtol=1e-13)
    np.testing.assert_allclose(g_lr, r_lr, rtol=1e-10, atol=1e-12 * float(jnp.max(jnp.abs(r_lr))))
    np.testing.assert_allclose(g_mu, r_mu, rtol=1e-10, atol=1e-12 * float(jnp.max(jnp.abs(r_mu))))


@pytest.mark.parametrize("T", [1, 7, 64])
def test_constant_schedule_objective_equals_rollout(T):
    p = small_problem(n=5)
    np.testing.assert_allclose(nqm.constant_schedule_final_loss(p, 0.15, 0.7, T),
                               nqm.rollout(p, np.full(T, 0.15), np.full(T, 0.7))[-1], rtol=1e-11)


@pytest.mark.parametrize("T", [1, 5, 40])
def test_univariate_sgd_greedy_is_globally_optimal_theorem_3(T):
    h, s2, m0, v0 = 2.0, 0.5, 1.5, 0.3
    p = nqm.NoisyQuadratic(h=[h], sigma2=[s2], theta0_mean=[m0], theta0_var=[v0])
    g = nqm.greedy_schedule(p, T, with_momentum=False)
    A0 = m0**2 + v0
    # ICLR eq. 16 with k = T (its "+ sigma^2" is the constant loss floor, which the excess loss leaves out)
    assert g.final_loss == pytest.approx(0.5 * h * A0 * s2 / (T * A0 + s2), rel=1e-12)
    o = nqm.optimized_schedule(p, T, with_momentum=False, steps=1500, adam_lr=0.01, lr_max=1.0)
    assert g.final_loss <= o.final_loss * (1 + 1e-12)  # nothing beats greedy ...
    assert o.final_loss == pytest.approx(g.final_loss, rel=1e-6)  # ... and the optimizer finds it
    rng = np.random.default_rng(T)
    for _ in range(5):  # nor does any perturbation of it
        lrs = np.clip(g.lrs * (1 + 0.05 * rng.standard_normal(T)), 0, None)
        assert float(nqm.rollout(p, lrs, np.zeros(T))[-1]) >= g.final_loss


def test_schedule_objects_have_the_promised_fields():
    p = small_problem(n=120)
    s = nqm.greedy_schedule(p, 12)
    assert s.lrs.shape == s.momenta.shape == (12,)
    assert s.losses.shape == s.high_curvature_losses.shape == s.low_curvature_losses.shape == (13,)
    h = np.asarray(p.h)
    t2 = np.asarray(nqm.trajectory(p, s.lrs, s.momenta).theta2)
    order = np.argsort(h)
    np.testing.assert_allclose(s.high_curvature_losses, 0.5 * (h * t2)[:, order[-50:]].sum(1), rtol=1e-12)
    np.testing.assert_allclose(s.low_curvature_losses, 0.5 * (h * t2)[:, order[:50]].sum(1), rtol=1e-12)
    np.testing.assert_allclose(s.losses, nqm.rollout(p, s.lrs, s.momenta), rtol=1e-12)


def test_paper_numbers_greedy_and_optimized_at_T_250():
    p = nqm.paper_problem()
    g = nqm.greedy_schedule(p, 250)
    assert g.final_loss == pytest.approx(63.86, rel=0.01)
    o = nqm.optimized_schedule(p, 250)  # Adam, 0.003, 500 steps, lr <= 2/h_max (ICLR section 2.3)
    assert o.final_loss == pytest.approx(4.25, rel=0.01)
    assert np.all(o.lrs <= 2 / float(jnp.max(p.h)) + 1e-15) and np.all(o.lrs >= 0)


def test_without_noise_greedy_matches_optimized_fig_1b():
    p = nqm.paper_problem(noise=False)
    g = nqm.greedy_schedule(p, 250)
    o = nqm.optimized_schedule(p, 250, lr_max=4 / float(jnp.max(p.h)), objective="log_loss")
    assert o.final_loss >= g.final_loss * (1 - 1e-6)  # greedy (= conjugate gradient) cannot be beaten
    decades_g, decades_o = np.log10(g.losses[0] / g.losses[-1]), np.log10(o.losses[0] / o.losses[-1])
    assert decades_g > 30 and decades_o == pytest.approx(decades_g, rel=0.1)  # same convergence rate within 10%
    assert np.median(np.abs(o.lrs - g.lrs) / g.lrs) < 0.15
    assert np.median(np.abs(o.momenta - g.momenta)) < 0.05


def test_fixed_lr_meta_objective_matches_rollouts():
    p = small_problem(n=5)
    lrs = np.array([0.05, 0.1, 0.2])
    solid = nqm.fixed_lr_meta_objective(p, lrs, 10)
    dashed = nqm.fixed_lr_meta_objective(p, lrs, 10, decay_steps=5, decay=0.8)
    for i, lr in enumerate(lrs):
        assert float(solid[i]) == pytest.approx(float(nqm.rollout(p, np.full(10, lr), np.zeros(10))[-1]), rel=1e-12)
        sched = np.concatenate([np.full(10, lr), lr * 0.8 ** np.arange(1, 6)])
        assert float(dashed[i]) == pytest.approx(float(nqm.rollout(p, sched, np.zeros(15))[-1]), rel=1e-12)
