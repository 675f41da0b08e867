"""Estimators of the long-horizon meta-gradient, compared where the exact answer is known ("Beyond the paper").

**Meta-objective.** A learning-rate schedule ``alpha_t = schedule(phi, t)`` with a few parameters ``phi`` (a 1-D
array) trains for ``T`` steps from a random start; the meta-objective is the mean expected loss over the run::

    J(phi) = (1/T) sum_{t=1}^{T} E[L(theta_t)].

On the noisy quadratic (:mod:`shb_lib.nqm`) ``J`` and its gradient are exact: :func:`exact_objective` averages the
exact moment rollout ``nqm.rollout`` (ICLR Theorem 1, eqs. 10-14, and eq. 5) and :func:`exact_gradient`
differentiates it in reverse mode.

**Window function.** The sampled estimators only see the training run through a *window* function::

    unroll(phi, state, key, t0, K) -> (state after step t0 + K, sum_{t=t0+1}^{t0+K} L(theta_t)),

which trains ``K`` steps from ``state`` (step noise drawn from ``fold_in(key, t)``, so a run does not depend on how
it is cut into windows), plus ``init(key) -> state``. :class:`UnrolledTask` bundles them; :func:`nqm_task` builds the
noisy-quadratic one from :func:`sampled_sgd_step` (one noisy step of a sampled point; ``nqm`` only simulates whole
runs). Nothing else is assumed, so the estimators apply unchanged to a network: :func:`mnist_task` is the window
function of the paper's MLP on MNIST (no exact gradient there: :func:`reference_statistics` measures bias against the
Monte-Carlo mean of an unbiased estimator, :func:`objective_samples` estimates ``J``). The estimators call the window
function one step at a time, so the window length ``K`` is an ordinary argument: one compilation serves every ``K``
and ``vmap`` runs several at once.

**Estimators** (each returns one estimate of ``grad J``, a ``(p,)`` array; ``inf`` if the run diverged):

- :func:`truncated_gradient` -- truncated backpropagation: the run is cut into windows of ``K`` steps, the state is
  stopped at each window start and only the window's losses are differentiated (``K = 1``: hypergradient descent,
  Baydin et al. 2018; ``K = T``: the pathwise gradient of the whole sampled run).
- :func:`es_gradient` -- antithetic evolution strategies over the whole run (Salimans et al. 2017).
- :func:`tes_gradient` -- truncated ES (Vicol et al. 2021, Algorithm 1): ES on each window from the stopped state.
- :func:`pes_gradient` -- persistent ES (Vicol et al. 2021, Algorithm 2, Eq. 7): each particle keeps its own state
  and the sum of all its perturbations; unbiased for the Gaussian-smoothed full-horizon objective.

Exact references: :func:`exact_gradient`, :func:`expected_truncated_gradient` (the exact mean of the truncated
estimator, from the moments) and :func:`smoothed_exact_gradient` (the exact gradient of the ES-smoothed objective,
by Gauss-Hermite quadrature); :func:`stationary_point` finds where a truncated estimator's mean vanishes.
:func:`estimator_statistics` and :func:`sweep_windows` measure bias and variance; :func:`meta_optimize` runs Adam on
``phi`` with any estimator.
"""

from __future__ import annotations

import itertools
import math
from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import checks, meta, mlp, nqm, optim

#: Time constant of the inverse-time decay schedule, in steps.
DECAY_STEPS = 100.0


# ----------------------------------------------------------------------------------------------------------------
# Input validation.


def _check_int(name, value, low=1, high=None):
    return checks.check_int(name, value, low, high)


def _check_positive(name, value):
    return checks.check_positive(name, value)


def _check_momentum(momentum, low_open=True):
    """``-1 < momentum < 1`` (the noisy quadratic's range) or, with ``low_open=False``, ``0 <= momentum < 1``;
    traced values are not checked."""
    if low_open:
        checks.check_real("momentum", momentum, low=-1.0, high=1.0, low_open=True, high_open=True, scalar=True)
    else:
        checks.check_real("momentum", momentum, low=0.0, high=1.0, high_open=True, scalar=True)


def _check_problem_schedule(problem, schedule):
    if not isinstance(problem, nqm.NoisyQuadratic):
        raise ValueError(f"problem must be a NoisyQuadratic (e.g. small_problem()), got {type(problem).__name__}")
    if not callable(schedule):
        raise ValueError(f"schedule must be a function (params, t) -> learning rate, got {schedule!r}")


def _check_task(task):
    if not isinstance(task, UnrolledTask):
        raise ValueError(f"task must be an UnrolledTask (nqm_task or mnist_task), got {type(task).__name__}")


def _check_params(params):
    """``phi`` as a float64 ``(p,)`` array; values are checked when concrete (not while being traced)."""
    shape = jnp.shape(params)
    if len(shape) != 1 or shape[0] == 0:
        raise ValueError(f"params must be a non-empty 1-D array, got shape {shape}")
    if not isinstance(params, jax.core.Tracer) and not np.all(np.isfinite(np.asarray(params))):
        raise ValueError(f"params must be finite, got {np.asarray(params)!r}")
    return jnp.asarray(params, dtype=jnp.float64)


def _check_K(K, T):
    """Window length ``K`` in ``[1, T]`` (not checked while traced, e.g. under ``vmap`` over ``K``)."""
    if not isinstance(K, jax.core.Tracer):
        _check_int("K", K, 1, T)


def _finite_or_inf(estimate, value):
    """A diverged run (non-finite loss) gives an ``inf`` estimate, never NaN."""
    ok = jnp.isfinite(value) & jnp.all(jnp.isfinite(estimate))
    return jnp.where(ok, estimate, jnp.inf)


# ----------------------------------------------------------------------------------------------------------------
# Schedules: alpha_t = schedule(phi, t), phi in log space.


def constant_schedule(params, t):
    """Constant learning rate ``alpha_t = exp(phi_0)``."""
    return jnp.exp(params[0]) + 0.0 * t


def inverse_time_schedule(params, t, decay_steps=DECAY_STEPS):
    """Inverse-time decay ``alpha_t = alpha_0 / (1 + t/K_d)^beta`` with ``phi = (log alpha_0, log beta)``.

    The family the paper meta-optimizes on MNIST (ICLR section 3.2; :mod:`shb_lib.hypergrad`), with ``K_d`` fixed.
    """
    return jnp.exp(params[0]) / (1.0 + t / decay_steps) ** jnp.exp(params[1])


def schedule_values(schedule, params, T):
    """``(alpha_0, ..., alpha_{T-1})``: the learning rates of steps ``t = 0 .. T-1``."""
    return jax.vmap(lambda t: schedule(params, t))(jnp.arange(T, dtype=jnp.float64))


# ----------------------------------------------------------------------------------------------------------------
# Exact objective and exact references on the noisy quadratic.


def small_problem(n=100):
    """The chapter's noisy quadratic: the paper's problem (``nqm.paper_problem``) with ``n`` curvatures instead of 1000.

    ``h`` = ``n`` Chebyshev nodes in ``[0.05, 10]``, ``sigma^2 = 1/h``, the paper's start ``theta_0 = sqrt(10)``.
    """
    _check_int("n", n, 2)
    paper = nqm.paper_problem(noise=True)  # its start is the same in every coordinate
    h = nqm.chebyshev_spectrum(n, 0.05, 10.0)
    return nqm.NoisyQuadratic(h, 1.0 / h, float(paper.theta0_mean[0]), float(paper.theta0_var[0]))


def _stop_at_window_start(tree, t, K):
    """``stop_gradient`` of every leaf at the window starts ``t = 0, K, 2K, ...`` (``K`` may be traced)."""
    start = t % K == 0
    return jax.tree.map(lambda x: jnp.where(start, jax.lax.stop_gradient(x), x), tree)


def exact_objective(problem, schedule, params, T, momentum=0.0):
    """``J(phi) = (1/T) sum_{t=1}^T E[L(theta_t)] - L*``: mean excess loss of the exact moment rollout
    ``nqm.rollout`` (ICLR Theorem 1 and eq. 5), ``L*`` the noise floor. ``inf`` when the rollout diverges.
    """
    _check_problem_schedule(problem, schedule)
    _check_int("T", T)
    _check_momentum(momentum)
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
    _check_problem_schedule(problem, schedule)
    _check_int("T", T)
    _check_momentum(momentum)
    return _finite_or_inf(_exact_gradient(problem, schedule, _check_params(params), T, momentum), 0.0)


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
    _check_problem_schedule(problem, schedule)
    _check_int("T", T)
    _check_momentum(momentum)
    _check_K(K, T)
    est = _expected_truncated_gradient(problem, schedule, _check_params(params), T, K, momentum)
    return _finite_or_inf(est, 0.0)


def smoothed_exact_gradient(problem, schedule, params, T, sigma, order=6, momentum=0.0):
    """``grad E_eps[J(phi + eps)] = E_eps[grad J(phi + eps)]``, ``eps ~ N(0, sigma^2 I)``: what ES estimates.

    Tensor-product Gauss-Hermite quadrature with ``order`` nodes per parameter of the exact gradient (exact for
    polynomials of degree ``< 2 order``); compare :func:`es_gradient` against it when ``sigma`` is not small.
    """
    _check_problem_schedule(problem, schedule)
    _check_int("T", T)
    _check_momentum(momentum)
    params = _check_params(params)
    _check_positive("sigma", sigma)
    _check_int("order", order, 1, 32)
    x, w = np.polynomial.hermite_e.hermegauss(order)  # nodes and weights for the weight exp(-x^2/2)
    nodes = np.array(list(itertools.product(x, repeat=params.size)))
    weights = np.prod(np.array(list(itertools.product(w / w.sum(), repeat=params.size))), axis=1)
    grads = jax.vmap(lambda z: _exact_gradient(problem, schedule, params + sigma * z, T, momentum))(jnp.asarray(nodes))
    return _finite_or_inf(jnp.tensordot(jnp.asarray(weights), grads, axes=1), 0.0)


# ----------------------------------------------------------------------------------------------------------------
# The window function: a sampled training run, cut into windows.


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
    _check_problem_schedule(problem, schedule)
    _check_int("T", T)
    _check_momentum(momentum, low_open=False)
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


def _check_batch(images, labels, w0, batch_size):
    """The training set ``(N, D)`` / ``(N,)`` as float32 / int32, checked against the network ``w0``."""
    width, n_classes, _ = checks.check_mlp_params("w0", w0)
    checks.check_array("images", images, ndim=2, kind="fiu", min_len=1)
    if jnp.shape(images)[1] != width:
        raise ValueError(f"images must have {width} features (the input width of w0), got {jnp.shape(images)[1]}")
    checks.check_dataset(images, labels, width=width, n_classes=n_classes)
    images, labels = jnp.asarray(images, jnp.float32), jnp.asarray(labels, jnp.int32)
    _check_int("batch_size", batch_size, 1, images.shape[0])
    return images, labels


def mnist_task(images, labels, w0, T, decay_steps, batch_size=100, momentum=optim.MOMENTUM) -> UnrolledTask:
    """The window function of a training run of the paper's MLP (:mod:`shb_lib.mlp`) for ``T`` steps.

    The optimizer is chapter 4's (ICLR section 3.2): SGD with momentum (:func:`shb_lib.optim.momentum_update`,
    ``v' = mu v + g``, ``w' = w - alpha_t v'``) with the inverse-time decay
    ``alpha_t = alpha_0 / (1 + t/decay_steps)^beta`` (:func:`shb_lib.optim.inverse_time_decay`) and
    ``phi = (log alpha_0, log beta)``. Every run starts from the same weights ``w0`` (e.g. the warm start
    :func:`shb_lib.meta.pretrain`) with zero velocity; the randomness is in the mini-batches of ``batch_size``
    examples, drawn uniformly (with replacement) from ``images, labels``, each from its own key (unlike
    :func:`shb_lib.hypergrad.sample_batches`, whose epochs need the whole run's batches at once). The meta-objective
    is, as on the noisy quadratic, the mean training loss over the run::

        J(phi) = (1/T) sum_{t=1}^{T} E[L(w_t; B_t)],      L = mean cross-entropy of a batch (mlp.cross_entropy).

    ``B_t`` is both the batch on which ``w_t`` is scored and the batch of step ``t`` (``w_t`` has not trained on it
    yet), so every step computes one gradient: the state is ``(w_t, v_t, grad L(w_t; B_t))``. ``B_0`` is drawn from
    the key of ``init``, ``B_t`` (``t >= 1``) from ``fold_in(key, t)`` of the run's key, so a run does not depend on
    how it is cut into windows. The network runs in float32 (``phi`` is cast inside); the window loss is float64.
    There is no exact ``J`` or gradient here: the reference is the Monte-Carlo mean of an unbiased estimator.
    """
    _check_int("T", T)
    _check_positive("decay_steps", decay_steps)
    _check_momentum(momentum, low_open=False)
    images, labels = _check_batch(images, labels, w0, batch_size)
    w0 = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), w0)
    mu, k_d = jnp.float32(momentum), jnp.float32(decay_steps)

    def loss_and_grad(w, key):
        idx = jax.random.randint(key, (batch_size,), 0, images.shape[0])
        return jax.value_and_grad(mlp.cross_entropy)(w, images[idx], labels[idx])

    def init(key):
        return w0, optim.zeros_like_tree(w0), loss_and_grad(w0, jax.random.fold_in(key, 0))[1]

    def unroll(params, state, key, t0, K):
        log_a0, log_beta = params.astype(jnp.float32)

        def body(s, t):
            lr = optim.inverse_time_decay(t.astype(jnp.float32), jnp.exp(log_a0), jnp.exp(log_beta), k_d)
            w, v = optim.momentum_update(s[0], s[1], s[2], lr, mu)
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
    _check_task(task)
    _check_int("n_runs", n_runs)
    checks.check_key("key", key)
    if isinstance(params_list, (str, bytes)) or not hasattr(params_list, "__len__") or len(params_list) == 0:
        raise ValueError(f"params_list must be a non-empty list of parameter vectors, got {params_list!r}")
    keys = jax.random.split(key, n_runs)
    return np.array([[float(_sampled_objective(task, _check_params(p), k)) for k in keys] for p in params_list])


# ----------------------------------------------------------------------------------------------------------------
# The estimators. They call the window function one step at a time, so that K is an ordinary (traceable) argument:
# one compilation serves every K, and vmap runs several K at once.


@partial(jax.jit, static_argnames=("task",))
def _truncated_gradient(task, params, key, K):
    k_init, k_run = jax.random.split(key)

    def run_loss(p):
        def body(state, t):
            return task.unroll(p, _stop_at_window_start(state, t, K), k_run, t, 1)

        return jnp.sum(jax.lax.scan(body, task.init(k_init), jnp.arange(task.horizon))[1])

    value, grad = jax.value_and_grad(run_loss)(params)
    return _finite_or_inf(grad / task.horizon, value)


def truncated_gradient(task: UnrolledTask, params, key, K):
    """Truncated backpropagation: ``g_K = (1/T) sum_w d/dphi sum_{t in w} L(theta_t)``, state stopped at ``t0_w``.

    ``w`` runs over the windows starting at ``t0_w = 0, K, 2K, ...`` of one sampled run (the last one shorter if
    ``K`` does not divide ``T``). Biased for ``K < T``: it drops the effect of ``phi`` on later windows through the
    state. ``K = 1`` is hypergradient descent (Baydin et al. 2018), ``K = T`` the unbiased pathwise gradient of the
    whole run. Cost: one run plus its backward pass. ``inf`` (every component) if the run diverged.
    """
    _check_task(task)
    checks.check_key("key", key)
    _check_K(K, task.horizon)
    return _truncated_gradient(task, _check_params(params), key, K)


@partial(jax.jit, static_argnames=("task", "n_pairs", "persistent"))
def _windowed_es(task, params, key, K, sigma, n_pairs, persistent):
    k_init, k_run, k_pert = jax.random.split(key, 3)
    n, p = 2 * n_pairs, params.size
    shared = task.init(k_init)
    spread = lambda s: jax.tree.map(lambda x: jnp.broadcast_to(x, (n, *x.shape)), s)
    step = jax.vmap(task.unroll, in_axes=(0, 0, None, None, None))

    def body(carry, t):
        states, shared, eps, xi, acc = carry
        start = t % K == 0
        new = sigma * jax.random.normal(jax.random.fold_in(k_pert, t // K), (n_pairs, p))
        new = jnp.concatenate([new, -new])
        eps = jnp.where(start, new, eps)
        xi = jnp.where(start, xi + new if persistent else new, xi)
        if not persistent:  # truncated ES: particles restart from the shared state, which moves on with phi
            states = jax.tree.map(lambda a, b: jnp.where(start, a, b), spread(shared), states)
            shared = task.unroll(params, shared, k_run, t, 1)[0]
        states, losses = step(params + eps, states, k_run, t, 1)
        return (states, shared, eps, xi, acc + jnp.sum(xi * losses[:, None], axis=0)), jnp.sum(losses)

    carry = (spread(shared), shared, jnp.zeros((n, p)), jnp.zeros((n, p)), jnp.zeros(p))
    (*_, acc), losses = jax.lax.scan(body, carry, jnp.arange(task.horizon))
    return _finite_or_inf(acc / (n * sigma**2 * task.horizon), jnp.sum(losses))


def _check_es(sigma, n_pairs):
    if not isinstance(sigma, jax.core.Tracer):
        _check_positive("sigma", sigma)
    _check_int("n_pairs", n_pairs)


def _check_task_key(task, key):
    _check_task(task)
    checks.check_key("key", key)


def es_gradient(task: UnrolledTask, params, key, sigma, n_pairs: int):
    """Antithetic ES over the whole run: ``g = 1/(2 N sigma^2 T) sum_i eps_i [L(phi + eps_i) - L(phi - eps_i)]``.

    ``L`` is the sum of the losses of one sampled run; all ``2N`` runs share the start and the step noise (common
    random numbers). Unbiased for ``grad E_eps[J(phi + eps)]`` (Salimans et al. 2017; Vicol et al. 2021, Eq. 3).
    Cost: ``2N`` runs. (The same computation as :func:`pes_gradient` with a single window, ``K = T``.)
    """
    _check_task_key(task, key)
    _check_es(sigma, n_pairs)
    return _windowed_es(task, _check_params(params), key, task.horizon, sigma, n_pairs, True)


def tes_gradient(task: UnrolledTask, params, key, K, sigma, n_pairs: int):
    """Truncated ES (Vicol et al. 2021, Algorithm 1): ``g = 1/(2N sigma^2 T) sum_w sum_i eps_{w,i} L_w(phi + eps_{w,i})``.

    Fresh antithetic perturbations ``eps_{w,i}`` for each window ``w``; every particle starts the window from the
    shared state, which then moves on with the unperturbed ``phi``. Biased for ``K < T`` like truncated
    backpropagation; ``K = T`` is :func:`es_gradient`. Cost: ``2N + 1`` runs.
    """
    _check_task_key(task, key)
    _check_K(K, task.horizon)
    _check_es(sigma, n_pairs)
    return _windowed_es(task, _check_params(params), key, K, sigma, n_pairs, False)


def pes_gradient(task: UnrolledTask, params, key, K, sigma, n_pairs: int):
    """Persistent ES (Vicol et al. 2021, Algorithm 2, Eq. 7): ``g = 1/(2N sigma^2 T) sum_w sum_i xi_{w,i} L_{w,i}``.

    Particle ``i`` keeps its own state across windows and accumulates its perturbations,
    ``xi_{w,i} = sum_{w' <= w} eps_{w',i}`` (antithetic pairs ``+-eps``); ``L_{w,i}`` is the loss of window ``w`` of
    that particle's run with ``phi + eps_{w,i}``. Unbiased for the gradient of the full-horizon objective smoothed
    with an independent perturbation per window, whatever ``K``; the variance grows with the number of windows
    ``T/K``. ``K = T`` is :func:`es_gradient`. Cost: ``2N`` runs.
    """
    _check_task_key(task, key)
    _check_K(K, task.horizon)
    _check_es(sigma, n_pairs)
    return _windowed_es(task, _check_params(params), key, K, sigma, n_pairs, True)


# ----------------------------------------------------------------------------------------------------------------
# Measuring estimators.


class EstimatorStats(NamedTuple):
    """Bias and variance of an estimator from ``R`` independent estimates (numpy values).

    mean, bias, bias_se: ``(p,)`` -- the mean estimate, ``mean - exact`` and its standard error ``std / sqrt(R)``.
    bias_norm: ``|mean - exact|``; bias_norm_se: ``sqrt(sum bias_se^2)``, the size of ``|mean - E g|`` expected from
    sampling alone (a bias below about twice it is not resolved). total_std: ``sqrt(trace Cov g)`` of one estimate.
    n: ``R``.
    """

    mean: np.ndarray
    bias: np.ndarray
    bias_se: np.ndarray
    bias_norm: float
    bias_norm_se: float
    total_std: float
    n: int


def estimator_statistics(estimates, exact) -> EstimatorStats:
    """Bias ``E[g] - grad J`` (with its standard error) and variance ``trace Cov[g]`` from repeated estimates.

    ``estimates`` ``(R, p)`` with ``R >= 2``, all finite: a diverged estimate (``inf``) is refused with
    :class:`shb_lib.checks.DivergedError` (a ``ValueError``) rather than averaged; ``exact`` ``(p,)``, finite.
    """
    checks.check_array("estimates", estimates)
    est = np.asarray(estimates, dtype=float)
    if est.ndim != 2 or est.shape[0] < 2:
        raise ValueError(f"estimates must have shape (R, p) with R >= 2, got {est.shape}")
    if not np.all(np.isfinite(est)):
        n_bad = int(np.sum(~np.all(np.isfinite(est), axis=1)))
        raise checks.DivergedError(f"estimates must be finite; {n_bad} of {est.shape[0]} diverged")
    checks.check_array("exact", exact)
    if np.shape(exact) != est.shape[1:]:
        raise ValueError(f"exact must have shape ({est.shape[1]},), one value per parameter of the estimates, got "
                         f"shape {np.shape(exact)}")
    checks.check_real("exact", exact)
    mean, std = est.mean(axis=0), est.std(axis=0, ddof=1)
    bias, se = mean - np.asarray(exact, dtype=float), std / math.sqrt(est.shape[0])
    return EstimatorStats(mean, bias, se, float(np.linalg.norm(bias)), float(np.linalg.norm(se)),
                          float(np.linalg.norm(std)), est.shape[0])


def reference_statistics(estimates, reference, paired=False) -> EstimatorStats:
    """Bias against a Monte-Carlo reference when no exact gradient is known (e.g. a network).

    ``reference`` holds ``R'`` estimates of an *unbiased* estimator (backpropagation through the whole run, or ES);
    the bias is ``mean(estimates) - mean(reference)``, its standard error combines both sampling errors:
    ``sqrt(se^2 + se_ref^2)``, valid only when the two come from independent training runs; or with ``paired=True`` (row ``i`` of both from the same training run) the standard
    error of the mean difference, ``std(g_i - g_ref,i) / sqrt(R)``, smaller when the runs are correlated.
    """
    checks.check_array("estimates", estimates)
    checks.check_array("reference", reference)
    checks.check_bool("paired", paired)
    est_, ref = np.asarray(estimates, dtype=float), np.asarray(reference, dtype=float)
    p = est_.shape[-1] if est_.ndim else 0
    if ref.ndim != 2 or ref.shape[0] < 2 or ref.shape[1] != p or not np.all(np.isfinite(ref)):
        raise ValueError(f"reference must be finite with shape (R', {p}), R' >= 2, got {ref.shape}")
    stats = estimator_statistics(est_, ref.mean(axis=0))
    if paired and ref.shape != est_.shape:
        raise ValueError(f"paired reference must have the shape of estimates {est_.shape}, got {ref.shape}")
    if paired:
        se = (est_ - ref).std(axis=0, ddof=1) / math.sqrt(est_.shape[0])
    else:
        se = np.hypot(stats.bias_se, ref.std(axis=0, ddof=1) / math.sqrt(ref.shape[0]))
    return stats._replace(bias_se=se, bias_norm_se=float(np.linalg.norm(se)))


#: The windowed estimators compared by :func:`sweep_windows` (at ``K = T`` they are backprop through the whole run,
#: ES, ES).
WINDOWED = ("truncated backprop", "truncated ES", "persistent ES")


def windowed_estimator(name: str, task: UnrolledTask, sigma=0.02, n_pairs=4) -> Callable:
    """``(phi, key, K) -> estimate`` for one of :data:`WINDOWED` (ES perturbation scale ``sigma``, ``n_pairs``)."""
    _check_task(task)
    if name in WINDOWED[1:]:
        _check_es(sigma, n_pairs)
    if name == "truncated backprop":
        return lambda p, k, K: truncated_gradient(task, p, k, K)
    if name == "truncated ES":
        return lambda p, k, K: tes_gradient(task, p, k, K, sigma, n_pairs)
    if name == "persistent ES":
        return lambda p, k, K: pes_gradient(task, p, k, K, sigma, n_pairs)
    raise ValueError(f"name must be one of {WINDOWED}, got {name!r}")


def sweep_windows(estimator: Callable, params, key, Ks, n_repeats: int, vectorize: bool = True) -> np.ndarray:
    """``n_repeats`` independent estimates for each window length: ``(len(Ks), R, p)`` (``vmap`` over K and keys).

    The same keys, hence the same training runs, serve every ``K`` (common random numbers). ``vectorize=False``
    computes one estimate at a time instead (same keys): for a network, where ``vmap`` over whole runs costs
    memory and a longer compilation and gains nothing on a CPU.
    """
    if not callable(estimator):
        raise ValueError(f"estimator must be a function (params, key, K) -> estimate, got {estimator!r}")
    _check_int("n_repeats", n_repeats, 2)
    checks.check_key("key", key)
    checks.check_bool("vectorize", vectorize)
    if isinstance(Ks, (str, bytes)) or np.ndim(Ks) != 1 or len(Ks) == 0:
        raise ValueError(f"Ks must be a non-empty 1-D list of window lengths, got {Ks!r}")
    for i, K in enumerate(Ks):
        _check_int(f"Ks[{i}]", K, 1)
    params = _check_params(params)
    keys = jax.random.split(key, n_repeats)
    if not vectorize:
        return np.array([[np.asarray(estimator(params, k, int(K))) for k in keys] for K in Ks])
    per_K = lambda K: jax.vmap(lambda k: estimator(params, k, K))(keys)
    return np.asarray(jax.vmap(per_K)(jnp.asarray(Ks)))


def _meta_step(estimator, learning_rate, args, carry, key):
    """One Adam step on one fresh estimate; a non-finite estimate makes ``phi`` ``inf`` from then on."""
    params, adam, diverged = carry
    g = estimator(params, key, *args)
    bad = diverged | ~jnp.all(jnp.isfinite(g))
    new, new_adam = meta.adam_update(params, jnp.where(bad, 0.0, g), adam, learning_rate)
    params = jnp.where(bad, jnp.inf, new)
    return (params, new_adam, bad), params


@partial(jax.jit, static_argnames=("estimator", "n_steps"))
def _meta_optimize(estimator, params0, key, n_steps, learning_rate, args):
    carry = (params0, meta.adam_init(params0), jnp.bool_(False))
    body = partial(_meta_step, estimator, learning_rate, args)
    _, path = jax.lax.scan(body, carry, jax.random.split(key, n_steps))
    return jnp.concatenate([params0[None], path])


def meta_optimize(estimator: Callable, params0, key, n_steps: int, learning_rate, args=(), compile_loop=True):
    """Adam on ``phi`` (Kingma & Ba, as :func:`shb_lib.meta.adam_update`), one fresh estimate per meta-step.

    ``estimator(phi, key, *args)`` returns an estimate of ``grad J(phi)``; every meta-step draws a new key, hence a
    new training run from ``theta_0`` (the offline protocol of Wu et al. 2018, Algorithm 1). ``args`` (arrays, e.g.
    ``K``) may be traced, so ``vmap`` runs several settings at once. Returns the path ``(n_steps + 1, p)``; once an
    estimate diverges the path is ``inf`` from there on. ``compile_loop=False`` runs the meta-steps from Python
    instead (same keys, same path): for a network, whose estimator is already compiled and costs far more than the
    loop, this saves compiling the whole loop again.
    """
    if not callable(estimator):
        raise ValueError(f"estimator must be a function (params, key, *args) -> estimate, got {estimator!r}")
    _check_int("n_steps", n_steps)
    if not isinstance(learning_rate, jax.core.Tracer):
        _check_positive("learning_rate", learning_rate)
    checks.check_key("key", key)
    checks.check_bool("compile_loop", compile_loop)
    if not isinstance(args, (tuple, list)):
        raise ValueError(f"args must be a tuple of extra estimator arguments, got {type(args).__name__}")
    params0 = _check_params(params0)
    if compile_loop:
        return _meta_optimize(estimator, params0, key, n_steps, learning_rate, tuple(args))
    carry, path = (params0, meta.adam_init(params0), jnp.bool_(False)), [params0]
    for k in jax.random.split(key, n_steps):
        if not bool(carry[2]):  # once diverged, phi stays inf (the estimator is not called with it)
            carry, params = _meta_step(estimator, learning_rate, tuple(args), carry, k)
        path.append(jnp.full_like(params0, jnp.inf) if bool(carry[2]) else params)
    return jnp.stack(path)


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
    _check_problem_schedule(problem, schedule)
    _check_int("T", T)
    _check_K(K, T)
    _check_momentum(momentum)
    _check_int("n_iter", n_iter)
    _check_positive("max_step", max_step)
    p = _stationary_point(problem, schedule, _check_params(params0), T, K, momentum, n_iter, max_step)
    return jnp.where(jnp.all(jnp.isfinite(p)), p, jnp.inf)


def polyak_average(path, n_last: int):
    """The mean of the last ``n_last`` iterates of a meta-optimization path ``(M+1, p)``: where the run ended.
    A path that diverged within its last ``n_last`` iterates (``inf``, as :func:`meta_optimize` reports it) gives
    ``inf`` (the divergence propagates)."""
    checks.check_array("path", path, ndim=2)
    path = np.asarray(path)
    _check_int("n_last", n_last, 1, path.shape[0])
    return path[-n_last:].mean(axis=0)


def objective_grid(problem, schedule, T, log_alpha0s, log_betas, momentum=0.0):
    """Exact ``J`` on the grid ``(log alpha_0, log beta)``: array ``(len(log_betas), len(log_alpha0s))`` (``inf``
    where the rollout diverged)."""
    _check_problem_schedule(problem, schedule)
    _check_int("T", T)
    _check_momentum(momentum)
    for name, values in (("log_alpha0s", log_alpha0s), ("log_betas", log_betas)):
        checks.check_array(name, values, ndim=1, min_len=1)
        checks.check_real(name, values)
    A, B = jnp.meshgrid(jnp.asarray(log_alpha0s), jnp.asarray(log_betas))
    phis = jnp.stack([A.ravel(), B.ravel()], axis=1)
    J = jax.jit(jax.vmap(lambda p: exact_objective(problem, schedule, p, T, momentum)))(phis)
    return np.asarray(J).reshape(A.shape)
