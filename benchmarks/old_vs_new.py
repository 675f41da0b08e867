"""The benchmarks of two versions of ``shb_lib`` side by side in one run: speed ratios and absolute times, interleaved.

    python benchmarks/old_vs_new.py --old DIR [--repeats 5] [--parts mnist surface nqm] [--steps 200] [--verbose]

``DIR`` holds an earlier ``shb_lib`` (for example ``git archive 2f6e964 shb_lib | tar -x -C DIR``, the library
before the restructuring of issue 12). The two packages share a name, so every measurement runs in a fresh
subprocess that puts one of the two first on ``sys.path``; the versions alternate (old, new, new, old, ...), so
that a change of the machine's load during the run touches both alike. Each child compiles first, then reports the
best of a few warm calls. The parent prints, per quantity, the median over the repetitions and the range
(min - max) of each version, and new / old of the medians, with the load average before and after.

Parts (each child measures one part of one version):

- ``mnist``: the hypergradient (:mod:`shb_lib.mnist.hypergrad`): the cost of one lookahead step of a plain training
  step (``meta_objective``), of forward mode with 2 and 3 hyperparameters and of reverse mode, in ms and as a ratio
  to the plain step of the same process (the ratio ``bench_mnist.py`` part 1 prints); beside them XLA's FLOP
  ratio of one forward-mode step to one plain step.
- ``surface``: the loss surface (``surface_losses``: ``vmap`` over 32 samples, T = 100) against the Python loop over
  the same samples (``surface_losses_loop``), ``bench_mnist.py`` part 3's speed-up.
- ``nqm``: ``figure1_schedules(250)`` (the whole of Fig. 1 in one jitted call per problem), warm seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

from bench_timing import best_time  # benchmarks/bench_timing.py: imports no shb_lib

HERE = pathlib.Path(__file__).resolve()
NEW_ROOT = HERE.parents[1]
PARTS = ("mnist", "surface", "nqm")


# --- the child: one part of one version -------------------------------------------------------------------------

def _library(root: str):
    """Import the ``shb_lib`` under ``root`` and return the modules the parts need, under the new names."""
    # an editable install of the working tree maps every shb_lib module to it: drop that finder, then put root first
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
    sys.path.insert(0, root)
    import shb_lib  # noqa: F401  (the old version turns on float64 here)

    ns = {}
    try:
        from shb_lib.mnist import hypergrad, model, surface
        from shb_lib.mnist.data import load_mnist
        from shb_lib.precision import use_float64

        use_float64()  # as the chapters and the benchmarks run
        ns.update(version="new", hg=hypergrad, model=model, surface=surface, load_mnist=load_mnist,
                  time_kw="time_const", step=hypergrad.schedule_step)
    except ImportError:  # the flat layout before issue 12: hypergrad, mlp, meta, data; K for the time constant
        from shb_lib import hypergrad, meta, mlp
        from shb_lib.data import load_mnist

        ns.update(version="old", hg=hypergrad, model=mlp, surface=meta, load_mnist=load_mnist, time_kw="K",
                  step=hypergrad.sgd_step)
    import shb_lib.nqm as nqm

    ns["nqm"] = nqm
    ns["file"] = shb_lib.__file__
    return ns


def _data():
    import jax
    import jax.numpy as jnp

    try:
        ds = LIB["load_mnist"](download=False)
        return jnp.asarray(ds.train_images, jnp.float32), jnp.asarray(ds.train_labels, jnp.int32)
    except Exception:  # noqa: BLE001  (no MNIST here: random data of the same shape costs the same)
        k = jax.random.PRNGKey(0)
        return (jax.random.uniform(k, (60000, 784), dtype=jnp.float32),
                jax.random.randint(k, (60000,), 0, 10).astype(jnp.int32))


def _problem(X, Y, w0, T, key=1):
    import jax

    return LIB["hg"].make_offline_problem(jax.random.PRNGKey(key), X, Y, w0, T, 100, 1, **{LIB["time_kw"]: 5000.0})


def _flops(fn, *args) -> float:
    import jax

    ca = jax.jit(fn).lower(*args).compile().cost_analysis()
    return float((ca[0] if isinstance(ca, list) else ca)["flops"])


def part_mnist(steps: int, repeats: int) -> dict:
    import jax
    import jax.numpy as jnp

    hg = LIB["hg"]
    X, Y = _data()
    w0 = LIB["model"].init_mlp(jax.random.PRNGKey(0))
    p = _problem(X, Y, w0, steps)
    h2, h3 = hg.default_hparams(beta=1.0), hg.default_hparams(beta=1.0, mu=0.9)
    plain = best_time(lambda: hg.meta_objective(h2, p), repeats) / steps
    out = {"plain step (ms)": 1e3 * plain}
    for n, h in ((2, h2), (3, h3)):
        t = best_time(lambda h=h: hg.hypergradient(h, p), repeats) / steps
        out[f"forward, {n} hparams (ms)"] = 1e3 * t
        out[f"forward, {n} hparams / plain"] = t / plain
        w, idx, t0 = p.w0, p.train_idx[0], jnp.float32(0.0)
        v = jax.tree.map(jnp.zeros_like, w)
        u = jax.tree.map(lambda x: jnp.zeros((n,) + x.shape, x.dtype), w)
        f_plain = _flops(lambda w, v, p: LIB["step"](w, v, t0, h, p, idx), w, v, p)
        f_fwd = _flops(lambda c, p: hg.tangent_step(c, t0, h, p, idx), (w, v, u, u), p)
        out[f"forward, {n} hparams, FLOP ratio"] = f_fwd / f_plain
    t = best_time(lambda: hg.reverse_hypergradient(h3, p), repeats) / steps
    out["reverse, 3 hparams (ms)"] = 1e3 * t
    out["reverse, 3 hparams / plain"] = t / plain
    return out


def part_surface(steps: int, repeats: int) -> dict:
    import jax

    s = LIB["surface"]
    X, Y = _data()
    w0 = LIB["model"].init_mlp(jax.random.PRNGKey(0))
    ps = _problem(X, Y, w0, 100, key=2)
    a = s.sample_log_uniform(jax.random.PRNGKey(3), 32, 1e-3, 0.5)
    b = s.sample_log_uniform(jax.random.PRNGKey(4), 32, 1e-2, 200.0)
    tv = best_time(lambda: s.surface_losses(a, b, ps), max(1, repeats // 2))
    tl = best_time(lambda: s.surface_losses_loop(a, b, ps), max(1, repeats // 2))
    return {"surface vmap (s)": tv, "surface loop (s)": tl, "surface loop / vmap": tl / tv}


def part_nqm(steps: int, repeats: int) -> dict:
    nqm = LIB["nqm"]
    t = best_time(lambda: [s.losses for d in nqm.figure1_schedules(250).values() for s in d.values()],
              max(1, repeats // 2))
    return {"figure1_schedules(250) (s)": t}


def child(version_root: str, part: str, steps: int, repeats: int) -> None:
    global LIB
    LIB = _library(version_root)
    out = {"part_fn": part}
    out.update(globals()[f"part_{part}"](steps, repeats))
    out["version"], out["file"] = LIB["version"], LIB["file"]
    print("RESULT " + json.dumps(out))


# --- the parent: interleave, then summarise ---------------------------------------------------------------------

def _run_child(root: str, part: str, steps: int, repeats: int) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    cmd = [sys.executable, str(HERE), "--child", root, "--part", part, "--steps", str(steps),
           "--child-repeats", str(repeats)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/")
    lines = [line for line in res.stdout.splitlines() if line.startswith("RESULT ")]
    if res.returncode or not lines:
        raise RuntimeError(f"child {cmd} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return json.loads(lines[-1][len("RESULT "):])


def _summary(values):
    return statistics.median(values), min(values), max(values)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", help="folder holding the earlier shb_lib (its parent of shb_lib/)")
    ap.add_argument("--repeats", type=int, default=5, help="repetitions of each (part, version), interleaved")
    ap.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    ap.add_argument("--steps", type=int, default=200, help="lookahead steps timed in the mnist part")
    ap.add_argument("--child-repeats", type=int, default=3, help="warm calls per child (the best is kept)")
    ap.add_argument("--verbose", action="store_true", help="print every child's measurements as they come")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--part", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.part, args.steps, args.child_repeats)
        return 0
    if not args.old or not (pathlib.Path(args.old) / "shb_lib" / "__init__.py").is_file():
        ap.error("--old must be a folder with an earlier shb_lib/ in it")
    roots = {"old": str(pathlib.Path(args.old).resolve()), "new": str(NEW_ROOT)}
    load0 = os.getloadavg()
    print(f"load average before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; {os.cpu_count()} CPUs; "
          f"repeats {args.repeats}, interleaved (old, new / new, old alternately)", flush=True)
    results = {v: {} for v in roots}
    t_start = time.perf_counter()
    for r in range(args.repeats):
        for part in args.parts:
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            for v in order:
                out = _run_child(roots[v], part, args.steps, args.child_repeats)
                if out["version"] != v:
                    raise RuntimeError(f"the {v} root imported the {out['version']} library ({out['file']})")
                for k, x in out.items():
                    if isinstance(x, float):
                        results[v].setdefault(k, []).append(x)
                if args.verbose:
                    print(f"    {v} {part}: " + ", ".join(f"{k} {x:.4g}" for k, x in out.items()
                                                     if isinstance(x, float)), flush=True)
        print(f"  repetition {r + 1}/{args.repeats} done ({time.perf_counter() - t_start:.0f} s, "
              f"load {os.getloadavg()[0]:.2f})", flush=True)
    load1 = os.getloadavg()
    w = max(len(k) for k in results["new"]) + 2
    print(f"\n{'quantity':<{w}}{'old: median [min - max]':>30}{'new: median [min - max]':>30}{'new / old':>11}")
    for k in results["new"]:
        (mo, lo_o, hi_o), (mn, lo_n, hi_n) = _summary(results["old"][k]), _summary(results["new"][k])
        print(f"{k:<{w}}{f'{mo:.4g} [{lo_o:.4g} - {hi_o:.4g}]':>30}{f'{mn:.4g} [{lo_n:.4g} - {hi_n:.4g}]':>30}"
              f"{mn / mo:>11.3f}")
    print(f"\nload average after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; "
          f"wall {time.perf_counter() - t_start:.0f} s")
    return 0


LIB: dict = {}

if __name__ == "__main__":
    sys.exit(main())
