"""Do the paper's two remedies move the network towards short horizons that work? (Beyond the paper, chapter 7.)

The ICLR paper (section 4) suggests that a good preconditioner or large batches might let short-horizon
meta-optimization work. On MNIST at book scale we measure the horizon sweep of chapter 4 with each remedy: the
inverse-time decay $\\alpha_t = \\alpha_0/(1 + t/T_c)^\\beta$ (ICLR section 3.2, time constant ``T_c = 500`` as at book
scale; its config key is ``K``), the decay $\\beta$ chosen on a grid (at a fixed $\\alpha_0$) by the training loss
after the shortest and after the longest horizon, and both choices trained for ``final_steps``. The base optimizer is
SGD with momentum 0.9 (the paper's, :mod:`shb_lib.mnist.optimizer`) or Adam (``optax.scale_by_adam``, default
constants; a diagonal preconditioner), with the same schedule multiplying its update; batches of 100 or 300.

One *unit* is one (seed, optimizer, batch size): its result is a small JSON file
``<optimizer>-B<batch>-seed<seed>-<hash>.json`` written atomically with its configuration, versions and hardware;
a rerun skips finished units. Command line::

    python -m shb_lib.mnist.remedies --seeds 0 1 2 3 4 --out results/remedies [--optimizers sgd adam]
        [--batch-sizes 100]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from .. import checks, decay, results_io
from ..divergence import finite_or_inf
from ..precision import use_float64
from . import batches, findings, model, optimizer, training
from . import experiments as ex

__all__ = ["OPTIMIZERS", "CONFIG", "base_transform", "train", "sweep_losses", "unit_config", "run_unit",
           "load_units", "measurements", "summary", "book_beta_ratios", "main"]

OPTIMIZERS = ("sgd", "adam")
#: Settings of the book-scale remedies runs (our choice; the pretraining, ``K``, horizons, beta grid and final runs
#: are chapter 4's book scale, :data:`shb_lib.mnist.experiments.SCALES`).
CONFIG = dict(
    K=500.0, horizons=(50, 1000), betas=(0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0),
    alpha_0={"sgd": 0.1, "adam": 0.001}, eval_examples=1000, final_steps=4000, record_every=250,
    long_eval_batches=20, pretrain_steps=50, pretrain_alpha=0.1, mu=optimizer.MOMENTUM, pretrain_batch=100,
)


def base_transform(name: str):
    """The base optimizer's update direction as an ``optax`` transformation, before the learning rate: ``"sgd"`` is
    ``optax.trace(decay=0.9)`` (``v' = mu v + g``, the convention of :mod:`shb_lib.mnist.optimizer`), ``"adam"`` is
    ``optax.scale_by_adam()`` (Kingma & Ba 2015, default constants)."""
    import optax

    checks.check_choice("optimizer", name, OPTIMIZERS)
    return optax.trace(decay=CONFIG["mu"]) if name == "sgd" else optax.scale_by_adam()


def train(w0, alpha_0, beta, time_const, name: str, images, labels, idx, t0=0):
    """Train from ``w0`` on the batches ``idx`` (``(steps, B)``) with ``w' = w - alpha_t u_t``, ``u_t`` the update of
    :func:`base_transform` and ``alpha_t`` the inverse-time decay (:func:`shb_lib.decay.inverse_time_decay`).
    Unvalidated (usable under ``jit``/``vmap``); returns the weights."""
    tx = base_transform(name)

    def step(carry, ti):
        w, s = carry
        t, i = ti
        g = jax.grad(model.cross_entropy)(w, images[i], labels[i])
        u, s = tx.update(g, s, w)
        lr = decay.inverse_time_decay(t, alpha_0, beta, time_const)
        return (jax.tree.map(lambda wi, ui: wi - lr * ui, w, u), s), None

    ts = (t0 + jnp.arange(idx.shape[0])).astype(jnp.float32)
    (w, _), _ = jax.lax.scan(step, (w0, tx.init(w0)), (ts, idx))
    return w


def _mean_loss(w, images, labels, eval_idx):
    losses = jax.vmap(lambda e: model.cross_entropy(w, images[e], labels[e]))(eval_idx)
    return finite_or_inf(jnp.mean(losses))


def sweep_losses(w0, alpha_0, betas, time_const, name, images, labels, idx, eval_idx):
    """Training loss on ``eval_idx`` after training on ``idx`` with each decay in ``betas`` (vmapped; ``inf`` if
    diverged)."""
    def run(b):
        return _mean_loss(train(w0, alpha_0, b, time_const, name, images, labels, idx), images, labels, eval_idx)

    return jax.vmap(run)(betas)


def long_losses(w0, alpha_0, betas, time_const, name, images, labels, idx, eval_idx, record_every):
    """Training loss on ``eval_idx`` every ``record_every`` steps (and at 0) of a run per decay in ``betas``."""
    chunks = idx.reshape(-1, record_every, idx.shape[1])

    def run(b):
        def chunk(w, ci):
            c, batch = ci
            w = train(w, alpha_0, b, time_const, name, images, labels, batch, t0=c * record_every)
            return w, _mean_loss(w, images, labels, eval_idx)

        _, losses = jax.lax.scan(chunk, w0, (jnp.arange(chunks.shape[0]), chunks))
        return jnp.concatenate([_mean_loss(w0, images, labels, eval_idx)[None], losses])

    return jax.vmap(run)(betas)


_sweep_jit = jax.jit(sweep_losses, static_argnums=(4,))
_long_jit = jax.jit(long_losses, static_argnums=(4, 9))


def unit_config(seed: int, optimizer: str, batch_size: int) -> dict:
    """The configuration of one unit (it names the unit's file through its hash)."""
    seed = checks.check_int("seed", seed, 0)
    checks.check_choice("optimizer", optimizer, OPTIMIZERS)
    batch_size = checks.check_int("batch_size", batch_size, 1, 60000)
    cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in CONFIG.items() if k != "alpha_0"}
    return dict(cfg, seed=seed, optimizer=optimizer, batch_size=batch_size, alpha_0=CONFIG["alpha_0"][optimizer])


def unit_path(out, cfg: dict) -> pathlib.Path:
    """``<out>/<optimizer>-B<batch>-seed<seed>-<hash>.json``."""
    digest = hashlib.sha1(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:10]
    return pathlib.Path(out) / f"{cfg['optimizer']}-B{cfg['batch_size']}-seed{cfg['seed']}-{digest}.json"


def _finite_list(x):
    return [float(v) if np.isfinite(v) else None for v in np.asarray(x, np.float64).ravel()]


def compute_unit(cfg: dict, images, labels) -> dict:
    """Run one unit: the warm start of chapter 4 (seed ``cfg["seed"]``), the beta sweep at each horizon, and the
    long runs of the shortest and the longest horizon's choices. Returns the JSON-able result (``None`` for a
    diverged loss)."""
    key = jax.random.PRNGKey(cfg["seed"])
    w0 = training.pretrain(jax.random.fold_in(key, 0), images, labels, cfg["pretrain_steps"], cfg["pretrain_alpha"],
                       cfg["mu"], cfg["pretrain_batch"])
    n, B = images.shape[0], cfg["batch_size"]
    betas = jnp.asarray(cfg["betas"], jnp.float32)
    a0, time_const = jnp.float32(cfg["alpha_0"]), jnp.float32(cfg["K"])
    sweep = []
    for T in cfg["horizons"]:
        k = jax.random.fold_in(key, 9000 + T)
        idx = batches.epoch_batches(jax.random.fold_in(k, 1), n, T, B)
        eval_idx = batches.epoch_batches(jax.random.fold_in(k, 2), n, max(1, cfg["eval_examples"] // B), B)
        sweep.append(np.asarray(_sweep_jit(w0, a0, betas, time_const, cfg["optimizer"], images, labels, idx, eval_idx)))
    sweep = np.stack(sweep)
    if not np.all(np.isfinite(sweep).any(axis=1)):
        raise checks.DivergedError(f"every beta diverged at some horizon: {sweep}")
    chosen = np.asarray(cfg["betas"])[np.argmin(np.where(np.isfinite(sweep), sweep, np.inf), axis=1)]
    k = jax.random.fold_in(key, 9999)
    idx = batches.epoch_batches(jax.random.fold_in(k, 1), n, cfg["final_steps"], B)
    eval_idx = batches.epoch_batches(jax.random.fold_in(k, 2), n, cfg["long_eval_batches"], 100)
    long = np.asarray(_long_jit(w0, a0, jnp.asarray(chosen[[0, -1]], jnp.float32), time_const, cfg["optimizer"], images,
                                labels, idx, eval_idx, cfg["record_every"]))
    return {"sweep_loss": [_finite_list(r) for r in sweep], "chosen_beta": [float(b) for b in chosen],
            "long_loss": [_finite_list(r) for r in long]}


def run_unit(out, seed: int, optimizer: str, batch_size: int, data=None) -> dict:
    """Load the unit from ``out`` if it is there, else compute it and write it atomically; return its record."""
    cfg = unit_config(seed, optimizer, batch_size)
    path = unit_path(out, cfg)
    if path.exists():
        record = results_io.read_json(path)
        if record.get("config") == cfg:
            return record
    if data is None:
        from .data import load_mnist

        ds = load_mnist()
        data = (jnp.asarray(ds.train_images, jnp.float32), jnp.asarray(ds.train_labels, jnp.int32))
    start = time.time()
    result = compute_unit(cfg, *data)
    record = dict(name="remedies", config=cfg, result=result, wall_time_s=round(time.time() - start, 1),
                  created_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **ex.provenance())
    results_io.atomic_write_text(path, results_io.dumps_json(record, indent=1) + "\n")
    return record


def load_units(folder) -> list[dict]:
    """Every unit record in ``folder`` (sorted by optimizer, batch size, seed)."""
    records = [results_io.read_json(p) for p in sorted(pathlib.Path(folder).glob("*-B*-seed*-*.json"))]
    records = [r for r in records if r.get("name") == "remedies"]
    return sorted(records, key=lambda r: (r["config"]["optimizer"], r["config"]["batch_size"], r["config"]["seed"]))


def measurements(record: dict) -> dict:
    """One unit's horizon sweep, shortest against longest horizon: ``beta_short``, ``beta_long``, ``beta_ratio``
    (short / long), ``loss_ratio`` (the short choice's training loss at the end of the long run over the long
    choice's; ``inf`` if the short one diverged) and ``tail_ratio`` (the same, averaged over the last 1000 steps)."""
    res, cfg = record["result"], record["config"]
    b = res["chosen_beta"]
    loss = np.array([[np.inf if v is None else v for v in row] for row in res["long_loss"]])
    n = max(1, 1000 // cfg["record_every"])
    return {"beta_short": b[0], "beta_long": b[-1], "beta_ratio": b[0] / b[-1],
            "loss_ratio": float(loss[0, -1] / loss[1, -1]),
            "tail_ratio": float(loss[0, -n:].mean() / loss[1, -n:].mean())}


def summary(records) -> dict:
    """``{(optimizer, batch_size): {measurement: Spread}}`` over the seeds of ``records``."""
    groups = {}
    for r in records:
        groups.setdefault((r["config"]["optimizer"], r["config"]["batch_size"]), []).append(measurements(r))
    return {g: {k: findings.spread([m[k] for m in ms]) for k in ms[0]} for g, ms in sorted(groups.items())}


def book_beta_ratios(folder, seeds) -> dict:
    """From chapter 4's committed book-scale sweeps (``sweep`` units: batch 30, 100, 300; ``alpha_0 = 0.1``): per
    batch size, the :class:`~shb_lib.mnist.findings.Spread` over ``seeds`` of the shortest horizon's best beta over the
    longest's (the unit of each seed must be in ``folder``)."""
    sweeps = {int(info["config"]["seed"]): arrays for arrays, info in ex.load_results(folder, "book").values()
              if info["config"].get("unit") == "sweep"}
    missing = sorted(set(int(s) for s in seeds) - set(sweeps))
    if missing:
        raise ValueError(f"no book-scale sweep unit for seeds {missing} in {folder}")
    per = {}
    for seed in seeds:
        sw = sweeps[int(seed)]
        best = np.asarray(sw["betas"])[np.argmin(np.asarray(sw["loss"]), axis=-1)]  # (horizons, batch sizes)
        for j, B in enumerate(np.asarray(sw["batch_sizes"]).tolist()):
            per.setdefault(int(B), []).append(float(best[0, j] / best[-1, j]))
    return {B: findings.spread(v) for B, v in sorted(per.items())}


def main(argv=None) -> int:
    use_float64()  # the same precision as the chapters (shb_lib.precision)
    parser = argparse.ArgumentParser(prog="python -m shb_lib.mnist.remedies", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS), choices=OPTIMIZERS)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[100])
    args = parser.parse_args(argv)
    for s in args.seeds:
        checks.check_int("--seeds", s, 0)
    for B in args.batch_sizes:
        checks.check_int("--batch-sizes", B, 1, 60000)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results_io.check_writable_dir(out, "--out")
    for seed in args.seeds:
        for name in args.optimizers:
            for B in args.batch_sizes:
                start = time.time()
                r = run_unit(out, seed, name, B)
                m = measurements(r)
                print(f"seed {seed} {name:4s} B={B:4d}: beta {m['beta_short']:g} vs {m['beta_long']:g}, "
                      f"loss ratio {m['loss_ratio']:.3f} ({time.time() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
