"""Benchmark: the whole phase diagram of chapter 7 (``shb_lib.nqm.phase.phase_diagram``: 10 condition numbers x 10
noise scales x 5 preconditioning powers = 500 problems, each with its greedy, long-horizon-optimized and inverse-time
schedules; one jitted, vmapped call per preconditioning power, the five on two threads), timed warm, beside the
straightforward version timed in the same run: a Python loop over the problems, one jitted call per problem
(``loop_phase_diagram``).

    python benchmarks/phase_diagram.py [--loop-problems 100]

The loop is timed on the first family (``p = 0``, 100 problems) and scaled to 500; ``--loop-problems 500`` times
all of it. Both are compiled before timing. Prints the
times, their ratio, the machine's load and whether the two versions agree.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import numpy as np

from shb_lib.nqm import phase as ph
from shb_lib.precision import use_float64

use_float64()  # the noisy quadratic is float64 (shb_lib.precision)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loop-problems", type=int, choices=(100, 500), default=100)
    args = parser.parse_args(argv)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}, "
          f"load average before: {os.getloadavg()[0]:.1f}")
    ph.phase_diagram()  # compile
    start = time.perf_counter()
    d = ph.phase_diagram()
    vmapped = time.perf_counter() - start
    n_problems = d.greedy.size
    ps = ph.PRECONDITIONING if args.loop_problems == 500 else ph.PRECONDITIONING[:1]
    ph.loop_phase_diagram(ph.KAPPAS[:1], ph.NOISE_SCALES[:1], ps[:1])  # compile
    start = time.perf_counter()
    loop = ph.loop_phase_diagram(ph.KAPPAS, ph.NOISE_SCALES, ps)
    looped = time.perf_counter() - start
    per_problem = looped / loop.greedy.size
    agree = np.allclose(loop.best, d.best[: len(ps)], rtol=1e-9)
    print(f"whole diagram ({n_problems} problems), vmapped, warm: {vmapped:.1f} s")
    print(f"Python loop, one jitted call per problem: {per_problem:.3f} s per problem "
          f"({loop.greedy.size} timed) -> {per_problem * n_problems:.1f} s for {n_problems}")
    print(f"speed-up: {per_problem * n_problems / vmapped:.1f}x; results agree: {agree}; "
          f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
