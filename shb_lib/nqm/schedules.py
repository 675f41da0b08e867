"""Greedy, fixed and optimized learning-rate/momentum schedules (ICLR sections 2.2.3 and 2.3; short version
section 2, Fig. 1) and the short-horizon meta-objective of ICLR Fig. 2.

The optimized schedules follow the paper's protocol (ICLR section 2.3): Adam with learning rate 0.003 for 500 steps
on the expected loss at ``T``, with an upper bound on the learning rate. The schedule variables are the learning
rates and momenta themselves (as in the paper), clipped in the forward pass to ``[0, lr_max]`` and ``[0, MU_MAX]``,
so the bounds hold by construction; they start in the middle of that box (``lr_max/2``, ``1/2``). The whole Adam loop
is one ``lax.scan`` inside one ``jit``; the gradient is the exact adjoint of the ``T``-step moment recursion.
"""

from __future__ import annotations

import dataclasses
import math
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import checks, decay
from .. import meta_optimizer as mo
from ..divergence import finite_or_inf, inf_from_first
from .dynamics import (_check_problem, _check_schedule, _rollout, _trajectory, band_losses, cross_moment,
                       init_moments, sample_paths, theta_second_moment, trajectory,
                       velocity_second_moment)
from .greedy import _greedy_rollout
from .problem import BAND, PAPER_T, NoisyQuadratic, paper_problem

__all__ = [
    "Schedule", "greedy_schedule", "fixed_schedule", "optimized_schedule", "constrained_optimized_schedule",
    "max_feasible_scale", "aggressive_vs_conservative", "FIG1_2D", "figure1_schedules",
    "default_lr_max", "final_excess_loss", "final_excess_loss_and_grad", "constant_schedule_final_loss", "fixed_lr_meta_objective", "MU_MAX",
    "PAPER_ADAM_LR", "PAPER_ADAM_STEPS",
]

#: The paper's meta-optimizer settings (ICLR section 2.3).
PAPER_ADAM_LR = 0.003
PAPER_ADAM_STEPS = 500
#: Upper end of the momentum box used when fitting schedules.
MU_MAX = 1.0 - 1e-6
OBJECTIVES = ("loss", "log_loss")


def default_lr_max(problem: NoisyQuadratic):
    """The learning-rate bound $2/h_{max}$: without momentum and noise no coordinate's loss can then grow
    ($|1 - \\alpha h_i| \\le 1$), the condition the paper imposes in ICLR section 2.3."""
    _check_problem(problem)
    return 2.0 / jnp.max(problem.h)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A learning-rate/momentum schedule and what it achieves.

    ``lrs``, ``momenta``: shape ``(T,)``; ``losses``: excess loss at ``t = 0..T`` (``inf`` once diverged);
    ``high_curvature_losses`` / ``low_curvature_losses``: the part of it on the 50 highest / lowest curvature
    directions; ``max_loss_ratio``: $\\max_{t,i} E[\\theta_i^{(t)2}]/E[\\theta_i^{(0)2}]$ (the paper's bound asks
    for <= 1); ``fit_objective``: the meta-objective at each Adam step (fitted schedules only).
    """

    kind: str
    lrs: np.ndarray
    momenta: np.ndarray
    losses: np.ndarray
    high_curvature_losses: np.ndarray
    low_curvature_losses: np.ndarray
    max_loss_ratio: float
    fit_objective: np.ndarray | None = None

    @property
    def T(self) -> int:
        return int(self.lrs.shape[0])

    @property
    def final_loss(self) -> float:
        """Excess loss at ``t = T`` (``inf`` if the schedule diverged)."""
        return float(self.losses[-1])

    @property
    def diverged(self) -> bool:
        return not math.isfinite(self.final_loss)

    def __repr__(self) -> str:
        return (f"Schedule({self.kind}, T={self.T}, final excess loss={self.final_loss:.4g}, "
                f"max loss ratio={self.max_loss_ratio:.3g})")


def _summaries(problem, lrs, momenta):
    """Losses, band losses and the largest per-coordinate second-moment ratio of a schedule (inside jit)."""
    theta2 = _trajectory(problem, lrs, momenta).theta2
    losses = inf_from_first(0.5 * jnp.sum(problem.h * theta2, axis=-1))
    high, low = band_losses(problem, theta2, BAND)
    ratio = jnp.max(theta2 / jnp.maximum(theta2[0], jnp.finfo(jnp.float64).tiny))
    return losses, inf_from_first(high), inf_from_first(low), finite_or_inf(ratio)


def _make(kind, problem, lrs, momenta, summaries, fit_objective=None):
    losses, high, low, ratio = summaries
    return Schedule(kind=kind, lrs=np.asarray(lrs), momenta=np.asarray(momenta), losses=np.asarray(losses),
                    high_curvature_losses=np.asarray(high), low_curvature_losses=np.asarray(low),
                    max_loss_ratio=float(ratio),
                    fit_objective=None if fit_objective is None else np.asarray(fit_objective))


def _check_schedule_shapes(lrs, momenta):
    """``lrs`` and ``momenta`` 1-D of one length ``T >= 1`` (shapes only: works on tracers)."""
    for name, x in (("lrs", lrs), ("momenta", momenta)):
        if isinstance(x, (str, bytes, bool)) or jnp.ndim(x) != 1 or jnp.shape(x)[0] < 1:
            raise ValueError(f"{name} must be a 1-D array of length T >= 1, got {x!r}" if isinstance(x, str)
                             else f"{name} must be a 1-D array of length T >= 1, got shape {jnp.shape(x)}")
    if jnp.shape(lrs) != jnp.shape(momenta):
        raise ValueError(f"momenta must have the shape of lrs {jnp.shape(lrs)}, got shape {jnp.shape(momenta)}")


def _check_T(T, name="T"):
    return checks.check_int(name, T, 1)


# --- greedy -------------------------------------------------------------------------------------------------------

@partial(jax.jit, static_argnums=(1, 2))
def _greedy_core(problem, T, with_momentum):
    lrs, momenta, _ = _greedy_rollout(problem, T, with_momentum)
    return lrs, momenta, _summaries(problem, lrs, momenta)


def greedy_schedule(problem: NoisyQuadratic, T: int, *, with_momentum: bool = True) -> Schedule:
    """The greedy-optimal schedule: at every step the closed-form one-step optimum of ICLR Theorem 2 (momentum 0 and
    Schaul et al.'s rate with ``with_momentum=False``, ICLR eq. 7)."""
    _check_problem(problem)
    T = _check_T(T)
    checks.check_bool("with_momentum", with_momentum)
    lrs, momenta, summ = _greedy_core(problem, T, bool(with_momentum))
    return _make("greedy", problem, lrs, momenta, summ)


# --- meta-objectives ----------------------------------------------------------------------------------------------

def final_excess_loss(problem, lrs, momenta):
    """Meta-objective of the optimized schedule: the excess loss $\\tfrac12\\sum_i h_i E[\\theta_i^{(T)2}]$ after the
    whole schedule (ICLR section 2.2.3), by a ``lax.scan`` of the second-moment recursions (ICLR eqs. 12-14).
    ``lrs`` and ``momenta`` are 1-D of one length (values unchecked: usable under ``jit``/``grad``)."""
    _check_problem(problem)
    _check_schedule_shapes(lrs, momenta)
    h = problem.h
    m0 = init_moments(problem)

    def body(carry, hyper):
        return _second_moments_step(problem, carry, hyper), None

    (theta2, _, _), _ = lax.scan(body, (m0.theta2, m0.v2, m0.theta_v), (lrs, momenta))
    return 0.5 * jnp.sum(h * theta2)


def _second_moments_step(problem, carry, hyper):
    """One step of the second-moment recursions (ICLR eqs. 12-14) on ``(E theta^2, E v^2, E theta v)`` with
    ``hyper = (lr, momentum)``; the means are not needed by the excess loss."""
    theta2, v2, theta_v = carry
    a = hyper[0] * problem.h
    mu = hyper[1]
    new_v2 = velocity_second_moment(theta2, v2, theta_v, a, mu, a * a * problem.sigma2)
    return (theta_second_moment(theta2, theta_v, new_v2, a, mu), new_v2, cross_moment(theta2, theta_v, new_v2, a, mu))


def final_excess_loss_and_grad(problem, lrs, momenta):
    r"""The meta-objective of :func:`final_excess_loss` and its exact gradient with respect to ``lrs`` and
    ``momenta``, by the adjoint (reverse-mode) recursion of ICLR eqs. 12-14 written out by hand; about twice as fast
    as ``jax.grad`` through the scan. With $a = \alpha h$ and adjoints $\lambda = (\lambda_{\theta^2},
    \lambda_{v^2}, \lambda_{\theta v})$ of the state after a step, $\Lambda = \lambda_{\theta^2} + \lambda_{v^2} +
    \lambda_{\theta v}$ (every new moment contains $E[v'^2]$ once):

    $$\partial_\alpha = \sum_i h_i\big[\Lambda(2a(E\theta^2 + \sigma^2) - 2\mu E\theta v)
    - (2\lambda_{\theta^2} + \lambda_{\theta v})E\theta^2\big],\quad
    \partial_\mu = \sum_i \Lambda(2\mu Ev^2 - 2a E\theta v) + (2\lambda_{\theta^2} + \lambda_{\theta v})E\theta v,$$

    and the adjoints propagate backwards as $\lambda_{\theta^2} \leftarrow \Lambda a^2 + \lambda_{\theta^2}(1 - 2a)
    - \lambda_{\theta v} a$, $\lambda_{v^2} \leftarrow \Lambda\mu^2$,
    $\lambda_{\theta v} \leftarrow \mu(2\lambda_{\theta^2} + \lambda_{\theta v}) - 2\mu a\Lambda$, starting from
    $(h/2, 0, 0)$. Returns ``(loss, grad_lrs, grad_momenta)``."""
    _check_problem(problem)
    _check_schedule_shapes(lrs, momenta)
    h, s2 = problem.h, problem.sigma2
    m0 = init_moments(problem)

    def forward(carry, hyper):
        return _second_moments_step(problem, carry, hyper), carry

    (theta2, _, _), states = lax.scan(forward, (m0.theta2, m0.v2, m0.theta_v), (lrs, momenta))

    def backward(lam, xs):
        (theta2, v2, theta_v), lr, mu = xs
        l1, _, l3 = lam
        a = lr * h
        big = lam[0] + lam[1] + lam[2]
        c = 2.0 * l1 + l3
        g_lr = jnp.sum(h * (big * (2.0 * a * (theta2 + s2) - 2.0 * mu * theta_v) - c * theta2))
        g_mu = jnp.sum(big * (2.0 * mu * v2 - 2.0 * a * theta_v) + c * theta_v)
        lam = (big * a * a + l1 * (1.0 - 2.0 * a) - l3 * a, big * mu * mu, mu * c - 2.0 * mu * a * big)
        return lam, (g_lr, g_mu)

    z = jnp.zeros_like(h)
    _, (g_lrs, g_momenta) = lax.scan(backward, (0.5 * h, z, z), (states, lrs, momenta), reverse=True)
    return 0.5 * jnp.sum(h * theta2), g_lrs, g_momenta


def _one_step_affine(problem, lr, mu):
    """ICLR eqs. 12-14 for a constant ``(lr, mu)`` as an affine map ``s -> A s + b`` on
    ``s = (E[theta^2], E[v^2], E[theta v])``, per coordinate: ``A`` as 3x3 nested lists of ``(n,)`` arrays."""
    a = lr * problem.h
    mu2 = mu * mu + jnp.zeros_like(a)
    A = [[(1 - a) ** 2, mu2, 2 * mu * (1 - a)],  # eq. 13 with eq. 12 substituted
         [a * a, mu2, -2 * mu * a],  # eq. 12
         [a * a - a, mu2, mu * (1 - 2 * a)]]  # eq. 14 with eq. 12 substituted
    f = a * a * problem.sigma2
    return A, [f, f, f]


def _compose(outer, inner):
    """The affine map ``outer o inner`` (apply ``inner`` first), elementwise over coordinates."""
    (A1, b1), (A2, b2) = outer, inner
    A = [[sum(A1[i][k] * A2[k][j] for k in range(3)) for j in range(3)] for i in range(3)]
    b = [sum(A1[i][k] * b2[k] for k in range(3)) + b1[i] for i in range(3)]
    return A, b


def constant_schedule_final_loss(problem, lr, mu, T: int):
    """Excess loss after ``T`` steps of the constant schedule ``(lr, mu)``: the affine one-step map of ICLR eqs. 12-14
    raised to the power ``T`` by repeated squaring (``~2 log2 T`` compositions instead of ``T`` recursion steps).
    This is the meta-objective of the fixed schedule. ``T`` is an integer ``>= 1`` (static); ``lr`` and ``mu``
    scalars (values unchecked: usable under ``jit``/``grad``)."""
    _check_problem(problem)
    _check_T(T)
    for name, x in (("lr", lr), ("mu", mu)):
        if jnp.ndim(x) != 0 or isinstance(x, (bool, str)):
            raise ValueError(f"{name} must be a single number, got {x!r}")
    step_map = _one_step_affine(problem, lr, mu)
    result = None
    k = int(T)
    while k:  # T is static: unrolled binary powering; powers of one map commute
        if k & 1:
            result = step_map if result is None else _compose(step_map, result)
        k >>= 1
        if k:
            step_map = _compose(step_map, step_map)
    A, b = result
    m0 = init_moments(problem)
    s0 = (m0.theta2, m0.v2, m0.theta_v)
    theta2 = sum(A[0][k] * s0[k] for k in range(3)) + b[0]
    return 0.5 * jnp.sum(problem.h * theta2)


# --- Adam fits ----------------------------------------------------------------------------------------------------

def _bounded(params, lr_max):
    """Schedule from raw variables, clipped to the box ``[0, lr_max] x [0, MU_MAX]`` (bounds hold by construction),
    and the derivative of the clip (1 inside the box, 0 outside)."""
    lo = jnp.zeros_like(params)
    hi = jnp.stack([jnp.broadcast_to(lr_max, params[0].shape), jnp.full(params[1].shape, MU_MAX)])
    return jnp.clip(params, lo, hi), ((params >= lo) & (params <= hi)).astype(params.dtype)


def _adam_fit(value_and_grad, params0, steps: int, adam_lr, project=None):
    """Adam (:func:`shb_lib.meta_optimizer.adam`: Kingma & Ba 2015, default betas, eps 1e-8) fused in one
    ``lax.scan``. A step whose gradient is not finite (a diverging schedule) moves no variable (Adam's moments take
    a zero gradient); ``project`` (optional) maps the variables back after every step. Returns the final params
    and the objective before each step."""
    optimizer = mo.adam(adam_lr)

    def body(carry, _):
        p, state = carry
        val, g = value_and_grad(p)
        ok = jnp.all(jnp.isfinite(g))
        new, state = mo.step(optimizer, p, jnp.where(ok, g, 0.0), state)
        p = jnp.where(ok, new, p)
        if project is not None:
            p = project(p)
        return (p, state), val

    (p, _), vals = lax.scan(body, (params0, optimizer.init(params0)), None, length=steps)
    return p, vals


def _fit(problem, T, steps, adam_lr, lr_max, use_log, tied, with_momentum, projected=False):
    """Fit a schedule by Adam from the middle of the box. ``tied``: one learning rate and one momentum for all steps
    (the fixed schedule, whose objective is computed by :func:`constant_schedule_final_loss`). ``projected``: clip
    the variables themselves back into the box after every step (projected Adam) instead of only clipping the
    schedule in the forward pass, where a variable that leaves the box gets no gradient and stays out."""
    keep_mu = 1.0 if with_momentum else 0.0

    def value_and_grad(p):
        sched, dclip = _bounded(p, lr_max)
        if tied:
            loss, g = jax.value_and_grad(
                lambda q: constant_schedule_final_loss(problem, q[0], keep_mu * q[1], T))(sched[:, 0])
            g = jnp.broadcast_to(g[:, None], p.shape)
        else:
            loss, g_lr, g_mu = final_excess_loss_and_grad(problem, sched[0], keep_mu * sched[1])
            g = jnp.stack([g_lr, keep_mu * g_mu])
        g = g * dclip
        value = jnp.where(use_log, jnp.log(loss), loss)
        return value, jnp.where(use_log, g / loss, g)

    width = 1 if tied else T
    p0 = jnp.stack([jnp.full((width,), 0.5) * lr_max, jnp.full((width,), 0.5 * keep_mu)])
    project = (lambda q: _bounded(q, lr_max)[0]) if projected else None
    p, vals = _adam_fit(value_and_grad, p0, steps, adam_lr, project)
    sched, _ = _bounded(p, lr_max)
    lrs = jnp.broadcast_to(sched[0], (T,))
    momenta = keep_mu * jnp.broadcast_to(sched[1], (T,))
    return lrs, momenta, _summaries(problem, lrs, momenta), vals


_fit_jit = jax.jit(_fit, static_argnums=(1, 2, 6, 7, 8))
def _fit_args(problem, T, steps, adam_lr, lr_max, objective):
    _check_problem(problem)
    T = _check_T(T)
    checks.check_int("steps", steps, 0)
    checks.check_real("adam_lr", adam_lr, low=0.0, low_open=True, scalar=True)
    lr_max = default_lr_max(problem) if lr_max is None else lr_max
    checks.check_real("lr_max", lr_max, low=0.0, low_open=True, scalar=True)
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    return T, int(steps), jnp.float64(adam_lr), jnp.float64(lr_max), jnp.asarray(objective == "log_loss")


def _fitted(kind, problem, T, steps, adam_lr, lr_max, objective, with_momentum, projected) -> Schedule:
    """The checked arguments of :func:`optimized_schedule` (``kind="optimized"``: one rate and momentum per step) or
    :func:`fixed_schedule` (``"fixed"``: one for all steps), fitted by :func:`_fit`."""
    T, steps, adam_lr, lr_max, use_log = _fit_args(problem, T, steps, adam_lr, lr_max, objective)
    checks.check_bool("with_momentum", with_momentum)
    checks.check_bool("projected", projected)
    lrs, momenta, summ, vals = _fit_jit(problem, T, steps, adam_lr, lr_max, use_log, kind == "fixed",
                                        bool(with_momentum), bool(projected))
    return _make(kind, problem, lrs, momenta, summ, vals)


def optimized_schedule(problem: NoisyQuadratic, T: int, *, steps: int = PAPER_ADAM_STEPS,
                       adam_lr: float = PAPER_ADAM_LR, lr_max: float | None = None, objective: str = "loss",
                       with_momentum: bool = True, projected: bool = False) -> Schedule:
    """A schedule of ``T`` learning rates and momenta fitted by Adam to minimise the excess loss at ``T`` (ICLR
    section 2.3: Adam, learning rate 0.003, 500 steps). ``lr_max`` bounds the learning rate (default
    :func:`default_lr_max`, $2/h_{max}$); ``objective="log_loss"`` fits the logarithm of the loss instead (same
    minimiser; Adam keeps moving when the loss falls by many orders of magnitude). By default the schedule is clipped
    to the box in the forward pass only (a variable that leaves the box stops moving: our reading of the paper's
    protocol); ``projected=True`` runs projected Adam, which converges further."""
    return _fitted("optimized", problem, T, steps, adam_lr, lr_max, objective, with_momentum, projected)


def fixed_schedule(problem: NoisyQuadratic, T: int, *, steps: int = PAPER_ADAM_STEPS,
                   adam_lr: float = PAPER_ADAM_LR, lr_max: float | None = None, objective: str = "loss",
                   with_momentum: bool = True, projected: bool = False) -> Schedule:
    """The best constant learning rate and momentum for horizon ``T``, fitted exactly as :func:`optimized_schedule`
    (ICLR section 2.3: "fixed learning rate and momentum, with the two hyperparameters fit using Adam")."""
    return _fitted("fixed", problem, T, steps, adam_lr, lr_max, objective, with_momentum, projected)


# --- the paper's constraint: no coordinate's loss above its initial value -------------------------------------------

#: Relative margin below the initial second moment that the constrained schedule keeps, so that rounding cannot
#: push a coordinate's ratio above 1.
CONSTRAINT_MARGIN = 1e-10
#: The factor is taken this much below the root, so that a coordinate exactly at its cap (``D = 0``) strictly
#: decreases rather than landing on the cap up to rounding.
SCALE_MARGIN = 1e-9


def max_feasible_scale(theta2, v2, theta_v, a, mu, sigma2, cap):
    r"""The largest $s \in [0, 1]$ such that the step with $(s\alpha, s\mu)$ keeps every coordinate's
    $E[\theta_i'^2] \le \max(c_i, E[\theta_i^2])$: the per-step safeguard of :func:`constrained_optimized_schedule`.

    Scaling both $\alpha$ and $\mu$ by $s$ makes the new second moment (ICLR eqs. 12-13) a convex quadratic in $s$,

    $$E[\theta'^2](s) = E[\theta^2] + sB + s^2W,\quad B = 2(\mu E[\theta v] - aE[\theta^2]),\quad
    W = \mu^2E[v^2] + a^2E[\theta^2] - 2\mu aE[\theta v] + a^2\sigma^2 = E[(\mu v - a\theta + ac)^2] \ge 0,$$

    which equals $E[\theta^2]$ at $s = 0$ (no step), so the feasible $s$ form an interval $[0, s_i^*]$ with
    $s_i^*$ the positive root of $Ws^2 + Bs - D = 0$, $D = \max(c - E[\theta^2], 0)$:
    $s^* = 2D/(B + \sqrt{B^2 + 4WD})$ for $B > 0$, $(-B + \sqrt{B^2 + 4WD})/(2W)$ otherwise ($\infty$ when the
    step cannot raise the moment).

    Args: per-coordinate ``theta2``, ``v2``, ``theta_v`` (raw second moments before the step), ``a`` = lr * h,
    scalar ``mu``, ``sigma2``, ``cap`` (the bound on $E[\theta_i^2]$), arrays of shape ``(n,)``.
    Returns: the scalar $\min(1, (1 - 10^{-9})\min_i s_i^*)$ (differentiable almost everywhere; the factor
    ``SCALE_MARGIN`` keeps the result strictly inside, above rounding)."""
    B = 2.0 * (mu * theta_v - a * theta2)
    W = mu * mu * v2 + a * a * theta2 - 2.0 * mu * a * theta_v + a * a * sigma2
    D = jnp.maximum(cap - theta2, 0.0)
    disc = B * B + 4.0 * W * D
    sq = jnp.where(disc > 0, jnp.sqrt(jnp.where(disc > 0, disc, 1.0)), 0.0)
    pos = B > 0
    num = jnp.where(pos, 2.0 * D, sq - B)
    den = jnp.where(pos, B + sq, 2.0 * W)
    ok = den > 0
    root = jnp.where(ok, num / jnp.where(ok, den, 1.0), jnp.inf)
    return jnp.minimum(1.0, (1.0 - SCALE_MARGIN) * jnp.min(root))


def _constrained_rollout(problem, lrs, momenta, cap):
    """The final excess loss under ``(lrs, momenta)`` with each step scaled by :func:`max_feasible_scale`, and the
    schedule actually run (the scaled rates and momenta)."""
    m0 = init_moments(problem)

    def body(carry, hyper):
        theta2, v2, theta_v = carry
        lr, mu = hyper
        sc = max_feasible_scale(theta2, v2, theta_v, lr * problem.h, mu, problem.sigma2, cap)
        lr, mu = sc * lr, sc * mu
        return _second_moments_step(problem, carry, (lr, mu)), (lr, mu)

    (theta2, _, _), (lrs_run, mus_run) = lax.scan(body, (m0.theta2, m0.v2, m0.theta_v), (lrs, momenta))
    return 0.5 * jnp.sum(problem.h * theta2), (lrs_run, mus_run)


@partial(jax.jit, static_argnums=(1, 2, 5, 6))
def _constrained_fit(problem, T, steps, adam_lr, lr_max, with_momentum, projected):
    keep_mu = 1.0 if with_momentum else 0.0
    cap = (1.0 - CONSTRAINT_MARGIN) * init_moments(problem).theta2

    def objective(p):
        sched, _ = _bounded(p, lr_max)
        return _constrained_rollout(problem, sched[0], keep_mu * sched[1], cap)[0]

    def value_and_grad(p):
        val, g = jax.value_and_grad(objective)(p)
        return val, g * _bounded(p, lr_max)[1]

    p0 = jnp.stack([jnp.full((T,), 0.5) * lr_max, jnp.full((T,), 0.5 * keep_mu)])
    project = (lambda q: _bounded(q, lr_max)[0]) if projected else None
    p, vals = _adam_fit(value_and_grad, p0, steps, adam_lr, project)
    sched, _ = _bounded(p, lr_max)
    _, (lrs, momenta) = _constrained_rollout(problem, sched[0], keep_mu * sched[1], cap)
    return lrs, momenta, _summaries(problem, lrs, momenta), vals


def constrained_optimized_schedule(problem: NoisyQuadratic, T: int, *, steps: int = PAPER_ADAM_STEPS,
                                   adam_lr: float = PAPER_ADAM_LR, lr_max: float | None = None,
                                   with_momentum: bool = True, projected: bool = False) -> Schedule:
    r"""The optimized schedule under the paper's constraint (ICLR section 2.3: the learning rate is bounded so that
    "the loss component for any dimension" never becomes "larger than its initial value"): every coordinate keeps
    $E[\theta_i^{(t)2}] \le E[\theta_i^{(0)2}]$ at every step, so ``max_loss_ratio <= 1``.

    Fitted as :func:`optimized_schedule` (Adam on the excess loss at ``T``, the paper's 500 steps of 0.003 by
    default, variables clipped to ``[0, lr_max] x [0, MU_MAX]``), with one change, our choice: each step's
    ``(lr, momentum)`` is scaled by :func:`max_feasible_scale` (the largest factor in ``[0, 1]`` that keeps every
    coordinate under its initial second moment, less a relative ``CONSTRAINT_MARGIN``), so every schedule the
    optimizer tries is feasible, and every feasible schedule is one it can represent (its factor is 1). The
    gradient flows through the factor. The returned ``lrs`` and ``momenta`` are the scaled ones, as run.

    Args: as :func:`optimized_schedule`. Returns: a :class:`Schedule` of kind ``"constrained"``."""
    T, steps, adam_lr, lr_max, _ = _fit_args(problem, T, steps, adam_lr, lr_max, "loss")
    checks.check_bool("with_momentum", with_momentum)
    checks.check_bool("projected", projected)
    lrs, momenta, summ, vals = _constrained_fit(problem, T, steps, adam_lr, lr_max, bool(with_momentum),
                                                bool(projected))
    return _make("constrained", problem, lrs, momenta, summ, vals)


# --- the whole of Fig. 1 in one jit ---------------------------------------------------------------------------------

#: Fit settings of Fig. 1 per problem: the paper's protocol for the noisy problem; for the deterministic one the loss
#: falls by ~30 orders of magnitude, so we fit its log, and the greedy (= conjugate gradient) schedule itself needs
#: ``lr > 2/h_max``, so the bound is the heavy-ball stability limit ``4/h_max`` (momentum -> 1).
FIGURE1_SETTINGS = {
    "noisy": {"lr_max_times_hmax": 2.0, "objective": "loss"},
    "deterministic": {"lr_max_times_hmax": 4.0, "objective": "log_loss"},
}


@partial(jax.jit, static_argnums=(2, 3))
def _figure1_one(problem, lr_max, T, steps, adam_lr, use_log):
    """Greedy, fixed and optimized schedules of one problem, in one jitted call."""
    greedy = _greedy_core.__wrapped__(problem, T, True)
    fixed = _fit(problem, T, steps, adam_lr, lr_max, use_log, True, True)
    opt = _fit(problem, T, steps, adam_lr, lr_max, use_log, False, True)
    return greedy, fixed, opt


def figure1_schedules(T: int = PAPER_T, *, steps: int = PAPER_ADAM_STEPS, adam_lr: float = PAPER_ADAM_LR,
                      noise_scale: float = 1.0) -> dict[str, dict[str, Schedule]]:
    """Greedy, fixed and optimized schedules on :func:`paper_problem` with and without noise (short version Fig. 1a,
    b, after which it is named; the same figure is ICLR Fig. 3). Each problem is one jitted call; the two calls run on two threads (XLA releases the GIL), so
    the noisy and deterministic fits use both cores of a laptop. Returns
    ``{"noisy": {"greedy": ..., "fixed": ..., "optimized": ...}, "deterministic": {...}}``."""
    T = _check_T(T)
    checks.check_int("steps", steps, 0)
    checks.check_real("adam_lr", adam_lr, low=0.0, low_open=True, scalar=True)
    checks.check_real("noise_scale", noise_scale, low=0.0, scalar=True)
    problems = {"noisy": paper_problem(noise=True).with_noise_scale(noise_scale),
                "deterministic": paper_problem(noise=False)}
    hmax = float(jnp.max(problems["noisy"].h))

    def one(name):
        settings = FIGURE1_SETTINGS[name]
        greedy, fixed, opt = _figure1_one(problems[name], jnp.float64(settings["lr_max_times_hmax"] / hmax), T,
                                          int(steps), jnp.float64(adam_lr),
                                          jnp.asarray(settings["objective"] == "log_loss"))
        return jax.block_until_ready((greedy, fixed, opt))

    with ThreadPoolExecutor(max_workers=len(problems)) as pool:
        results = dict(zip(problems, pool.map(one, problems)))
    out = {}
    for name, (g, f, o) in results.items():
        prob = problems[name]
        out[name] = {
            "greedy": _make("greedy", prob, g[0], g[1], g[2]),
            "fixed": _make("fixed", prob, f[0], f[1], f[2], f[3]),
            "optimized": _make("optimized", prob, o[0], o[1], o[2], o[3]),
        }
    return out


# --- ICLR Fig. 1: an aggressive rate then decay against a conservative rate, in two dimensions ----------------------

#: Our choices for ICLR Fig. 1, which the paper draws without numbers: curvatures h = (0.02, 1) (x flat, y steep),
#: the paper's noise sigma2 = 1/h, theta_0 = (3, 3), plain SGD. Conservative: a fixed rate 0.2 for 200 steps.
#: Aggressive: 1.5 (below the stability limit 2/h_max = 2) for 100 steps, then 100 steps at 1.5 * 0.95^k.
FIG1_2D = {"h": (0.02, 1.0), "theta0": (3.0, 3.0), "conservative_lr": 0.2, "aggressive_lr": 1.5,
           "aggressive_steps": 100, "decay_steps": 100, "decay": 0.95}


def aggressive_vs_conservative(key, *, noise: bool = True, settings: dict | None = None) -> dict:
    """ICLR Fig. 1 on a 2-D noisy quadratic (:data:`FIG1_2D`, or ``settings`` with the same keys): the exact excess
    loss (ICLR Theorem 1) of the conservative and the aggressive-then-decayed schedules at every step, their mean
    paths ``E[theta^(t)]`` and one sampled path each (:func:`sample_paths`, both from ``key``). ``noise=False``
    removes the noise (the premise the figure needs).

    Returns: ``{"problem", "switch" (the step where the decay starts), "lrs", "losses", "mean_paths", "paths"}``,
    each of the last four a dict ``{"conservative": ..., "aggressive": ...}`` (losses ``(T+1,)``, paths
    ``(T+1, 2)``)."""
    st = dict(FIG1_2D, **(settings or {}))
    checks.check_bool("noise", noise)
    h = jnp.asarray(st["h"], jnp.float64)
    problem = NoisyQuadratic(h=h, sigma2=(1.0 / h) if noise else jnp.zeros_like(h),
                             theta0_mean=jnp.asarray(st["theta0"], jnp.float64), theta0_var=0.0)
    k1, k2 = int(st["aggressive_steps"]), int(st["decay_steps"])
    a = float(st["aggressive_lr"])
    lrs = {"conservative": np.full(k1 + k2, float(st["conservative_lr"])),
           "aggressive": np.concatenate([np.full(k1, a), decay.exponential_decay(np.float64(a), float(st["decay"]), k2)])}
    zeros = np.zeros(k1 + k2)
    out = {"problem": problem, "switch": k1, "lrs": lrs, "losses": {}, "mean_paths": {}, "paths": {}}
    for name, lr in lrs.items():
        out["losses"][name] = np.asarray(_rollout(problem, jnp.asarray(lr), jnp.asarray(zeros)))
        out["mean_paths"][name] = np.asarray(trajectory(problem, lr, zeros).mean_theta)
        out["paths"][name] = np.asarray(sample_paths(problem, lr, zeros, 1, key))[:, 0, :]
    return out


# --- ICLR Fig. 2: short-horizon meta-objectives ---------------------------------------------------------------------

def _meta_objective(problem, lr, horizon: int, decay_steps: int, factor: float, momentum):
    lrs = jnp.concatenate([jnp.full((horizon,), lr), decay.exponential_decay(lr, factor, decay_steps)])
    return _rollout(problem, lrs, jnp.full(lrs.shape, momentum))[-1]


@partial(jax.jit, static_argnums=(2, 3))
def _meta_objective_grid(problem, lrs, horizon, decay_steps, factor, momentum):
    return jax.vmap(lambda lr: _meta_objective(problem, lr, horizon, decay_steps, factor, momentum))(lrs)


def fixed_lr_meta_objective(problem: NoisyQuadratic, lrs, horizon: int, *, decay_steps: int = 0,
                            decay: float = 0.9, momentum: float = 0.0):
    """ICLR Fig. 2: excess loss after ``horizon`` steps at each fixed learning rate in ``lrs`` (solid curves), or
    after ``horizon`` fixed steps followed by ``decay_steps`` steps with the rate decayed exponentially,
    ``lr * decay**k`` for ``k = 1..decay_steps`` (dashed curves; the paper uses 50 steps)."""
    _check_problem(problem)
    horizon = _check_T(horizon, "horizon")
    checks.check_array("lrs", lrs)
    checks.check_real("momentum", momentum, low=-1.0, high=1.0, low_open=True, high_open=True, scalar=True)
    checks.check_real("decay", decay, low=0.0, high=1.0, low_open=True, scalar=True)
    lrs = jnp.asarray(lrs, jnp.float64)
    if lrs.ndim != 1 or lrs.shape[0] < 1:
        raise ValueError(f"lrs must be a non-empty 1-D array, got shape {lrs.shape}")
    _check_schedule(lrs, jnp.full(lrs.shape, momentum))
    checks.check_int("decay_steps", decay_steps, 0)
    return _meta_objective_grid(problem, lrs, horizon, int(decay_steps), jnp.float64(decay), jnp.float64(momentum))
