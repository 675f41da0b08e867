"""Meta-gradient estimators: exact references, the window machinery, unbiasedness (z-scores), bias where expected.

Statistical checks compare a mean of ``R`` independent estimates with its target through a z-score per parameter,
``|mean - target| / (std / sqrt(R))``; they use fixed keys (so they are deterministic) and also check that the same
test *detects* a bias where one exists, so that they can fail.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from shb_lib import estimators as est
from shb_lib import nqm

Z_MAX = 4.0  # |z| above this for a true null: probability < 1e-4 per parameter


def z_scores(estimates, target):
    estimates = np.asarray(estimates)
    se = estimates.std(axis=0, ddof=1) / math.sqrt(estimates.shape[0])
    return (estimates.mean(axis=0) - np.asarray(target)) / se


def repeat(fn, params, n, seed=0):
    keys = jax.random.split(jax.random.PRNGKey(seed), n)
    return np.asarray(jax.vmap(lambda k: fn(params, k))(keys))


# ----------------------------------------------------------------------------------------------------------------
# A toy task whose loss is quadratic in the parameters: s_{t+1} = rho s_t + phi_0 + noise, L_t = (s_{t+1} - phi_1)^2/2.
# Gaussian smoothing does not change the gradient of a quadratic, so ES and PES must match the analytic gradient.

RHO, S0, NOISE, T_TOY = 0.8, 2.0, 0.5, 12


def toy_task():
    def init(key):
        return jnp.float64(S0) + 0.0 * jax.random.normal(key)

    def unroll(params, s, key, t0, K):
        def body(s, t):
            s = RHO * s + params[0] + NOISE * jax.random.normal(jax.random.fold_in(key, t), dtype=jnp.float64)
            return s, 0.5 * (s - params[1]) ** 2

        s, losses = jax.lax.scan(body, s, t0 + jnp.arange(K))
        return s, jnp.sum(losses)

    return est.UnrolledTask(init, unroll, T_TOY)


def toy_expected_gradient(params, K):
    """Exact E[g_K] of the toy by hand: the mean m_t, d m_t / d phi_0 restarted at every window start."""
    a, b = params
    m, dm, g = S0, 0.0, np.zeros(2)
    for t in range(T_TOY):
        if t % K == 0:  # the state is stopped at each window start
            dm = 0.0
        m, dm = RHO * m + a, RHO * dm + 1.0
        g += np.array([(m - b) * dm, -(m - b)])
    return g / T_TOY


TOY = toy_task()
TOY_PARAMS = jnp.array([0.3, 1.0])


def test_toy_hand_gradient_is_the_exact_one():
    """K = T of the hand formula against autodiff of the noiseless toy (guards the reference itself)."""

    def J(p):
        s, total = S0, 0.0
        for _ in range(T_TOY):
            s = RHO * s + p[0]
            total = total + 0.5 * (s - p[1]) ** 2
        return total / T_TOY

    np.testing.assert_allclose(toy_expected_gradient(np.asarray(TOY_PARAMS), T_TOY), jax.grad(J)(TOY_PARAMS),
                               rtol=1e-12)


def test_truncated_equals_a_loop_over_windows():
    """The one-step-at-a-time implementation equals differentiating each K-step window of the window function."""
    key, K = jax.random.PRNGKey(3), 4
    k_init, k_run = jax.random.split(key)
    window_grad = jax.jit(jax.grad(lambda p, s, t0: TOY.unroll(p, s, k_run, t0, K)[1]))
    window_end = jax.jit(lambda s, t0: TOY.unroll(TOY_PARAMS, s, k_run, t0, K)[0])
    s, total = TOY.init(k_init), jnp.zeros(2)
    for t0 in range(0, T_TOY, K):
        total, s = total + window_grad(TOY_PARAMS, s, t0), window_end(s, t0)
    np.testing.assert_allclose(est.truncated_gradient(TOY, TOY_PARAMS, key, K), total / T_TOY, rtol=1e-12)


def test_truncated_K_equals_T_is_backprop_through_the_whole_run():
    key = jax.random.PRNGKey(4)
    k_init, k_run = jax.random.split(key)
    full = jax.grad(lambda p: TOY.unroll(p, TOY.init(k_init), k_run, 0, T_TOY)[1] / T_TOY)(TOY_PARAMS)
    np.testing.assert_allclose(est.truncated_gradient(TOY, TOY_PARAMS, key, T_TOY), full, rtol=1e-12)
    assert not np.allclose(est.truncated_gradient(TOY, TOY_PARAMS, key, 1), full, rtol=1e-3)


@pytest.mark.parametrize("K", [1, 3, T_TOY])
def test_truncated_mean_matches_its_exact_expectation_on_the_toy(K):
    g = repeat(lambda p, k: est.truncated_gradient(TOY, p, k, K), TOY_PARAMS, 400)
    assert np.all(np.abs(z_scores(g, toy_expected_gradient(np.asarray(TOY_PARAMS), K))) < Z_MAX)


def test_es_and_pes_match_the_analytic_gradient_and_truncated_es_is_biased():
    exact = toy_expected_gradient(np.asarray(TOY_PARAMS), T_TOY)
    es = repeat(lambda p, k: est.es_gradient(TOY, p, k, 0.3, 2), TOY_PARAMS, 400)
    pes = repeat(lambda p, k: est.pes_gradient(TOY, p, k, 3, 0.3, 2), TOY_PARAMS, 400)
    tes = repeat(lambda p, k: est.tes_gradient(TOY, p, k, 3, 0.3, 2), TOY_PARAMS, 400)
    assert np.all(np.abs(z_scores(es, exact)) < Z_MAX)
    assert np.all(np.abs(z_scores(pes, exact)) < Z_MAX)
    assert np.all(np.abs(z_scores(tes, toy_expected_gradient(np.asarray(TOY_PARAMS), 3))) < Z_MAX)
    assert np.max(np.abs(z_scores(tes, exact))) > 3 * Z_MAX  # the same test detects truncation bias


def test_es_is_pes_and_truncated_es_with_a_single_window():
    key = jax.random.PRNGKey(5)
    es = est.es_gradient(TOY, TOY_PARAMS, key, 0.1, 3)
    np.testing.assert_allclose(est.pes_gradient(TOY, TOY_PARAMS, key, T_TOY, 0.1, 3), es, rtol=1e-12)
    np.testing.assert_allclose(est.tes_gradient(TOY, TOY_PARAMS, key, T_TOY, 0.1, 3), es, rtol=1e-12)
    assert not np.allclose(est.pes_gradient(TOY, TOY_PARAMS, key, 1, 0.1, 3), es)


# ----------------------------------------------------------------------------------------------------------------
# The noisy quadratic: exact references and the sampled estimators against them.

T_NQM = 60
SCHED = functools.partial(est.inverse_time_schedule, time_const=10.0)  # decay matters within T_NQM


@pytest.fixture(scope="module")
def small():
    h = nqm.chebyshev_spectrum(8, 0.05, 10.0)
    return nqm.NoisyQuadratic(h, 1.0 / h, 3.0, 0.5)


PHI = jnp.log(jnp.array([0.1, 1.0]))


def test_small_problem_is_the_paper_problem_with_fewer_curvatures():
    p, paper = est.small_problem(50), nqm.paper_problem(noise=True)
    assert p.h.shape == (50,) and float(p.h.min()) >= 0.05 - 1e-12 and float(p.h.max()) <= 10.0 + 1e-12
    np.testing.assert_allclose(p.sigma2, 1.0 / p.h)
    np.testing.assert_array_equal(p.theta0_mean, paper.theta0_mean[:50])
    np.testing.assert_array_equal(p.theta0_var, paper.theta0_var[:50])


def test_sampled_loss_has_the_exact_mean(small):
    """The sampled runs average to the exact moment rollout (checks the sampled step against nqm)."""
    task = est.nqm_task(small, SCHED, T_NQM)
    keys = jax.random.split(jax.random.PRNGKey(6), 2000)
    run = lambda k: task.unroll(PHI, task.init(jax.random.fold_in(k, 1)), k, 0, T_NQM)[1] / T_NQM
    J = np.asarray(jax.vmap(run)(keys))
    exact = float(est.exact_objective(small, SCHED, PHI, T_NQM))
    assert abs(J.mean() - exact) < Z_MAX * J.std() / math.sqrt(J.size)


def test_exact_gradient_matches_finite_differences(small):
    g = np.asarray(est.exact_gradient(small, SCHED, PHI, T_NQM))
    eps = 1e-6
    for i in range(2):
        d = jnp.zeros(2).at[i].set(eps)
        fd = (est.exact_objective(small, SCHED, PHI + d, T_NQM) - est.exact_objective(small, SCHED, PHI - d, T_NQM))
        assert abs(g[i]) > 1e-4
        np.testing.assert_allclose(g[i], fd / (2 * eps), rtol=1e-6)


def test_expected_truncated_gradient_K_equals_T_is_exact_and_K_1_differs(small):
    exact = est.exact_gradient(small, SCHED, PHI, T_NQM)
    np.testing.assert_allclose(est.expected_truncated_gradient(small, SCHED, PHI, T_NQM, T_NQM), exact, rtol=1e-10)
    assert not np.allclose(est.expected_truncated_gradient(small, SCHED, PHI, T_NQM, 1), exact, rtol=0.05)


@pytest.mark.parametrize("K", [1, 6, T_NQM])
def test_truncated_mean_matches_expected_truncated_gradient_on_the_nqm(small, K):
    task = est.nqm_task(small, SCHED, T_NQM)
    g = repeat(lambda p, k: est.truncated_gradient(task, p, k, K), PHI, 300)
    assert np.all(np.abs(z_scores(g, est.expected_truncated_gradient(small, SCHED, PHI, T_NQM, K))) < Z_MAX)
    if K < T_NQM:  # and the bias is detected
        assert np.max(np.abs(z_scores(g, est.exact_gradient(small, SCHED, PHI, T_NQM)))) > 3 * Z_MAX


def test_pes_is_unbiased_on_the_nqm(small):
    task = est.nqm_task(small, SCHED, T_NQM)
    g = repeat(lambda p, k: est.pes_gradient(task, p, k, 5, 0.02, 4), PHI, 400)
    assert np.all(np.abs(z_scores(g, est.exact_gradient(small, SCHED, PHI, T_NQM))) < Z_MAX)


def test_es_estimates_the_smoothed_gradient(small):
    """With a large sigma ES follows the Gauss-Hermite smoothed gradient, which differs from the exact one."""
    task, sigma, phi = est.nqm_task(small, SCHED, T_NQM), 0.3, jnp.log(jnp.array([0.03, 1.0]))
    g = repeat(lambda p, k: est.es_gradient(task, p, k, sigma, 16), phi, 1000)
    smoothed = est.smoothed_exact_gradient(small, SCHED, phi, T_NQM, sigma, order=10)
    np.testing.assert_allclose(smoothed, est.smoothed_exact_gradient(small, SCHED, phi, T_NQM, sigma, order=14),
                               rtol=1e-6)
    assert np.all(np.abs(z_scores(g, smoothed)) < Z_MAX)
    assert np.max(np.abs(z_scores(g, est.exact_gradient(small, SCHED, phi, T_NQM)))) > 1.5 * Z_MAX


def test_stationary_points_show_short_horizon_bias(small):
    """K = T: a minimum of J; K = 1 settles at a faster decay (larger beta) and a worse J."""
    opt = est.stationary_point(small, SCHED, PHI, T_NQM, T_NQM)
    np.testing.assert_allclose(est.exact_gradient(small, SCHED, opt, T_NQM), 0.0, atol=1e-9)
    J = jax.jit(lambda p: est.exact_objective(small, SCHED, p, T_NQM))
    for d in 0.05 * np.array([[1, 0], [-1, 0], [0, 1], [0, -1]]):
        assert J(opt) < J(opt + d)
    greedy = est.stationary_point(small, SCHED, PHI, T_NQM, 1)
    np.testing.assert_allclose(est.expected_truncated_gradient(small, SCHED, greedy, T_NQM, 1), 0.0, atol=1e-9)
    assert greedy[1] > opt[1] + 0.1 and J(greedy) > J(opt)


def test_meta_optimize_with_the_exact_gradient_reaches_the_optimum(small):
    opt = est.stationary_point(small, SCHED, PHI, T_NQM, T_NQM)
    path = est.meta_optimize(lambda p, k: est.exact_gradient(small, SCHED, p, T_NQM), PHI, jax.random.PRNGKey(0),
                             300, 0.02)
    assert path.shape == (301, 2)
    np.testing.assert_allclose(est.polyak_average(path, 20), opt, atol=0.03)


# ----------------------------------------------------------------------------------------------------------------
# Divergence and bad input.


def test_divergence_is_inf_not_nan(small):
    task, big = est.nqm_task(small, est.constant_schedule, T_NQM), jnp.array([math.log(1000.0)])
    assert np.isinf(est.exact_objective(small, est.constant_schedule, big, T_NQM))
    assert np.all(np.isinf(est.exact_gradient(small, est.constant_schedule, big, T_NQM)))
    assert np.all(np.isinf(est.truncated_gradient(task, big, jax.random.PRNGKey(0), 1)))
    path = est.meta_optimize(lambda p, k: est.truncated_gradient(task, p, k, 1), big, jax.random.PRNGKey(0), 3, 0.1)
    assert np.all(np.isinf(path[1:])) and not np.any(np.isnan(path))


def test_bad_input_raises(small):
    task = est.nqm_task(small, SCHED, T_NQM)
    key = jax.random.PRNGKey(0)
    cases = [
        (lambda: est.truncated_gradient(task, PHI, key, 0), "K"),
        (lambda: est.truncated_gradient(task, PHI, key, T_NQM + 1), "K"),
        (lambda: est.truncated_gradient(task, jnp.ones((2, 2)), key, 1), "params"),
        (lambda: est.truncated_gradient(task, jnp.array([jnp.nan, 0.0]), key, 1), "params"),
        (lambda: est.es_gradient(task, PHI, key, 0.0, 2), "sigma"),
        (lambda: est.pes_gradient(task, PHI, key, 5, 0.1, 0), "n_pairs"),
        (lambda: est.tes_gradient(task, PHI, key, 2.5, 0.1, 2), "K"),
        (lambda: est.nqm_task(small, SCHED, 0), "T"),
        (lambda: est.nqm_task(small, SCHED, 10, momentum=1.0), "momentum"),
        (lambda: est.expected_truncated_gradient(small, SCHED, PHI, T_NQM, 0), "K"),
        (lambda: est.smoothed_exact_gradient(small, SCHED, PHI, T_NQM, -1.0), "sigma"),
        (lambda: est.estimator_statistics(np.ones(3), np.zeros(1)), "estimates"),
        (lambda: est.estimator_statistics(np.array([[1.0], [np.inf]]), np.zeros(1)), "estimates"),
        (lambda: est.sweep_windows(lambda p, k, K: p, PHI, key, [1], 1), "n_repeats"),
        (lambda: est.windowed_estimator("sgd", task), "name"),
        (lambda: est.meta_optimize(lambda p, k: p, PHI, key, 0, 0.1), "meta_steps"),
        (lambda: est.meta_optimize(lambda p, k: p, PHI, key, 5, -0.1), "meta_lr"),
        (lambda: est.polyak_average(np.zeros((5, 2)), 6), "n_last"),
    ]
    for fn, name in cases:
        with pytest.raises(ValueError, match=name):
            fn()


def test_statistics_of_known_samples():
    s = est.estimator_statistics(np.array([[1.0, 0.0], [3.0, 0.0], [2.0, 3.0], [2.0, -3.0]]), np.array([1.0, 0.0]))
    np.testing.assert_allclose(s.mean, [2.0, 0.0])
    np.testing.assert_allclose(s.bias, [1.0, 0.0])
    np.testing.assert_allclose(s.total_std, math.sqrt(2 / 3 + 6))
    np.testing.assert_allclose(s.bias_se, np.sqrt([2 / 3, 6]) / 2)
    assert s.n == 4 and s.bias_norm == 1.0


def test_sweep_windows_one_at_a_time_equals_vectorized():
    f = est.windowed_estimator("persistent ES", TOY, 0.1, 2)
    a = est.sweep_windows(f, TOY_PARAMS, jax.random.PRNGKey(8), [1, 3, T_TOY], 3)
    b = est.sweep_windows(f, TOY_PARAMS, jax.random.PRNGKey(8), [1, 3, T_TOY], 3, vectorize=False)
    assert b.shape == (3, 3, 2)
    np.testing.assert_allclose(b, a, rtol=1e-10)


def test_reference_statistics_of_known_samples():
    g = np.array([[1.0, 0.0], [3.0, 2.0], [2.0, 1.0]])
    ref = np.array([[0.0, 0.0], [2.0, 2.0], [1.0, -2.0]])
    s = est.reference_statistics(g, ref)
    np.testing.assert_allclose(s.bias, [1.0, 1.0])
    np.testing.assert_allclose(s.bias_se, np.sqrt([1 / 3 + 1 / 3, 1 / 3 + 4 / 3]))
    p = est.reference_statistics(g, ref, paired=True)  # differences (1, 0), (1, 0), (1, 3)
    np.testing.assert_allclose(p.bias_se, [0.0, math.sqrt(3.0 / 3)])
    np.testing.assert_allclose(p.mean, [2.0, 1.0])
    for bad in (np.zeros(2), np.zeros((1, 2)), np.zeros((3, 3)), np.array([[0.0, 0.0], [np.inf, 0.0]])):
        with pytest.raises(ValueError, match="reference"):
            est.reference_statistics(g, bad)
    with pytest.raises(ValueError, match="paired"):
        est.reference_statistics(g, ref[:2], paired=True)


# ----------------------------------------------------------------------------------------------------------------
# The MNIST window function, on a tiny network and synthetic data (the chapter runs the paper's MLP on MNIST).

from shb_lib.mnist import model, optimizer  # noqa: E402

N_SYN, D_SYN, T_SYN = 64, 6, 8
PHI_SYN = jnp.log(jnp.array([0.3, 2.0]))


@pytest.fixture(scope="module")
def syn():
    """Linearly separable 3-class data and a small MLP (6-5-3): the loss falls, and phi matters within T_SYN."""
    kx, kw = jax.random.split(jax.random.PRNGKey(11))
    x = jax.random.normal(kx, (N_SYN, D_SYN), dtype=jnp.float32)
    y = jnp.argmax(x[:, :3], axis=1).astype(jnp.int32)
    w0 = model.init_mlp(kw, sizes=(D_SYN, 5, 3), std=0.5)
    return x, y, w0, est.mnist_task(x, y, w0, T_SYN, time_const=4.0, batch_size=8)


def test_mnist_task_shapes_and_dtypes(syn):
    x, y, w0, task = syn
    state = task.init(jax.random.PRNGKey(0))
    assert jax.tree.structure(state) == jax.tree.structure((w0, w0, w0)) and task.horizon == T_SYN
    new, loss = jax.jit(task.unroll, static_argnums=4)(PHI_SYN, state, jax.random.PRNGKey(1), 0, 3)
    assert jax.tree.structure(new) == jax.tree.structure(state)
    leaves = zip(jax.tree.leaves(new), jax.tree.leaves(state))
    assert all(a.dtype == jnp.float32 and a.shape == b.shape for a, b in leaves)
    assert loss.shape == () and loss.dtype == jnp.float64 and np.isfinite(loss)


def test_mnist_task_steps_are_momentum_sgd_with_inverse_time_decay(syn):
    """Two steps by hand: v' = mu v + g, w' = w - alpha_t v', alpha_t = alpha_0 / (1 + t/K_d)^beta, and the loss of
    w_{t+1} on the batch drawn from fold_in(key, t + 1)."""
    x, y, w0, task = syn
    k_init, k_run = jax.random.PRNGKey(2), jax.random.PRNGKey(3)
    batch = lambda k: jax.random.randint(k, (8,), 0, N_SYN)
    idx = batch(jax.random.fold_in(k_init, 0))
    w, v, g = w0, optimizer.zeros_like_tree(w0), jax.grad(model.cross_entropy)(w0, x[idx], y[idx])
    total = 0.0
    for t in (0, 1):
        lr = 0.3 / (1 + t / 4.0) ** 2.0
        w, v = optimizer.momentum_update(w, v, g, lr, 0.9)
        idx = batch(jax.random.fold_in(k_run, t + 1))
        loss, g = jax.value_and_grad(model.cross_entropy)(w, x[idx], y[idx])
        total += float(loss)
    (w_task, _, _), loss_task = jax.jit(task.unroll, static_argnums=4)(PHI_SYN, task.init(k_init), k_run, 0, 2)
    np.testing.assert_allclose(loss_task, total, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(w_task), jax.tree.leaves(w)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_mnist_window_function_is_cut_invariant(syn):
    """One window of 2K steps is two windows of K steps (batches depend on t, not on the cut); another key differs."""
    _, _, _, task = syn
    key, s0, unroll = jax.random.PRNGKey(4), task.init(jax.random.PRNGKey(5)), jax.jit(task.unroll, static_argnums=4)
    s_one, l_one = unroll(PHI_SYN, s0, key, 1, 6)
    s_half, l_a = unroll(PHI_SYN, s0, key, 1, 3)
    s_two, l_b = unroll(PHI_SYN, s_half, key, 4, 3)
    np.testing.assert_allclose(l_a + l_b, l_one, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(s_two), jax.tree.leaves(s_one)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert abs(float(unroll(PHI_SYN, s0, jax.random.PRNGKey(6), 1, 6)[1] - l_one)) > 1e-3


def test_mnist_whole_run_truncated_gradient_is_the_gradient_of_the_sampled_objective(syn):
    _, _, _, task = syn
    key = jax.random.PRNGKey(7)
    full = jax.jit(jax.grad(lambda p: est.sampled_objective(task, p, key)))(PHI_SYN)
    assert np.all(np.abs(full) > 1e-4)
    np.testing.assert_allclose(est.truncated_gradient(task, PHI_SYN, key, T_SYN), full, rtol=1e-4)
    assert not np.allclose(est.truncated_gradient(task, PHI_SYN, key, 1), full, rtol=0.05)
    J = est.objective_samples(task, [PHI_SYN, PHI_SYN + 1.0], key, 3)
    assert J.shape == (2, 3) and J[0, 0] == pytest.approx(float(est.sampled_objective(task, PHI_SYN,
                                                                                     jax.random.split(key, 3)[0])))


def test_mnist_es_agrees_with_whole_run_backprop_and_truncation_is_detected(syn):
    """Two unbiased estimators of the same gradient (ES with a small sigma) agree; truncation at K = 1 does not."""
    _, _, _, task = syn
    keys = jax.random.split(jax.random.PRNGKey(8), 300)
    bp = np.asarray(jax.vmap(lambda k: est.truncated_gradient(task, PHI_SYN, k, T_SYN))(keys))
    es = np.asarray(jax.vmap(lambda k: est.es_gradient(task, PHI_SYN, k, 0.02, 2))(keys))
    k1 = np.asarray(jax.vmap(lambda k: est.truncated_gradient(task, PHI_SYN, k, 1))(keys))
    s = est.reference_statistics(es, bp, paired=True)  # the same keys: the same start and batches, row by row
    assert np.all(np.abs(s.bias / s.bias_se) < Z_MAX)
    p = est.reference_statistics(k1, bp, paired=True)
    assert np.max(np.abs(p.bias / p.bias_se)) > 3 * Z_MAX


def test_mnist_task_bad_input_raises(syn):
    x, y, w0, _ = syn
    cases = [
        (lambda: est.mnist_task(x, y, w0, 0, 4.0), "T"),
        (lambda: est.mnist_task(x, y, w0, 5, 0.0), "time_const"),
        (lambda: est.mnist_task(x, y, w0, 5, 4.0, momentum=1.0), "momentum"),
        (lambda: est.mnist_task(x, y, w0, 5, 4.0, batch_size=N_SYN + 1), "batch_size"),
        (lambda: est.mnist_task(x, y, w0, 5, 4.0, batch_size=0), "batch_size"),
        (lambda: est.mnist_task(x[:, :5], y, w0, 5, 4.0), "images"),
        (lambda: est.mnist_task(x, y[:10], w0, 5, 4.0), "labels"),
        (lambda: est.mnist_task(x[0], y, w0, 5, 4.0), "images"),
        (lambda: est.objective_samples(syn[3], [PHI_SYN], jax.random.PRNGKey(0), 0), "n_runs"),
    ]
    for fn, name in cases:
        with pytest.raises(ValueError, match=f"^{name} "):  # the message starts with the parameter's name
            fn()


def test_meta_optimize_from_python_follows_the_compiled_path(small):
    f = est.windowed_estimator("truncated backprop", TOY)
    compiled = est.meta_optimize(f, TOY_PARAMS, jax.random.PRNGKey(9), 6, 0.1, args=(3,))
    loop = est.meta_optimize(f, TOY_PARAMS, jax.random.PRNGKey(9), 6, 0.1, args=(3,), compile_loop=False)
    assert loop.shape == (7, 2) and not np.allclose(loop[-1], loop[0])
    np.testing.assert_allclose(loop, compiled, rtol=1e-9)
    task, big = est.nqm_task(small, est.constant_schedule, T_NQM), jnp.array([math.log(1000.0)])
    path = est.meta_optimize(lambda p, k: est.truncated_gradient(task, p, k, 1), big, jax.random.PRNGKey(0), 3, 0.1,
                             compile_loop=False)
    assert np.all(np.isinf(path[1:])) and not np.any(np.isnan(path))
