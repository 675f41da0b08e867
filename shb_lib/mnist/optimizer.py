"""The base optimizer: SGD with momentum and an inverse-time-decay learning-rate schedule.

**Schedule** (ICLR version, section 3.2, after Welling & Teh 2011; :func:`shb_lib.decay.inverse_time_decay`)::

    alpha_t = alpha_0 / (1 + t / time_const) ** beta,        time_const = 5000 in the paper.

**Momentum convention.** We use the authors' code (``optimizers.py``), which is also ``optax.sgd``::

    v_{t+1} = mu v_t + g_t,        w_{t+1} = w_t - alpha_t v_{t+1}.

The paper's section 2 writes ``v <- mu v - alpha g, theta <- theta + v``; the two are the same for a constant
``alpha`` (rescale ``v`` by ``alpha``) but differ once ``alpha_t`` decays: here a decay takes effect at once on the
whole velocity. With this convention the step length in a flat direction settles at ``alpha / (1 - mu)``, the
*effective learning rate* ``alpha_eff`` in which the paper draws its surfaces (ICLR Fig. 5).

Every function is pure, works on parameter pytrees and keeps the dtype of the parameters.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import checks, decay
from . import model

#: Time constant of the inverse-time decay (ICLR section 3.2).
TIME_CONST = 5000.0
#: Momentum of all MNIST experiments (ICLR section 3.2).
MOMENTUM = 0.9


def check_hyperparameters(alpha_0=None, beta=None, mu=None, time_const=None) -> None:
    """Raise ``ValueError`` naming the first hyperparameter outside its range (``None`` = not checked).

    Every value must be a finite number: ``0 < alpha_0 < inf``, ``0 <= beta < inf``, ``0 <= mu < 1``,
    ``0 < time_const < inf`` (arrays are checked element-wise, outside ``jit``; bools and strings are refused).
    """
    if alpha_0 is not None:
        checks.check_positive("alpha_0", alpha_0)
    if beta is not None:
        checks.check_nonnegative("beta", beta)
    if mu is not None:
        checks.check_unit_interval("mu", mu)
    if time_const is not None:
        checks.check_positive("time_const", time_const)


def effective_learning_rate(alpha, mu):
    """``alpha_eff = alpha / (1 - mu)``: the steady step length of momentum SGD along a constant gradient."""
    return alpha / (1.0 - mu)


def momentum_update(w, v, g, lr, mu):
    """One step of SGD with momentum (authors' code / ``optax.sgd``): ``v' = mu v + g``, ``w' = w - lr v'``.

    ``w``, ``v``, ``g`` are pytrees of the same structure; ``lr`` and ``mu`` scalars. Returns ``(w', v')``.
    """
    v_new = jax.tree.map(lambda vi, gi: mu * vi + gi, v, g)
    w_new = jax.tree.map(lambda wi, vi: wi - lr * vi, w, v_new)
    return w_new, v_new


def sgd_step(w, v, x, y, lr, mu):
    """One training step of the MLP on the batch ``(x, y)``: ``g = grad L(w; x, y)``
    (:func:`shb_lib.mnist.model.cross_entropy`), then :func:`momentum_update`. Returns ``(w', v')``. Every MNIST
    training loop of the package takes this step."""
    return momentum_update(w, v, jax.grad(model.cross_entropy)(w, x, y), lr, mu)


def zeros_like_tree(tree):
    """A pytree of zeros with the structure and dtypes of ``tree`` (the initial velocity)."""
    return jax.tree.map(jnp.zeros_like, tree)


def optax_reference(alpha_0, beta, mu=MOMENTUM, time_const=TIME_CONST):
    """The same optimizer as an ``optax`` chain (needs optax; used only to check :func:`momentum_update`).

    ``optax.sgd(schedule, momentum=mu)`` = ``trace(decay=mu)`` then ``scale_by_learning_rate(schedule)``, whose
    step counter starts at 0 like ours.
    """
    import optax

    check_hyperparameters(alpha_0=alpha_0, beta=beta, mu=mu, time_const=time_const)
    return optax.sgd(lambda t: decay.inverse_time_decay(t, alpha_0, beta, time_const), momentum=mu)
