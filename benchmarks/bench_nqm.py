"""Benchmark: the whole of Fig. 1 (short version; ICLR Fig. 3) -- greedy, fixed and optimized schedules, noisy and
deterministic, T = 250, Adam 0.003 x 500 steps -- one jitted call per problem on two threads
(``shb_lib.nqm.figure1_schedules``), beside a straightforward implementation timed in the same run: Python loops
over the time steps (greedy) and over the Adam steps (fits), each step calling a jitted function
(``jax.value_and_grad`` through a ``lax.scan`` of the recursion).

    python benchmarks/bench_nqm.py [--repeats 3]

Both are timed warm (compiled before timing). Prints the times, their ratio and the final losses of both versions.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

import shb_lib.nqm as nqm
from shb_lib import meta_optimizer as mo
from shb_lib.nqm.dynamics import _step
from shb_lib.nqm.schedules import FIGURE1_SETTINGS, MU_MAX
from shb_lib.precision import use_float64

use_float64()  # the noisy quadratic is float64 (shb_lib.precision)

T, STEPS, ADAM_LR = 250, 500, 0.003


# --- the straightforward version ------------------------------------------------------------------------------------

@jax.jit
def _greedy_one(problem, m):
    lr, mu = nqm.greedy_step(problem, m)
    return lr, mu, _step(problem, m, lr, mu)


def greedy_loop(problem):
    m = nqm.init_moments(problem)
    losses = [float(nqm.excess_loss(problem, m))]
    for _ in range(T):  # one jitted call per time step
        _, _, m = _greedy_one(problem, m)
        losses.append(float(nqm.excess_loss(problem, m)))
    return losses[-1]


def _objective(params, problem, lr_max, use_log):
    lrs = jnp.broadcast_to(jnp.clip(params[0], 0.0, lr_max), (T,))
    mus = jnp.broadcast_to(jnp.clip(params[1], 0.0, MU_MAX), (T,))
    loss = nqm.final_excess_loss(problem, lrs, mus)
    return jnp.where(use_log, jnp.log(loss), loss)


_value_and_grad = jax.jit(jax.value_and_grad(_objective))


_OPTIMIZER = mo.adam(ADAM_LR)
_adam_step = jax.jit(lambda p, g, state: mo.step(_OPTIMIZER, p, g, state))


def adam_loop(problem, width, lr_max, use_log):
    p = jnp.stack([jnp.full(width, lr_max / 2), jnp.full(width, 0.5)])
    state = _OPTIMIZER.init(p)
    for _ in range(STEPS):  # one jitted gradient and one jitted Adam step (shb_lib.meta_optimizer) per step
        _, g = _value_and_grad(p, problem, lr_max, use_log)
        p, state = _adam_step(p, g, state)
    p = np.asarray(p)
    lrs = np.broadcast_to(np.clip(p[0], 0, lr_max), (T,))
    mus = np.broadcast_to(np.clip(p[1], 0, MU_MAX), (T,))
    return float(nqm.rollout(problem, lrs, mus)[-1])


def figure1_loops():
    out = {}
    for name, noise in (("noisy", True), ("deterministic", False)):
        problem = nqm.paper_problem(noise)
        cfg = FIGURE1_SETTINGS[name]
        lr_max = cfg["lr_max_times_hmax"] / float(jnp.max(problem.h))
        use_log = cfg["objective"] == "log_loss"
        out[name] = {"greedy": greedy_loop(problem), "fixed": adam_loop(problem, 1, lr_max, use_log),
                     "optimized": adam_loop(problem, T, lr_max, use_log)}
    return out


def _warm_up_loops():
    for noise in (True, False):
        problem = nqm.paper_problem(noise)
        _greedy_one(problem, nqm.init_moments(problem))
        for width in (1, T):
            for use_log in (False, True):
                jax.block_until_ready(_value_and_grad(np.zeros((2, width)), problem, 0.2, use_log))
                p = jnp.zeros((2, width))
                jax.block_until_ready(_adam_step(p, p, _OPTIMIZER.init(p)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="warm repeats of the fused version (best is printed)")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, jax {jax.__version__} "
          f"({jax.devices()[0].platform}); load average {os.getloadavg()[0]:.1f}")

    t0 = time.perf_counter()
    fast = nqm.figure1_schedules(T)
    print(f"fused: first call (compile + run) {time.perf_counter() - t0:.2f} s")
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fast = nqm.figure1_schedules(T)
        times.append(time.perf_counter() - t0)
    t_fast = min(times)

    _warm_up_loops()
    t0 = time.perf_counter()
    slow = figure1_loops()
    t_slow = time.perf_counter() - t0

    print(f"fused, warm (best of {args.repeats}): {t_fast:.2f} s   [all runs: {', '.join(f'{t:.2f}' for t in times)}]")
    print(f"python loops, warm:           {t_slow:.2f} s")
    print(f"speed-up:                     {t_slow / t_fast:.1f}x")
    print("final excess losses (fused | python loops):")
    for name in fast:
        for kind, s in fast[name].items():
            print(f"  {name:13s} {kind:9s} {s.final_loss:11.5g} | {slow[name][kind]:11.5g}")


if __name__ == "__main__":
    main()
