"""The MNIST experiments at two scales, one code path, resumable on disk.

``book`` runs inside chapter 4 on 2 CPU cores in a few minutes: time is compressed (time constant ``K = 500``, not 5000,
shorter horizons and final run), with fewer surface samples, meta-steps and evaluation batches. ``paper`` is the
paper's setting (ICLR section 3.2, the authors' ``offline.py``): ``K = 5000``, horizons 100/1k/5k/20k, 2500 surface
samples, 5000 meta-steps, the meta-objective on 600 batches, 20k-step final runs.

Command line (tqdm progress bars; each unit of work written as ``<name>-<confighash>.npz`` + ``.json`` with its
configuration, seed, package versions, hardware, wall time (summed over the processes that contributed) and scale,
atomically (:mod:`shb_lib.results_io`); a long run's JSON also says how each horizon's schedule was chosen and from
which unit files. A rerun skips finished units, an interrupted SMD run continues from its last checkpoint, and a
truncated or corrupt unit or checkpoint is named, set aside (``.corrupt``) and recomputed. Every flag and ``--out``
are checked before any work; a divergence or Ctrl-C ends it with a one-line message)::

    python -m shb_lib.mnist.experiments mnist --scale paper --out results/ [--horizons 100 1000] \
        [--units surface smd long sweep] [--samples N [N ...]] [--meta-steps M [M ...]] [--chunk C]

In Python (what the chapter does): :func:`run_mnist` computes (or loads from ``out``) everything for a scale and
returns a dict; :func:`load_results` reads whatever units a folder holds.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import pathlib
import platform
import re
import sys
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from .. import checks, results_io
from .. import meta_optimizer as mo
from ..precision import use_float64
from . import hypergrad as hg
from . import offline, optimizer, surface, training

#: Settings of each scale. ``horizons`` increasing; ``n_samples``/``meta_steps`` per horizon (same order).
SCALES = {
    "book": dict(
        K=500.0, horizons=(50, 200, 1000), n_samples=(96, 64, 40), surface_eval_batches=20,
        meta_steps=(40, 20, 5), smd_eval_batches=10, meta_lr=0.15, init_betas=(0.1, 10.0), init_alpha_0=0.01,
        final_steps=4000, record_every=250, long_eval_batches=20,
        sweep_batch_sizes=(30, 100, 300), sweep_betas=(0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0), sweep_alpha_0=0.1,
        choose="surface", top=3,
    ),
    "paper": dict(
        K=5000.0, horizons=(100, 1000, 5000, 20000), n_samples=(2500, 2500, 2500, 2500), surface_eval_batches=600,
        meta_steps=(5000, 5000, 5000, 5000), smd_eval_batches=600, meta_lr=0.01, init_betas=(0.1, 10.0),
        init_alpha_0=0.01, final_steps=20000, record_every=200, long_eval_batches=100,
        sweep_batch_sizes=(10, 100, 1000), sweep_betas=(0.01, 0.1, 1.0, 10.0, 100.0), sweep_alpha_0=0.1,
        choose="smd", top=3,
    ),
}
COMMON = dict(batch_size=100, mu=optimizer.MOMENTUM, pretrain_steps=50, pretrain_alpha=0.1, seed=0,
              alpha_0_range=(1e-3, 0.5), beta_range=(1e-2, 200.0), surface_chunk=64, meta_mu=False)
#: ``meta_mu``: SMD meta-optimizes the momentum too (as ``log(1 - mu)``, from ``mu``), the short version's setting
#: (its section 3: "we optimize beta together with alpha and mu"); off, ``mu`` stays fixed (ICLR section 3.2). A unit
#: records it only when on, so the hashes (file names) of the units that keep ``mu`` fixed are those they always had.


def config(scale: str, **overrides) -> dict:
    """The settings of ``scale`` (``book`` or ``paper``) with ``overrides`` applied."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, got {scale!r}")
    cfg = dict(COMMON, scale=scale, **SCALES[scale])
    unknown = set(overrides) - set(cfg)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}")
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    _check_config(cfg)
    cfg["horizons"] = tuple(sorted(set(int(h) for h in cfg["horizons"])))  # increasing: the long run's row order
    return cfg


def _check_sequence(name, values, check):
    """``check(f"{name}[i]", v)`` for every element of a non-empty tuple or list ``values``."""
    if not isinstance(values, (tuple, list)) or not values:
        raise ValueError(f"{name} must be a non-empty tuple of values, got {values!r}")
    for i, v in enumerate(values):
        check(f"{name}[{i}]", v)


def _check_per_horizon(name, values, low):
    """A per-horizon integer setting: one integer, a ``{horizon: integer}`` dict or a tuple of integers."""
    if isinstance(values, dict):
        if not values:
            raise ValueError(f"{name} must give a value for every horizon, got an empty dict")
        for T, v in values.items():
            checks.check_int(f"{name} (a horizon)", T, 1)
            checks.check_int(f"{name}[{T}]", v, low)
    elif isinstance(values, (tuple, list)):
        _check_sequence(name, values, lambda n, v: checks.check_int(n, v, low))
    else:
        checks.check_int(name, values, low)


def _check_config(cfg: dict) -> None:
    """Every setting of a configuration, checked before any work (a ValueError naming the setting, its allowed
    range and the value)."""
    _check_sequence("horizons", cfg["horizons"], lambda n, v: checks.check_int(n, v, 1))
    for key in ("batch_size", "surface_eval_batches", "smd_eval_batches", "long_eval_batches", "final_steps",
                "record_every", "surface_chunk", "top"):
        checks.check_int(key, cfg[key], 1)
    for key in ("pretrain_steps", "seed"):
        checks.check_int(key, cfg[key], 0)
    _check_per_horizon("n_samples", cfg["n_samples"], 1)
    _check_per_horizon("meta_steps", cfg["meta_steps"], 0)
    for key in ("K", "pretrain_alpha", "meta_lr", "init_alpha_0", "sweep_alpha_0"):
        checks.check_real(key, cfg[key], low=0.0, low_open=True, scalar=True)
    checks.check_unit_interval("mu", cfg["mu"])
    positive = lambda n, v: checks.check_real(n, v, low=0.0, low_open=True, scalar=True)  # noqa: E731
    for key in ("alpha_0_range", "beta_range"):
        _check_sequence(key, cfg[key], positive)
        if len(cfg[key]) != 2 or not cfg[key][0] < cfg[key][1]:
            raise ValueError(f"{key} must be (low, high) with 0 < low < high, got {cfg[key]!r}")
    _check_sequence("init_betas", cfg["init_betas"], positive)
    _check_sequence("sweep_betas", cfg["sweep_betas"], positive)
    _check_sequence("sweep_batch_sizes", cfg["sweep_batch_sizes"], lambda n, v: checks.check_int(n, v, 1))
    checks.check_choice("choose", cfg["choose"], ("smd", "surface"))
    if not isinstance(cfg["meta_mu"], bool):
        raise ValueError(f"meta_mu must be True or False, got {cfg['meta_mu']!r}")
    if cfg["meta_mu"] and cfg["choose"] != "smd":
        raise ValueError("meta_mu=True needs choose='smd' (a surface samples alpha_0 and beta only)")


def _per_horizon(cfg, key, T):
    """``cfg[key]`` for horizon ``T``: a number, a ``{horizon: value}`` dict, or a tuple in the scale's horizon
    order (a horizon outside the scale's takes the value of the nearest one, in log)."""
    values = cfg[key]
    base = SCALES[cfg["scale"]]["horizons"]
    if isinstance(values, int):
        return values
    if isinstance(values, dict):
        if T not in values:
            raise ValueError(f"{key} has no value for horizon {T}: {values}")
        return values[T]
    if T in base:
        return values[base.index(T)]
    return values[min(range(len(base)), key=lambda i: abs(np.log(base[i] / T)))]


# ----------------------------------------------------------------------------------------------------------------
# Files: atomic writes with provenance.


def _matmul_precision() -> str:
    """JAX's default float32 matrix-product precision (GPUs may default to TF32; CPUs compute in full float32)."""
    try:
        return str(jax.config.jax_default_matmul_precision)
    except AttributeError:  # a JAX without the attribute: the environment variable, if any
        return os.environ.get("JAX_DEFAULT_MATMUL_PRECISION", "default")


def provenance() -> dict:
    """Package versions and hardware of this process."""
    import importlib.metadata as md

    versions = {}
    for pkg in ("jax", "jaxlib", "numpy", "shb-lib"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    versions["python"] = platform.python_version()
    dev = jax.devices()
    return {
        "versions": versions,
        "hardware": {"platform": platform.platform(), "machine": platform.machine(), "cpu_count": os.cpu_count(),
                     "devices": [f"{d.platform}:{d.device_kind}" for d in dev],
                     "matmul_precision": _matmul_precision()},
    }


def unit_hash(unit_cfg: dict) -> str:
    return hashlib.sha1(json.dumps(unit_cfg, sort_keys=True, default=str).encode()).hexdigest()[:10]


def unit_paths(out, name: str, unit_cfg: dict) -> tuple[pathlib.Path, pathlib.Path]:
    """``(<name>-<hash>.npz, <name>-<hash>.json)`` in ``out``. Built by appending, not ``with_suffix``: a name such
    as ``smd-T100-beta0.1`` holds a dot, and ``with_suffix`` would cut the name and its hash at it."""
    stem = unit_stem(name, unit_cfg)
    return pathlib.Path(out) / f"{stem}.npz", pathlib.Path(out) / f"{stem}.json"


def unit_stem(name: str, unit_cfg: dict) -> str:
    """A unit's file name without its suffix: ``<name>-<hash of its configuration>``."""
    return f"{name}-{unit_hash(unit_cfg)}"


def unit_metadata(name: str, unit_cfg: dict, wall_s, scale: str, extra: dict | None = None) -> dict:
    """What a unit's ``.json`` holds: name, scale, configuration, seed, wall time, creation time, package versions,
    hardware, and ``extra`` (e.g. how a long run's schedules were chosen, from which unit files).

    ``wall_s`` is the wall time in seconds, or a list of them, one per process that contributed (an interrupted
    SMD run resumed by later processes): ``wall_time_s`` is then their sum (the time of the work kept; what a
    process computed after its last checkpoint was lost with it) and ``wall_time_per_process_s`` the list."""
    per_process = [float(w) for w in (wall_s if isinstance(wall_s, (list, tuple)) else [wall_s])]
    return {"name": name, "scale": scale, "config": unit_cfg, "seed": unit_cfg.get("seed"),
            "wall_time_s": round(sum(per_process), 1), "wall_time_per_process_s": [round(w, 1) for w in per_process],
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **provenance(), **(extra or {})}


def save_unit(out, name: str, unit_cfg: dict, arrays: dict, wall_s, scale: str,
              extra: dict | None = None) -> dict:
    """Write ``<name>-<hash>.npz`` then ``.json`` (the JSON last: its presence marks the unit finished), each
    atomically and flushed to disk (:func:`shb_lib.results_io.atomic_write`); the JSON is standard (a non-finite
    number is refused, before anything is written). ``wall_s`` and ``extra``: as :func:`unit_metadata`.
    Returns the metadata written."""
    out = pathlib.Path(out)
    npz, js = unit_paths(out, name, unit_cfg)
    info = unit_metadata(name, unit_cfg, wall_s, scale, extra)
    text = results_io.dumps_json(info, indent=1)
    out.mkdir(parents=True, exist_ok=True)

    def write_npz(tmp):
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **{k: np.asarray(v) for k, v in arrays.items()})

    results_io.atomic_write(npz, write_npz)
    results_io.atomic_write_text(js, text)
    return info


def load_unit(out, name: str, unit_cfg: dict):
    """``(arrays, metadata)`` of a finished unit, or ``None`` (none in ``out``, or ``out`` is ``None``). A unit
    whose ``.npz`` or ``.json`` is truncated or corrupt is named in a :class:`shb_lib.results_io.CorruptFileWarning`
    and set aside (``.corrupt``), so that it is recomputed (:func:`shb_lib.results_io.read_unit`)."""
    if out is None:
        return None
    return results_io.read_unit(*unit_paths(out, name, unit_cfg))


def file_sha256(path) -> str:
    """The SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def source_record(info: dict, folder=None) -> dict:
    """Which unit a result was made from: its file stem (name and configuration hash) and, when ``folder`` holds
    its ``.npz``, the SHA-256 of that file."""
    stem = unit_stem(info["name"], info["config"])
    rec = {"unit": stem}
    npz = None if folder is None else pathlib.Path(folder) / f"{stem}.npz"
    if npz is not None and npz.exists():
        rec["npz_sha256"] = file_sha256(npz)
    return rec


# ----------------------------------------------------------------------------------------------------------------
# Units of work.


class _Context:
    """Data and pretrained weights, made once per process."""

    def __init__(self, cfg):
        from .data import load_mnist

        ds = load_mnist()
        self.source = ds.source
        self.X = jnp.asarray(ds.train_images, jnp.float32)
        self.Y = jnp.asarray(ds.train_labels, jnp.int32)
        self.Xt = jnp.asarray(ds.test_images, jnp.float32)
        self.Yt = jnp.asarray(ds.test_labels, jnp.int32)
        self.key = jax.random.PRNGKey(cfg["seed"])
        self.w0 = training.pretrain(jax.random.fold_in(self.key, 0), self.X, self.Y, cfg["pretrain_steps"],
                                cfg["pretrain_alpha"], cfg["mu"], cfg["batch_size"])


def _base(cfg):
    return {k: cfg[k] for k in ("K", "batch_size", "mu", "pretrain_steps", "pretrain_alpha", "seed")}


def _run_unit(out, name, ucfg, scale, compute, extra=None, timing=None):
    """Load the unit from ``out``, or compute and (if ``out``) save it. Its configuration must be writable as
    standard JSON and ``out`` a writable folder, both checked before the work. ``timing["earlier"]``, if
    :func:`compute` sets it, lists the wall times of earlier processes that contributed (a resumed SMD run)."""
    found = load_unit(out, name, ucfg)
    if found is not None:
        return found
    results_io.dumps_json(ucfg)  # a non-finite setting is refused now, not after the work
    if out is not None:
        results_io.check_writable_dir(out, "out")
    timing = {} if timing is None else timing
    t0 = time.perf_counter()
    arrays = compute()
    wall = [*timing.get("earlier", []), time.perf_counter() - t0]
    if "note" in timing:
        extra = dict(extra or {}, wall_time_note=timing["note"])
    if out is None:
        return arrays, unit_metadata(name, ucfg, wall, scale, extra)
    return arrays, save_unit(pathlib.Path(out), name, ucfg, arrays, wall, scale, extra)


def surface_unit(ctx, cfg, T, out=None, progress=False):
    ucfg = dict(_base(cfg), unit="surface", horizon=T, n_samples=_per_horizon(cfg, "n_samples", T),
                n_eval_batches=cfg["surface_eval_batches"], alpha_0_range=cfg["alpha_0_range"],
                beta_range=cfg["beta_range"])

    def compute():
        problem = hg.make_offline_problem(jax.random.fold_in(ctx.key, 1000 + T), ctx.X, ctx.Y, ctx.w0, T,
                                          cfg["batch_size"], ucfg["n_eval_batches"], cfg["K"], cfg["mu"])
        return surface.random_search(jax.random.fold_in(ctx.key, 2000 + T), problem, ucfg["n_samples"],
                                  cfg["alpha_0_range"], cfg["beta_range"], chunk=cfg["surface_chunk"],
                                  progress=progress)

    return _run_unit(out, f"surface-T{T}", ucfg, cfg["scale"], compute)


def smd_unit(ctx, cfg, T, beta0, out=None, progress=False, checkpoint_every=25):
    M = _per_horizon(cfg, "meta_steps", T)
    ucfg = dict(_base(cfg), unit="smd", horizon=T, init_beta=beta0, init_alpha_0=cfg["init_alpha_0"],
                meta_steps=M, meta_lr=cfg["meta_lr"], n_eval_batches=cfg["smd_eval_batches"])
    if cfg["meta_mu"]:
        ucfg["meta_mu"] = True
    name = f"smd-T{T}-beta{beta0:g}"
    partial = None if out is None else pathlib.Path(out) / f".{name}-{unit_hash(ucfg)}.partial.npz"

    def to_arrays(r: offline.SMDResult):
        a = {"alpha_0": r.alpha_0, "beta": r.beta, "values": r.values}
        a.update({f"log_{k}": v for k, v in r.log_hparams.items()})
        m, v, count = mo.adam_moments(r.adam)
        a.update({f"adam_{f}_{k}": np.asarray(x) for f, tree in (("m", m), ("v", v)) for k, x in tree.items()})
        a["adam_count"] = np.asarray(count)
        return a

    def from_arrays(a):
        names = [k[4:] for k in a if k.startswith("log_")]
        missing = {"alpha_0", "beta", "values", "adam_count"} - set(a)
        if missing or not names:
            raise KeyError(f"not an SMD checkpoint: lacks {sorted(missing) or 'the log_ hyperparameters'}")
        h = {k: jnp.float32(a[f"log_{k}"][-1]) for k in names}
        adam = mo.with_adam_moments(offline.meta_optimizer(cfg["meta_lr"]).init(h),
                                    {k: jnp.float32(a[f"adam_m_{k}"]) for k in names},
                                    {k: jnp.float32(a[f"adam_v_{k}"]) for k in names}, jnp.int32(a["adam_count"]))
        return offline.SMDResult(a["alpha_0"], a["beta"], a["values"], {k: a[f"log_{k}"] for k in names}, adam)

    timing = {}

    def compute():
        t_start = time.perf_counter()
        key = jax.random.fold_in(ctx.key, 3000 + T)
        h0 = hg.default_hparams(beta=beta0, alpha_0=cfg["init_alpha_0"], dtype=jnp.float32,
                                mu=cfg["mu"] if cfg["meta_mu"] else None)
        res = None
        if partial is not None:  # a corrupt checkpoint is named, set aside, and the run starts afresh
            saved = results_io.read_npz_or_set_aside(partial, parse=lambda a: (from_arrays(a), a))
            if saved is not None:
                res, a = saved
                if "_wall_time_s" in a:  # the wall time of each earlier process, up to its last checkpoint
                    timing["earlier"] = [float(w) for w in a["_wall_time_s"]]
                else:
                    timing["note"] = "resumed from a checkpoint that did not record its earlier wall time"
        done = 0 if res is None else len(res.values)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=M, initial=done, desc=name)
        while done < M:
            n = min(checkpoint_every, M - done)
            res = offline.smd(key, ctx.X, ctx.Y, ctx.w0, T, h0, n, meta_lr=cfg["meta_lr"],
                              batch_size=cfg["batch_size"], n_eval_batches=ucfg["n_eval_batches"],
                              time_const=cfg["K"],
                           mu=cfg["mu"], start=res)
            done = len(res.values)
            if partial is not None:
                walls = [*timing.get("earlier", []), time.perf_counter() - t_start]
                arrays = dict(to_arrays(res), _wall_time_s=np.asarray(walls, np.float64))

                def write(tmp, arrays=arrays):
                    with open(tmp, "wb") as f:
                        np.savez(f, **arrays)

                results_io.atomic_write(partial, write)
            if bar is not None:
                bar.update(n)
        if bar is not None:
            bar.close()
        if res is None:
            res = offline.smd(key, ctx.X, ctx.Y, ctx.w0, T, h0, 0, meta_lr=cfg["meta_lr"], time_const=cfg["K"],
                              mu=cfg["mu"])
        return to_arrays(res)

    arrays, info = _run_unit(out, name, ucfg, cfg["scale"], compute, timing=timing)
    if partial is not None and partial.exists() and load_unit(out, name, ucfg) is not None:
        partial.unlink()
    return arrays, info


def smd_choice(trajectories, tail: float = 0.1, with_mu: bool = False):
    """``(alpha_0, beta)`` at the end of SMD: geometric mean over the last ``tail`` of each trajectory and over
    the trajectories (several initializations). ``with_mu``: ``(alpha_0, beta, mu)``, ``1 - mu`` averaged the same
    way (the arrays of SMD units run with ``meta_mu``: their ``log_log_one_minus_mu`` is the trajectory of
    ``log(1 - mu)``)."""
    la, lb, lm = [], [], []
    for t in trajectories:
        n = max(1, int(round(tail * (len(t["alpha_0"]) - 1))))
        la.append(np.mean(np.log(t["alpha_0"][-n:])))
        lb.append(np.mean(np.log(t["beta"][-n:])))
        if with_mu:
            if "log_log_one_minus_mu" not in t:
                raise ValueError("with_mu=True needs the arrays of SMD units run with meta_mu (which hold "
                                 "log_log_one_minus_mu, the trajectory of log(1 - mu))")
            lm.append(np.mean(t["log_log_one_minus_mu"][-n:]))
    pair = float(np.exp(np.mean(la))), float(np.exp(np.mean(lb)))
    return (*pair, float(1.0 - np.exp(np.mean(lm)))) if with_mu else pair


def long_unit(ctx, cfg, horizons, choices, out=None, progress=False, chosen_by=None, chosen=None):
    """Train with each horizon's ``choices[T] = (alpha_0, beta)`` for ``final_steps`` (one row per horizon, same
    batches; ``(alpha_0, beta, mu)`` triples train each row with its own momentum, recorded as ``mu_per_run``);
    ``chosen_by`` says how the choices were made (default: from ``cfg["choose"]``; part of the unit's
    configuration, so of its file name); ``chosen`` (a JSON-able dict, stored as the unit's ``"chosen"``) says how
    each horizon's choice was made and from which unit files (:func:`source_record`)."""
    alpha = [choices[T][0] for T in horizons]
    beta = [choices[T][1] for T in horizons]
    ucfg = dict(_base(cfg), unit="long", horizons=list(horizons), alpha_0=[round(a, 6) for a in alpha],
                beta=[round(b, 6) for b in beta], steps=cfg["final_steps"], record_every=cfg["record_every"],
                n_eval_batches=cfg["long_eval_batches"])
    mus = [choices[T][2] if len(choices[T]) == 3 else cfg["mu"] for T in horizons]
    if any(len(choices[T]) == 3 for T in horizons):
        ucfg["mu_per_run"] = [round(m, 6) for m in mus]
    if chosen_by is not None:
        ucfg["chosen_by"] = chosen_by
    elif cfg["choose"] == "surface":  # how the schedules were chosen (absent: from SMD)
        ucfg["chosen_by"] = f"surface top {cfg['top']}"

    def train(alpha_0, beta, mu):
        return training.train_schedule(jax.random.fold_in(ctx.key, 4000), ctx.X, ctx.Y, ctx.Xt, ctx.Yt, ctx.w0,
                                       alpha_0, beta, cfg["final_steps"], record_every=cfg["record_every"],
                                       batch_size=cfg["batch_size"], n_eval_batches=cfg["long_eval_batches"],
                                       time_const=cfg["K"], mu=mu)

    def compute():
        if "mu_per_run" not in ucfg:
            r = train(ucfg["alpha_0"], ucfg["beta"], cfg["mu"])
        else:  # one run per momentum, on the same batches (the same key)
            rows = [train([a], [b], m) for a, b, m in zip(ucfg["alpha_0"], ucfg["beta"], ucfg["mu_per_run"])]
            r = {k: (rows[0][k] if k == "step" else np.concatenate([x[k] for x in rows])) for k in rows[0]}
            r["mu"] = np.asarray(ucfg["mu_per_run"], np.float64)
        r["horizons"] = np.asarray(horizons)
        return r

    return _run_unit(out, "long", ucfg, cfg["scale"], compute, extra=None if chosen is None else {"chosen": chosen})


def sweep_unit(ctx, cfg, out=None, progress=False):
    """Meta-objective against ``beta`` (at ``alpha_0 = sweep_alpha_0``) for every horizon and batch size (sliders)."""
    ucfg = dict(_base(cfg), unit="sweep", horizons=list(cfg["horizons"]), batch_sizes=list(cfg["sweep_batch_sizes"]),
                betas=list(cfg["sweep_betas"]), alpha_0=cfg["sweep_alpha_0"], eval_examples=1000)

    def compute():
        H, Bs, betas = ucfg["horizons"], ucfg["batch_sizes"], np.asarray(ucfg["betas"], np.float32)
        loss = np.zeros((len(H), len(Bs), len(betas)))
        for i, T in enumerate(H):
            for j, B in enumerate(Bs):
                p = hg.make_offline_problem(jax.random.fold_in(ctx.key, 5000 + 7 * T + B), ctx.X, ctx.Y, ctx.w0, T,
                                            B, max(1, 1000 // B), cfg["K"], cfg["mu"])
                a = jnp.full(betas.shape, ucfg["alpha_0"], jnp.float32)
                loss[i, j] = np.asarray(surface.surface_losses(a, jnp.asarray(betas), p))
        return {"horizons": np.asarray(H), "batch_sizes": np.asarray(Bs), "betas": betas.astype(np.float64),
                "loss": loss}

    return _run_unit(out, "sweep", ucfg, cfg["scale"], compute)


UNITS = ("surface", "smd", "long", "sweep")


def _smd_label(inits) -> str:
    return "SMD from beta = " + " and ".join(f"{b:g}" for b in sorted(inits))


def _chosen_record(by: dict, choices: dict, sources: dict) -> dict:
    """The ``"chosen"`` provenance of a long unit: how each horizon's ``(alpha_0, beta)`` was chosen and from which
    unit files; ``"by"`` is the one method of every horizon (or the horizons' methods joined by ``"; "``)."""
    methods = list(dict.fromkeys(by[T] for T in sorted(choices)))
    return {"by": "; ".join(methods),
            "horizons": {str(T): {"by": by[T], "alpha_0": float(choices[T][0]), "beta": float(choices[T][1]),
                                  **({"mu": float(choices[T][2])} if len(choices[T]) == 3 else {}),
                                  "from": sources.get(T, [])} for T in sorted(choices)}}


def _surface_optimum(arrays, info, top: int, T) -> tuple[float, float]:
    """:func:`shb_lib.mnist.surface.best_of_surface` of one surface unit; a surface whose every sample diverged raises
    :class:`shb_lib.checks.DivergedError` naming the horizon and the unit."""
    try:
        return surface.best_of_surface(arrays, top)
    except checks.DivergedError as e:
        stem = unit_stem(info.get("name", f"surface-T{T}"), info["config"])
        raise checks.DivergedError(f"horizon {T}: the surface {stem} ({info['config'].get('n_samples', '?')} "
                                   f"samples) has no optimum: {e}") from None


def run_mnist(scale: str = "book", out=None, horizons=None, units=UNITS, progress: bool = False,
              **overrides) -> dict:
    """Run (or load from ``out``) every unit for ``scale``; return ``{"config", "surface", "smd", "choice",
    "chosen_by", "long", "sweep", "info", "data_source"}`` (dicts keyed by horizon where relevant).

    Each horizon's ``(alpha_0, beta)`` comes from SMD when ``choose="smd"`` and SMD ran, else from its surface;
    ``chosen_by[T]`` says which. Checked before any work: every setting (:func:`config`), that ``out`` is a
    folder (writable: checked before the first unit that is not on disk yet, so a read-only folder of finished units
    can be read), and that ``"long"`` gets its choices from the method asked for (``choose="smd"`` with
    ``"smd"`` not in ``units`` is refused, rather than quietly training the surface optimum).

    Raises:
        ValueError: a bad setting, ``out`` not writable, or the choice method's units not requested.
        shb_lib.checks.DivergedError: a horizon has no choice (every surface sample diverged, or SMD did).
    """
    cfg = config(scale, **({"horizons": tuple(horizons)} if horizons else {}), **overrides)
    units = tuple(units)
    for u in units:
        checks.check_choice("units", u, UNITS)
    method = cfg["choose"]
    if "long" in units and method not in units:
        raise ValueError(f"units: the long runs take their schedules from choose={cfg['choose']!r}, but units "
                         f"{units} lack {method!r} (finished units are loaded from out, not recomputed); add "
                         f"{method!r} or set choose to the method whose units you have")
    if out is not None:  # a folder; whether it is writable is checked before the first unit that must be computed
        results_io.check_writable_dir(out, "out", probe=False)
    ctx = _Context(cfg)
    res = {"config": cfg, "surface": {}, "smd": {}, "choice": {}, "chosen_by": {}, "info": {},
           "data_source": ctx.source}
    sources = {}
    for T in cfg["horizons"]:
        if "surface" in units:
            res["surface"][T], res["info"][f"surface-T{T}"] = surface_unit(ctx, cfg, T, out, progress)
        if "smd" in units:
            res["smd"][T] = []
            for b0 in cfg["init_betas"]:
                arr, info = smd_unit(ctx, cfg, T, b0, out, progress)
                res["smd"][T].append(arr)
                res["info"][f"smd-T{T}-beta{b0:g}"] = info
        if cfg["choose"] == "smd" and res["smd"].get(T):
            choice = smd_choice(res["smd"][T], with_mu=cfg["meta_mu"])
            if not np.all(np.isfinite(choice)):
                raise checks.DivergedError(f"horizon {T}: SMD diverged (its end point is {choice}); there is no "
                                           f"choice to train (try a smaller meta_lr)")
            res["chosen_by"][T] = _smd_label(cfg["init_betas"])
            sources[T] = [source_record(res["info"][f"smd-T{T}-beta{b0:g}"], out) for b0 in cfg["init_betas"]]
        elif T in res["surface"]:
            info = res["info"][f"surface-T{T}"]
            choice = _surface_optimum(res["surface"][T], info, cfg["top"], T)
            res["chosen_by"][T] = f"surface top {cfg['top']} of {info['config']['n_samples']} samples"
            sources[T] = [source_record(info, out)]
        else:
            continue
        res["choice"][T] = choice
    if "long" in units and res["choice"]:
        hs = [T for T in cfg["horizons"] if T in res["choice"]]
        chosen = _chosen_record(res["chosen_by"], res["choice"], sources)
        res["long"], res["info"]["long"] = long_unit(ctx, cfg, hs, res["choice"], out, progress, chosen=chosen)
    if "sweep" in units:
        res["sweep"], res["info"]["sweep"] = sweep_unit(ctx, cfg, out, progress)
    return res


def long_over_seeds(scale: str, choices: dict, chosen_by: str, seeds, out=None, progress: bool = False,
                    sources: dict | None = None, **overrides) -> dict:
    """The long runs of fixed ``choices`` (``{T: (alpha_0, beta)}``, made once, e.g. from the seed-0 surfaces) for
    every seed in ``seeds``: each seed draws its own initialization, pretraining and batches, so the spread over
    seeds is the spread of the long run itself, not of the search. ``sources`` (``{T: [source_record, ...]}``)
    names the unit files the choices came from; it is stored with ``chosen_by`` as each unit's ``"chosen"``.
    Returns ``{seed: (arrays, info)}``."""
    for T, c in choices.items():
        checks.check_int("choices (a horizon)", T, 1)
        checks.check_real(f"choices[{T}]", c, low=0.0, low_open=True)
        if np.shape(c) != (2,):
            raise ValueError(f"choices[{T}] must be a pair (alpha_0, beta), got {c!r}")
    if out is not None:
        results_io.check_writable_dir(out, "out", probe=False)
    runs = {}
    horizons = tuple(sorted(int(T) for T in choices))
    chosen = _chosen_record({int(T): chosen_by for T in choices}, {int(T): c for T, c in choices.items()},
                            {int(T): v for T, v in (sources or {}).items()})
    for seed in seeds:
        cfg = config(scale, horizons=horizons, seed=int(seed), **overrides)
        ctx = _Context(cfg)
        runs[int(seed)] = long_unit(ctx, cfg, horizons, {int(T): c for T, c in choices.items()}, out, progress,
                                    chosen_by=chosen_by, chosen=chosen)
    return runs


def load_results(folder, scale: str | None = None) -> dict:
    """Every finished unit in ``folder`` (optionally of one ``scale``): ``{file stem: (arrays, metadata)}``. A
    unit whose ``.json`` or ``.npz`` is corrupt, or whose JSON is not a unit's metadata, is skipped with a
    :class:`shb_lib.results_io.CorruptFileWarning` naming the file (left in place: reading changes nothing)."""
    folder = pathlib.Path(folder)
    found = {}
    if not folder.is_dir():
        return found
    for js in sorted(folder.glob("*.json")):
        npz = js.with_suffix(".npz")
        if not npz.exists():
            continue
        try:
            info = results_io.read_json(js)
            if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
                raise results_io.CorruptFileError(js, "is not a result unit's metadata (no \"config\" object)")
            if scale is not None and info.get("scale") != scale:
                continue
            found[js.stem] = (results_io.read_npz(npz), info)
        except results_io.CorruptFileError as e:
            warnings.warn(f"{e}; skipped", results_io.CorruptFileWarning, stacklevel=2)
    return found


#: The per-run arrays of a long unit (first axis: one row per horizon); ``step`` is shared by all rows.
LONG_ROWS = ("horizons", "alpha_0", "beta", "mu", "train_loss", "test_error", "lr", "diverged")


def sort_long(arrays: dict) -> dict:
    """A long unit's arrays with its rows in increasing horizon (a unit run with ``--horizons`` out of order)."""
    order = np.argsort(np.asarray(arrays["horizons"]), kind="stable")
    return {k: (np.asarray(v)[order] if k in LONG_ROWS else v) for k, v in arrays.items()}


def long_ratios(arrays: dict, record_every: int, tail_steps: int = 1000) -> tuple[float, float]:
    """Training loss of the shortest horizon's schedule over the longest's: at the last step, and averaged over the
    last ``tail_steps`` steps (the long-horizon loss fluctuates; the mean is the steadier figure)."""
    a = sort_long(arrays)
    loss = np.asarray(a["train_loss"])
    n = max(1, tail_steps // record_every)
    tail = loss[:, -n:].mean(axis=1)
    return float(loss[0, -1] / loss[-1, -1]), float(tail[0] / tail[-1])


def _surface_optima(surfaces: dict, top: int, skip_diverged: bool) -> dict:
    out = {}
    for T, runs in surfaces.items():
        for a, i in runs:
            n = int(i["config"]["n_samples"])
            if T in out.setdefault(n, {}):
                raise ValueError(f"surfaces: two units with n_samples={n} for horizon {T}; keep one of them")
            try:
                out[n][T] = _surface_optimum(a, i, top, T)
            except checks.DivergedError:
                if not skip_diverged:
                    raise
                out[n][T] = None
    return {n: dict(sorted(out[n].items())) for n in sorted(out, reverse=True)}


def surface_choices(surfaces: dict, top: int = 3) -> dict:
    """Each horizon's surface optimum (:func:`shb_lib.mnist.surface.best_of_surface`, geometric mean of the ``top``
    best samples) per budget: ``{n_samples: {T: (alpha_0, beta)}}``, largest budget first. ``surfaces`` is
    :func:`organize`'s ``{T: [(arrays, info), ...]}``.

    Raises:
        shb_lib.checks.DivergedError: a surface whose every sample diverged (naming its horizon and unit).
        ValueError: two surfaces of one horizon with the same number of samples.
    """
    return _surface_optima(surfaces, top, skip_diverged=False)


def _surface_label(want: dict, surfaces: dict, top: int) -> str | None:
    """``"surface top <top> of <n> samples"`` for the largest budget whose optima are ``want`` (a surface that
    diverged everywhere matches nothing), or ``None``."""
    for n, choices in _surface_optima(surfaces, top, skip_diverged=True).items():
        if all(choices.get(T) is not None and _same_choice(choices[T], want[T]) for T in want):
            return f"surface top {top} of {n} samples"
    return None


def _same_choice(choice, stored) -> bool:
    """Whether ``choice`` is ``stored`` as :func:`long_unit` stored it (rounded to 6 decimals)."""
    return bool(np.allclose(np.round(choice, 6), stored, rtol=0, atol=1e-9))


def _smd_match(want: dict, smds: dict) -> str | None:
    """``"SMD from beta = ..."`` if, for every horizon, some SMD runs (any subset of its starts) give ``want``."""
    inits = set()
    for T in want:
        runs = smds.get(T, [])
        subsets = (sub for k in range(len(runs), 0, -1) for sub in itertools.combinations(runs, k))
        match = next((sub for sub in subsets if _same_choice(smd_choice([a for a, _ in sub]), want[T])), None)
        if match is None:
            return None
        inits |= {i["config"]["init_beta"] for _, i in match}
    return _smd_label(inits)


def _choice_label(arrays, info, surfaces, smds) -> str:
    """How a long unit's schedules were chosen, found by recomputing each candidate's choice from the units: which
    surface budget, or which SMD runs of each horizon (any subset of its starts), give the unit's ``(alpha_0, beta)``
    as :func:`long_unit` stored them (rounded to 6 decimals). A label that the units here do not reproduce says so;
    "SMD" is never given to schedules that no SMD unit reproduces."""
    c = info["config"]
    want = {int(T): (a, b) for T, a, b in zip(arrays["horizons"], c["alpha_0"], c["beta"])}
    by = c.get("chosen_by")  # absent: the unit claims SMD
    recorded = (info.get("chosen") or {}).get("by") or by or "SMD"
    unverified = f"{recorded} (as recorded; not reproduced by the units here)"
    if by is not None and by.startswith("surface"):
        m = re.match(r"surface top (\d+)", by)
        return _surface_label(want, surfaces, int(m.group(1)) if m else 3) or unverified
    label = _smd_match(want, smds)
    if label is not None:
        return label
    if by is None:
        top = SCALES.get(info.get("scale"), {}).get("top", 3)
        label = _surface_label(want, surfaces, top)
        if label is not None:
            return f"{label} (not SMD, though the unit does not say how it was chosen)"
        return "unverified (the unit claims SMD, but no SMD or surface unit here reproduces its choices)"
    return unverified


def organize(units: dict) -> dict:
    """The units of :func:`load_results` grouped for reading: ``{"surface": {T: [(arrays, info), ...]},
    "smd": {T: [(arrays, info), ...]}, "long": [(arrays, info, label), ...]}``, horizons increasing, each horizon's
    surfaces with the most samples first, long runs' rows sorted by horizon (:func:`sort_long`) and labelled with
    how their schedules were chosen (which surface budget or which SMD runs reproduce their ``(alpha_0, beta)``;
    :func:`_choice_label`)."""
    out = {"surface": {}, "smd": {}, "long": []}
    for arrays, info in units.values():
        kind = info["config"].get("unit")
        if kind in ("surface", "smd"):
            out[kind].setdefault(int(info["config"]["horizon"]), []).append((arrays, info))
    for kind in ("surface", "smd"):
        out[kind] = dict(sorted(out[kind].items()))
    for runs in out["surface"].values():
        runs.sort(key=lambda r: -r[1]["config"]["n_samples"])
    for runs in out["smd"].values():
        runs.sort(key=lambda r: r[1]["config"]["init_beta"])
    for arrays, info in units.values():
        if info["config"].get("unit") == "long":
            out["long"].append((sort_long(arrays), info, _choice_label(arrays, info, out["surface"], out["smd"])))
    return out


def device_label(info: dict) -> str:
    """Where a unit ran, in words: the accelerator's name, or the CPU core count."""
    hw = info["hardware"]
    gpus = [d.split(":", 1)[1] for d in hw["devices"] if not d.startswith("cpu")]
    return ", ".join(gpus) if gpus else f"{hw['cpu_count']}-core CPU"


def _distinct_seeds(parser, seeds) -> None:
    if len(set(seeds)) != len(seeds):
        parser.error(f"--seeds must be distinct, got {seeds}")


def _writable_out(parser, out) -> None:
    """``--out`` must be a writable folder (created if missing), checked before any work."""
    try:
        results_io.check_writable_dir(out, "--out")
    except ValueError as e:
        parser.error(str(e))


def _report_failure(run) -> int:
    """``run()``, with a divergence, a missing data set, a failed write (a full disk) or Ctrl-C reported in one line
    (status 1 or 130) instead of a traceback; every finished unit is on disk already (a failed write leaves no
    partial file), and an interrupted SMD run resumes from its last checkpoint."""
    from .data import MNISTCorruptError, MNISTNotFoundError

    try:
        return run()
    except (checks.DivergedError, MNISTNotFoundError, MNISTCorruptError) as e:
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return 1
    except OSError as e:  # after the checks: the disk filled up or the folder changed during the run
        print(f"error: a result could not be written ({type(e).__name__}: {e}); the finished units are kept",
              file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: finished units are kept; a rerun skips them and resumes SMD from its last checkpoint",
              file=sys.stderr, flush=True)
        return 130


def main(argv=None) -> int:
    """The command line (see the module docstring). Returns the exit status: 0 done, 1 a run diverged or the data
    are missing, 2 a bad argument (argparse's convention; every flag is checked before any work), 130 Ctrl-C."""
    use_float64()  # the same precision as the chapters (shb_lib.precision)
    parser = argparse.ArgumentParser(prog="python -m shb_lib.mnist.experiments", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("mnist", help="offline meta-optimization on MNIST (surfaces, SMD, long runs, slider sweep)")
    p.add_argument("--scale", choices=sorted(SCALES), default="book")
    p.add_argument("--out", default="results/", help="folder of the result files (default results/)")
    p.add_argument("--horizons", type=checks.int_arg("--horizons", 1), nargs="+",
                   help="subset of horizons, integers >= 1 (default: the scale's)")
    p.add_argument("--units", nargs="+", default=list(UNITS), choices=list(UNITS))
    p.add_argument("--samples", type=checks.int_arg("--samples", 1), nargs="+",
                   help="surface samples: one number for every horizon, or one per horizon (default: the scale's)")
    p.add_argument("--meta-steps", type=checks.int_arg("--meta-steps", 1), nargs="+",
                   help="SMD meta-steps: one number for every horizon, or one per horizon (default: the scale's)")
    p.add_argument("--chunk", type=checks.int_arg("--chunk", 1), default=64,
                   help="surface samples trained at once under vmap (memory vs speed; results do not depend on it)")
    p.add_argument("--meta-lr", type=checks.positive_arg("--meta-lr"),
                   help="Adam learning rate of SMD in log space, finite and > 0 (default: the scale's)")
    p.add_argument("--init-betas", type=checks.positive_arg("--init-betas"), nargs="+",
                   help="SMD initial betas, finite and > 0 (default: 0.1 10)")
    p.add_argument("--choose", choices=["smd", "surface"],
                   help="how each horizon's (alpha_0, beta) is chosen (default: the scale's)")
    p.add_argument("--seeds", type=checks.int_arg("--seeds", 0), nargs="+", default=[0],
                   help="one whole run per seed (data order, initialization, batches, samples; default 0)")
    q = sub.add_parser("long-seeds", help="long runs of the surface choices in a results folder, over seeds")
    q.add_argument("--scale", choices=sorted(SCALES), default="paper")
    q.add_argument("--choices-from", default="results/", help="folder holding the surfaces (default results/)")
    q.add_argument("--samples", type=checks.int_arg("--samples", 1), required=True,
                   help="use the surfaces of this many samples")
    q.add_argument("--out", required=True, help="folder of the long-run files")
    q.add_argument("--seeds", type=checks.int_arg("--seeds", 0), nargs="+", required=True)
    seed_parsers = {}
    for cmd, chapter in (("online-seeds", "chapter 5's online SMD runs and lookahead objectives"),
                         ("estimator-seeds", "chapter 6's meta-gradient estimators on MNIST")):
        r = sub.add_parser(cmd, help=f"{chapter}, over seeds (book scale)")
        r.add_argument("--out", required=True, help="folder of the result files")
        r.add_argument("--seeds", type=checks.int_arg("--seeds", 0), nargs="+", required=True)
        seed_parsers[cmd] = r
    args = parser.parse_args(argv)
    if args.cmd == "long-seeds":
        return _long_seeds_main(q, args)
    if args.cmd in seed_parsers:
        return _chapter_seeds_main(seed_parsers[args.cmd], args)
    _distinct_seeds(p, args.seeds)
    horizons = args.horizons or SCALES[args.scale]["horizons"]
    per_horizon = {}
    for name, v in (("--samples", args.samples), ("--meta-steps", args.meta_steps)):
        if v is None:
            continue
        if len(v) not in (1, len(horizons)):
            p.error(f"{name} takes one value or one per horizon ({len(horizons)}), got {len(v)}")
        per_horizon[name] = v[0] if len(v) == 1 else dict(zip(horizons, v))
    choose = args.choose or SCALES[args.scale]["choose"]
    if "long" in args.units and choose not in args.units:
        p.error(f"--units: the long runs take their schedules from --choose {choose}, but --units "
                f"{' '.join(args.units)} lacks {choose} (finished units are loaded, not recomputed); add {choose} "
                f"to --units, or give --choose with the method whose units you want")
    settings = dict(n_samples=per_horizon.get("--samples"), meta_steps=per_horizon.get("--meta-steps"),
                    choose=args.choose, meta_lr=args.meta_lr, surface_chunk=args.chunk,
                    init_betas=tuple(args.init_betas) if args.init_betas else None)
    try:
        config(args.scale, **({"horizons": tuple(args.horizons)} if args.horizons else {}), **settings)
    except ValueError as e:
        p.error(str(e))
    _writable_out(p, args.out)

    def run():
        for seed in args.seeds:
            res = run_mnist(args.scale, args.out, args.horizons, tuple(args.units), progress=True, seed=seed,
                            **settings)
            for T, (a, b) in res["choice"].items():
                print(f"seed {seed}, T={T}: alpha_0={a:.4g} beta={b:.4g} ({res['chosen_by'][T]})")
            if "long" in res:
                for T, loss in zip(res["long"]["horizons"], res["long"]["train_loss"][:, -1]):
                    print(f"seed {seed}, T={T}: final training loss {loss:.4g}")
        return 0

    return _report_failure(run)


def _chapter_seeds_main(parser, args) -> int:
    """``online-seeds`` and ``estimator-seeds``: :func:`shb_lib.mnist.findings.online_runs` or
    :func:`shb_lib.mnist.findings.estimator_runs` for every seed, written to ``--out`` (finished seeds are read)."""
    from . import findings

    _distinct_seeds(parser, args.seeds)
    _writable_out(parser, args.out)
    compute = findings.online_runs if args.cmd == "online-seeds" else findings.estimator_runs

    def run():
        for seed in args.seeds:  # one at a time, so that each finished seed is on disk before the next starts
            compute(args.out, [seed])
            print(f"seed {seed}: done ({args.out})")
        return 0

    return _report_failure(run)


def _long_seeds_main(parser, args) -> int:
    _distinct_seeds(parser, args.seeds)
    folder = pathlib.Path(args.choices_from)
    if not folder.is_dir():
        parser.error(f"--choices-from must be a folder of result units, but {str(folder)!r} is "
                     f"{'a file' if folder.exists() else 'missing'}")
    units = organize(load_results(folder, scale=args.scale))
    top = SCALES[args.scale]["top"]
    try:
        budgets = surface_choices({T: [r for r in runs if r[1]["config"]["n_samples"] == args.samples]
                                   for T, runs in units["surface"].items()}, top)
    except checks.DivergedError as e:
        parser.error(f"--samples {args.samples}: {e}")
    found = sorted({r[1]["config"]["n_samples"] for runs in units["surface"].values() for r in runs})
    if args.samples not in budgets:
        parser.error(f"--samples: no {args.samples}-sample surfaces in {args.choices_from} (found {found})")
    _writable_out(parser, args.out)
    chosen_by = f"surface top {top} of {args.samples} samples"
    sources = {T: [source_record(i, folder) for _, i in runs if i["config"]["n_samples"] == args.samples]
               for T, runs in units["surface"].items()}

    def run():
        runs = long_over_seeds(args.scale, budgets[args.samples], chosen_by, args.seeds, args.out, progress=True,
                               sources=sources)
        for seed, (arrays, info) in runs.items():
            a = sort_long(arrays)
            losses = ", ".join(f"T={T}: {loss:.4g}" for T, loss in zip(a["horizons"], a["train_loss"][:, -1]))
            print(f"seed {seed}: final training loss {losses}")
        return 0

    return _report_failure(run)


if __name__ == "__main__":
    sys.exit(main())
