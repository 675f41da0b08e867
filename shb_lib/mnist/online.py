"""Online meta-optimization of the learning rate and momentum with a short lookahead (ICLR version, section 3.3).

While one network trains, stochastic meta-descent (SMD, ICLR section 3.1, Algorithm 1) adapts the two
hyperparameters of SGD with momentum every few training steps. Every meta-step looks ``T`` steps ahead from the
*current* weights and velocity and follows the gradient of the loss at the end of the lookahead (ICLR Figs. 7-8):

- **Hyperparameters** in log space (ICLR section 3.3): ``h = (log alpha_eff, log(1 - mu))`` with
  ``alpha_eff = alpha / (1 - mu)``, so that ``alpha = e^{h_1} e^{h_2}`` and ``mu = 1 - e^{h_2}``.
- **Lookahead** (:func:`lookahead_loss`): ``T`` momentum-SGD steps ``(w, v) -> (w_T, v_T)`` on lookahead batches
  ``B_1 .. B_T`` with constant ``(alpha, mu)``; the meta-objective is the loss of ``w_T`` on evaluation batches::

      J(h) = L(w_T(h); E).

  *Stochastic* lookahead draws ``T`` fresh lookahead batches and ``T`` further fresh evaluation batches; the
  *deterministic* lookahead uses one batch ``B`` for all ``T`` steps and evaluates on that same batch
  (:func:`lookahead_batches`), as in the authors' code.
- **Meta-step** (:func:`online_smd_step`): ``dJ/dh`` by reverse mode through the ``T``-step ``lax.scan`` (exact, cheap
  for ``T = 5``), clipped to ``[-10, 10]``, one Adam step in log space, values clipped to ``alpha_eff`` in
  ``[1e-4, 10]`` and ``mu`` in ``[0, 0.999]`` (:mod:`shb_lib.meta_optimizer`, the same as offline SMD's). Every
  meta-step draws new batches (Algorithm 1; the authors' code reuses one draw for the meta-steps of one update). A
  lookahead that diverges leaves ``h`` unchanged.
- **Schedule** (:func:`decayed_alpha_eff`): ``M`` meta-steps before every ``steps_per_update`` training steps
  until ``adapt_steps``; then adaptation stops, ``mu`` stays, and ``alpha_eff`` decays exponentially to
  ``final_lr`` (``1e-4``) at the last step (ICLR section 3.3).

:func:`online_run` trains several runs at once (``vmap`` over their initial hyperparameters; the runs share the
initial weights and every batch). A run with ``meta_steps = 0`` is the hand-tuned baseline: constant
hyperparameters, then the same decay. Diverged runs are reported with ``train_loss = inf`` (from the first
non-finite record on) and a ``diverged`` flag: a non-finite loss, or a recorded loss above
:data:`shb_lib.divergence.DIVERGENCE_FACTOR` (10) times the initial one.
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import checks, decay
from .. import meta_optimizer as mo
from ..divergence import finite_or_inf, mark_diverged_runs
from . import batches, model, optimizer

#: Lookahead of the paper's online experiment (ICLR section 3.3, Figs. 7-8).
LOOKAHEAD = 5
#: Effective learning rate at the last training step after the exponential decay (ICLR section 3.3).
FINAL_LR = 1e-4
#: Initial raw learning rates ``alpha`` of the paper's SMD runs (authors' code), from 1e-3 to 0.1, with ``mu = 0.9``.
PAPER_INIT_LRS = (1e-3, 5e-3, 1e-2, 5e-2, 1e-1)


class LrMomentum(NamedTuple):
    """Online SMD's two hyperparameters as plain floats: the raw learning rate ``alpha`` and the momentum ``mu``
    (a tuple: ``online_run(..., *pair)`` passes both). :func:`online_hparams` turns them (or arrays of them) into
    the log-space dict that online SMD adapts; :func:`lr_and_momentum` goes back."""

    alpha: float
    mu: float

    @property
    def alpha_eff(self) -> float:
        """``alpha / (1 - mu)``, the effective learning rate."""
        return self.alpha / (1.0 - self.mu)


#: The hand-tuned baseline of the authors' code: ``alpha = 0.1, mu = 0.9`` (``alpha_eff = 1``).
HAND_TUNED = LrMomentum(alpha=0.1, mu=0.9)


class OnlineConfig(NamedTuple):
    """Settings of one online experiment (hashable: it is a static argument of the jitted run).

    ``steps`` training steps in all; meta-optimization during the first ``adapt_steps`` (``meta_steps`` meta-steps
    before every ``steps_per_update`` training steps, ``lookahead`` steps each, Adam with learning rate ``meta_lr``
    and second-moment decay ``meta_b2``), then the exponential decay to ``final_lr``. The training loss is recorded
    every ``record_every`` steps on ``n_eval_examples`` fixed training examples.

    The defaults are the book scale: 2000 steps, 5 meta-steps per 10 steps. The paper (:meth:`paper`): 50000
    steps, 100 meta-steps per 10 steps, Adam with ``meta_lr = 0.01`` and ``b2 = 0.999`` (authors' code). With
    20 times fewer meta-steps per update, the book keeps the memory of Adam's second moment the same *in training
    steps*: 1 / (1 - 0.999) = 1000 meta-steps = 100 training steps in the paper, 50 meta-steps = 100 training
    steps here (``b2 = 0.98``); and it takes larger meta-steps (``meta_lr = 0.03``) to cover the same range of
    learning rates in 500 meta-steps.
    """

    steps: int = 2000
    adapt_steps: int = 1000
    steps_per_update: int = 10
    meta_steps: int = 5
    lookahead: int = LOOKAHEAD
    stochastic: bool = True
    batch_size: int = 100
    meta_lr: float = 0.03
    meta_b2: float = 0.98
    final_lr: float = FINAL_LR
    record_every: int = 100
    n_eval_examples: int = 10000

    @classmethod
    def paper(cls, **changes) -> "OnlineConfig":
        """The paper's scale (ICLR section 3.3): 25k adapted steps with 100 meta-steps per 10 steps, 25k decayed."""
        base = dict(steps=50000, adapt_steps=25000, steps_per_update=10, meta_steps=100, meta_lr=0.01,
                    meta_b2=0.999, record_every=1000, n_eval_examples=60000)
        return cls(**{**base, **changes})

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first setting outside its range."""
        for name in ("steps", "steps_per_update", "lookahead", "batch_size", "record_every", "n_eval_examples"):
            checks.check_int(name, getattr(self, name), 1)
        checks.check_int("meta_steps", self.meta_steps, 0)
        checks.check_int("adapt_steps", self.adapt_steps, 0)
        if self.adapt_steps >= self.steps:
            raise ValueError(f"adapt_steps must be in [0, steps) = [0, {self.steps}), got {self.adapt_steps}")
        if self.record_every % self.steps_per_update:
            raise ValueError(f"record_every must be a multiple of steps_per_update={self.steps_per_update}, "
                             f"got {self.record_every}")
        for name in ("adapt_steps", "steps"):
            if getattr(self, name) % self.record_every:
                raise ValueError(f"{name} must be a multiple of record_every={self.record_every}, "
                                 f"got {getattr(self, name)}")
        if self.steps - self.adapt_steps < 2:
            raise ValueError("steps - adapt_steps must be >= 2 (the decay needs a first and a last step)")
        checks.check_positive("meta_lr", self.meta_lr)
        checks.check_real("meta_b2", self.meta_b2, low=0.0, high=1.0, high_open=True, scalar=True)
        checks.check_positive("final_lr", self.final_lr)
        checks.check_bool("stochastic", self.stochastic)


# ----------------------------------------------------------------------------------------------------------------
# The hyperparameters and the lookahead meta-objective.


def online_hparams(alpha, mu, dtype=jnp.float32) -> dict:
    """Log-space hyperparameters of ``(alpha, mu)`` (ICLR section 3.3): ``{"log_alpha_eff": log(alpha / (1 - mu)),
    "log_one_minus_mu": log(1 - mu)}`` (the keys of :data:`shb_lib.mnist.hypergrad.HPARAM_NAMES`). ``alpha``
    (finite, > 0) and ``mu`` (in [0, 1)) may be arrays of the same shape (several runs); ``dtype`` float32 or
    float64."""
    checks.check_positive("alpha", alpha)
    checks.check_unit_interval("mu", mu)
    checks.check_float_dtype("dtype", dtype)
    if np.shape(alpha) != np.shape(mu) and np.ndim(mu) and np.ndim(alpha):
        raise ValueError(f"alpha and mu must have the same shape (one pair per run), got {np.shape(alpha)} and "
                         f"{np.shape(mu)}")
    alpha = np.asarray(alpha, np.float64)
    mu = np.asarray(mu, np.float64)
    return {"log_alpha_eff": jnp.asarray(np.log(alpha / (1.0 - mu)), dtype),
            "log_one_minus_mu": jnp.asarray(np.log1p(-mu), dtype)}


def lr_and_momentum(h):
    """``(alpha, mu)`` of log-space hyperparameters: ``alpha = alpha_eff (1 - mu)``, ``mu = 1 - e^{log(1 - mu)}``
    (the inverse of :func:`online_hparams`, ICLR section 3.3); arrays, also traced (``LrMomentum(*map(float, ..))``
    for one concrete pair)."""
    one_minus_mu = jnp.exp(h["log_one_minus_mu"])
    return jnp.exp(h["log_alpha_eff"]) * one_minus_mu, 1.0 - one_minus_mu


def lookahead_batches(key, n_examples: int, lookahead: int, batch_size: int, stochastic: bool):
    """Indices ``(train_idx, eval_idx)`` of one lookahead (ICLR section 3.3, Figs. 7 and 8).

    Stochastic: ``T`` fresh batches to train on and ``T`` further fresh batches to evaluate ``J`` on, both
    ``(T, B)``. Deterministic: one batch repeated ``T`` times, ``(T, B)``, and that same batch, ``(1, B)``, to
    evaluate on. Examples are drawn uniformly with replacement (:func:`shb_lib.mnist.batches.uniform_batches`).
    ``lookahead``, ``batch_size`` and ``stochastic`` are static.
    """
    if stochastic:
        idx = batches.uniform_batches(key, n_examples, (2 * lookahead, batch_size))
        return idx[:lookahead], idx[lookahead:]
    one = batches.uniform_batches(key, n_examples, (1, batch_size))
    return jnp.repeat(one, lookahead, axis=0), one


def lookahead_loss(h, w, v, images, labels, train_idx, eval_idx):
    """The meta-objective of one meta-step: ``J(h) = L(w_T(h); E)`` (ICLR section 3.1, Algorithm 1).

    ``w_T`` is reached from the current ``(w, v)`` by ``T = len(train_idx)`` steps of
    :func:`shb_lib.mnist.optimizer.sgd_step` with the constant ``(alpha, mu)`` of ``h``; ``L`` is the mean
    cross-entropy over all examples of ``eval_idx``.
    """
    alpha, mu = lr_and_momentum(h)

    def body(state, idx):
        return optimizer.sgd_step(*state, images[idx], labels[idx], alpha, mu), None

    (w_T, _), _ = jax.lax.scan(body, (w, v), train_idx)
    e = eval_idx.reshape(-1)
    return model.cross_entropy(w_T, images[e], labels[e])


def meta_gradient(h, w, v, images, labels, train_idx, eval_idx):
    """``(J(h), dJ/dh)`` by reverse mode through the lookahead scan (Eqs. 8-9 of ICLR section 3.1 give the same
    gradient in forward mode). A diverged lookahead gives ``J = +inf`` and zero gradients, never NaN."""
    value, grads = jax.value_and_grad(lookahead_loss)(h, w, v, images, labels, train_idx, eval_idx)
    ok = jnp.isfinite(value) & jnp.all(jnp.stack([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)]))
    grads = jax.tree.map(lambda g: jnp.where(ok, g, jnp.zeros_like(g)), grads)
    return jnp.where(ok, value, jnp.inf), grads


def meta_optimizer(meta_lr, b2=0.999):
    """Online SMD's meta-optimizer: Adam with learning rate ``meta_lr`` and second-moment decay ``b2``, gradients
    clipped to ``+-GRAD_CLIP`` (:func:`shb_lib.meta_optimizer.adam`, the same as offline SMD's)."""
    return mo.adam(meta_lr, b2=b2, grad_clip=mo.GRAD_CLIP)


def meta_update(h, opt_state, value, grads, meta_lr, b2=0.999):
    """MetaStep of Algorithm 1: one step of :func:`meta_optimizer` (gradients clipped to ``+-10``, Adam), values
    boxed (:data:`shb_lib.meta_optimizer.LOG_BOUNDS`). If ``value`` is not finite (the lookahead diverged) ``h``
    and the optimizer's state are returned unchanged (:func:`shb_lib.meta_optimizer.guarded_step`). Returns
    ``(h', opt_state')``."""
    return mo.guarded_step(meta_optimizer(meta_lr, b2), h, grads, opt_state, jnp.isfinite(value),
                           mo.box(mo.LOG_BOUNDS))


def online_smd_step(h, opt_state, key, w, v, images, labels, *, lookahead, batch_size, stochastic, meta_lr,
                    b2=0.999):
    """One meta-step of online SMD: new lookahead batches (:func:`lookahead_batches`), the exact meta-gradient
    (:func:`meta_gradient`) from the current ``(w, v)``, and the clipped Adam step (:func:`meta_update`).

    Returns ``(h', opt_state', J)``; ``J`` is ``+inf`` when the lookahead diverged.
    """
    train_idx, eval_idx = lookahead_batches(key, images.shape[0], lookahead, batch_size, stochastic)
    value, grads = meta_gradient(h, w, v, images, labels, train_idx, eval_idx)
    h, opt_state = meta_update(h, opt_state, value, grads, meta_lr, b2)
    return h, opt_state, value


def decayed_alpha_eff(t, alpha_eff_start, t_start, t_last, final_lr=FINAL_LR):
    """Exponential decay after adaptation stops (ICLR section 3.3):
    ``alpha_eff(t) = alpha_eff_start (final_lr / alpha_eff_start)^((t - t_start) / (t_last - t_start))``,
    so ``alpha_eff(t_start) = alpha_eff_start`` and ``alpha_eff(t_last) = final_lr`` (the last training step)."""
    return decay.geometric_decay(alpha_eff_start, final_lr, (t - t_start) / (t_last - t_start))


# ----------------------------------------------------------------------------------------------------------------
# The online run.


def _eval_loss(w, x, y):
    return finite_or_inf(model.cross_entropy(w, x, y))


def _train_steps(w, v, images, labels, idx, alpha, mu):
    """``len(idx)`` training steps with constant ``(alpha, mu)``, or per-step arrays ``alpha``/``mu``."""
    alpha = jnp.broadcast_to(alpha, idx.shape[:1])
    mu = jnp.broadcast_to(mu, idx.shape[:1])

    def body(state, inp):
        i, a, m = inp
        return optimizer.sgd_step(*state, images[i], labels[i], a, m), None

    (w, v), _ = jax.lax.scan(body, (w, v), (idx, alpha, mu))
    return w, v


@partial(jax.jit, static_argnames=("config",))
def _online_runs(h0, w0, images, labels, train_idx, eval_x, eval_y, key, *, config: OnlineConfig):
    c = config
    per_rec = c.record_every // c.steps_per_update
    n_rec1 = c.adapt_steps // c.record_every
    n_rec2 = (c.steps - c.adapt_steps) // c.record_every
    idx1 = train_idx[: c.adapt_steps].reshape(n_rec1, per_rec, c.steps_per_update, c.batch_size)
    idx2 = train_idx[c.adapt_steps:].reshape(n_rec2, c.record_every, c.batch_size)
    meta_kw = dict(lookahead=c.lookahead, batch_size=c.batch_size, stochastic=c.stochastic, meta_lr=c.meta_lr,
                   b2=c.meta_b2)

    def run(h):
        def update(carry, inp):
            w, v, h, adam = carry
            u, idx = inp

            def one_meta_step(hs, k):
                h, adam, value = online_smd_step(*hs, k, w, v, images, labels, **meta_kw)
                return (h, adam), value

            keys = jax.random.split(jax.random.fold_in(key, u), max(c.meta_steps, 1))[: c.meta_steps]
            (h, adam), values = jax.lax.scan(one_meta_step, (h, adam), keys)
            alpha, mu = lr_and_momentum(h)
            w, v = _train_steps(w, v, images, labels, idx, alpha, mu)
            last = values[-1] if c.meta_steps else jnp.zeros((), jnp.float32)
            return (w, v, h, adam), (jnp.exp(h["log_alpha_eff"]), mu, last)

        def record1(carry, inp):
            r, idx = inp
            carry, out = jax.lax.scan(update, carry, (r * per_rec + jnp.arange(per_rec), idx))
            return carry, (_eval_loss(carry[0], eval_x, eval_y), out)

        carry = (w0, optimizer.zeros_like_tree(w0), h, meta_optimizer(c.meta_lr, c.meta_b2).init(h))
        (w, v, h, _), (loss1, (a_eff, mus, metas)) = jax.lax.scan(record1, carry, (jnp.arange(n_rec1), idx1))
        alpha_eff_mid, mu = jnp.exp(h["log_alpha_eff"]), lr_and_momentum(h)[1]

        def record2(state, inp):
            r, idx = inp
            t = (c.adapt_steps + r * c.record_every + jnp.arange(c.record_every)).astype(jnp.float32)
            a = decayed_alpha_eff(t, alpha_eff_mid, c.adapt_steps, c.steps - 1, c.final_lr) * (1.0 - mu)
            state = _train_steps(*state, images, labels, idx, a, mu)
            return state, _eval_loss(state[0], eval_x, eval_y)

        (w, v), loss2 = jax.lax.scan(record2, (w, v), (jnp.arange(n_rec2), idx2))
        loss = jnp.concatenate([_eval_loss(w0, eval_x, eval_y)[None], loss1, loss2])
        return loss, a_eff.reshape(-1), mus.reshape(-1), metas.reshape(-1), (w, v)

    return jax.vmap(run)(h0)


class OnlineResult(NamedTuple):
    """Outcome of :func:`online_run` for ``n`` runs (numpy arrays; the first axis is the run).

    step (R,), train_loss (n, R): training loss on the fixed evaluation examples at steps ``0, record_every, ..``
    (``inf`` from the first non-finite value on). lr_step (U,), alpha_eff (n, U), momentum (n, U): the
    hyperparameters used for the ``steps_per_update`` training steps starting at ``lr_step``. meta_loss
    (n, adapt_steps / steps_per_update): the lookahead loss ``J`` at the last meta-step of each update (``inf``
    where the lookahead diverged; ``nan`` without meta-steps: there is no lookahead). test_error (n,): final error
    on the test set (``nan`` if the loss overflowed). diverged (n,): the loss overflowed, or a recorded loss rose
    above :data:`shb_lib.divergence.DIVERGENCE_FACTOR` times the initial one. alpha, mu (n,): the initial
    hyperparameters. config: the settings.
    state: the final ``(weights, velocity)`` of every run (pytrees of float32 arrays with a leading run axis).
    """

    step: np.ndarray
    train_loss: np.ndarray
    lr_step: np.ndarray
    alpha_eff: np.ndarray
    momentum: np.ndarray
    meta_loss: np.ndarray
    test_error: np.ndarray
    diverged: np.ndarray
    alpha: np.ndarray
    mu: np.ndarray
    config: OnlineConfig
    state: tuple

    @property
    def final_loss(self) -> np.ndarray:
        """Training loss after the last step, one per run."""
        return self.train_loss[:, -1]

    @property
    def learned_alpha_eff(self) -> np.ndarray:
        """``alpha_eff`` when adaptation stops (step ``adapt_steps``), one per run."""
        return self.alpha_eff[:, self.config.adapt_steps // self.config.steps_per_update]

    def run_state(self, i: int):
        """``(weights, velocity)`` of run ``i`` after the last step."""
        return jax.tree.map(lambda a: a[i], self.state)


def online_run(key, images, labels, test_images, test_labels, alpha, mu=optimizer.MOMENTUM,
               config: OnlineConfig = OnlineConfig(), *, init_std: float = model.INIT_STD, sizes=None) -> OnlineResult:
    """Train the 784-100-100-10 network from a random initialization while online SMD adapts ``(alpha_eff, mu)``
    (ICLR section 3.3, Figs. 7-8); one run per initial ``(alpha[i], mu[i])``, all at once under ``vmap``.

    Args:
        key: a ``jax.random`` key; it fixes the initial weights, the training batches, the lookahead batches and
            the evaluation examples, all shared by the runs.
        images, labels: the training set ``(N, D)`` and ``(N,)``; test_images, test_labels: the test set.
        alpha: initial raw learning rate(s), > 0. mu: initial momentum (scalar or one per run), in [0, 1).
        config: an :class:`OnlineConfig` (``meta_steps = 0`` gives the hand-tuned baseline).
        init_std: standard deviation of the initial weights (> 0).
        sizes: layer widths; default ``(D, 100, 100, 10)`` (the paper's network for ``D = 784``).

    Returns:
        An :class:`OnlineResult`.
    """
    if not isinstance(config, OnlineConfig):
        raise ValueError(f"config must be an OnlineConfig, got {type(config).__name__}")
    config.validate()
    checks.check_key("key", key)
    alpha = checks.positive_1d("alpha", alpha)
    checks.check_unit_interval("mu", mu)
    try:
        mu = np.broadcast_to(np.asarray(mu, np.float64), alpha.shape).copy()
    except ValueError:
        raise ValueError(f"mu must be a scalar or one value per run ({alpha.shape[0]}), got shape "
                         f"{np.shape(mu)}") from None
    optimizer.check_hyperparameters(mu=mu)
    checks.check_positive("init_std", init_std)
    checks.check_dataset(images, labels)
    images = jnp.asarray(images, jnp.float32)
    labels = jnp.asarray(labels, jnp.int32)
    n = images.shape[0]
    if config.n_eval_examples > n or config.batch_size > n:
        raise ValueError(f"n_eval_examples and batch_size must be <= the number of examples ({n})")
    if sizes is not None and (isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) < 2):
        raise ValueError(f"sizes must list at least two layer widths, got {sizes!r}")
    sizes = (images.shape[1],) + model.LAYER_SIZES[1:] if sizes is None else tuple(sizes)
    if sizes[0] != images.shape[1]:
        raise ValueError(f"sizes must start with the input width {images.shape[1]}, got {sizes!r}")
    sizes = tuple(checks.check_int(f"sizes[{i}]", w, 1) for i, w in enumerate(sizes))
    checks.check_dataset(images, labels, n_classes=sizes[-1], finite=False)
    checks.check_dataset(test_images, test_labels, width=sizes[0], n_classes=sizes[-1],
                         names=("test_images", "test_labels"))
    k_init, k_train, k_eval, k_meta = jax.random.split(key, 4)
    w0 = model.init_mlp(k_init, sizes, std=init_std, dtype=jnp.float32)
    train_idx = batches.epoch_batches(k_train, n, config.steps, config.batch_size)
    e = jax.random.permutation(k_eval, n)[: config.n_eval_examples]
    h0 = online_hparams(alpha, mu)
    loss, a_eff, mus, metas, state = _online_runs(h0, w0, images, labels, train_idx, images[e], labels[e], k_meta,
                                              config=config)
    return _result(config, alpha, mu, loss, a_eff, mus, metas, state, test_images, test_labels)


def _result(c: OnlineConfig, alpha, mu, loss, a_eff, mus, metas, state, test_images, test_labels) -> OnlineResult:
    loss, overflowed, diverged = mark_diverged_runs(loss)
    a_eff, mus = np.asarray(a_eff, np.float64), np.asarray(mus, np.float64)
    lr_step = np.arange(0, c.steps, c.steps_per_update)
    t2 = lr_step[lr_step >= c.adapt_steps].astype(np.float64)
    mid = a_eff[:, -1:] if a_eff.shape[1] else alpha[:, None] / (1 - mu[:, None])
    a2 = np.asarray(decayed_alpha_eff(t2[None, :], mid, c.adapt_steps, c.steps - 1, c.final_lr), np.float64)
    m_mid = mus[:, -1:] if mus.shape[1] else mu[:, None]
    err = np.asarray(jax.vmap(model.error_rate, in_axes=(0, None, None))(
        state[0], jnp.asarray(test_images, jnp.float32), jnp.asarray(test_labels, jnp.int32)), np.float64)
    err[overflowed] = np.nan
    metas = np.asarray(metas, np.float64)
    if c.meta_steps == 0:
        metas[:] = np.nan
    return OnlineResult(
        step=np.arange(c.steps // c.record_every + 1) * c.record_every, train_loss=loss, lr_step=lr_step,
        alpha_eff=np.concatenate([a_eff, a2], axis=1),
        momentum=np.concatenate([mus, np.broadcast_to(m_mid, a2.shape)], axis=1), meta_loss=metas,
        test_error=err, diverged=diverged, alpha=alpha, mu=mu, config=c, state=state)


# ----------------------------------------------------------------------------------------------------------------
# What the lookahead prefers, and the summary table.


@partial(jax.jit, static_argnames=("lookahead", "batch_size", "stochastic", "n_samples"))
def _surface(log_alpha_eff, log_one_minus_mu, w, v, images, labels, key, *, lookahead, batch_size, stochastic,
             n_samples):
    keys = jax.random.split(key, n_samples)

    def one(la, k):
        train_idx, eval_idx = lookahead_batches(k, images.shape[0], lookahead, batch_size, stochastic)
        h = {"log_alpha_eff": la, "log_one_minus_mu": log_one_minus_mu}
        return finite_or_inf(lookahead_loss(h, w, v, images, labels, train_idx, eval_idx))

    return jax.vmap(lambda la: jax.vmap(lambda k: one(la, k))(keys))(log_alpha_eff)


def lookahead_surface(key, state, images, labels, alpha_eff, mu=optimizer.MOMENTUM, *, lookahead: int = LOOKAHEAD,
                      batch_size: int = 100, stochastic: bool = True, n_samples: int = 64):
    """The meta-objective that online SMD descends, ``E[J(alpha_eff)]`` at a fixed training state (ICLR section 3.3).

    For every ``alpha_eff[i]`` (momentum ``mu`` fixed) it averages :func:`lookahead_loss` from ``state = (w, v)``
    over ``n_samples`` lookaheads drawn by :func:`lookahead_batches` (the same draws for every ``alpha_eff``).
    Returns a dict of numpy arrays: ``alpha_eff`` (A,), ``mean`` (A,) (``inf`` if any sample diverged) and
    ``best`` (A,), the fraction of samples whose own minimum over the grid is at ``alpha_eff[i]``.
    """
    for name, value in (("lookahead", lookahead), ("batch_size", batch_size), ("n_samples", n_samples)):
        checks.check_int(name, value, 1)
    checks.check_key("key", key)
    checks.check_bool("stochastic", stochastic)
    alpha_eff = checks.positive_1d("alpha_eff", alpha_eff)
    checks.check_real("mu", mu, low=0.0, high=1.0, high_open=True, scalar=True)
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise ValueError(f"state must be a pair (weights, velocity), got {type(state).__name__}")
    w, v = state
    width, n_classes, dtype = checks.check_mlp_params("state[0] (the weights)", w)
    if jax.tree.structure(v) != jax.tree.structure(w) or any(
            jnp.shape(a) != jnp.shape(b) for a, b in zip(jax.tree.leaves(v), jax.tree.leaves(w))):
        raise ValueError("state[1] (the velocity) must have the structure and shapes of the weights")
    checks.check_same_dtype("state[1] (the velocity)", v, dtype, "the weights")
    checks.check_dataset(images, labels, width=width, n_classes=n_classes)
    losses = np.asarray(_surface(jnp.asarray(np.log(alpha_eff), dtype), jnp.asarray(math.log1p(-mu), dtype), w, v,
                                 jnp.asarray(images, dtype), jnp.asarray(labels, jnp.int32), key,
                                 lookahead=int(lookahead), batch_size=int(batch_size), stochastic=bool(stochastic),
                                 n_samples=int(n_samples)), np.float64)
    best = np.bincount(np.argmin(losses, axis=0), minlength=alpha_eff.size) / losses.shape[1]
    return {"alpha_eff": alpha_eff, "mean": losses.mean(axis=1), "best": best}


#: The chapter's starting points: raw learning rates with mu = 0.9 (alpha_eff = alpha / 0.1) for each lookahead.
CHAPTER_STARTS = {"stochastic": (1e-3, 1e-2, 5e-2, 1e-1), "deterministic": (1e-3, 1e-2, 1e-1)}
#: The grid of alpha_eff on which chapter 5 draws the lookahead objective, and its samples per kind.
SURFACE_GRID = tuple(10 ** (k / 3) for k in range(-9, 4))
SURFACE_SAMPLES = 32


def chapter_runs(key, images, labels, test_images, test_labels, config: OnlineConfig = OnlineConfig()) -> dict:
    """Chapter 5's experiments for one key, as plain arrays: the hand-tuned baseline (no meta-steps), online SMD
    with a stochastic and with a deterministic lookahead from :data:`CHAPTER_STARTS`, and the two lookahead
    objectives (:func:`lookahead_surface` on :data:`SURFACE_GRID`) at the baseline's final state.

    Args:
        key: a ``jax.random`` key (``PRNGKey(seed)``); it fixes the initialization and every batch of every run
            (the surfaces use ``fold_in(key, 1)``).
        images, labels, test_images, test_labels: as :func:`online_run`.
        config: the book-scale :class:`OnlineConfig` by default.

    Returns:
        ``{"<group>_<field>": (runs,) array}`` for group in ``baseline``, ``stochastic``, ``deterministic`` and
        field in ``start_alpha_eff``, ``learned_alpha_eff``, ``learned_mu``, ``final_loss``, ``test_error``,
        ``diverged``; plus ``surface_alpha_eff`` (A,), ``surface_stochastic`` and ``surface_deterministic`` (A,),
        the mean lookahead loss on the grid.
    """
    args = (key, images, labels, test_images, test_labels)
    runs = {"baseline": online_run(*args, *HAND_TUNED, config._replace(meta_steps=0)),
            "stochastic": online_run(*args, list(CHAPTER_STARTS["stochastic"]), HAND_TUNED.mu, config),
            "deterministic": online_run(*args, list(CHAPTER_STARTS["deterministic"]), HAND_TUNED.mu,
                                        config._replace(stochastic=False))}
    surfaces = chapter_surfaces(key, runs["baseline"], images, labels)
    return chapter_arrays(runs, surfaces)


def chapter_surfaces(key, baseline: OnlineResult, images, labels) -> dict:
    """The two lookahead objectives of chapter 5 (:func:`lookahead_surface` on :data:`SURFACE_GRID` with
    :data:`SURFACE_SAMPLES` draws, key ``fold_in(key, 1)``) at the final state of the baseline run:
    ``{"stochastic": surface, "deterministic": surface}``."""
    return {kind: lookahead_surface(jax.random.fold_in(key, 1), baseline.run_state(0), images, labels,
                                    SURFACE_GRID, HAND_TUNED.mu, stochastic=kind == "stochastic",
                                    n_samples=SURFACE_SAMPLES)
            for kind in ("stochastic", "deterministic")}


def chapter_arrays(runs: dict, surfaces: dict) -> dict:
    """The arrays of :func:`chapter_runs` from its :class:`OnlineResult` per group (``runs``) and the two
    surfaces of :func:`chapter_surfaces`: what a result file holds and :mod:`shb_lib.mnist.findings` reads."""
    out = {}
    for group, r in runs.items():
        at_stop = r.config.adapt_steps // r.config.steps_per_update
        fields = {"start_alpha_eff": r.alpha / (1 - r.mu), "learned_alpha_eff": r.learned_alpha_eff,
                  "learned_mu": r.momentum[:, at_stop], "final_loss": r.final_loss, "test_error": r.test_error,
                  "diverged": r.diverged}
        out.update({f"{group}_{name}": value for name, value in fields.items()})
    out["surface_alpha_eff"] = np.asarray(SURFACE_GRID)
    for kind, s in surfaces.items():
        out[f"surface_{kind}"] = s["mean"]
    return {k: np.asarray(v) for k, v in out.items()}


def summary_table(results: dict, digits: int = 3) -> str:
    """A plain-text table (:meth:`shb_lib.plotting.tables.MarkdownTable.text`), one row per run of every
    :class:`OnlineResult` in ``results`` (``{name: result}``): initial and learned ``alpha_eff`` and ``mu`` (at step
    ``adapt_steps``), final training loss and test error, rounded to ``digits`` significant digits
    (:func:`shb_lib.plotting.tables.number`)."""
    from ..plotting.tables import MarkdownTable, number

    head = ("run", "alpha_eff 0", "learned alpha_eff", "learned mu", "final loss", "test error", "diverged")
    rows = []
    for name, r in results.items():
        k = r.config.adapt_steps // r.config.steps_per_update
        for i in range(len(r.alpha)):
            values = (r.alpha[i] / (1 - r.mu[i]), r.alpha_eff[i, k], r.momentum[i, k], r.final_loss[i],
                      r.test_error[i])
            rows.append((name, *(number(x, digits) for x in values), "yes" if r.diverged[i] else "no"))
    return MarkdownTable(head, rows).text()
