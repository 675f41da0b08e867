"""The one meta-optimizer of the package: Adam (Kingma & Ba 2015) from ``optax``, with element-wise gradient
clipping, a box projection of the values and a divergence guard.

Every meta-optimization of the book takes its steps here: offline SMD (:mod:`shb_lib.mnist.offline`, ICLR
Algorithm 1), online SMD (:mod:`shb_lib.mnist.online`, ICLR section 3.3), the estimators' meta-optimization
(:func:`shb_lib.estimators.meta_optimize`) and the noisy-quadratic schedule fits (:mod:`shb_lib.nqm.schedules`,
ICLR section 2.3). One step is::

    g <- clip(g, -c, c)                                   (optional; c = GRAD_CLIP = 10 in the authors' code)
    m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,   n <- n + 1
    x <- P(x - lr (m / (1 - b1^n)) / (sqrt(v / (1 - b2^n)) + eps))

with ``P`` the projection onto the box of allowed values (:func:`box`, value clipping in the authors' code). The
SMD hyperparameters live in log space (``log alpha_eff``, ``log beta``, ``log(1 - mu)``), so their box is one of
logarithms (:data:`LOG_BOUNDS`).

**Divergence guard.** :func:`guarded_step` keeps the values *and* the optimizer's state where ``ok`` is false (a
lookahead whose meta-objective is not finite, ICLR Algorithm 1 as the book runs it); a caller that instead wants the
moments to decay on a skipped step passes a zero gradient to :func:`step` and keeps its old values itself.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax

from . import checks

__all__ = ["GRAD_CLIP", "ALPHA_EFF_RANGE", "BETA_RANGE", "MU_RANGE", "LOG_BOUNDS", "adam", "box", "step",
           "guarded_step", "adam_moments", "with_adam_moments"]

#: Element-wise clipping of the meta-gradients in log space (authors' code).
GRAD_CLIP = 10.0
#: Value ranges of the SMD hyperparameters (authors' code): ``alpha_eff``, ``beta`` and ``mu``.
ALPHA_EFF_RANGE = (1e-4, 10.0)
BETA_RANGE = (1e-4, 1e3)
MU_RANGE = (0.0, 0.999)
#: The same box in the log space of meta-optimization, per hyperparameter name (``log(1 - mu)`` in
#: ``[log(1 - 0.999), 0]``).
LOG_BOUNDS = {"log_alpha_eff": tuple(map(math.log, ALPHA_EFF_RANGE)),
              "log_beta": tuple(map(math.log, BETA_RANGE)),
              "log_one_minus_mu": (math.log(1 - MU_RANGE[1]), 0.0)}


def adam(meta_lr, *, b2: float = 0.999, grad_clip: float | None = None) -> optax.GradientTransformation:
    """Adam with learning rate ``meta_lr`` (``b1 = 0.9``, second-moment decay ``b2``, ``eps = 1e-8``), after an
    element-wise clip of the gradient to ``[-grad_clip, grad_clip]`` when ``grad_clip`` is given:
    ``optax.chain(optax.clip(grad_clip), optax.adam(meta_lr, b2=b2))``.

    ``meta_lr`` may be traced (a factory called inside ``jit``); concrete values are checked: ``meta_lr`` finite and
    ``> 0``, ``b2`` in ``[0, 1)``, ``grad_clip`` finite and ``> 0``. Raises ``ValueError`` naming a bad argument.
    """
    checks.check_positive("meta_lr", meta_lr)
    checks.check_real("b2", b2, low=0.0, high=1.0, high_open=True)
    base = optax.adam(meta_lr, b2=b2)
    if grad_clip is None:
        return base
    checks.check_positive("grad_clip", grad_clip)
    return optax.chain(optax.clip(grad_clip), base)


def box(bounds):
    """The projection ``P`` onto a box: ``bounds`` maps each key of a dict of values to ``(low, high)`` (keys
    absent from ``bounds`` are not clipped), or is one ``(low, high)`` pair of arrays broadcast against an array of
    values. Returns ``P(values)``, the value clipping of the authors' code."""
    if isinstance(bounds, dict):
        return lambda x: {k: jnp.clip(v, *bounds[k]) if k in bounds else v for k, v in x.items()}
    low, high = bounds
    return lambda x: jnp.clip(x, low, high)


def step(optimizer: optax.GradientTransformation, params, grads, state, project=None):
    """One meta-step: ``optimizer``'s update of ``params`` by ``grads``, then ``project`` (optional). Returns
    ``(params', state')``."""
    updates, state = optimizer.update(grads, state, params)
    params = optax.apply_updates(params, updates)
    return (params if project is None else project(params)), state


def guarded_step(optimizer: optax.GradientTransformation, params, grads, state, ok, project=None):
    """:func:`step` where ``ok`` (a traced bool) holds; where it does not (the meta-objective diverged) the
    values and the optimizer's state are returned unchanged. Returns ``(params', state')``."""
    new, new_state = step(optimizer, params, grads, state, project)
    keep = lambda a, b: jax.tree.map(lambda x, y: jnp.where(ok, x, y), a, b)  # noqa: E731
    return keep(new, params), keep(new_state, state)


def _adam_state(state):
    """The ``optax.ScaleByAdamState`` inside a state of :func:`adam` (with or without the clip)."""
    for s in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, optax.ScaleByAdamState)):
        if isinstance(s, optax.ScaleByAdamState):
            return s
    raise ValueError("state must be the state of meta_optimizer.adam (it holds no Adam moments)")


def adam_moments(state):
    """``(m, v, count)``: Adam's first and second moments and its step count in ``state`` (for checkpoints)."""
    s = _adam_state(state)
    return s.mu, s.nu, s.count


def with_adam_moments(state, m, v, count):
    """``state`` (of :func:`adam`) with Adam's moments and count replaced (restoring a checkpoint)."""
    new = _adam_state(state)._replace(mu=m, nu=v, count=jnp.asarray(count, jnp.int32))
    return jax.tree.map(lambda s: new if isinstance(s, optax.ScaleByAdamState) else s, state,
                        is_leaf=lambda x: isinstance(x, optax.ScaleByAdamState))
