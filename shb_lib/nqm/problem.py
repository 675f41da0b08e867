"""The noisy quadratic problem (ICLR section 2.2.2, short version section 2) and its validation.

A problem is a diagonal quadratic with per-coordinate curvature ``h``, a noisy centre ``c ~ N(0, sigma2)`` redrawn
every step, and a Gaussian initial parameter ``theta_0 ~ N(theta0_mean, theta0_var)`` with zero initial velocity.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import checks
from ..precision import require_float64

__all__ = ["chebyshev_spectrum", "NoisyQuadratic", "paper_problem", "PAPER_T", "BAND"]

#: Horizon of the paper's experiment (ICLR section 2.3; short version section 2, "Experiments").
PAPER_T = 250
#: Number of highest / lowest curvature directions whose losses the paper plots separately.
BAND = 50


def _is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def chebyshev_spectrum(n: int, lo: float, hi: float) -> jax.Array:
    """Curvatures at the zeros of the degree-``n`` Chebyshev polynomial, mapped affinely to ``[lo, hi]``, ascending.

    $$h_k = \\tfrac{lo + hi}{2} + \\tfrac{hi - lo}{2}\\cos\\frac{(2k+1)\\pi}{2n},\\quad k = 0, \\dots, n-1.$$

    On this spectrum conjugate gradient converges as slowly as its Chebyshev bound allows (Li 2005, cited by the
    paper, ICLR section 2.3). The points cluster at both ends of the interval.
    """
    require_float64("chebyshev_spectrum")
    n = checks.check_int("n", n, 1)
    checks.check_real("lo", lo, scalar=True)
    checks.check_real("hi", hi, scalar=True)
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise ValueError(f"need finite 0 < lo <= hi (curvatures must be positive), got lo={lo}, hi={hi}")
    k = np.arange(n)
    x = np.cos((2 * k + 1) * np.pi / (2 * n))  # descending in k
    return jnp.asarray(np.sort(0.5 * (lo + hi) + 0.5 * (hi - lo) * x), dtype=jnp.float64)


@jax.tree_util.register_pytree_node_class
@dataclasses.dataclass(frozen=True)
class NoisyQuadratic:
    """A noisy quadratic problem (ICLR eq. 3): stochastic loss $\\hat{\\mathcal L}(\\theta) = \\tfrac12\\sum_i h_i(\\theta_i - c_i)^2$.

    Fields (all float64 arrays of shape ``(n,)``; scalars are broadcast to the shape of ``h``):

    - ``h``: curvature of each coordinate, ``h > 0``;
    - ``sigma2``: variance of the sampled centre ``c_i ~ N(0, sigma2_i)``, ``sigma2 >= 0``;
    - ``theta0_mean``, ``theta0_var``: mean and variance (``>= 0``) of the initial parameters; ``v_0 = 0``.

    The optimum is at 0 (WLOG, ICLR section 2.2.2). Building one needs JAX's 64-bit mode
    (:func:`shb_lib.precision.use_float64`); without it the constructor raises
    :class:`shb_lib.precision.Float64Required` instead of computing in float32. The object is a JAX pytree, so it can
    be passed to, and vmapped over inside, jitted functions; validation runs only on concrete (untraced) values.
    """

    h: jax.Array
    sigma2: jax.Array
    theta0_mean: jax.Array
    theta0_var: jax.Array

    def __post_init__(self):
        values = (self.h, self.sigma2, self.theta0_mean, self.theta0_var)
        if any(_is_traced(v) for v in values):
            return  # built inside a transformation: validated where it entered
        require_float64("NoisyQuadratic")
        checks.check_array("h", self.h)
        h = np.asarray(self.h, dtype=np.float64)
        if h.ndim != 1 or h.size == 0:
            raise ValueError(f"h must be a non-empty 1-D array of curvatures, got shape {h.shape}")
        bad = ~(np.isfinite(h) & (h > 0))
        if np.any(bad):
            raise ValueError(f"h must be > 0 and finite in every coordinate (allowed range: 0 < h < inf); "
                             f"got h[{int(np.argmax(bad))}] = {h[bad][0]!r}")
        fields = {"h": h}
        for name, lower in (("sigma2", 0.0), ("theta0_mean", None), ("theta0_var", 0.0)):
            checks.check_array(name, getattr(self, name))
            x = np.asarray(getattr(self, name), dtype=np.float64)
            if x.ndim == 0:
                x = np.full(h.shape, float(x))
            if x.shape != h.shape:
                raise ValueError(f"{name} must be a scalar or have the shape of h {h.shape}, got shape {x.shape}")
            if not np.all(np.isfinite(x)):
                raise ValueError(f"{name} must be finite in every coordinate")
            if lower is not None and not np.all(x >= lower):
                raise ValueError(f"{name} must be >= 0 in every coordinate (allowed range: 0 <= {name} < inf); "
                                 f"got min {name} = {x.min():g}")
            fields[name] = x
        for name, x in fields.items():
            object.__setattr__(self, name, jnp.asarray(x, dtype=jnp.float64))

    # -- pytree protocol: rebuilding from leaves (inside jit/vmap) skips validation ---------------------------------
    def tree_flatten(self):
        return (self.h, self.sigma2, self.theta0_mean, self.theta0_var), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        obj = object.__new__(cls)
        for name, value in zip(("h", "sigma2", "theta0_mean", "theta0_var"), children):
            object.__setattr__(obj, name, value)
        return obj

    @property
    def n(self) -> int:
        """Number of coordinates."""
        return self.h.shape[-1]

    def with_noise_scale(self, scale: float) -> "NoisyQuadratic":
        """The same problem with the noise variance multiplied by ``scale >= 0`` (0 gives the deterministic problem)."""
        if not _is_traced(scale):
            checks.check_real("scale", scale, low=0.0, scalar=True)
        return dataclasses.replace(self, sigma2=self.sigma2 * scale)

    def __repr__(self) -> str:  # short: the arrays are long
        if any(_is_traced(v) for v in (self.h, self.sigma2)):
            return "NoisyQuadratic(<traced>)"
        h = np.asarray(self.h)
        return (f"NoisyQuadratic(n={h.size}, h in [{h.min():.4g}, {h.max():.4g}], "
                f"sum sigma2 = {float(np.sum(self.sigma2)):.4g})")


def paper_problem(noise: bool = True) -> NoisyQuadratic:
    """The problem of ICLR section 2.3 (short version section 2): ``n = 1000`` curvatures on
    :func:`chebyshev_spectrum` ``(1000, 0.05, 10)``, noise ``sigma2 = 1/h`` (``h_i = V[dL/dtheta_i]``, the Fisher
    assumption; ``0`` with ``noise=False``), ``theta_0 = sqrt(10)`` exactly (``theta0_var = 0``)."""
    checks.check_bool("noise", noise)
    h = chebyshev_spectrum(1000, 0.05, 10.0)
    sigma2 = 1.0 / h if noise else jnp.zeros_like(h)
    return NoisyQuadratic(h=h, sigma2=sigma2, theta0_mean=math.sqrt(10.0), theta0_var=0.0)
