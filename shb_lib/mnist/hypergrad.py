"""Exact hypergradients of the offline meta-objective by forward-mode differentiation (ICLR version, section 3.1).

**Meta-objective.** From start weights ``w_0`` (the pretrained network) and zero velocity, take ``T`` steps of
SGD with momentum (:mod:`shb_lib.mnist.optimizer`) on training batches ``B_0 .. B_{T-1}`` with the inverse-time-decay
schedule ``alpha_t = alpha_0 / (1 + t/time_const)^beta`` (:func:`shb_lib.decay.inverse_time_decay`); the
meta-objective is the mean training loss of ``w_T`` on *separate* evaluation batches ``E_1 .. E_n``::

    J(h) = (1/n) sum_j L(w_T(h); E_j).

**Hyperparameters** ``h`` are meta-optimized in log space (ICLR section 3.2, "all hyperparameters in log space"):
``log alpha_eff`` with ``alpha_eff = alpha_0 / (1 - mu)`` (the paper's axes), ``log beta`` and optionally
``log(1 - mu)``. They form a dict (the keys of :data:`HPARAM_NAMES`, a pytree for ``jax.jvp`` and optax);
:func:`default_hparams` gives the paper's initial values and :func:`hparams_to_schedule` the plain floats of a
report, a :class:`ScheduleHparams` ``(alpha_0, beta, mu)``. DESIGN.md ("Hyperparameters") lists every form the
hyperparameters take in the library and the converters between them.

**Forward mode.** Write one step as ``s_{t+1} = F_t(s_t, h)`` with state ``s = (w, v)``. The tangent
``u_t = ds_t/dh`` (one column per hyperparameter) obeys the recursion of ICLR Eqs. 8-9, generalised to momentum::

    u_0 = 0,     u_{t+1} = dF_t/dh + dF_t/ds u_t,     dJ/dh = grad_w J(w_T) . u_T^{(w)}.

Each step is one ``jax.jvp`` of ``F_t`` (a Hessian-vector product, forward-over-reverse), ``vmap``-ed over the
hyperparameter directions so the primal step is computed once and the tangent matrix products are batched; the loop
is a ``lax.scan`` carrying ``(w, v, u_w, u_v)``. Memory is therefore independent of ``T`` (only the ``T x B``
integer batch indices grow), unlike reverse mode, which stores every ``w_t``.

Public: :func:`make_offline_problem` (:func:`offline_problem` without checks), :func:`default_hparams`,
:func:`meta_objective`, :func:`hypergradient` (plus :func:`reverse_hypergradient` for checks and :func:`tangent_step`,
one step of the scan, for the benchmark); the converters :func:`default_hparams` (floats in),
:func:`schedule_params` (traced values out), :func:`hparams_to_schedule` (floats out, :class:`ScheduleHparams`) and
:func:`numpy_hparams` (JSON).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .. import checks, decay
from ..divergence import finite_or_inf
from . import batches, model, optimizer

#: Hyperparameter names, in the order used by the tangent matrix.
HPARAM_NAMES = ("log_alpha_eff", "log_beta", "log_one_minus_mu")


class ScheduleHparams(NamedTuple):
    """The schedule's hyperparameters as plain floats, the form of reports and plots: ``alpha_0`` the raw initial
    learning rate (``> 0``), ``beta`` the decay power, ``mu`` the momentum, with
    ``alpha_t = alpha_0 / (1 + t / time_const)^beta`` (ICLR section 3.2). A tuple, so ``a0, beta, mu = ...`` unpacks
    it. :func:`hparams_to_schedule` makes one from log-space hyperparameters; :func:`default_hparams` goes back."""

    alpha_0: float
    beta: float
    mu: float

    @property
    def alpha_eff(self) -> float:
        """``alpha_0 / (1 - mu)``, the effective learning rate (the paper's axis, ICLR Fig. 5)."""
        return self.alpha_0 / (1.0 - self.mu)

    def phi(self) -> np.ndarray:
        """The estimators' parameters of the same schedule: ``(log alpha_0, log beta)`` as a float64 ``(2,)`` array
        (:func:`shb_lib.estimators.inverse_time_schedule`; the momentum is the task's, not part of ``phi``)."""
        return np.log(np.array([self.alpha_0, self.beta], dtype=np.float64))


class OfflineProblem(NamedTuple):
    """Everything the meta-objective depends on besides the hyperparameters (a pytree; pass it to jitted code).

    images, labels: the training set, ``(N, D)`` and ``(N,)``. w0: start weights (the pretrained network).
    train_idx: ``(T, B)`` indices of the ``T`` lookahead batches. eval_idx: ``(n, B)`` indices of the evaluation
    batches. time_const, mu: the decay's time constant and the momentum (``mu`` is used unless ``h`` has
    ``log_one_minus_mu``).
    """

    images: jax.Array
    labels: jax.Array
    w0: tuple
    train_idx: jax.Array
    eval_idx: jax.Array
    time_const: jax.Array
    mu: jax.Array

    @property
    def horizon(self) -> int:
        return int(self.train_idx.shape[0])

    @property
    def batch_size(self) -> int:
        return int(self.train_idx.shape[1])


def make_offline_problem(
    key,
    images,
    labels,
    w0,
    horizon: int,
    batch_size: int = 100,
    n_eval_batches: int = 600,
    time_const: float = optimizer.TIME_CONST,
    mu: float = optimizer.MOMENTUM,
) -> OfflineProblem:
    """Build the offline problem: ``horizon`` lookahead batches and ``n_eval_batches`` separate evaluation batches.

    Both are drawn from ``images``/``labels`` with ``key`` (independent keys for the two;
    :func:`shb_lib.mnist.batches.epoch_batches`). The arrays keep the dtype of ``w0``; ``time_const`` and ``mu`` are
    stored in it too. Raises ``ValueError`` naming a bad argument: ``key`` a ``jax.random`` key; ``horizon``,
    ``batch_size``, ``n_eval_batches`` integers ``>= 1`` (not bools); ``images`` ``(N, D)`` with ``D`` the input
    width of ``w0``, finite; ``labels`` integers ``(N,)`` in ``[0, classes of w0)``; ``w0`` MLP parameters;
    ``0 < time_const < inf``, ``0 <= mu < 1``. :func:`offline_problem` is the same without the checks.
    """
    checks.check_key("key", key)
    horizon = checks.check_int("horizon", horizon, 1)
    batch_size = checks.check_int("batch_size", batch_size, 1)
    n_eval_batches = checks.check_int("n_eval_batches", n_eval_batches, 1)
    optimizer.check_hyperparameters(mu=mu, time_const=time_const)
    width, n_classes, _ = checks.check_mlp_params("w0", w0)
    checks.check_dataset(images, labels, width=width, n_classes=n_classes)
    return offline_problem(key, images, labels, w0, horizon, batch_size, n_eval_batches, time_const, mu)


def offline_problem(key, images, labels, w0, horizon: int, batch_size: int, n_eval_batches: int, time_const,
                    mu) -> OfflineProblem:
    """:func:`make_offline_problem` without its checks, for callers that validated at their own boundary (the
    jitted meta-step of :func:`shb_lib.mnist.offline.smd`, where ``time_const`` and ``mu`` are traced)."""
    dtype = jax.tree.leaves(w0)[0].dtype
    images = jnp.asarray(images)
    labels = jnp.asarray(labels, dtype=jnp.int32)
    k_train, k_eval = jax.random.split(key)
    n = images.shape[0]
    return OfflineProblem(
        images=images.astype(dtype),
        labels=labels,
        w0=w0,
        train_idx=batches.epoch_batches(k_train, n, int(horizon), int(batch_size)),
        eval_idx=batches.epoch_batches(k_eval, n, int(n_eval_batches), int(batch_size)),
        time_const=jnp.asarray(time_const, dtype=dtype),
        mu=jnp.asarray(mu, dtype=dtype),
    )


def default_hparams(beta: float = 0.1, alpha_0: float = 0.01, mu: float | None = None, dtype=jnp.float32):
    """The paper's initial hyperparameters in the log space of meta-optimization (ICLR section 3.2).

    ``alpha_0 = 0.01`` (the raw learning rate; ``alpha_eff = alpha_0 / (1 - 0.9) = 0.1``) and ``beta`` in
    ``{0.1, 10}``. With ``mu`` given, ``log(1 - mu)`` is added as a third hyperparameter.

    Each is a single finite number: ``alpha_0 > 0``, ``beta > 0`` (it is meta-optimized as ``log beta``, so 0 is
    out of reach), ``0 <= mu < 1``; ``dtype`` float32 or float64. Raises ``ValueError`` naming a bad argument.
    """
    checks.check_positive("alpha_0", alpha_0)
    checks.check_real("alpha_0", alpha_0, scalar=True)
    checks.check_real("beta", beta, low=0.0, low_open=True, scalar=True)
    if mu is not None:
        checks.check_real("mu", mu, low=0.0, high=1.0, high_open=True, scalar=True)
    checks.check_float_dtype("dtype", dtype)
    optimizer.check_hyperparameters(alpha_0=alpha_0, beta=beta, mu=mu)
    m = optimizer.MOMENTUM if mu is None else mu
    h = {
        "log_alpha_eff": jnp.asarray(math.log(alpha_0 / (1.0 - m)), dtype=dtype),
        "log_beta": jnp.asarray(math.log(beta), dtype=dtype),
    }
    if mu is not None:
        h["log_one_minus_mu"] = jnp.asarray(math.log(1.0 - mu), dtype=dtype)
    return h


def check_hparams(hparams, problem: OfflineProblem) -> None:
    """``hparams`` fits ``problem``: a dict with the keys of :data:`HPARAM_NAMES` (``log_alpha_eff``, ``log_beta``
    and optionally ``log_one_minus_mu``), each a scalar of the problem's dtype (or a Python number). Runs at trace
    time inside the jitted functions, so a float64 ``hparams`` with a float32 problem is named here instead of
    failing deep inside ``lax.scan``. Raises ``ValueError``."""
    if not isinstance(problem, OfflineProblem):
        raise ValueError(f"problem must be an OfflineProblem (from make_offline_problem), got {type(problem).__name__}")
    if not isinstance(hparams, dict):
        raise ValueError(f"hparams must be a dict such as default_hparams() returns, got {type(hparams).__name__}")
    unknown = set(hparams) - set(HPARAM_NAMES)
    if unknown or "log_alpha_eff" not in hparams or "log_beta" not in hparams:
        raise ValueError(f"hparams must have keys log_alpha_eff, log_beta [, log_one_minus_mu], got {sorted(hparams)}")
    for k, v in hparams.items():
        if isinstance(v, (bool, np.bool_, str)) or jnp.ndim(v) != 0:
            raise ValueError(f"hparams[{k!r}] must be a single number, got {v!r}")
    checks.check_same_dtype("hparams", hparams, problem.images.dtype, "the problem (its images and w0)")


def schedule_params(h, mu_default):
    """``(alpha_0, beta, mu)`` from log-space hyperparameters (arrays, also traced): ``alpha_0 = alpha_eff (1 - mu)``,
    ``beta = e^{log beta}``, ``mu = 1 - e^{log(1 - mu)}`` if ``h`` has ``log_one_minus_mu``, else ``mu_default``."""
    unknown = set(h) - set(HPARAM_NAMES)
    if unknown or "log_alpha_eff" not in h or "log_beta" not in h:
        raise ValueError(f"hparams must have keys log_alpha_eff, log_beta [, log_one_minus_mu], got {sorted(h)}")
    one_minus_mu = jnp.exp(h["log_one_minus_mu"]) if "log_one_minus_mu" in h else 1.0 - mu_default
    return jnp.exp(h["log_alpha_eff"]) * one_minus_mu, jnp.exp(h["log_beta"]), 1.0 - one_minus_mu


def schedule_step(w, v, t, h, problem: OfflineProblem, idx):
    """``F_t``: one momentum-SGD step on batch ``idx`` at step ``t`` with the schedule of ``h``; returns ``(w, v)``."""
    alpha_0, beta, mu = schedule_params(h, problem.mu)
    lr = decay.inverse_time_decay(t, alpha_0, beta, problem.time_const)
    return optimizer.sgd_step(w, v, problem.images[idx], problem.labels[idx], lr, mu)


def eval_loss(w, problem: OfflineProblem):
    """``J``'s outer loss: mean cross-entropy of ``w`` over the evaluation batches (a scan, memory of one batch)."""

    def body(acc, idx):
        return acc + model.cross_entropy(w, problem.images[idx], problem.labels[idx]), None

    zero = jnp.zeros((), dtype=problem.images.dtype)
    total, _ = jax.lax.scan(body, zero, problem.eval_idx)
    return total / problem.eval_idx.shape[0]


def _times(problem):
    return jnp.arange(problem.horizon).astype(problem.images.dtype)


def lookahead(h, problem: OfflineProblem):
    """``w_T``: the weights after the ``T`` lookahead steps (reverse-differentiable; used by the checks)."""
    v0 = optimizer.zeros_like_tree(problem.w0)

    def body(carry, inp):
        t, idx = inp
        return schedule_step(*carry, t, h, problem, idx), None

    (w, _), _ = jax.lax.scan(body, (problem.w0, v0), (_times(problem), problem.train_idx))
    return w


@jax.jit
def meta_objective(hparams, problem: OfflineProblem):
    """``J(h)``: mean evaluation-batch training loss after ``T`` steps (``+inf`` if the run diverged)."""
    check_hparams(hparams, problem)
    return finite_or_inf(eval_loss(lookahead(hparams, problem), problem))


def tangent_step(carry, t, hparams, problem: OfflineProblem, idx):
    """One step of the state and its tangents: ``(w, v, u_w, u_v) -> (F_t(s), dF_t/dh + dF_t/ds u)``.

    ``u_w``, ``u_v`` have a leading axis of one tangent per hyperparameter (in :data:`HPARAM_NAMES` order, as
    ``ravel_pytree(hparams)``). One ``jax.jvp`` of :func:`schedule_step` per direction with the direction's unit vector
    as the hyperparameter tangent, ``vmap``-ed over directions (the primal step is computed once).
    """
    w, v, uw, uv = carry
    hvec, unravel = ravel_pytree(hparams)
    basis = jnp.eye(hvec.shape[0], dtype=hvec.dtype)

    def step(w_, v_, hv):
        return schedule_step(w_, v_, t, unravel(hv), problem, idx)

    def one_direction(uw_i, uv_i, e_i):
        return jax.jvp(step, (w, v, hvec), (uw_i, uv_i, e_i))

    (w1, v1), (uw1, uv1) = jax.vmap(one_direction, out_axes=(None, 0))(uw, uv, basis)
    return w1, v1, uw1, uv1


@jax.jit
def hypergradient(hparams, problem: OfflineProblem):
    """``(J(h), dJ/dh)`` by forward mode, ``dJ/dh`` with the structure of ``hparams``.

    The scan carries the state ``(w, v)`` and its tangents ``(u_w, u_v)`` (one per hyperparameter) through
    ``u_{t+1} = dF_t/dh + dF_t/ds u_t`` (ICLR Eqs. 8-9 with momentum), then ``dJ/dh = grad_w J(w_T) . u_T``.
    Memory does not grow with ``T``. A diverged run gives ``J = +inf`` and zero gradients.
    """
    check_hparams(hparams, problem)
    hvec, unravel = ravel_pytree(hparams)
    n_h = hvec.shape[0]
    w0 = problem.w0
    v0 = optimizer.zeros_like_tree(w0)
    u0 = jax.tree.map(lambda p: jnp.zeros((n_h,) + p.shape, p.dtype), w0)

    def body(carry, inp):
        t, idx = inp
        return tangent_step(carry, t, hparams, problem, idx), None

    (wT, _, uwT, _), _ = jax.lax.scan(body, (w0, v0, u0, u0), (_times(problem), problem.train_idx))
    value, gw = jax.value_and_grad(eval_loss)(wT, problem)
    dh = sum(jnp.tensordot(u, g, axes=g.ndim) for u, g in zip(jax.tree.leaves(uwT), jax.tree.leaves(gw)))
    ok = jnp.isfinite(value) & jnp.all(jnp.isfinite(dh))
    dh = jnp.where(ok, dh, 0.0)
    return jnp.where(ok, value, jnp.inf), unravel(dh)


@jax.jit
def reverse_hypergradient(hparams, problem: OfflineProblem):
    """``(J(h), dJ/dh)`` by reverse mode through the scan (stores every step: memory grows with ``T``; checks only)."""
    check_hparams(hparams, problem)
    return jax.value_and_grad(lambda h: eval_loss(lookahead(h, problem), problem))(hparams)


def hparams_to_schedule(hparams, mu: float = optimizer.MOMENTUM) -> ScheduleHparams:
    """Plain floats ``(alpha_0, beta, mu)`` of log-space hyperparameters (for reports and plots), as a
    :class:`ScheduleHparams`: ``alpha_0 = e^{log alpha_eff} (1 - mu)``, ``beta = e^{log beta}``, and ``mu`` from
    ``log_one_minus_mu`` when ``hparams`` has it, else the ``mu`` given (:func:`schedule_params`)."""
    a, b, m = schedule_params({k: jnp.asarray(v) for k, v in hparams.items()}, mu)
    return ScheduleHparams(float(a), float(b), float(m))


def numpy_hparams(hparams) -> dict:
    """``{name: float}`` of a hyperparameter dict (for JSON files)."""
    return {k: float(np.asarray(v)) for k, v in hparams.items()}
