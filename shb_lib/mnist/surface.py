"""The meta-objective surface of offline SMD (ICLR Fig. 5): random-search samples and the authors' interpolation.

**Random search.** :func:`random_search` evaluates the meta-objective (:func:`shb_lib.mnist.hypergrad.meta_objective`)
at log-uniform samples of ``(alpha_0, beta)``, one fixed batch sequence shared by all samples, many samples at once
with ``vmap`` (sharded over devices when several); a diverged sample has ``loss = inf`` and ``diverged = True``.
:func:`best_of_surface` skips diverged samples and raises :class:`shb_lib.checks.DivergedError` if every one
diverged.

**Interpolation.** 
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

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import checks
from . import hypergrad as hg

#: The authors' grid size and number of cells averaged for the optimum.
GRID = 50
TOP = 50


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
    checks.check_int("n_samples", n_samples, 1)
    checks.check_int("chunk", chunk, 1)
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
    checks.check_int("top", top, 1)
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


class InterpolatedSurface(NamedTuple):
    """``value[i, j]`` = interpolated ``log10 J`` at ``log10_alpha_0[i]``, ``log10_beta[j]``."""

    log10_alpha_0: np.ndarray  # (G,)
    log10_beta: np.ndarray  # (G,)
    value: np.ndarray  # (G, G)


def interpolate(surface: dict, grid: int = GRID) -> InterpolatedSurface:
    """The authors' kernel interpolation of a random-search surface (module docstring).

    Args:
        surface: ``{"alpha_0": (n,), "beta": (n,), "loss": (n,)}`` as :func:`random_search` returns
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
