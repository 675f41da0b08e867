"""The meta-objective surface between random-search samples: the authors' interpolation and the optimum it gives.

The ICLR paper draws its surfaces (Fig. 5) "using Gaussian interpolation" of the random-search samples. The
authors' code (``offline.py``: ``prepare_surface``, ``plot_surface``) makes that concrete, and this module follows it:

- a ``G x G`` grid (``G = 50``) spanning the samples' range of ``log10 alpha_0`` and ``log10 beta``;
- kernel weights with the bandwidth of one grid cell's diagonal,
  ``sigma^2 = (range(log10 alpha_0) / G)^2 + (range(log10 beta) / G)^2``; as written in the code, each axis'
  half squared distance is squared again before the exponential,
  ``w_s(a, b) = exp(-[(a - a_s)^2 / (2 sigma^2)]^2 - [(b - b_s)^2 / (2 sigma^2)]^2)``, so the kernel is flatter near a
  sample and falls faster than a Gaussian;
- the interpolated value ``V(a, b) = sum_s w_s log10 J_s / sum_s w_s`` (a Nadaraya-Watson average of ``log10 J``);
- the surface's optimum: the geometric mean, in ``(alpha_0, beta)``, of the ``top = 50`` grid cells of lowest ``V``.

Averaging over many cells around the best samples makes the optimum much less sensitive to one lucky sample than the
best sample (or the best few) is. Diverged samples (``J = inf``) are left out of the average, as the code drops NaN.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: The authors' grid size and number of cells averaged for the optimum.
GRID = 50
TOP = 50


class InterpolatedSurface(NamedTuple):
    """``value[i, j]`` = interpolated ``log10 J`` at ``log10_alpha_0[i]``, ``log10_beta[j]``."""

    log10_alpha_0: np.ndarray  # (G,)
    log10_beta: np.ndarray  # (G,)
    value: np.ndarray  # (G, G)


def interpolate(surface: dict, grid: int = GRID) -> InterpolatedSurface:
    """The authors' kernel interpolation of a random-search surface (module docstring).

    Args:
        surface: ``{"alpha_0": (n,), "beta": (n,), "loss": (n,)}`` as :func:`shb_lib.meta.random_search` returns
            it; ``loss`` may hold ``inf`` for diverged samples (left out).
        grid: the grid's size ``G`` along each axis (>= 2).

    Returns:
        :class:`InterpolatedSurface` with a ``(G, G)`` value of ``log10 J``. Where every kernel weight underflows
        (a cell far from all samples) the nearest sample's value is used.
    """
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid < 2:
        raise ValueError(f"grid must be an integer >= 2, got {grid!r}")
    a = np.log10(np.asarray(surface["alpha_0"], np.float64))
    b = np.log10(np.asarray(surface["beta"], np.float64))
    loss = np.asarray(surface["loss"], np.float64)
    ok = np.isfinite(loss) & (loss > 0)
    if ok.sum() < 1:
        raise ValueError("surface has no finite, positive loss: every sample diverged")
    a, b, v = a[ok], b[ok], np.log10(loss[ok])
    ga = np.linspace(a.min(), a.max(), grid)
    gb = np.linspace(b.min(), b.max(), grid)
    sigma2 = ((a.max() - a.min()) / grid) ** 2 + ((b.max() - b.min()) / grid) ** 2
    da = (0.5 * (ga[None, :] - a[:, None]) ** 2 / sigma2) ** 2  # (n, G)
    db = (0.5 * (gb[None, :] - b[:, None]) ** 2 / sigma2) ** 2
    logw = -(da[:, :, None] + db[:, None, :])  # (n, G, G)
    # Normalizing with the largest log-weight first gives the code's ratio wherever it is defined and the nearest
    # sample (in this kernel's distance) where all its weights underflow to 0.
    w = np.exp(logw - logw.max(axis=0, keepdims=True))
    value = (w * v[:, None, None]).sum(axis=0) / w.sum(axis=0)
    return InterpolatedSurface(ga, gb, value)


def optimum(surface: dict, top: int = TOP, grid: int = GRID) -> tuple[float, float]:
    """``(alpha_0, beta)``: the geometric mean of the ``top`` grid cells of lowest interpolated loss (the authors'
    ``plot_surface``)."""
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or not 1 <= top <= grid * grid:
        raise ValueError(f"top must be an integer in [1, grid**2 = {grid * grid}], got {top!r}")
    s = interpolate(surface, grid)
    flat = np.argsort(s.value, axis=None, kind="stable")[:top]
    i, j = np.unravel_index(flat, s.value.shape)
    return float(10 ** s.log10_alpha_0[i].mean()), float(10 ** s.log10_beta[j].mean())


__all__ = ["GRID", "TOP", "InterpolatedSurface", "interpolate", "optimum"]
