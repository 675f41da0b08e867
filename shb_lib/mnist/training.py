"""Plain training of the MNIST network, no meta-optimization: the warm start and the long runs (ICLR section 3.2).

- :func:`pretrain` -- the warm start: 50 steps of SGD with momentum (``alpha = 0.1, mu = 0.9``) from a random init.
- :func:`train_schedule` -- long training runs with chosen ``(alpha_0, beta)`` of the inverse-time decay (ICLR
  Fig. 6), several at once under ``vmap``, recording the training loss and the test error.

A long run is **diverged** when a recorded training loss is not finite or rises above
:data:`shb_lib.divergence.DIVERGENCE_FACTOR` times the initial one (:func:`shb_lib.divergence.mark_diverged_runs`).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .. import checks, decay
from ..divergence import mark_diverged_runs
from . import batches, model, optimizer


def pretrain(key, images, labels, steps: int = 50, alpha: float = 0.1, mu: float = optimizer.MOMENTUM,
             batch_size: int = 100, init_std: float = model.INIT_STD):
    """The warm start (ICLR section 3.2): ``steps`` momentum-SGD steps at constant ``alpha`` from a random init.

    Returns the pretrained parameters (float32) of the paper's network (:data:`shb_lib.mnist.model.LAYER_SIZES`), so
    ``images`` must be ``(N, 784)`` and ``labels`` integers in ``[0, 9]``. Raises ``ValueError`` naming a bad
    argument (``alpha``: finite and ``> 0``; ``mu`` in ``[0, 1)``; ``steps >= 0``, ``batch_size >= 1`` integers).
    """
    checks.check_key("key", key)
    checks.check_int("steps", steps, 0)
    checks.check_int("batch_size", batch_size, 1)
    checks.check_positive("alpha", alpha)
    optimizer.check_hyperparameters(alpha_0=alpha, mu=mu)
    checks.check_positive("init_std", init_std)
    checks.check_dataset(images, labels, width=model.LAYER_SIZES[0], n_classes=model.LAYER_SIZES[-1])
    k_init, k_batch = jax.random.split(key)
    w = model.init_mlp(k_init, std=init_std)
    if steps == 0:
        return w
    idx = batches.epoch_batches(k_batch, images.shape[0], steps, batch_size)
    return _train_constant(w, jnp.asarray(images, jnp.float32), jnp.asarray(labels, jnp.int32), idx,
                           jnp.float32(alpha), jnp.float32(mu))


@jax.jit
def _train_constant(w, images, labels, idx, alpha, mu):
    def body(carry, i):
        return optimizer.sgd_step(*carry, images[i], labels[i], alpha, mu), None

    (w, _), _ = jax.lax.scan(body, (w, optimizer.zeros_like_tree(w)), idx)
    return w


@partial(jax.jit, static_argnames=("record_every",))
def _train_runs(w0, alpha_0, beta, images, labels, idx, eval_idx, test_x, test_y, time_const, mu, *, record_every):
    steps = idx.shape[0]
    n_rec = steps // record_every
    idx = idx[: n_rec * record_every].reshape(n_rec, record_every, -1)

    def metrics(w):
        def body(acc, e):
            return acc + model.cross_entropy(w, images[e], labels[e]), None

        tl, _ = jax.lax.scan(body, jnp.zeros((), jnp.float32), eval_idx)
        return tl / eval_idx.shape[0], model.error_rate(w, test_x, test_y)

    def run(a0, b):
        def chunk(carry, inp):
            (w, v), (c, batch_idx) = carry, inp

            def step(state, tb):
                t, i = tb
                lr = decay.inverse_time_decay(t, a0, b, time_const)
                return optimizer.sgd_step(*state, images[i], labels[i], lr, mu), None

            ts = (c * record_every + jnp.arange(record_every)).astype(jnp.float32)
            (w, v), _ = jax.lax.scan(step, (w, v), (ts, batch_idx))
            return (w, v), metrics(w)

        loss0, err0 = metrics(w0)
        _, (loss, err) = jax.lax.scan(chunk, (w0, optimizer.zeros_like_tree(w0)), (jnp.arange(n_rec), idx))
        return jnp.concatenate([loss0[None], loss]), jnp.concatenate([err0[None], err])

    return jax.vmap(run)(alpha_0, beta)


def train_schedule(key, images, labels, test_images, test_labels, w0, alpha_0, beta, steps: int, *,
                   record_every: int = 100, batch_size: int = 100, n_eval_batches: int = 100,
                   time_const: float = optimizer.TIME_CONST, mu: float = optimizer.MOMENTUM):
    """Train from ``w0`` for ``steps`` steps with each ``(alpha_0[i], beta[i])`` at once (same batches for all).

    Every ``record_every`` steps it records the training loss on ``n_eval_batches`` fixed training batches and
    the test error. Returns a dict: ``step`` (R,), ``train_loss`` (n, R), ``test_error`` (n, R), ``lr`` (n, R),
    ``diverged`` (n,), ``alpha_0``, ``beta`` (n,). ``train_loss = inf`` from the first non-finite record on, and
    ``test_error = nan`` there (no network is left to test).

    **Diverged** means: some recorded training loss is not finite, or rose above
    :data:`shb_lib.divergence.DIVERGENCE_FACTOR` (10) times the initial loss (the loss of ``w0`` at step 0). A run that
    merely stops improving is not diverged.

    Raises ``ValueError`` naming a bad argument: ``key`` a ``jax.random`` key; ``steps``, ``record_every``,
    ``batch_size``, ``n_eval_batches`` integers ``>= 1``; ``alpha_0`` (finite, ``> 0``) and ``beta`` (finite,
    ``>= 0``) scalars or 1-D arrays of one length; ``0 < time_const < inf``, ``0 <= mu < 1``; ``w0`` float32 MLP
    parameters with the input width and classes of both data sets.
    """
    checks.check_key("key", key)
    checks.check_int("steps", steps, 1)
    checks.check_int("record_every", record_every, 1)
    checks.check_int("batch_size", batch_size, 1)
    checks.check_int("n_eval_batches", n_eval_batches, 1)
    if steps % record_every:
        raise ValueError(f"steps must be a multiple of record_every={record_every}, got {steps}")
    optimizer.check_hyperparameters(alpha_0=alpha_0, beta=beta, mu=mu, time_const=time_const)
    alpha_0 = np.atleast_1d(np.asarray(alpha_0, np.float64))
    beta = np.atleast_1d(np.asarray(beta, np.float64))
    if alpha_0.ndim != 1 or alpha_0.shape != beta.shape:
        raise ValueError(f"alpha_0 and beta must be scalars or 1-D arrays of one length (one run each), got shapes "
                         f"{alpha_0.shape} and {beta.shape}")
    width, n_classes = model.check_float32_params(w0)
    checks.check_dataset(images, labels, width=width, n_classes=n_classes)
    checks.check_dataset(test_images, test_labels, width=width, n_classes=n_classes,
                         names=("test_images", "test_labels"))
    k_train, k_eval = jax.random.split(key)
    n = images.shape[0]
    idx = batches.epoch_batches(k_train, n, steps, batch_size)
    eval_idx = batches.epoch_batches(k_eval, n, n_eval_batches, batch_size)
    loss, err = _train_runs(w0, jnp.asarray(alpha_0, jnp.float32), jnp.asarray(beta, jnp.float32),
                            jnp.asarray(images, jnp.float32), jnp.asarray(labels, jnp.int32), idx, eval_idx,
                            jnp.asarray(test_images, jnp.float32), jnp.asarray(test_labels, jnp.int32),
                            jnp.float32(time_const), jnp.float32(mu), record_every=record_every)
    loss, _, diverged = mark_diverged_runs(loss)
    err = np.asarray(err, np.float64)
    err[np.isinf(loss)] = np.nan
    step = np.arange(loss.shape[1]) * record_every
    lr = np.asarray(decay.inverse_time_decay(step[None, :], alpha_0[:, None], beta[:, None], time_const), np.float64)
    return {"step": step, "train_loss": loss, "test_error": err, "lr": lr, "diverged": diverged,
            "alpha_0": alpha_0, "beta": beta}
