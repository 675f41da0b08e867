"""The greedy-optimal learning rate and momentum (ICLR Theorem 2, short version Theorem 1; Appendix A.2).

The expected loss one step ahead is a quadratic in ``(alpha, mu)`` (ICLR eq. 15 summed over coordinates):

$$\\mathcal L^{(t+1)}(\\alpha, \\mu) = \\tfrac12\\left[P\\alpha^2 + R\\mu^2 - 2Q\\alpha\\mu - 2S\\alpha + 2U\\mu
+ \\textstyle\\sum_i h_i (A(\\theta_i) + \\sigma_i^2)\\right]$$

with $P = \\sum_i h_i^3 (A(\\theta_i) + \\sigma_i^2)$, $Q = \\sum_i h_i^2 E[\\theta_i v_i]$, $R = \\sum_i h_i A(v_i)$,
$S = \\sum_i h_i^2 A(\\theta_i)$, $U = \\sum_i h_i E[\\theta_i v_i]$ and $A(x) = E[x]^2 + V[x] = E[x^2]$. Its Hessian
$\\begin{pmatrix}P & -Q\\\\ -Q & R\\end{pmatrix}$ is positive semi-definite (Cauchy-Schwarz), so the stationary point
is the minimiser; solving the 2x2 system by Cramer's rule gives Theorem 2.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from .. import checks
from .dynamics import Moments, _check_moments, _check_problem, _step, init_moments
from .problem import NoisyQuadratic

__all__ = ["OneStepQuadratic", "one_step_quadratic", "one_step_loss", "greedy_step", "greedy_lr_without_momentum"]

#: Relative size of the determinant ``PR - Q^2`` (compared with ``PR``) below which the 2x2 system is treated as
#: singular and the rule for ``E[v^2] = 0`` applies.
SINGULAR_RTOL = 1e-12


class OneStepQuadratic(NamedTuple):
    """Coefficients of the one-step expected loss as a quadratic in ``(alpha, mu)`` (see the module docstring)."""

    P: jax.Array
    Q: jax.Array
    R: jax.Array
    S: jax.Array
    U: jax.Array
    const: jax.Array


def one_step_quadratic(problem: NoisyQuadratic, moments: Moments) -> OneStepQuadratic:
    """The sums $P, Q, R, S, U$ of ICLR Appendix A.2.2 and the constant $\\sum_i h_i(A(\\theta_i) + \\sigma_i^2)$."""
    _check_problem(problem)
    _check_moments(problem, moments)
    h, s2 = problem.h, problem.sigma2
    return OneStepQuadratic(
        P=jnp.sum(h**3 * (moments.theta2 + s2)),
        Q=jnp.sum(h**2 * moments.theta_v),
        R=jnp.sum(h * moments.v2),
        S=jnp.sum(h**2 * moments.theta2),
        U=jnp.sum(h * moments.theta_v),
        const=jnp.sum(h * (moments.theta2 + s2)),
    )


def one_step_loss(q: OneStepQuadratic, lr, momentum):
    """ICLR eq. 15 summed over coordinates: the expected loss after one step with ``(lr, momentum)``."""
    if not isinstance(q, OneStepQuadratic):
        raise ValueError(f"q must be a OneStepQuadratic (from one_step_quadratic), got {type(q).__name__}")
    a, m = lr, momentum
    return 0.5 * (q.P * a * a + q.R * m * m - 2 * q.Q * a * m - 2 * q.S * a + 2 * q.U * m + q.const)


def greedy_lr_without_momentum(q: OneStepQuadratic):
    """Greedy learning rate of plain SGD (``mu = 0``), Schaul et al. (2013); for one coordinate this is ICLR eq. 7:
    $\\alpha^* = \\sum_i h_i^2 A(\\theta_i) / \\sum_i h_i^3 (A(\\theta_i) + \\sigma_i^2)$ (0 if the denominator is 0)."""
    return jnp.where(q.P > 0, q.S / jnp.where(q.P > 0, q.P, 1.0), 0.0)


def _greedy_from_quadratic(q: OneStepQuadratic):
    """ICLR Theorem 2 by Cramer's rule on the 2x2 system, with the rule for a singular system.

    $$\\alpha^* = \\frac{SR - QU}{PR - Q^2},\\qquad \\mu^* = \\frac{QS - PU}{PR - Q^2}
    \\;\\Big(= -\\frac{\\sum_i h_i(1 - \\alpha^* h_i)E[\\theta_i v_i]}{\\sum_i h_i A(v_i)}\\Big).$$

    Singular system (``PR - Q^2 <= SINGULAR_RTOL * PR``): always the case at ``t = 0``, where ``E[v^2] = 0`` so
    the loss does not depend on ``mu`` (then ``Q = U = 0`` too). We take ``mu = 0`` and the greedy plain-SGD rate
    ``alpha = S / P``; this is a minimiser in every singular case (if ``P = 0`` the loss does not depend on
    ``alpha`` and we take ``alpha = 0``).
    """
    det = q.P * q.R - q.Q**2
    regular = (q.R > 0) & (det > SINGULAR_RTOL * q.P * q.R)
    safe = jnp.where(regular, det, 1.0)
    lr = jnp.where(regular, (q.S * q.R - q.Q * q.U) / safe, greedy_lr_without_momentum(q))
    mu = jnp.where(regular, (q.Q * q.S - q.P * q.U) / safe, 0.0)
    return lr, mu


def _greedy_step(problem, moments, with_momentum: bool = True):
    q = one_step_quadratic(problem, moments)
    if with_momentum:
        return _greedy_from_quadratic(q)
    return greedy_lr_without_momentum(q), jnp.zeros_like(q.P)


def greedy_step(problem: NoisyQuadratic, moments: Moments, *, with_momentum: bool = True):
    """``(lr, momentum)`` minimising the expected loss one step ahead, in closed form (ICLR Theorem 2, short
    version Theorem 1). At ``t = 0`` (``E[v^2] = 0``: the loss does not depend on the momentum) it returns
    ``momentum = 0`` and the plain-SGD greedy rate. With ``with_momentum=False`` the momentum is fixed at 0 and the
    rate is Schaul et al.'s (ICLR eq. 7 for one coordinate). The momentum can come out negative."""
    _check_problem(problem)
    _check_moments(problem, moments)
    checks.check_bool("with_momentum", with_momentum)
    return _greedy_step(problem, moments, with_momentum)


def _greedy_rollout(problem, T: int, with_momentum: bool = True):
    """Greedy schedule of length ``T``: ``(lrs, momenta, theta2 at t=0..T)``."""
    m0 = init_moments(problem)

    def body(m, _):
        lr, mu = _greedy_step(problem, m, with_momentum)
        new = _step(problem, m, lr, mu)
        return new, (lr, mu, new.theta2)

    _, (lrs, momenta, theta2) = lax.scan(body, m0, None, length=T)
    return lrs, momenta, jnp.concatenate([m0.theta2[None], theta2])
