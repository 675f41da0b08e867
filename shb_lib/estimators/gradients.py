"""The sampled estimators of the long-horizon meta-gradient (each returns one estimate of ``grad J``, a ``(p,)``
array; ``inf`` if the run diverged). They call the window function (:mod:`.tasks`) one step at a time, so the
truncation window ``K`` is an ordinary (traceable) argument: one compilation serves every ``K``, and ``vmap`` runs
several at once.

- :func:`truncated_gradient` -- truncated backpropagation: the run is cut into windows of ``K`` steps, the state is
  stopped at each window start and only the window's losses are differentiated (``K = 1``: hypergradient descent,
  Baydin et al. 2018; ``K = T``: the pathwise gradient of the whole sampled run).
- :func:`es_gradient` -- antithetic evolution strategies over the whole run (Salimans et al. 2017).
- :func:`tes_gradient` -- truncated ES (Vicol et al. 2021, Algorithm 1): ES on each window from the stopped state.
- :func:`pes_gradient` -- persistent ES (Vicol et al. 2021, Algorithm 2, Eq. 7): each particle keeps its own state
  and the sum of all its perturbations; unbiased for the Gaussian-smoothed full-horizon objective.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp

from .. import checks
from ..divergence import finite_or_inf
from .tasks import UnrolledTask, _stop_at_window_start, check_es, check_phi, check_task, check_task_key, check_window


@partial(jax.jit, static_argnames=("task",))
def _truncated_gradient(task, params, key, K):
    k_init, k_run = jax.random.split(key)

    def run_loss(p):
        def body(state, t):
            return task.unroll(p, _stop_at_window_start(state, t, K), k_run, t, 1)

        return jnp.sum(jax.lax.scan(body, task.init(k_init), jnp.arange(task.horizon))[1])

    value, grad = jax.value_and_grad(run_loss)(params)
    return finite_or_inf(grad / task.horizon, value)


def truncated_gradient(task: UnrolledTask, params, key, K):
    """Truncated backpropagation: ``g_K = (1/T) sum_w d/dphi sum_{t in w} L(theta_t)``, state stopped at ``t0_w``.

    ``w`` runs over the windows starting at ``t0_w = 0, K, 2K, ...`` of one sampled run (the last one shorter if
    ``K`` does not divide ``T``). Biased for ``K < T``: it drops the effect of ``phi`` on later windows through the
    state. ``K = 1`` is hypergradient descent (Baydin et al. 2018), ``K = T`` the unbiased pathwise gradient of the
    whole run. Cost: one run plus its backward pass. ``inf`` (every component) if the run diverged.
    """
    check_task(task)
    checks.check_key("key", key)
    check_window(K, task.horizon)
    return _truncated_gradient(task, check_phi(params), key, K)


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
    return finite_or_inf(acc / (n * sigma**2 * task.horizon), jnp.sum(losses))


def es_gradient(task: UnrolledTask, params, key, sigma, n_pairs: int):
    """Antithetic ES over the whole run: ``g = 1/(2 N sigma^2 T) sum_i eps_i [L(phi + eps_i) - L(phi - eps_i)]``.

    ``L`` is the sum of the losses of one sampled run; all ``2N`` runs share the start and the step noise (common
    random numbers). Unbiased for ``grad E_eps[J(phi + eps)]`` (Salimans et al. 2017; Vicol et al. 2021, Eq. 3).
    Cost: ``2N`` runs. (The same computation as :func:`pes_gradient` with a single window, ``K = T``.)
    """
    check_task_key(task, key)
    check_es(sigma, n_pairs)
    return _windowed_es(task, check_phi(params), key, task.horizon, sigma, n_pairs, True)


def tes_gradient(task: UnrolledTask, params, key, K, sigma, n_pairs: int):
    """Truncated ES (Vicol et al. 2021, Algorithm 1):
    ``g = 1/(2N sigma^2 T) sum_w sum_i eps_{w,i} L_w(phi + eps_{w,i})``.

    Fresh antithetic perturbations ``eps_{w,i}`` for each window ``w``; every particle starts the window from the
    shared state, which then moves on with the unperturbed ``phi``. Biased for ``K < T`` like truncated
    backpropagation; ``K = T`` is :func:`es_gradient`. Cost: ``2N + 1`` runs.
    """
    check_task_key(task, key)
    check_window(K, task.horizon)
    check_es(sigma, n_pairs)
    return _windowed_es(task, check_phi(params), key, K, sigma, n_pairs, False)


def pes_gradient(task: UnrolledTask, params, key, K, sigma, n_pairs: int):
    """Persistent ES (Vicol et al. 2021, Algorithm 2, Eq. 7): ``g = 1/(2N sigma^2 T) sum_w sum_i xi_{w,i} L_{w,i}``.

    Particle ``i`` keeps its own state across windows and accumulates its perturbations,
    ``xi_{w,i} = sum_{w' <= w} eps_{w',i}`` (antithetic pairs ``+-eps``); ``L_{w,i}`` is the loss of window ``w`` of
    that particle's run with ``phi + eps_{w,i}``. Unbiased for the gradient of the full-horizon objective smoothed
    with an independent perturbation per window, whatever ``K``; the variance grows with the number of windows
    ``T/K``. ``K = T`` is :func:`es_gradient`. Cost: ``2N`` runs.
    """
    check_task_key(task, key)
    check_window(K, task.horizon)
    check_es(sigma, n_pairs)
    return _windowed_es(task, check_phi(params), key, K, sigma, n_pairs, True)


#: The windowed estimators compared by :func:`sweep_windows` (at ``K = T`` they are backprop through the whole run,
#: ES, ES).
WINDOWED = ("truncated backprop", "truncated ES", "persistent ES")


def windowed_estimator(name: str, task: UnrolledTask, sigma=0.02, n_pairs=4) -> Callable:
    """``(phi, key, K) -> estimate`` for one of :data:`WINDOWED` (ES perturbation scale ``sigma``, ``n_pairs``)."""
    check_task(task)
    if name in WINDOWED[1:]:
        check_es(sigma, n_pairs)
    if name == "truncated backprop":
        return lambda p, k, K: truncated_gradient(task, p, k, K)
    if name == "truncated ES":
        return lambda p, k, K: tes_gradient(task, p, k, K, sigma, n_pairs)
    if name == "persistent ES":
        return lambda p, k, K: pes_gradient(task, p, k, K, sigma, n_pairs)
    raise ValueError(f"name must be one of {WINDOWED}, got {name!r}")
