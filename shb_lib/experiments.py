"""The MNIST experiments at two scales, one code path, resumable on disk.

``book`` runs inside chapter 4 on 2 CPU cores in a few minutes: time is compressed (``K = 500`` instead of 5000,
shorter horizons and final run), with fewer surface samples, meta-steps and evaluation batches. ``paper`` is the
paper's setting (ICLR section 3.2, the authors' ``offline.py``): ``K = 5000``, horizons 100/1k/5k/20k, 2500 surface
samples, 5000 meta-steps, the meta-objective on 600 batches, 20k-step final runs.

Command line (tqdm progress bars; each unit of work written as ``<name>-<confighash>.npz`` + ``.json`` with its
configuration, seed, package versions, hardware, wall time and scale, atomically; a rerun skips finished units and
an interrupted SMD run continues from its last checkpoint)::

    python -m shb_lib.experiments mnist --scale paper --out results/ [--horizons 100 1000] \
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
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from . import hypergrad as hg
from . import meta, optim

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
COMMON = dict(batch_size=100, mu=optim.MOMENTUM, pretrain_steps=50, pretrain_alpha=0.1, seed=0,
              alpha_0_range=(1e-3, 0.5), beta_range=(1e-2, 200.0), surface_chunk=64)


def config(scale: str, **overrides) -> dict:
    """The settings of ``scale`` (``book`` or ``paper``) with ``overrides`` applied."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, got {scale!r}")
    cfg = dict(COMMON, scale=scale, **SCALES[scale])
    unknown = set(overrides) - set(cfg)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}")
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    if any(int(h) < 1 for h in cfg["horizons"]):
        raise ValueError(f"horizons must be >= 1, got {cfg['horizons']}")
    cfg["horizons"] = tuple(sorted(set(int(h) for h in cfg["horizons"])))  # increasing: the long run's row order
    return cfg


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


def _atomic_write(path: pathlib.Path, write):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def unit_paths(out, name: str, unit_cfg: dict) -> tuple[pathlib.Path, pathlib.Path]:
    """``(<name>-<hash>.npz, <name>-<hash>.json)`` in ``out``. Built by appending, not ``with_suffix``: a name such
    as ``smd-T100-beta0.1`` holds a dot, and ``with_suffix`` would cut the name and its hash at it."""
    stem = f"{name}-{unit_hash(unit_cfg)}"
    return pathlib.Path(out) / f"{stem}.npz", pathlib.Path(out) / f"{stem}.json"


def save_unit(out: pathlib.Path, name: str, unit_cfg: dict, arrays: dict, wall_s: float, scale: str) -> pathlib.Path:
    """Write ``<name>-<hash>.npz`` then ``.json`` (the JSON last: its presence marks the unit finished)."""
    npz, js = unit_paths(out, name, unit_cfg)

    def write_npz(tmp):
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **{k: np.asarray(v) for k, v in arrays.items()})

    _atomic_write(npz, write_npz)
    meta_json = {"name": name, "scale": scale, "config": unit_cfg, "seed": unit_cfg.get("seed"),
                 "wall_time_s": round(wall_s, 1), "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 **provenance()}
    _atomic_write(js, lambda tmp: pathlib.Path(tmp).write_text(json.dumps(meta_json, indent=1)))
    return js.with_suffix("")


def load_unit(out, name: str, unit_cfg: dict):
    """``(arrays, metadata)`` of a finished unit, or ``None``."""
    if out is None:
        return None
    npz, js = unit_paths(out, name, unit_cfg)
    if not js.exists() or not npz.exists():
        return None
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, json.loads(js.read_text())


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
        self.w0 = meta.pretrain(jax.random.fold_in(self.key, 0), self.X, self.Y, cfg["pretrain_steps"],
                                cfg["pretrain_alpha"], cfg["mu"], cfg["batch_size"])


def _base(cfg):
    return {k: cfg[k] for k in ("K", "batch_size", "mu", "pretrain_steps", "pretrain_alpha", "seed")}


def _run_unit(out, name, ucfg, scale, compute, progress):
    found = load_unit(out, name, ucfg)
    if found is not None:
        arrays, info = found
        return arrays, info
    t0 = time.perf_counter()
    arrays = compute()
    wall = time.perf_counter() - t0
    info = {"name": name, "scale": scale, "config": ucfg, "wall_time_s": round(wall, 1), **provenance()}
    if out is not None:
        save_unit(pathlib.Path(out), name, ucfg, arrays, wall, scale)
    return arrays, info


def surface_unit(ctx, cfg, T, out=None, progress=False):
    ucfg = dict(_base(cfg), unit="surface", horizon=T, n_samples=_per_horizon(cfg, "n_samples", T),
                n_eval_batches=cfg["surface_eval_batches"], alpha_0_range=cfg["alpha_0_range"],
                beta_range=cfg["beta_range"])

    def compute():
        problem = hg.make_offline_problem(jax.random.fold_in(ctx.key, 1000 + T), ctx.X, ctx.Y, ctx.w0, T,
                                          cfg["batch_size"], ucfg["n_eval_batches"], cfg["K"], cfg["mu"])
        return meta.random_search(jax.random.fold_in(ctx.key, 2000 + T), problem, ucfg["n_samples"],
                                  cfg["alpha_0_range"], cfg["beta_range"], chunk=cfg["surface_chunk"],
                                  progress=progress)

    return _run_unit(out, f"surface-T{T}", ucfg, cfg["scale"], compute, progress)


def smd_unit(ctx, cfg, T, beta0, out=None, progress=False, checkpoint_every=25):
    M = _per_horizon(cfg, "meta_steps", T)
    ucfg = dict(_base(cfg), unit="smd", horizon=T, init_beta=beta0, init_alpha_0=cfg["init_alpha_0"],
                meta_steps=M, meta_lr=cfg["meta_lr"], n_eval_batches=cfg["smd_eval_batches"])
    name = f"smd-T{T}-beta{beta0:g}"
    partial = None if out is None else pathlib.Path(out) / f".{name}-{unit_hash(ucfg)}.partial.npz"

    def to_arrays(r: meta.SMDResult):
        a = {"alpha_0": r.alpha_0, "beta": r.beta, "values": r.values}
        a.update({f"log_{k}": v for k, v in r.log_hparams.items()})
        a.update({f"adam_{f}_{k}": np.asarray(v) for f in ("m", "v") for k, v in getattr(r.adam, f).items()})
        a["adam_count"] = np.asarray(r.adam.count)
        return a

    def from_arrays(a):
        names = [k[4:] for k in a if k.startswith("log_")]
        adam = meta.AdamState({k: jnp.float32(a[f"adam_m_{k}"]) for k in names},
                              {k: jnp.float32(a[f"adam_v_{k}"]) for k in names}, jnp.int32(a["adam_count"]))
        return meta.SMDResult(a["alpha_0"], a["beta"], a["values"], {k: a[f"log_{k}"] for k in names}, adam)

    def compute():
        key = jax.random.fold_in(ctx.key, 3000 + T)
        h0 = hg.default_hparams(beta=beta0, alpha_0=cfg["init_alpha_0"], dtype=jnp.float32)
        res = None
        if partial is not None and partial.exists():
            with np.load(partial) as z:
                res = from_arrays({k: z[k] for k in z.files})
        done = 0 if res is None else len(res.values)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=M, initial=done, desc=name)
        while done < M:
            n = min(checkpoint_every, M - done)
            res = meta.smd(key, ctx.X, ctx.Y, ctx.w0, T, h0, n, meta_lr=cfg["meta_lr"],
                           batch_size=cfg["batch_size"], n_eval_batches=ucfg["n_eval_batches"], K=cfg["K"],
                           mu=cfg["mu"], start=res)
            done = len(res.values)
            if partial is not None:
                arrays = to_arrays(res)

                def write(tmp, arrays=arrays):
                    with open(tmp, "wb") as f:
                        np.savez(f, **arrays)

                _atomic_write(partial, write)
            if bar is not None:
                bar.update(n)
        if bar is not None:
            bar.close()
        if res is None:
            res = meta.smd(key, ctx.X, ctx.Y, ctx.w0, T, h0, 0, K=cfg["K"], mu=cfg["mu"])
        return to_arrays(res)

    arrays, info = _run_unit(out, name, ucfg, cfg["scale"], compute, progress)
    if partial is not None and partial.exists() and load_unit(out, name, ucfg) is not None:
        partial.unlink()
    return arrays, info


def smd_choice(trajectories, tail: float = 0.1):
    """``(alpha_0, beta)`` at the end of SMD: geometric mean over the last ``tail`` of each trajectory and over
    the trajectories (several initializations)."""
    la, lb = [], []
    for t in trajectories:
        n = max(1, int(round(tail * (len(t["alpha_0"]) - 1))))
        la.append(np.mean(np.log(t["alpha_0"][-n:])))
        lb.append(np.mean(np.log(t["beta"][-n:])))
    return float(np.exp(np.mean(la))), float(np.exp(np.mean(lb)))


def long_unit(ctx, cfg, horizons, choices, out=None, progress=False, chosen_by=None):
    """Train with each horizon's ``choices[T] = (alpha_0, beta)`` for ``final_steps`` (one row per horizon, same
    batches); ``chosen_by`` says how the choices were made (default: from ``cfg["choose"]``)."""
    alpha = [choices[T][0] for T in horizons]
    beta = [choices[T][1] for T in horizons]
    ucfg = dict(_base(cfg), unit="long", horizons=list(horizons), alpha_0=[round(a, 6) for a in alpha],
                beta=[round(b, 6) for b in beta], steps=cfg["final_steps"], record_every=cfg["record_every"],
                n_eval_batches=cfg["long_eval_batches"])
    if chosen_by is not None:
        ucfg["chosen_by"] = chosen_by
    elif cfg["choose"] == "surface":  # how the schedules were chosen (absent: from SMD)
        ucfg["chosen_by"] = f"surface top {cfg['top']}"

    def compute():
        r = meta.train_schedule(jax.random.fold_in(ctx.key, 4000), ctx.X, ctx.Y, ctx.Xt, ctx.Yt, ctx.w0,
                                ucfg["alpha_0"], ucfg["beta"], cfg["final_steps"],
                                record_every=cfg["record_every"], batch_size=cfg["batch_size"],
                                n_eval_batches=cfg["long_eval_batches"], K=cfg["K"], mu=cfg["mu"])
        r["horizons"] = np.asarray(horizons)
        return r

    return _run_unit(out, "long", ucfg, cfg["scale"], compute, progress)


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
                loss[i, j] = np.asarray(meta.surface_losses(a, jnp.asarray(betas), p))
        return {"horizons": np.asarray(H), "batch_sizes": np.asarray(Bs), "betas": betas.astype(np.float64),
                "loss": loss}

    return _run_unit(out, "sweep", ucfg, cfg["scale"], compute, progress)


def run_mnist(scale: str = "book", out=None, horizons=None, units=("surface", "smd", "long", "sweep"),
              progress: bool = False, **overrides) -> dict:
    """Run (or load from ``out``) every unit for ``scale``; return ``{"config", "surface", "smd", "choice",
    "long", "sweep", "info", "data_source"}`` (dicts keyed by horizon where relevant)."""
    cfg = config(scale, **({"horizons": tuple(horizons)} if horizons else {}), **overrides)
    ctx = _Context(cfg)
    res = {"config": cfg, "surface": {}, "smd": {}, "choice": {}, "info": {}, "data_source": ctx.source}
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
            res["choice"][T] = smd_choice(res["smd"][T])
        elif T in res["surface"]:
            res["choice"][T] = meta.best_of_surface(res["surface"][T], cfg["top"])
    if "long" in units and res["choice"]:
        hs = [T for T in cfg["horizons"] if T in res["choice"]]
        res["long"], res["info"]["long"] = long_unit(ctx, cfg, hs, res["choice"], out, progress)
    if "sweep" in units:
        res["sweep"], res["info"]["sweep"] = sweep_unit(ctx, cfg, out, progress)
    return res


def long_over_seeds(scale: str, choices: dict, chosen_by: str, seeds, out=None, progress: bool = False,
                    **overrides) -> dict:
    """The long runs of fixed ``choices`` (``{T: (alpha_0, beta)}``, made once, e.g. from the seed-0 surfaces) for
    every seed in ``seeds``: each seed draws its own initialization, pretraining and batches, so the spread over
    seeds is the spread of the long run itself, not of the search. Returns ``{seed: (arrays, info)}``."""
    runs = {}
    horizons = tuple(sorted(int(T) for T in choices))
    for seed in seeds:
        cfg = config(scale, horizons=horizons, seed=int(seed), **overrides)
        ctx = _Context(cfg)
        runs[int(seed)] = long_unit(ctx, cfg, horizons, {int(T): c for T, c in choices.items()}, out, progress,
                                    chosen_by=chosen_by)
    return runs


def load_results(folder, scale: str | None = None) -> dict:
    """Every finished unit in ``folder`` (optionally of one ``scale``): ``{file stem: (arrays, metadata)}``."""
    folder = pathlib.Path(folder)
    found = {}
    if not folder.is_dir():
        return found
    for js in sorted(folder.glob("*.json")):
        info = json.loads(js.read_text())
        if scale is not None and info.get("scale") != scale:
            continue
        npz = js.with_suffix(".npz")
        if npz.exists():
            with np.load(npz) as z:
                found[js.stem] = ({k: z[k] for k in z.files}, info)
    return found


#: The per-run arrays of a long unit (first axis: one row per horizon); ``step`` is shared by all rows.
LONG_ROWS = ("horizons", "alpha_0", "beta", "train_loss", "test_error", "lr", "diverged")


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


def surface_choices(surfaces: dict, top: int = 3) -> dict:
    """Each horizon's surface optimum (:func:`meta.best_of_surface`, geometric mean of the ``top`` best samples) per
    budget: ``{n_samples: {T: (alpha_0, beta)}}``, largest budget first. ``surfaces`` is :func:`organize`'s
    ``{T: [(arrays, info), ...]}``."""
    out = {}
    for T, runs in surfaces.items():
        for a, i in runs:
            n = int(i["config"]["n_samples"])
            if T in out.setdefault(n, {}):
                raise ValueError(f"surfaces: two units with n_samples={n} for horizon {T}; keep one of them")
            out[n][T] = meta.best_of_surface(a, top)
    return {n: dict(sorted(out[n].items())) for n in sorted(out, reverse=True)}


def _choice_label(arrays, info, surfaces, smds) -> str:
    """How a long unit's schedules were chosen, found by recomputing each candidate's choice from the units: which
    surface budget, or which SMD runs of each horizon (any subset of its starts), give the unit's ``(alpha_0, beta)``
    as :func:`long_unit` stored them (rounded to 6 decimals)."""
    c = info["config"]
    want = {int(T): (a, b) for T, a, b in zip(arrays["horizons"], c["alpha_0"], c["beta"])}

    def same(choice, T):
        return np.allclose(np.round(choice, 6), want[T], rtol=0, atol=1e-9)

    by = c.get("chosen_by", "SMD")
    if by.startswith("surface"):
        top = int(by.split()[-1])
        for n, choices in surface_choices(surfaces, top).items():
            if all(T in choices and same(choices[T], T) for T in want):
                return f"surface top {top} of {n} samples"
        return by
    inits = set()
    for T in want:
        runs = smds.get(T, [])
        subsets = (sub for k in range(len(runs), 0, -1) for sub in itertools.combinations(runs, k))
        match = next((sub for sub in subsets if same(smd_choice([a for a, _ in sub]), T)), None)
        if match is None:
            return "SMD"
        inits |= {i["config"]["init_beta"] for _, i in match}
    return "SMD from beta = " + " and ".join(f"{b:g}" for b in sorted(inits))


def organize(units: dict) -> dict:
    """The units of :func:`load_results` grouped for reading: ``{"surface": {T: [(arrays, info), ...]},
    "smd": {T: [(arrays, info), ...]}, "long": [(arrays, info, label), ...]}``, horizons increasing, each horizon's
    surfaces with the most samples first, long runs' rows sorted by horizon (:func:`sort_long`) and labelled with
    how their schedules were chosen (which surface budget or which SMD runs reproduce their ``(alpha_0, beta)``)."""
    out = {"surface": {}, "smd": {}, "long": []}
    for arrays, info in units.values():
        kind = info["config"]["unit"]
        if kind in ("surface", "smd"):
            out[kind].setdefault(int(info["config"]["horizon"]), []).append((arrays, info))
    for kind in ("surface", "smd"):
        out[kind] = dict(sorted(out[kind].items()))
    for runs in out["surface"].values():
        runs.sort(key=lambda r: -r[1]["config"]["n_samples"])
    for runs in out["smd"].values():
        runs.sort(key=lambda r: r[1]["config"]["init_beta"])
    for arrays, info in units.values():
        if info["config"]["unit"] == "long":
            out["long"].append((sort_long(arrays), info, _choice_label(arrays, info, out["surface"], out["smd"])))
    return out


def device_label(info: dict) -> str:
    """Where a unit ran, in words: the accelerator's name, or the CPU core count."""
    hw = info["hardware"]
    gpus = [d.split(":", 1)[1] for d in hw["devices"] if not d.startswith("cpu")]
    return ", ".join(gpus) if gpus else f"{hw['cpu_count']}-core CPU"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shb_lib.experiments", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("mnist", help="offline meta-optimization on MNIST (surfaces, SMD, long runs, slider sweep)")
    p.add_argument("--scale", choices=sorted(SCALES), default="book")
    p.add_argument("--out", default="results/", help="folder of the result files (default results/)")
    p.add_argument("--horizons", type=int, nargs="+", help="subset of horizons (default: the scale's)")
    p.add_argument("--units", nargs="+", default=["surface", "smd", "long", "sweep"],
                   choices=["surface", "smd", "long", "sweep"])
    p.add_argument("--samples", type=int, nargs="+",
                   help="surface samples: one number for every horizon, or one per horizon (default: the scale's)")
    p.add_argument("--meta-steps", type=int, nargs="+",
                   help="SMD meta-steps: one number for every horizon, or one per horizon (default: the scale's)")
    p.add_argument("--chunk", type=int, default=64,
                   help="surface samples trained at once under vmap (memory vs speed; results do not depend on it)")
    p.add_argument("--meta-lr", type=float, help="Adam learning rate of SMD in log space (default: the scale's)")
    p.add_argument("--init-betas", type=float, nargs="+", help="SMD initial betas (default: 0.1 10)")
    p.add_argument("--choose", choices=["smd", "surface"], help="how each horizon's (alpha_0, beta) is chosen")
    p.add_argument("--seeds", type=int, nargs="+", default=[0],
                   help="one whole run per seed (data order, initialization, batches, samples; default 0)")
    q = sub.add_parser("long-seeds", help="long runs of the surface choices in a results folder, over seeds")
    q.add_argument("--scale", choices=sorted(SCALES), default="paper")
    q.add_argument("--choices-from", default="results/", help="folder holding the surfaces (default results/)")
    q.add_argument("--samples", type=int, required=True, help="use the surfaces of this many samples")
    q.add_argument("--out", required=True, help="folder of the long-run files")
    q.add_argument("--seeds", type=int, nargs="+", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "long-seeds":
        return _long_seeds_main(parser, args)
    if args.horizons and min(args.horizons) < 1:
        parser.error("--horizons must be >= 1")
    for name, v in (("--meta-lr", args.meta_lr), ("--chunk", args.chunk)):
        if v is not None and not v > 0:
            parser.error(f"{name} must be > 0")
    horizons = args.horizons or SCALES[args.scale]["horizons"]
    per_horizon = {}
    for name, v in (("--samples", args.samples), ("--meta-steps", args.meta_steps)):
        if v is None:
            continue
        if min(v) < 1:
            parser.error(f"{name} must be >= 1")
        if len(v) not in (1, len(horizons)):
            parser.error(f"{name} takes one value or one per horizon ({len(horizons)}), got {len(v)}")
        per_horizon[name] = v[0] if len(v) == 1 else dict(zip(horizons, v))
    if args.init_betas and min(args.init_betas) <= 0:
        parser.error("--init-betas must be > 0")
    if min(args.seeds) < 0 or len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds must be distinct integers >= 0, got {args.seeds}")
    for seed in args.seeds:
        res = run_mnist(args.scale, args.out, args.horizons, tuple(args.units), progress=True,
                        n_samples=per_horizon.get("--samples"), meta_steps=per_horizon.get("--meta-steps"),
                        choose=args.choose, meta_lr=args.meta_lr, surface_chunk=args.chunk,
                        init_betas=tuple(args.init_betas) if args.init_betas else None, seed=seed)
        for T, (a, b) in res["choice"].items():
            print(f"seed {seed}, T={T}: alpha_0={a:.4g} beta={b:.4g}")
        if "long" in res:
            for T, loss in zip(res["long"]["horizons"], res["long"]["train_loss"][:, -1]):
                print(f"seed {seed}, T={T}: final training loss {loss:.4g}")
    return 0


def _long_seeds_main(parser, args) -> int:
    if min(args.seeds) < 0 or len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds must be distinct integers >= 0, got {args.seeds}")
    units = organize(load_results(args.choices_from, scale=args.scale))
    budgets = surface_choices(units["surface"], SCALES[args.scale]["top"])
    if args.samples not in budgets:
        parser.error(f"--samples: no {args.samples}-sample surfaces in {args.choices_from} (found {sorted(budgets)})")
    chosen_by = f"surface top {SCALES[args.scale]['top']} of {args.samples} samples"
    runs = long_over_seeds(args.scale, budgets[args.samples], chosen_by, args.seeds, args.out, progress=True)
    for seed, (arrays, info) in runs.items():
        a = sort_long(arrays)
        losses = ", ".join(f"T={T}: {loss:.4g}" for T, loss in zip(a["horizons"], a["train_loss"][:, -1]))
        print(f"seed {seed}: final training loss {losses}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
