"""The short (workshop) version's own setting beside the ICLR version's, at book scale (chapter 4, issue 14).

The two versions of the paper meta-optimize different things from different warm starts:

- **ICLR** (section 3.2): 50 pretraining steps; ``alpha_0`` and ``beta`` meta-optimized, ``mu = 0.9`` fixed.
- **short** (section 3, "Experimental details"): 1000 pretraining steps ("1k SGD with momentum steps, with
  alpha = 0.1, mu = 0.9, beta = 0"); ``alpha_eff``, ``beta`` and ``1 - mu`` meta-optimized together, in log space.
- **short pretraining** (ours): the short version's 1000 pretraining steps with ``mu = 0.9`` fixed, so that the
  two changes can be told apart.

Each setting runs the same protocol (:data:`PROTOCOL`, our choice): chapter 4's book scale (time constant 500,
horizons 50, 200 and 1000, 4000-step long runs), each horizon's schedule chosen by offline SMD from the two starts of
the authors' code (``alpha_0 = 0.01``, ``beta`` in ``{0.1, 10}``, and ``mu = 0.9`` where it is meta-optimized), with
more meta-steps than the book scale's default because a surface cannot be drawn over three hyperparameters. Every
unit of work is a result file of :mod:`shb_lib.mnist.experiments` (atomic, with its configuration; a rerun
resumes), so the command line below can be stopped and restarted::

    python -m shb_lib.mnist.short_version --out results/short-version --seeds 0 1 2 3 4

:func:`measure` reads one seed's run, :func:`compare` summarizes every setting over seeds (:class:`Spread`), and
:func:`comparison_table` is chapter 4's table.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from . import experiments as ex
from .findings import spread

#: What differs between the settings (overrides of :func:`shb_lib.mnist.experiments.config`).
SETTINGS = {
    "iclr": dict(pretrain_steps=50, meta_mu=False),
    "short": dict(pretrain_steps=1000, meta_mu=True),
    "short pretraining": dict(pretrain_steps=1000, meta_mu=False),
}
#: What every setting shares: book scale, schedules chosen by SMD, meta-steps per horizon (50, 200, 1000).
PROTOCOL = dict(choose="smd", meta_steps=(80, 40, 16))
#: The ratios of :func:`measure`, shortest horizon over longest, summarized over seeds by :func:`compare`.
RATIOS = ("beta_ratio", "alpha_ratio", "alpha_eff_ratio", "loss_ratio", "tail_ratio")
#: The order of the settings in tables.
ORDER = ("iclr", "short pretraining", "short")
LABELS = {"iclr": "ICLR: 50 pretraining steps, mu = 0.9", "short pretraining": "1000 pretraining steps, mu = 0.9",
          "short": "short: 1000 pretraining steps, mu meta-optimized"}


def run_setting(setting: str, seed: int, out=None, progress: bool = False, meta_steps=None) -> dict:
    """One seed of one setting: :func:`shb_lib.mnist.experiments.run_mnist` at book scale with SMD and long units
    (read from ``out`` where finished). ``meta_steps``: SMD's meta-steps per horizon (default
    ``PROTOCOL["meta_steps"]``; another value makes other units, with other file names). Raises ``ValueError`` for
    an unknown ``setting`` or a bad ``seed`` or ``meta_steps``."""
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {sorted(SETTINGS)}, got {setting!r}")
    protocol = dict(PROTOCOL) if meta_steps is None else dict(PROTOCOL, meta_steps=tuple(meta_steps))
    return ex.run_mnist("book", out=out, units=("smd", "long"), progress=progress, seed=seed,
                        **protocol, **SETTINGS[setting])


def measure(run: dict, pair=None) -> dict:
    """What one seed's run says, horizon ``pair[0]`` against ``pair[1]`` (default: the shortest against the longest
    horizon): ``beta_ratio``, ``alpha_ratio`` and ``alpha_eff_ratio`` of the chosen schedules (the initial effective
    learning rate ``alpha_0 / (1 - mu)``, the quantity the short version meta-optimizes), ``mu`` per horizon
    (``{T: mu}``), ``loss_ratio`` (the long runs' training loss at the last step) and ``tail_ratio`` (mean over the
    last 1000 steps), and ``final`` (``{T: loss at the last step}``). Raises ``ValueError`` for a ``pair`` that is
    not two of the run's horizons."""
    horizons = sorted(run["choice"])
    if pair is None:
        pair = (horizons[0], horizons[-1])
    if len(pair) != 2 or any(T not in run["choice"] for T in pair) or pair[0] == pair[1]:
        raise ValueError(f"pair must be two different horizons of the run, {horizons}, got {pair!r}")
    mu = {T: (run["choice"][T][2] if len(run["choice"][T]) == 3 else run["config"]["mu"]) for T in horizons}
    a, b = run["choice"][pair[0]], run["choice"][pair[1]]
    sorted_long = ex.sort_long(run["long"])
    final = {int(T): float(x) for T, x in zip(sorted_long["horizons"], sorted_long["train_loss"][:, -1])}
    every = run["config"]["record_every"]
    rows = [list(sorted_long["horizons"]).index(T) for T in pair]
    tail = sorted_long["train_loss"][:, -max(1, 1000 // every):].mean(axis=1)
    return {"beta_ratio": a[1] / b[1], "alpha_ratio": a[0] / b[0],
            "alpha_eff_ratio": (a[0] / (1 - mu[pair[0]])) / (b[0] / (1 - mu[pair[1]])), "mu": mu,
            "loss_ratio": final[pair[0]] / final[pair[1]], "tail_ratio": float(tail[rows[0]] / tail[rows[1]]),
            "final": final}


def compare(runs: dict) -> dict:
    """``runs``: ``{setting: {seed: run}}``. Returns ``{setting: {ratio: Spread for each of RATIOS,
    "mu": {T: Spread}, "final": {T: Spread}, "seeds": tuple, "per_seed": [measure(run) in seed order]}}``."""
    out = {}
    for setting, by_seed in runs.items():
        per = [measure(by_seed[s]) for s in sorted(by_seed)]
        res = {k: spread([m[k] for m in per]) for k in RATIOS}
        for k in ("mu", "final"):
            res[k] = {T: spread([m[k][T] for m in per]) for T in per[0][k]}
        res["seeds"] = tuple(sorted(by_seed))
        res["per_seed"] = per
        out[setting] = res
    return out


def biased_seeds(per_seed) -> int:
    """How many seeds (``per_seed``: :func:`measure` results) show the short-horizon bias in all three of its
    forms: the shorter horizon chooses a faster decay (``beta_ratio > 1``) and a smaller initial effective learning
    rate (``alpha_eff_ratio < 1``), and its schedule ends the long run with a higher training loss
    (``loss_ratio > 1``)."""
    return sum(m["beta_ratio"] > 1 and m["alpha_eff_ratio"] < 1 and m["loss_ratio"] > 1 for m in per_seed)


def less_momentum_seeds(per_seed, pair) -> int:
    """How many seeds (``per_seed``: :func:`measure` results) choose strictly less momentum at horizon ``pair[0]``
    than at ``pair[1]``."""
    return sum(m["mu"][pair[0]] < m["mu"][pair[1]] for m in per_seed)


def comparison_table(stats: dict):
    """Chapter 4's table of :func:`compare`: one row per setting (in :data:`ORDER`), medians over seeds with the
    range. A :class:`shb_lib.plotting.tables.MarkdownTable`."""
    from ..plotting.tables import MarkdownTable, number

    def r(s):
        return f"x{number(s.median, 2)} (x{number(s.low, 2)} to x{number(s.high, 2)})"

    rows = []
    for setting in ORDER:
        if setting not in stats:
            continue
        st = stats[setting]
        hs = sorted(st["mu"])
        mus = " / ".join(number(st["mu"][T].median, 3) for T in hs)
        rows.append((LABELS[setting], str(len(st["seeds"])), r(st["beta_ratio"]), r(st["alpha_ratio"]),
                     r(st["alpha_eff_ratio"]), mus, r(st["loss_ratio"])))
    hs = sorted(next(iter(stats.values()))["mu"])
    span = f"{hs[0]:,} / {hs[-1]:,}"
    return MarkdownTable(["setting", "seeds", f"beta, {span}", f"alpha_0, {span}", f"alpha_eff, {span}",
                          "mu at " + " / ".join(f"{T:,}" for T in hs), f"final loss, {span}"], rows)


def load(out, seeds, settings=ORDER, meta_steps=None) -> dict:
    """``{setting: {seed: run}}`` for every setting and seed, from the result files in ``out`` (a missing unit is
    computed and written, as the command line would); ``meta_steps`` as in :func:`run_setting`."""
    return {s: {int(seed): run_setting(s, int(seed), out, meta_steps=meta_steps) for seed in seeds}
            for s in settings}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shb_lib.mnist.short_version", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="folder of result units (created if missing)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--settings", nargs="+", default=list(ORDER), choices=list(ORDER))
    parser.add_argument("--meta-steps", type=int, nargs=3, default=list(PROTOCOL["meta_steps"]),
                        metavar=("N50", "N200", "N1000"), help="SMD's meta-steps per horizon (default: %(default)s)")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.meta_steps):
        parser.error(f"--meta-steps must be three integers >= 1, got {args.meta_steps}")
    if any(s < 0 for s in args.seeds) or len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds must be distinct integers >= 0, got {args.seeds}")
    ex._writable_out(parser, args.out)
    from ..precision import use_float64

    use_float64()
    for seed in args.seeds:  # seed by seed, so that an interrupted run leaves whole seeds
        for setting in args.settings:
            run_setting(setting, seed, args.out, progress=True, meta_steps=args.meta_steps)
    stats = compare(load(args.out, args.seeds, args.settings, args.meta_steps))
    print(comparison_table(stats).markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
