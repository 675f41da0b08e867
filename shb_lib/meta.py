"""Offline meta-optimization of the learning-rate schedule on MNIST (ICLR version, section 3.2, Algorithm 1).

- :func:`pretrain` -- the warm start: 50 steps of SGD with momentum (``alpha = 0.1, mu = 0.9``).
- :func:`smd` -- Algorithm 1 (idealized SMD, offline): every meta-step restores the pretrained weights, draws
  fresh lookahead batches and separate evaluation batches, takes the exact forward-mode hypergradient
  (:func:`shb_lib.hypergrad.hypergradient`) and an Adam step in log space with gradient clipping (+-10) and value
  clipping (``alpha_eff`` in ``[1e-4, 10]``, ``beta`` in ``[1e-4, 1e3]``), as in the authors' code.
- :func:`random_search` -- the meta-objective surface: log-uniform samples of ``(alpha_0, beta)``, one fixed batch
  sequence shared by all samples, many samples trained at once with ``vmap`` (sharded over devices when several).
- :func:`train_schedule` -- long training runs with chosen ``(alpha_0, beta)`` (ICLR Fig. 6), several at once.

Diverged runs are reported with ``loss = inf`` (non-finite loss) and a ``diverged`` flag, never as NaN. What
"diverged" means is said per function: on a surface, a non-finite meta-objective; for a long run
(:func:`train_schedule`), a non-finite loss or a recorded loss above :data:`DIVERGENCE_FACTOR` times the initial
one. Consumers of possibly diverged results say what they do: :func:`best_of_surface` skips diverged samples and
raises :class:`shb_lib.checks.DivergedError` if every sample diverged; :func:`smd` leaves the hyperparameters
unchanged at a diverged meta-step and records ``inf``.
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import hypergrad as hg
from . import checks, mlp, optim

#: Gradient clipping of the meta-gradients in log space (authors' code).
GRAD_CLIP = 10.0
#: Value clipping of the hyperparameters (authors' code): alpha_eff and beta ranges.
ALPHA_EFF_RANGE = (1e-4, 10.0)
BETA_RANGE = (1e-4, 1e3)
MU_RANGE = (0.0, 0.999)  # only when log(1 - mu) is meta-optimized
#: A network run whose recorded training loss rises above this many times its initial loss is flagged diverged
#: (as is one whose loss overflows): a loss of 198 from a start of 0.4 is no longer training.
DIVERGENCE_FACTOR = 10.0


def _check_int(name, value, low=1):
    return checks.check_int(name, value, low)


def _check_float32_params(w0):
    """``w0`` MLP parameters in float32 (the MNIST loops run in float32); returns ``(width, classes)``."""
    width, n_classes, dtype = checks.check_mlp_params("w0", w0)
    if dtype != np.float32:
        raise ValueError(f"w0 must be float32 (the MNIST training loops run in float32), got {dtype}; "
                         f"use mlp.init_mlp(..., dtype=jnp.float32) or jax.tree.map(lambda x: x.astype('float32'), w0)")
    return width, n_classes


def pretrain(key, images, labels, steps: int = 50, alpha: float = 0.1, mu: float = optim.MOMENTUM,
             batch_size: int = 100, init_std: float = mlp.INIT_STD):
    """The warm start (ICLR section 3.2): ``steps`` momentum-SGD steps at constant ``alpha`` from a random init.

    Returns the pretrained parameters (float32) of the paper's network (:data:`shb_lib.mlp.LAYER_SIZES`), so
    ``images`` must be ``(N, 784)`` and ``labels`` integers in ``[0, 9]``. Raises ``ValueError`` naming a bad
    argument (``alpha``: finite and ``> 0``; ``mu`` in ``[0, 1)``; ``steps >= 0``, ``batch_size >= 1`` integers).
    """
    checks.check_key("key", key)
    _check_int("steps", steps, 0)
    _check_int("batch_size", batch_size)
    checks.check_positive("alpha", alpha)
    optim.check_hyperparameters(alpha_0=alpha, mu=mu)
    checks.check_positive("init_std", init_std)
    checks.check_dataset(images, labels, width=mlp.LAYER_SIZES[0], n_classes=mlp.LAYER_SIZES[-1])
    k_init, k_batch = jax.random.split(key)
    w = mlp.init_mlp(k_init, std=init_std)
    if steps == 0:
        return w
    idx = hg.sample_batches(k_batch, images.shape[0], steps, batch_size)
    return _train_constant(w, jnp.asarray(images, jnp.float32), jnp.asarray(labels, jnp.int32), idx,
                           jnp.float32(alpha), jnp.float32(mu))


@jax.jit
def _train_constant(w, images, labels, idx, alpha, mu):
    def body(carry, i):
        return optim.sgd_step(*carry, images[i], labels[i], alpha, mu), None

    (w, _), _ = jax.lax.scan(body, (w, optim.zeros_like_tree(w)), idx)
    return w


# ----------------------------------------------------------------------------------------------------------------
# Algorithm 1: offline SMD.


class AdamState(NamedTuple):
    m: dict
    v: dict
    count: jax.Array


def adam_init(hparams) -> AdamState:
    z = jax.tree.map(jnp.zeros_like, hparams)
    return AdamState(z, z, jnp.zeros((), jnp.int32))


def adam_update(hparams, grads, state: AdamState, lr, b1=0.9, b2=0.999, eps=1e-8):
    """One Adam step (Kingma & Ba): ``h <- h - lr m_hat / (sqrt(v_hat) + eps)``; the paper's meta-optimizer."""
    count = state.count + 1
    m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.m, grads)
    v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state.v, grads)
    c1 = 1 - b1 ** count.astype(jnp.float32)
    c2 = 1 - b2 ** count.astype(jnp.float32)
    new = jax.tree.map(lambda h, m, v: h - lr * (m / c1) / (jnp.sqrt(v / c2) + eps), hparams, m, v)
    return new, AdamState(m, v, count)


def clip_hparams(hparams, mu_default=optim.MOMENTUM):
    """Value clipping in log space (authors' code): ``alpha_eff`` in [1e-4, 10], ``beta`` in [1e-4, 1e3] and
    ``mu`` in [0, 0.999], each for the keys present (offline SMD has ``log_beta``; online SMD has none)."""
    out = dict(hparams)
    out["log_alpha_eff"] = jnp.clip(hparams["log_alpha_eff"], *map(math.log, ALPHA_EFF_RANGE))
    if "log_beta" in hparams:
        out["log_beta"] = jnp.clip(hparams["log_beta"], *map(math.log, BETA_RANGE))
    if "log_one_minus_mu" in hparams:
        out["log_one_minus_mu"] = jnp.clip(hparams["log_one_minus_mu"], math.log(1 - MU_RANGE[1]), 0.0)
    return out


@partial(jax.jit, static_argnames=("horizon", "batch_size", "n_eval_batches"))
def meta_step(hparams, adam: AdamState, key, images, labels, w0, *, horizon, batch_size, n_eval_batches,
              K, mu, meta_lr):
    """One meta-step of Algorithm 1: fresh batches, exact hypergradient, clipped Adam step in log space.

    Returns ``(new_hparams, new_adam, value, grads)``; a diverged lookahead (``value = inf``) leaves the
    hyperparameters unchanged.
    """
    problem = hg.make_offline_problem(key, images, labels, w0, horizon, batch_size, n_eval_batches, K=1.0, mu=0.5)
    problem = problem._replace(K=jnp.asarray(K, jnp.float32), mu=jnp.asarray(mu, jnp.float32))
    value, grads = hg.hypergradient(hparams, problem)
    clipped = jax.tree.map(lambda g: jnp.clip(g, -GRAD_CLIP, GRAD_CLIP), grads)
    new, new_adam = adam_update(hparams, clipped, adam, meta_lr)
    new = clip_hparams(new)
    ok = jnp.isfinite(value)
    new = jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, hparams)
    new_adam = jax.tree.map(lambda a, b: jnp.where(ok, a, b), new_adam, adam)
    return new, new_adam, value, grads


class SMDResult(NamedTuple):
    """A meta-optimization trajectory: ``hparams[m]`` before meta-step ``m`` (``M + 1`` rows; ``alpha_0``, ``beta``
    as plain arrays), ``values[m]`` the meta-objective at meta-step ``m`` (``inf`` where diverged)."""

    alpha_0: np.ndarray
    beta: np.ndarray
    values: np.ndarray
    log_hparams: dict
    adam: AdamState


def smd(key, images, labels, w0, horizon: int, hparams0, n_meta_steps: int, *, meta_lr: float = 0.01,
        batch_size: int = 100, n_eval_batches: int = 600, K: float = optim.TIME_CONST, mu: float = optim.MOMENTUM,
        start: SMDResult | None = None, progress: bool = False, desc: str | None = None) -> SMDResult:
    """Run ``n_meta_steps`` meta-steps of Algorithm 1 from ``hparams0`` (or continue ``start``; for resuming).

    Meta-step ``m`` uses the key ``fold_in(key, m)``, so a run continued from ``start`` is identical to one run
    in one go. A meta-step whose lookahead diverged (``J = inf``) leaves the hyperparameters and Adam's state
    unchanged and records ``values[m] = inf``.

    Raises ``ValueError`` naming a bad argument: ``key`` a ``jax.random`` key; ``horizon``, ``batch_size``,
    ``n_eval_batches`` integers ``>= 1``, ``n_meta_steps >= 0``; ``meta_lr``, ``K`` finite and ``> 0``; ``mu`` in
    ``[0, 1)``; ``hparams0`` a dict of finite numbers as :func:`shb_lib.hypergrad.default_hparams` returns;
    ``w0`` float32 MLP parameters whose input width is that of ``images``; ``start`` an :class:`SMDResult`.
    """
    checks.check_key("key", key)
    _check_int("horizon", horizon)
    _check_int("batch_size", batch_size)
    _check_int("n_eval_batches", n_eval_batches)
    _check_int("n_meta_steps", n_meta_steps, 0)
    optim.check_hyperparameters(mu=mu, K=K)
    checks.check_positive("meta_lr", meta_lr)
    width, n_classes = _check_float32_params(w0)
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
        adam = adam_init(h)
        a0, b0, _ = hg.hparams_to_schedule(h, mu)
        alphas, betas, values = [a0], [b0], []
        logs = {k: [float(v)] for k, v in h.items()}
    else:
        h = {k: jnp.asarray(v[-1], jnp.float32) for k, v in start.log_hparams.items()}
        adam = start.adam
        alphas, betas, values = list(start.alpha_0), list(start.beta), list(start.values)
        logs = {k: list(v) for k, v in start.log_hparams.items()}
    m0 = len(values)
    steps = range(m0, m0 + n_meta_steps)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=desc or f"SMD T={horizon}", leave=False)
    for m in steps:
        h, adam, value, _ = meta_step(h, adam, jax.random.fold_in(key, m), images, labels, w0, horizon=horizon,
                                      batch_size=batch_size, n_eval_batches=n_eval_batches, K=K, mu=mu,
                                      meta_lr=meta_lr)
        values.append(float(value))
        a, b, _ = hg.hparams_to_schedule(h, mu)
        alphas.append(a)
        betas.append(b)
        for k, v in h.items():
            logs[k].append(float(v))
    return SMDResult(np.array(alphas), np.array(betas), np.array(values),
                     {k: np.array(v) for k, v in logs.items()}, adam)


# ----------------------------------------------------------------------------------------------------------------
# Loss surface by random search.


def sample_log_uniform(key, n: int, low: float, high: float):
    """``n`` float32 samples with ``log x`` uniform on ``[log low, log high]``."""
    u = jax.random.uniform(key, (n,), dtype=jnp.float32)
    return jnp.exp(math.log(low) + u * (math.log(high) - math.log(low))).astype(jnp.float32)


def _surface_fn(problem):
    def one(alpha_0, beta):
        h = {"log_alpha_eff": jnp.log(alpha_0 / (1 - problem.mu)), "log_beta": jnp.log(beta)}
        return hg.meta_objective(h, problem)

    return one


@jax.jit
def surface_losses(alpha_0, beta, problem: hg.OfflineProblem):
    """Meta-objective of every ``(alpha_0[i], beta[i])`` on the same problem, all samples at once (``vmap``)."""
    return jax.vmap(_surface_fn(problem))(alpha_0, beta)


@jax.jit
def _surface_one(alpha_0, beta, problem: hg.OfflineProblem):
    return _surface_fn(problem)(alpha_0, beta)


def surface_losses_loop(alpha_0, beta, problem: hg.OfflineProblem):
    """The same as :func:`surface_losses`, one sample at a time (the baseline of the throughput benchmark)."""
    return jnp.stack([_surface_one(a, b, problem) for a, b in zip(alpha_0, beta)])


def _shard(x):
    """Put the sample axis of ``x`` across all devices when there are several (no-op on one device)."""
    devices = jax.devices()
    if len(devices) == 1:
        return x
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = Mesh(np.array(devices), ("samples",))
    return jax.device_put(x, NamedSharding(mesh, PartitionSpec("samples")))


def random_search(key, problem: hg.OfflineProblem, n_samples: int, alpha_0_range=(1e-3, 0.5),
                  beta_range=(1e-2, 200.0), chunk: int = 64, progress: bool = False, desc: str | None = None):
    """Meta-objective at ``n_samples`` log-uniform ``(alpha_0, beta)`` (raw ``alpha_0``; ``alpha_eff`` =
    ``alpha_0 / (1 - mu)``), all sharing ``problem``'s batches. Samples run ``chunk`` at a time under ``vmap``
    (the chunk is split over the devices when several are present).

    Returns a dict of numpy arrays ``alpha_0, beta, loss, diverged`` (``diverged``: the meta-objective is not
    finite; ``loss = inf`` there). Raises ``ValueError`` naming a bad argument (ranges: two finite numbers with
    ``0 < low < high``).
    """
    checks.check_key("key", key)
    if not isinstance(problem, hg.OfflineProblem):
        raise ValueError(f"problem must be an OfflineProblem (from make_offline_problem), got {type(problem).__name__}")
    _check_int("n_samples", n_samples)
    _check_int("chunk", chunk)
    for name, rng in (("alpha_0_range", alpha_0_range), ("beta_range", beta_range)):
        if isinstance(rng, (str, bytes)) or np.shape(rng) != (2,):
            raise ValueError(f"{name} must be a pair (low, high), got {rng!r}")
        lo, hi = rng
        checks.check_positive(f"{name}[0]", lo)
        checks.check_positive(f"{name}[1]", hi)
        if not lo < hi:
            raise ValueError(f"{name} must satisfy 0 < low < high, got {(lo, hi)!r}")
    ka, kb = jax.random.split(key)
    alpha_0 = sample_log_uniform(ka, n_samples, *alpha_0_range)
    beta = sample_log_uniform(kb, n_samples, *beta_range)
    n_dev = len(jax.devices())
    n_chunks = -(-n_samples // min(chunk, n_samples))
    chunk = -(-n_samples // n_chunks)  # equal chunks: 96 samples at chunk 64 run as 2 x 48, not 2 x 64 padded
    chunk = -(-chunk // n_dev) * n_dev
    pad = (-n_samples) % chunk
    a_pad = jnp.concatenate([alpha_0, jnp.full((pad,), alpha_0[0])])
    b_pad = jnp.concatenate([beta, jnp.full((pad,), beta[0])])
    starts = range(0, n_samples + pad, chunk)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=desc or f"surface T={problem.horizon}", leave=False)
    losses = [np.asarray(surface_losses(_shard(a_pad[s:s + chunk]), _shard(b_pad[s:s + chunk]), problem))
              for s in starts]
    loss = np.concatenate(losses)[:n_samples].astype(np.float64)
    diverged = ~np.isfinite(loss)
    loss[diverged] = np.inf
    return {"alpha_0": np.asarray(alpha_0, np.float64), "beta": np.asarray(beta, np.float64), "loss": loss,
            "diverged": diverged}


def best_of_surface(surface, top: int = 1):
    """``(alpha_0, beta)`` of the surface's lowest loss (geometric mean of the ``top`` lowest when ``top > 1``).

    Diverged samples (non-finite loss) are never chosen: with fewer than ``top`` finite samples the mean is over
    the finite ones, and a surface whose every sample diverged raises :class:`shb_lib.checks.DivergedError` (there
    is no optimum to report). ``surface`` is what :func:`random_search` returns (``alpha_0``, ``beta``, ``loss`` of
    one length); ``top`` an integer ``>= 1``.
    """
    _check_int("top", top)
    if not isinstance(surface, dict) or not {"alpha_0", "beta", "loss"} <= set(surface):
        raise ValueError("surface must be a dict with alpha_0, beta and loss (what random_search returns), got "
                         f"{sorted(surface) if isinstance(surface, dict) else type(surface).__name__}")
    loss = np.asarray(surface["loss"], np.float64)
    if loss.ndim != 1 or np.shape(surface["alpha_0"]) != loss.shape or np.shape(surface["beta"]) != loss.shape:
        raise ValueError(f"surface arrays must be 1-D of one length, got alpha_0 {np.shape(surface['alpha_0'])}, "
                         f"beta {np.shape(surface['beta'])}, loss {loss.shape}")
    n_finite = int(np.isfinite(loss).sum())
    if n_finite == 0:
        raise checks.DivergedError(f"surface: every one of its {loss.size} samples diverged (loss not finite); "
                                   f"there is no optimum (try smaller learning rates)")
    order = np.argsort(np.where(np.isfinite(loss), loss, np.inf))[:min(top, n_finite)]
    return float(np.exp(np.mean(np.log(surface["alpha_0"][order])))), float(
        np.exp(np.mean(np.log(surface["beta"][order]))))


# ----------------------------------------------------------------------------------------------------------------
# Long training runs with a chosen schedule (ICLR Fig. 6).


@partial(jax.jit, static_argnames=("record_every",))
def _train_runs(w0, alpha_0, beta, images, labels, idx, eval_idx, test_x, test_y, K, mu, *, record_every):
    steps = idx.shape[0]
    n_rec = steps // record_every
    idx = idx[: n_rec * record_every].reshape(n_rec, record_every, -1)

    def metrics(w):
        def body(acc, e):
            return acc + mlp.cross_entropy(w, images[e], labels[e]), None

        tl, _ = jax.lax.scan(body, jnp.zeros((), jnp.float32), eval_idx)
        return tl / eval_idx.shape[0], mlp.error_rate(w, test_x, test_y)

    def run(a0, b):
        def chunk(carry, inp):
            (w, v), (c, batch_idx) = carry, inp

            def step(state, tb):
                t, i = tb
                lr = optim.inverse_time_decay(t, a0, b, K)
                return optim.sgd_step(*state, images[i], labels[i], lr, mu), None

            ts = (c * record_every + jnp.arange(record_every)).astype(jnp.float32)
            (w, v), _ = jax.lax.scan(step, (w, v), (ts, batch_idx))
            return (w, v), metrics(w)

        loss0, err0 = metrics(w0)
        _, (loss, err) = jax.lax.scan(chunk, (w0, optim.zeros_like_tree(w0)), (jnp.arange(n_rec), idx))
        return jnp.concatenate([loss0[None], loss]), jnp.concatenate([err0[None], err])

    return jax.vmap(run)(alpha_0, beta)


def train_schedule(key, images, labels, test_images, test_labels, w0, alpha_0, beta, steps: int, *,
                   record_every: int = 100, batch_size: int = 100, n_eval_batches: int = 100,
                   K: float = optim.TIME_CONST, mu: float = optim.MOMENTUM):
    """Train from ``w0`` for ``steps`` steps with each ``(alpha_0[i], beta[i])`` at once (same batches for all).

    Every ``record_every`` steps it records the training loss on ``n_eval_batches`` fixed training batches and
    the test error. Returns a dict: ``step`` (R,), ``train_loss`` (n, R), ``test_error`` (n, R), ``lr`` (n, R),
    ``diverged`` (n,), ``alpha_0``, ``beta`` (n,). ``train_loss = inf`` from the first non-finite record on, and
    ``test_error = nan`` there (no network is left to test).

    **Diverged** means: some recorded training loss is not finite, or rose above :data:`DIVERGENCE_FACTOR` (10)
    times the initial loss (the loss of ``w0`` at step 0). A run that merely stops improving is not diverged.

    Raises ``ValueError`` naming a bad argument: ``key`` a ``jax.random`` key; ``steps``, ``record_every``,
    ``batch_size``, ``n_eval_batches`` integers ``>= 1``; ``alpha_0`` (finite, ``> 0``) and ``beta`` (finite,
    ``>= 0``) scalars or 1-D arrays of one length; ``0 < K < inf``, ``0 <= mu < 1``; ``w0`` float32 MLP
    parameters with the input width and classes of both data sets.
    """
    checks.check_key("key", key)
    _check_int("steps", steps)
    _check_int("record_every", record_every)
    _check_int("batch_size", batch_size)
    _check_int("n_eval_batches", n_eval_batches)
    if steps % record_every:
        raise ValueError(f"steps must be a multiple of record_every={record_every}, got {steps}")
    optim.check_hyperparameters(alpha_0=alpha_0, beta=beta, mu=mu, K=K)
    alpha_0 = np.atleast_1d(np.asarray(alpha_0, np.float64))
    beta = np.atleast_1d(np.asarray(beta, np.float64))
    if alpha_0.ndim != 1 or alpha_0.shape != beta.shape:
        raise ValueError(f"alpha_0 and beta must be scalars or 1-D arrays of one length (one run each), got shapes "
                         f"{alpha_0.shape} and {beta.shape}")
    width, n_classes = _check_float32_params(w0)
    checks.check_dataset(images, labels, width=width, n_classes=n_classes)
    checks.check_dataset(test_images, test_labels, width=width, n_classes=n_classes,
                         names=("test_images", "test_labels"))
    k_train, k_eval = jax.random.split(key)
    n = images.shape[0]
    idx = hg.sample_batches(k_train, n, steps, batch_size)
    eval_idx = hg.sample_batches(k_eval, n, n_eval_batches, batch_size)
    loss, err = _train_runs(w0, jnp.asarray(alpha_0, jnp.float32), jnp.asarray(beta, jnp.float32),
                            jnp.asarray(images, jnp.float32), jnp.asarray(labels, jnp.int32), idx, eval_idx,
                            jnp.asarray(test_images, jnp.float32), jnp.asarray(test_labels, jnp.int32),
                            jnp.float32(K), jnp.float32(mu), record_every=record_every)
    loss = np.asarray(loss, np.float64)
    bad = ~np.isfinite(loss)
    bad = np.logical_or.accumulate(bad, axis=1)
    loss[bad] = np.inf
    err = np.asarray(err, np.float64)
    err[bad] = np.nan
    step = np.arange(loss.shape[1]) * record_every
    lr = alpha_0[:, None] / (1 + step[None, :] / K) ** beta[:, None]
    rose = np.any(loss > DIVERGENCE_FACTOR * loss[:, :1], axis=1)
    return {"step": step, "train_loss": loss, "test_error": err, "lr": lr, "diverged": bad[:, -1] | rose,
            "alpha_0": alpha_0, "beta": beta}
