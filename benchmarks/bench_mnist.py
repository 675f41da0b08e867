"""Benchmarks of the MNIST half, measured side by side in one process (ratios; not timed tests).

    python benchmarks/bench_mnist.py [--synthetic] [--rss]

1. Hypergradient lookahead cost per step / plain training step (same batch size, same run), with 2 and 3
   hyperparameters (forward mode), and reverse mode for comparison; beside it the arithmetic ratio (XLA's FLOP
   count of one forward-mode step over one plain step), the floor that no schedule of the same arithmetic beats.
2. Memory of the hypergradient at T = 20k vs T = 100 (XLA's compiled memory analysis: arguments + outputs +
   scratch), forward vs reverse mode; with --rss also the peak resident memory of a real run in a subprocess.
3. Loss-surface throughput (sample-steps per second): vmap over samples vs a Python loop over samples; beside it
   the ceiling of any batching, the machine's large-matrix-product rate over the rate one sample already reaches.

Uses MNIST (SHB_DATA_DIR) when available, else (or with --synthetic) random data of the same shape.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

from bench_timing import best_time
from shb_lib.precision import use_float64
from shb_lib.mnist import hypergrad as hg
from shb_lib.mnist import model, surface

use_float64()  # as the chapters run (shb_lib.precision)


def data(synthetic: bool):
    if not synthetic:
        try:
            from shb_lib.mnist.data import load_mnist

            ds = load_mnist(download=False)
            return jnp.asarray(ds.train_images, jnp.float32), jnp.asarray(ds.train_labels, jnp.int32), "MNIST"
        except Exception as e:  # noqa: BLE001
            print(f"(MNIST not available: {e}; using synthetic data)")
    k = jax.random.PRNGKey(0)
    x = jax.random.uniform(k, (60000, 784), dtype=jnp.float32)
    return x, jax.random.randint(k, (60000,), 0, 10).astype(jnp.int32), "synthetic"


def memory_bytes(fn, *args):
    m = fn.lower(*args).compile().memory_analysis()
    return m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes, m.temp_size_in_bytes


def rss_child(T: int, synthetic: bool) -> None:
    import resource

    X, Y, _ = data(synthetic)
    w0 = model.init_mlp(jax.random.PRNGKey(0))
    p = hg.make_offline_problem(jax.random.PRNGKey(1), X, Y, w0, T, 100, 1, time_const=5000.0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    jax.block_until_ready(hg.hypergradient(hg.default_hparams(mu=0.9), p))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{before} {after}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--rss", action="store_true", help="also run T=100 and T=20k in subprocesses (slow)")
    ap.add_argument("--steps", type=int, default=200, help="lookahead steps timed in part 1")
    ap.add_argument("--parts", type=int, nargs="+", default=[1, 2, 3], choices=[1, 2, 3], help="which parts to run")
    ap.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child, args.synthetic)
        return 0
    X, Y, source = data(args.synthetic)
    print(f"data: {source}; devices: {jax.devices()}; batch 100; network 784-100-100-10")
    w0 = model.init_mlp(jax.random.PRNGKey(0))
    T = args.steps
    p = hg.make_offline_problem(jax.random.PRNGKey(1), X, Y, w0, T, 100, 1, time_const=5000.0)

    h2, h3 = hg.default_hparams(beta=1.0), hg.default_hparams(beta=1.0, mu=0.9)
    if 1 in args.parts:
        part1(p, T, h2, h3)
    if 2 in args.parts:
        part2(X, Y, w0, h3, args)
    if 3 in args.parts:
        part3(X, Y, w0)
    return 0


def flops(fn, *args) -> float:
    """Floating-point operations of one call of ``fn`` as XLA counts them (its compiled cost analysis)."""
    ca = jax.jit(fn).lower(*args).compile().cost_analysis()
    return float((ca[0] if isinstance(ca, list) else ca)["flops"])


def step_flops(p, h):
    """FLOPs of one plain training step and of one forward-mode step (state and tangents) with hyperparameters h."""
    w, idx, t = p.w0, p.train_idx[0], jnp.float32(0.0)
    v = jax.tree.map(jnp.zeros_like, w)
    n_h = len(h)
    u = jax.tree.map(lambda x: jnp.zeros((n_h,) + x.shape, x.dtype), w)
    plain = flops(lambda w, v, p: hg.schedule_step(w, v, t, h, p, idx), w, v, p)  # p as an argument: no baked-in data
    forward = flops(lambda c, p: hg.tangent_step(c, t, h, p, idx), (w, v, u, u), p)
    return plain, forward


def part1(p, T, h2, h3):
    print("\n1. cost per lookahead step (ms), ratio to a plain training step, same run")
    plain = best_time(lambda: hg.meta_objective(h2, p)) / T
    rows = [("plain training step", plain, None)]
    for name, h in (("forward mode, 2 hyperparameters", h2), ("forward mode, 3 hyperparameters", h3)):
        f_plain, f_fwd = step_flops(p, h)
        rows.append((name, best_time(lambda h=h: hg.hypergradient(h, p)) / T, f_fwd / f_plain))
    rows.append(("reverse mode, 3 hyperparameters", best_time(lambda: hg.reverse_hypergradient(h3, p)) / T, None))
    for name, t, fr in rows:
        arith = "" if fr is None else f"   arithmetic x{fr:4.2f} (XLA FLOP count of one step)"
        print(f"   {name:<36s} {1e3 * t:7.3f} ms   x{t / plain:5.2f}{arith}")
    print("   (forward mode cannot cost less than its arithmetic ratio unless a plain step wastes the machine;\n"
          "    part 3 measures how close a plain step runs to the machine's matrix-multiply rate)")



def part2(X, Y, w0, h3, args):
    print("\n2. memory of the hypergradient (compiled: arguments + outputs + scratch), 3 hyperparameters")
    mem = {}
    for TT in (100, 20000):
        pp = hg.make_offline_problem(jax.random.PRNGKey(1), X, Y, w0, TT, 100, 1, time_const=5000.0)
        mem[TT] = (memory_bytes(hg.hypergradient, h3, pp), memory_bytes(hg.reverse_hypergradient, h3, pp))
    for mode, i in (("forward", 0), ("reverse", 1)):
        a, b = mem[100][i], mem[20000][i]
        print(f"   {mode}: T=100 {a[0] / 2**20:9.1f} MiB (scratch {a[1] / 2**20:8.1f}), T=20k {b[0] / 2**20:9.1f} MiB "
              f"(scratch {b[1] / 2**20:8.1f})   T=20k / T=100 = {b[0] / a[0]:.3f}")
    if args.rss:
        peaks = {}
        for TT in (100, 20000):
            cmd = [sys.executable, __file__, "--rss-child", str(TT)] + (["--synthetic"] if args.synthetic else [])
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
            peaks[TT] = int(out[-1]) / 1024
        print(f"   peak RSS of a real forward-mode run: T=100 {peaks[100]:.0f} MiB, T=20k {peaks[20000]:.0f} MiB, "
              f"ratio {peaks[20000] / peaks[100]:.3f}")



def part3(X, Y, w0):
    print("\n3. loss-surface throughput, T=100, 32 samples (sample-steps per second)")
    ps = hg.make_offline_problem(jax.random.PRNGKey(2), X, Y, w0, 100, 100, 1, time_const=5000.0)
    a = surface.sample_log_uniform(jax.random.PRNGKey(3), 32, 1e-3, 0.5)
    b = surface.sample_log_uniform(jax.random.PRNGKey(4), 32, 1e-2, 200.0)
    tv = best_time(lambda: surface.surface_losses(a, b, ps), repeats=2)
    tl = best_time(lambda: surface.surface_losses_loop(a, b, ps), repeats=2)
    n = 32 * 100
    print(f"   vmap {n / tv:9.0f}   python loop {n / tl:9.0f}   speed-up x{tl / tv:.2f}")
    # Ceiling: batching samples cannot beat the machine's dense matrix-multiply rate.
    # XLA counts a scan's body once, so count one step and multiply (the one evaluation batch is left out, which
    # underestimates the loop's rate and so overestimates the ceiling).
    f_step = step_flops(ps, hg.default_hparams(beta=1.0))[0]
    peak = matmul_rate()
    loop_rate = f_step * n / tl
    print(f"   one sample runs at {loop_rate / 1e9:.0f} GFLOP/s in the loop; a 2000x2000 float32 matrix product at "
          f"{peak / 1e9:.0f} GFLOP/s\n   => no batching of samples can exceed x{peak / loop_rate:.2f} on this machine")


def matmul_rate(n=2000) -> float:
    """FLOP/s of a large float32 matrix product: the machine's practical peak for this network's arithmetic."""
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    mm = jax.jit(lambda x: x @ x)
    return 2 * n**3 / best_time(lambda: mm(a), repeats=5)


if __name__ == "__main__":
    sys.exit(main())
