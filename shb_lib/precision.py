"""The one precision switch of the package: the noisy quadratic needs JAX's 64-bit mode, and says so.

Importing :mod:`shb_lib` changes nothing in JAX's configuration. The noisy quadratic (:mod:`shb_lib.nqm`, and the
estimators' exact references built on it) is computed exactly in ``float64``, which JAX only gives with
``jax_enable_x64`` on; that switch is process-wide (it changes the default dtype of every later ``jnp`` call), so
the caller turns it on, once, at the top of a program or chapter::

    from shb_lib.precision import use_float64
    use_float64()

A noisy-quadratic problem built without it refuses (:class:`Float64Required`) rather than silently computing in
``float32``. The network code creates its arrays with an explicit ``float32`` dtype, so it computes the same with
the switch on or off. The chapters, the command lines (``python -m shb_lib.mnist.experiments``,
``python -m shb_lib.mnist.remedies``) and the benchmarks call :func:`use_float64` before their first array.
"""

from __future__ import annotations

import jax

__all__ = ["Float64Required", "use_float64", "float64_enabled", "require_float64"]


class Float64Required(RuntimeError):
    """A float64 computation was asked for while JAX's 64-bit mode is off (call :func:`use_float64` first)."""


def use_float64() -> None:
    """Turn on JAX's 64-bit mode (``jax_enable_x64``) for the whole process; returns ``None``.

    Call it before the first JAX array is created: arrays made earlier keep their 32-bit dtype.
    """
    jax.config.update("jax_enable_x64", True)


def float64_enabled() -> bool:
    """Whether JAX's 64-bit mode is on (``jax.config.jax_enable_x64``)."""
    return bool(jax.config.jax_enable_x64)


def require_float64(what: str) -> None:
    """Raise :class:`Float64Required` naming ``what`` unless JAX's 64-bit mode is on."""
    if not float64_enabled():
        raise Float64Required(f"{what} is computed in float64, but JAX's 64-bit mode is off; call "
                              f"shb_lib.precision.use_float64() once at the top of the program (DESIGN.md)")
