"""When does short-horizon meta-optimization work? A phase diagram on the exact noisy quadratic (beyond the paper).

The ICLR paper (section 4, conclusion) traces the short-horizon bias to stochasticity combined with
ill-conditioning and leaves open whether removing either -- a good preconditioner, or large batches -- lets one
"enter the regime where short-horizon meta-optimization works well". This module answers that on the noisy quadratic
(ICLR section 2.2.2) exactly, over a grid of problems:

- **condition number** $\\kappa = h_{max}/h_{min}$: ``n`` Chebyshev curvatures in $[h_{max}/\\kappa, h_{max}]$,
  $h_{max} = 10$ (the paper's, ICLR section 2.3; $\\kappa = 200$ there);
- **noise scale** $s$: $\\sigma_i^2 = s / h_i$ (the paper's Fisher assumption is $s = 1$; $s = 1/B$ relative to a
  batch of one, so a larger batch is a smaller $s$);
- **preconditioning** $p \\in [0, 1]$: the optimizer runs SGD with momentum on the preconditioned gradient
  $D^{-1} g$ with $D = \\mathrm{diag}(h^p)$, so it sees the curvatures $h_i^{1 - p}$ (:func:`preconditioned`).

For every problem: the greedy schedule (ICLR Theorem 2), the long-horizon-optimized schedule (Adam on all ``T``
learning rates and momenta, as in ICLR section 2.3) and, for a few short horizons ``T_s``, the inverse-time decay
schedule $\\alpha_t = \\alpha_0 / (1 + t/K)^\\beta$ (the family the paper meta-optimizes on MNIST, ICLR section 3.2)
whose $(\\alpha_0, \\beta)$ minimise the loss at ``T_s``; each run to the long horizon ``T``. The diagram's number is
the ratio of a schedule's excess loss at ``T`` to the best one found for ``T``. Everything is float64; each family of
problems (one preconditioning) is one jitted, vmapped call.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import checks, decay
from .dynamics import _rollout, _trajectory
from .greedy import _greedy_rollout
from .problem import PAPER_T, NoisyQuadratic, chebyshev_spectrum
from .schedules import MU_MAX, _adam_fit, final_excess_loss_and_grad

__all__ = [
    "KAPPAS", "NOISE_SCALES", "PRECONDITIONING", "PAPER_POINT", "H_MAX", "SHORT_HORIZONS", "WORKS_TOLERANCE",
    "FitSettings", "phase_problem", "preconditioned", "stack_problems", "inverse_time_lrs",
    "greedy_final_loss", "optimized_final_loss", "parametric_final_losses", "problem_family", "Diagram",
    "phase_diagram", "works", "loop_phase_diagram", "point_schedules", "effective_condition_number",
    "flat_noise_to_signal", "boundary_features", "predict_works", "fit_boundary", "evaluate_predictor",
    "PREDICTOR_TRAIN_PS", "parametric_grid",
]

#: Grid of the diagram (our choice): condition numbers (the paper's 200 among them), noise scales (0, the paper's
#: 1, up to 10) and preconditioning powers.
KAPPAS = (1.0, 3.0, 10.0, 30.0, 100.0, 200.0, 500.0, 1e3, 3e3, 1e4)
NOISE_SCALES = (0.0, 1e-8, 1e-6, 1e-4, 1e-2, 0.1, 0.3, 1.0, 3.0, 10.0)
PRECONDITIONING = (0.0, 0.25, 0.5, 0.75, 1.0)
#: The paper's problem (ICLR section 2.3) on the grid.
PAPER_POINT = {"kappa": 200.0, "noise_scale": 1.0, "p": 0.0}
#: Largest curvature of every problem (the paper's).
H_MAX = 10.0
#: Short horizons of the inverse-time-decay meta-objective (the long one is the diagram's ``T``).
SHORT_HORIZONS = (10, 50)
#: "Short-horizon meta-optimization works" where the ratio is within this of 1 (the issue's 10 %).
WORKS_TOLERANCE = 0.1
#: Decay time constant of the inverse-time schedule, in steps (chapter 3's explorer uses 50 for T = 250).
DECAY_TIME_CONST = 50.0


class FitSettings(NamedTuple):
    """How the long-horizon schedule is fitted (our choice, after ICLR section 2.3 and chapter 3).

    Projected Adam with learning rate ``adam_lr`` for ``steps`` steps on the logarithm of the loss at ``T`` (the
    loss spans many decades over the grid), on the variables ``(lr / lr_max, momentum)`` started in the middle of the
    box ``[0, 1] x [0, MU_MAX]``, ``lr_max = lr_bound / h'_max`` (``lr_bound = 2``: the paper's bound, chapter 3).
    ``grid``: the number of ``alpha_0`` and of ``beta`` values of the inverse-time grid."""

    steps: int = 200
    adam_lr: float = 0.02
    lr_bound: float = 2.0
    grid: int = 8


# --- the problems ---------------------------------------------------------------------------------------------------

def preconditioned(problem: NoisyQuadratic, p) -> NoisyQuadratic:
    """The problem as SGD with momentum on the preconditioned gradient $D^{-1}g$, $D = \\mathrm{diag}(h^p)$, sees it.

    Our modelling choice: a fixed diagonal preconditioner is a change of variables $\\phi = D^{1/2}\\theta$, applied
    to the whole stochastic gradient, signal and noise alike (a preconditioner cannot tell them apart). In $\\phi$ the
    stochastic loss $\\tfrac12\\sum_i h_i(\\theta_i - c_i)^2$ is again a noisy quadratic (ICLR eq. 3), with

    $$h_i' = h_i^{1-p},\\qquad \\sigma_i'^2 = h_i^p\\,\\sigma_i^2,\\qquad
    E[\\phi_i^{(0)}] = h_i^{p/2} E[\\theta_i^{(0)}],\\qquad V[\\phi_i^{(0)}] = h_i^p\\, V[\\theta_i^{(0)}],$$

    and the same excess loss, $\\tfrac12\\sum_i h_i'\\phi_i^2 = \\tfrac12\\sum_i h_i\\theta_i^2$. The Fisher assumption
    survives: $\\sigma^2 = s/h$ becomes $\\sigma'^2 = s/h'$. At ``p = 1`` every direction has curvature 1 and the
    noise variance ``s``; the initial loss is unchanged.

    Args:
        problem: a :class:`NoisyQuadratic` (validated when concrete).
        p: preconditioning power in ``[0, 1]`` (0: none; 1: the exact inverse curvature).

    Returns:
        The :class:`NoisyQuadratic` in the preconditioned coordinates.
    """
    if not isinstance(problem, NoisyQuadratic):
        raise ValueError(f"problem must be a NoisyQuadratic, got {type(problem).__name__}")
    checks.check_real("p", p, low=0.0, high=1.0, scalar=True)
    h = problem.h
    hp = h ** p
    return NoisyQuadratic(h=h / hp, sigma2=problem.sigma2 * hp, theta0_mean=problem.theta0_mean * jnp.sqrt(hp),
                          theta0_var=problem.theta0_var * hp)


def phase_problem(kappa, noise_scale, p, n: int = 30) -> NoisyQuadratic:
    """One point of the diagram, as the optimizer sees it (:func:`preconditioned`).

    The paper's problem (ICLR section 2.3) with its condition number and noise changed: ``n`` curvatures on
    :func:`chebyshev_spectrum` ``(n, H_MAX / kappa, H_MAX)``, $\\sigma_i^2 = s / h_i$ with $s$ = ``noise_scale``,
    $\\theta^{(0)} = \\sqrt{10}$ exactly. ``phase_problem(200, 1, 0, 1000)`` is :func:`paper_problem`.

    Args:
        kappa: condition number $h_{max}/h_{min} \\ge 1$.
        noise_scale: $s \\ge 0$ (0: deterministic).
        p: preconditioning power in ``[0, 1]``.
        n: number of coordinates, an integer ``>= 1``.
    """
    checks.check_real("kappa", kappa, low=1.0, scalar=True)
    checks.check_real("noise_scale", noise_scale, low=0.0, scalar=True)
    checks.check_real("p", p, low=0.0, high=1.0, scalar=True)
    n = checks.check_int("n", n, 1)
    h = chebyshev_spectrum(n, H_MAX / float(kappa), H_MAX)
    base = NoisyQuadratic(h=h, sigma2=float(noise_scale) / h, theta0_mean=math.sqrt(10.0), theta0_var=0.0)
    return preconditioned(base, float(p))


def stack_problems(problems) -> NoisyQuadratic:
    """Problems of one size stacked on a leading axis (a pytree to ``vmap`` over)."""
    problems = list(problems)
    if not problems or not all(isinstance(q, NoisyQuadratic) for q in problems):
        raise ValueError("problems must be a non-empty sequence of NoisyQuadratic")
    if len({q.n for q in problems}) != 1:
        raise ValueError(f"problems must all have the same n, got {sorted({q.n for q in problems})}")
    return jax.tree_util.tree_map(lambda *x: jnp.stack(x), *problems)


def inverse_time_lrs(alpha_0, beta, T: int, time_const: float = DECAY_TIME_CONST):
    """The inverse-time decay schedule of ICLR section 3.2, $\\alpha_t = \\alpha_0 / (1 + t/T_c)^\\beta$ for
    ``t = 0..T-1`` (:func:`shb_lib.decay.inverse_time_decay`, time constant ``T_c = time_const``). Unvalidated
    (usable under ``jit``/``vmap``); shape ``(T,)``."""
    return decay.inverse_time_decay(jnp.arange(T, dtype=jnp.float64), alpha_0, beta, time_const)


# --- one problem, unvalidated (inside jit / vmap) -------------------------------------------------------------------

#: Losses below this fraction of the initial loss count as converged (ratios of two such losses are 1).
FLOOR = 1e-20


def _final_theta2(problem, lrs, momenta):
    """$E[\\theta^{(T)2}]$ per coordinate after the schedule (second moments only, ICLR eqs. 12-14)."""
    from .schedules import _second_moments_step

    z = jnp.zeros_like(problem.h)
    init = (problem.theta0_mean ** 2 + problem.theta0_var, z, z)
    (theta2, _, _), _ = lax.scan(lambda c, x: (_second_moments_step(problem, c, x), None), init, (lrs, momenta))
    return theta2


def _bands(problem, theta2, k):
    """Excess loss on the ``k`` highest and ``k`` lowest *original* curvatures: the last and the first ``k``
    coordinates, since :func:`phase_problem` builds them in ascending order of ``h`` (at ``p = 1`` the curvatures
    the optimizer sees are all 1, and only this order tells the directions apart)."""
    i = jnp.arange(problem.h.shape[-1])
    per = 0.5 * problem.h * theta2
    return (jnp.sum(jnp.where(i >= problem.h.shape[-1] - k, per, 0.0), axis=-1),
            jnp.sum(jnp.where(i < k, per, 0.0), axis=-1))


def greedy_final_loss(problem, T: int):
    """Greedy schedule (ICLR Theorem 2) for ``T`` steps: ``(excess loss at T, lrs, momenta, E[theta^(T)2])``.
    Unvalidated."""
    lrs, momenta, theta2 = _greedy_rollout(problem, T, True)
    return 0.5 * jnp.sum(problem.h * theta2[-1]), lrs, momenta, theta2[-1]


def optimized_final_loss(problem, T: int, settings: FitSettings = FitSettings()):
    """Long-horizon-optimized schedule (:class:`FitSettings`): ``(excess loss at T, lrs, momenta)``. Unvalidated."""
    lr_max = settings.lr_bound / jnp.max(problem.h)
    floor = FLOOR * 0.5 * jnp.sum(problem.h * (problem.theta0_mean ** 2 + problem.theta0_var))

    def value_and_grad(x):
        loss, g_lr, g_mu = final_excess_loss_and_grad(problem, x[0] * lr_max, x[1])
        return jnp.log(loss + floor), jnp.stack([g_lr * lr_max, g_mu]) / (loss + floor)

    hi = jnp.array([[1.0], [MU_MAX]])
    x0 = jnp.stack([jnp.full((T,), 0.5), jnp.full((T,), 0.5)])
    x, _ = _adam_fit(value_and_grad, x0, settings.steps, settings.adam_lr, lambda x: jnp.clip(x, 0.0, hi))
    lrs, momenta = x[0] * lr_max, x[1]
    return 0.5 * jnp.sum(problem.h * _final_theta2(problem, lrs, momenta)), lrs, momenta


def parametric_grid(grid: int):
    """The ``(alpha_0 h'_max, beta)`` grid of the inverse-time family: ``alpha_0`` from ``2^-6`` to ``2`` over
    ``h'_max``, ``beta`` 0 and from 0.03 to 10 (log spaced), ``grid`` values each (our choice)."""
    a = np.geomspace(2.0 ** -6, 2.0, grid)
    b = np.concatenate([[0.0], np.geomspace(0.03, 10.0, grid - 1)])
    A, B = np.meshgrid(a, b, indexing="ij")
    return jnp.asarray(A.ravel()), jnp.asarray(B.ravel())


def parametric_final_losses(problem, T: int, horizons, grid: int):
    """For each horizon ``T_s`` in ``horizons``: the inverse-time schedule (plain SGD) whose ``(alpha_0, beta)`` on
    :func:`parametric_grid` minimises the excess loss at ``T_s``, run to ``T``. Returns ``(loss at T, alpha_0,
    beta)``, each of shape ``(len(horizons),)``. Unvalidated."""
    a_rel, betas = parametric_grid(grid)
    alphas = a_rel / jnp.max(problem.h)
    losses = jax.vmap(lambda a, b: _rollout(problem, inverse_time_lrs(a, b, T), jnp.zeros(T)))(alphas, betas)
    idx = jnp.stack([jnp.argmin(losses[:, Ts]) for Ts in horizons])
    return losses[idx, T], alphas[idx], betas[idx]


def _one_problem(problem, T, horizons, settings, k):
    """Everything the diagram needs for one problem (unvalidated; vmapped by :func:`problem_family`)."""
    g_loss, g_lrs, g_mus, g_theta2 = greedy_final_loss(problem, T)
    o_loss, o_lrs, o_mus = optimized_final_loss(problem, T, settings)
    p_loss, p_alpha, p_beta = parametric_final_losses(problem, T, tuple(horizons) + (T,), settings.grid)
    initial = 0.5 * jnp.sum(problem.h * (problem.theta0_mean ** 2 + problem.theta0_var))
    floor = FLOOR * initial
    finite = lambda x: jnp.where(jnp.isfinite(x), jnp.maximum(x, 0.0) + floor, jnp.inf)  # noqa: E731
    best = jnp.minimum(jnp.minimum(finite(o_loss), finite(g_loss)), jnp.min(finite(p_loss)))
    return {"initial": initial, "greedy": finite(g_loss), "optimized": finite(o_loss), "parametric": finite(p_loss),
            "best": best, "alpha_0": p_alpha, "beta": p_beta,
            "greedy_bands": jnp.stack(_bands(problem, g_theta2, k)),
            "optimized_bands": jnp.stack(_bands(problem, _final_theta2(problem, o_lrs, o_mus), k))}


@partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _family(problems, T, horizons, settings, k):
    return jax.vmap(lambda q: _one_problem(q, T, horizons, settings, k))(problems)


_one_jit = jax.jit(_one_problem, static_argnums=(1, 2, 3, 4))


# --- the diagram ----------------------------------------------------------------------------------------------------

class Diagram(NamedTuple):
    """The phase diagram: arrays of shape ``(len(ps), len(kappas), len(noise_scales))`` (``...`` below), each
    loss the excess loss at ``T``, floored at ``FLOOR`` times the initial loss (two converged runs tie).

    ``greedy``, ``optimized``: the greedy and the long-horizon-optimized schedules; ``parametric``: ``(..., H)``,
    the inverse-time schedules chosen by the loss at each of ``horizons + (T,)``, with their ``alpha_0`` and
    ``beta``; ``best``: the lowest loss at ``T`` of all of them (the long-horizon optimum as far as we found it);
    ``greedy_bands`` / ``optimized_bands``: ``(..., 2)``, excess loss at ``T`` on the ``k`` highest and ``k``
    lowest curvatures."""

    kappas: np.ndarray
    noise_scales: np.ndarray
    ps: np.ndarray
    horizons: tuple
    T: int
    n: int
    initial: np.ndarray
    greedy: np.ndarray
    optimized: np.ndarray
    parametric: np.ndarray
    best: np.ndarray
    alpha_0: np.ndarray
    beta: np.ndarray
    greedy_bands: np.ndarray
    optimized_bands: np.ndarray

    @property
    def greedy_ratio(self) -> np.ndarray:
        """Greedy's loss at ``T`` over the best one: the diagram's number (1 = short horizons lose nothing)."""
        return self.greedy / self.best

    @property
    def parametric_ratio(self) -> np.ndarray:
        """``(..., H)``: the inverse-time schedule chosen at each horizon, its loss at ``T`` over the best one."""
        return self.parametric / self.best[..., None]

    @property
    def short_horizon_bias(self) -> np.ndarray:
        """``(..., len(horizons))``: within the inverse-time family, the loss at ``T`` of each short horizon's
        choice over the choice of ``T`` itself (the bias of the meta-objective alone)."""
        return self.parametric[..., :-1] / self.parametric[..., -1:]

    def index(self, kappa, noise_scale, p) -> tuple:
        """Grid index ``(i_p, i_kappa, i_noise)`` of a point (exact grid values)."""
        where = []
        for name, grid, v in (("p", self.ps, p), ("kappa", self.kappas, kappa),
                              ("noise_scale", self.noise_scales, noise_scale)):
            hit = np.flatnonzero(np.isclose(grid, v, rtol=1e-12, atol=0.0))
            if hit.size != 1:
                raise ValueError(f"{name} = {v!r} is not on the diagram's grid {tuple(grid.tolist())}")
            where.append(int(hit[0]))
        return tuple(where)


def _check_grid(name, values, low, high=None):
    checks.check_array(name, values, ndim=1, min_len=1)
    checks.check_real(name, values, low=low, high=high)
    return np.asarray(values, np.float64)


def _check_settings(T, horizons, settings, n, k):
    T = checks.check_int("T", T, 2)
    horizons = tuple(checks.check_int("horizons", h, 1, T - 1) for h in horizons)
    if not isinstance(settings, FitSettings):
        raise ValueError(f"settings must be a FitSettings, got {type(settings).__name__}")
    checks.check_int("settings.steps", settings.steps, 0)
    checks.check_real("settings.adam_lr", settings.adam_lr, low=0.0, low_open=True, scalar=True)
    checks.check_real("settings.lr_bound", settings.lr_bound, low=0.0, low_open=True, high=4.0, scalar=True)
    checks.check_int("settings.grid", settings.grid, 2)
    n = checks.check_int("n", n, 1)
    k = max(1, n // 20) if k is None else checks.check_int("k", k, 1, n)
    return T, horizons, settings, n, k


def problem_family(kappas, noise_scales, p, n: int = 30) -> NoisyQuadratic:
    """The problems of one preconditioning power ``p``, stacked ``kappa``-major (:func:`phase_problem`)."""
    return stack_problems([phase_problem(float(kp), float(s), float(p), n) for kp in kappas for s in noise_scales])


def _assemble(kappas, noise_scales, ps, horizons, T, n, outs):
    shape = (len(ps), len(kappas), len(noise_scales))
    def get(key):
        return np.stack([np.asarray(o[key]) for o in outs]).reshape(shape + np.shape(outs[0][key])[1:])
    return Diagram(kappas=kappas, noise_scales=noise_scales, ps=ps, horizons=horizons, T=T, n=n,
                   **{key: get(key) for key in ("initial", "greedy", "optimized", "parametric", "best", "alpha_0",
                                                "beta", "greedy_bands", "optimized_bands")})


def phase_diagram(kappas=KAPPAS, noise_scales=NOISE_SCALES, ps=PRECONDITIONING, *, n: int = 30, T: int = PAPER_T,
                  horizons=SHORT_HORIZONS, settings: FitSettings = FitSettings(), k: int | None = None) -> Diagram:
    """The phase diagram over ``kappas x noise_scales x ps``: for every problem its greedy, long-horizon-optimized
    and short-horizon-chosen schedules run to ``T`` (module docstring). One jitted call per preconditioning power
    (a family of ``len(kappas) * len(noise_scales)`` problems, vmapped); the families share one compilation.

    Args:
        kappas: condition numbers ``>= 1``; noise_scales: ``>= 0``; ps: preconditioning powers in ``[0, 1]``.
        n: coordinates per problem (default 30: the whole diagram in well under a minute on two cores; the
            paper's 1000 gives the same greedy ratio at its point to within 1 %, ``tests/test_phase.py``).
        T: the long horizon (the paper's 250); horizons: the short horizons, each in ``[1, T)``.
        settings: :class:`FitSettings`; k: band width (default ``n // 20``, the paper's 50 of 1000).

    Returns:
        A :class:`Diagram`.
    """
    kappas = _check_grid("kappas", kappas, 1.0)
    noise_scales = _check_grid("noise_scales", noise_scales, 0.0)
    ps = _check_grid("ps", ps, 0.0, 1.0)
    T, horizons, settings, n, k = _check_settings(T, horizons, settings, n, k)
    families = [problem_family(kappas, noise_scales, p, n) for p in ps]
    one = lambda q: jax.block_until_ready(_family(q, T, horizons, settings, k))  # noqa: E731
    with ThreadPoolExecutor(max_workers=2) as pool:  # XLA releases the GIL: the families use both cores
        outs = list(pool.map(one, families))
    return _assemble(kappas, noise_scales, ps, horizons, T, n, outs)


def loop_phase_diagram(kappas=KAPPAS, noise_scales=NOISE_SCALES, ps=PRECONDITIONING, *, n: int = 30,
                       T: int = PAPER_T, horizons=SHORT_HORIZONS, settings: FitSettings = FitSettings(),
                       k: int | None = None) -> Diagram:
    """:func:`phase_diagram` computed the straightforward way, one jitted call per problem in a Python loop (for
    the benchmark and the tests: same numbers, no ``vmap``)."""
    kappas = _check_grid("kappas", kappas, 1.0)
    noise_scales = _check_grid("noise_scales", noise_scales, 0.0)
    ps = _check_grid("ps", ps, 0.0, 1.0)
    T, horizons, settings, n, k = _check_settings(T, horizons, settings, n, k)
    outs = []
    for p in ps:
        per = [jax.block_until_ready(_one_jit(phase_problem(float(kp), float(s), float(p), n), T, horizons,
                                              settings, k)) for kp in kappas for s in noise_scales]
        outs.append(jax.tree_util.tree_map(lambda *x: np.stack(x), *per))
    return _assemble(kappas, noise_scales, ps, horizons, T, n, outs)


def works(ratio, tolerance: float = WORKS_TOLERANCE):
    """Where short-horizon meta-optimization works: the ratio is within ``tolerance`` of 1 (``ratio <= 1 + tol``;
    the ratios are ``>= 1`` by construction)."""
    checks.check_real("tolerance", tolerance, low=0.0, low_open=True, scalar=True)
    return np.asarray(ratio) <= 1.0 + tolerance


# --- the mechanism: one point's schedules and band losses over time ------------------------------------------------

@partial(jax.jit, static_argnums=(1, 2, 3))
def _point(problem, T, settings, k):
    g_loss, g_lrs, g_mus, _ = greedy_final_loss(problem, T)
    _, o_lrs, o_mus = optimized_final_loss(problem, T, settings)
    out = {}
    for name, lrs, mus in (("greedy", g_lrs, g_mus), ("optimized", o_lrs, o_mus)):
        theta2 = _trajectory(problem, lrs, mus).theta2
        high, low = _bands(problem, theta2, k)
        out[name] = {"lrs": lrs, "momenta": mus, "loss": 0.5 * jnp.sum(problem.h * theta2, axis=-1),
                     "high": high, "low": low}
    return out


def point_schedules(kappa, noise_scale, p, *, n: int = 30, T: int = PAPER_T, settings: FitSettings = FitSettings(),
                    k: int | None = None) -> dict:
    """The greedy and the long-horizon-optimized schedules of one point of the diagram, over time:
    ``{"greedy" | "optimized": {"lrs", "momenta", "loss", "high", "low"}}`` (numpy; ``loss``, ``high``, ``low``
    at ``t = 0..T``: the excess loss and its part on the ``k`` highest / lowest original curvatures, ICLR Fig. 3).
    The learning rates are those the optimizer uses on the preconditioned gradient."""
    T, _, settings, n, k = _check_settings(T, (), settings, n, k)
    out = _point(phase_problem(kappa, noise_scale, p, n), T, settings, k)
    return jax.tree_util.tree_map(np.asarray, out)


# --- a predictor of the boundary ------------------------------------------------------------------------------------

def effective_condition_number(kappa, p):
    """The condition number the preconditioned optimizer sees, $\\kappa' = \\kappa^{1-p}$ (:func:`preconditioned`)."""
    checks.check_real("kappa", kappa, low=1.0)
    checks.check_real("p", p, low=0.0, high=1.0)
    return np.asarray(kappa, np.float64) ** (1.0 - np.asarray(p, np.float64))


def flat_noise_to_signal(kappa, noise_scale, theta0_sq: float = 10.0):
    """Noise against signal in the flattest direction, $\\nu = s / (h_{min}\\,\\theta_0^2)$ with
    $h_{min} = h_{max}/\\kappa$: the excess loss one step's gradient noise adds at a step of $1/h'$,
    $\\tfrac12 h'\\sigma'^2 = s/2$, over the flattest direction's initial excess loss $\\tfrac12 h_{min}\\theta_0^2$.
    Both are the same in every preconditioned coordinate system (:func:`preconditioned`), so $\\nu$ does not
    depend on ``p``. Our quantity (not the paper's)."""
    checks.check_real("kappa", kappa, low=1.0)
    checks.check_real("noise_scale", noise_scale, low=0.0)
    checks.check_real("theta0_sq", theta0_sq, low=0.0, low_open=True, scalar=True)
    return np.asarray(noise_scale, np.float64) * np.asarray(kappa, np.float64) / (H_MAX * theta0_sq)


def boundary_features(kappa, noise_scale, p):
    """The predictor's two coordinates: $x = \\log_{10}\\kappa'$ and $y = \\log_{10}(1 + \\nu)$
    (:func:`effective_condition_number`, :func:`flat_noise_to_signal`)."""
    return (np.log10(effective_condition_number(kappa, p)), np.log10(1.0 + flat_noise_to_signal(kappa, noise_scale)))


def predict_works(coef, x, y):
    """The predictor: short horizons work where $x \\le c_0 + c_1 y$, i.e. where the effective condition number is
    below a threshold $10^{c_0}$ that grows with the flat directions' noise-to-signal ratio (``coef = (c0, c1)``)."""
    c0, c1 = coef
    return np.asarray(x) <= c0 + c1 * np.asarray(y)


def fit_boundary(x, y, works_mask, c0_grid=None, c1_grid=None):
    """``(c0, c1)`` of :func:`predict_works` with the highest accuracy on the given points, by a grid search
    (default: ``c0`` in ``[0, 1.5]``, ``c1`` in ``[0, 1]``, steps 0.01); among equally accurate ``(c0, c1)``, the one
    nearest their centroid. Returns ``((c0, c1), training accuracy)``."""
    x, y, w = (np.asarray(a).ravel() for a in (x, y, works_mask))
    if not (x.shape == y.shape == w.shape) or x.size == 0:
        raise ValueError(f"x, y and works_mask must be non-empty and of one size, got {x.size}, {y.size}, {w.size}")
    c0s = np.arange(0.0, 1.5001, 0.01) if c0_grid is None else np.asarray(c0_grid)
    c1s = np.arange(0.0, 1.0001, 0.01) if c1_grid is None else np.asarray(c1_grid)
    C0, C1 = np.meshgrid(c0s, c1s, indexing="ij")
    pred = x[None, None, :] <= C0[..., None] + C1[..., None] * y[None, None, :]
    acc = np.mean(pred == w.astype(bool), axis=-1)
    best = np.argwhere(acc == acc.max())
    centre = best.mean(axis=0)
    i, j = best[np.argmin(np.sum((best - centre) ** 2, axis=1))]
    return (float(c0s[i]), float(c1s[j])), float(acc.max())


#: Preconditioning powers whose points fit the predictor; the others are held out (our choice: the held-out
#: families include no preconditioning and the exact one).
PREDICTOR_TRAIN_PS = (0.25, 0.75)


def evaluate_predictor(diagram: Diagram, train_ps=PREDICTOR_TRAIN_PS, tolerance: float = WORKS_TOLERANCE) -> dict:
    """Fit :func:`predict_works` on the noisy points (``s > 0``) of the families ``train_ps`` and test it on the
    noisy points of the other families. Returns ``coef``, ``train_accuracy``, ``test_accuracy``, ``n_train``,
    ``n_test``, and the held-out accuracy of two one-feature baselines fitted the same way: a threshold on the
    effective condition number alone (``kappa_eff_only``) and on the raw condition number alone (``kappa_only``)."""
    if not isinstance(diagram, Diagram):
        raise ValueError(f"diagram must be a Diagram, got {type(diagram).__name__}")
    train_ps = _check_grid("train_ps", list(train_ps), 0.0, 1.0)
    P, K, S = np.meshgrid(diagram.ps, diagram.kappas, diagram.noise_scales, indexing="ij")
    x, y = boundary_features(K, S, P)
    w = works(diagram.greedy_ratio, tolerance)
    train = (S > 0) & np.isin(P, train_ps)
    test = (S > 0) & ~np.isin(P, train_ps)
    if not train.any() or not test.any():
        raise ValueError(f"train_ps = {tuple(train_ps)} must leave noisy points both to fit and to test")
    coef, train_acc = fit_boundary(x[train], y[train], w[train])
    held_out = lambda c, xs, ys: float(np.mean(predict_works(c, xs[test], ys[test]) == w[test]))  # noqa: E731
    zero = np.zeros_like(x)
    baselines = {}
    for name, feature in (("kappa_eff_only", x), ("kappa_only", np.log10(K))):
        c, _ = fit_boundary(feature[train], zero[train], w[train], c1_grid=[0.0])
        baselines[name] = held_out(c, feature, zero)
    return {"coef": coef, "train_accuracy": train_acc, "test_accuracy": held_out(coef, x, y),
            "n_train": int(train.sum()), "n_test": int(test.sum()), **baselines}
