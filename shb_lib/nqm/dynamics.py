"""Exact moment dynamics of SGD with momentum on the noisy quadratic (ICLR Theorem 1 and Appendix A.1), losses,
and the Monte-Carlo simulation they are checked against.

Convention (ICLR eqs. 1-2, Appendix A.1): ``v' = mu v - alpha g``, ``theta' = theta + v'``, with the stochastic
gradient ``g = h (theta - c)``, ``c ~ N(0, sigma2)`` drawn afresh every step. Each coordinate evolves independently.

The paper writes Theorem 1 for means, variances and the covariance. We carry the *raw* second moments
``E[theta^2]``, ``E[v^2]``, ``E[theta v]`` instead: the loss and the greedy step (Theorem 2) are written in them
(``A(.) = E[.]^2 + V[.]``), and -- because the noise is zero-mean and independent of the past -- the raw moments
obey exactly the same recursions as the central ones (ICLR eqs. 12-14 with ``V -> E[.^2]``, ``Cov -> E[theta v]``).
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import checks
from ..divergence import inf_from_first
from .problem import BAND, NoisyQuadratic, _is_traced

__all__ = [
    "Moments", "init_moments", "step", "expected_loss", "excess_loss", "band_losses", "rollout", "trajectory",
    "simulate", "monte_carlo_zscores",
]


class Moments(NamedTuple):
    """Per-coordinate sufficient statistics at one step: ``E[theta]``, ``E[v]``, ``E[theta^2]``, ``E[v^2]``,
    ``E[theta v]`` (each of shape ``(n,)``)."""

    mean_theta: jax.Array
    mean_v: jax.Array
    theta2: jax.Array
    v2: jax.Array
    theta_v: jax.Array


def init_moments(problem: NoisyQuadratic) -> Moments:
    """Moments at ``t = 0``: ``E[theta] = m0``, ``E[theta^2] = m0^2 + V0``, and zero velocity (ICLR Appendix A.1,
    initial conditions ``E[v^(0)] = V[v^(0)] = Cov(theta^(0), v^(0)) = 0``)."""
    zeros = jnp.zeros_like(problem.h)
    return Moments(
        mean_theta=problem.theta0_mean + zeros,
        mean_v=zeros,
        theta2=problem.theta0_mean**2 + problem.theta0_var,
        v2=zeros,
        theta_v=zeros,
    )


# --- ICLR Theorem 1, one equation per function -------------------------------------------------------------------

def velocity_mean(mean_theta, mean_v, a, mu):
    """ICLR eq. 10: $E[v^{(t+1)}] = \\mu E[v^{(t)}] - \\alpha h\\, E[\\theta^{(t)}]$, with ``a = alpha h``."""
    return mu * mean_v - a * mean_theta


def theta_mean(mean_theta, new_mean_v):
    """ICLR eq. 11: $E[\\theta^{(t+1)}] = E[\\theta^{(t)}] + E[v^{(t+1)}]$."""
    return mean_theta + new_mean_v


def velocity_second_moment(theta2, v2, theta_v, a, mu, a2_sigma2):
    """ICLR eq. 12 (raw moments): $E[v'^2] = \\mu^2 E[v^2] + (\\alpha h)^2 E[\\theta^2]
    - 2\\mu\\alpha h\\,E[\\theta v] + (\\alpha h \\sigma)^2$, with ``a = alpha h`` and ``a2_sigma2 = (alpha h sigma)^2``."""
    return mu * mu * v2 + a * a * theta2 - 2.0 * mu * a * theta_v + a2_sigma2


def theta_second_moment(theta2, theta_v, new_v2, a, mu):
    """ICLR eq. 13 (raw moments): $E[\\theta'^2] = E[\\theta^2] + E[v'^2] + 2(\\mu E[\\theta v] - \\alpha h E[\\theta^2])$."""
    return theta2 + new_v2 + 2.0 * (mu * theta_v - a * theta2)


def cross_moment(theta2, theta_v, new_v2, a, mu):
    """ICLR eq. 14 (raw moments): $E[\\theta' v'] = \\mu E[\\theta v] - \\alpha h E[\\theta^2] + E[v'^2]$."""
    return mu * theta_v - a * theta2 + new_v2


def _step(problem: NoisyQuadratic, m: Moments, lr, momentum) -> Moments:
    """One step of ICLR Theorem 1 (no validation; usable under jit/vmap/grad)."""
    a = lr * problem.h
    new_mean_v = velocity_mean(m.mean_theta, m.mean_v, a, momentum)
    new_v2 = velocity_second_moment(m.theta2, m.v2, m.theta_v, a, momentum, a * a * problem.sigma2)
    return Moments(
        mean_theta=theta_mean(m.mean_theta, new_mean_v),
        mean_v=new_mean_v,
        theta2=theta_second_moment(m.theta2, m.theta_v, new_v2, a, momentum),
        v2=new_v2,
        theta_v=cross_moment(m.theta2, m.theta_v, new_v2, a, momentum),
    )


def _check_hyper(lr, momentum, *, lr_name="lr", momentum_name="momentum"):
    """Raise ValueError unless ``0 <= lr < inf`` and ``-1 < momentum < 1`` (arrays checked elementwise)."""
    for name, x in ((lr_name, lr), (momentum_name, momentum)):
        if not _is_traced(x):
            checks.check_array(name, x)
    if not _is_traced(lr):
        lr_np = np.asarray(lr, dtype=np.float64)
        if not np.all(np.isfinite(lr_np) & (lr_np >= 0)):
            bad = lr_np[~(np.isfinite(lr_np) & (lr_np >= 0))].ravel()[0]
            raise ValueError(f"{lr_name} must be >= 0 and finite (allowed range: 0 <= {lr_name} < inf), got {bad!r}")
    if not _is_traced(momentum):
        mu_np = np.asarray(momentum, dtype=np.float64)
        if not np.all(np.abs(mu_np) < 1):
            bad = mu_np[~(np.abs(mu_np) < 1)].ravel()[0]
            raise ValueError(f"{momentum_name} must satisfy |{momentum_name}| < 1 (allowed range: -1 < "
                             f"{momentum_name} < 1), got {bad!r}")


def _check_problem(problem):
    if not isinstance(problem, NoisyQuadratic):
        raise ValueError(f"problem must be a NoisyQuadratic, got {type(problem).__name__}")


def _check_moments(problem, moments, name="moments"):
    """``moments`` is a :class:`Moments` whose fields have the shape of ``problem.h`` (a moments object of another
    problem would broadcast silently). Shapes only: works on tracers."""
    if not isinstance(moments, Moments):
        raise ValueError(f"{name} must be a Moments (e.g. init_moments(problem)), got {type(moments).__name__}")
    for field, x in zip(Moments._fields, moments):
        if jnp.shape(x) != jnp.shape(problem.h):
            raise ValueError(f"{name}.{field} must have the shape of the problem's h {jnp.shape(problem.h)}, got "
                             f"{jnp.shape(x)} (moments of another problem?)")


def _check_schedule(lrs, momenta):
    """Validate a schedule; return it as two float64 arrays of shape ``(T,)``."""
    checks.check_array("lrs", lrs)
    checks.check_array("momenta", momenta)
    lrs = jnp.asarray(lrs, dtype=jnp.float64)
    momenta = jnp.asarray(momenta, dtype=jnp.float64)
    if lrs.ndim != 1:
        raise ValueError(f"lrs must be a 1-D array of length T >= 1, got shape {lrs.shape}")
    if lrs.shape[0] < 1:
        raise ValueError("lrs must have length T >= 1 (allowed range: T >= 1), got T = 0")
    if momenta.shape != lrs.shape:
        raise ValueError(f"momenta must have the shape of lrs {lrs.shape}, got shape {momenta.shape}")
    _check_hyper(lrs, momenta, lr_name="lrs", momentum_name="momenta")
    return lrs, momenta


def step(problem: NoisyQuadratic, moments: Moments, lr, momentum) -> Moments:
    """Moments after one step of SGD with momentum ``v' = mu v - lr g, theta' = theta + v'`` (ICLR Theorem 1,
    eqs. 10-14). ``lr >= 0`` and ``|momentum| < 1`` are validated when concrete; ``moments`` must be of this
    problem (fields of the shape of ``h``)."""
    _check_problem(problem)
    _check_moments(problem, moments)
    _check_hyper(lr, momentum)
    return _step(problem, moments, jnp.asarray(lr, jnp.float64), jnp.asarray(momentum, jnp.float64))


# --- losses ---------------------------------------------------------------------------------------------------------

def expected_loss(problem: NoisyQuadratic, moments: Moments) -> jax.Array:
    """ICLR eq. 5 (short version eq. 1): $E[\\mathcal L(\\theta^{(t)})] = \\tfrac12\\sum_i h_i\\,(E[\\theta_i^2] + \\sigma_i^2)$."""
    _check_problem(problem)
    return 0.5 * jnp.sum(problem.h * (moments.theta2 + problem.sigma2), axis=-1)


def excess_loss(problem: NoisyQuadratic, moments: Moments) -> jax.Array:
    """Expected loss above its floor: $\\tfrac12\\sum_i h_i E[\\theta_i^2]$ (ICLR eq. 5 without the constant
    $\\tfrac12\\sum_i h_i\\sigma_i^2$). This is what the paper's reported numbers (63.86, 4.25, 42.19) measure."""
    _check_problem(problem)
    return 0.5 * jnp.sum(problem.h * moments.theta2, axis=-1)


def _band_masks(h, k):
    """Boolean masks of the ``k`` highest- and ``k`` lowest-curvature coordinates."""
    order = jnp.argsort(h)
    ranks = jnp.zeros(h.shape, dtype=order.dtype).at[order].set(jnp.arange(h.shape[0]))
    return ranks >= h.shape[0] - k, ranks < k


def band_losses(problem: NoisyQuadratic, theta2, k: int = BAND):
    """Excess loss summed over the ``k`` highest and the ``k`` lowest curvature directions (ICLR section 2.3 /
    Fig. 3; short version Fig. 1): returns ``(high, low)``. ``theta2`` may carry leading (time) axes; its last
    axis has the length of ``h``. ``k`` is an integer ``>= 1`` (at most ``n`` are used)."""
    _check_problem(problem)
    checks.check_int("k", k, 1)
    if jnp.shape(theta2)[-1:] != jnp.shape(problem.h):
        raise ValueError(f"theta2 must end with an axis of the length of h ({problem.n}), got shape "
                         f"{jnp.shape(theta2)}")
    k = min(int(k), problem.n)
    high, low = _band_masks(problem.h, k)
    per_coord = 0.5 * problem.h * theta2
    return jnp.sum(jnp.where(high, per_coord, 0.0), axis=-1), jnp.sum(jnp.where(low, per_coord, 0.0), axis=-1)


# --- rollouts -------------------------------------------------------------------------------------------------------

def _trajectory(problem, lrs, momenta) -> Moments:
    """Moments at t = 0..T stacked on a leading axis (no validation)."""
    m0 = init_moments(problem)

    def body(m, hyper):
        new = _step(problem, m, hyper[0], hyper[1])
        return new, new

    _, ms = lax.scan(body, m0, (lrs, momenta))
    return jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), m0, ms)


_trajectory_jit = jax.jit(_trajectory)


def trajectory(problem: NoisyQuadratic, lrs, momenta) -> Moments:
    """Exact moments at ``t = 0..T`` (each field of shape ``(T+1, n)``) under the schedule ``(lrs, momenta)``."""
    _check_problem(problem)
    lrs, momenta = _check_schedule(lrs, momenta)
    return _trajectory_jit(problem, lrs, momenta)


def _rollout(problem, lrs, momenta):
    """Excess loss at t = 0..T via a scan over the second moments only (the means do not enter the loss)."""
    h, s2 = problem.h, problem.sigma2
    m0 = init_moments(problem)

    def body(carry, hyper):
        theta2, v2, theta_v = carry
        lr, mu = hyper
        a = lr * h
        new_v2 = velocity_second_moment(theta2, v2, theta_v, a, mu, a * a * s2)
        carry = (theta_second_moment(theta2, theta_v, new_v2, a, mu), new_v2,
                 cross_moment(theta2, theta_v, new_v2, a, mu))
        return carry, 0.5 * jnp.sum(h * carry[0])

    _, losses = lax.scan(body, (m0.theta2, m0.v2, m0.theta_v), (lrs, momenta))
    return inf_from_first(jnp.concatenate([excess_loss(problem, m0)[None], losses]))


_rollout_jit = jax.jit(_rollout)


def rollout(problem: NoisyQuadratic, lrs, momenta) -> jax.Array:
    """Exact excess loss $\\tfrac12\\sum_i h_i E[\\theta_i^{(t)2}]$ at ``t = 0..T`` (length ``T+1``) under the schedule
    ``(lrs, momenta)`` of length ``T``, by a ``lax.scan`` of ICLR Theorem 1. A diverging schedule gives ``inf``."""
    _check_problem(problem)
    lrs, momenta = _check_schedule(lrs, momenta)
    return _rollout_jit(problem, lrs, momenta)


# --- Monte Carlo ----------------------------------------------------------------------------------------------------

def _simulate(problem, lrs, momenta, key, n_runs):
    k0, k_steps = jax.random.split(key)
    shape = (n_runs, problem.n)
    theta = problem.theta0_mean + jnp.sqrt(problem.theta0_var) * jax.random.normal(k0, shape, jnp.float64)
    v = jnp.zeros(shape, jnp.float64)
    keys = jax.random.split(k_steps, lrs.shape[0])
    sigma = jnp.sqrt(problem.sigma2)

    def body(carry, xs):
        theta, v = carry
        lr, mu, k = xs
        c = sigma * jax.random.normal(k, shape, jnp.float64)  # sampled centre, c ~ N(0, sigma2)
        g = problem.h * (theta - c)  # stochastic gradient of ICLR eq. 3
        v = mu * v - lr * g  # ICLR eq. 1
        theta = theta + v  # ICLR eq. 2
        return (theta, v), 0.5 * jnp.sum(problem.h * theta**2, axis=-1)

    _, losses = lax.scan(body, (theta, v), (lrs, momenta, keys))
    first = 0.5 * jnp.sum(problem.h * theta**2, axis=-1)
    return inf_from_first(jnp.concatenate([first[None], losses]).T)


_simulate_jit = jax.jit(_simulate, static_argnums=(4,))


@partial(jax.jit, static_argnums=(4,))
def _sample_paths(problem, lrs, momenta, key, n_runs):
    k0, k_steps = jax.random.split(key)
    shape = (n_runs, problem.n)
    theta = problem.theta0_mean + jnp.sqrt(problem.theta0_var) * jax.random.normal(k0, shape, jnp.float64)
    keys = jax.random.split(k_steps, lrs.shape[0])
    sigma = jnp.sqrt(problem.sigma2)

    def body(carry, xs):
        theta, v = carry
        lr, mu, k = xs
        g = problem.h * (theta - sigma * jax.random.normal(k, shape, jnp.float64))  # ICLR eq. 3's gradient
        v = mu * v - lr * g  # ICLR eq. 1
        theta = theta + v  # ICLR eq. 2
        return (theta, v), theta

    _, thetas = lax.scan(body, (theta, jnp.zeros(shape, jnp.float64)), (lrs, momenta, keys))
    return jnp.concatenate([theta[None], thetas])


def sample_paths(problem: NoisyQuadratic, lrs, momenta, n_runs: int, key) -> jax.Array:
    """Sampled parameter paths of noisy SGD with momentum (the same sampling as :func:`simulate`: ICLR eqs. 1-3,
    a fresh centre ``c ~ N(0, sigma2)`` per step). Returns ``theta`` at ``t = 0..T``, shape ``(T+1, n_runs, n)``.
    Deterministic given ``key``."""
    _check_problem(problem)
    lrs, momenta = _check_schedule(lrs, momenta)
    checks.check_int("n_runs", n_runs, 1)
    checks.check_key("key", key)
    return _sample_paths(problem, lrs, momenta, key, int(n_runs))


def simulate(problem: NoisyQuadratic, lrs, momenta, n_runs: int, key) -> jax.Array:
    """Run noisy SGD with momentum ``n_runs`` times; return the array ``(n_runs, T+1)`` of
    $\\tfrac12\\sum_i h_i\\theta_i^{(t)2}$. ``theta_0`` is drawn from ``N(theta0_mean, theta0_var)``, ``v_0 = 0``, and
    every step draws a fresh centre ``c ~ N(0, sigma2)``. Deterministic given ``key``."""
    _check_problem(problem)
    lrs, momenta = _check_schedule(lrs, momenta)
    checks.check_int("n_runs", n_runs, 1)
    checks.check_key("key", key)
    return _simulate_jit(problem, lrs, momenta, key, int(n_runs))


def monte_carlo_zscores(samples, exact):
    """Per-step z-score of the Monte-Carlo mean against the exact value:
    $z_t = (\\bar x_t - \\mu_t) / (s_t/\\sqrt N)$, with $s_t$ the sample standard deviation over the ``N`` runs
    (axis 0). Where every run gives the same value (``s_t = 0``, e.g. at ``t = 0`` with ``theta0_var = 0``) the
    z-score is 0 if the mean agrees to rounding and ``inf`` otherwise. Returns ``(z, mean, standard_error)``.
    ``samples`` is ``(N, T+1)`` with ``N >= 2`` (as :func:`simulate` returns) and ``exact`` ``(T+1,)``."""
    checks.check_array("samples", samples, ndim=2, min_len=2)
    checks.check_array("exact", exact)
    if jnp.shape(exact) != jnp.shape(samples)[1:]:
        raise ValueError(f"exact must have shape {jnp.shape(samples)[1:]} (one value per step of the samples), got "
                         f"{jnp.shape(exact)}")
    samples = jnp.asarray(samples)
    n = samples.shape[0]
    mean = jnp.mean(samples, axis=0)
    se = jnp.std(samples, axis=0, ddof=1) / math.sqrt(n)
    diff = mean - exact
    tiny = 1e-12 * jnp.maximum(jnp.abs(exact), 1e-300)
    z = jnp.where(se > tiny, diff / jnp.where(se > tiny, se, 1.0), jnp.where(jnp.abs(diff) <= tiny, 0.0, jnp.inf))
    return z, mean, se
