"""Measuring the estimators and meta-optimizing with them.

:func:`estimator_statistics` (against an exact gradient) and :func:`reference_statistics` (against a Monte-Carlo
reference, e.g. on a network) measure bias and variance from repeated estimates; :func:`sweep_windows` draws them
for several truncation windows at once; :func:`meta_optimize` runs the package's meta-optimizer
(:mod:`shb_lib.meta_optimizer`, Adam) on ``phi`` with any estimator; :func:`polyak_average` is where a path ended.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import checks
from .. import meta_optimizer as mo
from .tasks import check_phi


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
    ``sqrt(se^2 + se_ref^2)``, valid only when the two come from independent training runs; or with
    ``paired=True`` (row ``i`` of both from the same training run) the standard error of the mean difference,
    ``std(g_i - g_ref,i) / sqrt(R)``, smaller when the runs are correlated.
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


def sweep_windows(estimator: Callable, params, key, Ks, n_repeats: int, vectorize: bool = True) -> np.ndarray:
    """``n_repeats`` independent estimates for each window length: ``(len(Ks), R, p)`` (``vmap`` over K and keys).

    The same keys, hence the same training runs, serve every ``K`` (common random numbers). ``vectorize=False``
    computes one estimate at a time instead (same keys): for a network, where ``vmap`` over whole runs costs
    memory and a longer compilation and gains nothing on a CPU.
    """
    if not callable(estimator):
        raise ValueError(f"estimator must be a function (params, key, K) -> estimate, got {estimator!r}")
    checks.check_int("n_repeats", n_repeats, 2)
    checks.check_key("key", key)
    checks.check_bool("vectorize", vectorize)
    if isinstance(Ks, (str, bytes)) or np.ndim(Ks) != 1 or len(Ks) == 0:
        raise ValueError(f"Ks must be a non-empty 1-D list of window lengths, got {Ks!r}")
    for i, K in enumerate(Ks):
        checks.check_int(f"Ks[{i}]", K, 1)
    params = check_phi(params)
    keys = jax.random.split(key, n_repeats)
    if not vectorize:
        return np.array([[np.asarray(estimator(params, k, int(K))) for k in keys] for K in Ks])
    per_K = lambda K: jax.vmap(lambda k: estimator(params, k, K))(keys)
    return np.asarray(jax.vmap(per_K)(jnp.asarray(Ks)))


def _meta_step(estimator, optimizer, args, carry, key):
    """One meta-step on one fresh estimate (:func:`shb_lib.meta_optimizer.step`); a non-finite estimate makes
    ``phi`` ``inf`` from then on (the optimizer's moments take a zero gradient)."""
    params, state, diverged = carry
    g = estimator(params, key, *args)
    bad = diverged | ~jnp.all(jnp.isfinite(g))
    new, state = mo.step(optimizer, params, jnp.where(bad, 0.0, g), state)
    params = jnp.where(bad, jnp.inf, new)
    return (params, state, bad), params


@partial(jax.jit, static_argnames=("estimator", "meta_steps"))
def _meta_optimize(estimator, params0, key, meta_steps, meta_lr, args):
    optimizer = mo.adam(meta_lr)
    carry = (params0, optimizer.init(params0), jnp.bool_(False))
    body = partial(_meta_step, estimator, optimizer, args)
    _, path = jax.lax.scan(body, carry, jax.random.split(key, meta_steps))
    return jnp.concatenate([params0[None], path])


def meta_optimize(estimator: Callable, params0, key, meta_steps: int, meta_lr, args=(), compile_loop=True):
    """Adam on ``phi`` (the package's meta-optimizer, :func:`shb_lib.meta_optimizer.adam`, no clipping), one fresh
    estimate per meta-step.

    ``estimator(phi, key, *args)`` returns an estimate of ``grad J(phi)``; every meta-step draws a new key, hence a
    new training run from ``theta_0`` (the offline protocol of Wu et al. 2018, Algorithm 1). ``meta_lr`` is the
    meta learning rate; ``args`` (arrays, e.g. the window ``K``) may be traced, so ``vmap`` runs several settings
    at once. Returns the path ``(meta_steps + 1, p)``; once an estimate diverges the path is ``inf`` from there on.
    ``compile_loop=False`` runs the meta-steps from Python instead (same keys, same path): for a network, whose
    estimator is already compiled and costs far more than the loop, this saves compiling the whole loop again.
    """
    if not callable(estimator):
        raise ValueError(f"estimator must be a function (params, key, *args) -> estimate, got {estimator!r}")
    checks.check_int("meta_steps", meta_steps, 1)
    checks.check_positive("meta_lr", meta_lr)
    checks.check_key("key", key)
    checks.check_bool("compile_loop", compile_loop)
    if not isinstance(args, (tuple, list)):
        raise ValueError(f"args must be a tuple of extra estimator arguments, got {type(args).__name__}")
    params0 = check_phi(params0)
    if compile_loop:
        return _meta_optimize(estimator, params0, key, meta_steps, meta_lr, tuple(args))
    optimizer = mo.adam(meta_lr)
    carry, path = (params0, optimizer.init(params0), jnp.bool_(False)), [params0]
    for k in jax.random.split(key, meta_steps):
        if not bool(carry[2]):  # once diverged, phi stays inf (the estimator is not called with it)
            carry, params = _meta_step(estimator, optimizer, tuple(args), carry, k)
        path.append(jnp.full_like(params0, jnp.inf) if bool(carry[2]) else params)
    return jnp.stack(path)


def polyak_average(path, n_last: int):
    """The mean of the last ``n_last`` iterates of a meta-optimization path ``(M+1, p)``: where the run ended.
    A path that diverged within its last ``n_last`` iterates (``inf``, as :func:`meta_optimize` reports it) gives
    ``inf`` (the divergence propagates)."""
    checks.check_array("path", path, ndim=2)
    path = np.asarray(path)
    checks.check_int("n_last", n_last, 1, path.shape[0])
    return path[-n_last:].mean(axis=0)
