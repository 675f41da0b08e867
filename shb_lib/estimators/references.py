"""Exact answers on the noisy quadratic, against which the sampled estimators are measured.

The meta-objective ``J(phi) = (1/T) sum_{t=1}^{T} E[L(theta_t)]`` and its gradient are exact here:
:func:`exact_objective` averages the exact moment rollout ``nqm.rollout`` (ICLR Theorem 1, eqs. 10-14, and eq. 5)
and :func:`exact_gradient` differentiates it in reverse mode. :func:`expected_truncated_gradient` is the exact mean
of the truncated estimator (from the moments), :func:`smoothed_exact_gradient` the exact gradient of the
ES-smoothed objective (Gauss-Hermite quadrature), :func:`stationary_point` where a truncated estimator's mean
vanishes, :func:`objective_grid` ``J`` on a grid.
"""

from __future__ import annotations

import itertools
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .. import checks, nqm
from ..divergence import finite_or_inf
from .tasks import (_stop_at_window_start, check_momentum, check_phi, check_problem_schedule, check_window,
                    schedule_values)


def exact_objective(problem, schedule, params, T, momentum=0.0):
    """``J(phi) = (1/T) sum_{t=1}^T E[L(theta_t)] - L*``: mean excess loss of the exact moment rollout
    ``nqm.rollout`` (ICLR Theorem 1 and eq. 5), ``L*`` the noise floor. ``inf`` when the rollout diverges.
    """
    check_problem_schedule(problem, schedule)
    checks.check_int("T", T, 1)
    check_momentum(momentum)
    lrs = schedule_values(schedule, params, T)
    losses = nqm.rollout(problem, lrs, jnp.full(T, momentum))
    value = jnp.mean(losses[1:])
    return jnp.where(jnp.isfinite(value), value, jnp.inf)


@partial(jax.jit, static_argnames=("schedule", "T"))
def _exact_gradient(problem, schedule, params, T, momentum):
    return jax.grad(exact_objective, argnums=2)(problem, schedule, params, T, momentum)


def exact_gradient(problem, schedule, params, T, momentum=0.0):
    """``grad_phi J``: reverse mode through the exact moment rollout of ``T`` steps (the long-horizon truth);
    ``inf`` (every component) where the rollout diverged."""
    check_problem_schedule(problem, schedule)
    checks.check_int("T", T, 1)
    check_momentum(momentum)
    return finite_or_inf(_exact_gradient(problem, schedule, check_phi(params), T, momentum), 0.0)


@partial(jax.jit, static_argnames=("schedule", "T"))
def _expected_truncated_gradient(problem, schedule, params, T, K, momentum):
    def truncated_objective(p):
        def body(m, t):
            m = nqm.step(problem, _stop_at_window_start(m, t, K), schedule(p, t), momentum)
            return m, nqm.excess_loss(problem, m)

        _, losses = jax.lax.scan(body, nqm.init_moments(problem), jnp.arange(T))
        return jnp.mean(losses)

    return jax.grad(truncated_objective)(params)


def expected_truncated_gradient(problem, schedule, params, T, K, momentum=0.0):
    """Exact mean of :func:`truncated_gradient`: ``(1/T) sum_w d/dphi sum_{t in w} E[L_t | moments stopped at w]``.

    Loss and dynamics are quadratic and linear in the state, so the truncated gradient's expectation only needs the
    moments at each window start; they are treated as constants (``stop_gradient``), as the sampled estimator
    treats the state. ``K = T`` gives :func:`exact_gradient`. ``K`` may be traced (``vmap`` over it). ``inf``
    where the rollout diverged.
    """
    check_problem_schedule(problem, schedule)
    checks.check_int("T", T, 1)
    check_momentum(momentum)
    check_window(K, T)
    est = _expected_truncated_gradient(problem, schedule, check_phi(params), T, K, momentum)
    return finite_or_inf(est, 0.0)


def smoothed_exact_gradient(problem, schedule, params, T, sigma, order=6, momentum=0.0):
    """``grad E_eps[J(phi + eps)] = E_eps[grad J(phi + eps)]``, ``eps ~ N(0, sigma^2 I)``: what ES estimates.

    Tensor-product Gauss-Hermite quadrature with ``order`` nodes per parameter of the exact gradient (exact for
    polynomials of degree ``< 2 order``); compare :func:`es_gradient` against it when ``sigma`` is not small.
    """
    check_problem_schedule(problem, schedule)
    checks.check_int("T", T, 1)
    check_momentum(momentum)
    params = check_phi(params)
    checks.check_positive("sigma", sigma)
    checks.check_int("order", order, 1, 32)
    x, w = np.polynomial.hermite_e.hermegauss(order)  # nodes and weights for the weight exp(-x^2/2)
    nodes = np.array(list(itertools.product(x, repeat=params.size)))
    weights = np.prod(np.array(list(itertools.product(w / w.sum(), repeat=params.size))), axis=1)
    grads = jax.vmap(lambda z: _exact_gradient(problem, schedule, params + sigma * z, T, momentum))(jnp.asarray(nodes))
    return finite_or_inf(jnp.tensordot(jnp.asarray(weights), grads, axes=1), 0.0)


@partial(jax.jit, static_argnames=("schedule", "T", "n_iter"))
def _stationary_point(problem, schedule, params0, T, K, momentum, n_iter, max_step):
    grad = lambda p: _expected_truncated_gradient(problem, schedule, p, T, K, momentum)

    def newton(p, _):
        step = jnp.linalg.solve(jax.jacfwd(grad)(p), grad(p))
        return p - step * jnp.minimum(1.0, max_step / jnp.linalg.norm(step)), None

    return jax.lax.scan(newton, params0, None, length=n_iter)[0]


def stationary_point(problem, schedule, params0, T, K, momentum=0.0, n_iter=30, max_step=0.5):
    """Where meta-optimization with the truncated estimator settles: the root of its exact mean,
    ``E[g_K](phi) = 0`` (:func:`expected_truncated_gradient`), by Newton's method with steps clipped to
    ``max_step``. ``K = T``: the long-horizon optimum ``argmin J`` (check that ``J`` is minimal there). ES and PES
    settle (for small ``sigma``) at the long-horizon optimum, truncated ES at the root for the same ``K``.

    Divergence propagates: if an iterate is not finite (the rollout or the Newton step diverged), every component
    of the result is ``inf``. ``params0`` must be finite.
    """
    check_problem_schedule(problem, schedule)
    checks.check_int("T", T, 1)
    check_window(K, T)
    check_momentum(momentum)
    checks.check_int("n_iter", n_iter, 1)
    checks.check_positive("max_step", max_step)
    p = _stationary_point(problem, schedule, check_phi(params0), T, K, momentum, n_iter, max_step)
    return jnp.where(jnp.all(jnp.isfinite(p)), p, jnp.inf)


def objective_grid(problem, schedule, T, log_alpha0s, log_betas, momentum=0.0):
    """Exact ``J`` on the grid ``(log alpha_0, log beta)``: array ``(len(log_betas), len(log_alpha0s))`` (``inf``
    where the rollout diverged)."""
    check_problem_schedule(problem, schedule)
    checks.check_int("T", T, 1)
    check_momentum(momentum)
    for name, values in (("log_alpha0s", log_alpha0s), ("log_betas", log_betas)):
        checks.check_array(name, values, ndim=1, min_len=1)
        checks.check_real(name, values)
    A, B = jnp.meshgrid(jnp.asarray(log_alpha0s), jnp.asarray(log_betas))
    phis = jnp.stack([A.ravel(), B.ravel()], axis=1)
    J = jax.jit(jax.vmap(lambda p: exact_objective(problem, schedule, p, T, momentum)))(phis)
    return np.asarray(J).reshape(A.shape)
