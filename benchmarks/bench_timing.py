"""The timing rule every benchmark script uses (no import of shb_lib, so that ``old_vs_new.py`` can time an earlier
version with it): compile and warm up with one call, then the best of ``repeats`` warm calls."""

from __future__ import annotations

import time


def best_time(f, repeats: int = 3) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``f`` (each waited for with ``jax.block_until_ready``), after
    one call that compiles and warms up. The minimum, not the mean: on a shared machine, noise only adds time."""
    import jax

    jax.block_until_ready(f())
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(f())
        ts.append(time.perf_counter() - t0)
    return min(ts)
