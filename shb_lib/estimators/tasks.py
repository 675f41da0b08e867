"""The training runs whose schedules the estimators meta-optimize: schedules, the window function, sampled
objectives, and the input checks every estimator module shares.

**Schedules.** ``alpha_t = schedule(phi, t)`` with ``phi`` in log space: :func:`constant_schedule` and
:func:`inverse_time_schedule` (the inverse-time decay of :func:`shb_lib.decay.inverse_time_decay`, time constant
:data:`DECAY_TIME_CONST`).

**Window function.** The sampled estimators only see the training run through a *window* function::

    unroll(phi, state, key, t0, K) -> (state after step t0 + K, sum_{t=t0+1}^{t0+K} L(theta_t)),

which trains ``K`` steps (the *truncation window*) from ``state`` (step noise drawn from ``fold_in(key, t)``, so a
run does not depend on how it is cut into windows), plus ``init(key) -> state``. :class:`UnrolledTask` bundles
them; :func:`nqm_task` builds the noisy-quadratic one from :func:`sampled_sgd_step`, :func:`mnist_task` the one
of the paper's MLP on MNIST (no exact gradient there: :func:`objective_samples` estimates ``J``).
"""

from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import checks, decay, nqm
from ..mnist import batches, model, optimizer


# ----------------------------------------------------------------------------------------------------------------
# Input checks shared by the estimator modules.


def check_momentum(momentum, low_open=True):
    """``-1 < momentum < 1`` (the noisy quadratic's range) or, with ``low_open=False``, ``0 <= momentum < 1``;
    traced values are not checked."""
    if low_open:
        checks.check_real("momentum", momentum, low=-1.0, high=1.0, low_open=True, high_open=True, scalar=True)
    else:
        checks.check_real("momentum", momentum, low=0.0, high=1.0, high_open=True, scalar=True)


def check_problem_schedule(problem, schedule):
    if not isinstance(problem, nqm.NoisyQuadratic):
        raise ValueError(f"problem must be a NoisyQuadratic (e.g. small_problem()), got {type(problem).__name__}")
    if not callable(schedule):
        raise ValueError(f"schedule must be a function (params, t) -> learning rate, got {schedule!r}")


def check_task(task):
    if not isinstance(task, UnrolledTask):
        raise ValueError(f"task must be an UnrolledTask (nqm_task or mnist_task), got {type(task).__name__}")


def check_phi(params):
    """``phi`` as a float64 ``(p,)`` array; values are checked when concrete (not while being traced)."""
    shape = jnp.shape(params)
    if len(shape) != 1 or shape[0] == 0:
        raise ValueError(f"params must be a non-empty 1-D array, got shape {shape}")
    if not isinstance(params, jax.core.Tracer) and not np.all(np.isfinite(np.asarray(params))):
        raise ValueError(f"params must be finite, got {np.asarray(params)!r}")
    return jnp.asarray(params, dtype=jnp.float64)


def check_window(K, T):
    """Window length ``K`` in ``[1, T]`` (not checked while traced, e.g. under ``vmap`` over ``K``)."""
    if not isinstance(K, jax.core.Tracer):
        checks.check_int("K", K, 1, T)


def check_es(sigma, n_pairs):
    if not isinstance(sigma, jax.core.Tracer):
        checks.check_positive("sigma", sigma)
    checks.check_int("n_pairs", n_pairs, 1)


def check_task_key(task, key):
    check_task(task)
    checks.check_key("key", key)


def check_training_set(images, labels, w0, batch_size):
    """The training set ``(N, D)`` / ``(N,)`` as float32 / int32, checked against the network ``w0``."""
    width, n_classes, _ = checks.check_mlp_params("w0", w0)
    checks.check_array("images", images, ndim=2, kind="fiu", min_len=1)
    if jnp.shape(images)[1] != width:
        raise ValueError(f"images must have {width} features (the input width of w0), got {jnp.shape(images)[1]}")
    checks.check_dataset(images, labels, width=width, n_classes=n_classes)
    images, labels = jnp.asarray(images, jnp.float32), jnp.asarray(labels, jnp.int32)
    checks.check_int("batch_size", batch_size, 1, images.shape[0])
    return images, labels


# ----------------------------------------------------------------------------------------------------------------
# Schedules, the window function and sampled objectives.


#: Time constant of the inverse-time decay schedule, in steps.
DECAY_TIME_CONST = 100.0


def constant_schedule(params, t):
    """Constant learning rate ``alpha_t = exp(phi_0)``."""
    return jnp.exp(params[0]) + 0.0 * t


def inverse_time_schedule(params, t, time_const=DECAY_TIME_CONST):
    """Inverse-time decay ``alpha_t = alpha_0 / (1 + t/time_const)^beta`` with ``phi = (log alpha_0, log beta)``
    (:func:`shb_lib.decay.inverse_time_decay`).

    The family the paper meta-optimizes on MNIST (ICLR section 3.2; :mod:`shb_lib.mnist.hypergrad`), with the time
    constant fixed.
    """
    return decay.inverse_time_decay(t, jnp.exp(params[0]), jnp.exp(params[1]), time_const)


def schedule_values(schedule, params, T):
    """``(alpha_0, ..., alpha_{T-1})``: the learning rates of steps ``t = 0 .. T-1``."""
    return jax.vmap(lambda t: schedule(params, t))(jnp.arange(T, dtype=jnp.float64))


def small_problem(n=100):
    """The chapter's noisy quadratic: the paper's problem (``nqm.paper_problem``) with ``n`` curvatures instead of 1000.

    ``h`` = ``n`` Chebyshev nodes in ``[0.05, 10]``, ``sigma^2 = 1/h``, the paper's start ``theta_0 = sqrt(10)``.
    """
    checks.check_int("n", n, 2)
    paper = nqm.paper_problem(noise=True)  # its start is the same in every coordinate
    h = nqm.chebyshev_spectrum(n, 0.05, 10.0)
    return nqm.NoisyQuadratic(h, 1.0 / h, float(paper.theta0_mean[0]), float(paper.theta0_var[0]))


def _stop_at_window_start(tree, t, K):
    """``stop_gradient`` of every leaf at the window starts ``t = 0, K, 2K, ...`` (``K`` may be traced)."""
    start = t % K == 0
    return jax.tree.map(lambda x: jnp.where(start, jax.lax.stop_gradient(x), x), tree)


class UnrolledTask(NamedTuple):
    """A training run seen through windows (hashable; a static argument of the jitted estimators).

    init: ``key -> state`` (a sampled start). unroll: ``(phi, state, key, t0, K) -> (state, sum of the K losses)``.
    horizon: ``T``, the number of training steps of the whole run.
    """

    init: Callable
    unroll: Callable
    horizon: int


def sampled_sgd_step(problem, theta, v, lr, momentum, key):
    """One noisy momentum-SGD step on a *sampled* point (ICLR eqs. 1-3, the convention of ``nqm``).

    ``c ~ N(0, sigma^2)``, ``g = h (theta - c)``, ``v' = mu v - alpha g``, ``theta' = theta + v'``.
    """
    c = jnp.sqrt(problem.sigma2) * jax.random.normal(key, theta.shape, dtype=theta.dtype)
    v = momentum * v - lr * problem.h * (theta - c)
    return theta + v, v


def sampled_loss(problem, theta):
    """Excess loss of a sampled point, ``L(theta) = 1/2 sum_i h_i theta_i^2``; its mean is ``nqm.excess_loss``."""
    return 0.5 * jnp.sum(problem.h * theta**2)


def nqm_task(problem, schedule, T, momentum=0.0) -> UnrolledTask:
    """The window function of a noisy-quadratic training run of ``T`` steps with ``alpha_t = schedule(phi, t)``.

    The start is ``theta_0 ~ N(theta0_mean, theta0_var)``, ``v_0 = 0``; step ``t`` draws its noise from
    ``fold_in(key, t)``, so the run is the same however it is cut into windows.
    """
    check_problem_schedule(problem, schedule)
    checks.check_int("T", T, 1)
    check_momentum(momentum, low_open=False)
    h = jnp.asarray(problem.h)

    def init(key):
        z = jax.random.normal(key, h.shape, dtype=jnp.float64)
        theta = problem.theta0_mean + jnp.sqrt(problem.theta0_var) * z
        return theta, jnp.zeros_like(theta)

    def unroll(params, state, key, t0, K):
        def body(s, t):
            theta, v = sampled_sgd_step(problem, *s, schedule(params, t), momentum, jax.random.fold_in(key, t))
            return (theta, v), sampled_loss(problem, theta)

        state, losses = jax.lax.scan(body, state, t0 + jnp.arange(K))
        return state, jnp.sum(losses)

    return UnrolledTask(init, unroll, int(T))


def mnist_task(images, labels, w0, T, time_const, batch_size=100, momentum=optimizer.MOMENTUM) -> UnrolledTask:
    """The window function of a training run of the paper's MLP (:mod:`shb_lib.mnist.model`) for ``T`` steps.

    The optimizer is chapter 4's (ICLR section 3.2): SGD with momentum (:func:`shb_lib.mnist.optimizer.momentum_update`,
    ``v' = mu v + g``, ``w' = w - alpha_t v'``) with the inverse-time decay
    ``alpha_t = alpha_0 / (1 + t/time_const)^beta`` (:func:`shb_lib.decay.inverse_time_decay`) and
    ``phi = (log alpha_0, log beta)``. Every run starts from the same weights ``w0`` (e.g. the warm start
    :func:`shb_lib.mnist.training.pretrain`) with zero velocity; the randomness is in the mini-batches of ``batch_size``
    examples, drawn uniformly with replacement (:func:`shb_lib.mnist.batches.uniform_batches`) from ``images, labels``,
    each from its own key (unlike :func:`shb_lib.mnist.batches.epoch_batches`, whose epochs need the whole run's
    batches at once). The meta-objective
    is, as on the noisy quadratic, the mean training loss over the run::

        J(phi) = (1/T) sum_{t=1}^{T} E[L(w_t; B_t)],      L = mean cross-entropy of a batch (model.cross_entropy).

    ``B_t`` is both the batch on which ``w_t`` is scored and the batch of step ``t`` (``w_t`` has not trained on it
    yet), so every step computes one gradient: the state is ``(w_t, v_t, grad L(w_t; B_t))``. ``B_0`` is drawn from
    the key of ``init``, ``B_t`` (``t >= 1``) from ``fold_in(key, t)`` of the run's key, so a run does not depend on
    how it is cut into windows. The network runs in float32 (``phi`` is cast inside); the window loss is float64.
    There is no exact ``J`` or gradient here: the reference is the Monte-Carlo mean of an unbiased estimator.
    """
    checks.check_int("T", T, 1)
    checks.check_positive("time_const", time_const)
    check_momentum(momentum, low_open=False)
    images, labels = check_training_set(images, labels, w0, batch_size)
    w0 = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), w0)
    mu, time_const = jnp.float32(momentum), jnp.float32(time_const)

    def loss_and_grad(w, key):
        idx = batches.uniform_batches(key, images.shape[0], (batch_size,), dtype=int)
        return jax.value_and_grad(model.cross_entropy)(w, images[idx], labels[idx])

    def init(key):
        return w0, optimizer.zeros_like_tree(w0), loss_and_grad(w0, jax.random.fold_in(key, 0))[1]

    def unroll(params, state, key, t0, K):
        log_a0, log_beta = params.astype(jnp.float32)

        def body(s, t):
            lr = decay.inverse_time_decay(t.astype(jnp.float32), jnp.exp(log_a0), jnp.exp(log_beta), time_const)
            w, v = optimizer.momentum_update(s[0], s[1], s[2], lr, mu)
            loss, g = loss_and_grad(w, jax.random.fold_in(key, t + 1))
            return (w, v, g), loss

        state, losses = jax.lax.scan(body, state, t0 + jnp.arange(K))
        return state, jnp.sum(losses.astype(jnp.float64))

    return UnrolledTask(init, unroll, int(T))


def sampled_objective(task: UnrolledTask, params, key):
    """The mean loss ``(1/T) sum_t L_t`` of one sampled run (start and noise from ``key``, split as the estimators
    split it, so :func:`truncated_gradient` with ``K = T`` is its gradient); an unbiased estimate of ``J(phi)``."""
    k_init, k_run = jax.random.split(key)
    return task.unroll(params, task.init(k_init), k_run, 0, task.horizon)[1] / task.horizon


@partial(jax.jit, static_argnames=("task",))
def _sampled_objective(task, params, key):
    return sampled_objective(task, params, key)


def objective_samples(task: UnrolledTask, params_list, key, n_runs: int) -> np.ndarray:
    """``(len(params_list), n_runs)`` sampled objectives: the same ``n_runs`` keys (runs) for every ``phi``
    (common random numbers, so differences between rows are measured more precisely than the rows themselves)."""
    check_task(task)
    checks.check_int("n_runs", n_runs, 1)
    checks.check_key("key", key)
    if isinstance(params_list, (str, bytes)) or not hasattr(params_list, "__len__") or len(params_list) == 0:
        raise ValueError(f"params_list must be a non-empty list of parameter vectors, got {params_list!r}")
    keys = jax.random.split(key, n_runs)
    return np.array([[float(_sampled_objective(task, check_phi(p), k)) for k in keys] for p in params_list])
