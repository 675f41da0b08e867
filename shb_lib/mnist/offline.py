"""Offline meta-optimization of the learning-rate schedule on MNIST (ICLR version, section 3.2, Algorithm 1).

:func:`smd` runs idealized SMD, offline: every meta-step restores the pretrained weights
(:func:`shb_lib.mnist.training.pretrain`), draws fresh lookahead batches and separate evaluation batches, takes the
exact forward-mode hypergradient (:func:`shb_lib.mnist.hypergrad.hypergradient`) and one step of the meta-optimizer
(:mod:`shb_lib.meta_optimizer`: Adam in log space, gradients clipped to +-10, values boxed to ``alpha_eff`` in
``[1e-4, 10]``, ``beta`` in ``[1e-4, 1e3]``, as in the authors' code). A meta-step whose lookahead diverged
(``J = inf``) leaves the hyperparameters and the optimizer's state unchanged and records ``inf``.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import checks
from .. import meta_optimizer as mo
from . import hypergrad as hg
from . import model, optimizer


def meta_optimizer(meta_lr):
    """Offline SMD's meta-optimizer (authors' code): Adam with learning rate ``meta_lr``, gradients clipped to
    ``+-GRAD_CLIP`` (:func:`shb_lib.meta_optimizer.adam`)."""
    return mo.adam(meta_lr, grad_clip=mo.GRAD_CLIP)


@partial(jax.jit, static_argnames=("horizon", "batch_size", "n_eval_batches"))
def smd_step(hparams, opt_state, key, images, labels, w0, *, horizon, batch_size, n_eval_batches, time_const, mu,
             meta_lr):
    """One meta-step of Algorithm 1: fresh batches, exact hypergradient, clipped Adam step in log space, values
    boxed (:data:`shb_lib.meta_optimizer.LOG_BOUNDS`).

    Returns ``(new_hparams, new_opt_state, value, grads)``; a diverged lookahead (``value = inf``) leaves the
    hyperparameters and the optimizer's state unchanged.
    """
    problem = hg.offline_problem(key, images, labels, w0, horizon, batch_size, n_eval_batches,
                                 jnp.asarray(time_const, jnp.float32), jnp.asarray(mu, jnp.float32))
    value, grads = hg.hypergradient(hparams, problem)
    new, new_state = mo.guarded_step(meta_optimizer(meta_lr), hparams, grads, opt_state, jnp.isfinite(value),
                                     mo.box(mo.LOG_BOUNDS))
    return new, new_state, value, grads


class SMDResult(NamedTuple):
    """A meta-optimization trajectory: ``hparams[m]`` before meta-step ``m`` (``M + 1`` rows; ``alpha_0``, ``beta``
    as plain arrays), ``values[m]`` the meta-objective at meta-step ``m`` (``inf`` where diverged); ``log_hparams``
    the log-space values per name; ``adam`` the meta-optimizer's state (:func:`meta_optimizer`)."""

    alpha_0: np.ndarray
    beta: np.ndarray
    values: np.ndarray
    log_hparams: dict
    adam: tuple


def smd(key, images, labels, w0, horizon: int, hparams0, meta_steps: int, *, meta_lr: float = 0.01,
        batch_size: int = 100, n_eval_batches: int = 600, time_const: float = optimizer.TIME_CONST,
        mu: float = optimizer.MOMENTUM,
        start: SMDResult | None = None, progress: bool = False, desc: str | None = None) -> SMDResult:
    """Run ``meta_steps`` meta-steps of Algorithm 1 from ``hparams0`` (or continue ``start``; for resuming).

    Meta-step ``m`` uses the key ``fold_in(key, m)``, so a run continued from ``start`` is identical to one run
    in one go. A meta-step whose lookahead diverged (``J = inf``) leaves the hyperparameters and Adam's state
    unchanged and records ``values[m] = inf``.

    Raises ``ValueError`` naming a bad argument: ``key`` a ``jax.random`` key; ``horizon``, ``batch_size``,
    ``n_eval_batches`` integers ``>= 1``, ``meta_steps >= 0``; ``meta_lr``, ``time_const`` finite and ``> 0``; ``mu`` in
    ``[0, 1)``; ``hparams0`` a dict of finite numbers as :func:`shb_lib.mnist.hypergrad.default_hparams` returns;
    ``w0`` float32 MLP parameters whose input width is that of ``images``; ``start`` an :class:`SMDResult`.
    """
    checks.check_key("key", key)
    checks.check_int("horizon", horizon, 1)
    checks.check_int("batch_size", batch_size, 1)
    checks.check_int("n_eval_batches", n_eval_batches, 1)
    checks.check_int("meta_steps", meta_steps, 0)
    optimizer.check_hyperparameters(mu=mu, time_const=time_const)
    checks.check_positive("meta_lr", meta_lr)
    width, n_classes = model.check_float32_params(w0)
    checks.check_dataset(images, labels, width=width, n_classes=n_classes)
    if start is None:
        if not isinstance(hparams0, dict):
            raise ValueError(f"hparams0 must be a dict such as hypergrad.default_hparams() returns, got "
                             f"{type(hparams0).__name__}")
        hg.schedule_params(hparams0, mu)  # the keys
        for k, v in hparams0.items():
            checks.check_real(f"hparams0[{k!r}]", v, scalar=True)
    elif not isinstance(start, SMDResult):
        raise ValueError(f"start must be an SMDResult (what smd returned), got {type(start).__name__}")
    if isinstance(desc, bool) or (desc is not None and not isinstance(desc, str)):
        raise ValueError(f"desc must be a string or None, got {desc!r}")
    images = jnp.asarray(images, jnp.float32)
    labels = jnp.asarray(labels, jnp.int32)
    if start is None:
        h = {k: jnp.asarray(v, jnp.float32) for k, v in hparams0.items()}
        adam = meta_optimizer(meta_lr).init(h)
        a0, b0, _ = hg.hparams_to_schedule(h, mu)
        alphas, betas, values = [a0], [b0], []
        logs = {k: [float(v)] for k, v in h.items()}
    else:
        h = {k: jnp.asarray(v[-1], jnp.float32) for k, v in start.log_hparams.items()}
        adam = start.adam
        alphas, betas, values = list(start.alpha_0), list(start.beta), list(start.values)
        logs = {k: list(v) for k, v in start.log_hparams.items()}
    m0 = len(values)
    steps = range(m0, m0 + meta_steps)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=desc or f"SMD T={horizon}", leave=False)
    for m in steps:
        h, adam, value, _ = smd_step(h, adam, jax.random.fold_in(key, m), images, labels, w0, horizon=horizon,
                                     batch_size=batch_size, n_eval_batches=n_eval_batches, time_const=time_const,
                                     mu=mu, meta_lr=meta_lr)
        values.append(float(value))
        a, b, _ = hg.hparams_to_schedule(h, mu)
        alphas.append(a)
        betas.append(b)
        for k, v in h.items():
            logs[k].append(float(v))
    return SMDResult(np.array(alphas), np.array(betas), np.array(values),
                     {k: np.array(v) for k, v in logs.items()}, adam)


